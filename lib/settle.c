/* SPDX-License-Identifier: MIT */
/* Delivery outcomes back to the state that waits for them: a table from the owner
 * prefix of a settle key to its handler (see settle.h). */
#include "settle.h"

#include <string.h>

#include "ctx.h"
#include "gate.h"
#include "health.h"
#include "money.h"
#include "state/state.h"

typedef void (*settle_fn)(alert_ctx *ctx, const char *key, int ok);

static const struct {
    const char *prefix;
    settle_fn fn;
} owners[] = {
    { "budget|", al_money_settle },
    { "mark|", al_money_settle },
    { "report|spend|", al_money_settle },
    { "report|monthly|", al_money_settle },
    { "health|daily|", al_health_settle },
    { "health|fallback|", al_health_settle },
};

/* The owner's state first, then the fleet's record of a claim this replica won. */
static void outcome(void *ud, al_alert *a, int ok)
{
    alert_ctx *ctx = ud;
    if (a->settle_key)
        al_settle(ctx, a->settle_key, ok);
    al_gate_settle(ctx, a, ok);
}

void al_settle_attach(alert_ctx *ctx, al_alert *a)
{
    if (a && (a->settle_key || a->fleet_key)) {
        a->settle_alert = outcome;
        a->settle_ud = ctx;
    }
}

void al_settle(alert_ctx *ctx, const char *key, int ok)
{
    if (!ctx || !key)
        return;
    for (size_t i = 0; i < sizeof owners / sizeof owners[0]; i++) {
        if (strncmp(key, owners[i].prefix, strlen(owners[i].prefix)) == 0) {
            owners[i].fn(ctx, key, ok);
            return;
        }
    }
    al_ctx_log(ctx, ALERT_LOG_WARNING, "a delivery finished with a settle key of no known owner");
}
