/* SPDX-License-Identifier: MIT */
/* The request hooks and the other entry points that run on the host's threads.
 * The request hooks allocate nothing in steady state: a slot and its block come
 * from the stripe's free lists, labels are interned, and only a slow or failed
 * request builds an event for the worker. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "budget.h"
#include "ops.h"
#include "ctx.h"
#include "sign.h"

#define MESSAGE_MAX (64 * 1024)         /* error texts kept of a failure */
#define EMIT_MAX (1024 * 1024)          /* alert_emit refuses longer texts */

/* al_check_version for a struct the caller passed (not NULL), inline: the request
 * hooks check one on every call. */
static inline int version_ok(const void *p, uint32_t max_version)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v != 0 && v <= max_version;
}

/* prefix_bytes past its fast path: the string is longer in bytes than a cut allows. */
static size_t prefix_bytes_cut(const char *s, size_t max_chars, size_t max_bytes)
{
    size_t chars = 0, i = 0, cut = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {     /* a character starts at i */
            if (i > max_bytes)
                return cut;
            cut = i;
            if (chars == max_chars)
                return cut;
            chars++;
        }
        if (i >= max_bytes + 4)
            return cut;
    }
    return i <= max_bytes ? i : cut;
}

/* Bytes of the first max_chars characters of s, cut before a character, never
 * inside one. Works on invalid UTF-8 too (the worker repairs it). Inline: the
 * common case, short enough in bytes and so in characters, is one strnlen. */
static inline size_t prefix_bytes(const char *s, size_t max_chars, size_t max_bytes)
{
    size_t fast = max_chars < max_bytes ? max_chars : max_bytes;
    size_t n = strnlen(s, fast + 1);
    if (__builtin_expect(n <= fast, 1))
        return n;
    return prefix_bytes_cut(s, max_chars, max_bytes);
}

/* What a start keeps, worked out before a slot is taken. Only the entries whose
 * bit is set in `vars` (and `copied`) are written: the plan is never cleared whole. */
typedef struct var_plan {
    const char *src[AL_VAR__COUNT];
    size_t len[AL_VAR__COUNT];
    const char *lbl_src[AL_LBL__COUNT];     /* labels the intern table could not take */
    size_t lbl_len[AL_LBL__COUNT];
    unsigned vars;                          /* bit per AL_VAR_* present */
    unsigned copied;                        /* bit per AL_LBL_* in lbl_src */
    size_t total;
    char key_hash[65];
} var_plan;

static inline void plan_var(var_plan *p, int which, const char *s, size_t max_chars, size_t max_bytes)
{
    if (!s)
        return;
    size_t n = prefix_bytes(s, max_chars, max_bytes);
    p->src[which] = s;
    p->len[which] = n;
    p->vars |= 1u << which;
    p->total += n;
}

/* A label the hints did not know: cut, interned, or copied when the table is full. */
static __attribute__((noinline)) void plan_label_slow(alert_ctx *ctx, var_plan *p,
                                                      const char *label[AL_LBL__COUNT], int which,
                                                      const char *s)
{
    size_t n = prefix_bytes(s, AL_LABEL_MAX, AL_LABEL_MAX);
    label[which] = al_intern(ctx->intern, s, n);
    if (!label[which]) {
        p->lbl_src[which] = s;
        p->lbl_len[which] = n;
        p->copied |= 1u << which;
        p->total += n + 1;      /* kept with its NUL */
    }
}

/* A label: the interned copy through the hints (inline: the common case), else
 * the slow way. */
static inline void plan_label(alert_ctx *ctx, const al_intern_hint *hints, var_plan *p,
                              const char *label[AL_LBL__COUNT], int which, const char *s)
{
    const char *known = NULL;
    if (s && !(known = al_intern_hinted(hints, s)))
        plan_label_slow(ctx, p, label, which, s);
    else
        label[which] = known;
}

