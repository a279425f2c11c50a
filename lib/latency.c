/* SPDX-License-Identifier: MIT */
/* Slow, hanging and failed requests become alerts here, on the worker. */
#include "latency.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "ctx.h"
#include "fmt.h"
#include "redact.h"
#include "route.h"
#include "text.h"

/* Free text from outside: valid UTF-8, secrets scrubbed unless turned off. */
static char *clean_text(const alert_ctx *ctx, const char *s)
{
    char *fixed = al_utf8_repair(s, strlen(s));
    if (!fixed || ctx->cfg.disable_secret_redaction)
        return fixed;
    char *clean = al_scrub_secrets(fixed);
    al_free(fixed);
    return clean;
}

static void attach_metadata(alert_ctx *ctx, al_alert *a, const char *json, int bad)
{
    int rc = (!bad && json) ? al_alert_set_metadata(a, json, !ctx->cfg.disable_secret_redaction)
                            : ALERT_OK;
    if (bad || rc == ALERT_ERR_INVALID) {
        atomic_fetch_add(&ctx->n.metadata_dropped, bad ? 0 : 1);
        if (!ctx->warned_metadata++)      /* worker-only: no atomic needed */
            al_ctx_log(ctx, ALERT_LOG_WARNING,
                       "alerting_metadata that is not a JSON object of at most %d bytes was "
                       "dropped (logged once; counted)", AL_METADATA_MAX);
    }
}

static void set_labels(al_alert *a, const char *model, const char *deployment, const char *api_base,
                       const char *provider, const char *region, const char *call_id)
{
    /* out of memory: the alert goes without them (null in the event JSON) */
    (void)al_alert_set_labels(a, model, deployment, api_base, provider, region, call_id);
}

static void finish_alert(alert_ctx *ctx, al_alert *a, al_text *t)
{
    /* nothing replaces the text of these alerts: message and plain may be one string */
    if (al_text_finish_shared(t, a) != ALERT_OK) {
        al_ctx_error(ctx, "out of memory: a %s alert was lost", al_types[a->type].name);
        al_alert_free(a);
        return;
    }
    al_route_alert(ctx, a);
}

void al_fmt_elapsed(char out[32], int64_t ms)
{
    if (ms < 0 || ms >= (INT64_C(1) << 50)) {
        snprintf(out, 32, "%.2fs", (double)ms / 1000.0);
        return;
    }
    /* printf rounds the double's exact value to hundredths, half to even. The double is
     * within an ulp (< 0.00025 here) of ms/1000, so only a tie of ms/1000 (a last digit
     * of 5) depends on which side of it the double lies: fma gives that side exactly. */
    int64_t cents = ms / 10;
    int last = (int)(ms % 10);
    if (last > 5) {
        cents++;
    } else if (last == 5) {
        double side = fma((double)ms / 1000.0, 1000.0, -(double)ms);
        if (side > 0 || (side == 0 && (cents & 1)))
            cents++;
    }
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + cents % 10);
        cents /= 10;
    } while (cents || n < 3);       /* at least "0.05" */
    int k = 0;
    while (n > 2)
        out[k++] = digits[--n];
    out[k++] = '.';
    out[k++] = digits[1];
    out[k++] = digits[0];
    out[k++] = 's';
    out[k] = '\0';
}

static void fmt_seconds(char *buf, size_t n, int64_t ms)
{
    al_fmt_round(buf, n, (double)ms / 1000.0, 2);
}

/* ---- hanging: the timer wheel says a request reached the threshold ---------- */

typedef struct slot_copy {
    char var[4096];
    const char *label[AL_LBL__COUNT];
    uint16_t off[AL_VAR__COUNT], len[AL_VAR__COUNT];
    int has_var;
    int64_t start_ms;
    int metadata_bad;
} slot_copy;

static char *copy_var(const slot_copy *c, int which)
{
    if (!c->has_var || (c->len[which] == 0 && c->off[which] == 0))
        return NULL;
    if (c->off[which] == 0xffff)
        return al_strdup("");
    return al_strndup(c->var + c->off[which], c->len[which]);
}

