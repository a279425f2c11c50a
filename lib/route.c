/* SPDX-License-Identifier: MIT */
/* Where alerts go: the alert_types gate, then each destination in `alerting`,
 * resolved once at alert_ctx_create. */
#include "route.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "alloc.h"
#include "ctx.h"
#include "fmt.h"
#include "fmt_dest.h"
#include "gate.h"
#include "outbox.h"
#include "settle.h"

typedef struct target_list {
    al_target **items;
    size_t n;
} target_list;

/* Digest mode: one message per (type, model, api_base) per interval. */
typedef struct digest {
    struct digest *next;
    al_alert *first;        /* a reference: the first alert of the interval */
    int count;
    int64_t start_ms, last_ms;
} digest;

/* An outage episode open in Alertmanager: posted again every 60 s until it ends. */
typedef struct episode {
    struct episode *next;
    al_alert *alert;        /* a reference */
    int64_t last_post_ms;
} episode;

#define EPISODE_REPOST_MS 60000

struct al_routes {
    episode *episodes;
    digest *digests;
    int slack_on;
    target_list slack[AL_T__COUNT];     /* per alert type */
    target_list custom;
    target_list every;                  /* discord, ms_teams, webhook, email, alertmanager */
    target_list pagerduty;              /* pages only: aggregates, outages, budget crossed */
    int warned_no_slack_url;
};

static int tl_push(target_list *l, al_target *t)
{
    if (!t)
        return ALERT_ERR_NOMEM;
    al_target **n = al_realloc(l->items, (l->n + 1) * sizeof *n);
    if (!n)
        return ALERT_ERR_NOMEM;
    l->items = n;
    l->items[l->n++] = t;
    return ALERT_OK;
}

void al_routes_free(al_routes *r)
{
    if (!r)
        return;
    for (digest *d = r->digests, *n; d; d = n) {
        n = d->next;
        al_alert_free(d->first);
        al_free(d);
    }
    for (episode *e = r->episodes, *n; e; e = n) {
        n = e->next;
        al_alert_free(e->alert);
        al_free(e);
    }
    for (int i = 0; i < AL_T__COUNT; i++)
        al_free(r->slack[i].items);
    al_free(r->custom.items);
    al_free(r->every.items);
    al_free(r->pagerduty.items);
    al_free(r);
}

static int build_slack(alert_ctx *ctx, al_routes *r)
{
    const alert_config *c = &ctx->cfg;
    r->slack_on = 1;
    for (int t = 0; t < AL_T__COUNT; t++) {
        const al_strlist *urls = &c->alert_to_webhook_url[t];
        if (urls->n) {
            for (size_t i = 0; i < urls->n; i++)
                if (tl_push(&r->slack[t], al_outbox_target(ctx->outbox, AL_DEST_SLACK,
                                                           urls->items[i], NULL)) != ALERT_OK)
                    return ALERT_ERR_NOMEM;
        } else if (c->slack_webhook_url) {
            if (tl_push(&r->slack[t], al_outbox_target(ctx->outbox, AL_DEST_SLACK,
                                                       c->slack_webhook_url, NULL)) != ALERT_OK)
                return ALERT_ERR_NOMEM;
        }
    }
    return ALERT_OK;
}

