/* SPDX-License-Identifier: MIT */
/* The one allocation funnel (like redis's zmalloc): every allocation of the
 * library goes through here, so tests can fail the Nth one and the bench can
 * count them. */
#ifndef AL_ALLOC_H
#define AL_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *al_malloc(size_t n);
void *al_calloc(size_t count, size_t size);
void *al_realloc(void *p, size_t n);
void al_free(void *p);
char *al_strdup(const char *s);            /* NULL in, NULL out */
char *al_strndup(const char *s, size_t n);

/* Fault injection and accounting (tests, bench). */
void al_alloc_fail_after(long n);          /* the (n+1)th allocation from now fails; -1: never */
uint64_t al_alloc_count(void);             /* allocations since the process started */

#endif
