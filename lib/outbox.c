/* SPDX-License-Identifier: MIT */
/* Pending deliveries (outbox.h): batching and coalescing, rate limits, retries
 * and Retry-After, dead targets, the spool, and the transports (libcurl multi, SMTP,
 * custom vtables). */
#include "outbox.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "dest.h"
#include "buf.h"
#include "ctx.h"
#include "fmt.h"
#include "fmt_dest.h"
#include "hash.h"
#include "redact.h"
#include "sign.h"
#include "spool.h"
#include "settle.h"
#include "state/state.h"

#define MAX_INFLIGHT 64
#define BODY_KEEP (64 * 1024)           /* kept of a response body, for classification */
#define BODY_LIMIT (16 * 1024 * 1024)   /* read (and discarded) before the transfer is cut */

struct al_target {
    struct al_target *next;
    al_dest_kind kind;
    char *url;
    char *config_url;       /* as configured (what the store keeps) */
    char display[96];
    al_transport_ref *custom;
    int dead;
    /* a target that just failed gets one probe at a time until it answers again, and
     * nothing before the probe's retry time (or its Retry-After): no storm of retries */
    int failing;
    int inflight;
    int64_t blocked_until;
    int slack_compat;       /* a Discord URL ending in /slack: the Slack payload */
    /* alert_ctx_reconfigure took it out of the routes: its deliveries go to moved_to (the
     * destination's new target), or are dropped when removed (the destination is gone) */
    al_target *moved_to;
    int removed;
    /* token bucket on the ctx clock; rate 0: unlimited */
    double rate_per_ms, burst, tokens;
    int64_t refill_ms;
    size_t pack_limit;      /* bytes of text one packed message may carry; 0: never packed */
    /* fleet mode (libalerting-fleet(7)): the target as the fleet names it (a hash, never
     * the URL); fleet_rate: this pass's tokens are the fleet's grant, not the local refill;
     * rate_div: Redis away, the local bucket runs at rate / live replicas */
    char fleet_hash[65];
    int fleet_rate, rate_div, want;
    int64_t fleet_retry_at;
    /* what alert_metrics_format shows of it: written by the worker, read from any thread */
    _Atomic uint64_t n_ok, n_failed, n_retried, n_dropped, n_queued;
    _Atomic int64_t last_ok_ms;
};

enum { REC_BATCHED, REC_READY, REC_INFLIGHT };

typedef struct rec {
    struct rec *prev, *next;
    /* its place among the queued messages of its level, oldest first, from enqueue until
     * its fate is known (in flight too): eviction takes the head, without a walk */
    struct rec *lv_prev, *lv_next;
    int in_level;
    int notice;             /* an "N alerts dropped" notice (AL_OUTBOX_NOTICE_RESERVE) */
    al_target *target;
    al_type type;
    int level;
    int state;
    int count;              /* alerts coalesced into this message */
    int attempt;            /* attempts made */
    int64_t created_ms, next_at_ms, deadline_ms;
    char *text;
    al_alert *alert;        /* for the payloads that need more than the text */
    char *body;             /* the payload, built when first sent */
    int body_borrowed;      /* body is the alert's (event_json, webhook_json): not freed here */
    char idem[40];
    struct rec *pack;       /* alerts packed into this message while the target is throttled */
    int pack_n;
    int64_t store_id;       /* its row in the store, or 0 */
    int64_t *merged;        /* rows of the alerts coalesced into it */
    size_t n_merged;
    struct transfer *xfer;  /* while a transfer of it runs; NULL while it waits */
    double retry_after_s;   /* < 0: none */
} rec;

/* What a message needs only while libcurl sends it: kept out of rec, so that the
 * thousands that wait for their flush hold 64 bytes less each (bench_hooks tick). */
typedef struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *rcpt;        /* e-mail */
    size_t upload_off;              /* e-mail: bytes of body read by libcurl */
    al_buf resp;
    size_t resp_total;
} transfer;

typedef struct rec_list {
    rec *head, *tail;
    size_t n;
} rec_list;

typedef struct level_list {
    rec *head, *tail;
} level_list;

struct al_outbox {
    alert_ctx *ctx;
    CURLM *multi;
    al_target *targets;
    rec_list batched, ready, inflight;
    level_list by_level[ALERT_LEVEL_HIGH + 1];
    size_t notices;         /* notices among the queued messages */
    uint64_t evict_steps;   /* messages looked at to choose what a full queue drops */
    _Atomic int64_t stop_mono, stop_clock;  /* al_outbox_set_deadline; INT64_MAX: none */
    int64_t next_flush_ms;
    uint64_t rng;
    uint64_t dropped_for_notice;
    al_type dropped_type;
    size_t max_transfers;
    uint64_t finished;      /* transfers completed, ever */
    CURL *idle[MAX_INFLIGHT];   /* easy handles kept for reuse (reset between transfers) */
    size_t n_idle;
    int unsaved;            /* state_path: a queued message may lack its row (disk full) */
};

static void list_push(rec_list *l, rec *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
    atomic_fetch_add_explicit(&r->target->n_queued, 1, memory_order_relaxed);
}

static void list_remove(rec_list *l, rec *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
    atomic_fetch_sub_explicit(&r->target->n_queued, 1, memory_order_relaxed);
}

static void transfer_free(rec *r)
{
    transfer *x = r->xfer;
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->rcpt);
    al_buf_free(&x->resp);
    al_free(x);
    r->xfer = NULL;
}

static void rec_free(rec *r)
{
    if (!r)
        return;
    for (rec *p = r->pack, *n; p; p = n) {
        n = p->pack;
        p->pack = NULL;
        rec_free(p);
    }
    transfer_free(r);
    al_free(r->text);
    al_free(r->merged);
    if (!r->body_borrowed)
        al_free(r->body);
    al_alert_free(r->alert);
    al_free(r);
}

static int level_slot(int level)
{
    return level < ALERT_LEVEL_LOW ? ALERT_LEVEL_LOW : level > ALERT_LEVEL_HIGH ? ALERT_LEVEL_HIGH
                                                                                : level;
}

static void level_link(al_outbox *o, rec *r)
{
    level_list *l = &o->by_level[level_slot(r->level)];
    r->lv_next = NULL;
    r->lv_prev = l->tail;
    if (l->tail)
        l->tail->lv_next = r;
    else
        l->head = r;
    l->tail = r;
    r->in_level = 1;
    o->notices += r->notice != 0;
}

static void level_unlink(al_outbox *o, rec *r)
{
    if (!r->in_level)
        return;
    level_list *l = &o->by_level[level_slot(r->level)];
    if (r->lv_prev)
        r->lv_prev->lv_next = r->lv_next;
    else
        l->head = r->lv_next;
    if (r->lv_next)
        r->lv_next->lv_prev = r->lv_prev;
    else
        l->tail = r->lv_prev;
    r->lv_prev = r->lv_next = NULL;
    r->in_level = 0;
    o->notices -= r->notice != 0;
}

/* A queued message whose fate is known goes: out of its level list, then freed. */
static void rec_drop(al_outbox *o, rec *r)
{
    level_unlink(o, r);
    rec_free(r);
}

static void update_depth(al_outbox *o)
{
    atomic_store(&o->ctx->n.queue_depth, o->batched.n + o->ready.n + o->inflight.n);
}

static int is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_let_dig(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Local-part = Dot-string / Quoted-string (RFC 5321 4.1.2); returns its end or NULL. */
static const char *email_local_part(const char *p)
{
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            unsigned char c = (unsigned char)*p;
            /* qtextSMTP / quoted-pairSMTP, less '@' (libcurl splits at the first one),
             * '\\' as a quoted character and angle brackets (envelope parsers) */
            if (c == '\\')
                c = (unsigned char)*++p;
            if (c < 32 || c > 126 || strchr("@\\<>", c))
                return NULL;    /* also the end of the string: an unclosed quote */
        }
        return p + 1;
    }
    for (;;) {
        const char *atom = p;
        while (is_atext((unsigned char)*p))
            p++;
        if (p == atom)
            return NULL;
        if (*p != '.')
            return p;
        p++;
    }
}

/* Domain = sub-domain *("." sub-domain) / address-literal; returns 1 when it is all of p. */
static int email_domain(const char *p)
{
    if (*p == '[') {
        const char *lit = ++p;
        while (*p && *p != ']') {
            unsigned char c = (unsigned char)*p++;
            /* RFC 5321 dcontent, less what no literal needs and what would confuse an
             * envelope parser: '@', quotes and angle brackets */
            if (c < 33 || c > 126 || strchr("[\\@\"<>", c))
                return 0;
        }
        return *p == ']' && p > lit && p[1] == '\0';
    }
    for (;;) {
        const char *label = p;
        while (is_let_dig((unsigned char)*p) || *p == '-')
            p++;
        size_t n = (size_t)(p - label);
        if (n == 0 || n > 63 || label[0] == '-' || p[-1] == '-')
            return 0;
        if (*p == '\0')
            return 1;
        if (*p++ != '.')
            return 0;
    }
}

