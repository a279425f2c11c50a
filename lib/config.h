/* SPDX-License-Identifier: MIT */
/* The config object: every key of BEHAVIOUR.md section 9 as a typed field.
 * Loading (YAML through libyaml) and alert_config_set write these fields;
 * alert_ctx_create copies what it needs (al_config_copy) and resolves the
 * environment fallbacks of the targets then. */
#ifndef AL_CONFIG_H
#define AL_CONFIG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting.h"
#include "alert.h"

int al_strlist_push(al_strlist *l, const char *s);     /* copies s */
void al_strlist_clear(al_strlist *l);
int al_strlist_copy(al_strlist *dst, const al_strlist *src);

/* A transport registered with alert_config_add_transport; reference-counted because
 * every ctx made from the config shares it, and destroy runs when the last one goes. */
typedef struct al_transport_ref {
    _Atomic int refs;
    char *name;
    alert_transport vt;
    void *userdata;
} al_transport_ref;

void al_transport_ref_retain(al_transport_ref *t);
void al_transport_ref_release(al_transport_ref *t);     /* runs vt.destroy at zero */

typedef struct al_budget_decl {
    int entity;                 /* ALERT_ENTITY_* */
    char *id;
    double max_budget;          /* < 0: none */
    double soft_budget;         /* < 0: none */
    char *budget_duration;      /* "<N>s|m|h|d|mo" or NULL */
} al_budget_decl;

typedef struct al_type_conf {
    int digest;                 /* 0/1 */
    double digest_interval;     /* seconds, default 86400 */
} al_type_conf;

typedef struct al_rate_limit {
    char *destination;          /* "slack", "discord", ... */
    char *spec;                 /* as written: "1/s", "5/2s", "120/min" */
} al_rate_limit;

#define AL_MAX_THRESHOLDS 16

/* Every duration key in seconds: 0 where documented, else within this range
 * (libalerting-config(5)). */
#define AL_DURATION_MIN_S 0.001
#define AL_DURATION_MAX_S 31536000.0            /* 365 days */
#define AL_MAX_REPORT_DAYS 366                  /* spend_report_frequency "<N>d" */
#define AL_MAX_BASELINE_DAYS 365                /* spend_anomaly_baseline_days */
/* Entries of one string list (alerting, alert_types, email_recipients, the URLs of
 * one alert_to_webhook_url type) and of rate_limits. */
#define AL_MAX_LIST_ENTRIES 256

enum { AL_FLEET_OFF = 0, AL_FLEET_ON = 1, AL_FLEET_AUTO = 2 };

struct alert_config {
    /* general_settings */
    al_strlist alerting;                /* destinations */
    int alerting_set;                   /* 1 when the key was given */
    double alerting_threshold;          /* seconds, default 600 (the LiteLLM proxy's) */
    char alerting_threshold_text[32];   /* as written ("300", "0.5"), for the texts */
    uint32_t alert_types;               /* bit (1u << al_type); default: the default-on types */
    al_strlist alert_to_webhook_url[AL_T__COUNT];
    al_type_conf type_conf[AL_T__COUNT];
    int spend_report_days;              /* spend_report_frequency "<N>d", default 7 */
    al_budget_decl *budgets;
    size_t n_budgets;

    /* litellm_settings (also accepted under general_settings) */
    int redact_messages;                /* redact_messages_in_exceptions */

    /* alerting_args: LiteLLM's */
    double daily_report_frequency;      /* 43200 */
    double report_check_interval;       /* 300 */
    double budget_alert_ttl;            /* 86400 */
    double outage_alert_ttl;            /* 60 */
    double region_outage_alert_ttl;     /* 60 */
    int64_t minor_outage_alert_threshold;   /* 5 */
    int64_t major_outage_alert_threshold;   /* 10 */
    int64_t max_outage_alert_list_size;     /* 10, accepted, unused */
    int log_to_console;                 /* false */
    double budget_alert_thresholds[AL_MAX_THRESHOLDS];      /* [85, 95] */
    char budget_alert_threshold_text[AL_MAX_THRESHOLDS][16];/* as written */
    size_t n_budget_alert_thresholds;
    double daily_spend_per_user_threshold;      /* < 0: none */
    double monthly_spend_per_user_threshold;    /* < 0: none */
    double spend_anomaly_multiplier;            /* 3.0 */
    int64_t spend_anomaly_baseline_days;        /* 7 */
    double spend_anomaly_min_spend;             /* 10.0 */
    double user_spend_check_interval;           /* 3600 */
    int64_t failure_threshold;                  /* 60 */
    double failure_threshold_window_seconds;    /* 60 */
    double hanging_threshold_seconds;           /* 60 */
    int64_t hanging_threshold_fails;            /* 60 */
    double hanging_threshold_window_seconds;    /* 600 */