static int plan_request(alert_ctx *ctx, const alert_request *req, var_plan *p,
                        const char *label[AL_LBL__COUNT])
{
    p->vars = 0;
    p->copied = 0;
    p->total = 0;
    const al_intern_hint *hints = al_intern_hints(ctx->intern);
    plan_label(ctx, hints, p, label, AL_LBL_MODEL, req->model);
    plan_label(ctx, hints, p, label, AL_LBL_DEPLOYMENT, req->deployment);
    plan_label(ctx, hints, p, label, AL_LBL_DEPLOYMENT_ID, req->deployment_id);
    plan_label(ctx, hints, p, label, AL_LBL_PROVIDER, req->provider);
    plan_label(ctx, hints, p, label, AL_LBL_API_BASE, req->api_base);
    plan_label(ctx, hints, p, label, AL_LBL_REGION, req->region);
    plan_label(ctx, hints, p, label, AL_LBL_TEAM_ALIAS, req->team_alias);
    plan_var(p, AL_VAR_CALL_ID, req->call_id, AL_ID_MAX, AL_ID_MAX);
    plan_var(p, AL_VAR_KEY_ALIAS, req->key_alias, AL_ID_MAX, AL_ID_MAX);
    plan_var(p, AL_VAR_USER_ID, req->user_id, AL_ID_MAX, AL_ID_MAX);
    plan_var(p, AL_VAR_TEAM_ID, req->team_id, AL_ID_MAX, AL_ID_MAX);
    plan_var(p, AL_VAR_CUSTOMER_ID, req->customer_id, AL_ID_MAX, AL_ID_MAX);
    if (req->key_hash) {
        /* a raw key never stays in memory: it is hashed here, on the caller's thread */
        /* 64 characters are taken for a hash (the worker checks before using it) */
        if (strncmp(req->key_hash, "sk-", 3) == 0 || strnlen(req->key_hash, 65) != 64) {
            if (al_sha256_hex(req->key_hash, strlen(req->key_hash), p->key_hash) == 0)
                plan_var(p, AL_VAR_KEY_HASH, p->key_hash, 64, 64);
        } else {
            plan_var(p, AL_VAR_KEY_HASH, req->key_hash, 64, 64);
        }
    }
    /* the prompt is kept only for slow alerts, and never under redaction */
    if (req->messages && al_type_on(ctx, AL_T_LLM_TOO_SLOW) &&
        !atomic_load_explicit(&ctx->redact_messages, memory_order_relaxed))
        plan_var(p, AL_VAR_MESSAGES, req->messages, AL_PROMPT_CHARS, AL_PROMPT_CHARS * 4);
    if (req->alerting_metadata_json) {
        size_t n = strnlen(req->alerting_metadata_json, AL_METADATA_MAX + 1);
        if (n > AL_METADATA_MAX)
            return -1;      /* cut JSON is no JSON: dropped whole, counted */
        p->src[AL_VAR_METADATA] = req->alerting_metadata_json;
        p->len[AL_VAR_METADATA] = n;
        p->vars |= 1u << AL_VAR_METADATA;
        p->total += n;
    }
    return 0;
}

/* Short strings are copied inline: a call to memcpy costs more than the copy. */
static inline void copy_short(char *dst, const char *src, size_t n)
{
    if (n <= 16 && n >= 8) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else {
        memcpy(dst, src, n);
    }
}

static void fill_slot(al_slot *s, const var_plan *p, const char *label[AL_LBL__COUNT])
{
    size_t off = 0;
    memset(s->var_off, 0, sizeof s->var_off);
    memset(s->var_len, 0, sizeof s->var_len);
    for (unsigned m = p->vars; m; m &= m - 1) {
        int i = __builtin_ctz(m);
        copy_short(s->var + off, p->src[i], p->len[i]);
        s->var_off[i] = p->len[i] ? (uint16_t)off : 0xffff;     /* 0xffff: present but empty */
        s->var_len[i] = (uint16_t)p->len[i];
        off += p->len[i];
    }
    memcpy(s->label, label, sizeof s->label);
    for (unsigned m = p->copied; m; m &= m - 1) {
        int i = __builtin_ctz(m);
        memcpy(s->var + off, p->lbl_src[i], p->lbl_len[i]);
        s->var[off + p->lbl_len[i]] = '\0';
        s->label[i] = s->var + off;
        off += p->lbl_len[i] + 1;
    }
}

int alert_on_request_start(alert_ctx *ctx, const alert_request *req, alert_req_id *out)
{
    if (!ctx || !req || !out)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_request_start: %s is NULL",
                           !req ? "req" : "out");
    *out = 0;
    if (!version_ok(req, ALERT_REQUEST_VERSION))     /* inline; the reason off the fast path */
        return al_ctx_check_version(ctx, "alert_on_request_start", "alert_request", req,
                                    ALERT_REQUEST_VERSION);
    int rc;
    int64_t start = req->start_ms ? req->start_ms : al_ctx_now(ctx);
    var_plan plan;
    const char *label[AL_LBL__COUNT];
    int metadata_bad = 0;
    if (plan_request(ctx, req, &plan, label) < 0) {
        metadata_bad = 1;
        atomic_fetch_add_explicit(&ctx->n.metadata_dropped, 1, memory_order_relaxed);
    }
    unsigned stripe = al_inflight_stripe();
    uint32_t idx, gen;
    al_slot *s = al_inflight_take(ctx->inflight, stripe, plan.total, &idx, &gen, &rc);
    if (!s) {
        if (rc == ALERT_ERR_FULL) {
            atomic_fetch_add_explicit(&ctx->n.requests_rejected, 1, memory_order_relaxed);
            return al_ctx_fail(ctx, rc, "alert_on_request_start: max_inflight (%lld) requests are "
                               "in flight; this one is not watched", (long long)ctx->max_inflight);
        }
        return al_ctx_fail(ctx, rc, "alert_on_request_start: out of memory for the request's labels");
    }
    s->start_ms = start;
    s->stream = req->stream ? 1 : 0;
    s->metadata_bad = (uint8_t)metadata_bad;
    if (s->var)
        fill_slot(s, &plan, label);
    else {
        memset(s->var_off, 0, sizeof s->var_off);
        memset(s->var_len, 0, sizeof s->var_len);
        memcpy(s->label, label, sizeof s->label);
    }
    if (al_inflight_publish_at(ctx->inflight, stripe, s, idx, gen) != 0)
        al_ctx_wake(ctx);       /* the ring is full, or filling: the worker drains it */
    *out = (uint64_t)gen << 32 | (idx + 1);
    return ALERT_OK;
}

