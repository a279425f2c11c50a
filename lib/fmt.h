/* SPDX-License-Identifier: MIT */
/* Formatting of alerts: the compat text envelope (Slack, Teams, Discord, email),
 * the generic event JSON, and a builder that writes an alert's text twice,
 * escaped for Slack and plain. */
#ifndef AL_FMT_H
#define AL_FMT_H

#include <stdint.h>

#include "alert.h"
#include "buf.h"

/* What the formatters need from the ctx, passed by value so they stay pure. */
typedef struct al_fmt_env {
    const char *instance;               /* instance_name: PagerDuty source, Alertmanager label,
                                           the webhook JSON's "instance" */
    int64_t now_ms;                     /* ctx clock: e-mail Date, Alertmanager endsAt on resolve */
    double alertmanager_resolve_after_s; /* <= 0 or not finite: 3600 */
    const char *proxy_base_url;         /* "Proxy URL" line, Alertmanager generatorURL; NULL: none */
    const char *fleet;                  /* fleet mode: fleet_name, the Alertmanager instance label of
                                           fleet-wide alerts; NULL: not in a fleet */
} al_fmt_env;

typedef struct al_text {
    al_buf esc;         /* values escaped (& < >) */
    al_buf plain;
} al_text;

/* Text we wrote ourselves: the same in both. */
void al_text_lit(al_text *t, const char *s);
void al_text_printf(al_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value from outside: repaired, escaped in esc; NULL prints "None" (compat). */
void al_text_val(al_text *t, const char *v);
/* ``Name: `value` `` on a line of its own (preceded by a newline). */
void al_text_field(al_text *t, const char *name, const char *v);
/* Moves the two texts into a->message and a->plain; ALERT_OK or ALERT_ERR_NOMEM. */
int al_text_finish(al_text *t, al_alert *a);
/* The same, but when the two texts are equal (nothing was escaped) a->plain is
 * a->message: one string. For alerts of which nothing replaces message or plain alone
 * afterwards (al_alert_free frees it once). */
int al_text_finish_shared(al_text *t, al_alert *a);
void al_text_free(al_text *t);

/* "Alert type: `t`\nLevel: ...\n\nMessage: <text>" + metadata + Proxy URL. */
char *al_fmt_envelope(const al_fmt_env *env, const al_alert *a);
/* The same, escaped (Slack, Teams) or plain (Discord, e-mail). */
char *al_fmt_envelope_as(const al_fmt_env *env, const al_alert *a, int escaped);
/* {"event": ..., "event_group": "proxy", "event_message": ..., ...} */
char *al_fmt_event_json(const al_fmt_env *env, const al_alert *a);
/* The same followed by a NUL and trailer (the caller keeps something with it in one
 * allocation); *len: the JSON's length. */
char *al_fmt_event_json_with(const al_fmt_env *env, const al_alert *a, const char *trailer,
                             size_t *len);

#endif
