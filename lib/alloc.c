/* SPDX-License-Identifier: MIT */
/* The one allocation funnel (alloc.h): counting, and failing the Nth allocation
 * for the tests. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t alloc_count;
static _Atomic long fail_countdown = -1;

static int alloc_should_fail(void)
{
    atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    long left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (left < 0)
        return 0;
    if (left == 0)
        return 1;
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return 0;
}

void *al_malloc(size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *al_calloc(size_t count, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *al_realloc(void *p, size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void al_free(void *p)
{
    free(p);
}

char *al_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = al_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *al_strdup(const char *s)
{
    return s ? al_strndup(s, strlen(s)) : NULL;
}

void al_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

uint64_t al_alloc_count(void)
{
    return atomic_load_explicit(&alloc_count, memory_order_relaxed);
}