void al_latency_on_due(void *arg, uint32_t idx, uint32_t gen, int64_t due_ms)
{
    alert_ctx *ctx = arg;
    if (!al_type_on(ctx, AL_T_LLM_REQUESTS_HANGING) || al_inflight_pin(ctx->inflight, idx, gen) < 0)
        return;     /* it ended first: nothing to say */
    /* copy what the alert needs, then let the request go on at once */
    slot_copy c;
    al_slot *s = al_inflight_slot(ctx->inflight, idx);
    size_t var_size = s->var ? al_inflight_var_class_size(s->var_class) : 0;
    c.has_var = s->var != NULL;
    if (var_size)
        memcpy(c.var, s->var, var_size);
    for (int i = 0; i < AL_LBL__COUNT; i++) {
        const char *l = s->label[i];
        c.label[i] = (l && s->var && l >= s->var && l < s->var + var_size) ? c.var + (l - s->var) : l;
    }
    memcpy(c.off, s->var_off, sizeof c.off);
    memcpy(c.len, s->var_len, sizeof c.len);
    c.start_ms = s->start_ms;
    c.metadata_bad = s->metadata_bad;
    atomic_store_explicit(&s->hang_alerted, 1, memory_order_relaxed);
    al_inflight_unpin(ctx->inflight, idx, gen);

    int64_t now = al_ctx_now(ctx);
    al_alert *a = al_alert_new(AL_T_LLM_REQUESTS_HANGING, al_types[AL_T_LLM_REQUESTS_HANGING].level, now);
    if (!a)
        return;
    char *call_id = copy_var(&c, AL_VAR_CALL_ID);
    char *key_alias = copy_var(&c, AL_VAR_KEY_ALIAS);
    char *metadata = copy_var(&c, AL_VAR_METADATA);
    set_labels(a, c.label[AL_LBL_MODEL], c.label[AL_LBL_DEPLOYMENT], c.label[AL_LBL_API_BASE],
               c.label[AL_LBL_PROVIDER], c.label[AL_LBL_REGION], call_id);
    /* on the worker's clock (due_ms is start + threshold there): a step of the wall
     * clock does not change how long the request has been running */
    int64_t elapsed_ms = al_ctx_mono(ctx) - due_ms + ctx->threshold_ms;
    a->duration_s = (double)elapsed_ms / 1000.0;
    char elapsed[32];
    al_fmt_elapsed(elapsed, elapsed_ms);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, "`Requests are hanging - ");
    al_text_lit(&t, ctx->cfg.alerting_threshold_text);
    al_text_lit(&t, "s+ request time`");
    al_text_field(&t, "Request Model", c.label[AL_LBL_MODEL]);
    al_text_field(&t, "API Base", c.label[AL_LBL_API_BASE]);
    /* LiteLLM stores a missing alias as "" (not None) */
    al_text_field(&t, "Key Alias", key_alias ? key_alias : "");
    al_text_field(&t, "Team Alias", c.label[AL_LBL_TEAM_ALIAS] ? c.label[AL_LBL_TEAM_ALIAS] : "");
    al_text_field(&t, "Request ID", call_id);
    al_text_field(&t, "Elapsed", elapsed);
    attach_metadata(ctx, a, metadata, c.metadata_bad);
    al_free(call_id);
    al_free(key_alias);
    al_free(metadata);
    (void)due_ms;
    finish_alert(ctx, a, &t);
}

/* ---- events from the hooks ---------------------------------------------------- */

/* An alert about the request an event describes: its labels and its duration. */
static al_alert *event_alert(const al_event *e, al_type type, int level)
{
    al_alert *a = al_alert_new(type, level, e->end_ms);
    if (!a)
        return NULL;
    set_labels(a, e->s[AL_ES_MODEL], e->s[AL_ES_DEPLOYMENT], e->s[AL_ES_API_BASE],
               e->s[AL_ES_PROVIDER], e->s[AL_ES_REGION], e->s[AL_ES_CALL_ID]);
    if (e->end_ms > e->start_ms)
        a->duration_s = (double)(e->end_ms - e->start_ms) / 1000.0;
    return a;
}

static void on_slow(alert_ctx *ctx, const al_event *e)
{
    al_alert *a = event_alert(e, AL_T_LLM_TOO_SLOW, al_types[AL_T_LLM_TOO_SLOW].level);
    if (!a)
        return;
    char dur[64];
    fmt_seconds(dur, sizeof dur, e->end_ms - e->start_ms);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_printf(&t, "`Responses are slow - %ss response time > Alerting threshold: %ss`", dur,
                   ctx->cfg.alerting_threshold_text);
    if (e->s[AL_ES_KEY_ALIAS]) {
        al_text_lit(&t, "\n");
        al_text_field(&t, "Key Name", e->s[AL_ES_KEY_ALIAS]);
        al_text_field(&t, "Team", e->s[AL_ES_TEAM_ALIAS]);
    }
    al_text_field(&t, "Request Model", e->s[AL_ES_MODEL]);
    al_text_field(&t, "API Base", e->s[AL_ES_API_BASE]);
    if (e->stream && e->first_token_ms) {
        char ttft[72];
        fmt_seconds(ttft, sizeof ttft - 1, e->first_token_ms - e->start_ms);
        strcat(ttft, "s");
        al_text_field(&t, "Time to First Token", ttft);
    }
    if (ctx->cfg.redact_messages)
        al_text_field(&t, "Messages", "Message not logged. litellm.redact_messages_in_exceptions=True");
    else
        al_text_field(&t, "Messages", e->s[AL_ES_MESSAGES]);
    attach_metadata(ctx, a, e->s[AL_ES_METADATA], e->metadata_bad);
    finish_alert(ctx, a, &t);
}