/* Only these schemes ever leave the library (CURLOPT_PROTOCOLS_STR enforces it too). */
static int check_url(const char *url, int email, const char *key, alert_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
    int allowed = ok && (email ? (strcmp(scheme, "smtp") == 0 || strcmp(scheme, "smtps") == 0)
                               : (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0));
    int rc = ALERT_OK;
    if (!ok)
        rc = al_error_set(err, ALERT_ERR_CONFIG, key, 0, 0, "%s is not a valid URL", key);
    else if (!allowed)
        rc = al_error_set(err, ALERT_ERR_CONFIG, key, 0, 0,
                          "%s: scheme '%s' is not allowed (only %s)", key, scheme,
                          email ? "smtp, smtps" : "http, https");
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

static int missing(alert_error *err, const char *dest, const char *key, const char *env)
{
    return al_error_set(err, ALERT_ERR_CONFIG, "alerting", 0, 0,
                        "'%s' is in alerting but neither %s nor %s is set", dest, key, env);
}

static int add_target(alert_ctx *ctx, target_list *l, al_dest_kind kind, const char *url, int email,
                      const char *key, alert_error *err)
{
    int rc = check_url(url, email, key, err);
    if (rc != ALERT_OK)
        return rc;
    if (tl_push(l, al_outbox_target(ctx->outbox, kind, url, NULL)) != ALERT_OK)
        return al_error_set(err, ALERT_ERR_NOMEM, "alerting", 0, 0, "out of memory");
    return ALERT_OK;
}

static int build_builtin(alert_ctx *ctx, al_routes *r, al_dest_kind kind, alert_error *err)
{
    const alert_config *c = &ctx->cfg;
    char url[2048];
    switch (kind) {
    case AL_DEST_SLACK:
        if (r->slack_on)
            return ALERT_OK;
        /* a LiteLLM config with a placeholder channel still starts (LiteLLM posts
         * to it and fails): the channel is unset, said once, without its value */
        for (int t = 0; t < AL_T__COUNT; t++) {
            al_strlist *urls = &ctx->cfg.alert_to_webhook_url[t];
            for (size_t i = 0; i < urls->n;) {
                alert_error scratch = ALERT_ERROR_INIT;
                if (check_url(urls->items[i], 0, "alert_to_webhook_url", &scratch) == ALERT_OK) {
                    i++;
                    continue;
                }
                al_ctx_log(ctx, ALERT_LOG_WARNING, "alert_to_webhook_url.%s[%zu] is not an http or "
                           "https URL: that channel is unset", al_types[t].name, i);
                al_free(urls->items[i]);
                memmove(&urls->items[i], &urls->items[i + 1], (urls->n - i - 1) * sizeof *urls->items);
                urls->n--;
            }
        }
        if (c->slack_webhook_url && check_url(c->slack_webhook_url, 0, "slack_webhook_url", err))
            return ALERT_ERR_CONFIG;
        if (!c->slack_webhook_url) {
            int routed = 0;
            for (int t = 0; t < AL_T__COUNT; t++)
                routed |= c->alert_to_webhook_url[t].n > 0;
            /* lenient, as LiteLLM: a config file that leaves the URL to the environment
             * still starts; every Slack alert is then counted failed, and said so */
            if (!routed)
                al_ctx_log(ctx, ALERT_LOG_WARNING,
                           "'slack' is in alerting but none of slack_webhook_url, SLACK_WEBHOOK_URL, "
                           "ALERTING_WEBHOOK_URL, alert_to_webhook_url is set: nothing can reach Slack");
        }
        return build_slack(ctx, r) == ALERT_OK
                   ? ALERT_OK : al_error_set(err, ALERT_ERR_NOMEM, "alerting", 0, 0, "out of memory");
    case AL_DEST_DISCORD:
        if (!c->discord_webhook_url)
            return missing(err, "discord", "discord_webhook_url", "DISCORD_WEBHOOK_URL");
        return add_target(ctx, &r->every, kind, c->discord_webhook_url, 0, "discord_webhook_url", err);
    case AL_DEST_MS_TEAMS:
        if (!c->ms_teams_webhook_url)
            return missing(err, "ms_teams", "ms_teams_webhook_url", "MS_TEAMS_WEBHOOK_URL");
        return add_target(ctx, &r->every, kind, c->ms_teams_webhook_url, 0, "ms_teams_webhook_url", err);
    case AL_DEST_WEBHOOK:
        if (!c->webhook_url)
            return missing(err, "webhook", "webhook_url", "WEBHOOK_URL");
        if (c->webhook_secret) {
            char sig[AL_WEBHOOK_SIG_SIZE + 16];
            if (al_webhook_sign(c->webhook_secret, "msg_check", 0, "", 0, sig, sizeof sig) != 0)
                return al_error_set(err, ALERT_ERR_CONFIG, "webhook_secret", 0, 0,
                                    "webhook_secret is not whsec_ followed by base64");
        }
        return add_target(ctx, &r->every, kind, c->webhook_url, 0, "webhook_url", err);
    case AL_DEST_ALERTMANAGER: {
        if (!c->alertmanager_url)
            return missing(err, "alertmanager", "alertmanager_url", "ALERTMANAGER_URL");
        size_t n = strlen(c->alertmanager_url);
        while (n && c->alertmanager_url[n - 1] == '/')
            n--;
        snprintf(url, sizeof url, "%.*s/api/v2/alerts", (int)n, c->alertmanager_url);
        return add_target(ctx, &r->every, kind, url, 0, "alertmanager_url", err);
    }
    case AL_DEST_PAGERDUTY:
        if (!c->pagerduty_api_key)
            return missing(err, "pagerduty", "pagerduty_api_key", "PAGERDUTY_API_KEY");
        return add_target(ctx, &r->pagerduty, kind,
                          c->pagerduty_url ? c->pagerduty_url : "https://events.pagerduty.com/v2/enqueue",
                          0, "pagerduty_url", err);
    case AL_DEST_EMAIL: {
        if (!c->smtp_host)
            return missing(err, "email", "smtp_host", "SMTP_HOST");
        const char *port = c->smtp_port ? c->smtp_port : "25";
        snprintf(url, sizeof url, "%s://%s:%s", strcmp(port, "465") == 0 ? "smtps" : "smtp",
                 c->smtp_host, port);
        /* an address goes into SMTP commands: one that is no RFC 5321 mailbox is never
         * used (the outbox leaves it out), and is named by position, not by its bytes */
        size_t valid = 0;
        for (size_t i = 0; i < c->email_recipients.n; i++) {
            if (al_email_address_ok(c->email_recipients.items[i]))
                valid++;
            else
                al_ctx_log(ctx, ALERT_LOG_WARNING, "email_recipients[%zu] is not a valid e-mail "
                           "address (RFC 5321 mailbox): it is ignored", i);
        }
        if (c->smtp_sender_email && !al_email_address_ok(c->smtp_sender_email))
            al_ctx_log(ctx, ALERT_LOG_WARNING, "smtp_sender_email is not a valid e-mail address "
                       "(RFC 5321 mailbox): libalerting@localhost is used instead");
        if (!valid)
            al_ctx_log(ctx, ALERT_LOG_WARNING, "email: no email_recipients; only budget alerts "
                                               "that carry their own addresses are sent");
        return add_target(ctx, &r->every, kind, url, 1, "smtp_host", err);
    }
    default:
        return ALERT_OK;
    }
}

int al_routes_build(alert_ctx *ctx, alert_error *err)
{
    const alert_config *c = &ctx->cfg;
    al_routes *r = al_calloc(1, sizeof *r);
    if (!r)
        return al_error_set(err, ALERT_ERR_NOMEM, "alerting", 0, 0, "out of memory");
    ctx->routes = r;
    for (size_t i = 0; i < c->alerting.n; i++) {
        const char *name = c->alerting.items[i];
        al_transport_ref *tr = NULL;
        for (size_t k = 0; k < c->n_transports; k++)
            if (strcmp(c->transports[k]->name, name) == 0)
                tr = c->transports[k];
        int kind = al_dest_from_name(name);
        int rc = ALERT_OK;
        if (tr) {
            if (tl_push(&r->custom, al_outbox_target(ctx->outbox, AL_DEST_CUSTOM, NULL, tr)) != ALERT_OK)
                rc = al_error_set(err, ALERT_ERR_NOMEM, "alerting", 0, 0, "out of memory");
        } else if (kind >= 0) {
            rc = build_builtin(ctx, r, (al_dest_kind)kind, err);
        } else {
            rc = al_error_set(err, ALERT_ERR_CONFIG, "alerting", 0, 0,
                              "unknown destination '%s': neither built in nor a registered "
                              "transport", name);
        }
        if (rc != ALERT_OK)
            return rc;
    }
    return ALERT_OK;
}

static int routes_use(void *ud, const al_target *t)
{
    const al_routes *r = ud;
    const target_list *lists[3] = { &r->custom, &r->every, &r->pagerduty };
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < lists[i]->n; k++)
            if (lists[i]->items[k] == t)
                return 1;
    for (int ty = 0; ty < AL_T__COUNT; ty++)
        for (size_t k = 0; k < r->slack[ty].n; k++)
            if (r->slack[ty].items[k] == t)
                return 1;
    return 0;
}

