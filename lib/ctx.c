/* SPDX-License-Identifier: MIT */
/* alert_ctx: creation, the worker (thread or alert_poll), flush, shutdown. */
#include "ctx.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fingerprint.h"
#include "gate.h"
#include "health.h"
#include "latency.h"
#include "money.h"
#include "outbox.h"
#include "route.h"
#include "sign.h"

/* a configuration alert_ctx_reconfigure replaced, kept until destroy */
struct al_retired_cfg {
    struct al_retired_cfg *next;
    alert_config cfg;
};

#define DRAIN_BATCH 4096
#define MAX_WAIT_MS 100

static int64_t mono_ms(void)
{
    return al_clock_ms(CLOCK_MONOTONIC);
}

void al_ctx_wake(alert_ctx *ctx)
{
    if (ctx->threaded)
        al_outbox_wakeup(ctx->outbox);
}

/* Request starts queued by the hooks go into the timer wheel, unless they already
 * ended (then there is nothing to watch). The hooks stamp wall-clock times; to_mono
 * moves them onto the worker's clock, so that a step of the wall clock neither
 * delays nor hastens a hanging alert. */
static void drain_starts(alert_ctx *ctx, int64_t to_mono)
{
    size_t n;
    do {
        n = al_inflight_drain(ctx->inflight, ctx->drain_buf, ctx->drain_cap);
        for (size_t i = 0; i < n; i++) {
            const al_start_ev *e = &ctx->drain_buf[i];
            al_slot *s = al_inflight_slot(ctx->inflight, e->idx);
            uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);
            if (w != ((uint64_t)e->gen << 32 | AL_SLOT_ACTIVE))
                continue;
            int64_t start = al_sat_add(e->start_ms, to_mono);
            if (al_wheel_add(ctx->wheel, e->idx, e->gen, al_sat_add(start, ctx->threshold_ms)) != ALERT_OK)
                al_ctx_error(ctx, "out of memory: a request is not watched for hanging");
            if (ctx->wheel_pd &&
                al_wheel_add(ctx->wheel_pd, e->idx, e->gen,
                             al_sat_add(start, (int64_t)(ctx->cfg.hanging_threshold_seconds * 1000.0))) != ALERT_OK)
                al_ctx_error(ctx, "out of memory: a request is not watched for PagerDuty");
        }
    } while (n == ctx->drain_cap);
}

/* Each event to the module that owns its kind. */
static void dispatch(alert_ctx *ctx, const al_event *e)
{
    switch (e->kind) {
    case AL_EV_SLOW:
    case AL_EV_HANG_RESOLVED:
    case AL_EV_EMIT:
        al_latency_on_event(ctx, e);
        break;
    case AL_EV_FAILURE:             /* an exception alert, and a point for the outages */
        al_latency_on_event(ctx, e);
        al_health_on_event(ctx, e);
        break;
    case AL_EV_DB_ERROR:
    case AL_EV_COOLDOWN:
    case AL_EV_FALLBACK:
    case AL_EV_MGMT:
        al_health_on_event(ctx, e);
        break;
    case AL_EV_SPEND:
    case AL_EV_BUDGET:
    case AL_EV_SET_BUDGET:
    case AL_EV_TRACKING_FAILURE:
        al_money_on_event(ctx, e);
        break;
    case AL_EV_TEST:
        al_route_send_test(ctx, e->s[AL_ES_ALERT_TYPE]);
        break;
    }
}

static int reconfigure_apply(alert_ctx *ctx, const alert_config *cfg, alert_error *err);

/* alert_ctx_reconfigure with a worker thread: the worker applies the request between
 * two passes, so nothing it owns changes under it. */
static void serve_reconfigure(alert_ctx *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    const alert_config *cfg = ctx->reconf_cfg;
    alert_error *err = ctx->reconf_err;
    uint64_t ticket = ctx->reconf_requested;
    pthread_mutex_unlock(&ctx->lock);
    if (!cfg || ticket == ctx->reconf_done)
        return;
    int rc = reconfigure_apply(ctx, cfg, err);
    pthread_mutex_lock(&ctx->lock);
    ctx->reconf_rc = rc;
    ctx->reconf_cfg = NULL;
    ctx->reconf_done = ticket;
    pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->lock);
}

static void worker_pass(alert_ctx *ctx, int force)
{
    atomic_store(&ctx->worker_busy, 1);
    /* durations run on the worker's clock, calendars and texts on the wall clock */
    int64_t wall = al_ctx_now(ctx);
    int64_t now = al_ctx_mono(ctx);
    al_state_begin(ctx->state);         /* one commit for everything this pass writes */
    al_state_round(ctx->state, now);    /* fleet mode: the answers of the last rounds */
    al_gate_tick(ctx, now);
    drain_starts(ctx, wall >= 0 ? now - wall : 0);
    al_wheel_advance(ctx->wheel, now, al_latency_on_due, ctx);
    if (ctx->wheel_pd)
        al_wheel_advance(ctx->wheel_pd, now, al_latency_on_pd_due, ctx);
    al_event *e = al_evqueue_take_all(&ctx->events);
    while (e) {
        al_event *next = e->next;
        dispatch(ctx, e);
        al_event_free(&ctx->events, e);
        e = next;
    }
    if (wall >= 0) {                    /* a negative injected clock is logged by al_ctx_mono */
        al_health_tick(ctx, wall);
        al_money_tick(ctx, wall);
    }
    al_route_tick(ctx, now, 0);
    al_outbox_run(ctx->outbox, now, force);
    al_state_round_end(ctx->state, now);    /* poll mode: what this pass posted, when due */
    if (al_state_commit(ctx->state) != ALERT_OK)
        al_ctx_error(ctx, "state_path: could not save this pass (%s)", al_state_last_error(ctx->state));
    atomic_store(&ctx->worker_busy, 0);
}

static int wait_ms_for(alert_ctx *ctx)
{
    int64_t wait = MAX_WAIT_MS;
    if (al_wheel_tick(ctx->wheel) < wait)
        wait = al_wheel_tick(ctx->wheel);
    int64_t due = al_outbox_next_due(ctx->outbox);
    if (due != INT64_MAX) {
        int64_t d = due - al_ctx_mono(ctx);
        if (d < wait)
            wait = d < 0 ? 0 : d;
    }
    return (int)wait;
}

