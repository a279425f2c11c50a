/* SPDX-License-Identifier: MIT */
/* Deployment health on the worker (issue 5): outage windows fed by failures, the daily
 * and fallback reports on their schedules, and the operations events. Glue between
 * the pure modules (outage, reports, ops) and the ctx: routing, the store, settling. */
#ifndef AL_HEALTH_H
#define AL_HEALTH_H

#include <stdint.h>

#include "events.h"

typedef struct alert_ctx alert_ctx;
typedef struct al_health al_health;

int al_health_new(alert_ctx *ctx, al_health **out);
void al_health_free(al_health *f);
/* A failure (AL_EVF_OUTAGE), db error, cooldown, fallback or management event. */
void al_health_on_event(alert_ctx *ctx, const al_event *e);
/* Episodes that ended; reports that are due. */
void al_health_tick(alert_ctx *ctx, int64_t now_ms);
/* The fate of a daily or fallback report (settle.c: "health|daily|…", "health|fallback|…"). */
void al_health_settle(alert_ctx *ctx, const char *key, int ok);

#endif