int alert_on_first_token(alert_ctx *ctx, alert_req_id id, int64_t at_ms)
{
    if (!ctx || id == 0)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_first_token: request id 0 is never valid");
    uint32_t lo = (uint32_t)id, gen = (uint32_t)(id >> 32);
    al_slot *s = lo ? al_inflight_slot(ctx->inflight, lo - 1) : NULL;
    if (!s)
        return al_ctx_fail(ctx, ALERT_ERR_NOT_FOUND, "alert_on_first_token: request id %llu was "
                           "never issued by this context", (unsigned long long)id);
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    if ((uint32_t)(w >> 32) != gen || ((w & 0xffffffffu) != AL_SLOT_ACTIVE &&
                                      (w & 0xffffffffu) != AL_SLOT_READING))
        return al_ctx_fail(ctx, ALERT_ERR_NOT_FOUND, "alert_on_first_token: request id %llu is not "
                           "in flight (already ended, failed or cancelled)", (unsigned long long)id);
    int64_t expected = 0;
    atomic_compare_exchange_strong_explicit(&s->first_token_ms, &expected,
                                            at_ms ? at_ms : al_ctx_now(ctx),
                                            memory_order_relaxed, memory_order_relaxed);
    return ALERT_OK;
}

/* The event strings of a tracked request: the slot's, overridden by labels
 * chosen late (the response's or the failure's). */
static void slot_strings(const al_slot *s, const char *strs[AL_ES__COUNT], size_t lens[AL_ES__COUNT],
                         const char *const late[5])
{
    static const int lbl_to_es[AL_LBL__COUNT] = {
        AL_ES_MODEL, AL_ES_DEPLOYMENT, AL_ES_DEPLOYMENT_ID, AL_ES_PROVIDER,
        AL_ES_API_BASE, AL_ES_REGION, AL_ES_TEAM_ALIAS,
    };
    for (int i = 0; i < AL_ES__COUNT; i++) {
        strs[i] = NULL;
        lens[i] = SIZE_MAX;
    }
    const char *var_end = s->var ? s->var + al_inflight_var_class_size(s->var_class) : NULL;
    for (int i = 0; i < AL_LBL__COUNT; i++) {
        const char *l = s->label[i];
        strs[lbl_to_es[i]] = l;
        if (l && s->var && l >= s->var && l < var_end) {
            lens[lbl_to_es[i]] = strnlen(l, AL_LABEL_MAX);     /* a copied label */
        }
    }
    static const int var_to_es[][2] = {
        { AL_VAR_CALL_ID, AL_ES_CALL_ID }, { AL_VAR_KEY_ALIAS, AL_ES_KEY_ALIAS },
        { AL_VAR_USER_ID, AL_ES_USER_ID }, { AL_VAR_MESSAGES, AL_ES_MESSAGES },
        { AL_VAR_METADATA, AL_ES_METADATA },
    };
    for (size_t i = 0; i < sizeof var_to_es / sizeof *var_to_es; i++) {
        size_t n;
        const char *v = al_slot_var(s, var_to_es[i][0], &n);
        if (v && s->var_off[var_to_es[i][0]] == 0xffff)
            v = "", n = 0;
        strs[var_to_es[i][1]] = v;
        lens[var_to_es[i][1]] = v ? n : SIZE_MAX;
    }
    static const int late_es[5] = { AL_ES_DEPLOYMENT, AL_ES_DEPLOYMENT_ID, AL_ES_PROVIDER,
                                    AL_ES_API_BASE, AL_ES_REGION };
    for (int i = 0; i < 5; i++)
        if (late[i]) {
            strs[late_es[i]] = late[i];
            lens[late_es[i]] = prefix_bytes(late[i], AL_LABEL_MAX, AL_LABEL_MAX);
        }
}

static void push_event(alert_ctx *ctx, al_event *e)
{
    if (!e) {
        al_ctx_error(ctx, "out of memory: an alert event was lost");
        return;
    }
    if (al_evqueue_push(&ctx->events, e) == 0)
        al_ctx_notify(ctx);
}

/* The deployment a finished request counts for in the daily report: the one chosen
 * late if any, else the one known at start; interned, so the pointer is the key. */
static const char *deployment_key(alert_ctx *ctx, const al_slot *s, const char *late_id,
                                  const char *late_name)
{
    const char *late = late_id ? late_id : late_name;
    if (late)
        return al_intern(ctx->intern, late, prefix_bytes(late, AL_LABEL_MAX, AL_LABEL_MAX));
    return s->label[AL_LBL_DEPLOYMENT_ID] ? s->label[AL_LBL_DEPLOYMENT_ID] : s->label[AL_LBL_DEPLOYMENT];
}

