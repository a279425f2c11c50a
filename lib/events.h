/* SPDX-License-Identifier: MIT */
/* Events from the host's threads to the worker that carry text: slow and failed
 * requests, alert_emit, resolved hanging requests. Each event is one allocation
 * (the record and its strings); the queue is a short critical section.
 * Request starts do not come this way: they use the stripes' rings (inflight.h). */
#ifndef AL_EVENTS_H
#define AL_EVENTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef enum al_ev_kind {
    AL_EV_SLOW,
    AL_EV_FAILURE,
    AL_EV_EMIT,
    AL_EV_HANG_RESOLVED,
    AL_EV_TEST,             /* alert_send_test: s[AL_ES_ALERT_TYPE] is the destination */
    AL_EV_DB_ERROR,         /* s[AL_ES_MESSAGE] */
    AL_EV_COOLDOWN,         /* s[AL_ES_DEPLOYMENT], s[AL_ES_MESSAGE] reason, status_code seconds */
    AL_EV_FALLBACK,         /* s[AL_ES_MODEL] primary, s[AL_ES_DEPLOYMENT] fallback, status_code ok */
    AL_EV_MGMT,             /* s[AL_ES_ALERT_TYPE], s[AL_ES_MESSAGE] actor, s[AL_ES_METADATA] details */
    AL_EV_SPEND,            /* payload: alert_spend */
    AL_EV_BUDGET,           /* payload: alert_budget */
    AL_EV_SET_BUDGET,       /* payload: alert_budget, s[AL_ES_MESSAGE] the duration */
    AL_EV_TRACKING_FAILURE, /* s[AL_ES_MODEL], s[AL_ES_MESSAGE] */
} al_ev_kind;

typedef enum al_ev_str {
    AL_ES_MODEL, AL_ES_DEPLOYMENT, AL_ES_DEPLOYMENT_ID, AL_ES_PROVIDER, AL_ES_API_BASE,
    AL_ES_REGION, AL_ES_TEAM_ALIAS, AL_ES_CALL_ID, AL_ES_KEY_ALIAS, AL_ES_USER_ID,
    AL_ES_MESSAGES, AL_ES_METADATA, AL_ES_ERROR_CLASS, AL_ES_MESSAGE, AL_ES_ALERT_TYPE,
    AL_ES__COUNT
} al_ev_str;

#define AL_EVF_EXCEPTION 1     /* a failure to alert as llm_exceptions */
#define AL_EVF_OUTAGE    2     /* a failure that counts for outages (408, >= 500) */
#define AL_EVF_PAGERDUTY 4     /* a failure for PagerDuty's failure-rate aggregate */

typedef struct al_event {
    struct al_event *next;
    size_t block;                       /* its allocation's size; AL_EVENT_BLOCK: pooled */
    al_ev_kind kind;
    int32_t status_code;
    int32_t level;
    int32_t stream;
    int32_t metadata_bad;
    int32_t flags;                      /* AL_EVF_* */
    int64_t start_ms, end_ms, first_token_ms;
    int64_t prompt_tokens, completion_tokens;
    const char *s[AL_ES__COUNT];        /* into the same allocation; NULL unknown */
    void *payload;                      /* spend and budget events: their struct, same allocation */
} al_event;

/* Events of up to this many bytes come from the queue's pool: in steady state the
 * hooks that send events (failures, slow ends, spend, budgets) allocate nothing. */
#define AL_EVENT_BLOCK 1024
#define AL_EVENT_POOL_MAX 4096

typedef struct al_evqueue {
    pthread_mutex_t lock;
    al_event *head, *tail;
    size_t len, max;
    uint64_t dropped;
    al_event *pool;                     /* free AL_EVENT_BLOCK blocks */
    size_t n_pool;
} al_evqueue;

/* A zeroed event of size bytes (>= sizeof(al_event)): pooled when it fits a block. */
al_event *al_event_alloc(al_evqueue *q, size_t size);
/* Builds an event with copies of strs[i][0..lens[i]) (lens[i] == SIZE_MAX: strlen). */
al_event *al_event_new(al_evqueue *q, al_ev_kind kind, const char *const strs[AL_ES__COUNT],
                       const size_t lens[AL_ES__COUNT]);
/* Back to the pool (or freed). */
void al_event_free(al_evqueue *q, al_event *e);

void al_evqueue_init(al_evqueue *q, size_t max);
void al_evqueue_destroy(al_evqueue *q);
/* 0, or -1 when full (the event is freed and counted as dropped). */
int al_evqueue_push(al_evqueue *q, al_event *e);
al_event *al_evqueue_take_all(al_evqueue *q);   /* the list, oldest first */
uint64_t al_evqueue_dropped(al_evqueue *q);

#endif
