/* Interning of low-cardinality labels (model, deployment, api_base, region, ...).
 * Lock-free for readers and writers; entries live until the table is destroyed.
 * Bounded: when full, al_intern returns NULL and the caller copies the label. */
#ifndef AL_INTERN_H
#define AL_INTERN_H

#include <stddef.h>

typedef struct al_intern_table al_intern_table;

al_intern_table *al_intern_new(size_t capacity_pow2);
void al_intern_free(al_intern_table *t);
/* The interned copy of s (the same pointer for equal strings), or NULL when the
 * table is full or allocation failed. s is at most max_len bytes (longer is cut
 * on a UTF-8 boundary by the caller). */
const char *al_intern(al_intern_table *t, const char *s, size_t len);
/* The fast path for n (at most 32) whole NUL-terminated strings in[i], NULL for
 * none: out[i] is the interned copy when in[i]'s pointer was interned before and
 * still holds the same bytes, else NULL. Returns a bit per non-NULL in[i] that was
 * not found (cut it and call al_intern). Never inserts. */
unsigned al_intern_known(al_intern_table *t, const char *const *in, const char **out, int n);
size_t al_intern_count(const al_intern_table *t);

#endif
