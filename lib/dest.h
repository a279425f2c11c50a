/* SPDX-License-Identifier: MIT */
/* Destinations as data: their kinds and names, and what an HTTP answer means for each
 * (BEHAVIOUR.md section 6). Pure: detectors name destinations through this header,
 * without the outbox. */
#ifndef AL_DEST_H
#define AL_DEST_H

#include <stddef.h>

typedef enum al_dest_kind {
    AL_DEST_SLACK,
    AL_DEST_DISCORD,
    AL_DEST_MS_TEAMS,
    AL_DEST_WEBHOOK,
    AL_DEST_EMAIL,
    AL_DEST_PAGERDUTY,
    AL_DEST_ALERTMANAGER,
    AL_DEST_CUSTOM,
    AL_DEST__COUNT
} al_dest_kind;

const char *al_dest_name(al_dest_kind k);
int al_dest_from_name(const char *name);        /* -1 when not built in */

/* What one attempt's answer means (BEHAVIOUR.md section 6). */
typedef enum al_outcome {
    AL_OUT_OK,
    AL_OUT_RETRY,           /* backoff */
    AL_OUT_RATE_LIMITED,    /* Retry-After, else backoff */
    AL_OUT_GIVE_UP,
    AL_OUT_DEAD             /* 404/410: the target is disabled */
} al_outcome;

al_outcome al_classify_http(al_dest_kind kind, long status, const char *body, size_t body_len);

/* A set of destination kinds: bit k for al_dest_kind k. */
typedef unsigned al_dest_mask;
#define AL_DEST_BIT(k) ((al_dest_mask)1u << (k))
#define AL_DEST_ALL ((al_dest_mask)0)   /* "no restriction": every destination */

#endif
