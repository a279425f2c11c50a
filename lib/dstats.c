/* SPDX-License-Identifier: MIT */
/* Per-deployment request counters for the daily report, one table per stripe
 * so the hooks never share a cache line (dstats.h). */
#include "dstats.h"

#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "inflight.h"

typedef struct dentry {
    _Atomic(const char *) dep;
    _Atomic(const char *) api_base;
    _Atomic(const char *) model;
    _Atomic uint64_t requests, failed, latency_us_sum, latency_n;
} dentry;

struct al_dstats {
    size_t mask;
    dentry *tables[AL_STRIPES];
    _Atomic uint64_t overflow;
};

al_dstats *al_dstats_new(size_t per_stripe_pow2)
{
    al_dstats *d = al_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->mask = per_stripe_pow2 - 1;
    for (int i = 0; i < AL_STRIPES; i++)
        if (!(d->tables[i] = al_calloc(per_stripe_pow2, sizeof(dentry)))) {
            al_dstats_free(d);
            return NULL;
        }
    return d;
}

void al_dstats_free(al_dstats *d)
{
    if (!d)
        return;
    for (int i = 0; i < AL_STRIPES; i++)
        al_free(d->tables[i]);
    al_free(d);
}

static inline size_t ptr_hash(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 29);
}

void al_dstats_add(al_dstats *d, unsigned stripe, const char *dep, const char *api_base,
                   const char *model, int failed, uint64_t latency_us_per_token)
{
    dentry *t = d->tables[stripe];
    for (size_t i = ptr_hash(dep) & d->mask, n = 0; n <= d->mask; i = (i + 1) & d->mask, n++) {
        const char *k = atomic_load_explicit(&t[i].dep, memory_order_acquire);
        if (!k) {
            const char *expected = NULL;
            if (!atomic_compare_exchange_strong_explicit(&t[i].dep, &expected, dep,
                                                         memory_order_acq_rel, memory_order_acquire) &&
                expected != dep)
                continue;
            k = dep;
        }
        if (k != dep)
            continue;
        if (api_base)
            atomic_store_explicit(&t[i].api_base, api_base, memory_order_relaxed);
        if (model)
            atomic_store_explicit(&t[i].model, model, memory_order_relaxed);
        atomic_fetch_add_explicit(&t[i].requests, 1, memory_order_relaxed);
        if (failed) {
            atomic_fetch_add_explicit(&t[i].failed, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&t[i].latency_us_sum, latency_us_per_token, memory_order_relaxed);
            atomic_fetch_add_explicit(&t[i].latency_n, 1, memory_order_relaxed);
        }
        return;
    }
    atomic_fetch_add_explicit(&d->overflow, 1, memory_order_relaxed);
}

size_t al_dstats_collect(al_dstats *d, al_dstat_total **out)
{
    size_t cap = 64, n = 0;
    al_dstat_total *v = al_malloc(cap * sizeof *v);
    *out = NULL;
    if (!v)
        return 0;
    for (int s = 0; s < AL_STRIPES; s++) {
        for (size_t i = 0; i <= d->mask; i++) {
            dentry *e = &d->tables[s][i];
            const char *dep = atomic_load_explicit(&e->dep, memory_order_acquire);
            if (!dep)
                continue;
            size_t j = 0;
            while (j < n && v[j].deployment != dep)
                j++;
            if (j == n) {
                if (n == cap) {
                    al_dstat_total *g = al_realloc(v, cap * 2 * sizeof *v);
                    if (!g)
                        continue;
                    v = g;
                    cap *= 2;
                }
                memset(&v[n], 0, sizeof v[n]);
                v[n++].deployment = dep;
            }
            const char *base = atomic_load_explicit(&e->api_base, memory_order_relaxed);
            if (base)
                v[j].api_base = base;
            const char *model = atomic_load_explicit(&e->model, memory_order_relaxed);
            if (model)
                v[j].model = model;
            v[j].requests += atomic_load_explicit(&e->requests, memory_order_relaxed);
            v[j].failed += atomic_load_explicit(&e->failed, memory_order_relaxed);
            v[j].latency_us_sum += atomic_load_explicit(&e->latency_us_sum, memory_order_relaxed);
            v[j].latency_n += atomic_load_explicit(&e->latency_n, memory_order_relaxed);
        }
    }
    *out = v;
    return n;
}

uint64_t al_dstats_overflow(const al_dstats *d)
{
    return atomic_load_explicit(&((al_dstats *)d)->overflow, memory_order_relaxed);
}
