#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "ctx.h"
#include "dstats.h"
#include "ops.h"
#include "outage.h"
#include "dest.h"
#include "reports.h"
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
};

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
        break;
    case AL_EV_FALLBACK:
        if (al_fallbacks_add(f->fallbacks, e->s[AL_ES_MODEL], e->s[AL_ES_DEPLOYMENT], e->status_code) ==
            ALERT_ERR_FULL)
            al_ctx_log(ctx, ALERT_LOG_WARNING, "fallback report: too many model pairs; one not counted");
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
    if (strncmp(key, "health|daily|", 13) == 0)
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
        for (size_t i = 0; i < n; i++)
            if (v[i]->resolved && !ctx->cfg.send_resolved)
                v[i]->only = AL_DEST_BIT(AL_DEST_ALERTMANAGER);  /* ends its episode there only */
        al_route_alerts(ctx, v, n);
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
