/* SPDX-License-Identifier: MIT */
/* The engine: what an alert_ctx holds, shared by the modules behind it.
 * Host threads touch only `inflight`, `intern`, `events` and the atomic
 * counters; everything else belongs to the worker. */
#ifndef AL_CTX_H
#define AL_CTX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "alert.h"
#include "alerting.h"
#include "config.h"
#include "dstats.h"
#include "events.h"
#include "fmt.h"
#include "inflight.h"
#include "intern.h"
#include "pdagg.h"
#include "state/state.h"
#include "trace.h"
#include "wheel.h"

typedef struct al_outbox al_outbox;
typedef struct al_routes al_routes;
typedef struct al_health al_health;
typedef struct al_money al_money;
typedef struct al_gate al_gate;

typedef struct al_counters {
    _Atomic uint64_t alerts_raised, alerts_filtered, alerts_deduplicated, alerts_coalesced;
    _Atomic uint64_t deliveries_ok, deliveries_retried, deliveries_failed, deliveries_dropped;
    _Atomic uint64_t queue_depth;
    _Atomic uint64_t requests_rejected;
    _Atomic uint64_t destinations_dead;
    _Atomic uint64_t metadata_dropped;
    _Atomic uint64_t raised_by_type[AL_T__COUNT];  /* alerts_raised by type (metrics) */
} al_counters;

struct alert_ctx {
    alert_config cfg;               /* a private copy */
    /* what the hooks read of the configuration: atomics, because alert_ctx_reconfigure
     * changes them while host threads run (the worker owns the rest of cfg) */
    _Atomic int64_t threshold_ms;
    _Atomic uint32_t enabled;       /* alert_types after the alerting gate */
    _Atomic int send_resolved;
    _Atomic int redact_messages;
    int64_t max_inflight;           /* cannot change live */
    int alerting_on;                /* alerting has at least one destination */
    char instance[128];
    char instance_id[160];
    al_fmt_env fmt;                 /* what the texts need: proxy URL, instance */          /* "<instance>#<8 hex>": this start, for the fleet */

    al_inflight *inflight;
    al_intern_table *intern;
    _Atomic(al_dstats *) dstats;    /* per-deployment counters (daily report), or NULL; set
                                     * once (create or reconfigure), freed at destroy */
    al_evqueue events;
    al_counters n;

    /* PagerDuty's aggregates (when pagerduty is a destination) */
    _Atomic int pagerduty_on;
    al_wheel *wheel_pd;             /* requests at start + hanging_threshold_seconds */
    al_pdwindow pd_failures, pd_hanging;

    /* worker state */
    al_wheel *wheel;
    al_outbox *outbox;
    al_routes *routes;
    al_state *state;                /* shared state: memory, or sqlite with state_path */
    al_health *health;              /* outages, daily and fallback reports, operations */
    al_money *money;                /* budgets, ledger, spend reports */
    al_gate *gate;                  /* fleet mode: alerts waiting for their claim */
    /* unit tests of the glue: when set, every routed alert goes here instead (taken) */
    void (*route_tap)(void *ud, al_alert *a);
    void *route_tap_ud;
    al_start_ev *drain_buf;
    size_t drain_cap;

    /* the worker thread, or none (worker_threads: 0) */
    int threaded;
    pthread_t thread;
    pthread_mutex_t lock;           /* guards the fields below and last_error */
    pthread_cond_t cond;
    int stopping;
    uint64_t flush_requested, flush_done;
    _Atomic int worker_busy;        /* re-entrancy guard for alert_poll */
    _Atomic int destroying;         /* alert_ctx_destroy runs: poll and flush refuse */
    _Atomic int wake_pending;       /* the wakeup callback ran since the last alert_poll */

    /* the worker's step-proof clock (al_ctx_mono) */
    int64_t mono_base;              /* system clock: wall minus monotonic at create */
    int64_t step_offset;            /* injected clock: what its backward steps took away */
    int64_t mono_last;
    int clock_bad_logged;           /* the injected clock went negative: said once */

    /* alert_ctx_reconfigure: the configurations replaced, kept until destroy (custom
     * targets and retried deliveries may still point into them), and the request the
     * worker thread applies at the start of its next pass */
    struct al_retired_cfg *retired;
    const alert_config *reconf_cfg;         /* under lock; NULL: none */
    alert_error *reconf_err;
    int reconf_rc;
    uint64_t reconf_requested, reconf_done;

    char last_error[256];
    unsigned warned_metadata;       /* worker: the bad-metadata warning was logged */
};

/* 1 when alerts of type t are on: in alert_types, and alerting has a destination. */
static inline int al_type_on(const alert_ctx *ctx, int t)
{
    return (int)((atomic_load_explicit(&ctx->enabled, memory_order_relaxed) >> t) & 1u);
}

/* Wall-clock time (ms since the epoch): timestamps in texts, calendars, and what the
 * hooks record. Any thread; a vDSO read or the injected clock. Inline: the hooks
 * read it on every call (trace.h has the context's other clock and its log). */
static inline int64_t al_ctx_now(const alert_ctx *ctx)
{
    if (ctx->cfg.clock_fn)
        return ctx->cfg.clock_fn(ctx->cfg.clock_ud);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + (int64_t)((uint64_t)ts.tv_nsec / 1000000u);   /* 0 <= tv_nsec */
}
/* Wakes the worker (from any thread). */
void al_ctx_wake(alert_ctx *ctx);
/* A hook queued work: without a worker thread, the host's wakeup callback runs, at most
 * once until the next alert_poll (one atomic exchange otherwise). */
static inline void al_ctx_notify(alert_ctx *ctx)
{
    if (ctx->cfg.wakeup_fn && !ctx->threaded &&
        !atomic_exchange_explicit(&ctx->wake_pending, 1, memory_order_acq_rel))
        ctx->cfg.wakeup_fn(ctx->cfg.wakeup_ud);
}
/* Checks version fields: ALERT_OK, ALERT_ERR_INVALID (NULL) or ALERT_ERR_VERSION. */
int al_check_version(const void *p, uint32_t max_version);
/* Records why a call on ctx failed (alert_ctx_last_error) and returns code; ctx may be NULL. */
int al_ctx_fail(alert_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), cold));   /* cold: failure paths off the hot path */
/* al_check_version, recording the reason: "fn: type version N is not supported". */
int al_ctx_check_version(alert_ctx *ctx, const char *fn, const char *type, const void *p,
                         uint32_t max_version) __attribute__((cold));

#endif