static void *worker_main(void *arg)
{
    alert_ctx *ctx = arg;
    for (;;) {
        pthread_mutex_lock(&ctx->lock);
        int stop = ctx->stopping;
        uint64_t want = ctx->flush_requested;
        int force = want > ctx->flush_done;
        pthread_mutex_unlock(&ctx->lock);
        if (stop)
            break;
        serve_reconfigure(ctx);
        worker_pass(ctx, force);
        if (force && al_outbox_idle(ctx->outbox, al_ctx_mono(ctx))) {
            pthread_mutex_lock(&ctx->lock);
            ctx->flush_done = want;
            pthread_cond_broadcast(&ctx->cond);
            pthread_mutex_unlock(&ctx->lock);
            continue;
        }
        al_outbox_wait(ctx->outbox, force ? 5 : wait_ms_for(ctx));
    }
    return NULL;
}

/* Runs passes until nothing is due or timeout_ms of real time went by. */
static int drive_until_idle(alert_ctx *ctx, int64_t timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    al_outbox_set_deadline(ctx->outbox, timeout_ms);
    for (;;) {
        worker_pass(ctx, 1);
        if (al_outbox_idle(ctx->outbox, al_ctx_mono(ctx)) && !al_gate_count(ctx->gate)) {
            al_outbox_set_deadline(ctx->outbox, -1);
            return ALERT_OK;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0 || al_outbox_past_deadline(ctx->outbox)) {
            al_outbox_set_deadline(ctx->outbox, -1);
            return ALERT_ERR_TIMEOUT;
        }
        al_outbox_wait(ctx->outbox, (int)(left < 50 ? left : 50));
    }
}

/* Shutdown: also waits for what is throttled or backing off, if its time comes
 * within the timeout (real time; an injected clock that stands still never does). */
static void drive_until_empty(alert_ctx *ctx, int64_t timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        worker_pass(ctx, 1);
        if (atomic_load(&ctx->n.queue_depth) == 0)
            return;
        int64_t left = deadline - mono_ms();
        if (left <= 0 || al_outbox_past_deadline(ctx->outbox))
            return;
        int64_t wait = al_outbox_next_due(ctx->outbox) - al_ctx_mono(ctx);
        if (al_outbox_inflight(ctx->outbox) || wait > left || wait < 1)
            wait = left;
        al_outbox_wait(ctx->outbox, (int)(wait < 50 ? wait : 50));
    }
}

/* the environment as the config sees it: its environment_variables, then the process's */
static void resolve_env(const alert_config *c, char **field, const char *name)
{
    if (*field)
        return;
    const char *v = al_config_getenv(c, name);
    if (v && *v)
        *field = al_strdup(v);
}

static void resolve_targets(alert_config *c)
{
    resolve_env(c, &c->slack_webhook_url, "SLACK_WEBHOOK_URL");
    resolve_env(c, &c->slack_webhook_url, "ALERTING_WEBHOOK_URL");
    resolve_env(c, &c->discord_webhook_url, "DISCORD_WEBHOOK_URL");
    resolve_env(c, &c->ms_teams_webhook_url, "MS_TEAMS_WEBHOOK_URL");
    resolve_env(c, &c->webhook_url, "WEBHOOK_URL");
    resolve_env(c, &c->alertmanager_url, "ALERTMANAGER_URL");
    resolve_env(c, &c->pagerduty_api_key, "PAGERDUTY_API_KEY");
    resolve_env(c, &c->pagerduty_url, "PAGERDUTY_URL");
    resolve_env(c, &c->smtp_host, "SMTP_HOST");
    resolve_env(c, &c->smtp_port, "SMTP_PORT");
    resolve_env(c, &c->smtp_tls, "SMTP_TLS");
    resolve_env(c, &c->smtp_username, "SMTP_USERNAME");
    resolve_env(c, &c->smtp_password, "SMTP_PASSWORD");
    resolve_env(c, &c->smtp_sender_email, "SMTP_SENDER_EMAIL");
    resolve_env(c, &c->proxy_base_url, "PROXY_BASE_URL");
    al_config_env_defaults(c);
}

/* ---- shared state: memory, or sqlite (state_path), and Redis in fleet mode ---- */

static char *env_dup(const alert_config *c, const char *name)
{
    const char *v = al_config_getenv(c, name);
    return v && *v ? al_strdup(v) : NULL;
}

static void fleet_log(void *ud, int level, const char *msg)
{
    al_ctx_log(ud, level, "%s", msg);
}

static void fleet_conf_free(al_fleet_conf *f)
{
    al_free(f->host);
    al_free(f->username);
    al_free(f->password);
}

/* From the fleet's coordinator thread: answers wait for the worker. */
static void fleet_wake(void *outbox)
{
    al_outbox_wakeup(outbox);
}

/* A Sentinel or Cluster under fleet: auto: single-process, said once (never the value). */
static void fleet_unsupported(alert_ctx *ctx, const char *key, const char *why)
{
    al_ctx_log(ctx, ALERT_LOG_WARNING, "fleet: %s %s: this replica runs single-process "
               "(fleet: auto; fleet: false silences this)", key, why);
}

/* Where the fleet's Redis is, first match wins (FLEET.md): redis_url, then
 * litellm_settings.cache_params (type: redis), then REDIS_URL, then REDIS_HOST (+
 * REDIS_PORT, REDIS_PASSWORD, REDIS_USERNAME, REDIS_DB). 0: none; -1: malformed; 2: a
 * Sentinel or Cluster, not supported yet (*key and *why say which and why, never the
 * value: it may hold a password). A cache_params or REDIS_HOST Redis is a Cluster or a
 * Sentinel when REDIS_CLUSTER_NODES or REDIS_SENTINEL_NODES is set, as LiteLLM reads
 * them; a URL is what it says. */