int al_email_address_ok(const char *addr)
{
    if (!addr)
        return 0;
    size_t len = strnlen(addr, AL_EMAIL_MAX + 1);
    if (len == 0 || len > AL_EMAIL_MAX)
        return 0;
    const char *at = email_local_part(addr);
    if (!at || *at != '@' || (size_t)(at - addr) > AL_EMAIL_LOCAL_MAX)
        return 0;
    return email_domain(at + 1);
}

void al_url_display(const char *url, char *out, size_t n)
{
    /* scheme://host[:port] and nothing of the path or credentials: URLs are secrets */
    const char *p = url ? strstr(url, "://") : NULL;
    if (!p) {
        snprintf(out, n, "(invalid URL)");
        return;
    }
    const char *host = p + 3;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at)
        host = at + 1;
    snprintf(out, n, "%.*s://%.*s", (int)(p - url), url, (int)(end - host), host);
}

al_outbox *al_outbox_new(alert_ctx *ctx)
{
    al_outbox *o = al_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->ctx = ctx;
    o->multi = curl_multi_init();
    if (!o->multi) {
        al_free(o);
        return NULL;
    }
    curl_multi_setopt(o->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_INFLIGHT);
    char hex[17];
    o->rng = al_random_hex(hex, 8) == 0 ? strtoull(hex, NULL, 16) : 0;
    o->rng ^= (uint64_t)(uintptr_t)o ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull;
    if (!o->rng)
        o->rng = 1;
    o->next_flush_ms = INT64_MIN;
    o->max_transfers = MAX_INFLIGHT;
    atomic_store(&o->stop_mono, INT64_MAX);
    atomic_store(&o->stop_clock, INT64_MAX);
    return o;
}

static void free_list(al_outbox *o, rec_list *l)
{
    rec *r = l->head;
    while (r) {
        rec *n = r->next;
        if (r->xfer && r->xfer->easy)
            curl_multi_remove_handle(o->multi, r->xfer->easy);
        rec_drop(o, r);
        r = n;
    }
    l->head = l->tail = NULL;
    l->n = 0;
}

static void store_resave(al_outbox *o, int until_failure, uint64_t *kept, uint64_t *unsaved);

void al_outbox_free(al_outbox *o)
{
    if (!o)
        return;
    uint64_t lost = o->batched.n + o->ready.n + o->inflight.n;
    al_fleet_stats fleet;
    al_state_fleet_stats(o->ctx->state, &fleet);
    if (fleet.on) {
        /* leaving: the fleet adopts what is still mirrored at once (the state's last round
         * sends the rows still to mirror first); a durable local copy stays too, and its
         * replay at the next start is a duplicate with the same idempotency key */
        al_state_fleet_leave(o->ctx->state);
        if (lost && fleet.connected) {
            al_ctx_log(o->ctx, ALERT_LOG_WARNING, "%llu deliveries still pending at shutdown are "
                       "handed over to the fleet", (unsigned long long)lost);
            if (!al_state_durable(o->ctx->state))
                lost = 0;
        }
    }
    if (lost && al_state_durable(o->ctx->state)) {
        /* what has a row is kept; what has none gets one last put, and what still
         * has none is said to be dropped, and counted */
        uint64_t kept, unsaved;
        o->unsaved = 1;
        store_resave(o, 0, &kept, &unsaved);
        if (kept)
            al_ctx_log(o->ctx, ALERT_LOG_WARNING, "%llu deliveries still pending at shutdown are "
                       "kept in state_path for the next start", (unsigned long long)kept);
        if (unsaved) {
            atomic_fetch_add(&o->ctx->n.deliveries_dropped, unsaved);
            al_ctx_log(o->ctx, ALERT_LOG_ERROR, "%llu deliveries still pending at shutdown could "
                       "not be saved in state_path (%s) and were dropped",
                       (unsigned long long)unsaved, al_state_last_error(o->ctx->state));
        }
    } else if (lost) {
        atomic_fetch_add(&o->ctx->n.deliveries_dropped, lost);
        al_ctx_log(o->ctx, ALERT_LOG_ERROR,
                   "%llu deliveries still pending at shutdown were dropped",
                   (unsigned long long)lost);
    }
    free_list(o, &o->batched);
    free_list(o, &o->ready);
    free_list(o, &o->inflight);
    al_target *t = o->targets;
    while (t) {
        al_target *n = t->next;
        al_free(t->url);
        al_free(t->config_url);
        al_free(t);
        t = n;
    }
    while (o->n_idle)
        curl_easy_cleanup(o->idle[--o->n_idle]);
    curl_multi_cleanup(o->multi);
    al_free(o);
}

/* "<N>/<unit>" or "<N>/<M><unit>": N per M units. 0 when malformed. */
static int parse_rate(const char *spec, double *per_ms, double *burst)
{
    char *end;
    double n = strtod(spec, &end);
    if (end == spec || *end != '/' || !(n > 0))
        return 0;
    const char *u = end + 1;
    double m = 1;
    if (*u >= '0' && *u <= '9') {
        m = strtod(u, &end);
        u = end;
    }
    double unit_ms = (*u == 's') ? 1000.0 : (*u == 'm') ? 60000.0 : (*u == 'h') ? 3600000.0 : 0;
    if (!(m > 0) || unit_ms == 0)
        return 0;
    *per_ms = n / (m * unit_ms);
    *burst = n;
    return 1;
}

/* Per target URL: Slack 1/s (burst 3), Discord 5 per 2 s, Teams 4/s, PagerDuty
 * 120/min, others unlimited; rate_limits overrides by destination name. */
static void set_rate_limit(al_outbox *o, al_target *t)
{
    static const struct { al_dest_kind kind; double per_s; double burst; size_t pack; } dflt[] = {
        { AL_DEST_SLACK, 1.0, 3, 40000 }, { AL_DEST_DISCORD, 2.5, 5, 2000 },
        { AL_DEST_MS_TEAMS, 4.0, 4, 27000 }, { AL_DEST_PAGERDUTY, 2.0, 120, 0 },
    };
    for (size_t i = 0; i < sizeof dflt / sizeof *dflt; i++)
        if (dflt[i].kind == t->kind) {
            t->rate_per_ms = dflt[i].per_s / 1000.0;
            t->burst = dflt[i].burst;
            t->pack_limit = dflt[i].pack;
        }
    const alert_config *c = &o->ctx->cfg;
    const char *name = t->custom ? t->custom->name : al_dest_name(t->kind);
    for (size_t i = 0; i < c->n_rate_limits; i++)
        if (strcmp(c->rate_limits[i].destination, name) == 0 &&
            !parse_rate(c->rate_limits[i].spec, &t->rate_per_ms, &t->burst))
            al_ctx_log(o->ctx, ALERT_LOG_WARNING, "rate_limits.%s: '%s' is not N/unit; ignored",
                       name, c->rate_limits[i].spec);
    t->tokens = t->burst;
    t->refill_ms = INT64_MIN;
}

/* Redis away: this replica's share of the fleet's bucket (rate_div 1: all of it). */
static double local_burst(const al_target *t)
{
    double b = t->burst / t->rate_div;
    return b < 1.0 ? 1.0 : b;
}

/* sha256("<kind>|<configured URL or transport name>"): equal on every replica of one
 * config, and no way back to the URL (a secret) for whoever reads Redis. */
static void fleet_name_target(al_target *t, const char *url)
{
    char buf[64];
    const char *name = url ? url : t->custom ? t->custom->name : "";
    size_t n = strlen(name) + 16;
    char *k = n > sizeof buf ? al_malloc(n) : buf;
    t->rate_div = 1;
    if (!k || (snprintf(k, n, "%d|%s", (int)t->kind, name),
               al_sha256_hex(k, strlen(k), t->fleet_hash) != 0))
        t->fleet_hash[0] = '\0';          /* not shared: decided locally */
    if (k != buf)
        al_free(k);
}

static void refill(al_target *t, int64_t now)
{
    if (t->rate_per_ms <= 0 || t->fleet_rate)
        return;             /* the fleet's grant is this pass's tokens */
    if (t->refill_ms != INT64_MIN && now > t->refill_ms) {
        t->tokens += (double)(now - t->refill_ms) * (t->rate_per_ms / t->rate_div);
        if (t->tokens > local_burst(t))
            t->tokens = local_burst(t);
    }
    if (t->refill_ms == INT64_MIN || now > t->refill_ms)
        t->refill_ms = now;
}

static int has_token(al_target *t, int64_t now)
{
    refill(t, now);
    return t->rate_per_ms <= 0 || t->tokens >= 1.0;
}

/* ctx-clock time at which t has a token again */
static int64_t token_at(const al_target *t)
{
    if (t->rate_per_ms <= 0 || t->tokens >= 1.0)
        return INT64_MIN;
    if (t->fleet_rate)
        return t->fleet_retry_at;   /* when the fleet's bucket has likely refilled */
    return t->refill_ms + (int64_t)ceil((1.0 - t->tokens) / (t->rate_per_ms / t->rate_div));
}

