/* SPDX-License-Identifier: MIT */
/*
 * libalerting - embeddable alerting for LLM gateways and proxies.
 *
 * One header; find it with `pkg-config --cflags --libs libalerting`.
 * Every name is alert_* or ALERT_*. Status codes are fixed forever; structs
 * that callers fill begin with `uint32_t version` and only ever grow at the
 * end. See libalerting(3).
 */
#ifndef ALERTING_H
#define ALERTING_H

#include <stddef.h>
#include <stdint.h>

#ifndef ALERT_API
#  if defined(__GNUC__) || defined(__clang__)
#    define ALERT_API __attribute__((visibility("default")))
#  else
#    define ALERT_API
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ---------------------------------------------------------- */
#define ALERT_VERSION_MAJOR 0
#define ALERT_VERSION_MINOR 1
#define ALERT_VERSION_PATCH 0
#define ALERT_VERSION_STRING "0.1.0"
#define ALERT_VERSION_NUM ((ALERT_VERSION_MAJOR << 16) | (ALERT_VERSION_MINOR << 8) | ALERT_VERSION_PATCH)

ALERT_API unsigned alert_version(void);
ALERT_API const char *alert_version_string(void);

/* ---- status codes: 0 or negative, values fixed forever ----------------- */
#define ALERT_OK                0
#define ALERT_ERR_NOMEM        -1
#define ALERT_ERR_INVALID      -2
#define ALERT_ERR_VERSION      -3
#define ALERT_ERR_CONFIG       -4
#define ALERT_ERR_IO           -5
#define ALERT_ERR_TRANSPORT    -6
#define ALERT_ERR_NOT_FOUND    -7
#define ALERT_ERR_FULL         -8
#define ALERT_ERR_TIMEOUT      -9
#define ALERT_ERR_STATE       -10
#define ALERT_ERR_UNSUPPORTED -11
#define ALERT_ERR_CALLBACK    -12

ALERT_API const char *alert_strerror(int code);
ALERT_API const char *alert_err_name(int code);

#define ALERT_ERROR_VERSION 1
typedef struct alert_error {
    uint32_t version;
    int32_t code;
    int32_t line;                   /* 1-based; 0 when not from a file */
    int32_t column;                 /* 1-based; 0 when not from a file */
    char source[128];               /* the file name, or the key */
    char text[256];
    uint8_t reserved[64];
} alert_error;
#define ALERT_ERROR_INIT { ALERT_ERROR_VERSION, 0, 0, 0, {0}, {0}, {0} }
ALERT_API int alert_error_init(alert_error *err, unsigned version);

ALERT_API int alert_global_init(void);
ALERT_API void alert_global_cleanup(void);

/* ---- levels and entities ----------------------------------------------- */
#define ALERT_LEVEL_LOW    1
#define ALERT_LEVEL_MEDIUM 2
#define ALERT_LEVEL_HIGH   3

#define ALERT_LOG_ERROR   1
#define ALERT_LOG_WARNING 2
#define ALERT_LOG_INFO    3
#define ALERT_LOG_DEBUG   4

#define ALERT_ENTITY_KEY          1
#define ALERT_ENTITY_USER         2
#define ALERT_ENTITY_END_USER     3
#define ALERT_ENTITY_TEAM         4
#define ALERT_ENTITY_TEAM_MEMBER  5
#define ALERT_ENTITY_ORGANIZATION 6
#define ALERT_ENTITY_PROJECT      7
#define ALERT_ENTITY_PROXY        8

/* ---- configuration ------------------------------------------------------ */
typedef struct alert_config alert_config;

ALERT_API int alert_config_new(alert_config **out);
ALERT_API void alert_config_free(alert_config *cfg);
ALERT_API int alert_config_load_file(alert_config *cfg, const char *path, alert_error *err);
ALERT_API int alert_config_load_string(alert_config *cfg, const char *yaml, size_t len,
                                       alert_error *err);
ALERT_API int alert_config_set(alert_config *cfg, const char *key, const char *value,
                               alert_error *err);

/* value stored as it is, never parsed as YAML ("edge #3", "!prod", "p@ss: word") */
ALERT_API int alert_config_set_string(alert_config *cfg, const char *key, const char *value,
                                      alert_error *err);
/* a key's effective value as YAML flow text, secrets masked; ALERT_ERR_FULL when len is
 * short (*needed: the size with the NUL) */
ALERT_API int alert_config_get(const alert_config *cfg, const char *key, char *buf, size_t len,
                               size_t *needed);
/* Every check alert_ctx_create makes, with no side effect (no file, thread, network). */
ALERT_API int alert_config_check(const alert_config *cfg, alert_error *err);