static int fleet_address(const alert_config *c, al_fleet_conf *f, const char **key, const char **why)
{
    char *url = NULL;
    const char *topology = NULL;
    *key = NULL;
    if (c->redis_url) {
        *key = "redis_url";
        url = al_strdup(c->redis_url);
    } else if (c->cache_redis && c->cache_redis_topology) {
        *key = c->cache_redis_topology;
        topology = strstr(*key, "startup_nodes") ? "Cluster" : "Sentinel";
    } else if (c->cache_redis && (c->cache_redis_host || c->cache_redis_port)) {
        *key = "litellm_settings.cache_params";
        f->host = al_strdup(c->cache_redis_host ? c->cache_redis_host : "127.0.0.1");
        f->port = c->cache_redis_port ? atoi(c->cache_redis_port) : 6379;
        f->password = c->cache_redis_password ? al_strdup(c->cache_redis_password) : NULL;
        f->username = c->cache_redis_username ? al_strdup(c->cache_redis_username) : NULL;
        f->db = c->cache_redis_db ? atoi(c->cache_redis_db) : 0;
    } else if ((url = env_dup(c, "REDIS_URL"))) {
        *key = "REDIS_URL";
    } else if (al_config_getenv(c, "REDIS_HOST") && *al_config_getenv(c, "REDIS_HOST")) {
        *key = "REDIS_HOST";
        f->host = env_dup(c, "REDIS_HOST");
        f->port = al_config_getenv(c, "REDIS_PORT") ? atoi(al_config_getenv(c, "REDIS_PORT")) : 6379;
        f->password = env_dup(c, "REDIS_PASSWORD");
        f->username = env_dup(c, "REDIS_USERNAME");
        f->db = al_config_getenv(c, "REDIS_DB") ? atoi(al_config_getenv(c, "REDIS_DB")) : 0;
    } else if (al_config_getenv(c, "REDIS_CLUSTER_NODES") && *al_config_getenv(c, "REDIS_CLUSTER_NODES")) {
        *key = "REDIS_CLUSTER_NODES";
        topology = "Cluster";
    } else if (al_config_getenv(c, "REDIS_SENTINEL_NODES") && *al_config_getenv(c, "REDIS_SENTINEL_NODES")) {
        *key = "REDIS_SENTINEL_NODES";
        topology = "Sentinel";
    } else {
        return 0;
    }
    if (f->host) {                      /* cache_params or REDIS_HOST: LiteLLM's env may say more */
        const char *env = al_config_getenv(c, "REDIS_CLUSTER_NODES");
        if (env && *env) {
            *key = "REDIS_CLUSTER_NODES";
            topology = "Cluster";
        } else if ((env = al_config_getenv(c, "REDIS_SENTINEL_NODES")) && *env) {
            *key = "REDIS_SENTINEL_NODES";
            topology = "Sentinel";
        }
    }
    if (url && !topology)
        topology = al_redis_url_topology(url);
    if (topology) {
        al_free(url);
        *why = strcmp(topology, "Cluster") == 0
                   ? "names a Redis Cluster, which fleet mode does not support yet"
                   : "names a Redis Sentinel, which fleet mode does not support yet";
        return 2;
    }
    if (url) {
        int rc = al_redis_parse_url(url, f, why);
        al_free(url);
        return rc == ALERT_OK ? 1 : -1;
    }
    if (!f->host || f->port < 1 || f->port > 65535) {
        *why = "has no host or a port out of 1..65535";
        return -1;
    }
    return 1;
}

static int open_state(alert_ctx *ctx, alert_error *err)
{
    const alert_config *c = &ctx->cfg;
    int rc;
    al_state *local = NULL;
    if (c->state_path) {
        char why[256] = "";
        rc = al_state_open_sqlite(&local, c->state_path, why, sizeof why);
        if (rc != ALERT_OK)
            return al_error_set(err, rc, "state_path", 0, 0, "%s", why);
    } else if ((rc = al_state_open_mem(&local)) != ALERT_OK) {
        return al_error_set(err, rc, "alert_ctx_create", 0, 0, "out of memory");
    }
    ctx->state = local;
    if (c->fleet == AL_FLEET_OFF)
        return ALERT_OK;
    al_fleet_conf f;
    memset(&f, 0, sizeof f);
    const char *key = NULL, *why = NULL;
    int found = fleet_address(c, &f, &key, &why);
    if (found < 0 || (found == 2 && c->fleet == AL_FLEET_ON)) {
        fleet_conf_free(&f);
        return al_error_set(err, ALERT_ERR_CONFIG, key, 0, 0, "%s %s", key, why);
    }
    if (found == 2) {
        fleet_conf_free(&f);
        fleet_unsupported(ctx, key, why);
        return ALERT_OK;
    }
    if (!found) {
        if (c->fleet == AL_FLEET_ON)
            return al_error_set(err, ALERT_ERR_CONFIG, "fleet", 0, 0, "fleet: true needs a Redis: "
                                "redis_url, litellm_settings.cache_params, REDIS_URL or REDIS_HOST");
        return ALERT_OK;
    }
    char nonce[9];
    if (al_random_hex(nonce, 4) != 0)
        snprintf(nonce, sizeof nonce, "%08x", (unsigned)((uintptr_t)ctx >> 4));
    snprintf(ctx->instance_id, sizeof ctx->instance_id, "%s#%s", ctx->instance, nonce);
    f.name = c->fleet_name ? c->fleet_name : "default";
    f.instance = ctx->instance_id;
    f.sync_ms = (int64_t)(c->fleet_sync_interval * 1000.0);
    f.timeout_ms = (int64_t)(c->fleet_timeout * 1000.0);
    f.claim_ms = (int64_t)(c->fleet_claim_timeout * 1000.0);
    f.takeover_ms = (int64_t)(c->fleet_takeover_after * 1000.0);
    f.threaded = c->worker_threads > 0;
    f.log = fleet_log;
    f.log_ud = ctx;
    al_config_fingerprint(c, f.fingerprint);
    if (f.sync_ms < 1)
        f.sync_ms = 1;
    if (f.timeout_ms < 1)
        f.timeout_ms = 1;
    ctx->state = NULL;
    rc = al_state_open_redis(&ctx->state, local, &f);
    fleet_conf_free(&f);
    if (rc != ALERT_OK)
        return al_error_set(err, rc, "alert_ctx_create", 0, 0, "out of memory");
    if ((rc = al_gate_new(&ctx->gate)) != ALERT_OK)
        return al_error_set(err, rc, "alert_ctx_create", 0, 0, "out of memory");
    return ALERT_OK;
}

/* alert_config_check: what open_state would refuse, without opening anything. The
 * state_path is only looked at (access(2)); the fleet's Redis address is parsed, not
 * dialled; the modules that load from the state get an empty memory store. */
static int check_state(alert_ctx *ctx, alert_error *err)
{
    const alert_config *c = &ctx->cfg;
    if (c->state_path) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", c->state_path);
        char *slash = strrchr(dir, '/');
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
        int bad = access(c->state_path, F_OK) == 0 ? access(c->state_path, R_OK | W_OK)
                                                   : access(dir, W_OK | X_OK);
        if (bad != 0)
            return al_error_set(err, ALERT_ERR_IO, "state_path", 0, 0, "cannot open %s: %s",
                                c->state_path, strerror(errno));
    }
    if (c->fleet != AL_FLEET_OFF) {
        al_fleet_conf f;
        memset(&f, 0, sizeof f);
        const char *key = NULL, *why = NULL;
        int found = fleet_address(c, &f, &key, &why);
        fleet_conf_free(&f);
        if (found < 0 || (found == 2 && c->fleet == AL_FLEET_ON))
            return al_error_set(err, ALERT_ERR_CONFIG, key, 0, 0, "%s %s", key, why);
        if (found == 2)
            fleet_unsupported(ctx, key, why);      /* what create will say */
        if (!found && c->fleet == AL_FLEET_ON)
            return al_error_set(err, ALERT_ERR_CONFIG, "fleet", 0, 0, "fleet: true needs a Redis: "
                                "redis_url, litellm_settings.cache_params, REDIS_URL or REDIS_HOST");
    }
    int rc = al_state_open_mem(&ctx->state);
    if (rc != ALERT_OK)
        return al_error_set(err, rc, "alert_config_check", 0, 0, "out of memory");
    return ALERT_OK;
}