al_target *al_outbox_target(al_outbox *o, al_dest_kind kind, const char *url,
                            al_transport_ref *custom)
{
    for (al_target *t = o->targets; t; t = t->next)
        if (t->kind == kind && t->custom == custom &&
            ((!t->url && !url) || (t->config_url && url && strcmp(t->config_url, url) == 0)))
            return t;
    al_target *t = al_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = kind;
    t->custom = custom;
    if (url) {
        t->slack_compat = kind == AL_DEST_DISCORD && al_discord_is_slack_compat(url);
        t->url = kind == AL_DEST_DISCORD ? al_discord_url(url) : al_strdup(url);
        t->config_url = al_strdup(url);
        if (!t->url || !t->config_url) {
            al_free(t->url);
            al_free(t->config_url);
            al_free(t);
            return NULL;
        }
        al_url_display(url, t->display, sizeof t->display);
    } else {
        snprintf(t->display, sizeof t->display, "%s", custom ? custom->name : al_dest_name(kind));
    }
    set_rate_limit(o, t);
    fleet_name_target(t, url);
    t->next = o->targets;
    /* published whole: alert_metrics_format walks the list from any thread, and
     * alert_ctx_reconfigure adds targets while the context runs */
    __atomic_store_n(&o->targets, t, __ATOMIC_RELEASE);
    return t;
}

static uint64_t rng_next(al_outbox *o)
{
    uint64_t x = o->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return o->rng = x;
}

/* 0.5 s x 1.5^n, +-50 % jitter, capped at 60 s (Alertmanager's defaults). */
static int64_t backoff_ms(al_outbox *o, int attempt)
{
    double base = 500.0 * pow(1.5, attempt > 0 ? attempt - 1 : 0);
    if (base > 60000.0)
        base = 60000.0;
    double jitter = ((double)(rng_next(o) >> 11) / 9007199254740992.0) - 0.5; /* [-0.5, 0.5) */
    double ms = base * (1.0 + jitter);
    if (ms > 60000.0)
        ms = 60000.0;
    return (int64_t)ms;
}

/* msg_ + 32 hex digits, unique per delivery: a PRNG seeded from the system's
 * random source, so a key costs nanoseconds, not a call into OpenSSL. */
static void idempotency_key(al_outbox *o, char out[40])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "msg_", 4);
    for (int w = 0; w < 2; w++) {
        uint64_t v = rng_next(o) * 0x2545f4914f6cdd1dull;
        for (int i = 0; i < 16; i++, v >>= 4)
            out[4 + w * 16 + i] = hex[v & 15];
    }
    out[36] = '\0';
}

/* ---- the store: every queued message has a row until its fate is known ---- */

static al_state *store_of(const al_outbox *o)
{
    return o->ctx->state;
}

/* ---- fleet mode: the outbox mirrored for the fleet (libalerting-fleet(7)) ---- */

/* Message times run on the worker's clock; the fleet's on the wall clock. */
static int64_t wall_of(al_outbox *o, int64_t mono)
{
    return mono + (al_ctx_now(o->ctx) - al_ctx_mono(o->ctx));
}

/* m's row in this replica's mirror, with the attempt and retry time of the message it
 * rides with, and count alerts coalesced into it. */
static void mirror_put(al_outbox *o, const rec *m, const rec *carrier, int count, int fresh)
{
    al_state *st = store_of(o);
    if (!al_state_fleet(st) || !m->target->fleet_hash[0])
        return;
    char *extra = al_alert_to_json(m->alert, count);
    if (!extra)
        return;     /* out of memory: this one is not mirrored (a loss only if we die too) */
    al_spool_row row;
    memset(&row, 0, sizeof row);
    row.target_kind = m->target->kind;
    row.level = m->level;
    row.attempt = carrier->attempt;
    row.target = m->target->fleet_hash;
    row.alert_type = al_types[m->type].name;
    row.text = m->text;
    row.extra = extra;
    row.idem = m->idem;
    row.created_ms = wall_of(o, m->created_ms);
    row.next_at_ms = wall_of(o, carrier->next_at_ms);
    row.deadline_ms = wall_of(o, m->deadline_ms);
    al_state_mirror_put(st, &row, fresh);
    al_free(extra);
}

static void mirror_forget(al_outbox *o, const rec *r)
{
    al_state *st = store_of(o);
    if (!al_state_fleet(st))
        return;
    for (const rec *m = r; m; m = m->pack)
        al_state_mirror_delete(st, m->idem);
}

/* A batch the store rolled back (a full disk at commit) took rows with it, and
 * their ids will be given again: forget them before the store is used, and put
 * those messages again later. */
static void store_check(al_outbox *o)
{
    al_state *st = store_of(o);
    int64_t lost = al_state_spool_take_lost(st);
    if (!lost)
        return;
    rec_list *lists[3] = { &o->batched, &o->ready, &o->inflight };
    for (int li = 0; li < 3; li++)
        for (rec *r = lists[li]->head; r; r = r->next)
            for (rec *m = r; m; m = m->pack) {
                if (m->store_id >= lost) {
                    m->store_id = 0;
                    o->unsaved = 1;
                }
                size_t kept = 0;
                for (size_t i = 0; i < m->n_merged; i++)
                    if (m->merged[i] < lost)
                        m->merged[kept++] = m->merged[i];
                m->n_merged = kept;
            }
}

static int spool_put(al_outbox *o, rec *r, int count)
{
    al_state *st = store_of(o);
    char *extra = al_alert_to_json(r->alert, count);
    if (!extra)
        return ALERT_ERR_NOMEM;
    al_spool_row row;
    memset(&row, 0, sizeof row);
    row.target_kind = r->target->kind;
    row.level = r->level;
    row.attempt = r->attempt;
    row.target = r->target->custom ? r->target->custom->name : r->target->config_url;
    row.alert_type = al_types[r->type].name;
    row.text = r->text;
    row.extra = extra;
    row.idem = r->idem;
    row.created_ms = r->created_ms;
    row.next_at_ms = r->next_at_ms;
    row.deadline_ms = r->deadline_ms;
    int rc = al_state_spool_put(st, &row, &r->store_id);
    if (rc != ALERT_OK)
        r->store_id = 0;
    al_free(extra);
    return rc;
}

/* fresh: its mirror row does not exist (a new message, or its row was forgotten) */
static void store_put(al_outbox *o, rec *r, int count)
{
    mirror_put(o, r, r, count, 1);
    if (!al_state_durable(store_of(o)))
        return;                 /* no spool: the outbox is the only copy */
    store_check(o);
    int rc = spool_put(o, r, count);
    if (rc != ALERT_OK && !o->unsaved)     /* once until the store takes them again */
        al_ctx_error(o->ctx, "state_path: a pending delivery could not be saved (%s); "
                     "it is tried again on the next passes",
                     rc == ALERT_ERR_NOMEM ? "out of memory" : al_state_last_error(store_of(o)));
    if (rc != ALERT_OK)
        o->unsaved = 1;
}

/* Puts again the queued messages that have no row: on each pass until one put
 * fails (until_failure), or all of them at shutdown. Counts what has a row and
 * what has none when it returns. */
static void store_resave(al_outbox *o, int until_failure, uint64_t *kept, uint64_t *unsaved)
{
    store_check(o);
    *kept = *unsaved = 0;
    uint64_t saved_now = 0;
    int failed = 0;
    rec_list *lists[3] = { &o->batched, &o->ready, &o->inflight };
    for (int li = 0; li < 3; li++)
        for (rec *r = lists[li]->head; r; r = r->next)
            for (rec *m = r; m; m = m->pack) {
                if (!m->store_id && !(failed && until_failure)) {
                    /* rows of coalesced twins still stand for themselves */
                    int count = m->count - (int)m->n_merged;
                    if (spool_put(o, m, count < 1 ? 1 : count) == ALERT_OK)
                        saved_now++;
                    else
                        failed = 1;
                }
                if (m->store_id)
                    (*kept)++;
                else
                    (*unsaved)++;
            }
    if (!*unsaved) {
        o->unsaved = 0;
        if (saved_now)
            al_ctx_log(o->ctx, ALERT_LOG_INFO, "state_path: %llu pending deliveries saved "
                       "after an earlier failure", (unsigned long long)saved_now);
    }
}

static void store_retry(al_outbox *o, rec *r)
{
    for (rec *m = r; m; m = m->pack)
        mirror_put(o, m, r, m->count, 0);
    store_check(o);
    for (rec *m = r; m; m = m->pack)
        if (m->store_id)
            al_state_spool_update(store_of(o), m->store_id, r->attempt, r->next_at_ms);
}

/* The message's fate is known: its rows go, and those of what rode with it. */
static void store_forget(al_outbox *o, rec *r)
{
    al_state *st = store_of(o);
    mirror_forget(o, r);
    store_check(o);
    for (rec *m = r; m; m = m->pack) {
        if (m->store_id)
            al_state_spool_delete(st, m->store_id);
        for (size_t i = 0; i < m->n_merged; i++)
            al_state_spool_delete(st, m->merged[i]);
    }
}

