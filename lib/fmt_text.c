/* SPDX-License-Identifier: MIT */
/* The text envelope every text destination shares, the generic event JSON, and
 * the builder that writes an alert's text escaped and plain (fmt.h). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "alerting.h"
#include "calendar.h"
#include "fmt.h"
#include "text.h"

void al_text_lit(al_text *t, const char *s)
{
    al_buf_adds(&t->esc, s);
    al_buf_adds(&t->plain, s);
}

void al_text_printf(al_text *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    al_text_lit(t, tmp);
}

void al_text_val(al_text *t, const char *v)
{
    if (!v) {
        al_text_lit(t, "None");
        return;
    }
    /* most labels are plain ASCII with nothing to escape: no copies then */
    const unsigned char *p = (const unsigned char *)v;
    while (*p && *p < 0x80 && *p != '&' && *p != '<' && *p != '>')
        p++;
    if (!*p) {
        al_text_lit(t, v);
        return;
    }
    char *fixed = al_utf8_repair(v, strlen(v));
    char *esc = fixed ? al_slack_escape(fixed) : NULL;
    if (!fixed || !esc) {
        t->esc.oom = 1;
    } else {
        al_buf_adds(&t->esc, esc);
        al_buf_adds(&t->plain, fixed);
    }
    al_free(esc);
    al_free(fixed);
}

void al_text_field(al_text *t, const char *name, const char *v)
{
    al_text_lit(t, "\n");
    al_text_lit(t, name);
    al_text_lit(t, ": `");
    al_text_val(t, v);
    al_text_lit(t, "`");
}

int al_text_finish(al_text *t, al_alert *a)
{
    if (t->esc.oom || t->plain.oom) {
        al_text_free(t);
        return ALERT_ERR_NOMEM;
    }
    a->message = al_buf_take(&t->esc);
    a->plain = al_buf_take(&t->plain);
    return (a->message && a->plain) ? ALERT_OK : ALERT_ERR_NOMEM;
}

void al_text_free(al_text *t)
{
    al_buf_free(&t->esc);
    al_buf_free(&t->plain);
}

/* escaped: Slack and Teams (& < > escaped in values we did not write); else the
 * plain text for Discord (allowed_mentions guards it) and e-mail. */
char *al_fmt_envelope_as(const al_fmt_env *env, const al_alert *a, int escaped)
{
    if (a->envelope)
        return al_strdup(a->envelope);
    const char *message = escaped || !a->plain ? a->message : a->plain;
    al_buf b = AL_BUF_INIT;
    al_buf_adds(&b, "Alert type: `");
    al_buf_adds(&b, al_types[a->type].name);
    al_buf_adds(&b, "`");
    /* daily_reports and new_model_added: no Level or Timestamp, but metadata and the
     * Proxy URL line as every other type (LiteLLM appends them to both forms) */
    int bare = a->type == AL_T_DAILY_REPORTS || a->type == AL_T_NEW_MODEL_ADDED;
    if (bare) {
        al_buf_adds(&b, message);
        goto trailer;
    }
    al_utc tm;
    al_utc_parts(a->at_ms, &tm);
    /* printf-free: this runs for every alert */
    char hms[] = "00:00:00";
    int parts[3] = { tm.hour, tm.minute, tm.second };
    for (int i = 0; i < 3; i++) {
        hms[i * 3] = (char)('0' + parts[i] / 10 % 10);
        hms[i * 3 + 1] = (char)('0' + parts[i] % 10);
    }
    al_buf_adds(&b, "\nLevel: `");
    al_buf_adds(&b, al_level_name(a->level));
    al_buf_adds(&b, "`\nTimestamp: `");
    al_buf_adds(&b, hms);
    al_buf_adds(&b, "`\n\nMessage: ");
    al_buf_adds(&b, message);
trailer:
    for (size_t i = 0; i < a->n_metadata; i++) {
        char *k = escaped ? al_slack_escape(a->metadata[i].key) : al_strdup(a->metadata[i].key);
        char *v = escaped ? al_slack_escape(a->metadata[i].value) : al_strdup(a->metadata[i].value);
        if (!k || !v)
            b.oom = 1;
        /* LiteLLM's layout, the trailing blank line included */
        al_buf_printf(&b, "\n\n*Alerting Metadata*: \n%s: `%s`\n\n", k ? k : "", v ? v : "");
        al_free(k);
        al_free(v);
    }
    if (env->proxy_base_url)
        al_buf_printf(&b, "\n\nProxy URL: `%s`", env->proxy_base_url);
    return al_buf_take(&b);
}

char *al_fmt_envelope(const al_fmt_env *env, const al_alert *a)
{
    return al_fmt_envelope_as(env, a, 1);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *al_fmt_event_json(const al_fmt_env *env, const al_alert *a)
{
    char ts[32];
    al_utc_iso8601(ts, a->at_ms);
    json_t *meta = NULL;
    if (a->metadata_json) {
        json_error_t jerr;
        meta = json_loads(a->metadata_json, 0, &jerr);
    }
    json_t *data = json_object();
    json_t *root = json_object();
    if (!data || !root) {
        json_decref(data);
        json_decref(root);
        json_decref(meta);
        return NULL;
    }
    json_object_set_new(data, "model", str_or_null(a->model));
    json_object_set_new(data, "deployment", str_or_null(a->deployment));
    json_object_set_new(data, "api_base", str_or_null(a->api_base));
    json_object_set_new(data, "provider", str_or_null(a->provider));
    json_object_set_new(data, "region", str_or_null(a->region));
    json_object_set_new(data, "call_id", str_or_null(a->call_id));
    json_object_set_new(data, "duration_s", a->duration_s >= 0 ? json_real(a->duration_s) : json_null());
    json_object_set_new(data, "status_code", a->status_code ? json_integer(a->status_code) : json_null());
    json_object_set_new(root, "event", json_string(al_types[a->type].name));
    json_object_set_new(root, "event_group", json_string("proxy"));
    json_object_set_new(root, "event_message", str_or_null(a->plain ? a->plain : a->message));
    json_object_set_new(root, "level", json_string(al_level_name(a->level)));
    json_object_set_new(root, "timestamp", json_string(ts));
    json_object_set_new(root, "instance", json_string(env->instance));
    json_object_set_new(root, "alerting_metadata", meta ? meta : json_null());
    json_object_set_new(root, "data", data);
    char *d = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *out = d ? al_strdup(d) : NULL;
    free(d);
    return out;
}