static int64_t wheel_tick_ms(int64_t threshold_ms)
{
    /* tick <= 1 s and <= threshold / 100: a hanging alert is at most one tick late */
    int64_t t = threshold_ms / 100;
    if (t > 1000)
        t = 1000;
    return t < 1 ? 1 : t;
}

static void ctx_free(alert_ctx *ctx)
{
    al_state_fleet_wake(ctx->state, NULL, NULL);   /* no wake-up reaches the outbox freed */
    /* the outbox and the digests hold alerts whose settling reaches health and money */
    al_gate_free(ctx, ctx->gate);
    al_outbox_free(ctx->outbox);
    al_routes_free(ctx->routes);
    al_health_free(ctx->health);
    ctx->health = NULL;
    al_money_free(ctx->money);
    ctx->money = NULL;
    al_state_close(ctx->state);
    al_wheel_free(ctx->wheel);
    al_wheel_free(ctx->wheel_pd);
    al_pdwindow_free(&ctx->pd_failures);
    al_pdwindow_free(&ctx->pd_hanging);
    al_inflight_free(ctx->inflight);
    al_intern_free(ctx->intern);
    al_dstats_free(ctx->dstats);
    while (ctx->retired) {
        struct al_retired_cfg *next = ctx->retired->next;
        al_config_release(&ctx->retired->cfg);
        al_free(ctx->retired);
        ctx->retired = next;
    }
    al_evqueue_destroy(&ctx->events);
    al_free(ctx->drain_buf);
    pthread_cond_destroy(&ctx->cond);
    pthread_mutex_destroy(&ctx->lock);
    al_config_release(&ctx->cfg);
    al_free(ctx);
    alert_global_cleanup();
}

/* alert_ctx_create, or with check_only its checks alone (alert_config_check): no
 * state file, no spool replay, no worker thread; the ctx is freed before returning. */
static int ctx_build(alert_ctx **out, const alert_config *cfg, alert_error *err, int check_only)
{
    if (!out || !cfg)
        return al_error_set(err, ALERT_ERR_INVALID, "alert_ctx_create", 0, 0,
                            "out and cfg must not be NULL");
    *out = NULL;
    int rc = alert_global_init();
    if (rc != ALERT_OK)
        return al_error_set(err, rc, "alert_ctx_create", 0, 0, "libcurl global init failed");
    alert_ctx *ctx = al_calloc(1, sizeof *ctx);
    if (!ctx) {
        alert_global_cleanup();
        return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_create", 0, 0, "out of memory");
    }
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ctx->cond, &ca);
    pthread_condattr_destroy(&ca);
    al_evqueue_init(&ctx->events, 1);
    if (al_config_copy(&ctx->cfg, cfg) != ALERT_OK) {
        ctx_free(ctx);
        return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_create", 0, 0, "out of memory");
    }
    alert_config *c = &ctx->cfg;
    if (c->clock_fn) {
        int64_t t0 = c->clock_fn(c->clock_ud);
        if (t0 < 0) {
            ctx_free(ctx);
            return al_error_set(err, ALERT_ERR_CONFIG, "alert_ctx_create", 0, 0,
                                "the injected clock returned a negative time (%lld ms): it must "
                                "return milliseconds since the Unix epoch", (long long)t0);
        }
        ctx->mono_last = t0;
    } else {
        ctx->mono_base = al_clock_ms(CLOCK_REALTIME_COARSE) - al_clock_ms(CLOCK_MONOTONIC_COARSE);
    }
    resolve_targets(c);
    ctx->events.max = (size_t)c->event_queue_size;
    ctx->threshold_ms = (int64_t)(c->alerting_threshold * 1000.0);
    ctx->send_resolved = c->send_resolved != 0;
    ctx->redact_messages = c->redact_messages != 0;
    ctx->max_inflight = c->max_inflight;
    ctx->alerting_on = c->alerting.n > 0;
    ctx->enabled = ctx->alerting_on ? c->alert_types : 0;
    if (c->instance_name)
        snprintf(ctx->instance, sizeof ctx->instance, "%s", c->instance_name);
    else if (gethostname(ctx->instance, sizeof ctx->instance - 1) != 0)
        snprintf(ctx->instance, sizeof ctx->instance, "unknown");

    ctx->fmt.proxy_base_url = c->proxy_base_url;
    ctx->fmt.instance = ctx->instance;
    ctx->fmt.alertmanager_resolve_after_s = c->alertmanager_resolve_after;
    ctx->drain_cap = DRAIN_BATCH;
    ctx->drain_buf = al_malloc(DRAIN_BATCH * sizeof *ctx->drain_buf);
    ctx->inflight = al_inflight_new((uint64_t)c->max_inflight, (uint64_t)c->event_queue_size);
    ctx->intern = al_intern_new(16384);
    if (al_type_on(ctx, AL_T_DAILY_REPORTS))
        ctx->dstats = al_dstats_new(AL_DSTATS_PER_STRIPE);
    ctx->wheel = al_wheel_new(wheel_tick_ms(ctx->threshold_ms), 4096,
                              (uint32_t)(((uint64_t)c->max_inflight + AL_CHUNK_SLOTS - 1) / AL_CHUNK_SLOTS));
    ctx->outbox = al_outbox_new(ctx);
    if (!ctx->drain_buf || !ctx->inflight || !ctx->intern || !ctx->wheel || !ctx->outbox ||
        (al_type_on(ctx, AL_T_DAILY_REPORTS) && !ctx->dstats)) {
        ctx_free(ctx);
        return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_create", 0, 0, "out of memory");
    }
    /* fleet mode, worker thread: answers wake the worker rather than wait for its timer */
    if (c->worker_threads > 0)
        al_state_fleet_wake(ctx->state, fleet_wake, ctx->outbox);
    for (size_t i = 0; i < c->alerting.n; i++)
        if (strcmp(c->alerting.items[i], "pagerduty") == 0)
            ctx->pagerduty_on = 1;
    if (ctx->pagerduty_on) {
        uint32_t chunks = (uint32_t)(((uint64_t)c->max_inflight + AL_CHUNK_SLOTS - 1) / AL_CHUNK_SLOTS);
        ctx->wheel_pd = al_wheel_new(wheel_tick_ms((int64_t)(c->hanging_threshold_seconds * 1000.0)),
                                     4096, chunks);
        if (!ctx->wheel_pd ||
            al_pdwindow_init(&ctx->pd_failures, c->failure_threshold,
                             (int64_t)(c->failure_threshold_window_seconds * 1000.0)) != ALERT_OK ||
            al_pdwindow_init(&ctx->pd_hanging, c->hanging_threshold_fails,
                             (int64_t)(c->hanging_threshold_window_seconds * 1000.0)) != ALERT_OK) {
            ctx_free(ctx);
            return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_create", 0, 0, "out of memory");
        }
    }
    rc = al_routes_build(ctx, err);
    if (rc != ALERT_OK) {
        ctx_free(ctx);
        return rc;
    }
    rc = check_only ? check_state(ctx, err) : open_state(ctx, err);
    if (rc != ALERT_OK) {
        ctx_free(ctx);
        return rc;
    }
    if (al_state_fleet(ctx->state))
        ctx->fmt.fleet = ctx->cfg.fleet_name ? ctx->cfg.fleet_name : "default";
    al_state_begin(ctx->state);
    rc = al_money_new(ctx, &ctx->money);
    al_state_commit(ctx->state);
    if (rc != ALERT_OK) {
        ctx_free(ctx);
        return al_error_set(err, rc, "alert_ctx_create", 0, 0, "out of memory");
    }
    rc = al_health_new(ctx, &ctx->health);
    if (rc != ALERT_OK) {
        ctx_free(ctx);
        return al_error_set(err, rc, "alert_ctx_create", 0, 0, "%s",
                            rc == ALERT_ERR_NOMEM ? "out of memory" : "outage thresholds out of range");
    }
    /* last: replayed deliveries may settle marks of the budgets loaded above */
    if (!check_only && (rc = al_outbox_replay(ctx->outbox)) != ALERT_OK) {
        al_error_set(err, rc, "state_path", 0, 0, "%s", al_state_last_error(ctx->state));
        ctx_free(ctx);
        return rc;
    }
    if (c->insecure_skip_verify)
        al_ctx_log(ctx, ALERT_LOG_WARNING,
                   "insecure_skip_verify is on: TLS certificates of alert targets are NOT verified");
    if (check_only) {
        ctx_free(ctx);
        return ALERT_OK;
    }
    ctx->threaded = c->worker_threads > 0;
    if (ctx->threaded && pthread_create(&ctx->thread, NULL, worker_main, ctx) != 0) {
        ctx->threaded = 0;
        ctx_free(ctx);
        return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_create", 0, 0,
                            "could not start the worker thread");
    }
    *out = ctx;
    return ALERT_OK;
}

