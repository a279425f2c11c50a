/* Budgets and spend on the worker (issue 4): the threshold state machines, the
 * ledger, spend reports, user spend checks and tracking failures, glued to the
 * hooks, the router and the store. Hook side: packing alert_spend/alert_budget
 * into one event allocation. */
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

/* Host side: one event carrying a deep copy of the struct (kind AL_EV_SPEND,
 * AL_EV_BUDGET or AL_EV_SET_BUDGET with the duration). NULL when out of memory. */
al_event *al_money_spend_event(al_evqueue *q, const alert_spend *s, int64_t at_ms);
al_event *al_money_budget_event(al_evqueue *q, al_ev_kind kind, const alert_budget *b,
                                const char *duration, int64_t at_ms);

#endif