/* PagerDuty's compat aggregates: one page when a window fills, then it starts over. */
static void page(alert_ctx *ctx, al_type type, const char *what, int64_t n, double window_s,
                 int64_t at_ms)
{
    if (!al_type_on(ctx, type)) {
        atomic_fetch_add(&ctx->n.alerts_filtered, 1);
        return;
    }
    al_alert *a = al_alert_new(type, ALERT_LEVEL_HIGH, at_ms);
    if (!a)
        return;
    char text[160];
    snprintf(text, sizeof text, "%s: %lld in the last %g seconds.", what, (long long)n, window_s);
    a->message = al_strdup(text);
    a->plain = al_strdup(text);
    a->subject = al_strdup(what);
    a->page = AL_PAGE_ONLY;
    if (!a->message || !a->plain || !a->subject) {
        al_alert_free(a);
        return;
    }
    al_route_page(ctx, a);
}

void al_latency_on_pd_due(void *arg, uint32_t idx, uint32_t gen, int64_t due_ms)
{
    alert_ctx *ctx = arg;
    al_slot *s = al_inflight_slot(ctx->inflight, idx);
    uint64_t w = s ? atomic_load_explicit(&s->word, memory_order_acquire) : 0;
    if (w != ((uint64_t)gen << 32 | AL_SLOT_ACTIVE) && w != ((uint64_t)gen << 32 | AL_SLOT_READING))
        return;     /* it finished in time */
    int64_t n = al_pdwindow_add(&ctx->pd_hanging, due_ms);
    if (n)
        page(ctx, AL_T_LLM_REQUESTS_HANGING, "High Number of Hanging LLM Requests", n,
             ctx->cfg.hanging_threshold_window_seconds, due_ms);
}

static void on_failure(alert_ctx *ctx, const al_event *e)
{
    if (e->flags & AL_EVF_PAGERDUTY) {
        int64_t n = al_pdwindow_add(&ctx->pd_failures, e->end_ms);
        if (n)
            page(ctx, AL_T_LLM_EXCEPTIONS, "High LLM API Failure Rate", n,
                 ctx->cfg.failure_threshold_window_seconds, e->end_ms);
    }
    if (!(e->flags & AL_EVF_EXCEPTION))
        return;
    al_alert *a = event_alert(e, AL_T_LLM_EXCEPTIONS, al_types[AL_T_LLM_EXCEPTIONS].level);
    if (!a)
        return;
    a->status_code = e->status_code;
    const char *raw = e->s[AL_ES_MESSAGE] ? e->s[AL_ES_MESSAGE]
                    : e->s[AL_ES_ERROR_CLASS] ? e->s[AL_ES_ERROR_CLASS] : "Unknown error";
    char *msg = clean_text(ctx, raw);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, "LLM API call failed: `");
    if (msg)
        al_text_val(&t, msg);
    else
        t.esc.oom = 1;
    al_text_lit(&t, "`");
    al_free(msg);
    al_text_field(&t, "Model", e->s[AL_ES_MODEL]);
    al_text_field(&t, "Deployment", e->s[AL_ES_DEPLOYMENT]);
    al_text_field(&t, "API Base", e->s[AL_ES_API_BASE]);
    attach_metadata(ctx, a, e->s[AL_ES_METADATA], e->metadata_bad);
    finish_alert(ctx, a, &t);
}

static void on_hang_resolved(alert_ctx *ctx, const al_event *e)
{
    al_alert *a = event_alert(e, AL_T_LLM_REQUESTS_HANGING, ALERT_LEVEL_LOW);
    if (!a)
        return;
    char dur[64];
    fmt_seconds(dur, sizeof dur, e->end_ms - e->start_ms);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_printf(&t, "`Resolved: hanging request completed after %ss`", dur);
    al_text_field(&t, "Request Model", e->s[AL_ES_MODEL]);
    al_text_field(&t, "API Base", e->s[AL_ES_API_BASE]);
    al_text_field(&t, "Request ID", e->s[AL_ES_CALL_ID]);
    finish_alert(ctx, a, &t);
}

static void on_emit(alert_ctx *ctx, const al_event *e)
{
    int type = al_type_from_name(e->s[AL_ES_ALERT_TYPE]);
    al_alert *a = type >= 0 ? al_alert_new((al_type)type, e->level, e->end_ms) : NULL;
    if (!a)
        return;
    char *msg = clean_text(ctx, e->s[AL_ES_MESSAGE]);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    if (msg)
        al_text_val(&t, msg);
    else
        t.esc.oom = 1;
    al_free(msg);
    attach_metadata(ctx, a, e->s[AL_ES_METADATA], 0);
    finish_alert(ctx, a, &t);
}

void al_latency_on_event(alert_ctx *ctx, const al_event *e)
{
    switch (e->kind) {
    case AL_EV_SLOW: on_slow(ctx, e); break;
    case AL_EV_FAILURE: on_failure(ctx, e); break;
    case AL_EV_HANG_RESOLVED: on_hang_resolved(ctx, e); break;
    case AL_EV_EMIT: on_emit(ctx, e); break;
    default: break;
    }
}