int al_routes_rebuild(alert_ctx *ctx, alert_error *err)
{
    al_routes *old = ctx->routes;
    ctx->routes = NULL;
    int rc = al_routes_build(ctx, err);
    if (rc != ALERT_OK) {
        al_routes_free(ctx->routes);
        ctx->routes = old;
        return rc;
    }
    /* the digests and the open Alertmanager episodes hold alerts, not targets: they
     * carry over, and go out through the new destinations */
    al_routes *r = ctx->routes;
    r->digests = old->digests;
    r->episodes = old->episodes;
    r->warned_no_slack_url = old->warned_no_slack_url;
    old->digests = NULL;
    old->episodes = NULL;
    al_routes_free(old);
    al_outbox_reroute(ctx->outbox, routes_use, r);
    return ALERT_OK;
}

static void enqueue(alert_ctx *ctx, al_target *t, al_alert *a, const char *text)
{
    if (a->only && !(a->only & AL_DEST_BIT(al_outbox_target_kind(t))))
        return;
    int rc = al_outbox_enqueue(ctx->outbox, t, a, text);
    if (rc == ALERT_ERR_NOMEM)
        al_ctx_error(ctx, "out of memory: a %s alert was not queued", al_types[a->type].name);
}

/* PagerDuty gets pages, not every alert: its aggregates and budgets crossed (marked so
 * where they are raised), and outages. */