/* A message whose target alert_ctx_reconfigure retired, out of every list: to the
 * destination's new target (its rows put again, naming it), or dropped, counted and
 * logged when the destination was removed. 1: r is kept; 0: r was freed. */
static int follow_target(al_outbox *o, rec *r, uint64_t *dropped)
{
    al_target *t = r->target;
    if (t->moved_to) {
        store_forget(o, r);
        for (rec *m = r; m; m = m->pack) {
            m->target = t->moved_to;
            m->store_id = 0;
            m->n_merged = 0;        /* their rows went with store_forget */
            if (!m->body_borrowed)
                al_free(m->body);   /* built for the old target (a key, a URL) */
            m->body = NULL;
            m->body_borrowed = 0;
        }
        for (rec *m = r; m; m = m->pack)
            store_put(o, m, m->count);
        return 1;
    }
    if (!t->removed)
        return 1;
    uint64_t n = 1 + (uint64_t)r->pack_n;
    atomic_fetch_add(&o->ctx->n.deliveries_dropped, n);
    atomic_fetch_add_explicit(&t->n_dropped, n, memory_order_relaxed);
    *dropped += n;
    store_forget(o, r);
    rec_drop(o, r);
    return 0;
}

static void log_removed(al_outbox *o, const al_target *t, uint64_t n)
{
    al_ctx_log(o->ctx, ALERT_LOG_WARNING, "alert_ctx_reconfigure: %llu pending deliveries to %s "
               "(%s) dropped: the destination was removed", (unsigned long long)n,
               t->custom ? t->custom->name : al_dest_name(t->kind), t->display);
}

static int same_destination(const al_target *a, const al_target *b)
{
    if (a->kind != b->kind)
        return 0;
    return a->kind != AL_DEST_CUSTOM || strcmp(a->custom->name, b->custom->name) == 0;
}

void al_outbox_reroute(al_outbox *o, int (*in_use)(void *ud, const al_target *t), void *ud)
{
    for (al_target *t = o->targets; t; t = t->next) {
        t->moved_to = NULL;
        t->removed = 0;
        if (in_use(ud, t))
            continue;
        for (al_target *u = o->targets; u && !t->moved_to; u = u->next)
            if (u != t && same_destination(t, u) && in_use(ud, u))
                t->moved_to = u;
        t->removed = !t->moved_to;
    }
    /* what is in flight finishes on its old target; a retry follows (finish) */
    rec_list *lists[2] = { &o->batched, &o->ready };
    for (al_target *t = o->targets; t; t = t->next) {
        if (!t->moved_to && !t->removed)
            continue;
        uint64_t dropped = 0;
        for (int li = 0; li < 2; li++)
            for (rec *r = lists[li]->head, *next; r; r = next) {
                next = r->next;
                if (r->target != t)
                    continue;
                list_remove(lists[li], r);
                if (follow_target(o, r, &dropped))
                    list_push(lists[li], r);
            }
        if (dropped)
            log_removed(o, t, dropped);
    }
    update_depth(o);
}

static void count_dropped(al_outbox *o, al_type type, uint64_t n)
{
    atomic_fetch_add(&o->ctx->n.deliveries_dropped, n);
    if (!o->dropped_for_notice)
        o->dropped_type = type;
    o->dropped_for_notice += n;
}

/* The queue is full: the oldest item of the lowest level goes, never one in flight.
 * Returns 0 when everything queued outranks the newcomer (then it is the one dropped).
 * The head of a level list is its oldest message; only messages in flight (at most
 * MAX_INFLIGHT) are stepped over, so a drop costs no walk of the queue. */
static int drop_oldest_low(al_outbox *o, int new_level)
{
    for (int level = ALERT_LEVEL_LOW; level <= level_slot(new_level); level++)
        for (rec *r = o->by_level[level].head; r; r = r->lv_next) {
            o->evict_steps++;
            if (r->state == REC_INFLIGHT)
                continue;
            list_remove(r->state == REC_BATCHED ? &o->batched : &o->ready, r);
            store_forget(o, r);
            if (r->notice)      /* a notice is about alerts lost, not one to announce */
                atomic_fetch_add(&o->ctx->n.deliveries_dropped, 1 + (uint64_t)r->pack_n);
            else
                count_dropped(o, r->type, 1 + (uint64_t)r->pack_n);
            rec_drop(o, r);
            return 1;
        }
    return 0;
}

int al_outbox_enqueue(al_outbox *o, al_target *t, al_alert *a, const char *text)
{
    alert_ctx *ctx = o->ctx;
    if (t->dead) {
        atomic_fetch_add(&ctx->n.deliveries_failed, 1);
        atomic_fetch_add_explicit(&t->n_failed, 1, memory_order_relaxed);
        return ALERT_ERR_TRANSPORT;
    }
    /* max_queue bounds everything queued, notices included; notices alone may go beyond
     * it, by at most AL_OUTBOX_NOTICE_RESERVE, so that a full queue can still say so */
    size_t pending = o->batched.n + o->ready.n + o->inflight.n;
    if ((int64_t)pending >= ctx->cfg.max_queue &&
        !(a->notice && o->notices < AL_OUTBOX_NOTICE_RESERVE) && !drop_oldest_low(o, a->level)) {
        if (a->notice)
            atomic_fetch_add(&ctx->n.deliveries_dropped, 1);
        else
            count_dropped(o, a->type, 1);
        return ALERT_ERR_FULL;
    }
    rec *r = al_calloc(1, sizeof *r);
    if (!r)
        return ALERT_ERR_NOMEM;
    r->target = t;
    r->type = a->type;
    r->level = a->level;
    r->notice = a->notice;
    r->count = 1;
    r->retry_after_s = -1;
    r->text = al_strdup(text);
    if (!r->text) {
        rec_free(r);
        return ALERT_ERR_NOMEM;
    }
    r->alert = al_alert_retain(a);
    if (a->idem)
        snprintf(r->idem, sizeof r->idem, "%s", a->idem);      /* a fleet report's own */
    else
        idempotency_key(o, r->idem);
    int64_t now = al_ctx_mono(ctx);       /* durations: the worker's clock */
    r->created_ms = now;
    r->deadline_ms = now + (int64_t)(ctx->cfg.delivery_deadline * 1000.0);
    r->state = REC_BATCHED;
    r->next_at_ms = now;
    store_put(o, r, 1);
    list_push(&o->batched, r);
    level_link(o, r);
    update_depth(o);
    return ALERT_OK;
}

/* Identical texts to one target in one flush are sent once, as "[Num Alerts: N]";
 * distinct alerts are never merged. A hash of (target, type, text) finds twins, so
 * a flush of many alerts is linear. */
static rec *find_twin(rec **slots, size_t mask, uint64_t h, const rec *r, size_t *at)
{
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        rec *q = slots[i];
        if (!q) {
            *at = i;
            return NULL;
        }
        if (q->target == r->target && q->type == r->type && strcmp(q->text, r->text) == 0)
            return q;
    }
}

static void flush_batch(al_outbox *o, int64_t now)
{
    size_t cap = 16;
    while (cap < o->batched.n * 2)
        cap *= 2;
    rec **slots = al_calloc(cap, sizeof *slots);    /* NULL: no merging this time */
    rec *r;
    while ((r = o->batched.head)) {
        list_remove(&o->batched, r);
        if (slots) {
            uint64_t h = al_hash_bytes(r->text, strlen(r->text),
                                       (uint64_t)(uintptr_t)r->target ^ (uint64_t)r->type);
            size_t at;
            rec *twin = find_twin(slots, cap - 1, h, r, &at);
            if (twin) {
                twin->count++;
                if (r->level > twin->level) {
                    level_unlink(o, twin);
                    twin->level = r->level;
                    level_link(o, twin);
                }
                if (r->store_id) {      /* its row stays until the twin's fate is known */
                    int64_t *m = al_realloc(twin->merged, (twin->n_merged + 1) * sizeof *m);
                    if (m) {
                        twin->merged = m;
                        twin->merged[twin->n_merged++] = r->store_id;
                    }
                }
                atomic_fetch_add(&o->ctx->n.alerts_coalesced, 1);
                mirror_forget(o, r);            /* the twin's row counts it now */
                mirror_put(o, twin, twin, twin->count, 0);
                rec_drop(o, r);
                continue;
            }
            slots[at] = r;
        }
        r->state = REC_READY;
        r->next_at_ms = now;
        list_push(&o->ready, r);
    }
    al_free(slots);
    update_depth(o);
}

al_dest_kind al_outbox_target_kind(const al_target *t)
{
    return t->kind;
}

static al_fmt_env fmt_env(const al_outbox *o)
{
    const alert_ctx *ctx = o->ctx;
    al_fmt_env env = { ctx->instance, al_ctx_now(ctx), ctx->cfg.alertmanager_resolve_after,
                       ctx->cfg.proxy_base_url, ctx->fmt.fleet };
    return env;
}

static const char *email_sender(const alert_config *c)
{
    return al_email_address_ok(c->smtp_sender_email) ? c->smtp_sender_email
                                                     : "libalerting@localhost";
}

