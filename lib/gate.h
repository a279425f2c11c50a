/* SPDX-License-Identifier: MIT */
/* Fleet mode: an alert that claims something for the fleet (a->fleet_key) waits here
 * until the fleet has said who sends it. Won: routed, and its fate recorded for the
 * fleet when its delivery ends. Sent or held by another replica: not sent here, and
 * the local state that raised it settles as sent. No answer within
 * fleet_claim_timeout, or no Redis: won (a duplicate, never a loss). Without fleet
 * mode nothing waits. Worker-only. */
#ifndef AL_GATE_H
#define AL_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

typedef struct alert_ctx alert_ctx;
typedef struct al_gate al_gate;

int al_gate_new(al_gate **out);
/* Routes every alert still waiting (never lose one), then frees g. */
void al_gate_free(alert_ctx *ctx, al_gate *g);
/* 1 when a is taken to wait for its claim; 0 when it goes on now. */
int al_gate_hold(alert_ctx *ctx, al_alert *a);
/* Asks again for every waiting claim; routes what was won. */
void al_gate_tick(alert_ctx *ctx, int64_t now_ms);
/* Alerts waiting for their claim. */
size_t al_gate_count(const al_gate *g);

#endif
