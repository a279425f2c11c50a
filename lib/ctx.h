/* The engine: what an alert_ctx holds, shared by the modules behind it.
 * Host threads touch only `inflight`, `intern`, `events` and the atomic
 * counters; everything else belongs to the worker. */
#ifndef AL_CTX_H
#define AL_CTX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "alerting.h"
#include "config.h"
#include "dstats.h"
#include "events.h"
#include "inflight.h"
#include "intern.h"
#include "pdagg.h"
#include "state/state.h"
#include "wheel.h"

typedef struct al_outbox al_outbox;
typedef struct al_routes al_routes;
typedef struct al_fleet al_fleet;
typedef struct al_money al_money;

typedef struct al_counters {
    _Atomic uint64_t alerts_raised, alerts_filtered, alerts_deduplicated, alerts_coalesced;
    _Atomic uint64_t deliveries_ok, deliveries_retried, deliveries_failed, deliveries_dropped;
    _Atomic uint64_t queue_depth;
    _Atomic uint64_t requests_rejected;
    _Atomic uint64_t destinations_dead;
    _Atomic uint64_t metadata_dropped;
} al_counters;

struct alert_ctx {
    alert_config cfg;               /* a private copy */
    int64_t threshold_ms;
    int alerting_on;                /* alerting has at least one destination */
    uint32_t enabled;               /* alert_types after the alerting gate */
    char instance[128];

    al_inflight *inflight;
    al_intern_table *intern;
    al_dstats *dstats;              /* per-deployment counters (daily report), or NULL */
    al_evqueue events;
    al_counters n;

    /* PagerDuty's aggregates (when pagerduty is a destination) */
    int pagerduty_on;
    al_wheel *wheel_pd;             /* requests at start + hanging_threshold_seconds */
    al_pdwindow pd_failures, pd_hanging;

    /* worker state */
    al_wheel *wheel;
    al_outbox *outbox;
    al_routes *routes;
    al_state *state;                /* shared state: memory, or sqlite with state_path */
    al_fleet *fleet;                /* outages, daily and fallback reports, operations */
    al_money *money;                /* budgets, ledger, spend reports */
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

    char last_error[256];
};

int64_t al_ctx_now(const alert_ctx *ctx);
void al_ctx_log(alert_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a local error (alert_ctx_last_error) and logs it at ERROR. */
void al_ctx_error(alert_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the last error without logging it (the caller logs at its own level). */
void al_ctx_note(alert_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wakes the worker (from any thread). */
void al_ctx_wake(alert_ctx *ctx);
/* Checks version fields: ALERT_OK, ALERT_ERR_INVALID (NULL) or ALERT_ERR_VERSION. */
int al_check_version(const void *p, uint32_t max_version);

/* latency.c: turns request events and due timers into alerts. */
void al_latency_on_due(void *ctx, uint32_t idx, uint32_t gen, int64_t due_ms);
void al_latency_on_event(alert_ctx *ctx, const al_event *e);
void al_latency_on_pd_due(void *ctx, uint32_t idx, uint32_t gen, int64_t due_ms);

/* route.c: resolves the destinations at alert_ctx_create (ALERT_ERR_CONFIG names an
 * unknown one). */
int al_routes_build(alert_ctx *ctx, alert_error *err);
void al_routes_free(al_routes *r);
/* route.c: the alert_types gate, then every destination of the alert. Takes a. */
void al_route_alert(alert_ctx *ctx, al_alert *a);
/* Routes each of v (al_malloc'ed, as detectors return them), then frees v. */
void al_route_alerts(alert_ctx *ctx, al_alert **v, size_t n);
/* 1 when a destination of this kind is configured. */
int al_route_has(const alert_ctx *ctx, int kind);
/* Digests whose interval is over (all of them when all != 0), and the notice of
 * alerts dropped from a full queue. */
void al_route_tick(alert_ctx *ctx, int64_t now_ms, int all);
/* PagerDuty's aggregate pages: to PagerDuty only, whatever alert_types says. */
void al_route_page(alert_ctx *ctx, al_alert *a);
/* alert_send_test: queues the test alerts of one destination. */
int al_route_send_test(alert_ctx *ctx, const char *destination);

#endif