int alert_ctx_create(alert_ctx **out, const alert_config *cfg, alert_error *err)
{
    return ctx_build(out, cfg, err, 0);
}

int alert_config_check(const alert_config *cfg, alert_error *err)
{
    if (!cfg)
        return al_error_set(err, ALERT_ERR_INVALID, "alert_config_check", 0, 0, "cfg must not be NULL");
    alert_ctx *scratch = NULL;
    return ctx_build(&scratch, cfg, err, 1);
}

/* ---- alert_ctx_reconfigure ---- */

/* Keys that cannot change on a running context: what was opened or sized at create
 * (the store, the thread, the tables, the fleet), and what the outage, budget and
 * report modules read once at create. */
static const char *const fixed_keys[] = {
    "state_path", "worker_threads", "max_inflight", "event_queue_size",
    "fleet", "redis_url", "fleet_name", "fleet_sync_interval", "fleet_timeout",
    "fleet_claim_timeout", "fleet_takeover_after", "fleet_report_grace", "fleet_rate_limits",
    "outage_alert_ttl", "region_outage_alert_ttl", "minor_outage_alert_threshold",
    "major_outage_alert_threshold", "max_tracked_deployments", "daily_report_frequency",
    "budget_alert_thresholds", "spend_report_frequency", "spend_anomaly_baseline_days",
    "user_spend_check_interval",
};
/* PagerDuty's aggregate windows: fixed while pagerduty stays a destination */
static const char *const pagerduty_keys[] = {
    "failure_threshold", "failure_threshold_window_seconds", "hanging_threshold_seconds",
    "hanging_threshold_fails", "hanging_threshold_window_seconds",
};

/* A key's effective value (alert_config_get), al_malloc'ed; NULL: out of memory or
 * not a key alert_config_get knows. */
static char *key_text(const alert_config *c, const char *key)
{
    size_t need = 0;
    char small[256];
    int rc = alert_config_get(c, key, small, sizeof small, &need);
    if (rc == ALERT_OK)
        return al_strdup(small);
    if (rc != ALERT_ERR_FULL)
        return NULL;
    char *big = al_malloc(need);
    if (big && alert_config_get(c, key, big, need, &need) != ALERT_OK) {
        al_free(big);
        return NULL;
    }
    return big;
}

/* 1 when key differs, 0 when it is the same, -1 out of memory. */
static int key_changed(const alert_config *a, const alert_config *b, const char *key)
{
    char *x = key_text(a, key), *y = key_text(b, key);
    int rc = (!x || !y) ? -1 : strcmp(x, y) != 0;
    al_free(x);
    al_free(y);
    return rc;
}