typedef int64_t (*alert_clock_fn)(void *userdata);   /* ms since the Unix epoch */
ALERT_API int alert_config_set_clock(alert_config *cfg, alert_clock_fn fn, void *userdata);
typedef void (*alert_log_fn)(int level, const char *message, void *userdata);
ALERT_API int alert_config_set_log(alert_config *cfg, alert_log_fn fn, void *userdata);
/* worker_threads: 0: fn runs from a hook, once per wake, when there is work for alert_poll */
ALERT_API int alert_config_set_wakeup(alert_config *cfg, void (*fn)(void *userdata),
                                      void *userdata);

/* ---- the engine ---------------------------------------------------------- */
typedef struct alert_ctx alert_ctx;

ALERT_API int alert_ctx_create(alert_ctx **out, const alert_config *cfg, alert_error *err);
ALERT_API void alert_ctx_destroy(alert_ctx *ctx);
/* Applies cfg to a running context, all or nothing; in-flight requests and pending
 * deliveries survive. Keys that cannot change live are ALERT_ERR_CONFIG naming the key. */
ALERT_API int alert_ctx_reconfigure(alert_ctx *ctx, const alert_config *cfg, alert_error *err);
ALERT_API int alert_poll(alert_ctx *ctx, int32_t timeout_ms);
/* worker_threads: 0: how long the host may wait before the next alert_poll (0: now) */
ALERT_API int alert_poll_timeout(alert_ctx *ctx, int32_t *timeout_ms);
ALERT_API int alert_flush(alert_ctx *ctx, int32_t timeout_ms);
ALERT_API const char *alert_ctx_last_error(const alert_ctx *ctx);

/* ---- request hooks ------------------------------------------------------- */
typedef uint64_t alert_req_id;      /* 0 is never valid */

#define ALERT_REQUEST_VERSION 1
typedef struct alert_request {
    uint32_t version;
    const char *call_id;
    const char *model;
    const char *deployment;
    const char *deployment_id;
    const char *provider;
    const char *api_base;
    const char *region;
    const char *key_hash;           /* SHA-256 hex; a raw "sk-..." key is hashed for you */
    const char *key_alias;
    const char *user_id;
    const char *team_id;
    const char *team_alias;
    const char *customer_id;
    const char *messages;           /* only the first 100 characters are kept */
    const char *alerting_metadata_json;
    int32_t stream;
    int64_t start_ms;               /* 0 = now */
} alert_request;
#define ALERT_REQUEST_INIT { ALERT_REQUEST_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                             NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0 }
ALERT_API int alert_request_init(alert_request *req, unsigned version);
ALERT_API int alert_on_request_start(alert_ctx *ctx, const alert_request *req, alert_req_id *out);
ALERT_API int alert_on_first_token(alert_ctx *ctx, alert_req_id id, int64_t at_ms);

#define ALERT_RESPONSE_VERSION 1
typedef struct alert_response {
    uint32_t version;
    const char *deployment, *deployment_id, *provider, *api_base, *region;
    int64_t prompt_tokens, completion_tokens;   /* -1 unknown */
    double cost;                                /* USD, < 0 unknown */
    int64_t end_ms;                             /* 0 = now */
} alert_response;
#define ALERT_RESPONSE_INIT { ALERT_RESPONSE_VERSION, NULL, NULL, NULL, NULL, NULL, -1, -1, -1.0, 0 }
ALERT_API int alert_response_init(alert_response *r, unsigned version);
ALERT_API int alert_on_request_end(alert_ctx *ctx, alert_req_id id, const alert_response *resp);

#define ALERT_FAILURE_VERSION 1
typedef struct alert_failure {
    uint32_t version;
    int32_t status_code;
    const char *error_class;
    const char *message;
    const char *deployment, *deployment_id, *provider, *api_base, *region;
    int32_t user_error;
    int64_t end_ms;                 /* 0 = now */
    const char *model, *call_id, *key_alias, *team_alias, *alerting_metadata_json;
} alert_failure;
#define ALERT_FAILURE_INIT { ALERT_FAILURE_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                             0, 0, NULL, NULL, NULL, NULL, NULL }
ALERT_API int alert_failure_init(alert_failure *f, unsigned version);
ALERT_API int alert_on_request_failure(alert_ctx *ctx, alert_req_id id, const alert_failure *f);
ALERT_API int alert_on_request_cancel(alert_ctx *ctx, alert_req_id id);

/* ---- spend and budgets --------------------------------------------------- */
#define ALERT_SPEND_VERSION 1
typedef struct alert_spend {
    uint32_t version;
    double cost;
    const char *key_hash, *key_alias, *user_id, *user_email, *team_id, *team_alias,
               *customer_id, *organization_id, *model, *deployment;
    const char *const *tags;
    uint32_t tag_count;
    int64_t at_ms;                  /* 0 = now */
} alert_spend;
#define ALERT_SPEND_INIT { ALERT_SPEND_VERSION, 0.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                           NULL, NULL, NULL, NULL, 0, 0 }
ALERT_API int alert_spend_init(alert_spend *s, unsigned version);
ALERT_API int alert_on_spend(alert_ctx *ctx, const alert_spend *s);

