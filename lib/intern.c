#include "intern.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"

/* Each entry is one allocation: the hash, the length, then the bytes. */
typedef struct intern_entry {
    uint64_t hash;
    size_t len;
    char str[];
} intern_entry;

/* Hints: the entry last interned from a source pointer, found by the pointer's
 * hash. A proxy passes the same few label pointers again and again (its config's
 * strings), so a hint spares the hash and the probe; the bytes are still compared,
 * so a buffer reused for another string only misses. Written only on a miss. */
#define HINT_SLOTS 1024

struct al_intern_table {
    size_t mask;
    size_t limit;                   /* 3/4 of the capacity: probes stay short */
    _Atomic size_t count;
    _Atomic(intern_entry *) *slots;
    _Atomic(intern_entry *) hints[HINT_SLOTS];
};

al_intern_table *al_intern_new(size_t capacity_pow2)
{
    al_intern_table *t = al_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->slots = al_calloc(capacity_pow2, sizeof *t->slots);
    if (!t->slots) {
        al_free(t);
        return NULL;
    }
    t->mask = capacity_pow2 - 1;
    t->limit = capacity_pow2 / 4 * 3;
    return t;
}

void al_intern_free(al_intern_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        al_free(atomic_load_explicit(&t->slots[i], memory_order_relaxed));
    al_free(t->slots);
    al_free(t);
}

static inline size_t hint_of(const char *s)
{
    return (size_t)(((uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ull) >> 54) & (HINT_SLOTS - 1);
}

/* Lookup and insert, the hint aside. */
static intern_entry *find_or_add(al_intern_table *t, const char *s, size_t len)
{
    uint64_t h = al_hash_bytes(s, len, 0);
    intern_entry *mine = NULL;
    for (size_t i = h & t->mask, probes = 0; probes <= t->mask; i = (i + 1) & t->mask, probes++) {
        intern_entry *e = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        while (!e) {
            if (!mine) {
                if (atomic_load_explicit(&t->count, memory_order_relaxed) >= t->limit)
                    return NULL;
                mine = al_malloc(sizeof *mine + len + 1);
                if (!mine)
                    return NULL;
                mine->hash = h;
                mine->len = len;
                memcpy(mine->str, s, len);
                mine->str[len] = '\0';
            }
            if (atomic_compare_exchange_strong_explicit(&t->slots[i], &e, mine,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
                return mine;
            }
            /* another thread filled this slot first: e now holds its entry */
        }
        if (e->hash == h && e->len == len && al_same_bytes(e->str, s, len)) {
            if (mine)
                al_free(mine);
            return e;
        }
    }
    if (mine)
        al_free(mine);
    return NULL;
}

const char *al_intern(al_intern_table *t, const char *s, size_t len)
{
    _Atomic(intern_entry *) *hint = &t->hints[hint_of(s)];
    intern_entry *e = atomic_load_explicit(hint, memory_order_acquire);
    if (e && e->len == len && al_same_bytes(e->str, s, len))
        return e->str;
    e = find_or_add(t, s, len);
    if (!e)
        return NULL;
    atomic_store_explicit(hint, e, memory_order_release);
    return e->str;
}

unsigned al_intern_known(al_intern_table *t, const char *const *in, const char **out, int n)
{
    unsigned missed = 0;
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        if (!in[i])
            continue;
        intern_entry *e = atomic_load_explicit(&t->hints[hint_of(in[i])], memory_order_acquire);
        /* the NUL too: in[i] is the whole entry, not a longer string it was cut from */
        if (e && strncmp(e->str, in[i], e->len + 1) == 0)
            out[i] = e->str;
        else
            missed |= 1u << i;
    }
    return missed;
}

size_t al_intern_count(const al_intern_table *t)
{
    return atomic_load_explicit(&((al_intern_table *)t)->count, memory_order_relaxed);
}