/* Inlined into both callers: as a call it costs ~28 instructions of a realistic pair. */
static inline __attribute__((always_inline)) void
count_daily(alert_ctx *ctx, unsigned stripe, const al_slot *s, const char *late_id,
            const char *late_name, const char *late_base, const char *late_model, int failed,
            int64_t dur_ms, int64_t tokens)
{
    const char *dep = deployment_key(ctx, s, late_id, late_name);
    if (!dep)
        return;
    const char *base = late_base ? al_intern(ctx->intern, late_base,
                                             prefix_bytes(late_base, AL_LABEL_MAX, AL_LABEL_MAX))
                                 : s->label[AL_LBL_API_BASE];
    /* the report names a deployment by its model, as LiteLLM's (litellm_params.model) */
    const char *model = late_model ? al_intern(ctx->intern, late_model,
                                               prefix_bytes(late_model, AL_LABEL_MAX, AL_LABEL_MAX))
                                   : s->label[AL_LBL_MODEL];
    uint64_t us = dur_ms > 0 ? (uint64_t)dur_ms * 1000u : 0;
    if (tokens > 0)
        us /= (uint64_t)tokens;
    al_dstats_add(atomic_load_explicit(&ctx->dstats, memory_order_acquire), stripe, dep, base, model,
                  failed, us);
}

int alert_on_request_end(alert_ctx *ctx, alert_req_id id, const alert_response *resp)
{
    if (!ctx || id == 0)
        return ctx ? al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_request_end: request id 0 is never valid")
                   : ALERT_ERR_INVALID;
    if (resp && !version_ok(resp, ALERT_RESPONSE_VERSION))  /* inline; the reason off the fast path */
        return al_ctx_check_version(ctx, "alert_on_request_end", "alert_response", resp,
                                    ALERT_RESPONSE_VERSION);
    uint32_t idx;
    al_slot *s = al_inflight_claim(ctx->inflight, id, &idx);
    if (!s)
        return al_ctx_fail(ctx, ALERT_ERR_NOT_FOUND, "alert_on_request_end: request id %llu is not "
                           "in flight (already ended, failed or cancelled)", (unsigned long long)id);
    int64_t end = (resp && resp->end_ms) ? resp->end_ms : al_ctx_now(ctx);
    int64_t dur_ms = end - s->start_ms;
    unsigned stripe = al_inflight_stripe();
    if (ctx->dstats)
        count_daily(ctx, stripe, s, resp ? resp->deployment_id : NULL, resp ? resp->deployment : NULL,
                    resp ? resp->api_base : NULL, NULL, 0, dur_ms, resp ? resp->completion_tokens : -1);
    /* dur_ms is whole: dur_ms > threshold (s) * 1000 exactly when dur_ms > its floor */
    int slow = al_type_on(ctx, AL_T_LLM_TOO_SLOW) &&
               dur_ms > atomic_load_explicit(&ctx->threshold_ms, memory_order_relaxed);
    int resolved = atomic_load_explicit(&ctx->send_resolved, memory_order_relaxed) &&
                   atomic_load_explicit(&s->hang_alerted, memory_order_relaxed);
    if (slow || resolved) {
        const char *late[5] = { NULL, NULL, NULL, NULL, NULL };
        if (resp) {
            late[0] = resp->deployment, late[1] = resp->deployment_id, late[2] = resp->provider;
            late[3] = resp->api_base, late[4] = resp->region;
        }
        const char *strs[AL_ES__COUNT];
        size_t lens[AL_ES__COUNT];
        slot_strings(s, strs, lens, late);
        for (int k = 0; k < 2; k++) {
            if (!(k == 0 ? slow : resolved))
                continue;
            al_event *e = al_event_new(&ctx->events, k == 0 ? AL_EV_SLOW : AL_EV_HANG_RESOLVED,
                                       strs, lens);
            if (e) {
                e->start_ms = s->start_ms;
                e->end_ms = end;
                e->first_token_ms = atomic_load_explicit(&s->first_token_ms, memory_order_relaxed);
                e->stream = s->stream;
                e->metadata_bad = s->metadata_bad;
                if (resp) {
                    e->prompt_tokens = resp->prompt_tokens;
                    e->completion_tokens = resp->completion_tokens;
                }
            }
            push_event(ctx, e);
        }
    }
    al_inflight_release_at(ctx->inflight, stripe, s, idx);
    return ALERT_OK;
}

static al_event *failure_event(alert_ctx *ctx, const alert_failure *f, const char *strs[AL_ES__COUNT],
                               size_t lens[AL_ES__COUNT], int64_t start, int64_t end)
{
    if (f->message) {
        strs[AL_ES_MESSAGE] = f->message;
        lens[AL_ES_MESSAGE] = prefix_bytes(f->message, MESSAGE_MAX, MESSAGE_MAX);
    }
    if (f->error_class) {
        strs[AL_ES_ERROR_CLASS] = f->error_class;
        lens[AL_ES_ERROR_CLASS] = prefix_bytes(f->error_class, AL_LABEL_MAX, AL_LABEL_MAX);
    }
    al_event *e = al_event_new(&ctx->events, AL_EV_FAILURE, strs, lens);
    if (e) {
        e->status_code = f->status_code;
        e->start_ms = start;
        e->end_ms = end;
    }
    return e;
}

