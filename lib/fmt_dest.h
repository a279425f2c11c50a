/* SPDX-License-Identifier: MIT */
/* Payloads of each destination (BEHAVIOUR §6): Slack, Discord, Teams, PagerDuty,
 * Alertmanager, e-mail, and the Standard Webhooks signature. Pure functions: they read
 * only their arguments (no ctx, no clock, no environment) and return a new string from
 * al_malloc (caller frees with al_free), or NULL when an allocation fails. */
#ifndef AL_FMT_DEST_H
#define AL_FMT_DEST_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "fmt.h"                /* al_fmt_env */


/* Size limits (BEHAVIOUR §6). Characters are Unicode code points, as Slack and
 * Discord (Python 3 len) count them. */
#define AL_SLACK_MAX_CHARS      40000
#define AL_DISCORD_MAX_CHARS    2000
#define AL_TEAMS_MAX_BYTES      (28 * 1024)     /* the whole serialized body */
#define AL_PAGERDUTY_MAX_SUMMARY 1024
#define AL_FMT_DETAIL_MAX_BYTES 8192            /* PagerDuty custom_details.text, Alertmanager description */
#define AL_EMAIL_MAX_SUBJECT_CHARS 200

/* {"text":…}, text cut to AL_SLACK_MAX_CHARS with "…". */
char *al_fmt_slack_body(const char *text);

/* {"content":…,"allowed_mentions":{"parse":[]}}, content cut to AL_DISCORD_MAX_CHARS
 * with "…". Mentions (@everyone, @here, <@id>, <@&id>) and Markdown links
 * ([text](url)) in the text are broken with a zero-width space. */
char *al_fmt_discord_body(const char *text);
/* The same for a Discord URL ending in /slack: {"text":…,"allowed_mentions":{"parse":[]}},
 * with Slack's <url|text> and <!here> broken too. The guard follows the destination
 * kind, never the shape of its URL. */
char *al_fmt_discord_slack_body(const char *text);
/* 1 when the URL's path ends in "/slack" (Discord's Slack-compatible endpoint, which
 * takes al_fmt_slack_body and waits by default). */
int al_discord_is_slack_compat(const char *url);
/* The URL with wait=true added to its query (before any #fragment), so Discord answers
 * only once the message is saved; a /slack URL or one that already has a wait parameter
 * is copied unchanged. */
char *al_discord_url(const char *url);

/* The Power Automate Workflows envelope with one Adaptive Card 1.2 TextBlock; the text is
 * cut with "…" so that the whole body is at most AL_TEAMS_MAX_BYTES. A Markdown link
 * ([text](url)) in the text is broken with a zero-width space after "]". */
char *al_fmt_teams_body(const char *text);

/* PagerDuty payload.severity: "critical" (High and a->severity_major), "error" (High),
 * "warning" (Medium), "info" (Low). Static strings. */
const char *al_fmt_severity(const al_alert *a);
/* The Alertmanager severity label: "critical" (High), "warning" (Medium), "info" (Low). */
const char *al_fmt_am_severity(const al_alert *a);

/* SHA-256 hex of "<type>\n<subject>", or of "<type>\n<first line of a->plain>" when the
 * alert has no subject. Detectors set a->subject for episodes so that trigger and resolve
 * share the key. */
char *al_pagerduty_dedup_key(const al_alert *a);

/* Events API v2 body. Trigger: routing_key, event_action, dedup_key, payload {summary
 * (summary_override or the first line of a->plain, <= 1024 characters), timestamp,
 * severity, source (instance), component "libalerting", group and class (the type),
 * custom_details (the known labels, status_code, alerting_metadata, text)}. With
 * a->resolved: routing_key, event_action "resolve" and dedup_key only. */
char *al_fmt_pagerduty_body(const al_fmt_env *env, const al_alert *a, const char *routing_key,
                            const char *summary_override);

/* POST /api/v2/alerts body: [{"labels":{alertname, severity (al_fmt_am_severity),
 * instance, model, deployment, region, entity (those known)}, "annotations":{summary,
 * description}, "startsAt": a->at_ms, "endsAt": startsAt + resolve_after, or now when
 * a->resolved, "generatorURL": proxy_base_url when set}] with RFC 3339 UTC millisecond
 * times. */
char *al_fmt_alertmanager_body(const al_fmt_env *env, const al_alert *a);

/* A complete RFC 5322 message with CRLF line endings, for CURLOPT_READFUNCTION of an
 * SMTP upload: Date (env->now_ms), From, To (the n_to addresses; empty ones skipped),
 * Subject "[<Level>] <first line of a->plain>" (RFC 2047 encoded when not plain ASCII),
 * Message-ID, Auto-Submitted, MIME-Version and a multipart/alternative body with a
 * text/plain and a text/html part, both UTF-8 quoted-printable. text is the message text
 * (NULL: a->plain). CR and LF (and other control characters) are removed from every header
 * value. No dot-stuffing: libcurl's SMTP upload does it (and appends the final "."), so a
 * stuffed message would arrive with doubled dots. boundary_seed (e.g. the delivery's
 * idempotency key; NULL allowed) determines the boundary and the Message-ID, so a retried
 * delivery carries the same Message-ID. NULL when from is NULL or on allocation failure. */
char *al_fmt_email(const al_fmt_env *env, const al_alert *a, const char *text, const char *from,
                   const char *const *to, size_t n_to, const char *boundary_seed);

/* Standard Webhooks v1: out = "v1," + base64(HMAC-SHA256(key, "<msg_id>.<timestamp_s>.<body>")),
 * key = base64-decode of the secret after an optional "whsec_" prefix (as the reference
 * libraries do, so a consumer verifies with the same secret string). 0, or -1 when the
 * secret is not base64 or decodes to nothing, out_size < 48, or allocation fails. */
#define AL_WEBHOOK_SIG_SIZE 48
int al_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp_s, const char *body,
                    size_t body_len, char *out, size_t out_size);

#endif
