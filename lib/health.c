/* SPDX-License-Identifier: MIT */
/* Deployment health on the worker (health.h): outage windows, the daily and
 * fallback reports on their schedules, and the operations events. */
#include "health.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "ctx.h"
#include "hash.h"
#include "dstats.h"
#include "ops.h"
#include "outage.h"
#include "dest.h"
#include "reports.h"
#include "sign.h"
#include "route.h"
#include "state/state.h"

struct al_health {
    al_outage *outage;
    al_cooldowns *cooldowns;
    al_fallbacks *fallbacks;
    int64_t daily_last_ms, fallback_last_ms;
    /* the counters the last delivered daily report covered, and those of the one
     * on its way (they become the baseline once it is delivered) */
    al_dstat_total *baseline, *pending;
    size_t n_baseline, n_pending;
    int daily_in_flight, fallback_in_flight;
    int64_t daily_raised_ms, fallback_raised_ms;   /* in their settle keys */
    uint64_t overflow_seen;     /* requests the per-stripe tables had no room for */
    struct fleet_health *fleet; /* fleet mode: decided with the other replicas (below) */
};

static int fleet_new(alert_ctx *ctx, al_health *f);
static void fleet_free(al_health *f);
static int fleet_on_failure(alert_ctx *ctx, const al_outage_failure *of);
static void fleet_tick(alert_ctx *ctx, int64_t now);
static void fleet_settle(alert_ctx *ctx, const char *key, int ok);
static void fleet_fallback(al_health *f, const al_event *e);

/* Fleet mode: one cooldown alert per deployment for the fleet while its cooldown
 * lasts (a once-only mark, FLEET.md; cooldown_s 0: LiteLLM's default cooldown, 5 s). */
static int cooldown_fleet_key(al_alert *a, const char *deployment, int32_t cooldown_s)
{
    char id[65];
    if (al_sha256_hex(deployment, strlen(deployment), id) != 0)
        return ALERT_ERR_NOMEM;
    id[32] = '\0';
    al_buf k = AL_BUF_INIT;
    al_buf_printf(&k, "M|%lld|cooldown:%s", (long long)(cooldown_s > 0 ? cooldown_s : 5) * 1000, id);
    a->fleet_key = al_buf_take(&k);
    return a->fleet_key ? ALERT_OK : ALERT_ERR_NOMEM;
}

static int64_t schedule_base(alert_ctx *ctx, const char *name)
{
    int64_t last, now = al_ctx_now(ctx);
    if (al_state_schedule_get(ctx->state, name, &last) == ALERT_OK)
        return last;
    /* first start: the first report is due one period from now, even across restarts */
    al_state_schedule_put(ctx->state, name, now);
    return now;
}

int al_health_new(alert_ctx *ctx, al_health **out)
{
    const alert_config *c = &ctx->cfg;
    al_health *f = al_calloc(1, sizeof *f);
    if (!f)
        return ALERT_ERR_NOMEM;
    *out = f;
    al_outage_conf oc = {
        .ttl_s = c->outage_alert_ttl, .region_ttl_s = c->region_outage_alert_ttl,
        .minor = c->minor_outage_alert_threshold, .major = c->major_outage_alert_threshold,
        .max_tracked = c->max_tracked_deployments,
        /* Alertmanager needs the end of an episode even without send_resolved */
        .send_resolved = c->send_resolved || al_route_has(ctx, AL_DEST_ALERTMANAGER),
        .deployments_on = al_type_on(ctx, AL_T_OUTAGE_ALERTS), .regions_on = al_type_on(ctx, AL_T_REGION_OUTAGE_ALERTS),
    };
    int rc = al_outage_new(&oc, &f->outage);
    if (rc != ALERT_OK)
        return rc;
    f->cooldowns = al_cooldowns_new((size_t)c->max_tracked_deployments);
    f->fallbacks = al_fallbacks_new(0);
    if (!f->cooldowns || !f->fallbacks)
        return ALERT_ERR_NOMEM;
    if (al_state_fleet(ctx->state))
        return fleet_new(ctx, f);
    al_state_begin(ctx->state);
    f->daily_last_ms = schedule_base(ctx, "daily_report");
    f->fallback_last_ms = schedule_base(ctx, "fallback_report");
    al_state_commit(ctx->state);
    return ALERT_OK;
}

void al_health_free(al_health *f)
{
    if (!f)
        return;
    al_outage_free(f->outage);
    al_cooldowns_free(f->cooldowns);
    al_fallbacks_free(f->fallbacks);
    al_free(f->baseline);
    al_free(f->pending);
    fleet_free(f);
    al_free(f);
}

void al_health_on_event(alert_ctx *ctx, const al_event *e)
{
    al_health *f = ctx->health;
    int scrub = !ctx->cfg.disable_secret_redaction;
    al_alert *a = NULL;
    int err = ALERT_OK;
    switch (e->kind) {
    case AL_EV_FAILURE: {
        if (!(e->flags & AL_EVF_OUTAGE))
            return;
        al_outage_failure of = { e->s[AL_ES_MODEL], e->s[AL_ES_DEPLOYMENT], e->s[AL_ES_DEPLOYMENT_ID],
                                 e->s[AL_ES_PROVIDER], e->s[AL_ES_API_BASE], e->s[AL_ES_REGION],
                                 e->status_code, e->end_ms };
        al_alert **v = NULL;
        size_t n = 0;
        if (al_outage_on_failure(f->outage, &of, &v, &n) == ALERT_ERR_NOMEM)
            al_ctx_error(ctx, "out of memory in outage tracking");
        if (f->fleet && fleet_on_failure(ctx, &of)) {
            /* the fleet's window decides; the local one only stands in while Redis is away */
            for (size_t i = 0; i < n; i++)
                al_alert_free(v[i]);
            al_free(v);
            return;
        }
        al_route_alerts(ctx, v, n);
        return;
    }
    case AL_EV_DB_ERROR:
        a = al_ops_db_error(e->s[AL_ES_MESSAGE], scrub, e->end_ms);
        break;
    case AL_EV_COOLDOWN:
        if (al_cooldowns_check(f->cooldowns, e->s[AL_ES_DEPLOYMENT], e->status_code, e->end_ms) != 1) {
            atomic_fetch_add(&ctx->n.alerts_deduplicated, 1);
            return;
        }
        a = al_ops_cooldown(e->s[AL_ES_DEPLOYMENT], e->s[AL_ES_MESSAGE], e->status_code, scrub, e->end_ms);
        if (a && f->fleet && cooldown_fleet_key(a, e->s[AL_ES_DEPLOYMENT], e->status_code) != ALERT_OK) {
            al_alert_free(a);
            a = NULL;
        }
        break;
    case AL_EV_FALLBACK:
        if (al_fallbacks_add(f->fallbacks, e->s[AL_ES_MODEL], e->s[AL_ES_DEPLOYMENT], e->status_code) ==
            ALERT_ERR_FULL)
            al_ctx_log(ctx, ALERT_LOG_WARNING, "fallback report: too many model pairs; one not counted");
        if (f->fleet)
            fleet_fallback(f, e);
        return;
    case AL_EV_MGMT:
        a = al_ops_management(e->s[AL_ES_ALERT_TYPE], e->s[AL_ES_MESSAGE], e->s[AL_ES_METADATA], scrub,
                              e->end_ms, &err);
        break;
    default:
        return;
    }
    if (a)
        al_route_alert(ctx, a);
    else
        al_ctx_error(ctx, "an operations alert could not be built (%s)", alert_err_name(err ? err : ALERT_ERR_NOMEM));
}

/* ---- the daily report: counters since the last one that was delivered ---- */