static int str_changed(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* budgets and rate_limits, which alert_config_get does not print */
static int lists_changed(const alert_config *a, const alert_config *b, const char **key)
{
    *key = "budgets";
    if (a->n_budgets != b->n_budgets)
        return 1;
    for (size_t i = 0; i < a->n_budgets; i++) {
        const al_budget_decl *x = &a->budgets[i], *y = &b->budgets[i];
        if (x->entity != y->entity || str_changed(x->id, y->id) || x->max_budget != y->max_budget ||
            x->soft_budget != y->soft_budget || str_changed(x->budget_duration, y->budget_duration))
            return 1;
    }
    *key = "rate_limits";
    if (a->n_rate_limits != b->n_rate_limits)
        return 1;
    for (size_t i = 0; i < a->n_rate_limits; i++)
        if (str_changed(a->rate_limits[i].destination, b->rate_limits[i].destination) ||
            str_changed(a->rate_limits[i].spec, b->rate_limits[i].spec))
            return 1;
    return 0;
}

static int has_pagerduty(const alert_config *c)
{
    for (size_t i = 0; i < c->alerting.n; i++)
        if (strcmp(c->alerting.items[i], "pagerduty") == 0)
            return 1;
    return 0;
}

static int refuse_key(alert_error *err, const char *key)
{
    return al_error_set(err, ALERT_ERR_CONFIG, key, 0, 0, "%s cannot change on a running context "
                        "(alert_ctx_reconfigure): recreate the context to change it", key);
}

/* ALERT_ERR_CONFIG naming the first key of cfg that cannot change live (ctx->lock held:
 * the worker swaps ctx->cfg under it). */
static int check_fixed(const alert_config *cur, const alert_config *cfg, alert_error *err)
{
    for (size_t i = 0; i < sizeof fixed_keys / sizeof *fixed_keys; i++) {
        int d = key_changed(cur, cfg, fixed_keys[i]);
        if (d < 0)
            return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_reconfigure", 0, 0, "out of memory");
        if (d)
            return refuse_key(err, fixed_keys[i]);
    }
    if (has_pagerduty(cur) && has_pagerduty(cfg))
        for (size_t i = 0; i < sizeof pagerduty_keys / sizeof *pagerduty_keys; i++) {
            int d = key_changed(cur, cfg, pagerduty_keys[i]);
            if (d < 0)
                return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_reconfigure", 0, 0,
                                    "out of memory");
            if (d)
                return refuse_key(err, pagerduty_keys[i]);
        }
    const char *list_key;
    if (lists_changed(cur, cfg, &list_key))
        return refuse_key(err, list_key);
    if (cur->cache_redis != cfg->cache_redis || str_changed(cur->cache_redis_host, cfg->cache_redis_host) ||
        str_changed(cur->cache_redis_port, cfg->cache_redis_port) ||
        str_changed(cur->cache_redis_password, cfg->cache_redis_password) ||
        str_changed(cur->cache_redis_username, cfg->cache_redis_username) ||
        str_changed(cur->cache_redis_db, cfg->cache_redis_db) ||
        cur->cache_redis_topology != cfg->cache_redis_topology)
        return refuse_key(err, "litellm_settings.cache_params");
    if (cur->clock_fn != cfg->clock_fn || cur->clock_ud != cfg->clock_ud)
        return refuse_key(err, "clock");
    if (cur->log_fn != cfg->log_fn || cur->log_ud != cfg->log_ud)
        return refuse_key(err, "log");
    if (cur->wakeup_fn != cfg->wakeup_fn || cur->wakeup_ud != cfg->wakeup_ud)
        return refuse_key(err, "wakeup");
    return ALERT_OK;
}

/* On the worker (its thread, or the host's with worker_threads: 0): every allocation
 * first, then the swap, which cannot fail but for the routes (then undone). */
static int reconfigure_apply(alert_ctx *ctx, const alert_config *cfg, alert_error *err)
{
    struct al_retired_cfg *old = al_calloc(1, sizeof *old);
    alert_config fresh;
    memset(&fresh, 0, sizeof fresh);
    if (!old || al_config_copy(&fresh, cfg) != ALERT_OK) {
        al_free(old);
        al_config_release(&fresh);
        return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_reconfigure", 0, 0, "out of memory");
    }
    resolve_targets(&fresh);
    int64_t thr_old = ctx->threshold_ms;
    int64_t thr_new = (int64_t)(fresh.alerting_threshold * 1000.0);
    int pd_old = ctx->pagerduty_on, pd_new = has_pagerduty(&fresh);
    int64_t pd_ms = (int64_t)(fresh.hanging_threshold_seconds * 1000.0);
    uint32_t enabled = fresh.alerting.n > 0 ? fresh.alert_types : 0;
    al_wheel *wheel = NULL, *wheel_pd = NULL;
    al_pdwindow pd_failures, pd_hanging;
    memset(&pd_failures, 0, sizeof pd_failures);
    memset(&pd_hanging, 0, sizeof pd_hanging);
    al_dstats *dstats = NULL;
    int nomem = 0;
    /* hanging deadlines follow the new threshold: start + new threshold, each */
    if (thr_new != thr_old && !(wheel = al_wheel_rebuild(ctx->wheel, wheel_tick_ms(thr_new), thr_new - thr_old)))
        nomem = 1;
    if (!nomem && pd_new && !pd_old)    /* PagerDuty watches the requests in flight too */
        nomem = !(wheel_pd = al_wheel_rebuild(ctx->wheel, wheel_tick_ms(pd_ms), pd_ms - thr_old)) ||
                al_pdwindow_init(&pd_failures, fresh.failure_threshold,
                                 (int64_t)(fresh.failure_threshold_window_seconds * 1000.0)) != ALERT_OK ||
                al_pdwindow_init(&pd_hanging, fresh.hanging_threshold_fails,
                                 (int64_t)(fresh.hanging_threshold_window_seconds * 1000.0)) != ALERT_OK;
    if (!nomem && ((enabled >> AL_T_DAILY_REPORTS) & 1u) && !ctx->dstats &&
        !(dstats = al_dstats_new(AL_DSTATS_PER_STRIPE)))
        nomem = 1;
    if (nomem) {
        al_wheel_free(wheel);
        al_wheel_free(wheel_pd);
        al_pdwindow_free(&pd_failures);
        al_pdwindow_free(&pd_hanging);
        al_dstats_free(dstats);
        al_free(old);
        al_config_release(&fresh);
        return al_error_set(err, ALERT_ERR_NOMEM, "alert_ctx_reconfigure", 0, 0, "out of memory");
    }

    /* the swap: the data part of cfg; the callbacks are the same (check_fixed) and are
     * not written, as host threads read them */
    pthread_mutex_lock(&ctx->lock);
    old->cfg = ctx->cfg;
    memcpy(&ctx->cfg, &fresh, offsetof(alert_config, clock_fn));
    ctx->cfg.transports = fresh.transports;
    ctx->cfg.n_transports = fresh.n_transports;
    pthread_mutex_unlock(&ctx->lock);
    al_state_begin(ctx->state);
    int rc = al_routes_rebuild(ctx, err);
    al_state_commit(ctx->state);
    if (rc != ALERT_OK) {
        pthread_mutex_lock(&ctx->lock);
        memcpy(&fresh, &ctx->cfg, offsetof(alert_config, clock_fn));
        fresh.transports = ctx->cfg.transports;
        fresh.n_transports = ctx->cfg.n_transports;
        memcpy(&ctx->cfg, &old->cfg, offsetof(alert_config, clock_fn));
        ctx->cfg.transports = old->cfg.transports;
        ctx->cfg.n_transports = old->cfg.n_transports;
        pthread_mutex_unlock(&ctx->lock);
        al_wheel_free(wheel);
        al_wheel_free(wheel_pd);
        al_pdwindow_free(&pd_failures);
        al_pdwindow_free(&pd_hanging);
        al_dstats_free(dstats);
        al_free(old);
        al_config_release(&fresh);
        return rc;
    }
    /* the old data stays until destroy: custom targets point at its transports */
    old->cfg.clock_fn = NULL;
    old->cfg.log_fn = NULL;
    old->cfg.wakeup_fn = NULL;
    old->next = ctx->retired;
    ctx->retired = old;

    if (wheel) {
        al_wheel_free(ctx->wheel);
        ctx->wheel = wheel;
    }
    if (wheel_pd) {
        ctx->wheel_pd = wheel_pd;
        ctx->pd_failures = pd_failures;
        ctx->pd_hanging = pd_hanging;
    } else if (pd_old && !pd_new) {
        al_wheel_free(ctx->wheel_pd);
        ctx->wheel_pd = NULL;
        al_pdwindow_free(&ctx->pd_failures);
        al_pdwindow_free(&ctx->pd_hanging);
    }
    atomic_store(&ctx->pagerduty_on, pd_new);
    if (dstats)
        atomic_store_explicit(&ctx->dstats, dstats, memory_order_release);
    ctx->alerting_on = ctx->cfg.alerting.n > 0;
    atomic_store(&ctx->threshold_ms, thr_new);
    atomic_store(&ctx->send_resolved, ctx->cfg.send_resolved != 0);
    atomic_store(&ctx->redact_messages, ctx->cfg.redact_messages != 0);
    atomic_store(&ctx->enabled, enabled);
    if (ctx->cfg.instance_name)
        snprintf(ctx->instance, sizeof ctx->instance, "%s", ctx->cfg.instance_name);
    ctx->fmt.proxy_base_url = ctx->cfg.proxy_base_url;
    ctx->fmt.alertmanager_resolve_after_s = ctx->cfg.alertmanager_resolve_after;
    al_ctx_log(ctx, ALERT_LOG_INFO, "alert_ctx_reconfigure: the new configuration is applied");
    return ALERT_OK;
}

