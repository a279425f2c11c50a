/* SPDX-License-Identifier: MIT */
/* The alert value and the table of alert types (name, default, level). */
#ifndef AL_ALERT_H
#define AL_ALERT_H

#include <stddef.h>
#include <stdint.h>

typedef enum al_type {
    AL_T_LLM_EXCEPTIONS,
    AL_T_LLM_TOO_SLOW,
    AL_T_LLM_REQUESTS_HANGING,
    AL_T_BUDGET_ALERTS,
    AL_T_SPEND_REPORTS,
    AL_T_FAILED_TRACKING_SPEND,
    AL_T_USER_SPEND_THRESHOLDS,
    AL_T_USER_SPEND_ANOMALIES,
    AL_T_DB_EXCEPTIONS,
    AL_T_DAILY_REPORTS,
    AL_T_COOLDOWN_DEPLOYMENT,
    AL_T_NEW_MODEL_ADDED,
    AL_T_MODEL_DEPRECATION_WARNINGS,
    AL_T_OUTAGE_ALERTS,
    AL_T_REGION_OUTAGE_ALERTS,
    AL_T_FALLBACK_REPORTS,
    AL_T_NEW_VIRTUAL_KEY_CREATED,
    AL_T_VIRTUAL_KEY_UPDATED,
    AL_T_VIRTUAL_KEY_DELETED,
    AL_T_NEW_TEAM_CREATED,
    AL_T_TEAM_UPDATED,
    AL_T_TEAM_DELETED,
    AL_T_NEW_INTERNAL_USER_CREATED,
    AL_T_INTERNAL_USER_UPDATED,
    AL_T_INTERNAL_USER_DELETED,
    AL_T__COUNT
} al_type;

typedef struct al_type_info {
    const char *name;
    int default_on;
    int level;          /* ALERT_LEVEL_* */
} al_type_info;

extern const al_type_info al_types[AL_T__COUNT];

int al_type_from_name(const char *name);        /* -1 when unknown */
uint32_t al_type_default_mask(void);            /* bit (1u << type) per default-on type */
const char *al_level_name(int level);           /* "Low", "Medium", "High" */

typedef struct al_strlist {
    char **items;
    size_t n;
} al_strlist;

typedef struct al_kv {
    char *key;
    char *value;        /* rendered: JSON strings unquoted, others compact JSON */
} al_kv;

/* One alert, owned by the worker from the moment a detector raises it. */
/* PagerDuty gets pages, not every alert. */
typedef enum al_page {
    AL_PAGE_NO = 0,             /* not a page (outages still are: route.c) */
    AL_PAGE_ALSO = 1,           /* a page too: budget crossed, the test page */
    AL_PAGE_ONLY = 2            /* PagerDuty only: its failure and hanging aggregates */
} al_page;

typedef struct al_alert {
    al_type type;
    int level;
    int64_t at_ms;              /* ctx clock when raised */
    char *message;              /* the event text, escaped for Slack where needed */
    char *plain;                /* the event text without Slack escaping (webhook, email) */
    al_kv *metadata;            /* alerting_metadata items, in order */
    uint32_t n_metadata;
    /* 1: the labels below that are not NULL share one allocation (al_alert_set_labels),
     * which starts at the first of them in the order model .. call_id */
    int labels_packed;
    char *metadata_json;        /* the compact JSON object, or NULL */
    /* labels (NULL when unknown) for routing, digest grouping and the webhook data */
    char *model, *deployment, *api_base, *region, *provider, *call_id;
    double duration_s;          /* < 0 unknown */
    int status_code;            /* 0 unknown */
    int refs;                   /* worker-only: the router and each queued delivery */

    /* optional, for destinations and detectors that need more than the text */
    char *webhook_json;         /* replaces the generic event JSON (budget events, section 3) */
    /* outbox.c: the generic event JSON, made once for all the webhook and custom deliveries
     * of the alert, followed by a NUL and the instance name it carries; NULL until needed */
    char *event_json;
    char *envelope;             /* replaces the whole text envelope (digests) */
    char *subject;              /* what the alert is about ("deployment azure/gpt-4"): dedup keys */
    int entity;                 /* ALERT_ENTITY_* for budget alerts, else 0 */
    int severity_major;         /* 1: a Major outage (PagerDuty "critical") */
    int resolved;               /* 1: the end of an episode (PagerDuty resolve, Alertmanager endsAt) */
    int notice;                 /* 1: our own notice of dropped alerts: never dropped itself */
    al_page page;               /* whether PagerDuty gets it, decided where it is raised */
    unsigned only;              /* al_dest_mask: to these kinds of destination only; 0: all */
    al_strlist emails;        /* extra e-mail recipients (budget alert_emails, user_email) */
    /* Called once, when the last delivery of the alert has finished: ok = 1 when at least
     * one destination accepted it. Lets a detector hold a mark "pending" until then. */
    void (*settle)(void *ud, const char *key, int ok);
    void *settle_ud;
    char *settle_key;
    /* settle.c's own hook: gets the alert (its settle and fleet keys); wins over settle */
    void (*settle_alert)(void *ud, struct al_alert *a, int ok);
    /* fleet mode: what the alert claims for the fleet before it goes out (state.h), and
     * whether this replica won it (then its fate is recorded for the fleet) */
    char *fleet_key;
    int fleet_claimed;
    /* gate.c, while it waits: the claims of a several-claim fleet key already answered
     * (bit i: claim i), and whether the first, deciding one was lost */
    unsigned fleet_answered;
    int fleet_lost;
    int delivered_ok;
    /* fleet reports: the idempotency key of every delivery of this alert, the same on
     * whichever replica sends it (at most 36 characters); NULL: one made per delivery */
    char *idem;
} al_alert;

al_alert *al_alert_new(al_type type, int level, int64_t at_ms);
al_alert *al_alert_retain(al_alert *a);
/* Copies the six labels (NULL stays NULL) into one allocation: a queued alert holds one
 * block instead of six. ALERT_ERR_NOMEM leaves them all NULL. Only on a new alert. */
int al_alert_set_labels(al_alert *a, const char *model, const char *deployment,
                        const char *api_base, const char *provider, const char *region,
                        const char *call_id);
/* Drops one reference; frees at zero. */
void al_alert_free(al_alert *a);
/* Parses a JSON object into a->metadata and a->metadata_json; ALERT_ERR_INVALID when the
 * text is not a JSON object (the alert is unchanged). Values are scrubbed when scrub != 0. */
int al_alert_set_metadata(al_alert *a, const char *json, int scrub);

#endif
