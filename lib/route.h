/* SPDX-License-Identifier: MIT */
/* Routing on the worker: the alert_types gate, digests, and every destination of an
 * alert, to the outbox. */
#ifndef AL_ROUTE_H
#define AL_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "alerting.h"

typedef struct alert_ctx alert_ctx;
typedef struct al_routes al_routes;

/* Resolves the destinations at alert_ctx_create (ALERT_ERR_CONFIG names an
 * unknown one). */
int al_routes_build(alert_ctx *ctx, alert_error *err);
void al_routes_free(al_routes *r);
/* alert_ctx_reconfigure, on the worker, after ctx->cfg changed: the destinations again,
 * keeping the digests; then the outbox moves the pending deliveries of targets no longer
 * used (al_outbox_reroute). On failure (out of memory) the old routes stay. */
int al_routes_rebuild(alert_ctx *ctx, alert_error *err);
/* The alert_types gate, then every destination of the alert. Takes a. */
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