int alert_ctx_reconfigure(alert_ctx *ctx, const alert_config *cfg, alert_error *err)
{
    if (!ctx || !cfg) {
        al_error_set(err, ALERT_ERR_INVALID, "alert_ctx_reconfigure", 0, 0, "ctx and cfg must not be NULL");
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_ctx_reconfigure: cfg is NULL");
    }
    if (atomic_load(&ctx->destroying))
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_ctx_reconfigure: alert_ctx_destroy is running");
    if (ctx->threaded ? pthread_equal(pthread_self(), ctx->thread) : atomic_load(&ctx->worker_busy))
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_ctx_reconfigure: called from inside a worker "
                           "pass (a transport or log callback)");
    alert_error local = ALERT_ERROR_INIT;
    alert_error *e = err ? err : &local;
    /* all or nothing: what alert_ctx_create would refuse changes nothing */
    int rc = alert_config_check(cfg, e);
    if (rc == ALERT_OK) {
        pthread_mutex_lock(&ctx->lock);
        rc = check_fixed(&ctx->cfg, cfg, e);
        pthread_mutex_unlock(&ctx->lock);
    }
    if (rc == ALERT_OK && !ctx->threaded) {
        if (atomic_exchange(&ctx->worker_busy, 1))     /* alert_poll runs on another thread */
            return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_ctx_reconfigure: alert_poll or "
                               "alert_flush runs on another thread");
        rc = reconfigure_apply(ctx, cfg, e);
        atomic_store(&ctx->worker_busy, 0);
    } else if (rc == ALERT_OK) {
        pthread_mutex_lock(&ctx->lock);
        while (ctx->reconf_cfg && !ctx->stopping)      /* one request at a time */
            pthread_cond_wait(&ctx->cond, &ctx->lock);
        ctx->reconf_cfg = cfg;
        ctx->reconf_err = e;
        uint64_t ticket = ++ctx->reconf_requested;
        pthread_mutex_unlock(&ctx->lock);
        al_outbox_wakeup(ctx->outbox);
        pthread_mutex_lock(&ctx->lock);
        while (ctx->reconf_done < ticket && !ctx->stopping)
            pthread_cond_wait(&ctx->cond, &ctx->lock);
        rc = ctx->reconf_done >= ticket ? ctx->reconf_rc : ALERT_ERR_STATE;
        pthread_mutex_unlock(&ctx->lock);
    }
    if (rc != ALERT_OK)
        return al_ctx_fail(ctx, rc, "alert_ctx_reconfigure: %s (nothing was changed)",
                           e->text[0] ? e->text : alert_strerror(rc));
    return ALERT_OK;
}

void alert_ctx_destroy(alert_ctx *ctx)
{
    if (!ctx)
        return;
    /* callbacks run inside teardown (the log, a transport's send): alert_poll and
     * alert_flush called from them must not start a worker pass there */
    atomic_store(&ctx->destroying, 1);
    /* shutdown_timeout from now: the worker's pass in progress stops calling send() too */
    al_outbox_set_deadline(ctx->outbox, (int64_t)(ctx->cfg.shutdown_timeout * 1000.0));
    if (ctx->threaded) {
        pthread_mutex_lock(&ctx->lock);
        ctx->stopping = 1;
        pthread_cond_broadcast(&ctx->cond);
        pthread_mutex_unlock(&ctx->lock);
        al_outbox_wakeup(ctx->outbox);
        pthread_join(ctx->thread, NULL);
        ctx->threaded = 0;
    }
    /* alerts still waiting for a fleet claim go out: a duplicate, never a loss */
    al_gate_free(ctx, ctx->gate);
    /* what is due now gets its chance within shutdown_timeout; the rest is counted */
    worker_pass(ctx, 1);
    al_route_tick(ctx, al_ctx_mono(ctx), 1);
    drive_until_empty(ctx, (int64_t)(ctx->cfg.shutdown_timeout * 1000.0));
    ctx_free(ctx);
}

int alert_poll(alert_ctx *ctx, int32_t timeout_ms)
{
    if (!ctx)
        return ALERT_ERR_INVALID;
    if (ctx->threaded)
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_poll: this context has a worker thread "
                           "(worker_threads > 0); alert_poll is for worker_threads: 0");
    if (atomic_load(&ctx->worker_busy))
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_poll: called from inside a worker pass "
                           "(a transport or log callback)");
    if (atomic_load(&ctx->destroying))
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_poll: alert_ctx_destroy is running");
    atomic_store_explicit(&ctx->wake_pending, 0, memory_order_release);  /* before the pass takes the work */
    worker_pass(ctx, 0);
    if (timeout_ms > 0 && al_outbox_inflight(ctx->outbox)) {
        al_outbox_wait(ctx->outbox, timeout_ms);
        worker_pass(ctx, 0);
    }
    return ALERT_OK;
}

