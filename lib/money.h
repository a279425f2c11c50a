/* SPDX-License-Identifier: MIT */
/* Budgets and spend on the worker (issue 4): the threshold state machines, the
 * ledger, spend reports, user spend checks and tracking failures, glued to the
 * router and the state. The hooks pack spend and budget events (hooks.c). */
#ifndef AL_MONEY_H
#define AL_MONEY_H

#include <stdint.h>

#include "alerting.h"
#include "alert.h"
#include "events.h"

typedef struct alert_ctx alert_ctx;
typedef struct al_money al_money;

int al_money_new(alert_ctx *ctx, al_money **out);
void al_money_free(al_money *m);
void al_money_on_event(alert_ctx *ctx, const al_event *e);
void al_money_tick(alert_ctx *ctx, int64_t now_ms);
/* The fate of a delivery whose settle key money owns (settle.c calls it). */
void al_money_settle(alert_ctx *ctx, const char *key, int ok);

#endif