static const al_dstat_total *find(const al_dstat_total *v, size_t n, const char *dep)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].deployment == dep)
            return &v[i];
    return NULL;
}

/* "health|<report>|<raised ms>": the time tells this process's report from one
 * restored after a restart. */
static char *report_key(const char *report, int64_t raised_ms)
{
    char k[64];
    snprintf(k, sizeof k, "health|%s|%lld", report, (long long)raised_ms);
    return al_strdup(k);
}

/* The daily report's fate. One restored from the spool after a restart finds no
 * report of this process in flight: its window was advanced when it was raised (the
 * schedule is in the state), and the counters it covered died with the old process,
 * so there is nothing to merge back. */
static void daily_settle(alert_ctx *ctx, int64_t raised_ms, int ok)
{
    al_health *f = ctx->health;
    if (!f->daily_in_flight || raised_ms != f->daily_raised_ms) {
        if (!ok)
            al_ctx_log(ctx, ALERT_LOG_WARNING, "a daily report restored after a restart could "
                       "not be delivered; its counts were those of the previous process");
        return;
    }
    f->daily_in_flight = 0;
    if (!ok) {
        al_free(f->pending);
        f->pending = NULL;
        return;                     /* not delivered: the next report covers these too */
    }
    al_free(f->baseline);
    f->baseline = f->pending;
    f->n_baseline = f->n_pending;
    f->pending = NULL;
}

static void daily_report(alert_ctx *ctx, int64_t now)
{
    al_health *f = ctx->health;
    al_dstat_total *cur = NULL;
    size_t n = ctx->dstats ? al_dstats_collect(ctx->dstats, &cur) : 0;
    uint64_t overflow = ctx->dstats ? al_dstats_overflow(ctx->dstats) : 0;
    if (overflow > f->overflow_seen) {
        al_ctx_log(ctx, ALERT_LOG_WARNING, "daily report: %llu requests of deployments beyond the "
                   "%d-per-thread-stripe table were not counted",
                   (unsigned long long)(overflow - f->overflow_seen), AL_DSTATS_PER_STRIPE);
        f->overflow_seen = overflow;
    }
    al_deploy_totals *v = n ? al_calloc(n, sizeof *v) : NULL;
    for (size_t i = 0; v && i < n; i++) {
        const al_dstat_total *b = find(f->baseline, f->n_baseline, cur[i].deployment);
        v[i].deployment = cur[i].deployment;
        v[i].api_base = cur[i].api_base;
        v[i].model = cur[i].model;
        v[i].failed = cur[i].failed - (b ? b->failed : 0);
        v[i].requests = cur[i].requests - (b ? b->requests : 0);
        v[i].latency_sum_s = (double)(cur[i].latency_us_sum - (b ? b->latency_us_sum : 0)) / 1e6;
        v[i].latency_count = cur[i].latency_n - (b ? b->latency_n : 0);
    }
    int err = ALERT_OK;
    al_alert *a = v ? al_daily_report(v, n, now, ctx->cfg.daily_report_frequency, &err) : NULL;
    al_free(v);
    if (!a) {
        al_free(cur);           /* nothing to say (or no memory): the counters go on */
        return;
    }
    al_free(f->pending);
    f->pending = cur;
    f->n_pending = n;
    a->settle_key = report_key("daily", now);
    if (!a->settle_key) {
        al_alert_free(a);
        return;                     /* no memory: the counters go on to the next report */
    }
    f->daily_in_flight = 1;
    f->daily_raised_ms = now;
    al_route_alert(ctx, a);
}

static void fallback_settle(alert_ctx *ctx, int64_t raised_ms, int ok)
{
    al_health *f = ctx->health;
    if (!f->fallback_in_flight || raised_ms != f->fallback_raised_ms)
        return;                     /* restored after a restart: its counts died with it */
    f->fallback_in_flight = 0;
    if (ok)
        al_fallbacks_commit(f->fallbacks);
}

/* settle.c: "health|daily|…" and "health|fallback|…". */
void al_health_settle(alert_ctx *ctx, const char *key, int ok)
{
    if (!ctx->health)
        return;
    const char *t = strrchr(key, '|');
    int64_t raised = t ? strtoll(t + 1, NULL, 10) : 0;
    if (strncmp(key, "health|daily|fleet|", 19) == 0 || strncmp(key, "health|fallback|fleet|", 22) == 0)
        fleet_settle(ctx, key, ok);
    else if (strncmp(key, "health|daily|", 13) == 0)
        daily_settle(ctx, raised, ok);
    else if (strncmp(key, "health|fallback|", 16) == 0)
        fallback_settle(ctx, raised, ok);
}

static void fallback_report(alert_ctx *ctx, int64_t now)
{
    al_health *f = ctx->health;
    int err = ALERT_OK;
    al_alert *a = al_fallbacks_report(f->fallbacks, now, &err);
    if (!a)
        return;
    if (!(a->settle_key = report_key("fallback", now))) {
        al_alert_free(a);
        return;
    }
    f->fallback_in_flight = 1;
    f->fallback_raised_ms = now;
    al_route_alert(ctx, a);
}

void al_health_tick(alert_ctx *ctx, int64_t now)
{
    al_health *f = ctx->health;
    if (now >= al_outage_next_due(f->outage)) {
        al_alert **v = NULL;
        size_t n = 0;
        al_outage_tick(f->outage, now, &v, &n);
        if (f->fleet && al_state_fleet_up(ctx->state)) {
            for (size_t i = 0; i < n; i++)
                al_alert_free(v[i]);        /* the fleet's episode ends on its own */
            al_free(v);
            n = 0;
            v = NULL;
        }
        for (size_t i = 0; i < n; i++)
            if (v[i]->resolved && !ctx->cfg.send_resolved)
                v[i]->only = AL_DEST_BIT(AL_DEST_ALERTMANAGER);  /* ends its episode there only */
        al_route_alerts(ctx, v, n);
    }
    if (f->fleet) {
        fleet_tick(ctx, now);
        return;
    }
    int64_t period = (int64_t)(ctx->cfg.daily_report_frequency * 1000.0);
    if (al_type_on(ctx, AL_T_DAILY_REPORTS) && !f->daily_in_flight && al_schedule_due(f->daily_last_ms, period, now)) {
        daily_report(ctx, now);
        f->daily_last_ms = now;
        al_state_schedule_put(ctx->state, "daily_report", now);
    }
    if (al_type_on(ctx, AL_T_FALLBACK_REPORTS) && !f->fallback_in_flight &&
        al_schedule_due(f->fallback_last_ms, period, now)) {
        fallback_report(ctx, now);
        f->fallback_last_ms = now;
        al_state_schedule_put(ctx->state, "fallback_report", now);
    }
}

/* ---- fleet mode (FLEET.md "What is shared") --------------------------------------------
 * Outages: every counted failure also goes to the fleet's window of its deployment (and
 * region), where one script counts the replicas' failures together and claims Minor /
 * Major once per episode; this replica remembers the keys it fed, with the labels of
 * their last failure, to build the texts of the answers and to ask, a window after the
 * last failure, whether the episode is over (the one replica whose check ends it sends
 * "Service Recovered"). While Redis is away, the local windows decide as before.
 * Reports: the counters go to the fleet's open window in batches; when the window is
 * due the replicas race to claim it, and the winner sends the fleet-wide report. */

#define FLEET_REPORTS 2             /* daily, fallback */
#define FLEET_IN_FLIGHT 4           /* report windows this replica may be sending at once */
#define FIELD_SEP "\x1f"
#define FLEET_KEPT 256              /* failures kept per episode for a re-seed */

