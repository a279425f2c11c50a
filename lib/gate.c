/* SPDX-License-Identifier: MIT */
/* Alerts waiting for a fleet claim (gate.h). */
#include "gate.h"

#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "ctx.h"
#include "route.h"
#include "state/state.h"

struct al_gate {
    al_alert **v;
    size_t n, cap;
};

int al_gate_new(al_gate **out)
{
    *out = al_calloc(1, sizeof **out);
    return *out ? ALERT_OK : ALERT_ERR_NOMEM;
}

size_t al_gate_count(const al_gate *g)
{
    return g ? g->n : 0;
}

/* Won (or decided alone): out it goes, its fate recorded for the fleet. */
static void release(alert_ctx *ctx, al_alert *a)
{
    a->fleet_claimed = 1;
    al_route_alert(ctx, a);
}

/* Another replica sent it, or holds it: the state that raised it here settles as
 * sent (it is not raised again), and the fleet's record is left alone. */
static void lost(alert_ctx *ctx, al_alert *a)
{
    atomic_fetch_add(&ctx->n.alerts_deduplicated, 1);
    a->fleet_claimed = 0;
    a->delivered_ok = 1;
    al_alert_free(a);
}

/* Settles the claims of a several-claim key from the first-th on. */
static void settle_claims(alert_ctx *ctx, const char *fleet_key, int ok, unsigned first)
{
    char *keys = al_strdup(fleet_key);
    if (!keys)
        return;                 /* unrecorded: a sent claim is claimed again, a duplicate */
    unsigned i = 0;
    for (char *k = keys, *next; k; k = next, i++) {
        if ((next = strchr(k, '\n')))
            *next++ = '\0';
        if (i >= first)
            al_state_fleet_settle(ctx->state, k, ok);
    }
    al_free(keys);
}

void al_gate_settle(alert_ctx *ctx, const al_alert *a, int ok)
{
    if (!a->fleet_key || !a->fleet_claimed)
        return;
    if (strchr(a->fleet_key, '\n'))
        settle_claims(ctx, a->fleet_key, ok, 0);
    else
        al_state_fleet_settle(ctx->state, a->fleet_key, ok);
}

/* Asks every claim of a not answered yet; 1 when all are (*first: the first's answer). */
static int ask_all(alert_ctx *ctx, al_alert *a, int64_t now_ms, al_claim *first)
{
    char *keys = al_strdup(a->fleet_key);
    if (!keys) {
        *first = AL_CLAIM_WON;  /* no memory to ask: it goes out (never lose an alert) */
        return 1;
    }
    int waiting = 0;
    unsigned i = 0;
    for (char *k = keys, *next; k; k = next, i++) {
        if ((next = strchr(k, '\n')))
            *next++ = '\0';
        unsigned bit = i < 32 ? 1u << i : 0;
        if (a->fleet_answered & bit)
            continue;
        al_claim c = AL_CLAIM_WON;
        al_state_fleet_claim(ctx->state, k, now_ms, &c);
        if (c == AL_CLAIM_PENDING) {
            waiting = 1;
            continue;
        }
        a->fleet_answered |= bit;
        if (i == 0)
            a->fleet_lost = c != AL_CLAIM_WON;
    }
    al_free(keys);
    *first = a->fleet_lost ? AL_CLAIM_SENT : AL_CLAIM_WON;
    return !waiting;
}

/* Asks once; 1 when decided (a is routed or dropped), 0 when it must wait. */
static int decide(alert_ctx *ctx, al_alert *a, int64_t now_ms)
{
    al_claim c = AL_CLAIM_WON;
    if (strchr(a->fleet_key, '\n')) {
        if (!ask_all(ctx, a, now_ms, &c))
            return 0;
        if (c != AL_CLAIM_WON)
            settle_claims(ctx, a->fleet_key, 0, 1);     /* not sent here: ours released */
    } else {
        al_state_fleet_claim(ctx->state, a->fleet_key, now_ms, &c);
        if (c == AL_CLAIM_PENDING)
            return 0;
    }
    if (c == AL_CLAIM_WON)
        release(ctx, a);
    else
        lost(ctx, a);
    return 1;
}

static int push(al_gate *g, al_alert *a)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        al_alert **v = al_realloc(g->v, cap * sizeof *v);
        if (!v)
            return -1;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = a;
    return 0;
}

int al_gate_hold(alert_ctx *ctx, al_alert *a)
{
    al_gate *g = ctx->gate;
    if (!g || !a->fleet_key || a->fleet_claimed || !al_state_fleet(ctx->state))
        return 0;
    if (decide(ctx, a, al_ctx_mono(ctx)))
        return 1;
    if (push(g, a) != 0)
        release(ctx, a);                /* no memory to wait: it goes out */
    return 1;
}

void al_gate_tick(alert_ctx *ctx, int64_t now_ms)
{
    al_gate *g = ctx->gate;
    if (!g || !g->n)
        return;
    /* take the list first: routing may bring new alerts into the gate */
    al_alert **v = g->v;
    size_t n = g->n;
    g->v = NULL;
    g->n = g->cap = 0;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!decide(ctx, v[i], now_ms))
            v[kept++] = v[i];
    for (size_t i = 0; i < kept; i++)
        if (push(g, v[i]) != 0)
            release(ctx, v[i]);
    al_free(v);
}

void al_gate_free(alert_ctx *ctx, al_gate *g)
{
    if (!g)
        return;
    ctx->gate = NULL;                   /* nothing waits any more */
    for (size_t i = 0; i < g->n; i++)
        release(ctx, g->v[i]);
    al_free(g->v);
    al_free(g);
}