    /* alerting_args: ours (also accepted directly under general_settings;
     * alerting_args wins when both are given) */
    double flush_interval;              /* 5 */
    int64_t batch_size;                 /* 512 */
    int send_resolved;                  /* false */
    double delivery_deadline;           /* 86400 */
    int64_t max_queue;                  /* 100000 */
    double http_timeout;                /* 15 */
    double shutdown_timeout;            /* 5 */
    int64_t worker_threads;             /* 1; 0: the host drives alert_poll */
    char *state_path;
    char *instance_name;                /* NULL: the host name */
    int64_t max_inflight;               /* 1000000 */
    int64_t event_queue_size;           /* 65536 */
    int64_t max_tracked_deployments;    /* 10000 */
    al_rate_limit *rate_limits;
    size_t n_rate_limits;
    char *webhook_secret;
    al_strlist email_recipients;
    int customer_spend_webhook;         /* true */
    /* the types the webhook and email destinations receive (bit per al_type);
     * default, as LiteLLM: budget_alerts only (budget events and spend_tracked) */
    uint32_t webhook_alert_types;
    uint32_t email_alert_types;
    int disable_secret_redaction;       /* false */
    char *ca_bundle;
    char *proxy;
    int insecure_skip_verify;           /* false */
    double alertmanager_resolve_after;  /* 3600 */

    /* fleet mode (FLEET.md) */
    int fleet;                          /* AL_FLEET_AUTO (default), AL_FLEET_OFF, AL_FLEET_ON */
    char *redis_url;                    /* NULL: cache_params, REDIS_URL, REDIS_HOST... */
    char *fleet_name;                   /* NULL: "default" */
    double fleet_sync_interval;         /* 1 */
    double fleet_timeout;               /* 0.25 */
    double fleet_claim_timeout;         /* 2 */
    double fleet_takeover_after;        /* 30 */
    double fleet_report_grace;          /* 600 */
    int fleet_rate_limits;              /* true */
    /* litellm_settings.cache_params when its type is redis (NULL: not given) */
    int cache_redis;
    char *cache_redis_host, *cache_redis_port, *cache_redis_password, *cache_redis_username,
        *cache_redis_db;
    /* the cache_params key that makes it a Sentinel (sentinel_nodes, service_name) or a
     * Cluster (redis_startup_nodes, startup_nodes), which fleet mode does not support yet:
     * "litellm_settings.cache_params.<key>", a static string; NULL: none */
    const char *cache_redis_topology;

    /* targets (NULL: the environment variable of the same name in capitals,
     * read at alert_ctx_create) */
    char *slack_webhook_url;
    char *discord_webhook_url;
    char *ms_teams_webhook_url;
    char *webhook_url;
    char *alertmanager_url;
    char *pagerduty_api_key;
    char *pagerduty_url;
    char *smtp_host;
    char *smtp_port;
    char *smtp_tls;
    char *smtp_username;
    char *smtp_password;
    char *smtp_sender_email;
    char *proxy_base_url;

    /* LiteLLM's top-level environment_variables: NAME, value, NAME, value, ... An
     * overlay for os.environ/NAME and every environment fallback; the process
     * environment is never changed. */
    al_strlist env_overlay;
    int daily_report_frequency_set;     /* 0: SLACK_DAILY_REPORT_FREQUENCY may set it */

    /* which "ours" keys came from alerting_args (they win over general_settings) */
    uint64_t set_in_args[2];

    /* callbacks and transports */
    alert_clock_fn clock_fn;
    void *clock_ud;
    alert_log_fn log_fn;
    void *log_ud;
    al_transport_ref **transports;
    size_t n_transports;
    void (*wakeup_fn)(void *userdata);  /* alert_config_set_wakeup (worker_threads: 0) */
    void *wakeup_ud;
};

/* Deep copy (transports retained). ALERT_OK or ALERT_ERR_NOMEM. */
int al_config_copy(alert_config *dst, const alert_config *src);
/* Frees what a config owns (used for copies embedded in a ctx). */
void al_config_release(alert_config *cfg);
/* The defaults of every field. */
void al_config_defaults(alert_config *cfg);

/* The value of an environment variable as the config sees it: environment_variables
 * first, then the process environment. NULL when unset. */
const char *al_config_getenv(const alert_config *cfg, const char *name);
/* At alert_ctx_create: SLACK_DAILY_REPORT_FREQUENCY sets daily_report_frequency when the
 * config does not, read as LiteLLM reads it (Python's int()); a bad value is a warning. */
void al_config_env_defaults(alert_config *cfg);

/* Logs through the config's log callback, if any. */
void al_config_log(const alert_config *cfg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err (when non-NULL) and returns code. */
int al_error_set(alert_error *err, int code, const char *source, int line, int column,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
