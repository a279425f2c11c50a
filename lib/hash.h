/* A fast non-cryptographic hash of short byte strings (labels, alert texts),
 * eight bytes a step. Not for anything an attacker chooses to collide with a
 * cost: callers compare the bytes too. */
#ifndef AL_HASH_H
#define AL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t al_hash_mix(uint64_t h, uint64_t v)
{
    h ^= v * 0x9e3779b97f4a7c15ull;
    h = (h << 27 | h >> 37) * 0xbf58476d1ce4e5b9ull;
    return h;
}

static inline uint64_t al_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const char *s = data;
    uint64_t h = 0x243f6a8885a308d3ull ^ len ^ seed;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        h = al_hash_mix(h, v);
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, len - i);
    h = al_hash_mix(h, tail);
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

#endif
