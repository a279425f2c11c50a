/* SPDX-License-Identifier: MIT */
/* The one way back from delivery. An alert that holds state pending its delivery (a
 * budget step, a dedup mark, a report window) carries a settle key whose owner prefix
 * says whose state it is; when the alert's last delivery has finished, its fate
 * (ok = 1 when a destination accepted it) comes here and goes to the owner's handler.
 * Keys survive in the spool, so a delivery restored after a restart settles too.
 *
 *   prefix            owner   what settles
 *   budget|           money   a budget threshold mark
 *   mark|             money   dedup marks (failed tracking, user spend), '\n'-joined
 *   report|spend|     money   the N-day spend report window
 *   report|monthly|   money   the monthly spend report window
 *   health|daily      health  the daily report's counters
 *   health|fallback   health  the fallback report's counters
 *
 * The outbox calls no detector: it hands every restored alert to al_settle_attach. */
#ifndef AL_SETTLE_H
#define AL_SETTLE_H

#include "alert.h"

typedef struct alert_ctx alert_ctx;

/* Points a's settle at this module when it has a settle key (the router does it for
 * every alert it takes; the outbox for every alert it restores). */
void al_settle_attach(alert_ctx *ctx, al_alert *a);
/* The fate of the alert behind key. An unknown prefix is logged and ignored. */
void al_settle(alert_ctx *ctx, const char *key, int ok);

#endif
