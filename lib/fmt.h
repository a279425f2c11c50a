/* Formatting of alerts: the compat text envelope (Slack, Teams, Discord, email),
 * the generic event JSON, and a builder that writes an alert's text twice,
 * escaped for Slack and plain. */
#ifndef AL_FMT_H
#define AL_FMT_H

#include "alert.h"
#include "buf.h"

typedef struct alert_ctx alert_ctx;

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
void al_text_free(al_text *t);

/* "Alert type: `t`\nLevel: ...\n\nMessage: <text>" + metadata + Proxy URL. */
char *al_fmt_envelope(const alert_ctx *ctx, const al_alert *a);
/* The same, escaped (Slack, Teams) or plain (Discord, e-mail). */
char *al_fmt_envelope_as(const alert_ctx *ctx, const al_alert *a, int escaped);
/* {"event": ..., "event_group": "proxy", "event_message": ..., ...} */
char *al_fmt_event_json(const alert_ctx *ctx, const al_alert *a);

#endif
