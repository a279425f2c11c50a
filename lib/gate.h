/* SPDX-License-Identifier: MIT */
/* Fleet mode: an alert that claims something for the fleet (a->fleet_key) waits here
 * until the fleet has said who sends it. Won: routed, and its fate recorded for the
 * fleet when its delivery ends. Sent or held by another replica: not sent here, and
 * the local state that raised it settles as sent. No answer within
 * fleet_claim_timeout, or no Redis: won (a duplicate, never a loss). Without fleet
 * mode nothing waits. Worker-only.
 *
 * A fleet key may name several claims, '\n'-joined: the first decides whether the
 * alert goes out; the others are what it also sends (a combined budget alert: the max
 * step, then the soft step). They are all asked in one pass, so that no replica raises
 * them alone meanwhile, and settled with the first: sent, recorded as sent whoever
 * held them; refused or lost, released where this replica holds them. */
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
/* The fate of a's claims, when this replica won them (settle.c, at the end of its
 * delivery): every claim of its fleet key settled with ok. */
void al_gate_settle(alert_ctx *ctx, const al_alert *a, int ok);

#endif
