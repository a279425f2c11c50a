/* SPDX-License-Identifier: MIT */
/* Interning of low-cardinality labels (model, deployment, api_base, region, ...).
 * Lock-free for readers and writers; entries live until the table is destroyed.
 * Bounded: when full, al_intern returns NULL and the caller copies the label. */
#ifndef AL_INTERN_H
#define AL_INTERN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct al_intern_table al_intern_table;

/* The hints: per hash of a source pointer, the interned string last looked up
 * from that pointer (NULL none). Read inline by the hooks, written by al_intern. */
#define AL_INTERN_HINTS 1024
typedef _Atomic(const char *) al_intern_hint;

static inline size_t al_intern_hint_of(const char *s)
{
    return (size_t)(((uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ull) >> 54) & (AL_INTERN_HINTS - 1);
}

/* The table's hints (they come first in it). */
static inline const al_intern_hint *al_intern_hints(const al_intern_table *t)
{
    return (const al_intern_hint *)(const void *)t;
}

/* The interned copy of the whole NUL-terminated string s when s's pointer was
 * interned before and still holds the same bytes, else NULL. Never inserts.
 * strcmp, not a compare of the entry's length: it reads s no further than its NUL
 * (s may be shorter than the entry), and the NUL ends both, so s is the whole
 * entry, not a longer string it was cut from. */
static inline const char *al_intern_hinted(const al_intern_hint *hints, const char *s)
{
    const char *known = atomic_load_explicit(&hints[al_intern_hint_of(s)], memory_order_acquire);
    return __builtin_expect(known != NULL, 1) && strcmp(known, s) == 0 ? known : NULL;
}

al_intern_table *al_intern_new(size_t capacity_pow2);
void al_intern_free(al_intern_table *t);
/* The interned copy of s (the same pointer for equal strings), or NULL when the
 * table is full or allocation failed. s is at most max_len bytes (longer is cut
 * on a UTF-8 boundary by the caller). */
const char *al_intern(al_intern_table *t, const char *s, size_t len);
/* al_intern_hinted for n (at most 32) strings in[i], NULL for none: out[i] is the
 * interned copy or NULL. Returns a bit per non-NULL in[i] that was not found (cut it
 * and call al_intern). Never inserts. */
unsigned al_intern_known(al_intern_table *t, const char *const *in, const char **out, int n);
size_t al_intern_count(const al_intern_table *t);

#endif
