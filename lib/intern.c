/* SPDX-License-Identifier: MIT */
/* Interning of low-cardinality labels, lock-free, with per-source hints
 * (intern.h). */
#include "intern.h"

#include <stdatomic.h>
#include <stddef.h>
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

/* Hints (intern.h): the string of the entry last interned from a source pointer,
 * found by the pointer's hash. A proxy passes the same few label pointers again and
 * again (its config's strings), so a hint spares the hash and the probe; the bytes
 * are still compared, so a buffer reused for another string only misses. Written
 * only on a miss. First in the table, so that the hooks find them inline. */
struct al_intern_table {
    al_intern_hint hints[AL_INTERN_HINTS];
    size_t mask;
    size_t limit;                   /* 3/4 of the capacity: probes stay short */
    _Atomic size_t count;
    _Atomic(intern_entry *) *slots;
};
_Static_assert(offsetof(struct al_intern_table, hints) == 0, "al_intern_hints reads the hints first");

static inline intern_entry *entry_of(const char *str)
{
    return (intern_entry *)(void *)(str - offsetof(intern_entry, str));
}

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
    al_intern_hint *hint = &t->hints[al_intern_hint_of(s)];
    const char *known = atomic_load_explicit(hint, memory_order_acquire);
    if (known) {
        intern_entry *e = entry_of(known);
        if (e->len == len && al_same_bytes(e->str, s, len))
            return e->str;
    }
    intern_entry *e = find_or_add(t, s, len);
    if (!e)
        return NULL;
    atomic_store_explicit(hint, e->str, memory_order_release);
    return e->str;
}

unsigned al_intern_known(al_intern_table *t, const char *const *in, const char **out, int n)
{
    const al_intern_hint *hints = al_intern_hints(t);
    unsigned missed = 0;
    for (int i = 0; i < n; i++) {
        out[i] = in[i] ? al_intern_hinted(hints, in[i]) : NULL;
        if (in[i] && !out[i])
            missed |= 1u << i;
    }
    return missed;
}

size_t al_intern_count(const al_intern_table *t)
{
    return atomic_load_explicit(&((al_intern_table *)t)->count, memory_order_relaxed);
}