/* The recipients of a message, email_recipients then the alert's own (alert_emails,
 * user_email), into to (room for both lists). An address that is no RFC 5321 mailbox is
 * left out: CR/LF in it would be SMTP commands of their own. Returns how many are kept;
 * *bad counts the alert's addresses left out (those of the config were logged at create). */
static size_t email_recipients(const alert_config *c, const al_alert *a, const char **to,
                               size_t *bad)
{
    size_t k = 0;
    *bad = 0;
    for (size_t i = 0; i < c->email_recipients.n; i++)
        if (al_email_address_ok(c->email_recipients.items[i]))
            to[k++] = c->email_recipients.items[i];
    for (size_t i = 0; i < a->emails.n; i++) {
        if (al_email_address_ok(a->emails.items[i]))
            to[k++] = a->emails.items[i];
        else
            (*bad)++;
    }
    return k;
}

static char *email_message(al_outbox *o, const rec *r, const char *text)
{
    const alert_config *c = &o->ctx->cfg;
    size_t n = c->email_recipients.n + r->alert->emails.n, bad;
    const char **to = al_calloc(n ? n : 1, sizeof *to);
    if (!to)
        return NULL;
    size_t k = email_recipients(c, r->alert, to, &bad);
    if (bad) {
        /* counted once per message (the body is built once), never with the address's
         * bytes: they are user data, and may be an injection attempt */
        atomic_fetch_add(&o->ctx->n.deliveries_failed, bad);
        al_ctx_log(o->ctx, ALERT_LOG_WARNING, "email: %zu recipient address%s of a %s alert %s "
                   "not a valid e-mail address (RFC 5321 mailbox) and %s dropped", bad,
                   bad == 1 ? "" : "es", al_types[r->type].name, bad == 1 ? "is" : "are",
                   bad == 1 ? "was" : "were");
    }
    al_fmt_env env = fmt_env(o);
    char *msg = al_fmt_email(&env, r->alert, text, email_sender(c), to, k, r->idem);
    al_free(to);
    return msg;
}

/* The generic event JSON of an alert, made once for all its webhook and custom deliveries
 * (the same bytes for each): borrowed from the alert. When alert_ctx_reconfigure has
 * changed the instance name since, NULL: the caller makes its own (the kept one may be
 * borrowed by a message still waiting for a retry). */
static const char *shared_event_json(al_outbox *o, al_alert *a)
{
    const char *instance = o->ctx->fmt.instance ? o->ctx->fmt.instance : "";
    if (!a->event_json) {
        a->event_json = al_fmt_event_json_with(&o->ctx->fmt, a, instance, NULL);
        return a->event_json;
    }
    const char *carried = a->event_json + strlen(a->event_json) + 1;
    return strcmp(carried, instance) == 0 ? a->event_json : NULL;
}

/* The payload of a message, in its destination's format. */
static char *build_body(al_outbox *o, rec *r)
{
    al_alert *a = r->alert;
    al_dest_kind kind = r->target->kind;
    if (kind != AL_DEST_SLACK && kind != AL_DEST_DISCORD && kind != AL_DEST_MS_TEAMS &&
        kind != AL_DEST_PAGERDUTY && kind != AL_DEST_ALERTMANAGER && kind != AL_DEST_EMAIL) {
        /* the alert's own JSON: no copy per delivery */
        const char *shared = a->webhook_json ? a->webhook_json : shared_event_json(o, a);
        r->body_borrowed = shared != NULL;
        return shared ? (char *)shared : al_fmt_event_json(&o->ctx->fmt, a);
    }
    al_buf text = AL_BUF_INIT;
    for (const rec *m = r; m; m = m->pack) {
        if (m != r)
            al_buf_adds(&text, "\n\n---\n\n");
        if (m->count > 1)
            al_buf_printf(&text, "[Num Alerts: %d]\n\n", m->count);
        al_buf_adds(&text, m->text);
    }
    if (text.oom) {
        al_buf_free(&text);
        return NULL;
    }
    al_fmt_env env = fmt_env(o);
    char *body = NULL;
    switch (r->target->kind) {
    case AL_DEST_SLACK:
        body = al_fmt_slack_body(text.data);
        break;
    case AL_DEST_DISCORD:
        body = r->target->slack_compat ? al_fmt_discord_slack_body(text.data) : al_fmt_discord_body(text.data);
        break;
    case AL_DEST_MS_TEAMS:
        body = al_fmt_teams_body(text.data);
        break;
    case AL_DEST_PAGERDUTY:
        body = al_fmt_pagerduty_body(&env, a, o->ctx->cfg.pagerduty_api_key, NULL);
        break;
    case AL_DEST_ALERTMANAGER:
        body = al_fmt_alertmanager_body(&env, a);
        break;
    case AL_DEST_EMAIL:
        body = email_message(o, r, text.data);
        break;
    default:    /* webhook and custom: above */
        break;
    }
    al_buf_free(&text);
    return body;
}

static void finish(al_outbox *o, rec *r, al_outcome out, long status, const char *why, int64_t now)
{
    alert_ctx *ctx = o->ctx;
    al_target *t = r->target;
    uint64_t n = 1 + (uint64_t)r->pack_n;     /* alerts carried by this message */
    if (out == AL_OUT_OK) {
        t->failing = 0;
        t->blocked_until = 0;
    }
    if (out != AL_OUT_RETRY && out != AL_OUT_RATE_LIMITED)
        level_unlink(o, r);     /* its fate is known */
    switch (out) {
    case AL_OUT_OK:
        atomic_fetch_add(&ctx->n.deliveries_ok, n);
        atomic_fetch_add_explicit(&t->n_ok, n, memory_order_relaxed);
        atomic_store_explicit(&t->last_ok_ms, al_ctx_now(ctx), memory_order_relaxed);
        for (rec *m = r; m; m = m->pack)
            m->alert->delivered_ok = 1;
        store_forget(o, r);
        if (ctx->cfg.log_to_console) {
            /* a body may carry a credential (PagerDuty's routing_key) */
            char *shown = al_scrub_secrets(r->body ? r->body : "");
            al_ctx_log(ctx, ALERT_LOG_INFO, "%s: delivered to %s: %s", al_dest_name(t->kind),
                       t->display, shown ? shown : "(out of memory)");
            al_free(shown);
        }
        rec_free(r);
        break;
    case AL_OUT_RETRY:
    case AL_OUT_RATE_LIMITED: {
        int64_t delay = backoff_ms(o, r->attempt);
        if (out == AL_OUT_RATE_LIMITED && r->retry_after_s >= 0)
            delay = (int64_t)ceil(r->retry_after_s * 1000.0);
        if (out == AL_OUT_RATE_LIMITED && t->rate_per_ms > 0 && t->fleet_hash[0] &&
            ctx->cfg.fleet_rate_limits && al_state_fleet(store_of(o)))
            al_state_rate_block(store_of(o), t->fleet_hash, al_ctx_now(ctx) + delay);
        if (now + delay > r->deadline_ms) {
            atomic_fetch_add(&ctx->n.deliveries_dropped, n);
            atomic_fetch_add_explicit(&t->n_dropped, n, memory_order_relaxed);
            al_ctx_error(ctx, "%s delivery to %s dropped after %d attempts: %s (delivery_deadline)",
                         al_dest_name(t->kind), t->display, r->attempt, why);
            store_forget(o, r);
            rec_drop(o, r);
            break;
        }
        atomic_fetch_add(&ctx->n.deliveries_retried, n);
        atomic_fetch_add_explicit(&t->n_retried, n, memory_order_relaxed);
        al_ctx_note(ctx, "%s delivery to %s failed (%s); retrying", al_dest_name(t->kind), t->display, why);
        al_ctx_log(ctx, ALERT_LOG_WARNING, "%s delivery to %s failed (%s); retry %d in %.1fs",
                   al_dest_name(t->kind), t->display, why, r->attempt + 1, (double)delay / 1000.0);
        r->state = REC_READY;
        r->next_at_ms = now + delay;
        r->retry_after_s = -1;
        t->failing = 1;
        if (r->next_at_ms > t->blocked_until)
            t->blocked_until = r->next_at_ms;
        store_retry(o, r);
        if (t->moved_to || t->removed) {    /* alert_ctx_reconfigure retired t meanwhile */
            uint64_t dropped = 0;
            if (!follow_target(o, r, &dropped)) {
                log_removed(o, t, dropped);
                break;
            }
        }
        list_push(&o->ready, r);
        break;
    }
    case AL_OUT_DEAD:
        if (!t->dead) {
            t->dead = 1;
            atomic_fetch_add(&ctx->n.destinations_dead, 1);
            al_ctx_error(ctx, "%s target %s answered HTTP %ld: disabled until the ctx is recreated",
                         al_dest_name(t->kind), t->display, status);
        }
        atomic_fetch_add(&ctx->n.deliveries_failed, n);
        atomic_fetch_add_explicit(&t->n_failed, n, memory_order_relaxed);
        store_forget(o, r);
        rec_drop(o, r);
        /* whatever else waits for it will not get through either */
        for (rec *q = o->ready.head, *qn; q; q = qn) {
            qn = q->next;
            if (q->target == t) {
                list_remove(&o->ready, q);
                atomic_fetch_add(&ctx->n.deliveries_failed, 1 + (uint64_t)q->pack_n);
                atomic_fetch_add_explicit(&t->n_failed, 1 + (uint64_t)q->pack_n, memory_order_relaxed);
                store_forget(o, q);
                rec_drop(o, q);
            }
        }
        break;
    case AL_OUT_GIVE_UP:
        atomic_fetch_add(&ctx->n.deliveries_failed, n);
        atomic_fetch_add_explicit(&t->n_failed, n, memory_order_relaxed);
        al_ctx_error(ctx, "%s delivery to %s failed: %s (not retried)", al_dest_name(t->kind),
                     t->display, why);
        store_forget(o, r);
        rec_drop(o, r);
        break;
    }
    update_depth(o);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    rec *r = ud;
    size_t len = size * n;
    r->xfer->resp_total += len;
    if (r->xfer->resp_total > BODY_LIMIT)
        return 0;
    if (r->xfer->resp.len < BODY_KEEP) {
        size_t keep = BODY_KEEP - r->xfer->resp.len;
        al_buf_add(&r->xfer->resp, p, len < keep ? len : keep);
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    rec *r = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[128];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof v)
            vl = sizeof v - 1;
        memcpy(v, p + sizeof name - 1, vl);
        v[vl] = '\0';
        char *s = v + strspn(v, " \t");
        s[strcspn(s, "\r\n")] = '\0';
        char *end;
        double secs = strtod(s, &end);
        if (end != s && *end == '\0' && isfinite(secs) && secs >= 0) {
            r->retry_after_s = secs > 86400 ? 86400 : secs;
        } else {
            time_t when = curl_getdate(s, NULL);
            if (when != (time_t)-1) {
                double d = difftime(when, time(NULL));
                r->retry_after_s = d < 0 ? 0 : (d > 86400 ? 86400 : d);
            }
        }
    }
    return len;
}

