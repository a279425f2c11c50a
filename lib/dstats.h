/* SPDX-License-Identifier: MIT */
/* Per-deployment request counters for the daily report. The hooks add to them on
 * the caller's thread: each stripe has its own table, so threads do not share
 * cache lines; counters only grow, and the worker reports the difference from
 * what it last sent (nothing is reset under a writer's feet). */
#ifndef AL_DSTATS_H
#define AL_DSTATS_H

#include <stddef.h>
#include <stdint.h>

/* deployments each stripe's table holds (a power of two) */
#define AL_DSTATS_PER_STRIPE 256

typedef struct al_dstats al_dstats;

typedef struct al_dstat_total {
    const char *deployment;     /* interned */
    const char *api_base;       /* interned, the last seen; NULL unknown */
    const char *model;          /* interned, the last seen; NULL unknown */
    uint64_t requests;
    uint64_t failed;
    uint64_t latency_us_sum;    /* sum of per-request latency per output token, in us */
    uint64_t latency_n;
} al_dstat_total;

al_dstats *al_dstats_new(size_t per_stripe_pow2);
void al_dstats_free(al_dstats *d);
/* One finished request; dep, api_base and model are interned pointers (NULL:
 * unknown, the last known one stays). */
void al_dstats_add(al_dstats *d, unsigned stripe, const char *dep, const char *api_base,
                   const char *model, int failed, uint64_t latency_us_per_token);
/* Worker: the totals per deployment over every stripe (out is al_malloc'ed). */
size_t al_dstats_collect(al_dstats *d, al_dstat_total **out);
uint64_t al_dstats_overflow(const al_dstats *d);

#endif
