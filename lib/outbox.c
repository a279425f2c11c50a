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
#include "buf.h"
#include "ctx.h"
#include "fmt.h"
#include "hash.h"
#include "sign.h"

#define MAX_INFLIGHT 64
#define BODY_KEEP (64 * 1024)           /* kept of a response body, for classification */
#define BODY_LIMIT (16 * 1024 * 1024)   /* read (and discarded) before the transfer is cut */

static const char *const dest_names[AL_DEST__COUNT] = {
    [AL_DEST_SLACK] = "slack", [AL_DEST_DISCORD] = "discord", [AL_DEST_MS_TEAMS] = "ms_teams",
    [AL_DEST_WEBHOOK] = "webhook", [AL_DEST_EMAIL] = "email", [AL_DEST_PAGERDUTY] = "pagerduty",
    [AL_DEST_ALERTMANAGER] = "alertmanager", [AL_DEST_CUSTOM] = "custom",
};

const char *al_dest_name(al_dest_kind k)
{
    return (k >= 0 && k < AL_DEST__COUNT) ? dest_names[k] : "unknown";
}

int al_dest_from_name(const char *name)
{
    for (int k = 0; k < AL_DEST_CUSTOM; k++)
        if (strcmp(dest_names[k], name) == 0)
            return k;
    return -1;
}

al_outcome al_classify_http(al_dest_kind kind, long status, const char *body, size_t body_len)
{
    if (status == 429)
        return AL_OUT_RATE_LIMITED;
    if (status == 408 || (status >= 500 && status <= 599))
        return AL_OUT_RETRY;
    if ((status == 404 || status == 410) &&
        (kind == AL_DEST_SLACK || kind == AL_DEST_DISCORD || kind == AL_DEST_WEBHOOK ||
         kind == AL_DEST_MS_TEAMS))
        return AL_OUT_DEAD;
    switch (kind) {
    case AL_DEST_SLACK:
        /* Slack answers 200 "ok"; anything else in a 200 is a refusal, not a hiccup. */
        if (status == 200) {
            while (body_len && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r' ||
                                body[body_len - 1] == ' '))
                body_len--;
            return (body_len == 2 && memcmp(body, "ok", 2) == 0) ? AL_OUT_OK : AL_OUT_GIVE_UP;
        }
        return AL_OUT_GIVE_UP;
    case AL_DEST_DISCORD:
        return (status == 200 || status == 204) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_MS_TEAMS:
        return (status == 200 || status == 202) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_PAGERDUTY:
        return status == 202 ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_ALERTMANAGER:
        return status == 200 ? AL_OUT_OK : AL_OUT_GIVE_UP;
    default:
        return (status >= 200 && status <= 299) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    }
}

struct al_target {
    struct al_target *next;
    al_dest_kind kind;
    char *url;
    char display[96];
    al_transport_ref *custom;
    int dead;
    /* token bucket on the ctx clock; rate 0: unlimited */
    double rate_per_ms, burst, tokens;
    int64_t refill_ms;
    size_t pack_limit;      /* bytes of text one packed message may carry; 0: never packed */
};

enum { REC_BATCHED, REC_READY, REC_INFLIGHT };

typedef struct rec {
    struct rec *prev, *next;
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
    char idem[40];
    struct rec *pack;       /* alerts packed into this message while the target is throttled */
    int pack_n;
    /* the transfer in flight */
    CURL *easy;
    struct curl_slist *headers;
    al_buf resp;
    size_t resp_total;
    double retry_after_s;   /* < 0: none */
} rec;

typedef struct rec_list {
    rec *head, *tail;
    size_t n;
} rec_list;

struct al_outbox {
    alert_ctx *ctx;
    CURLM *multi;
    al_target *targets;
    rec_list batched, ready, inflight;
    int64_t next_flush_ms;
    uint64_t rng;
    uint64_t dropped_for_notice;
    al_type dropped_type;
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
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    al_buf_free(&r->resp);
    al_free(r->text);
    al_alert_free(r->alert);
    al_free(r->body);
    al_free(r);
}

static void update_depth(al_outbox *o)
{
    atomic_store(&o->ctx->n.queue_depth, o->batched.n + o->ready.n + o->inflight.n);
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
    return o;
}