static int add_header(struct curl_slist **hs, const char *h)
{
    struct curl_slist *n = curl_slist_append(*hs, h);
    if (!n)
        return -1;
    *hs = n;
    return 0;
}

/* Standard Webhooks: a timestamp from the ctx clock and the signature over
 * "id.timestamp.body", made again on every attempt (receivers check freshness). */
static int add_signature(al_outbox *o, rec *r, struct curl_slist **hs)
{
    const char *secret = o->ctx->cfg.webhook_secret;
    if (!secret || r->target->kind != AL_DEST_WEBHOOK)
        return 0;
    int64_t ts = al_ctx_now(o->ctx) / 1000;
    char sig[160], h[200];
    if (al_webhook_sign(secret, r->idem, ts, r->body, strlen(r->body), sig, sizeof sig) != 0)
        return -1;
    snprintf(h, sizeof h, "webhook-timestamp: %lld", (long long)ts);
    if (add_header(hs, h) < 0)
        return -1;
    snprintf(h, sizeof h, "webhook-signature: %s", sig);
    return add_header(hs, h);
}

static size_t on_upload(char *p, size_t size, size_t n, void *ud)
{
    rec *r = ud;
    size_t len = strlen(r->body);
    size_t left = len - r->xfer->upload_off;
    size_t take = size * n < left ? size * n : left;
    memcpy(p, r->body + r->xfer->upload_off, take);
    r->xfer->upload_off += take;
    return take;
}

static int setup_smtp(al_outbox *o, rec *r, CURL *e)
{
    const alert_config *c = &o->ctx->cfg;
    size_t n = c->email_recipients.n + r->alert->emails.n, bad;
    const char **to = al_calloc(n ? n : 1, sizeof *to);
    if (!to)
        return -1;
    size_t k = email_recipients(c, r->alert, to, &bad);
    for (size_t i = 0; i < k; i++)
        if (add_header(&r->xfer->rcpt, to[i]) < 0) {
            al_free(to);
            return -1;
        }
    al_free(to);
    if (!r->xfer->rcpt)
        return -2;
    r->xfer->upload_off = 0;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, email_sender(c));
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->xfer->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)strlen(r->body));
    if (c->smtp_username)
        curl_easy_setopt(e, CURLOPT_USERNAME, c->smtp_username);
    if (c->smtp_password)
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->smtp_password);
    const char *tls = c->smtp_tls;
    if (tls && (strcasecmp(tls, "true") == 0 || strcmp(tls, "1") == 0 || strcasecmp(tls, "yes") == 0))
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    return 0;
}

static int setup_http(al_outbox *o, rec *r, CURL *e)
{
    char h[96];
    const char *fixed[] = { "Content-Type: application/json", "Expect:",
                            "User-Agent: libalerting/" ALERT_VERSION_STRING };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (add_header(&r->xfer->headers, fixed[i]) < 0)
            return -1;
    snprintf(h, sizeof h, "webhook-id: %s", r->idem);
    if (add_header(&r->xfer->headers, h) < 0 || add_signature(o, r, &r->xfer->headers) < 0)
        return -1;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->xfer->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    return 0;
}

/* A finished handle is reset and kept: creating one per message costs the worker. */
static void release_easy(al_outbox *o, CURL *e)
{
    if (o->n_idle < MAX_INFLIGHT) {
        curl_easy_reset(e);
        o->idle[o->n_idle++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

/* 0 started; -1 could not (retry later); -2 nothing to send it to (give up). */
static int start_transfer(al_outbox *o, rec *r)
{
    const alert_config *cfg = &o->ctx->cfg;
    transfer_free(r);
    if (!(r->xfer = al_calloc(1, sizeof *r->xfer)))
        return -1;
    CURL *e = o->n_idle ? o->idle[--o->n_idle] : curl_easy_init();
    if (!e) {
        transfer_free(r);
        return -1;
    }
    r->xfer->easy = e;
    r->retry_after_s = -1;
    int rc = r->target->kind == AL_DEST_EMAIL ? setup_smtp(o, r, e) : setup_http(o, r, e);
    if (rc == 0) {
        curl_easy_setopt(e, CURLOPT_URL, r->target->url);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);    /* redirects are never followed */
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(cfg->http_timeout * 1000.0));
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(e, CURLOPT_PRIVATE, r);
        if (cfg->ca_bundle)
            curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_bundle);
        if (cfg->proxy)
            curl_easy_setopt(e, CURLOPT_PROXY, cfg->proxy);
        if (cfg->insecure_skip_verify) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (curl_multi_add_handle(o->multi, e) == CURLM_OK)
            return 0;
        rc = -1;
    }
    release_easy(o, e);
    r->xfer->easy = NULL;
    transfer_free(r);
    return rc;
}

static void send_custom(al_outbox *o, rec *r, int64_t now)
{
    al_transport_ref *tr = r->target->custom;
    alert_delivery d;
    memset(&d, 0, sizeof d);
    d.version = ALERT_DELIVERY_VERSION;
    d.destination = tr->name;
    d.url = NULL;
    d.alert_type = al_types[r->type].name;
    d.level = r->level;
    d.content_type = "application/json";
    d.body = r->body;
    d.body_len = strlen(r->body);
    al_buf text = AL_BUF_INIT;     /* a single alert's text goes as it is: no copy */
    if (r->count > 1) {
        al_buf_printf(&text, "[Num Alerts: %d]\n\n", r->count);
        al_buf_adds(&text, r->text);
    }
    d.text = r->count <= 1 ? r->text : text.data ? text.data : "";
    d.idempotency_key = r->idem;
    d.attempt = r->attempt;
    int rc = tr->vt.send(&d, tr->userdata);
    al_buf_free(&text);
    char why[64] = "";
    if (rc != ALERT_OK)
        snprintf(why, sizeof why, "transport returned %s", alert_err_name(rc));
    finish(o, r, rc == ALERT_OK ? AL_OUT_OK : rc == ALERT_ERR_TRANSPORT ? AL_OUT_RETRY : AL_OUT_GIVE_UP,
           0, why, now);
}

/* A throttled target gets the distinct alerts waiting for it in one message (each
 * with its own envelope) up to the size limit, instead of a minute of single posts. */
static void pack_waiting(al_outbox *o, rec *r, int64_t now)
{
    al_target *t = r->target;
    if (!t->pack_limit || r->body || r->pack)
        return;
    size_t waiting = 0;
    for (rec *q = r; q; q = q->next)
        waiting += q->target == t && q->next_at_ms <= now && !q->body;
    if ((double)waiting <= t->tokens)
        return;
    size_t size = strlen(r->text) + 32;
    rec *tail = r;
    for (rec *q = r->next, *n; q; q = n) {
        n = q->next;
        if (q->target != t || q->next_at_ms > now || q->body || q->pack)
            continue;
        size_t add = strlen(q->text) + 40;
        if (size + add > t->pack_limit)
            break;
        size += add;
        list_remove(&o->ready, q);
        level_unlink(o, q);     /* it rides with r now, and goes with it */
        tail->pack = q;
        tail = q;
        r->pack_n++;
    }
}