typedef struct fleet_ep {
    struct fleet_ep *next;          /* hash chain */
    char *key;                      /* "d|<deployment>" or "r|<provider>|<region>" */
    int region;
    al_outage_failure f;            /* its last failure's labels (strings in lbl) */
    char *lbl;
    int64_t due_ms;                 /* from then its episode may be over */
    int adds, asking;               /* ops in flight */
    /* failures not yet sent to the fleet: one batch per sync interval, or at once when
     * the batch may claim a level */
    al_fleet_failure *pend;
    size_t n_pend, cap_pend;
    al_buf pend_deps;               /* their deployments (a region's), NUL-separated */
    int64_t posted_ms;              /* the last batch's time */
    uint64_t fleet_n;               /* the fleet's window as last answered */
    int fleet_level;                /* the episode's level as last answered */
    /* the failures of its window this replica added (dep strings owned), the latest
     * FLEET_KEPT at most: added again, with their own numbers, after Redis lost its data */
    al_fleet_failure *kept;
    size_t n_kept;
    struct fleet_ep *dirty_next;    /* on h->dirty while on_dirty */
    int on_dirty;
} fleet_ep;

typedef struct fleet_report {
    const char *name;               /* "daily", "fallback" */
    al_type type;
    int64_t due_ms;                 /* the fleet's window is due then (as last answered) */
    int64_t ask_ms;                 /* when this replica asks next */
    int asking;
    int64_t in_flight[FLEET_IN_FLIGHT];     /* windows on their way, gen + 1 (0: free) */
} fleet_report;

typedef struct fleet_health {
    al_fleet_client client;
    fleet_ep *dirty;                /* episodes with failures not yet sent */
    fleet_ep **buckets;
    size_t n_buckets, n_eps, max_eps;
    int64_t next_due;               /* the earliest due_ms of the episodes (a lower bound) */
    int64_t ttl_ms, region_ttl_ms, sync_ms, takeover_ms, grace_ms;
    int minor, major, send_resolved;
    fleet_report rep[FLEET_REPORTS];
    al_dstat_total *flushed;        /* the daily counters already added to the fleet */
    size_t n_flushed;
    al_dstat_total *partial_base;   /* ... as they were when the fleet last answered */
    size_t n_partial_base;
    al_fallbacks *partial_fallbacks;    /* fallbacks since the fleet last answered */
    int64_t flush_ms;
    struct report_track *track;     /* what to add again if Redis loses its data (reports) */
} fleet_health;

static void report_track_free(struct report_track *t);

static void fleet_answer(void *ud, const al_fleet_answer *a);

static int fleet_new(alert_ctx *ctx, al_health *f)
{
    const alert_config *c = &ctx->cfg;
    fleet_health *h = al_calloc(1, sizeof *h);
    if (!h)
        return ALERT_ERR_NOMEM;
    f->fleet = h;
    h->client.cb = fleet_answer;
    h->client.ud = ctx;
    h->ttl_ms = (int64_t)(c->outage_alert_ttl * 1000.0);
    h->region_ttl_ms = (int64_t)(c->region_outage_alert_ttl * 1000.0);
    h->sync_ms = (int64_t)(c->fleet_sync_interval * 1000.0);
    h->takeover_ms = (int64_t)(c->fleet_takeover_after * 1000.0);
    h->grace_ms = (int64_t)(c->fleet_report_grace * 1000.0);
    h->minor = c->minor_outage_alert_threshold < 1 ? 1 : (int)c->minor_outage_alert_threshold;
    h->major = c->major_outage_alert_threshold < 1 ? 1 : (int)c->major_outage_alert_threshold;
    h->send_resolved = c->send_resolved || al_route_has(ctx, AL_DEST_ALERTMANAGER);
    h->max_eps = 2 * (size_t)c->max_tracked_deployments;
    h->next_due = INT64_MAX;
    h->partial_fallbacks = al_fallbacks_new(0);
    if (!h->partial_fallbacks)
        return ALERT_ERR_NOMEM;
    int64_t now = al_ctx_now(ctx);
    int64_t period = (int64_t)(c->daily_report_frequency * 1000.0);
    const char *names[FLEET_REPORTS] = { "daily", "fallback" };
    al_type types[FLEET_REPORTS] = { AL_T_DAILY_REPORTS, AL_T_FALLBACK_REPORTS };
    for (int i = 0; i < FLEET_REPORTS; i++) {
        h->rep[i].name = names[i];
        h->rep[i].type = types[i];
        h->rep[i].due_ms = now + period;        /* until the fleet says otherwise */
        h->rep[i].ask_ms = now;                 /* the first ask anchors the fleet's windows */
    }
    return ALERT_OK;
}

static void kept_drop(fleet_ep *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        al_free((char *)e->kept[i].dep);
    memmove(e->kept, e->kept + n, (e->n_kept - n) * sizeof *e->kept);
    e->n_kept -= n;
}

static void ep_free(fleet_ep *e)
{
    kept_drop(e, e->n_kept);
    al_free(e->kept);
    al_free(e->pend);
    al_buf_free(&e->pend_deps);
    al_free(e->key);
    al_free(e->lbl);
    al_free(e);
}

static void fleet_free(al_health *f)
{
    fleet_health *h = f->fleet;
    if (!h)
        return;
    for (size_t i = 0; i < h->n_buckets; i++)
        for (fleet_ep *e = h->buckets[i], *n; e; e = n) {
            n = e->next;
            ep_free(e);
        }
    al_free(h->buckets);
    al_free(h->flushed);
    al_free(h->partial_base);
    al_fallbacks_free(h->partial_fallbacks);
    report_track_free(h->track);
    al_free(h);
    f->fleet = NULL;
}

/* ---- outages -------------------------------------------------------------------------- */