#define ALERT_BUDGET_VERSION 1
typedef struct alert_budget {
    uint32_t version;
    int32_t entity;                 /* ALERT_ENTITY_* */
    const char *entity_id;          /* NULL or "" -> "default_id" */
    double spend;
    double max_budget;              /* < 0: none */
    double soft_budget;             /* < 0: none */
    int64_t budget_reset_at_ms;
    const char *key_hash, *key_alias, *user_id, *user_email, *team_id, *team_alias,
               *customer_id, *organization_id;
    const char *const *alert_emails;
    uint32_t alert_email_count;
} alert_budget;
#define ALERT_BUDGET_INIT { ALERT_BUDGET_VERSION, 0, NULL, 0.0, -1.0, -1.0, 0, NULL, NULL, NULL, \
                            NULL, NULL, NULL, NULL, NULL, NULL, 0 }
ALERT_API int alert_budget_init(alert_budget *b, unsigned version);
ALERT_API int alert_on_budget(alert_ctx *ctx, const alert_budget *b);
ALERT_API int alert_set_budget(alert_ctx *ctx, const alert_budget *b, const char *budget_duration);

/* ---- other events -------------------------------------------------------- */
ALERT_API int alert_on_db_error(alert_ctx *ctx, const char *error_text);
ALERT_API int alert_on_spend_tracking_failure(alert_ctx *ctx, const char *model,
                                              const char *error_text);
ALERT_API int alert_on_deployment_cooldown(alert_ctx *ctx, const char *deployment,
                                           const char *reason, int32_t cooldown_seconds);
ALERT_API int alert_on_fallback(alert_ctx *ctx, const char *primary_model,
                                const char *fallback_model, int32_t succeeded);
ALERT_API int alert_on_management_event(alert_ctx *ctx, const char *alert_type,
                                        const char *actor_json, const char *details_json);
ALERT_API int alert_emit(alert_ctx *ctx, const char *alert_type, int32_t level,
                         const char *message, const char *alerting_metadata_json);
ALERT_API int alert_send_test(alert_ctx *ctx, const char *destination);

/* ---- transports ---------------------------------------------------------- */
#define ALERT_DELIVERY_VERSION 1
typedef struct alert_delivery {
    uint32_t version;
    const char *destination;
    const char *url;                /* NULL for custom transports */
    const char *alert_type;
    int32_t level;
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *text;
    const char *idempotency_key;
    int32_t attempt;
} alert_delivery;

#define ALERT_TRANSPORT_VERSION 1
typedef struct alert_transport {
    uint32_t version;
    int  (*send)(const alert_delivery *d, void *userdata);
    void (*destroy)(void *userdata);
} alert_transport;
#define ALERT_TRANSPORT_INIT { ALERT_TRANSPORT_VERSION, NULL, NULL }
ALERT_API int alert_transport_init(alert_transport *t, unsigned version);
ALERT_API int alert_config_add_transport(alert_config *cfg, const char *name,
                                         const alert_transport *t, void *userdata);

/* ---- observability ------------------------------------------------------- */
#define ALERT_STATS_VERSION 2
typedef struct alert_stats {
    uint32_t version;
    uint64_t requests_started, requests_inflight;
    uint64_t alerts_raised, alerts_filtered, alerts_deduplicated, alerts_coalesced;
    uint64_t deliveries_ok, deliveries_retried, deliveries_failed, deliveries_dropped;
    uint64_t queue_depth;
    uint64_t requests_rejected;
    uint64_t events_dropped;
    uint64_t destinations_dead;
    /* version 2: fleet mode (all 0 without Redis) */
    uint64_t fleet_connected;
    uint64_t fleet_rounds, fleet_round_errors;
    uint64_t fleet_claims_won, fleet_claims_lost, fleet_claims_unanswered;
    uint64_t fleet_deliveries_adopted;
    uint64_t fleet_round_longest_us;
} alert_stats;
#define ALERT_STATS_INIT { ALERT_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
                           0, 0, 0, 0, 0, 0, 0, 0 }
ALERT_API int alert_stats_init(alert_stats *s, unsigned version);
ALERT_API int alert_stats_get(alert_ctx *ctx, alert_stats *out);

#define ALERT_METRICS_PROMETHEUS 1  /* text exposition format 0.0.4 */
/* every counter, per destination target and per alert type; ALERT_ERR_FULL when len is
 * short (*needed: the size with the NUL) */
ALERT_API int alert_metrics_format(alert_ctx *ctx, int format, char *buf, size_t len,
                                   size_t *needed);

#ifdef __cplusplus
}
#endif

#endif /* ALERTING_H */