static void free_list(al_outbox *o, rec_list *l)
{
    rec *r = l->head;
    while (r) {
        rec *n = r->next;
        if (r->easy)
            curl_multi_remove_handle(o->multi, r->easy);
        rec_free(r);
        r = n;
    }
    l->head = l->tail = NULL;
    l->n = 0;
}

void al_outbox_free(al_outbox *o)
{
    if (!o)
        return;
    uint64_t lost = o->batched.n + o->ready.n + o->inflight.n;
    if (lost) {
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
        al_free(t);
        t = n;
    }
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

static void refill(al_target *t, int64_t now)
{
    if (t->rate_per_ms <= 0)
        return;
    if (t->refill_ms != INT64_MIN && now > t->refill_ms) {
        t->tokens += (double)(now - t->refill_ms) * t->rate_per_ms;
        if (t->tokens > t->burst)
            t->tokens = t->burst;
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
    return t->refill_ms + (int64_t)ceil((1.0 - t->tokens) / t->rate_per_ms);
}

al_target *al_outbox_target(al_outbox *o, al_dest_kind kind, const char *url,
                            al_transport_ref *custom)
{
    for (al_target *t = o->targets; t; t = t->next)
        if (t->kind == kind && t->custom == custom &&
            ((!t->url && !url) || (t->url && url && strcmp(t->url, url) == 0)))
            return t;
    al_target *t = al_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = kind;
    t->custom = custom;
    if (url) {
        t->url = al_strdup(url);
        if (!t->url) {
            al_free(t);
            return NULL;
        }
        al_url_display(url, t->display, sizeof t->display);
    } else {
        snprintf(t->display, sizeof t->display, "%s", custom ? custom->name : al_dest_name(kind));
    }
    set_rate_limit(o, t);
    t->next = o->targets;
    o->targets = t;
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

static void count_dropped(al_outbox *o, al_type type, uint64_t n)
{
    atomic_fetch_add(&o->ctx->n.deliveries_dropped, n);
    if (!o->dropped_for_notice)
        o->dropped_type = type;
    o->dropped_for_notice += n;
}

/* The queue is full: the oldest item of the lowest level goes, never one in flight.
 * Returns 0 when everything queued outranks the newcomer (then it is the one dropped). */
static int drop_oldest_low(al_outbox *o, int new_level)
{
    rec_list *lists[2] = { &o->batched, &o->ready };
    for (int level = ALERT_LEVEL_LOW; level <= new_level; level++)
        for (int li = 0; li < 2; li++)
            for (rec *r = lists[li]->head; r; r = r->next)
                if (r->level == level) {
                    list_remove(lists[li], r);
                    count_dropped(o, r->type, 1 + (uint64_t)r->pack_n);
                    rec_free(r);
                    return 1;
                }
    return 0;
}

int al_outbox_enqueue(al_outbox *o, al_target *t, al_alert *a, const char *text)
{
    alert_ctx *ctx = o->ctx;
    if (t->dead) {
        atomic_fetch_add(&ctx->n.deliveries_failed, 1);
        return ALERT_ERR_TRANSPORT;
    }
    size_t pending = o->batched.n + o->ready.n + o->inflight.n;
    if (!a->notice && (int64_t)pending >= ctx->cfg.max_queue && !drop_oldest_low(o, a->level)) {
        count_dropped(o, a->type, 1);
        return ALERT_ERR_FULL;
    }
    rec *r = al_calloc(1, sizeof *r);
    if (!r)
        return ALERT_ERR_NOMEM;
    r->target = t;
    r->type = a->type;
    r->level = a->level;
    r->count = 1;
    r->retry_after_s = -1;
    r->text = al_strdup(text);
    if (!r->text) {
        rec_free(r);
        return ALERT_ERR_NOMEM;
    }
    r->alert = al_alert_retain(a);
    idempotency_key(o, r->idem);
    int64_t now = al_ctx_now(ctx);
    r->created_ms = now;
    r->deadline_ms = now + (int64_t)(ctx->cfg.delivery_deadline * 1000.0);
    r->state = REC_BATCHED;
    list_push(&o->batched, r);
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
                if (r->level > twin->level)
                    twin->level = r->level;
                atomic_fetch_add(&o->ctx->n.alerts_coalesced, 1);
                rec_free(r);
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

static char *build_body(al_outbox *o, const rec *r)
{
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
    char *body = NULL;
    if (r->target->kind == AL_DEST_CUSTOM) {
        body = al_fmt_event_json(o->ctx, r->alert);
    } else {
        json_t *payload = json_pack("{s:s%}", "text", text.data, text.len);
        if (payload) {
            body = json_dumps(payload, JSON_COMPACT);
            json_decref(payload);
        }
    }
    al_buf_free(&text);
    return body;
}

static void finish(al_outbox *o, rec *r, al_outcome out, long status, const char *why, int64_t now)
{
    alert_ctx *ctx = o->ctx;
    al_target *t = r->target;
    uint64_t n = 1 + (uint64_t)r->pack_n;     /* alerts carried by this message */
    switch (out) {
    case AL_OUT_OK:
        atomic_fetch_add(&ctx->n.deliveries_ok, n);
        for (rec *m = r; m; m = m->pack)
            m->alert->delivered_ok = 1;
        if (ctx->cfg.log_to_console)
            al_ctx_log(ctx, ALERT_LOG_INFO, "%s: delivered to %s: %s", al_dest_name(t->kind),
                       t->display, r->body ? r->body : "");
        rec_free(r);
        break;
    case AL_OUT_RETRY:
    case AL_OUT_RATE_LIMITED: {
        int64_t delay = backoff_ms(o, r->attempt);
        if (out == AL_OUT_RATE_LIMITED && r->retry_after_s >= 0)
            delay = (int64_t)ceil(r->retry_after_s * 1000.0);
        if (now + delay > r->deadline_ms) {
            atomic_fetch_add(&ctx->n.deliveries_dropped, n);
            al_ctx_error(ctx, "%s delivery to %s dropped after %d attempts: %s (delivery_deadline)",
                         al_dest_name(t->kind), t->display, r->attempt, why);
            rec_free(r);
            break;
        }
        atomic_fetch_add(&ctx->n.deliveries_retried, n);
        al_ctx_log(ctx, ALERT_LOG_WARNING, "%s delivery to %s failed (%s); retry %d in %.1fs",
                   al_dest_name(t->kind), t->display, why, r->attempt + 1, (double)delay / 1000.0);
        r->state = REC_READY;
        r->next_at_ms = now + delay;
        r->retry_after_s = -1;
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
        rec_free(r);
        /* whatever else waits for it will not get through either */
        for (rec *q = o->ready.head, *qn; q; q = qn) {
            qn = q->next;
            if (q->target == t) {
                list_remove(&o->ready, q);
                atomic_fetch_add(&ctx->n.deliveries_failed, 1 + (uint64_t)q->pack_n);
                rec_free(q);
            }
        }
        break;
    case AL_OUT_GIVE_UP:
        atomic_fetch_add(&ctx->n.deliveries_failed, n);
        al_ctx_error(ctx, "%s delivery to %s failed: %s (not retried)", al_dest_name(t->kind),
                     t->display, why);
        rec_free(r);
        break;
    }
    update_depth(o);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    rec *r = ud;
    size_t len = size * n;
    r->resp_total += len;
    if (r->resp_total > BODY_LIMIT)
        return 0;
    if (r->resp.len < BODY_KEEP) {
        size_t keep = BODY_KEEP - r->resp.len;
        al_buf_add(&r->resp, p, len < keep ? len : keep);
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

static int start_http(al_outbox *o, rec *r)
{
    const alert_config *cfg = &o->ctx->cfg;
    CURL *e = curl_easy_init();
    if (!e)
        return -1;
    r->easy = e;
    char h[96];
    struct curl_slist *hs = NULL, *tmp;
    const char *fixed[] = { "Content-Type: application/json", "Expect:",
                            "User-Agent: libalerting/" ALERT_VERSION_STRING };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        if (!(tmp = curl_slist_append(hs, fixed[i])))
            goto fail;
        hs = tmp;
    }
    snprintf(h, sizeof h, "webhook-id: %s", r->idem);
    if (!(tmp = curl_slist_append(hs, h)))
        goto fail;
    hs = tmp;
    r->headers = hs;
    al_buf_free(&r->resp);
    r->resp_total = 0;
    r->retry_after_s = -1;
    curl_easy_setopt(e, CURLOPT_URL, r->target->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(cfg->http_timeout * 1000.0));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (cfg->ca_bundle)
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_bundle);
    if (cfg->proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, cfg->proxy);
    if (cfg->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (curl_multi_add_handle(o->multi, e) != CURLM_OK)
        goto fail;
    return 0;
fail:
    curl_slist_free_all(hs);
    r->headers = NULL;
    curl_easy_cleanup(e);
    r->easy = NULL;
    return -1;
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
    al_buf text = AL_BUF_INIT;
    if (r->count > 1)
        al_buf_printf(&text, "[Num Alerts: %d]\n\n", r->count);
    al_buf_adds(&text, r->text);
    d.text = text.data ? text.data : "";
    d.idempotency_key = r->idem;
    d.attempt = r->attempt;
    int rc = tr->vt.send(&d, tr->userdata);
    al_buf_free(&text);
    char why[64];
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
        tail->pack = q;
        tail = q;
        r->pack_n++;
    }
}

static void start_due(al_outbox *o, int64_t now)
{
    rec *r = o->ready.head;
    while (r) {
        al_target *t = r->target;
        if (r->next_at_ms > now || (!t->dead && !has_token(t, now))) {
            r = r->next;
            continue;
        }
        if (t->dead) {
            rec *next = r->next;
            list_remove(&o->ready, r);
            atomic_fetch_add(&o->ctx->n.deliveries_failed, 1 + (uint64_t)r->pack_n);
            rec_free(r);
            r = next;
            continue;
        }
        if (t->kind != AL_DEST_CUSTOM && o->inflight.n >= MAX_INFLIGHT)
            break;
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
        } else if (start_http(o, r) == 0) {
            r->state = REC_INFLIGHT;
            list_push(&o->inflight, r);
        } else {
            finish(o, r, AL_OUT_RETRY, 0, "could not start the transfer", now);
        }
        r = next;
    }
    update_depth(o);
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
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(o->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        curl_slist_free_all(r->headers);
        r->headers = NULL;
        list_remove(&o->inflight, r);
        char why[160];
        al_outcome out;
        if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && status > 0)) {
            out = al_classify_http(r->target->kind, status, r->resp.data ? r->resp.data : "",
                                   r->resp.len);
            snprintf(why, sizeof why, "HTTP %ld", status);
        } else {
            /* connection refused or reset, DNS, TLS, our http_timeout: all worth a retry,
             * except what no retry can fix */
            out = (res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT)
                      ? AL_OUT_GIVE_UP : AL_OUT_RETRY;
            snprintf(why, sizeof why, "%s", curl_easy_strerror(res));
        }
        finish(o, r, out, status, why, now);
    }
}

void al_outbox_run(al_outbox *o, int64_t now, int force_flush)
{
    const alert_config *cfg = &o->ctx->cfg;
    if (o->next_flush_ms == INT64_MIN)
        o->next_flush_ms = now + (int64_t)(cfg->flush_interval * 1000.0);
    if (o->batched.n &&
        (force_flush || now >= o->next_flush_ms || (int64_t)o->batched.n >= cfg->batch_size)) {
        flush_batch(o, now);
        o->next_flush_ms = now + (int64_t)(cfg->flush_interval * 1000.0);
    } else if (!o->batched.n && now >= o->next_flush_ms) {
        o->next_flush_ms = now + (int64_t)(cfg->flush_interval * 1000.0);
    }
    collect(o, now);
    start_due(o, now);
    collect(o, now);
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
    int64_t tok = token_at(r->target);
    return tok > r->next_at_ms ? tok : r->next_at_ms;
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

uint64_t al_outbox_take_dropped(al_outbox *o, al_type *first_type)
{
    uint64_t n = o->dropped_for_notice;
    *first_type = o->dropped_type;
    o->dropped_for_notice = 0;
    return n;
}

size_t al_outbox_inflight(al_outbox *o)
{
    return o->inflight.n;
}