static int pages(const al_alert *a)
{
    return a->page != AL_PAGE_NO || a->type == AL_T_OUTAGE_ALERTS ||
           a->type == AL_T_REGION_OUTAGE_ALERTS;
}

/* LiteLLM's webhook consumers parse budget events only, and its e-mail sends budget
 * alerts only: both destinations get other types only when webhook_alert_types /
 * email_alert_types name them. */
static int in_scope(const alert_config *c, al_dest_kind k, al_type type)
{
    if (k == AL_DEST_WEBHOOK)
        return (c->webhook_alert_types >> type) & 1;
    if (k == AL_DEST_EMAIL)
        return (c->email_alert_types >> type) & 1;
    return 1;
}

static void deliver(alert_ctx *ctx, al_alert *a, int only_custom, al_transport_ref *only)
{
    al_routes *r = ctx->routes;
    char *text = al_fmt_envelope(&ctx->fmt, a);
    if (!text) {
        al_ctx_error(ctx, "out of memory: a %s alert was lost", al_types[a->type].name);
        return;
    }
    if (r->slack_on && !only_custom && a->page != AL_PAGE_ONLY) {
        const target_list *l = &r->slack[a->type];
        if (l->n == 0) {
            atomic_fetch_add(&ctx->n.deliveries_failed, 1);
            if (!r->warned_no_slack_url++)
                al_ctx_error(ctx, "slack: no webhook URL for %s alerts (set slack_webhook_url, "
                                  "SLACK_WEBHOOK_URL or alert_to_webhook_url)",
                             al_types[a->type].name);
        }
        for (size_t i = 0; i < l->n; i++)
            enqueue(ctx, l->items[i], a, text);
    }
    for (size_t i = 0; i < r->custom.n && a->page != AL_PAGE_ONLY; i++) {
        al_target *t = r->custom.items[i];
        if (!only || (only_custom && t == al_outbox_target(ctx->outbox, AL_DEST_CUSTOM, NULL, only)))
            enqueue(ctx, t, a, text);
    }
    if (!only_custom && a->page != AL_PAGE_ONLY && r->every.n) {
        char *plain = al_fmt_envelope_as(&ctx->fmt, a, 0);
        for (size_t i = 0; i < r->every.n; i++) {
            al_dest_kind k = al_outbox_target_kind(r->every.items[i]);
            if (!in_scope(&ctx->cfg, k, a->type))
                continue;
            int esc = k == AL_DEST_MS_TEAMS || k == AL_DEST_WEBHOOK || k == AL_DEST_ALERTMANAGER;
            if (esc || plain)
                enqueue(ctx, r->every.items[i], a, esc ? text : plain);
        }
        al_free(plain);
    }
    if (!only_custom && pages(a))
        for (size_t i = 0; i < r->pagerduty.n; i++)
            enqueue(ctx, r->pagerduty.items[i], a, text);
    al_free(text);
}

