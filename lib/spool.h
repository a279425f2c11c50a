/* SPDX-License-Identifier: MIT */
/* An alert as JSON, so that a pending delivery can be kept in the store and its
 * payload rebuilt after a restart (BEHAVIOUR.md section 6, at-least-once). */
#ifndef AL_SPOOL_H
#define AL_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* One pending delivery as the state backends keep it. */
typedef struct al_spool_row {
    int64_t id;                 /* set by put; ignored as input */
    int32_t target_kind;        /* al_dest_kind */
    int32_t level;
    int32_t attempt;
    const char *target;         /* URL or transport name: a secret */
    const char *alert_type;
    const char *text;
    const void *body;           /* may be NULL (built when sent) */
    size_t body_len;
    const char *extra;          /* JSON for fields the outbox needs later; may be NULL */
    const char *idem;           /* idempotency key, stable across retries */
    int64_t created_ms;
    int64_t next_at_ms;
    int64_t deadline_ms;
} al_spool_row;

/* Everything a payload needs; NULL on allocation failure. count is the
 * "[Num Alerts: N]" of the message. */
char *al_alert_to_json(const al_alert *a, int count);
/* The alert back (refs 1), and the count; NULL when the text is not ours. */
al_alert *al_alert_from_json(const char *json, int *count);

#endif