int alert_on_request_failure(alert_ctx *ctx, alert_req_id id, const alert_failure *f)
{
    if (!ctx || !f)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_request_failure: f is NULL");
    int rc = al_ctx_check_version(ctx, "alert_on_request_failure", "alert_failure", f,
                                  ALERT_FAILURE_VERSION);
    if (rc != ALERT_OK)
        return rc;
    int64_t end = f->end_ms ? f->end_ms : al_ctx_now(ctx);
    int exception = !f->user_error && al_type_on(ctx, AL_T_LLM_EXCEPTIONS);
    int outage = (f->status_code == 408 || f->status_code >= 500) &&
                 (al_type_on(ctx, AL_T_OUTAGE_ALERTS) || al_type_on(ctx, AL_T_REGION_OUTAGE_ALERTS));
    int page = atomic_load_explicit(&ctx->pagerduty_on, memory_order_relaxed) && !f->user_error;
    int alert = exception || outage || page;
    int flags = (exception ? AL_EVF_EXCEPTION : 0) | (outage ? AL_EVF_OUTAGE : 0) |
                (page ? AL_EVF_PAGERDUTY : 0);
    const char *strs[AL_ES__COUNT];
    size_t lens[AL_ES__COUNT];
    const char *late[5] = { f->deployment, f->deployment_id, f->provider, f->api_base, f->region };
    if (id == 0) {
        /* a call that was never started: the labels come from the failure */
        if (!alert)
            return ALERT_OK;
        for (int i = 0; i < AL_ES__COUNT; i++) {
            strs[i] = NULL;
            lens[i] = SIZE_MAX;
        }
        const struct { int es; const char *v; size_t max; } from[] = {
            { AL_ES_MODEL, f->model, AL_LABEL_MAX }, { AL_ES_CALL_ID, f->call_id, AL_ID_MAX },
            { AL_ES_KEY_ALIAS, f->key_alias, AL_ID_MAX }, { AL_ES_TEAM_ALIAS, f->team_alias, AL_LABEL_MAX },
            { AL_ES_DEPLOYMENT, late[0], AL_LABEL_MAX }, { AL_ES_DEPLOYMENT_ID, late[1], AL_LABEL_MAX },
            { AL_ES_PROVIDER, late[2], AL_LABEL_MAX }, { AL_ES_API_BASE, late[3], AL_LABEL_MAX },
            { AL_ES_REGION, late[4], AL_LABEL_MAX }, { AL_ES_METADATA, f->alerting_metadata_json, 0 },
        };
        int metadata_bad = 0;
        for (size_t i = 0; i < sizeof from / sizeof *from; i++) {
            if (!from[i].v)
                continue;
            if (from[i].es == AL_ES_METADATA) {
                size_t n = strnlen(from[i].v, AL_METADATA_MAX + 1);
                if (n > AL_METADATA_MAX) {
                    metadata_bad = 1;
                    continue;
                }
                strs[AL_ES_METADATA] = from[i].v;
                lens[AL_ES_METADATA] = n;
                continue;
            }
            strs[from[i].es] = from[i].v;
            lens[from[i].es] = prefix_bytes(from[i].v, from[i].max, from[i].max);
        }
        al_event *e = failure_event(ctx, f, strs, lens, end, end);
        if (e) {
            e->metadata_bad = metadata_bad;
            e->flags = flags;
        }
        push_event(ctx, e);
        return ALERT_OK;
    }
    uint32_t idx;
    al_slot *s = al_inflight_claim(ctx->inflight, id, &idx);
    if (!s)
        return al_ctx_fail(ctx, ALERT_ERR_NOT_FOUND, "alert_on_request_failure: request id %llu is "
                           "not in flight (already ended, failed or cancelled)", (unsigned long long)id);
    if (ctx->dstats)
        count_daily(ctx, al_inflight_stripe(), s, f->deployment_id, f->deployment, f->api_base, f->model, 1,
                    end - s->start_ms, -1);
    if (alert) {
        slot_strings(s, strs, lens, late);
        al_event *e = failure_event(ctx, f, strs, lens, s->start_ms, end);
        if (e) {
            e->metadata_bad = s->metadata_bad;
            e->flags = flags;
        }
        push_event(ctx, e);
    }
    al_inflight_release_at(ctx->inflight, al_inflight_stripe(), s, idx);
    return ALERT_OK;
}

int alert_on_request_cancel(alert_ctx *ctx, alert_req_id id)
{
    if (!ctx || id == 0)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_request_cancel: request id 0 is never valid");
    uint32_t idx;
    if (!al_inflight_claim(ctx->inflight, id, &idx))
        return al_ctx_fail(ctx, ALERT_ERR_NOT_FOUND, "alert_on_request_cancel: request id %llu is "
                           "not in flight (already ended, failed or cancelled)", (unsigned long long)id);
    al_inflight_release(ctx->inflight, al_inflight_stripe(), idx);
    return ALERT_OK;
}

/* Queues an event for the worker; a full queue (event_queue_size) is said. */
static int push_checked(alert_ctx *ctx, const char *fn, al_event *e)
{
    if (al_evqueue_push(&ctx->events, e) == 0) {
        al_ctx_notify(ctx);
        return ALERT_OK;
    }
    return al_ctx_fail(ctx, ALERT_ERR_FULL, "%s: the event queue is full (event_queue_size %zu)",
                       fn, ctx->events.max);
}