/* alert_poll_timeout: the wait before work comes due. Reports, windows and schedules
 * are looked at once a second at least; transfers in flight every POLL_INFLIGHT_MS. */
#define POLL_MAX_WAIT_MS 1000
#define POLL_INFLIGHT_MS 10

int alert_poll_timeout(alert_ctx *ctx, int32_t *timeout_ms)
{
    if (!ctx || !timeout_ms)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_poll_timeout: timeout_ms is NULL");
    if (ctx->threaded)
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_poll_timeout: this context has a worker "
                           "thread (worker_threads > 0)");
    pthread_mutex_lock(&ctx->events.lock);
    size_t queued = ctx->events.len;
    pthread_mutex_unlock(&ctx->events.lock);
    int64_t wait = POLL_MAX_WAIT_MS;
    if (queued || al_gate_count(ctx->gate))
        wait = 0;
    if (al_inflight_active(ctx->inflight) || al_wheel_count(ctx->wheel)) {
        if (al_wheel_tick(ctx->wheel) < wait)
            wait = al_wheel_tick(ctx->wheel);
        if (ctx->wheel_pd && al_wheel_tick(ctx->wheel_pd) < wait)
            wait = al_wheel_tick(ctx->wheel_pd);
    }
    if (al_outbox_inflight(ctx->outbox) && wait > POLL_INFLIGHT_MS)
        wait = POLL_INFLIGHT_MS;
    int64_t due = al_outbox_next_due(ctx->outbox);
    if (due != INT64_MAX) {
        int64_t d = due - al_ctx_mono(ctx);
        if (d < wait)
            wait = d < 0 ? 0 : d;
    }
    int64_t fleet = al_state_round_wait(ctx->state, al_ctx_mono(ctx));    /* fleet mode's rounds */
    if (fleet < wait)
        wait = fleet;
    *timeout_ms = (int32_t)wait;
    return ALERT_OK;
}

static void flush_timed_out(alert_ctx *ctx, int32_t timeout_ms)
{
    al_ctx_fail(ctx, ALERT_ERR_TIMEOUT, "alert_flush: %llu deliveries still queued after %d ms",
                (unsigned long long)atomic_load(&ctx->n.queue_depth), (int)timeout_ms);
}

int alert_flush(alert_ctx *ctx, int32_t timeout_ms)
{
    int rc;
    if (!ctx)
        return ALERT_ERR_INVALID;
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (atomic_load(&ctx->destroying))
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_flush: alert_ctx_destroy is running");
    if (!ctx->threaded) {
        if (atomic_load(&ctx->worker_busy))
            return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_flush: called from inside a worker pass "
                               "(a transport or log callback)");
        rc = drive_until_idle(ctx, timeout_ms);
        if (rc == ALERT_ERR_TIMEOUT)
            flush_timed_out(ctx, timeout_ms);
        return rc;
    }
    if (pthread_equal(pthread_self(), ctx->thread))     /* the worker cannot wait on itself */
        return al_ctx_fail(ctx, ALERT_ERR_STATE, "alert_flush: called from the worker thread "
                           "(a transport or log callback)");
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ctx->lock);
    uint64_t ticket = ++ctx->flush_requested;
    pthread_mutex_unlock(&ctx->lock);
    al_outbox_wakeup(ctx->outbox);
    pthread_mutex_lock(&ctx->lock);
    rc = ALERT_OK;
    while (ctx->flush_done < ticket && !ctx->stopping) {
        if (pthread_cond_timedwait(&ctx->cond, &ctx->lock, &until) == ETIMEDOUT) {
            rc = ctx->flush_done >= ticket ? ALERT_OK : ALERT_ERR_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    if (rc == ALERT_ERR_TIMEOUT)
        flush_timed_out(ctx, timeout_ms);
    return rc;
}

const char *alert_ctx_last_error(const alert_ctx *ctx)
{
    static _Thread_local char copy[256];
    if (!ctx) {
        snprintf(copy, sizeof copy, "invalid argument: NULL ctx");
        return copy;
    }
    alert_ctx *c = (alert_ctx *)ctx;
    pthread_mutex_lock(&c->lock);
    memcpy(copy, c->last_error, sizeof copy);
    pthread_mutex_unlock(&c->lock);
    return copy;
}

int alert_stats_get(alert_ctx *ctx, alert_stats *out)
{
    if (!ctx || !out)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_stats_get: out is NULL");
    int rc = al_ctx_check_version(ctx, "alert_stats_get", "alert_stats", out, ALERT_STATS_VERSION);
    if (rc != ALERT_OK)
        return rc;
    alert_stats s;
    memset(&s, 0, sizeof s);
    s.version = out->version;
    s.requests_started = al_inflight_started(ctx->inflight);
    s.requests_inflight = al_inflight_active(ctx->inflight);
    s.alerts_raised = atomic_load(&ctx->n.alerts_raised);
    s.alerts_filtered = atomic_load(&ctx->n.alerts_filtered);
    s.alerts_deduplicated = atomic_load(&ctx->n.alerts_deduplicated);
    s.alerts_coalesced = atomic_load(&ctx->n.alerts_coalesced);
    s.deliveries_ok = atomic_load(&ctx->n.deliveries_ok);
    s.deliveries_retried = atomic_load(&ctx->n.deliveries_retried);
    s.deliveries_failed = atomic_load(&ctx->n.deliveries_failed);
    s.deliveries_dropped = atomic_load(&ctx->n.deliveries_dropped);
    s.queue_depth = atomic_load(&ctx->n.queue_depth);
    s.requests_rejected = atomic_load(&ctx->n.requests_rejected);
    s.events_dropped = al_inflight_dropped_events(ctx->inflight) + al_evqueue_dropped(&ctx->events);
    s.destinations_dead = atomic_load(&ctx->n.destinations_dead);
    al_fleet_stats fs;
    al_state_fleet_stats(ctx->state, &fs);
    s.fleet_connected = (uint64_t)fs.connected;
    s.fleet_rounds = fs.rounds;
    s.fleet_round_errors = fs.round_errors;
    s.fleet_claims_won = fs.claims_won;
    s.fleet_claims_lost = fs.claims_lost;
    s.fleet_claims_unanswered = fs.claims_unanswered;
    s.fleet_deliveries_adopted = fs.deliveries_adopted;
    s.fleet_round_longest_us = fs.round_longest_us;
    /* a caller built against an older, shorter struct gets only what it knows: the size
     * of each version, as versions are added */
    static const size_t size_of_version[ALERT_STATS_VERSION + 1] = {
        0, offsetof(alert_stats, fleet_connected), sizeof(alert_stats)
    };
    memcpy(out, &s, size_of_version[out->version]);
    return ALERT_OK;
}
