/* SPDX-License-Identifier: MIT */
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

/* a and b both hold at least n bytes: equal? Inline and eight bytes a step, for
 * the short strings of labels, where a call to memcmp costs more than the compare. */
static inline int al_same_bytes(const void *a, const void *b, size_t n)
{
    const char *x = a, *y = b;
    uint64_t u, v;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&u, x + i, 8);
            memcpy(&v, y + i, 8);
            if (u != v)
                return 0;
        }
        memcpy(&u, x + n - 8, 8);       /* the last eight, overlapping what was compared */
        memcpy(&v, y + n - 8, 8);
        return u == v;
    }
    if (n >= 4) {
        uint32_t p, q, r, w;
        memcpy(&p, x, 4);
        memcpy(&q, y, 4);
        memcpy(&r, x + n - 4, 4);
        memcpy(&w, y + n - 4, 4);
        return p == q && r == w;
    }
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

#endif