static int is_json_object(const char *s)
{
    json_error_t jerr;
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

int alert_emit(alert_ctx *ctx, const char *alert_type, int32_t level, const char *message,
               const char *alerting_metadata_json)
{
    if (!ctx || !alert_type || !message)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_emit: %s is NULL",
                           !alert_type ? "alert_type" : "message");
    int t = al_type_from_name(alert_type);
    if (t < 0)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_emit: unknown alert_type \"%.64s\"",
                           alert_type);
    if (level < ALERT_LEVEL_LOW || level > ALERT_LEVEL_HIGH)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_emit: level %d is out of range "
                           "(ALERT_LEVEL_LOW 1 .. ALERT_LEVEL_HIGH 3)", (int)level);
    if (strnlen(message, EMIT_MAX + 1) > EMIT_MAX)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_emit: message is longer than %d bytes",
                           EMIT_MAX);
    if (alerting_metadata_json && strnlen(alerting_metadata_json, EMIT_MAX + 1) > EMIT_MAX)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_emit: alerting_metadata_json is longer "
                           "than %d bytes", EMIT_MAX);
    if (alerting_metadata_json && !is_json_object(alerting_metadata_json))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_emit: alerting_metadata_json is not a "
                           "JSON object");
    if (!al_type_on(ctx, (al_type)t)) {
        atomic_fetch_add_explicit(&ctx->n.alerts_filtered, 1, memory_order_relaxed);
        return ALERT_OK;
    }
    const char *strs[AL_ES__COUNT] = { 0 };
    strs[AL_ES_ALERT_TYPE] = alert_type;
    strs[AL_ES_MESSAGE] = message;
    strs[AL_ES_METADATA] = alerting_metadata_json;
    al_event *e = al_event_new(&ctx->events, AL_EV_EMIT, strs, NULL);
    if (!e)
        return al_ctx_fail(ctx, ALERT_ERR_NOMEM, "alert_emit: out of memory");
    e->level = level;
    e->end_ms = al_ctx_now(ctx);
    return push_checked(ctx, "alert_emit", e);
}

int alert_send_test(alert_ctx *ctx, const char *destination)
{
    if (!ctx || !destination)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_send_test: destination is NULL");
    int listed = 0;
    pthread_mutex_lock(&ctx->lock);     /* alert_ctx_reconfigure swaps the list under it */
    for (size_t i = 0; i < ctx->cfg.alerting.n; i++)
        if (strcmp(ctx->cfg.alerting.items[i], destination) == 0)
            listed = 1;
    pthread_mutex_unlock(&ctx->lock);
    if (!listed)
        return al_ctx_fail(ctx, ALERT_ERR_NOT_FOUND, "alert_send_test: \"%.64s\" is not in the "
                           "alerting list of this context", destination);
    const char *strs[AL_ES__COUNT] = { 0 };
    strs[AL_ES_ALERT_TYPE] = destination;
    al_event *e = al_event_new(&ctx->events, AL_EV_TEST, strs, NULL);
    if (!e)
        return al_ctx_fail(ctx, ALERT_ERR_NOMEM, "alert_send_test: out of memory");
    e->end_ms = al_ctx_now(ctx);
    return push_checked(ctx, "alert_send_test", e);
}

#define ID_MAX 256      /* labels of spend and budget events are cut here */

/* ---- spend and budget events: one allocation each, packed on the host's thread ---- */

typedef struct packer {
    char *p, *end;
} packer;

static size_t str_size(const char *s)
{
    return s ? strnlen(s, ID_MAX) + 1 : 0;
}

static const char *pack_str(packer *k, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strnlen(s, ID_MAX);
    char *d = k->p;
    memcpy(d, s, n);
    d[n] = '\0';
    k->p += n + 1;
    return d;
}

/* A raw "sk-" key never leaves the caller's thread unhashed. */
static const char *key_hash_of(const char *key, char out[65])
{
    if (key && strncmp(key, "sk-", 3) == 0 && al_sha256_hex(key, strlen(key), out) == 0)
        return out;
    return key;
}

static al_event *spend_event(al_evqueue *q, const alert_spend *s, int64_t at_ms)
{
    char hashed[65];
    const char *key = key_hash_of(s->key_hash, hashed);
    const char *strs[] = { key, s->key_alias, s->user_id, s->user_email, s->team_id, s->team_alias,
                           s->customer_id, s->organization_id, s->model, s->deployment };
    size_t need = sizeof(al_event) + sizeof(alert_spend) + s->tag_count * sizeof(char *);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        need += str_size(strs[i]);
    for (uint32_t i = 0; i < s->tag_count; i++)
        need += str_size(s->tags[i]);
    al_event *e = al_event_alloc(q, need);
    if (!e)
        return NULL;
    e->kind = AL_EV_SPEND;
    e->end_ms = at_ms;
    alert_spend *c = (alert_spend *)(e + 1);
    *c = *s;
    const char **tags = (const char **)(c + 1);
    packer k = { (char *)(tags + s->tag_count), (char *)e + need };
    const char **dst[] = { &c->key_hash, &c->key_alias, &c->user_id, &c->user_email, &c->team_id,
                           &c->team_alias, &c->customer_id, &c->organization_id, &c->model,
                           &c->deployment };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        *dst[i] = pack_str(&k, strs[i]);
    for (uint32_t i = 0; i < s->tag_count; i++)
        tags[i] = pack_str(&k, s->tags[i]);
    c->tags = s->tag_count ? tags : NULL;
    c->at_ms = at_ms;
    e->payload = c;
    return e;
}