/* Transfers one target may hold: an equal share of max_transfers among the live HTTP and
 * SMTP targets, so that one that accepts and never answers cannot hold the transfers the
 * others need (with one target, it has them all). */
static size_t transfer_share(al_outbox *o, int *has_custom)
{
    size_t targets = 0;
    *has_custom = 0;
    for (al_target *t = o->targets; t; t = t->next) {
        if (t->kind == AL_DEST_CUSTOM)
            *has_custom = 1;
        else if (!t->dead)
            targets++;
    }
    size_t share = targets ? o->max_transfers / targets : o->max_transfers;
    return share ? share : 1;
}

static void start_due(al_outbox *o, int64_t now)
{
    int has_custom;
    size_t share = transfer_share(o, &has_custom);
    rec *r = o->ready.head;
    while (r) {
        al_target *t = r->target;
        if (o->inflight.n >= o->max_transfers && !has_custom)
            break;      /* no transfer can start, and there is nothing else to do */
        /* a send() blocks the worker: none starts once a flush or shutdown is out of time */
        if ((t->kind == AL_DEST_CUSTOM && !t->dead && al_outbox_past_deadline(o)) ||
            r->next_at_ms > now || t->blocked_until > now || (t->failing && t->inflight > 0) ||
            (!t->dead && t->kind != AL_DEST_CUSTOM &&
             (o->inflight.n >= o->max_transfers || (size_t)t->inflight >= share)) ||
            (!t->dead && !has_token(t, now))) {
            r = r->next;
            continue;
        }
        if (t->dead) {
            rec *next = r->next;
            list_remove(&o->ready, r);
            atomic_fetch_add(&o->ctx->n.deliveries_failed, 1 + (uint64_t)r->pack_n);
            store_forget(o, r);
            rec_drop(o, r);
            r = next;
            continue;
        }
        pack_waiting(o, r, now);
        if (!r->body && !(r->body = build_body(o, r))) {
            r = r->next;
            continue;   /* out of memory: stays ready, tried again next pass */
        }
        if (t->rate_per_ms > 0)
            t->tokens -= 1.0;
        rec *next = r->next;
        list_remove(&o->ready, r);
        r->attempt++;
        if (t->kind == AL_DEST_CUSTOM) {
            send_custom(o, r, now);
        } else {
            int rc = start_transfer(o, r);
            if (rc == 0) {
                r->state = REC_INFLIGHT;
                t->inflight++;
                list_push(&o->inflight, r);
            } else if (rc == -2) {
                finish(o, r, AL_OUT_GIVE_UP, 0, "no e-mail recipient (email_recipients)", now);
            } else {
                finish(o, r, AL_OUT_RETRY, 0, "could not start the transfer", now);
            }
        }
        r = next;
    }
    update_depth(o);
}

/* Discord answers 429 with {"retry_after": 1.5} and sometimes no header. */
static void json_retry_after(rec *r)
{
    if (r->retry_after_s >= 0 || !r->xfer->resp.data)
        return;
    json_error_t jerr;
    json_t *j = json_loadb(r->xfer->resp.data, r->xfer->resp.len, 0, &jerr);
    json_t *v = j ? json_object_get(j, "retry_after") : NULL;
    if (v && json_is_number(v) && json_number_value(v) >= 0)
        r->retry_after_s = json_number_value(v) > 86400 ? 86400 : json_number_value(v);
    json_decref(j);
}

static al_outcome classify_done(rec *r, CURLcode res, long status, int answered, char *why,
                                size_t n)
{
    if (r->target->kind == AL_DEST_EMAIL) {
        /* SMTP: 2xx done, 4xx try again, 5xx refused for good */
        snprintf(why, n, "%s (SMTP %ld)", curl_easy_strerror(res), status);
        if (res == CURLE_OK)
            return AL_OUT_OK;
        if (res == CURLE_LOGIN_DENIED || (status >= 500 && status <= 599) ||
            res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT)
            return AL_OUT_GIVE_UP;
        return AL_OUT_RETRY;
    }
    if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && status > 0)) {
        snprintf(why, n, "HTTP %ld", status);
        if (status == 429)
            json_retry_after(r);
        const al_buf *resp = &r->xfer->resp;
        return al_classify_http(r->target->kind, status, resp->data ? resp->data : "", resp->len);
    }
    /* connection refused or reset, DNS, TLS, our http_timeout, and a reply that is not
     * HTTP at all (garbage, HTTP/0.9: CURLE_UNSUPPORTED_PROTOCOL or WEIRD_SERVER_REPLY once
     * the request went out): all worth a retry, except what no retry can fix - a URL
     * libcurl cannot use, found before anything was sent */
    snprintf(why, n, "%s", curl_easy_strerror(res));
    if (res == CURLE_URL_MALFORMAT || (res == CURLE_UNSUPPORTED_PROTOCOL && !answered))
        return AL_OUT_GIVE_UP;
    return AL_OUT_RETRY;
}

