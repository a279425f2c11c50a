/* SPDX-License-Identifier: MIT */
/* Pending deliveries: batching and coalescing, retries with backoff, Retry-After,
 * give-up and dead targets, and the transports that carry them (libcurl multi for
 * HTTP, the host's vtable for custom transports). Worker-owned. */
#ifndef AL_OUTBOX_H
#define AL_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "dest.h"

typedef struct alert_ctx alert_ctx;
typedef struct al_outbox al_outbox;
typedef struct al_target al_target;

/* The destination kind of a target. */
al_dest_kind al_outbox_target_kind(const al_target *t);

al_outbox *al_outbox_new(alert_ctx *ctx);
void al_outbox_free(al_outbox *o);

/* The target for (kind, url) or (custom transport); created once, shared. */
al_target *al_outbox_target(al_outbox *o, al_dest_kind kind, const char *url,
                            al_transport_ref *custom);

/* alert_ctx_reconfigure, after the routes were built again: each target in_use does not
 * know any more hands its queued deliveries to the first target in use of the same
 * destination (kind, or custom transport name), or, when there is none, drops them
 * (counted in deliveries_dropped, logged, their spool rows deleted). A delivery in
 * flight finishes on its old target; a retry of it follows the same rule. */
void al_outbox_reroute(al_outbox *o, int (*in_use)(void *ud, const al_target *t), void *ud);

/* Queues one message for target: text is the alert text (coalescing compares it);
 * the alert is kept (a reference) for payloads built when the message is sent. */
int al_outbox_enqueue(al_outbox *o, al_target *t, al_alert *a, const char *text);

/* One pass: batches due (or all when force) become ready, due deliveries start,
 * finished transfers are classified. Never blocks. */
void al_outbox_run(al_outbox *o, int64_t now_ms, int force_flush);
/* alert_flush and alert_ctx_destroy: no custom transport send() starts once budget_ms
 * have passed, on the monotonic clock or on the ctx clock (which a host's clock, or a
 * test's send(), may move): a slow send() costs at most its own duration beyond the
 * budget. budget_ms < 0 lifts the limit. Callable from any thread. */
void al_outbox_set_deadline(al_outbox *o, int64_t budget_ms);
int al_outbox_past_deadline(const al_outbox *o);
/* Waits up to ms (real time) for network activity or al_outbox_wakeup. */
void al_outbox_wait(al_outbox *o, int ms);
void al_outbox_wakeup(al_outbox *o);
/* 1 when nothing is in flight, batched or ready to send at now_ms. */
int al_outbox_idle(al_outbox *o, int64_t now_ms);
/* Earliest ctx-clock time at which something is due (INT64_MAX: nothing). */
int64_t al_outbox_next_due(al_outbox *o);
size_t al_outbox_inflight(al_outbox *o);
/* Transfers at once (default 64); the bench compares 1 and 64. */
void al_outbox_set_max_transfers(al_outbox *o, size_t n);
/* Queued messages never exceed max_queue plus this: the room only "N alerts dropped"
 * notices may take beyond max_queue (libalerting-config(5) documents it). */
#define AL_OUTBOX_NOTICE_RESERVE 64
/* Messages looked at, ever, to choose what a full queue drops (tests: no queue walks). */
uint64_t al_outbox_evict_steps(const al_outbox *o);
/* Alerts dropped from a full queue since the last call, and the type of the first. */
uint64_t al_outbox_take_dropped(al_outbox *o, al_type *first_type);
/* state_path: the deliveries a previous run left pending, queued again. */
int al_outbox_replay(al_outbox *o);

/* One target's delivery counters, for alert_metrics_format; display never holds the
 * secret part of a URL. */
typedef struct al_target_stats {
    const char *destination;        /* "slack", or the custom transport's name */
    const char *display;            /* scheme://host[:port], or the name */
    uint64_t ok, failed, retried, dropped, queued;
    int64_t last_ok_ms;             /* ctx clock; 0: never */
    int dead;
} al_target_stats;
/* The i-th target's (any thread): 1, or 0 past the last. */
int al_outbox_target_stats(const al_outbox *o, size_t i, al_target_stats *out);
/* 1 when addr is an RFC 5321 mailbox, local-part@domain, as SMTP carries it: ASCII, a
 * dot-atom or quoted local part of at most AL_EMAIL_LOCAL_MAX bytes, a domain of LDH labels
 * (at most 63 bytes each) or an address literal, at most AL_EMAIL_MAX bytes in all; no
 * control characters (CR/LF), no space outside the quotes, no angle bracket anywhere, and
 * narrower than the RFC where envelope parsers differ: no '@' or '\\' quoted, no '@' or '"'
 * in a literal (libcurl splits at the first '@'). Pure: no allocation, no state. */
#define AL_EMAIL_MAX 254
#define AL_EMAIL_LOCAL_MAX 64
int al_email_address_ok(const char *addr);
/* Shows a URL as scheme://host only (URLs are secrets). */
void al_url_display(const char *url, char *out, size_t n);

#endif