static al_event *budget_event(al_evqueue *q, al_ev_kind kind, const alert_budget *b,
                             const char *duration, int64_t at_ms)
{
    char hashed[65];
    const char *key = key_hash_of(b->key_hash, hashed);
    const char *strs[] = { b->entity_id, key, b->key_alias, b->user_id, b->user_email, b->team_id,
                           b->team_alias, b->customer_id, b->organization_id, duration };
    size_t need = sizeof(al_event) + sizeof(alert_budget) + b->alert_email_count * sizeof(char *);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        need += str_size(strs[i]);
    for (uint32_t i = 0; i < b->alert_email_count; i++)
        need += str_size(b->alert_emails[i]);
    al_event *e = al_event_alloc(q, need);
    if (!e)
        return NULL;
    e->kind = kind;
    e->end_ms = at_ms;
    alert_budget *c = (alert_budget *)(e + 1);
    *c = *b;
    const char **emails = (const char **)(c + 1);
    packer k = { (char *)(emails + b->alert_email_count), (char *)e + need };
    const char **dst[] = { &c->entity_id, &c->key_hash, &c->key_alias, &c->user_id, &c->user_email,
                           &c->team_id, &c->team_alias, &c->customer_id, &c->organization_id };
    for (size_t i = 0; i < sizeof dst / sizeof *dst; i++)
        *dst[i] = pack_str(&k, strs[i]);
    e->s[AL_ES_MESSAGE] = pack_str(&k, duration);
    for (uint32_t i = 0; i < b->alert_email_count; i++)
        emails[i] = pack_str(&k, b->alert_emails[i]);
    c->alert_emails = b->alert_email_count ? emails : NULL;
    e->payload = c;
    return e;
}


static int finite_nonneg(double v)
{
    return isfinite(v) && v >= 0;
}

static int push_money(alert_ctx *ctx, const char *fn, al_event *e)
{
    if (!e)
        return al_ctx_fail(ctx, ALERT_ERR_NOMEM, "%s: out of memory", fn);
    return push_checked(ctx, fn, e);
}

int alert_on_spend(alert_ctx *ctx, const alert_spend *s)
{
    if (!ctx || !s)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_spend: s is NULL");
    int rc = al_ctx_check_version(ctx, "alert_on_spend", "alert_spend", s, ALERT_SPEND_VERSION);
    if (rc != ALERT_OK)
        return rc;
    if (!finite_nonneg(s->cost))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_spend: cost %g is not a finite amount "
                           ">= 0", s->cost);
    if ((s->tag_count && !s->tags) || s->tag_count > 64)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_spend: tag_count %u %s", (unsigned)s->tag_count,
                           s->tag_count > 64 ? "is over the limit of 64" : "with tags NULL");
    for (uint32_t i = 0; i < s->tag_count; i++)
        if (!s->tags[i])
            return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_spend: tags[%u] is NULL", (unsigned)i);
    int64_t at = s->at_ms ? s->at_ms : al_ctx_now(ctx);
    return push_money(ctx, "alert_on_spend", spend_event(&ctx->events, s, at));
}

static int check_budget(alert_ctx *ctx, const char *fn, const alert_budget *b)
{
    if (!ctx || !b)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "%s: b is NULL", fn);
    int rc = al_ctx_check_version(ctx, fn, "alert_budget", b, ALERT_BUDGET_VERSION);
    if (rc != ALERT_OK)
        return rc;
    if (b->entity < ALERT_ENTITY_KEY || b->entity > ALERT_ENTITY_PROXY)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "%s: entity %d is not an ALERT_ENTITY_* value "
                           "(1..8)", fn, (int)b->entity);
    if (!finite_nonneg(b->spend))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "%s: spend %g is not a finite amount >= 0", fn, b->spend);
    if (!isfinite(b->max_budget) || !isfinite(b->soft_budget))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "%s: %s is not finite (a negative value means none)",
                           fn, !isfinite(b->max_budget) ? "max_budget" : "soft_budget");
    if ((b->alert_email_count && !b->alert_emails) || b->alert_email_count > 64)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "%s: alert_email_count %u %s", fn,
                           (unsigned)b->alert_email_count,
                           b->alert_email_count > 64 ? "is over the limit of 64" : "with alert_emails NULL");
    for (uint32_t i = 0; i < b->alert_email_count; i++)
        if (!b->alert_emails[i])
            return al_ctx_fail(ctx, ALERT_ERR_INVALID, "%s: alert_emails[%u] is NULL", fn, (unsigned)i);
    return ALERT_OK;
}

int alert_on_budget(alert_ctx *ctx, const alert_budget *b)
{
    int rc = check_budget(ctx, "alert_on_budget", b);
    if (rc != ALERT_OK)
        return rc;
    return push_money(ctx, "alert_on_budget", budget_event(&ctx->events, AL_EV_BUDGET, b, NULL, al_ctx_now(ctx)));
}