static int same_label(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Takes a: into its digest bucket. */
static void digest_add(alert_ctx *ctx, al_alert *a)
{
    al_routes *r = ctx->routes;
    for (digest *d = r->digests; d; d = d->next)
        if (d->first->type == a->type && same_label(d->first->model, a->model) &&
            same_label(d->first->api_base, a->api_base)) {
            d->count++;
            d->last_ms = a->at_ms;
            atomic_fetch_add(&ctx->n.alerts_coalesced, 1);
            al_alert_free(a);
            return;
        }
    digest *d = al_calloc(1, sizeof *d);
    if (!d) {
        deliver(ctx, a, 0, NULL);       /* no memory for a bucket: send it as it is */
        al_alert_free(a);
        return;
    }
    d->first = a;
    d->count = 1;
    d->start_ms = d->last_ms = a->at_ms;
    d->next = r->digests;
    r->digests = d;
}

static void fmt_datetime(char *out, size_t n, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void digest_send(alert_ctx *ctx, digest *d)
{
    al_alert *a = d->first;
    char start[32], end[32];
    fmt_datetime(start, sizeof start, d->start_ms);
    fmt_datetime(end, sizeof end, d->last_ms);
    al_buf b = AL_BUF_INIT;
    al_buf_printf(&b, "Alert type: `%s` (Digest)\nLevel: `%s`\nStart: `%s`\nEnd: `%s`\nCount: `%d`"
                      "\n\nMessage: ", al_types[a->type].name, al_level_name(a->level), start, end,
                  d->count);
    al_buf_adds(&b, a->message);
    if (ctx->cfg.proxy_base_url)
        al_buf_printf(&b, "\n\nProxy URL: `%s`", ctx->cfg.proxy_base_url);
    al_free(a->envelope);
    a->envelope = al_buf_take(&b);
    if (!a->envelope)
        al_ctx_error(ctx, "out of memory: a %s digest was sent without its counts",
                     al_types[a->type].name);
    deliver(ctx, a, 0, NULL);
}

static void repost_episodes(alert_ctx *ctx, int64_t now);

void al_route_tick(alert_ctx *ctx, int64_t now_ms, int all)
{
    al_routes *r = ctx->routes;
    for (digest **p = &r->digests; *p;) {
        digest *d = *p;
        double interval = ctx->cfg.type_conf[d->first->type].digest_interval * 1000.0;
        if (!all && (double)(now_ms - d->start_ms) < interval) {
            p = &d->next;
            continue;
        }
        *p = d->next;
        digest_send(ctx, d);
        al_alert_free(d->first);
        al_free(d);
    }
    repost_episodes(ctx, now_ms);
    al_type type;
    uint64_t dropped = al_outbox_take_dropped(ctx->outbox, &type);
    if (dropped) {
        /* the notice goes out whatever alert_types says: it is about alerts lost */
        al_alert *a = al_alert_new(type, ALERT_LEVEL_HIGH, al_ctx_now(ctx));
        if (a)
            a->notice = 1;
        char text[200];
        snprintf(text, sizeof text, "`%llu alerts dropped`: the delivery queue was full "
                 "(max_queue = %lld); the oldest, lowest-level alerts went first",
                 (unsigned long long)dropped, (long long)ctx->cfg.max_queue);
        if (a && (a->message = al_strdup(text)) && (a->plain = al_strdup(text)))
            deliver(ctx, a, 0, NULL);
        al_alert_free(a);
    }
}

void al_route_page(alert_ctx *ctx, al_alert *a)
{
    al_settle_attach(ctx, a);
    if (ctx->route_tap) {
        ctx->route_tap(ctx->route_tap_ud, a);
        return;
    }
    atomic_fetch_add(&ctx->n.alerts_raised, 1);
    atomic_fetch_add_explicit(&ctx->n.raised_by_type[a->type], 1, memory_order_relaxed);
    deliver(ctx, a, 0, NULL);
    al_alert_free(a);
}

int al_route_has(const alert_ctx *ctx, int kind)
{
    for (size_t i = 0; i < ctx->cfg.alerting.n; i++)
        if (al_dest_from_name(ctx->cfg.alerting.items[i]) == kind)
            return 1;
    return 0;
}

static void to_alertmanager(alert_ctx *ctx, al_alert *a)
{
    const target_list *l = &ctx->routes->every;
    char *text = al_fmt_envelope(&ctx->fmt, a);
    for (size_t i = 0; text && i < l->n; i++)
        if (al_outbox_target_kind(l->items[i]) == AL_DEST_ALERTMANAGER)
            enqueue(ctx, l->items[i], a, text);
    al_free(text);
}

/* Outage episodes stay firing in Alertmanager while they last: remembered here,
 * posted again every minute, forgotten when their end is sent. */
static void track_episode(alert_ctx *ctx, al_alert *a)
{
    al_routes *r = ctx->routes;
    if ((a->type != AL_T_OUTAGE_ALERTS && a->type != AL_T_REGION_OUTAGE_ALERTS) || !a->subject ||
        !al_route_has(ctx, AL_DEST_ALERTMANAGER))
        return;
    for (episode **p = &r->episodes; *p; p = &(*p)->next)
        if (strcmp((*p)->alert->subject, a->subject) == 0 && (*p)->alert->type == a->type) {
            episode *e = *p;
            al_alert_free(e->alert);
            if (a->resolved) {
                *p = e->next;
                al_free(e);
            } else {
                e->alert = al_alert_retain(a);
                e->last_post_ms = a->at_ms;
            }
            return;
        }
    if (a->resolved)
        return;
    episode *e = al_calloc(1, sizeof *e);
    if (!e)
        return;
    e->alert = al_alert_retain(a);
    e->last_post_ms = a->at_ms;
    e->next = r->episodes;
    r->episodes = e;
}

static void repost_episodes(alert_ctx *ctx, int64_t now)
{
    for (episode *e = ctx->routes->episodes; e; e = e->next)
        if (now - e->last_post_ms >= EPISODE_REPOST_MS) {
            e->last_post_ms = now;
            to_alertmanager(ctx, e->alert);
        }
}

void al_route_alerts(alert_ctx *ctx, al_alert **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        al_route_alert(ctx, v[i]);
    al_free(v);
}

void al_route_alert(alert_ctx *ctx, al_alert *a)
{
    al_settle_attach(ctx, a);           /* its fate comes back through settle.c */
    if (al_gate_hold(ctx, a))
        return;                         /* fleet mode: it waits for its claim */
    if (ctx->route_tap) {
        ctx->route_tap(ctx->route_tap_ud, a);
        return;
    }
    if (!al_type_on(ctx, a->type)) {
        atomic_fetch_add(&ctx->n.alerts_filtered, 1);
        al_alert_free(a);
        return;
    }
    atomic_fetch_add(&ctx->n.alerts_raised, 1);
    atomic_fetch_add_explicit(&ctx->n.raised_by_type[a->type], 1, memory_order_relaxed);
    track_episode(ctx, a);
    if (ctx->cfg.type_conf[a->type].digest) {
        digest_add(ctx, a);
        return;
    }
    deliver(ctx, a, 0, NULL);
    al_alert_free(a);
}

static al_alert *test_alert(alert_ctx *ctx, al_type type, const char *text)
{
    al_alert *a = al_alert_new(type, ALERT_LEVEL_LOW, al_ctx_now(ctx));
    if (a) {
        a->message = al_strdup(text);
        a->plain = al_strdup(text);
        if (!a->message || !a->plain) {
            al_alert_free(a);
            a = NULL;
        }
    }
    return a;
}

static const char *test_text(al_type t)
{
    switch (t) {
    case AL_T_LLM_EXCEPTIONS: return "LLM Exception test alert";
    case AL_T_LLM_TOO_SLOW: return "LLM Too Slow test alert";
    case AL_T_LLM_REQUESTS_HANGING: return "LLM Requests Hanging test alert";
    case AL_T_DB_EXCEPTIONS: return "DB Exception test alert";
    case AL_T_OUTAGE_ALERTS: return "Outage Alert Exception test alert";
    case AL_T_DAILY_REPORTS: return "Daily Reports test alert";
    default: return "Budget Alert test alert";
    }
}

/* Like LiteLLM's /health/services: one test alert per routed type, or one alert. */
int al_route_send_test(alert_ctx *ctx, const char *destination)
{
    al_routes *r = ctx->routes;
    const alert_config *c = &ctx->cfg;
    if (strcmp(destination, "slack") == 0) {
        int routed = 0;
        for (int t = 0; t < AL_T__COUNT; t++) {
            if (!c->alert_to_webhook_url[t].n || !al_type_on(ctx, t))
                continue;
            routed = 1;
            al_alert *a = test_alert(ctx, (al_type)t, test_text((al_type)t));
            if (!a)
                return ALERT_ERR_NOMEM;
            char *text = al_fmt_envelope(&ctx->fmt, a);
            for (size_t i = 0; text && i < r->slack[t].n; i++)
                enqueue(ctx, r->slack[t].items[i], a, text);
            al_free(text);
            al_alert_free(a);
        }
        if (!routed) {
            al_alert *a = test_alert(ctx, AL_T_BUDGET_ALERTS, "This is a test slack alert message");
            if (!a)
                return ALERT_ERR_NOMEM;
            char *text = al_fmt_envelope(&ctx->fmt, a);
            const target_list *l = &r->slack[AL_T_BUDGET_ALERTS];
            if (!l->n)
                al_ctx_error(ctx, "slack: no webhook URL for the test alert");
            for (size_t i = 0; text && i < l->n; i++)
                enqueue(ctx, l->items[i], a, text);
            al_free(text);
            al_alert_free(a);
        }
        return ALERT_OK;
    }
    int kind = al_dest_from_name(destination);
    if (kind >= 0) {
        /* like /health/services?service=webhook: a user budget crossed, spend 1 of 0, in
         * LiteLLM's event group "key" (the one of its documented example) */
        al_alert *a = test_alert(ctx, AL_T_BUDGET_ALERTS, kind == AL_DEST_WEBHOOK
                                     ? "User Budget: Budget Crossed\n Total Budget:`0.0`"
                                     : "This is a test alert message");
        if (!a)
            return ALERT_ERR_NOMEM;
        if (kind == AL_DEST_WEBHOOK)
            a->webhook_json = al_strdup(
                "{\"spend\":1.0,\"max_budget\":0.0,\"soft_budget\":null,\"token\":null,"
                "\"customer_id\":null,\"user_id\":\"default_user_id\",\"team_id\":null,"
                "\"team_alias\":null,\"organization_id\":null,\"user_email\":null,"
                "\"key_alias\":null,\"projected_exceeded_date\":null,\"projected_spend\":null,"
                "\"event_group\":\"key\",\"alert_emails\":null,\"event\":\"budget_crossed\","
                "\"event_message\":\"User Budget: Budget Crossed\\n Total Budget:`0.0`\"}");
        a->page = kind == AL_DEST_PAGERDUTY ? AL_PAGE_ALSO : AL_PAGE_NO;
        char *text = al_fmt_envelope(&ctx->fmt, a);
        const target_list *l = kind == AL_DEST_PAGERDUTY ? &r->pagerduty : &r->every;
        for (size_t i = 0; text && i < l->n; i++)
            if ((int)al_outbox_target_kind(l->items[i]) == kind)
                enqueue(ctx, l->items[i], a, text);
        al_free(text);
        al_alert_free(a);
        return ALERT_OK;
    }
    for (size_t k = 0; k < c->n_transports; k++)
        if (strcmp(c->transports[k]->name, destination) == 0) {
            al_alert *a = test_alert(ctx, AL_T_BUDGET_ALERTS, "This is a test alert message");
            if (!a)
                return ALERT_ERR_NOMEM;
            deliver(ctx, a, 1, c->transports[k]);
            al_alert_free(a);
            return ALERT_OK;
        }
    return ALERT_ERR_NOT_FOUND;
}