static fleet_ep **ep_slot(fleet_health *h, const char *key)
{
    fleet_ep **p = &h->buckets[al_hash_bytes(key, strlen(key), 0) & (h->n_buckets - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

static fleet_ep *ep_find(fleet_health *h, const char *key)
{
    return h->n_buckets && key ? *ep_slot(h, key) : NULL;
}

static void ep_remove(fleet_health *h, fleet_ep *e)
{
    fleet_ep **p = ep_slot(h, e->key);
    *p = e->next;
    h->n_eps--;
    ep_free(e);
}

static int ep_grow(fleet_health *h)
{
    size_t nb = h->n_buckets ? h->n_buckets * 2 : 64;
    fleet_ep **b = al_calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < h->n_buckets; i++)
        for (fleet_ep *e = h->buckets[i], *n; e; e = n) {
            n = e->next;
            size_t j = al_hash_bytes(e->key, strlen(e->key), 0) & (nb - 1);
            e->next = b[j];
            b[j] = e;
        }
    al_free(h->buckets);
    h->buckets = b;
    h->n_buckets = nb;
    return 0;
}

/* The labels of of, copied into one allocation. */
static char *labels_copy(const al_outage_failure *of, al_outage_failure *dst)
{
    const char *in[6] = { of->model, of->deployment, of->deployment_id, of->provider, of->api_base,
                          of->region };
    const char **out[6] = { &dst->model, &dst->deployment, &dst->deployment_id, &dst->provider,
                            &dst->api_base, &dst->region };
    size_t len = 1;
    for (int i = 0; i < 6; i++)
        len += in[i] ? strlen(in[i]) + 1 : 0;
    char *buf = al_malloc(len), *p = buf;
    if (!buf)
        return NULL;
    for (int i = 0; i < 6; i++) {
        *out[i] = in[i] ? p : NULL;
        if (in[i]) {
            size_t n = strlen(in[i]) + 1;
            memcpy(p, in[i], n);
            p += n;
        }
    }
    dst->status_code = of->status_code;
    dst->at_ms = of->at_ms;
    return buf;
}

/* The entry of key with of's labels, made when new; NULL when the table is full of
 * entries still waiting for answers, or out of memory. */
static fleet_ep *ep_feed(fleet_health *h, const char *key, int region, const al_outage_failure *of)
{
    fleet_ep *e = ep_find(h, key);
    if (!e) {
        if (h->n_eps >= h->max_eps)
            return NULL;        /* max_tracked_deployments: this one is not followed here */
        if (h->n_eps + 1 > h->n_buckets && ep_grow(h) != 0)
            return NULL;
        e = al_calloc(1, sizeof *e);
        if (!e || !(e->key = al_strdup(key))) {
            al_free(e);
            return NULL;
        }
        e->region = region;
        fleet_ep **p = ep_slot(h, key);
        *p = e;
        h->n_eps++;
    }
    al_outage_failure f = { 0 };
    char *lbl = labels_copy(of, &f);
    if (lbl) {
        al_free(e->lbl);
        e->lbl = lbl;
        e->f = f;
    }
    return e->lbl ? e : NULL;
}

/* Whether the failures waiting on e could claim a level, as far as this replica knows
 * (the fleet's window as last answered, plus them). */
static int ep_may_claim(const fleet_health *h, const fleet_ep *e)
{
    uint64_t n = e->fleet_n + e->n_pend;
    return (e->fleet_level < 1 && n >= (uint64_t)h->minor) ||
           (e->fleet_level < 2 && n >= (uint64_t)h->major);
}

/* The failures just posted join the kept ones; those out of the window, or beyond
 * FLEET_KEPT, go. */
static void ep_keep(fleet_ep *e, int64_t ttl)
{
    if (!e->kept && !(e->kept = al_calloc(FLEET_KEPT, sizeof *e->kept)))
        return;                     /* no memory: nothing is kept, a re-seed adds less */
    for (size_t i = 0; i < e->n_pend; i++) {
        if (e->n_kept == FLEET_KEPT)
            kept_drop(e, 1);
        al_fleet_failure k = e->pend[i];
        k.dep = k.dep ? al_strdup(k.dep) : NULL;
        if (e->pend[i].dep && !k.dep)
            continue;
        e->kept[e->n_kept++] = k;
    }
    size_t old = 0;
    int64_t last = e->n_kept ? e->kept[e->n_kept - 1].at_ms : 0;
    while (old < e->n_kept && e->kept[old].at_ms <= last - ttl)
        old++;
    kept_drop(e, old);
}

/* Redis lost its data: each episode's kept failures go again (each counts once: the
 * same numbers), with the level this replica knew (not claimed twice). */
static void outage_reseed(alert_ctx *ctx)
{
    fleet_health *h = ctx->health->fleet;
    size_t n = 0;
    for (size_t i = 0; i < h->n_buckets; i++)
        for (fleet_ep *e = h->buckets[i]; e; e = e->next) {
            if (!e->n_kept)
                continue;
            int64_t ttl = e->region ? h->region_ttl_ms : h->ttl_ms;
            if (al_state_fleet_outage_add(ctx->state, &h->client, e->key, e->kept, e->n_kept, ttl,
                                          h->minor, h->major, e->fleet_level, e->key, 0) == ALERT_OK) {
                e->adds++;
                n += e->n_kept;
            }
        }
    if (n)
        al_ctx_log(ctx, ALERT_LOG_INFO, "fleet: %zu failures of this replica's outage windows were "
                   "added again (the store started over)", n);
}

/* e's waiting failures to the fleet, as one batch; urgent when it may claim a level. */
static void ep_post(alert_ctx *ctx, fleet_ep *e, int64_t now)
{
    fleet_health *h = ctx->health->fleet;
    const char *dep = e->pend_deps.data;
    for (size_t i = 0; i < e->n_pend; i++)
        if (e->pend[i].dep) {               /* offsets into pend_deps until now */
            e->pend[i].dep = dep;
            dep += strlen(dep) + 1;
        }
    int64_t ttl = e->region ? h->region_ttl_ms : h->ttl_ms;
    /* one batch per episode: a quiet window between two failures ends an episode, and
     * the script's answer says one end, before the batch's claims */
    int urgent = ep_may_claim(h, e);
    size_t from = 0;
    int64_t latest = e->pend[0].at_ms;
    for (size_t i = 1; i <= e->n_pend; i++) {
        if (i < e->n_pend && e->pend[i].at_ms - latest < ttl) {
            if (e->pend[i].at_ms > latest)
                latest = e->pend[i].at_ms;
            continue;
        }
        if (al_state_fleet_outage_add(ctx->state, &h->client, e->key, e->pend + from, i - from, ttl,
                                      h->minor, h->major, 0, e->key, urgent) == ALERT_OK)
            e->adds++;
        else
            al_ctx_error(ctx, "out of memory: %zu failures were not added to the fleet's outage "
                         "window", i - from);
        if (i < e->n_pend)
            latest = e->pend[i].at_ms;
        from = i;
    }
    ep_keep(e, ttl);
    e->fleet_n += e->n_pend;
    e->n_pend = 0;
    e->pend_deps.len = 0;
    e->posted_ms = now;
}

static void fleet_add(alert_ctx *ctx, const char *key, int region, const char *dep,
                      const al_outage_failure *of)
{
    fleet_health *h = ctx->health->fleet;
    fleet_ep *e = ep_feed(h, key, region, of);
    if (!e)
        return;
    int64_t ttl = region ? h->region_ttl_ms : h->ttl_ms;
    if (of->at_ms + ttl > e->due_ms)
        e->due_ms = of->at_ms + ttl;
    if (e->due_ms < h->next_due)
        h->next_due = e->due_ms;
    if (e->n_pend == e->cap_pend) {
        size_t cap = e->cap_pend ? e->cap_pend * 2 : 8;
        if (cap > AL_FLEET_FAILURES_MAX)
            cap = AL_FLEET_FAILURES_MAX;
        al_fleet_failure *v = al_realloc(e->pend, cap * sizeof *v);
        if (!v) {
            al_ctx_error(ctx, "out of memory: a failure was not added to the fleet's outage window");
            return;
        }
        e->pend = v;
        e->cap_pend = cap;
    }
    if (dep) {
        al_buf_add(&e->pend_deps, dep, strlen(dep) + 1);
        if (e->pend_deps.oom) {
            al_ctx_error(ctx, "out of memory: a failure was not added to the fleet's outage window");
            return;
        }
    }
    e->pend[e->n_pend++] = (al_fleet_failure){ .at_ms = of->at_ms, .seq = ++h->client.seq,
                                               .dep = dep ? "" : NULL,
                                               .timeout = of->status_code == 408 };
    if (!e->on_dirty) {
        e->dirty_next = h->dirty;
        h->dirty = e;
        e->on_dirty = 1;
    }
    if (e->n_pend == AL_FLEET_FAILURES_MAX)
        ep_post(ctx, e, al_ctx_now(ctx));       /* the batch is full: it goes now */
}

/* The failures waiting: each episode's batch goes once per sync interval, or at once
 * when it may claim a level (FLEET.md: one round per interval, claims at once). */
static void outage_flush(alert_ctx *ctx, int64_t now)
{
    fleet_health *h = ctx->health->fleet;
    int64_t every = h->sync_ms > 0 ? h->sync_ms : 1000;
    fleet_ep **p = &h->dirty;
    while (*p) {
        fleet_ep *e = *p;
        if (e->n_pend && (ep_may_claim(h, e) || now - e->posted_ms >= every || now < e->posted_ms))
            ep_post(ctx, e, now);
        if (!e->n_pend) {
            *p = e->dirty_next;
            e->on_dirty = 0;
        } else {
            p = &e->dirty_next;
        }
    }
}

/* 1 when the fleet decides this failure's outages (Redis answers), 0: the local
 * windows decide. Fed to the fleet either way: a failure seen while Redis is away is
 * added once it is back, with its own time. */
static int fleet_on_failure(alert_ctx *ctx, const al_outage_failure *of)
{
    fleet_health *h = ctx->health->fleet;
    const char *key = al_outage_key(of);
    if (!key || h->max_eps == 0)
        return al_state_fleet_up(ctx->state);
    char k[1024];
    if (al_type_on(ctx, AL_T_OUTAGE_ALERTS)) {
        snprintf(k, sizeof k, "d|%s", key);
        fleet_add(ctx, k, 0, NULL, of);
    }
    if (al_type_on(ctx, AL_T_REGION_OUTAGE_ALERTS) && of->region && *of->region) {
        snprintf(k, sizeof k, "r|%s|%s", of->provider ? of->provider : "", of->region);
        fleet_add(ctx, k, 1, key, of);
    }
    return al_state_fleet_up(ctx->state);
}

static void fleet_raise(alert_ctx *ctx, fleet_ep *e, int level, int resolved, uint64_t timeouts,
                        uint64_t api)
{
    fleet_health *h = ctx->health->fleet;
    if (resolved && !h->send_resolved)
        return;
    int64_t ttl = e->region ? h->region_ttl_ms : h->ttl_ms;
    al_alert *a = al_outage_alert(&e->f, e->region, level, resolved, timeouts, api, ttl, al_ctx_now(ctx));
    if (!a) {
        al_ctx_error(ctx, "out of memory: an outage alert of the fleet could not be built");
        return;
    }
    if (resolved && !ctx->cfg.send_resolved)
        a->only = AL_DEST_BIT(AL_DEST_ALERTMANAGER);     /* ends its episode there only */
    al_route_alert(ctx, a);
}

static void outage_answer(alert_ctx *ctx, const al_fleet_answer *a)
{
    fleet_health *h = ctx->health->fleet;
    fleet_ep *e = ep_find(h, a->tag);
    if (!e)
        return;
    if (a->kind == AL_FA_OUTAGE) {
        if (!a->more)
            e->adds--;
        if (!a->answered)
            return;
        if (a->ended)
            fleet_raise(ctx, e, a->ended, 1, 0, 0);
        e->fleet_level = a->ep_level;
        e->fleet_n = a->in_window;
        if (a->minor_too)
            fleet_raise(ctx, e, 1, 0, a->timeouts, a->api);
        if (a->level)
            fleet_raise(ctx, e, a->level, 0, a->timeouts, a->api);
        return;
    }
    e->asking = 0;
    if (!a->answered || a->ended < 0) {
        /* not over (its last failure is a->at_ms), or no answer: ask again later */
        int64_t ttl = e->region ? h->region_ttl_ms : h->ttl_ms;
        e->due_ms = a->answered ? a->at_ms + ttl : e->due_ms + (h->sync_ms > 0 ? h->sync_ms : 1000);
        if (e->due_ms < h->next_due)
            h->next_due = e->due_ms;
        return;
    }
    if (a->ended > 0)
        fleet_raise(ctx, e, a->ended, 1, 0, 0);
    e->fleet_level = 0;
    e->fleet_n = 0;
    /* the episode is over: nothing of it to re-seed (failures since are a new one's) */
    int64_t ttl = e->region ? h->region_ttl_ms : h->ttl_ms, now = al_ctx_now(ctx);
    size_t old = 0;
    while (old < e->n_kept && e->kept[old].at_ms + ttl <= now)
        old++;
    kept_drop(e, old);
    if (!e->adds && !e->n_pend && !e->on_dirty)
        ep_remove(h, e);
}

static void outage_tick(alert_ctx *ctx, int64_t now)
{
    fleet_health *h = ctx->health->fleet;
    if (now < h->next_due)
        return;
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < h->n_buckets; i++)
        for (fleet_ep *e = h->buckets[i]; e; e = e->next) {
            if (!e->asking && e->due_ms <= now) {
                int64_t ttl = e->region ? h->region_ttl_ms : h->ttl_ms;
                if (al_state_fleet_outage_recover(ctx->state, &h->client, e->key, now, ttl, e->key) == ALERT_OK)
                    e->asking = 1;
            }
            if (!e->asking && e->due_ms < next)
                next = e->due_ms;
        }
    h->next_due = next;
}

/* ---- reports ----------------------------------------------------------------------------- */

static int report_busy(const fleet_report *r, int64_t gen)
{
    for (int i = 0; i < FLEET_IN_FLIGHT; i++)
        if (r->in_flight[i] == gen + 1)
            return 1;
    return 0;
}

/* "rpt_" + 32 hex: the same for a window on whichever replica sends it. */
static char *report_idem(alert_ctx *ctx, const char *name, int64_t anchor, int64_t gen)
{
    char in[512], out[40];
    snprintf(in, sizeof in, "%s|%s|%" PRId64 "|%" PRId64,
             ctx->cfg.fleet_name ? ctx->cfg.fleet_name : "default", name, anchor, gen);
    uint64_t a = al_hash_bytes(in, strlen(in), 0x9e3779b97f4a7c15ull);
    uint64_t b = al_hash_bytes(in, strlen(in), a ^ 0xc2b2ae3d27d4eb4full);
    snprintf(out, sizeof out, "rpt_%016" PRIx64 "%016" PRIx64, a, b);
    return al_strdup(out);
}

/* ---- re-seeding the open windows after Redis lost its data (a new epoch) ----
 * Redis answers no counter batch, so what it applied is learnt from the rounds that
 * followed it (acked); which window a batch went to, from the claim it preceded in the
 * same pipeline. Daily counters are cumulative (this replica's, as posted); fallbacks
 * are tables of what was posted into the open window. */
typedef struct report_track {
    char epoch[64];                 /* as last seen ("" before the first connect) */
    al_dstat_total *acked;          /* daily counters Redis is known to have applied */
    al_dstat_total *window_base;    /* ... as they were when the open window started */
    al_dstat_total *claim_pre, *claim_post;     /* around the batch before the last claim */
    size_t n_acked, n_window_base, n_claim_pre, n_claim_post;
    al_fallbacks *fb_window;        /* fallbacks applied to the open window */
    al_fallbacks *fb_unacked;       /* posted, not known applied yet */
    al_fallbacks *fb_claim;         /* the batch before the last claim */
    uint64_t posted_round;          /* the coordinator's rounds when the last batch went */
    int posted;                     /* a batch not known applied yet */
} report_track;

static void report_track_free(report_track *t)
{
    if (!t)
        return;
    al_free(t->acked);
    al_free(t->window_base);
    al_free(t->claim_pre);
    al_free(t->claim_post);
    al_fallbacks_free(t->fb_window);
    al_fallbacks_free(t->fb_unacked);
    al_fallbacks_free(t->fb_claim);
    al_free(t);
}

static report_track *track_of(fleet_health *h)
{
    if (!h->track && (h->track = al_calloc(1, sizeof *h->track))) {
        report_track *t = h->track;
        t->fb_window = al_fallbacks_new(0);
        t->fb_unacked = al_fallbacks_new(0);
        t->fb_claim = al_fallbacks_new(0);
        if (!t->fb_window || !t->fb_unacked || !t->fb_claim) {
            report_track_free(t);
            h->track = NULL;
        }
    }
    return h->track;
}

/* A copy of n totals (NULL with n = 0, or no memory: then *ok = 0). */
static al_dstat_total *totals_dup(const al_dstat_total *v, size_t n, int *ok)
{
    al_dstat_total *c = n ? al_malloc(n * sizeof *c) : NULL;
    if (n && !c) {
        *ok = 0;
        return NULL;
    }
    if (n)
        memcpy(c, v, n * sizeof *c);
    return c;
}

/* dst = a copy of v (kept as it was when out of memory). */
static void totals_set(al_dstat_total **dst, size_t *n_dst, const al_dstat_total *v, size_t n)
{
    int ok = 1;
    al_dstat_total *c = totals_dup(v, n, &ok);
    if (!ok)
        return;
    al_free(*dst);
    *dst = c;
    *n_dst = n;
}

static void fb_copy_one(void *ud, const char *primary, const char *fallback, uint64_t ok,
                        uint64_t failed)
{
    al_fallbacks **two = ud;
    al_fallbacks_add_n(two[0], primary, fallback, ok, failed);
    if (two[1])
        al_fallbacks_add_n(two[1], primary, fallback, ok, failed);
}

/* Moves every count of from into to (and into also, when not NULL): from is left empty. */
static void fb_move(al_fallbacks *from, al_fallbacks *to, al_fallbacks *also)
{
    al_fallbacks *two[2] = { to, also };
    al_fallbacks_take(from, fb_copy_one, two);
}

static void fb_clear(al_fallbacks **t)
{
    al_fallbacks *n = al_fallbacks_new(0);
    if (n) {
        al_fallbacks_free(*t);
        *t = n;
    }
}

static void fleet_epoch_check(alert_ctx *ctx);

/* The daily report of the fleet's counters ("<deployment>\x1f<api base>\x1f<f|r|l|n>",
 * then "\x1f<model>" when the model is known). The model is printed as a single process
 * prints it; a deployment whose replicas saw several models names the smallest (any
 * choice is one replica's "last seen"; this one is the same on whichever replica sends).
 * A field without the model (a replica of an older version) still counts. */
static al_alert *daily_of(alert_ctx *ctx, const al_fleet_answer *a, int64_t now, int *err)
{
    al_deploy_totals *v = a->n ? al_calloc(a->n, sizeof *v) : NULL;
    char **keys = a->n ? al_calloc(a->n, sizeof *keys) : NULL;
    size_t n = 0;
    al_alert *out = NULL;
    *err = ALERT_ERR_NOMEM;
    if (a->n && (!v || !keys))
        goto done;
    for (size_t i = 0; i < a->n; i++) {
        const char *s1 = strstr(a->fields[i], FIELD_SEP);
        const char *s2 = s1 ? strstr(s1 + 1, FIELD_SEP) : NULL;
        if (!s2 || !s2[1])
            continue;
        size_t klen = (size_t)(s2 - a->fields[i]);
        size_t j = 0;
        while (j < n && (strncmp(keys[j], a->fields[i], klen) != 0 || keys[j][klen]))
            j++;
        if (j == n) {
            /* "<deployment>\x1f<api base>" to match on, then "<deployment>\0<api base>" */
            if (!(keys[n] = al_malloc(2 * klen + 2)))
                goto done;
            memcpy(keys[n], a->fields[i], klen);
            keys[n][klen] = '\0';
            char *names = keys[n] + klen + 1;
            memcpy(names, a->fields[i], klen + 1);
            names[klen] = '\0';
            names[s1 - a->fields[i]] = '\0';
            v[n].deployment = names;
            v[n].api_base = s1 + 1 < s2 ? names + (s1 - a->fields[i]) + 1 : NULL;
            n++;
        }
        const char *model = s2[2] == FIELD_SEP[0] && s2[3] ? s2 + 3 : NULL;
        if (model && (!v[j].model || strcmp(model, v[j].model) < 0))
            v[j].model = model;
        uint64_t x = a->values[i] > 0 ? (uint64_t)a->values[i] : 0;
        switch (s2[1]) {
        case 'f': v[j].failed += x; break;
        case 'r': v[j].requests += x; break;
        case 'l': v[j].latency_sum_s += (double)x / 1e6; break;
        case 'n': v[j].latency_count += x; break;
        }
    }
    *err = ALERT_OK;
    out = n ? al_daily_report(v, n, now, ctx->cfg.daily_report_frequency, err) : NULL;
done:
    for (size_t i = 0; i < n; i++)
        al_free(keys[i]);
    al_free(keys);
    al_free(v);
    return out;
}

static al_alert *fallback_of(const al_fleet_answer *a, int64_t now, int *err)
{
    al_fallbacks *t = al_fallbacks_new(0);
    *err = ALERT_ERR_NOMEM;
    if (!t)
        return NULL;
    for (size_t i = 0; i < a->n; i++) {
        char *p = al_strdup(a->fields[i]);
        char *s1 = p ? strstr(p, FIELD_SEP) : NULL;
        char *s2 = s1 ? strstr(s1 + 1, FIELD_SEP) : NULL;
        if (s2) {
            *s1 = *s2 = '\0';
            uint64_t x = a->values[i] > 0 ? (uint64_t)a->values[i] : 0;
            al_fallbacks_add_n(t, p, s1 + 1, s2[1] == 's' ? x : 0, s2[1] == 's' ? 0 : x);
        }
        al_free(p);
    }
    al_alert *out = al_fallbacks_report(t, now, err);
    al_fallbacks_free(t);
    return out;
}

static void report_answer(alert_ctx *ctx, const al_fleet_answer *a)
{
    fleet_health *h = ctx->health->fleet;
    fleet_report *r = &h->rep[strcmp(a->tag, "daily") == 0 ? 0 : 1];
    int64_t now = al_ctx_now(ctx);
    r->asking = 0;
    if (!a->answered) {
        r->ask_ms = now + (h->sync_ms > 0 ? h->sync_ms : 1000);
        return;
    }
    /* an answer of a new epoch: what the lost window had goes again first */
    fleet_epoch_check(ctx);
    report_track *t = h->track;
    if (t && a->at_ms != r->due_ms) {
        /* the open window moved. Won: this claim froze it, after the batch that preceded
         * it; else another replica's did, before that batch (which the answer shows was
         * applied: it now counts in the open window) */
        if (r == &h->rep[0]) {
            if (a->won)
                totals_set(&t->window_base, &t->n_window_base, t->claim_post, t->n_claim_post);
            else
                totals_set(&t->window_base, &t->n_window_base, t->claim_pre, t->n_claim_pre);
        } else {
            fb_clear(&t->fb_window);
            fb_clear(&t->fb_unacked);
            if (a->won)
                fb_clear(&t->fb_claim);
            else
                fb_move(t->fb_claim, t->fb_window, NULL);
        }
    }
    if (a->at_ms != r->due_ms) {
        /* a new fleet window: what a partial report would cover starts again */
        if (r == &h->rep[0] && ctx->dstats) {
            al_free(h->partial_base);
            h->n_partial_base = al_dstats_collect(ctx->dstats, &h->partial_base);
        } else if (r == &h->rep[1]) {
            al_fallbacks_free(h->partial_fallbacks);
            h->partial_fallbacks = al_fallbacks_new(0);
        }
    }
    r->due_ms = a->at_ms;
    /* again a sync interval after the window's end (every replica has added its counts
     * of the window by then), and meanwhile often enough to take over a window whose
     * claimant died */
    r->ask_ms = a->at_ms + (h->sync_ms > 0 ? h->sync_ms : 1000);
    if (h->takeover_ms > 0 && now + h->takeover_ms < r->ask_ms)
        r->ask_ms = now + h->takeover_ms;
    if (!a->won || report_busy(r, a->gen))
        return;
    int slot = 0;
    while (slot < FLEET_IN_FLIGHT && r->in_flight[slot])
        slot++;
    if (slot == FLEET_IN_FLIGHT)
        return;                     /* ours still; claimed again once one is done */
    int err = ALERT_OK;
    al_alert *rep = r == &h->rep[0] ? daily_of(ctx, a, now, &err) : fallback_of(a, now, &err);
    if (!rep) {
        if (err == ALERT_OK)        /* nothing to say: the window is done */
            al_state_fleet_report_settle(ctx->state, r->name, a->gen, 1);
        return;                     /* no memory: ours still, sent when claimed again */
    }
    char key[96];
    snprintf(key, sizeof key, "health|%s|fleet|%" PRId64, r->name, a->gen);
    rep->settle_key = al_strdup(key);
    rep->idem = report_idem(ctx, r->name, a->anchor, a->gen);
    if (!rep->settle_key || !rep->idem) {
        al_alert_free(rep);
        return;
    }
    r->in_flight[slot] = a->gen + 1;
    al_route_alert(ctx, rep);
}

static void fleet_answer(void *ud, const al_fleet_answer *a)
{
    alert_ctx *ctx = ud;
    if (!ctx->health || !ctx->health->fleet)
        return;
    if (a->kind == AL_FA_REPORT)
        report_answer(ctx, a);
    else
        outage_answer(ctx, a);
}

/* "health|<daily|fallback>|fleet|<gen>": the window is done, or its counters go back
 * to the open one. */
static void fleet_settle(alert_ctx *ctx, const char *key, int ok)
{
    fleet_health *h = ctx->health->fleet;
    int daily = strncmp(key, "health|daily|", 13) == 0;
    int64_t gen = strtoll(strrchr(key, '|') + 1, NULL, 10);
    al_state_fleet_report_settle(ctx->state, daily ? "daily" : "fallback", gen, ok);
    if (!h)
        return;                     /* fleet mode off since (a restored delivery) */
    fleet_report *r = &h->rep[daily ? 0 : 1];
    for (int i = 0; i < FLEET_IN_FLIGHT; i++)
        if (r->in_flight[i] == gen + 1)
            r->in_flight[i] = 0;
}

/* Builds one counter field "<a>\x1f<b>\x1f<c>", then "\x1f<model>" when model is known. */
static char *field_of(const char *a, const char *b, char c, const char *model)
{
    size_t n = strlen(a) + (b ? strlen(b) : 0) + (model ? strlen(model) + 1 : 0) + 5;
    char *s = al_malloc(n);
    if (s)
        snprintf(s, n, "%s" FIELD_SEP "%s" FIELD_SEP "%c%s%s", a, b ? b : "", c,
                 model ? FIELD_SEP : "", model ? model : "");
    return s;
}

typedef struct batch {
    char **fields;
    int64_t *values;
    size_t n, cap;
    int oom;
    al_fallbacks *keep, *keep_too;  /* fallbacks: also counted there (when not NULL) */
} batch;

static void batch_add(batch *b, char *field, uint64_t v)
{
    if (!field || b->oom) {
        b->oom = 1;
        al_free(field);
        return;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        char **f = al_realloc(b->fields, cap * sizeof *f);
        if (f)
            b->fields = f;
        int64_t *x = f ? al_realloc(b->values, cap * sizeof *x) : NULL;
        if (x)
            b->values = x;
        if (!f || !x) {
            b->oom = 1;
            al_free(field);
            return;
        }
        b->cap = cap;
    }
    b->fields[b->n] = field;
    b->values[b->n++] = v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void batch_post(alert_ctx *ctx, batch *b, const char *report)
{
    fleet_health *h = ctx->health->fleet;
    if (b->oom)
        al_ctx_error(ctx, "out of memory: %s report counters were not added to the fleet", report);
    else if (b->n && al_state_fleet_report_add(ctx->state, &h->client, report,
                                               (const char *const *)b->fields, b->values, b->n) != ALERT_OK)
        al_ctx_error(ctx, "out of memory: %s report counters were not added to the fleet", report);
    else if (b->n && h->track) {
        al_fleet_stats st;
        al_state_fleet_stats(ctx->state, &st);
        h->track->posted = 1;
        h->track->posted_round = st.rounds;
    }
    for (size_t i = 0; i < b->n; i++)
        al_free(b->fields[i]);
    al_free(b->fields);
    al_free(b->values);
}

static void take_fallback(void *ud, const char *primary, const char *fallback, uint64_t ok, uint64_t failed)
{
    batch *b = ud;
    if (ok)
        batch_add(b, field_of(primary, fallback, 's', NULL), ok);
    if (failed)
        batch_add(b, field_of(primary, fallback, 'f', NULL), failed);
    if (b->keep)
        al_fallbacks_add_n(b->keep, primary, fallback, ok, failed);
    if (b->keep_too)
        al_fallbacks_add_n(b->keep_too, primary, fallback, ok, failed);
}

/* One daily batch: cur minus base, per deployment (never below 0). */
static void daily_batch(batch *b, const al_dstat_total *cur, size_t n, const al_dstat_total *base,
                        size_t n_base)
{
    static const char what[4] = { 'f', 'r', 'l', 'n' };
    for (size_t i = 0; i < n; i++) {
        const al_dstat_total *o = find(base, n_base, cur[i].deployment);
        uint64_t c[4] = { cur[i].failed, cur[i].requests, cur[i].latency_us_sum, cur[i].latency_n };
        uint64_t z[4] = { o ? o->failed : 0, o ? o->requests : 0, o ? o->latency_us_sum : 0,
                          o ? o->latency_n : 0 };
        for (int k = 0; k < 4; k++)
            if (c[k] > z[k])
                batch_add(b, field_of(cur[i].deployment, cur[i].api_base, what[k], cur[i].model),
                          c[k] - z[k]);
    }
}

/* This replica's counters since the last batch, to the fleet's open windows: daily and
 * fallback each when asked; claim_*: a claim of that report follows in the pipeline. */
static void fleet_flush(alert_ctx *ctx, int daily, int fallback, int claim_daily, int claim_fallback)
{
    al_health *f = ctx->health;
    fleet_health *h = f->fleet;
    report_track *t = track_of(h);
    if (daily && ctx->dstats && al_type_on(ctx, AL_T_DAILY_REPORTS)) {
        al_dstat_total *cur = NULL;
        size_t n = al_dstats_collect(ctx->dstats, &cur);
        batch b = { 0 };
        daily_batch(&b, cur, n, h->flushed, h->n_flushed);
        int oom = b.oom;
        batch_post(ctx, &b, "daily");
        if (!oom || !cur) {
            if (t && claim_daily) {
                totals_set(&t->claim_pre, &t->n_claim_pre, h->flushed, h->n_flushed);
                totals_set(&t->claim_post, &t->n_claim_post, cur, n);
            }
            al_free(h->flushed);
            h->flushed = cur;
            h->n_flushed = n;
        } else {
            al_free(cur);               /* not added: the next batch carries these too */
        }
    }
    if (fallback && al_type_on(ctx, AL_T_FALLBACK_REPORTS)) {
        batch b = { 0 };
        if (t && claim_fallback)
            fb_clear(&t->fb_claim);
        b.keep = t ? t->fb_unacked : NULL;
        b.keep_too = t && claim_fallback ? t->fb_claim : NULL;
        al_fallbacks_take(f->fallbacks, take_fallback, &b);
        batch_post(ctx, &b, "fallback");
    }
}

/* Redis lost its data: this replica's counters of the open windows, as far as Redis had
 * applied them, go again (what it had not applied yet is applied to the new data). */
static void fleet_reseed(alert_ctx *ctx)
{
    fleet_health *h = ctx->health->fleet;
    report_track *t = h->track;
    size_t n = 0;
    if (!t)
        return;
    if (al_type_on(ctx, AL_T_DAILY_REPORTS)) {
        batch b = { 0 };
        daily_batch(&b, t->acked, t->n_acked, t->window_base, t->n_window_base);
        n += b.n;
        batch_post(ctx, &b, "daily");
    }
    if (al_type_on(ctx, AL_T_FALLBACK_REPORTS)) {
        al_fallbacks *again = al_fallbacks_new(0);
        if (again) {
            batch b = { .keep = again };
            al_fallbacks_take(t->fb_window, take_fallback, &b);
            n += b.n;
            batch_post(ctx, &b, "fallback");
            al_fallbacks_free(t->fb_window);
            t->fb_window = again;
        }
    }
    if (n)
        al_ctx_log(ctx, ALERT_LOG_INFO, "fleet: this replica's report counters of the open windows "
                   "were added again (the store started over)");
}

/* Notices a new epoch (re-seeds), else what Redis has surely applied by now: everything
 * posted before a round that began after the post and ended connected (poll mode: the
 * pass ran it), or before a later round (threaded: the coordinator counts a round as it
 * begins; a batch in a round cut short may count twice, never be lost). */
static void fleet_epoch_check(alert_ctx *ctx)
{
    fleet_health *h = ctx->health->fleet;
    report_track *t = track_of(h);
    if (!t)
        return;
    al_fleet_stats st;
    al_state_fleet_stats(ctx->state, &st);
    char epoch[64] = "";
    al_state_fleet_epoch(ctx->state, epoch, sizeof epoch);  /* after the stats: never older */
    if (epoch[0] && strcmp(epoch, t->epoch) != 0) {
        int changed = t->epoch[0] != '\0';
        snprintf(t->epoch, sizeof t->epoch, "%s", epoch);
        if (changed) {
            outage_reseed(ctx);
            fleet_reseed(ctx);
        }
        return;
    }
    if (!t->posted)
        return;
    if (ctx->cfg.worker_threads > 0 ? st.rounds < t->posted_round + 2
                                    : !st.connected || st.rounds <= t->posted_round)
        return;
    t->posted = 0;
    totals_set(&t->acked, &t->n_acked, h->flushed, h->n_flushed);
    fb_move(t->fb_unacked, t->fb_window, NULL);
}

static void fleet_fallback(al_health *f, const al_event *e)
{
    al_fallbacks_add(f->fleet->partial_fallbacks, e->s[AL_ES_MODEL], e->s[AL_ES_DEPLOYMENT], e->status_code);
}

/* Redis away fleet_report_grace past a report's time: this replica's own counts since
 * the fleet last answered, marked partial. */
static void partial_report(alert_ctx *ctx, fleet_report *r, int64_t now)
{
    fleet_health *h = ctx->health->fleet;
    int err = ALERT_OK;
    al_alert *a = NULL;
    if (r == &h->rep[0]) {
        al_dstat_total *cur = NULL;
        size_t n = ctx->dstats ? al_dstats_collect(ctx->dstats, &cur) : 0;
        al_deploy_totals *v = n ? al_calloc(n, sizeof *v) : NULL;
        for (size_t i = 0; v && i < n; i++) {
            const al_dstat_total *b = find(h->partial_base, h->n_partial_base, cur[i].deployment);
            v[i].deployment = cur[i].deployment;
            v[i].api_base = cur[i].api_base;
            v[i].model = cur[i].model;
            v[i].failed = cur[i].failed - (b ? b->failed : 0);
            v[i].requests = cur[i].requests - (b ? b->requests : 0);
            v[i].latency_sum_s = (double)(cur[i].latency_us_sum - (b ? b->latency_us_sum : 0)) / 1e6;
            v[i].latency_count = cur[i].latency_n - (b ? b->latency_n : 0);
        }
        a = v ? al_daily_report(v, n, now, ctx->cfg.daily_report_frequency, &err) : NULL;
        al_free(v);
        if (cur) {
            al_free(h->partial_base);
            h->partial_base = cur;
            h->n_partial_base = n;
        }
    } else {
        a = al_fallbacks_report(h->partial_fallbacks, now, &err);
        al_fallbacks_free(h->partial_fallbacks);
        h->partial_fallbacks = al_fallbacks_new(0);
    }
    if (!a)
        return;
    char *marked = NULL;
    const char *mark = "\n\n_Partial report: this replica's counts only (the fleet's store was "
                       "unreachable)._";
    if (a->message && (marked = al_malloc(strlen(a->message) + strlen(mark) + 1))) {
        strcpy(marked, a->message);
        strcat(marked, mark);
        al_free(a->message);
        a->message = marked;
    }
    if (a->plain && (marked = al_malloc(strlen(a->plain) + strlen(mark) + 1))) {
        strcpy(marked, a->plain);
        strcat(marked, mark);
        al_free(a->plain);
        a->plain = marked;
    }
    al_ctx_log(ctx, ALERT_LOG_WARNING, "fleet: Redis unreachable past fleet_report_grace: this replica "
               "sends its own partial %s report", r->name);
    al_route_alert(ctx, a);
}

static void fleet_tick(alert_ctx *ctx, int64_t now)
{
    fleet_health *h = ctx->health->fleet;
    outage_flush(ctx, now);
    outage_tick(ctx, now);
    int ask = 0;
    for (int i = 0; i < FLEET_REPORTS; i++) {
        fleet_report *r = &h->rep[i];
        if (al_type_on(ctx, r->type) && !r->asking && now >= r->ask_ms)
            ask = 1;
    }
    fleet_epoch_check(ctx);
    /* counters go before a claim (one pipeline, in order), else once per sync interval;
     * not from when the replicas claim the open window until this one's claim is
     * answered (a batch's window is then the one its claim answers), nor while Redis is
     * away (the counters wait here, whole) */
    int claims[FLEET_REPORTS] = { 0 }, flush[FLEET_REPORTS] = { 0 };
    int64_t sync_ms = h->sync_ms > 0 ? h->sync_ms : 1000;
    int sync = now - h->flush_ms >= sync_ms;
    for (int i = 0; i < FLEET_REPORTS; i++) {
        fleet_report *r = &h->rep[i];
        claims[i] = al_type_on(ctx, r->type) && !r->asking && now >= r->ask_ms;
        flush[i] = claims[i] || (sync && now < r->due_ms + sync_ms);
    }
    if ((ask || sync) && al_state_fleet_up(ctx->state)) {
        fleet_flush(ctx, flush[0], flush[1], claims[0], claims[1]);
        h->flush_ms = now;
    }
    int64_t period = (int64_t)(ctx->cfg.daily_report_frequency * 1000.0);
    for (int i = 0; i < FLEET_REPORTS; i++) {
        fleet_report *r = &h->rep[i];
        if (!al_type_on(ctx, r->type))
            continue;
        if (!r->asking && now >= r->ask_ms &&
            al_state_fleet_report_claim(ctx->state, &h->client, r->name, now, period) == ALERT_OK)
            r->asking = 1;
        if (!al_state_fleet_up(ctx->state) && now >= r->due_ms + h->grace_ms) {
            r->due_ms += period > 0 ? period : 1;   /* one partial report per period away */
            partial_report(ctx, r, now);
        }
    }
}