int alert_set_budget(alert_ctx *ctx, const alert_budget *b, const char *budget_duration)
{
    int rc = check_budget(ctx, "alert_set_budget", b);
    if (rc != ALERT_OK)
        return rc;
    int64_t len_ms;
    int32_t months;
    if (!budget_duration)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_set_budget: budget_duration is NULL");
    if (al_budget_parse_duration(budget_duration, &len_ms, &months) != ALERT_OK)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_set_budget: budget_duration \"%.32s\" is "
                           "not a duration (30s, 30m, 24h, 7d, 1mo)", budget_duration);
    return push_money(ctx, "alert_set_budget", budget_event(&ctx->events, AL_EV_SET_BUDGET, b, budget_duration,
                                                 al_ctx_now(ctx)));
}

/* The operations events: checked here, built on the worker. */
static int push_ops(alert_ctx *ctx, const char *fn, al_type type, al_ev_kind kind,
                    const char *strs[AL_ES__COUNT], int32_t value)
{
    if (!al_type_on(ctx, type)) {
        atomic_fetch_add_explicit(&ctx->n.alerts_filtered, 1, memory_order_relaxed);
        return ALERT_OK;
    }
    size_t lens[AL_ES__COUNT];
    for (int i = 0; i < AL_ES__COUNT; i++)
        lens[i] = strs[i] ? prefix_bytes(strs[i], MESSAGE_MAX, MESSAGE_MAX) : SIZE_MAX;
    al_event *e = al_event_new(&ctx->events, kind, strs, lens);
    if (!e)
        return al_ctx_fail(ctx, ALERT_ERR_NOMEM, "%s: out of memory", fn);
    e->status_code = value;
    e->end_ms = al_ctx_now(ctx);
    return push_checked(ctx, fn, e);
}

int alert_on_db_error(alert_ctx *ctx, const char *error_text)
{
    if (!ctx || !error_text)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_db_error: error_text is NULL");
    const char *strs[AL_ES__COUNT] = { 0 };
    strs[AL_ES_MESSAGE] = error_text;
    return push_ops(ctx, "alert_on_db_error", AL_T_DB_EXCEPTIONS, AL_EV_DB_ERROR, strs, 0);
}

int alert_on_spend_tracking_failure(alert_ctx *ctx, const char *model, const char *error_text)
{
    if (!ctx || !error_text)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_spend_tracking_failure: error_text is NULL");
    const char *strs[AL_ES__COUNT] = { 0 };
    strs[AL_ES_MODEL] = model;
    strs[AL_ES_MESSAGE] = error_text;
    return push_ops(ctx, "alert_on_spend_tracking_failure", AL_T_FAILED_TRACKING_SPEND, AL_EV_TRACKING_FAILURE, strs, 0);
}

int alert_on_deployment_cooldown(alert_ctx *ctx, const char *deployment, const char *reason,
                                 int32_t cooldown_seconds)
{
    if (!ctx || !deployment)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_deployment_cooldown: deployment is NULL");
    if (cooldown_seconds < 0)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_deployment_cooldown: cooldown_seconds %d "
                           "is negative", (int)cooldown_seconds);
    const char *strs[AL_ES__COUNT] = { 0 };
    strs[AL_ES_DEPLOYMENT] = deployment;
    strs[AL_ES_MESSAGE] = reason;
    return push_ops(ctx, "alert_on_deployment_cooldown", AL_T_COOLDOWN_DEPLOYMENT, AL_EV_COOLDOWN, strs, cooldown_seconds);
}

int alert_on_fallback(alert_ctx *ctx, const char *primary_model, const char *fallback_model,
                      int32_t succeeded)
{
    if (!ctx || !primary_model || !fallback_model)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_fallback: %s is NULL",
                           !primary_model ? "primary_model" : "fallback_model");
    const char *strs[AL_ES__COUNT] = { 0 };
    strs[AL_ES_MODEL] = primary_model;
    strs[AL_ES_DEPLOYMENT] = fallback_model;
    return push_ops(ctx, "alert_on_fallback", AL_T_FALLBACK_REPORTS, AL_EV_FALLBACK, strs, succeeded ? 1 : 0);
}

int alert_on_management_event(alert_ctx *ctx, const char *alert_type, const char *actor_json,
                              const char *details_json)
{
    if (!ctx || !alert_type)
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_management_event: alert_type is NULL");
    int t = al_type_from_name(alert_type);
    if (t < 0 || !al_ops_is_management_type(t))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_management_event: \"%.64s\" is not a "
                           "management alert type", alert_type);
    if (actor_json && (strnlen(actor_json, EMIT_MAX + 1) > EMIT_MAX || !is_json_object(actor_json)))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_management_event: actor_json is not a JSON "
                           "object of at most %d bytes", EMIT_MAX);
    if (details_json && (strnlen(details_json, EMIT_MAX + 1) > EMIT_MAX || !is_json_object(details_json)))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_on_management_event: details_json is not a "
                           "JSON object of at most %d bytes", EMIT_MAX);
    const char *strs[AL_ES__COUNT] = { 0 };
    strs[AL_ES_ALERT_TYPE] = alert_type;
    strs[AL_ES_MESSAGE] = actor_json;
    strs[AL_ES_METADATA] = details_json;
    return push_ops(ctx, "alert_on_management_event", (al_type)t, AL_EV_MGMT, strs, 0);
}