static void collect(al_outbox *o, int64_t now)
{
    int running = 0;
    curl_multi_perform(o->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(o->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        rec *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode res = m->data.result;
        long status = 0, sent = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(m->easy_handle, CURLINFO_REQUEST_SIZE, &sent);
        curl_multi_remove_handle(o->multi, r->xfer->easy);
        release_easy(o, r->xfer->easy);
        r->xfer->easy = NULL;
        list_remove(&o->inflight, r);
        r->target->inflight--;
        char why[160];
        al_outcome out = classify_done(r, res, status, sent > 0, why, sizeof why);
        transfer_free(r);       /* its answer is read: a retry starts a new one */
        finish(o, r, out, status, why, now);
        o->finished++;
    }
}

/* Fleet mode: every rate-limited target's tokens for this pass come from the fleet's
 * bucket (asked for what waits, at most a burst; a grant not spent in the pass it
 * arrives in lapses), and its Retry-After block holds this replica too. Redis away:
 * the local bucket, at the rate divided by the live replicas. */
static void fleet_rates(al_outbox *o, int64_t now)
{
    al_state *st = store_of(o);
    if (!al_state_fleet(st) || !o->ctx->cfg.fleet_rate_limits)
        return;
    for (al_target *t = o->targets; t; t = t->next)
        t->want = 0;
    for (rec *r = o->ready.head; r; r = r->next)
        if (r->next_at_ms <= now)
            r->target->want++;
    int64_t wall = al_ctx_now(o->ctx);
    for (al_target *t = o->targets; t; t = t->next) {
        if (t->rate_per_ms <= 0 || t->dead || !t->fleet_hash[0])
            continue;
        int cap = (int)ceil(t->burst);
        al_rate_grant g;
        if (al_state_rate_take(st, t->fleet_hash, t->rate_per_ms, t->burst,
                               t->want < cap ? t->want : cap, wall, &g) != ALERT_OK)
            continue;
        if (g.local) {
            if (t->fleet_rate) {            /* back to the local bucket, from empty */
                t->fleet_rate = 0;
                t->tokens = 0;
                t->refill_ms = now;
            }
            t->rate_div = g.divisor > 0 ? g.divisor : 1;
            if (t->tokens > local_burst(t))
                t->tokens = local_burst(t);
        } else {
            t->fleet_rate = 1;
            t->rate_div = 1;
            t->tokens = g.granted;
            t->refill_ms = now;
            t->fleet_retry_at = now + (int64_t)ceil(1.0 / t->rate_per_ms);
        }
        if (g.blocked_until > wall && now + (g.blocked_until - wall) > t->blocked_until)
            t->blocked_until = now + (g.blocked_until - wall);
    }
}

static al_target *target_by_fleet_name(al_outbox *o, const char *hash)
{
    for (al_target *t = o->targets; t; t = t->next)
        if (hash && t->fleet_hash[0] && strcmp(t->fleet_hash, hash) == 0)
            return t;
    return NULL;
}

/* A row adopted from a replica that died or left: this replica's own target of the same
 * name carries it, with its original idempotency key, attempt count and deadline. */
static int adopt_row(void *ud, const al_spool_row *row)
{
    al_outbox *o = ud;
    al_target *t = target_by_fleet_name(o, row->target);
    int count = 1;
    al_alert *a = t && row->text && row->idem && row->extra ? al_alert_from_json(row->extra, &count)
                                                            : NULL;
    rec *r = a ? al_calloc(1, sizeof *r) : NULL;
    if (!r || !(r->text = al_strdup(row->text))) {
        al_ctx_log(o->ctx, ALERT_LOG_ERROR, "fleet: a pending delivery adopted from another "
                   "replica has no target of the same configuration here and is dropped");
        atomic_fetch_add(&o->ctx->n.deliveries_dropped, 1);
        if (row->idem)
            al_state_mirror_delete(store_of(o), row->idem);
        al_alert_free(a);
        al_free(r);
        return 0;
    }
    al_settle_attach(o->ctx, a);
    int64_t to_mono = al_ctx_mono(o->ctx) - al_ctx_now(o->ctx);
    r->target = t;
    r->alert = a;
    r->type = a->type;
    r->level = row->level;
    r->count = count;
    r->attempt = row->attempt;
    r->retry_after_s = -1;
    r->created_ms = row->created_ms + to_mono;
    r->next_at_ms = row->next_at_ms + to_mono;
    r->deadline_ms = row->deadline_ms + to_mono;
    snprintf(r->idem, sizeof r->idem, "%s", row->idem);
    r->state = REC_READY;
    if (al_state_durable(store_of(o))) {    /* its mirror row is already this replica's */
        store_check(o);
        if (spool_put(o, r, count) != ALERT_OK)
            o->unsaved = 1;
    }
    list_push(&o->ready, r);
    level_link(o, r);
    return 0;
}

/* Another replica adopted this row while this one was stalled: it sends it; this copy
 * goes (one in flight finishes: a duplicate with the same idempotency key). */
static void drop_adopted(void *ud, const char *idem)
{
    al_outbox *o = ud;
    rec_list *lists[2] = { &o->batched, &o->ready };
    for (int li = 0; li < 2; li++)
        for (rec *r = lists[li]->head; r; r = r->next)
            if (strcmp(r->idem, idem) == 0) {
                list_remove(lists[li], r);
                store_forget(o, r);
                rec_drop(o, r);
                return;
            }
}

void al_outbox_run(al_outbox *o, int64_t now, int force_flush)
{
    const alert_config *cfg = &o->ctx->cfg;
    if (al_state_fleet(store_of(o))) {
        size_t before = o->ready.n;
        al_state_adopt_take(store_of(o), al_ctx_now(o->ctx), adopt_row, drop_adopted, o);
        if (o->ready.n > before)
            al_ctx_log(o->ctx, ALERT_LOG_WARNING, "fleet: %zu pending deliveries adopted from "
                       "a replica that died or left", o->ready.n - before);
        update_depth(o);
    }
    if (o->next_flush_ms == INT64_MIN)
        o->next_flush_ms = now + (int64_t)(cfg->flush_interval * 1000.0);
    if (o->batched.n &&
        (force_flush || now >= o->next_flush_ms || (int64_t)o->batched.n >= cfg->batch_size)) {
        flush_batch(o, now);
        o->next_flush_ms = now + (int64_t)(cfg->flush_interval * 1000.0);
    } else if (!o->batched.n && now >= o->next_flush_ms) {
        o->next_flush_ms = now + (int64_t)(cfg->flush_interval * 1000.0);
    }
    store_check(o);
    if (o->unsaved) {
        uint64_t kept, unsaved;
        store_resave(o, 1, &kept, &unsaved);
    }
    fleet_rates(o, now);
    collect(o, now);
    if (al_state_fleet_hold(store_of(o)))
        return;         /* back from a silence: what was adopted meanwhile is not sent */
    /* a fast receiver answers within the pass: start the next ones at once instead of
     * waiting for a wake-up that no socket will give */
    for (int i = 0; i < 256; i++) {
        uint64_t before = o->finished;
        start_due(o, now);
        collect(o, now);
        if (o->finished == before)
            break;
    }
}

void al_outbox_wait(al_outbox *o, int ms)
{
    if (ms < 0)
        ms = 0;
    curl_multi_poll(o->multi, NULL, 0, ms, NULL);
}

void al_outbox_wakeup(al_outbox *o)
{
    curl_multi_wakeup(o->multi);
}

static int64_t sendable_at(const rec *r)
{
    int64_t at = token_at(r->target);
    if (r->next_at_ms > at)
        at = r->next_at_ms;
    return r->target->blocked_until > at ? r->target->blocked_until : at;
}

int al_outbox_idle(al_outbox *o, int64_t now)
{
    if (o->inflight.n || o->batched.n)
        return 0;
    for (rec *r = o->ready.head; r; r = r->next)
        if (!r->target->dead && sendable_at(r) <= now)
            return 0;
    return 1;
}

int64_t al_outbox_next_due(al_outbox *o)
{
    int64_t t = INT64_MAX;
    if (o->batched.n)
        t = o->next_flush_ms;
    for (rec *r = o->ready.head; r; r = r->next)
        if (sendable_at(r) < t)
            t = sendable_at(r);
    return t;
}

static int replay_row(void *ud, const al_spool_row *row)
{
    al_outbox *o = ud;
    const alert_config *c = &o->ctx->cfg;
    al_target *t = NULL;
    if (!row->target || !row->text || !row->idem) {
        /* damaged in the file: dropped below like any row that cannot be sent */
    } else if (row->target_kind == AL_DEST_CUSTOM) {
        for (size_t i = 0; i < c->n_transports; i++)
            if (strcmp(c->transports[i]->name, row->target) == 0)
                t = al_outbox_target(o, AL_DEST_CUSTOM, NULL, c->transports[i]);
    } else if (row->target_kind >= 0 && row->target_kind < AL_DEST_CUSTOM) {
        t = al_outbox_target(o, (al_dest_kind)row->target_kind, row->target, NULL);
    }
    int count = 1;
    al_alert *a = al_alert_from_json(row->extra, &count);
    rec *r = (t && a) ? al_calloc(1, sizeof *r) : NULL;
    if (!r || !(r->text = al_strdup(row->text))) {
        /* its transport is gone, or the row is damaged or not ours: it cannot be
         * sent any more. One message for every cause (the row's id, never its
         * target); the start goes on. */
        al_ctx_log(o->ctx, ALERT_LOG_ERROR, "state_path: pending delivery #%lld could not be "
                   "restored and is dropped", (long long)row->id);
        atomic_fetch_add(&o->ctx->n.deliveries_dropped, 1);
        al_state_spool_delete(store_of(o), row->id);
        al_alert_free(a);
        al_free(r);
        return 0;
    }
    al_settle_attach(o->ctx, a);        /* its fate goes back to whoever waits for it */
    r->target = t;
    r->alert = a;
    r->type = a->type;
    r->level = row->level;
    r->count = count;
    r->attempt = row->attempt;
    r->retry_after_s = -1;
    r->created_ms = row->created_ms;
    r->next_at_ms = row->next_at_ms;
    r->deadline_ms = row->deadline_ms;
    r->store_id = row->id;
    snprintf(r->idem, sizeof r->idem, "%s", row->idem ? row->idem : "");
    r->state = REC_READY;
    list_push(&o->ready, r);
    level_link(o, r);
    return 0;
}

int al_outbox_replay(al_outbox *o)
{
    int rc = al_state_spool_load(store_of(o), replay_row, o);
    update_depth(o);
    if (o->ready.n)
        al_ctx_log(o->ctx, ALERT_LOG_INFO, "state_path: %zu pending deliveries restored", o->ready.n);
    return rc;
}

uint64_t al_outbox_take_dropped(al_outbox *o, al_type *first_type)
{
    uint64_t n = o->dropped_for_notice;
    *first_type = o->dropped_type;
    o->dropped_for_notice = 0;
    return n;
}

void al_outbox_set_max_transfers(al_outbox *o, size_t n)
{
    o->max_transfers = n ? n : 1;
    curl_multi_setopt(o->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->max_transfers);
}

static int64_t mono_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void al_outbox_set_deadline(al_outbox *o, int64_t budget_ms)
{
    if (budget_ms < 0) {
        atomic_store(&o->stop_mono, INT64_MAX);
        atomic_store(&o->stop_clock, INT64_MAX);
        return;
    }
    atomic_store(&o->stop_mono, mono_now_ms() + budget_ms);
    atomic_store(&o->stop_clock, al_ctx_now(o->ctx) + budget_ms);
}

int al_outbox_past_deadline(const al_outbox *o)
{
    int64_t mono = atomic_load(&o->stop_mono), clock = atomic_load(&o->stop_clock);
    return (mono != INT64_MAX && mono_now_ms() > mono) ||
           (clock != INT64_MAX && al_ctx_now(o->ctx) > clock);
}

uint64_t al_outbox_evict_steps(const al_outbox *o)
{
    return o->evict_steps;
}

size_t al_outbox_inflight(al_outbox *o)
{
    return o->inflight.n;
}

/* alert_metrics_format: the targets are made at alert_ctx_create (routes, replay) and
 * live as long as the outbox, so any thread may walk them. */
int al_outbox_target_stats(const al_outbox *o, size_t i, al_target_stats *out)
{
    const al_target *t = __atomic_load_n(&o->targets, __ATOMIC_ACQUIRE);
    while (t && i--)
        t = t->next;
    if (!t)
        return 0;
    out->destination = t->custom ? t->custom->name : al_dest_name(t->kind);
    out->display = t->display;
    out->ok = atomic_load_explicit(&t->n_ok, memory_order_relaxed);
    out->failed = atomic_load_explicit(&t->n_failed, memory_order_relaxed);
    out->retried = atomic_load_explicit(&t->n_retried, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&t->n_dropped, memory_order_relaxed);
    out->queued = atomic_load_explicit(&t->n_queued, memory_order_relaxed);
    out->last_ok_ms = atomic_load_explicit(&t->last_ok_ms, memory_order_relaxed);
    out->dead = __atomic_load_n(&t->dead, __ATOMIC_RELAXED);
    return 1;
}
