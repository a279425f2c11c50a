/* SPDX-License-Identifier: MIT */
/* Config loading, alert_config_set, copies, transports and the error cases of
 * tests/data/config/ (run from the repository root). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "config.h"

#define DATA "tests/data/config/"
#define EXAMPLE "examples/config.yaml"

#define assert_double_equal(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

/* ---- helpers ------------------------------------------------------------------ */

typedef struct log_capture {
    int count;
    int warnings;
    char all[8192];
} log_capture;

static void capture_log(int level, const char *message, void *userdata)
{
    log_capture *c = userdata;
    c->count++;
    if (level == ALERT_LOG_WARNING)
        c->warnings++;
    size_t used = strlen(c->all);
    snprintf(c->all + used, sizeof c->all - used, "%s\n", message);
}

static alert_config *new_config(void)
{
    alert_config *cfg = NULL;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    assert_non_null(cfg);
    return cfg;
}

static alert_config *load_ok(const char *path)
{
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_file(cfg, path, &err);
    if (rc != ALERT_OK)
        fail_msg("%s: %d %s:%d:%d %s", path, rc, err.source, err.line, err.column, err.text);
    return cfg;
}

static void set_ok(alert_config *cfg, const char *key, const char *value)
{
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_set(cfg, key, value, &err);
    if (rc != ALERT_OK)
        fail_msg("set %s=%s: %d %s", key, value, rc, err.text);
}

static uint32_t bit(al_type t)
{
    return 1u << t;
}

static int dummy_send(const alert_delivery *d, void *userdata)
{
    (void)d;
    (void)userdata;
    return ALERT_OK;
}

static void count_destroy(void *userdata)
{
    (*(int *)userdata)++;
}

static alert_transport make_transport(void)
{
    alert_transport t;
    assert_int_equal(alert_transport_init(&t, ALERT_TRANSPORT_VERSION), ALERT_OK);
    t.send = dummy_send;
    t.destroy = count_destroy;
    return t;
}

/* ---- defaults --------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    assert_int_equal(cfg->alerting.n, 0);
    assert_int_equal(cfg->alerting_set, 0);
    assert_double_equal(cfg->alerting_threshold, 600);
    assert_string_equal(cfg->alerting_threshold_text, "600");
    assert_int_equal(cfg->alert_types, al_type_default_mask());
    assert_false(cfg->alert_types & bit(AL_T_USER_SPEND_ANOMALIES));
    assert_true(cfg->alert_types & bit(AL_T_LLM_TOO_SLOW));
    for (int i = 0; i < AL_T__COUNT; i++) {
        assert_int_equal(cfg->alert_to_webhook_url[i].n, 0);
        assert_int_equal(cfg->type_conf[i].digest, 0);
        assert_double_equal(cfg->type_conf[i].digest_interval, 86400);
    }
    assert_int_equal(cfg->spend_report_days, 7);
    assert_int_equal(cfg->n_budgets, 0);
    assert_int_equal(cfg->redact_messages, 0);
    assert_double_equal(cfg->daily_report_frequency, 43200);
    assert_double_equal(cfg->report_check_interval, 300);
    assert_double_equal(cfg->budget_alert_ttl, 86400);
    assert_double_equal(cfg->outage_alert_ttl, 60);
    assert_double_equal(cfg->region_outage_alert_ttl, 60);
    assert_int_equal(cfg->minor_outage_alert_threshold, 5);
    assert_int_equal(cfg->major_outage_alert_threshold, 10);
    assert_int_equal(cfg->max_outage_alert_list_size, 10);
    assert_int_equal(cfg->log_to_console, 0);
    assert_int_equal(cfg->n_budget_alert_thresholds, 2);
    assert_double_equal(cfg->budget_alert_thresholds[0], 85);
    assert_double_equal(cfg->budget_alert_thresholds[1], 95);
    assert_string_equal(cfg->budget_alert_threshold_text[0], "85");
    assert_string_equal(cfg->budget_alert_threshold_text[1], "95");
    assert_true(cfg->daily_spend_per_user_threshold < 0);
    assert_true(cfg->monthly_spend_per_user_threshold < 0);
    assert_double_equal(cfg->spend_anomaly_multiplier, 3.0);
    assert_int_equal(cfg->spend_anomaly_baseline_days, 7);
    assert_double_equal(cfg->spend_anomaly_min_spend, 10.0);
    assert_double_equal(cfg->user_spend_check_interval, 3600);
    assert_int_equal(cfg->failure_threshold, 60);
    assert_double_equal(cfg->failure_threshold_window_seconds, 60);
    assert_double_equal(cfg->hanging_threshold_seconds, 60);
    assert_int_equal(cfg->hanging_threshold_fails, 60);
    assert_double_equal(cfg->hanging_threshold_window_seconds, 600);
    assert_double_equal(cfg->flush_interval, 5);
    assert_int_equal(cfg->batch_size, 512);
    assert_int_equal(cfg->send_resolved, 0);
    assert_double_equal(cfg->delivery_deadline, 86400);
    assert_int_equal(cfg->max_queue, 100000);
    assert_double_equal(cfg->http_timeout, 15);
    assert_double_equal(cfg->shutdown_timeout, 5);
    assert_int_equal(cfg->worker_threads, 1);
    assert_null(cfg->state_path);
    assert_null(cfg->instance_name);
    assert_int_equal(cfg->max_inflight, 1000000);
    assert_int_equal(cfg->event_queue_size, 65536);
    assert_int_equal(cfg->max_tracked_deployments, 10000);
    assert_int_equal(cfg->n_rate_limits, 0);
    assert_null(cfg->webhook_secret);
    assert_int_equal(cfg->email_recipients.n, 0);
    assert_int_equal(cfg->customer_spend_webhook, 1);
    assert_int_equal(cfg->disable_secret_redaction, 0);
    assert_int_equal(cfg->insecure_skip_verify, 0);
    assert_double_equal(cfg->alertmanager_resolve_after, 3600);
    assert_null(cfg->slack_webhook_url);
    assert_null(cfg->smtp_password);
    assert_null(cfg->proxy_base_url);
    assert_null(cfg->clock_fn);
    assert_null(cfg->log_fn);
    assert_int_equal(cfg->n_transports, 0);
    alert_config_free(cfg);
}

/* ---- whole files -------------------------------------------------------------- */

static void test_example_config(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    log_capture logs = { 0 };
    alert_config_set_log(cfg, capture_log, &logs);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_file(cfg, EXAMPLE, &err), ALERT_OK);
    /* a realistic LiteLLM config loads without a single warning */
    assert_int_equal(logs.count, 0);
    assert_int_equal(cfg->alerting.n, 1);
    assert_string_equal(cfg->alerting.items[0], "slack");
    assert_int_equal(cfg->alerting_set, 1);
    assert_double_equal(cfg->alerting_threshold, 2);
    assert_string_equal(cfg->alerting_threshold_text, "2");
    uint32_t want = bit(AL_T_LLM_EXCEPTIONS) | bit(AL_T_LLM_TOO_SLOW) |
                    bit(AL_T_LLM_REQUESTS_HANGING) | bit(AL_T_BUDGET_ALERTS) |
                    bit(AL_T_DB_EXCEPTIONS) | bit(AL_T_COOLDOWN_DEPLOYMENT) |
                    bit(AL_T_OUTAGE_ALERTS) | bit(AL_T_REGION_OUTAGE_ALERTS) |
                    bit(AL_T_DAILY_REPORTS) | bit(AL_T_SPEND_REPORTS);
    assert_int_equal(cfg->alert_types, want);
    for (int i = 0; i < AL_T__COUNT; i++)
        assert_int_equal(cfg->alert_to_webhook_url[i].n, 0);
    assert_null(cfg->slack_webhook_url);
    assert_int_equal(cfg->redact_messages, 1);
    assert_double_equal(cfg->type_conf[AL_T_LLM_TOO_SLOW].digest_interval, 3600);
    assert_int_equal(cfg->spend_report_days, 7);
    assert_double_equal(cfg->flush_interval, 1);
    assert_int_equal(cfg->send_resolved, 1);
    assert_int_equal(cfg->n_budget_alert_thresholds, 3);
    assert_double_equal(cfg->budget_alert_thresholds[0], 50);
    assert_int_equal(cfg->minor_outage_alert_threshold, 3);
    assert_int_equal(cfg->major_outage_alert_threshold, 6);
    assert_string_equal(cfg->instance_name, "demo-proxy");
    assert_double_equal(cfg->http_timeout, 5);
    assert_double_equal(cfg->delivery_deadline, 120);
    alert_config_free(cfg);
}

static void check_full_strings(const alert_config *cfg)
{
    assert_string_equal(cfg->state_path, "/var/lib/alerting/state.db");
    assert_string_equal(cfg->instance_name, "proxy-eu-1");
    assert_string_equal(cfg->webhook_secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_string_equal(cfg->ca_bundle, "/etc/ssl/certs/ca-certificates.crt");
    assert_string_equal(cfg->proxy, "http://127.0.0.1:3128");
    assert_string_equal(cfg->slack_webhook_url, "http://127.0.0.1:9/slack");
    assert_string_equal(cfg->discord_webhook_url, "http://127.0.0.1:9/discord");
    assert_string_equal(cfg->ms_teams_webhook_url, "http://127.0.0.1:9/teams");
    assert_string_equal(cfg->webhook_url, "http://127.0.0.1:9/webhook");
    assert_string_equal(cfg->alertmanager_url, "http://127.0.0.1:9093");
    assert_string_equal(cfg->pagerduty_api_key, "R0UTINGKEY");
    assert_string_equal(cfg->pagerduty_url, "http://127.0.0.1:9/pd");
    assert_string_equal(cfg->smtp_host, "127.0.0.1");
    assert_string_equal(cfg->smtp_port, "2525");
    assert_string_equal(cfg->smtp_tls, "false");
    assert_string_equal(cfg->smtp_username, "alerts");
    assert_string_equal(cfg->smtp_password, "hunter2");
    assert_string_equal(cfg->smtp_sender_email, "alerts@example.com");
    assert_string_equal(cfg->proxy_base_url, "https://proxy.example.com");
    assert_int_equal(cfg->email_recipients.n, 2);
    assert_string_equal(cfg->email_recipients.items[0], "ops@example.com");
    assert_string_equal(cfg->email_recipients.items[1], "oncall@example.com");
}

static void check_full_general(const alert_config *cfg)
{
    assert_int_equal(cfg->alerting.n, 4);
    assert_string_equal(cfg->alerting.items[0], "slack");
    assert_string_equal(cfg->alerting.items[1], "webhook");
    assert_string_equal(cfg->alerting.items[2], "email");
    assert_string_equal(cfg->alerting.items[3], "my_transport");
    assert_int_equal(cfg->alerting_set, 1);
    assert_double_equal(cfg->alerting_threshold, 600);
    assert_string_equal(cfg->alerting_threshold_text, "600.0");
    assert_int_equal(cfg->alert_types, bit(AL_T_LLM_EXCEPTIONS) |
                                       bit(AL_T_USER_SPEND_ANOMALIES) | bit(AL_T_TEAM_DELETED));
    const al_strlist *ex = &cfg->alert_to_webhook_url[AL_T_LLM_EXCEPTIONS];
    assert_int_equal(ex->n, 1);
    assert_string_equal(ex->items[0], "http://127.0.0.1:9/exceptions");
    const al_strlist *bud = &cfg->alert_to_webhook_url[AL_T_BUDGET_ALERTS];
    assert_int_equal(bud->n, 2);
    assert_string_equal(bud->items[1], "http://127.0.0.1:9/budget-b");
    assert_int_equal(cfg->type_conf[AL_T_LLM_TOO_SLOW].digest, 1);
    assert_double_equal(cfg->type_conf[AL_T_LLM_TOO_SLOW].digest_interval, 120);
    assert_int_equal(cfg->type_conf[AL_T_LLM_EXCEPTIONS].digest, 1);
    assert_double_equal(cfg->type_conf[AL_T_LLM_EXCEPTIONS].digest_interval, 86400);
    assert_int_equal(cfg->spend_report_days, 14);
    assert_int_equal(cfg->n_budgets, 2);
    assert_int_equal(cfg->budgets[0].entity, ALERT_ENTITY_TEAM);
    assert_string_equal(cfg->budgets[0].id, "team-1");
    assert_double_equal(cfg->budgets[0].max_budget, 100);
    assert_double_equal(cfg->budgets[0].soft_budget, 80.5);
    assert_string_equal(cfg->budgets[0].budget_duration, "1mo");
    assert_int_equal(cfg->budgets[1].entity, ALERT_ENTITY_PROXY);
    assert_null(cfg->budgets[1].id);
    assert_double_equal(cfg->budgets[1].max_budget, 1000);
    assert_true(cfg->budgets[1].soft_budget < 0);
    assert_string_equal(cfg->budgets[1].budget_duration, "30d");
    /* turn_off_message_logging: true wins over redact_messages_in_exceptions: false */
    assert_int_equal(cfg->redact_messages, 1);
}

static void check_full_args(const alert_config *cfg)
{
    assert_double_equal(cfg->daily_report_frequency, 3600);
    assert_double_equal(cfg->report_check_interval, 30);
    assert_double_equal(cfg->budget_alert_ttl, 0);
    assert_double_equal(cfg->outage_alert_ttl, 120);
    assert_double_equal(cfg->region_outage_alert_ttl, 90);
    assert_int_equal(cfg->minor_outage_alert_threshold, 2);
    assert_int_equal(cfg->major_outage_alert_threshold, 4);
    assert_int_equal(cfg->max_outage_alert_list_size, 20);
    assert_int_equal(cfg->log_to_console, 1);
    /* sorted, duplicates dropped, texts as written */
    assert_int_equal(cfg->n_budget_alert_thresholds, 3);
    assert_double_equal(cfg->budget_alert_thresholds[0], 50.5);
    assert_double_equal(cfg->budget_alert_thresholds[1], 85);
    assert_double_equal(cfg->budget_alert_thresholds[2], 95);
    assert_string_equal(cfg->budget_alert_threshold_text[0], "50.5");
    assert_string_equal(cfg->budget_alert_threshold_text[2], "95");
    assert_double_equal(cfg->daily_spend_per_user_threshold, 25);
    assert_double_equal(cfg->monthly_spend_per_user_threshold, 500);
    assert_double_equal(cfg->spend_anomaly_multiplier, 2.5);
    assert_int_equal(cfg->spend_anomaly_baseline_days, 14);
    assert_double_equal(cfg->spend_anomaly_min_spend, 1);
    assert_double_equal(cfg->user_spend_check_interval, 600);
    assert_int_equal(cfg->failure_threshold, 10);
    assert_double_equal(cfg->failure_threshold_window_seconds, 30);
    assert_double_equal(cfg->hanging_threshold_seconds, 45);
    assert_int_equal(cfg->hanging_threshold_fails, 5);
    assert_double_equal(cfg->hanging_threshold_window_seconds, 300);
    assert_double_equal(cfg->flush_interval, 0.25);
    assert_int_equal(cfg->batch_size, 64);
    assert_int_equal(cfg->send_resolved, 1);
    assert_double_equal(cfg->delivery_deadline, 3600);
    assert_int_equal(cfg->max_queue, 1000);
    assert_double_equal(cfg->http_timeout, 2.5);
    assert_double_equal(cfg->shutdown_timeout, 0);
    assert_int_equal(cfg->worker_threads, 0);
    assert_int_equal(cfg->max_inflight, 5000);
    assert_int_equal(cfg->event_queue_size, 1024);
    assert_int_equal(cfg->max_tracked_deployments, 50);
    assert_int_equal(cfg->n_rate_limits, 3);
    assert_string_equal(cfg->rate_limits[0].destination, "slack");
    assert_string_equal(cfg->rate_limits[0].spec, "1/s");
    assert_string_equal(cfg->rate_limits[1].spec, "5/2s");
    assert_string_equal(cfg->rate_limits[2].destination, "pagerduty");
    assert_string_equal(cfg->rate_limits[2].spec, "120/min");
    assert_int_equal(cfg->customer_spend_webhook, 1);
    assert_int_equal(cfg->disable_secret_redaction, 0);
    assert_int_equal(cfg->insecure_skip_verify, 0);
    assert_double_equal(cfg->alertmanager_resolve_after, 600);
}

static void test_full_litellm(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    log_capture logs = { 0 };
    alert_config_set_log(cfg, capture_log, &logs);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_file(cfg, DATA "ok_full_litellm.yaml", &err), ALERT_OK);
    /* sentry is dropped with exactly one warning; master_key is LiteLLM's, silently */
    assert_int_equal(logs.warnings, 1);
    assert_non_null(strstr(logs.all, "sentry"));
    check_full_general(cfg);
    check_full_args(cfg);
    check_full_strings(cfg);
    alert_config_free(cfg);
}

static void test_bare_file(void **state)
{
    (void)state;
    alert_config *cfg = load_ok(DATA "ok_bare.yaml");
    assert_int_equal(cfg->alerting.n, 1);
    assert_string_equal(cfg->alerting.items[0], "webhook");
    assert_int_equal(cfg->alerting_set, 1);
    /* a quoted number is still a number (LiteLLM's pydantic coerces it) */
    assert_double_equal(cfg->alerting_threshold, 0.5);
    assert_string_equal(cfg->alerting_threshold_text, "0.5");
    assert_int_equal(cfg->alert_types, bit(AL_T_LLM_TOO_SLOW));
    assert_double_equal(cfg->flush_interval, 2);
    assert_int_equal(cfg->redact_messages, 1);
    assert_string_equal(cfg->webhook_url, "http://127.0.0.1:9/hook");
    assert_int_equal(cfg->batch_size, 8);
    alert_config_free(cfg);
}

static void test_empty_documents(void **state)
{
    (void)state;
    alert_config *cfg = load_ok(DATA "ok_empty.yaml");
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_file(cfg, DATA "ok_comments_only.yaml", &err), ALERT_OK);
    assert_int_equal(alert_config_load_string(cfg, "", 0, &err), ALERT_OK);
    assert_int_equal(alert_config_load_string(cfg, "# nothing\n", 10, &err), ALERT_OK);
    assert_int_equal(alert_config_load_string(cfg, "general_settings:\n", 18, &err), ALERT_OK);
    assert_int_equal(alert_config_load_string(cfg, "litellm_settings: {}\n", 21, &err), ALERT_OK);
    assert_int_equal(cfg->alerting_set, 0);
    assert_double_equal(cfg->alerting_threshold, 600);
    alert_config_free(cfg);
}

static void test_load_string(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    const char *yaml = "alerting: [slack]\nalerting_threshold: 12.5\nnot loaded";
    alert_error err = ALERT_ERROR_INIT;
    /* len bounds the text: the trailing junk is outside it */
    assert_int_equal(alert_config_load_string(cfg, yaml, 43, &err), ALERT_OK);
    assert_double_equal(cfg->alerting_threshold, 12.5);
    assert_int_equal(alert_config_load_string(cfg, "alerting_threshold: x\n", 22, &err),
                     ALERT_ERR_CONFIG);
    assert_string_equal(err.source, "<string>");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 21);
    assert_int_equal(err.code, ALERT_ERR_CONFIG);
    assert_double_equal(cfg->alerting_threshold, 12.5);
    alert_config_free(cfg);
}

static void test_missing_file(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_file(cfg, DATA "no_such_file.yaml", &err), ALERT_ERR_IO);
    assert_string_equal(err.source, DATA "no_such_file.yaml");
    assert_int_equal(err.code, ALERT_ERR_IO);
    assert_int_equal(alert_config_load_file(cfg, DATA, &err), ALERT_ERR_IO);
    alert_config_free(cfg);
}

/* ---- os.environ/ -------------------------------------------------------------- */

/* issue 12, items 3 and 4: environment_variables is an overlay (the process environment
 * is not touched); SLACK_DAILY_REPORT_FREQUENCY read as Python's int(); LiteLLM's defaults */
static void test_environment_variables_overlay(void **state)
{
    (void)state;
    unsetenv("LIBALERTING_TEST_OVERLAY_HOOK");
    unsetenv("SLACK_DAILY_REPORT_FREQUENCY");
    alert_config *cfg = load_ok(DATA "ok_environment_variables.yaml");
    assert_string_equal(cfg->alert_to_webhook_url[AL_T_LLM_EXCEPTIONS].items[0],
                        "http://127.0.0.1:9/overlay");
    assert_string_equal(al_config_getenv(cfg, "LIBALERTING_TEST_OVERLAY_HOOK"),
                        "http://127.0.0.1:9/overlay");
    assert_null(getenv("LIBALERTING_TEST_OVERLAY_HOOK"));
    assert_double_equal(cfg->alerting_threshold, 600);      /* omitted: the proxy's default */
    assert_int_equal(cfg->customer_spend_webhook, 1);
    /* read when a ctx is created, on its copy */
    alert_config copy;
    assert_int_equal(al_config_copy(&copy, cfg), ALERT_OK);
    al_config_env_defaults(&copy);
    assert_double_equal(copy.daily_report_frequency, 3600);
    al_config_release(&copy);
    /* the key wins over the variable */
    set_ok(cfg, "alerting_args.daily_report_frequency", "60");
    assert_int_equal(al_config_copy(&copy, cfg), ALERT_OK);
    al_config_env_defaults(&copy);
    assert_double_equal(copy.daily_report_frequency, 60);
    al_config_release(&copy);
    alert_config_free(cfg);

    /* int() refuses "3600.0": a warning, the default stays */
    setenv("SLACK_DAILY_REPORT_FREQUENCY", "3600.0", 1);
    cfg = new_config();
    log_capture logs = { 0 };
    alert_config_set_log(cfg, capture_log, &logs);
    assert_int_equal(al_config_copy(&copy, cfg), ALERT_OK);
    al_config_env_defaults(&copy);
    assert_double_equal(copy.daily_report_frequency, 43200);
    assert_int_equal(logs.warnings, 1);
    al_config_release(&copy);
    setenv("SLACK_DAILY_REPORT_FREQUENCY", "+7200", 1);
    assert_int_equal(al_config_copy(&copy, cfg), ALERT_OK);
    al_config_env_defaults(&copy);
    assert_double_equal(copy.daily_report_frequency, 7200);
    al_config_release(&copy);
    unsetenv("SLACK_DAILY_REPORT_FREQUENCY");
    alert_config_free(cfg);
}

static void test_env_resolution(void **state)
{
    (void)state;
    setenv("LIBALERTING_TEST_DEST", "webhook", 1);
    setenv("LIBALERTING_TEST_THRESHOLD", "42.5", 1);
    setenv("LIBALERTING_TEST_URL", "http://127.0.0.1:9/env", 1);
    setenv("LIBALERTING_TEST_BOOL", "On", 1);
    alert_config *cfg = load_ok(DATA "ok_env.yaml");
    assert_int_equal(cfg->alerting.n, 1);
    assert_string_equal(cfg->alerting.items[0], "webhook");
    assert_double_equal(cfg->alerting_threshold, 42.5);
    assert_string_equal(cfg->alerting_threshold_text, "42.5");
    assert_string_equal(cfg->alert_to_webhook_url[AL_T_LLM_TOO_SLOW].items[0],
                        "http://127.0.0.1:9/env");
    assert_string_equal(cfg->webhook_url, "http://127.0.0.1:9/env");
    assert_int_equal(cfg->send_resolved, 1);

    /* resolved at load time: a later change of the variable changes nothing */
    setenv("LIBALERTING_TEST_URL", "http://127.0.0.1:9/changed", 1);
    assert_string_equal(cfg->webhook_url, "http://127.0.0.1:9/env");

    /* a value that is not a number: the error names the key, not the value */
    setenv("LIBALERTING_TEST_THRESHOLD", "sk-not-a-number-secret", 1);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_file(cfg, DATA "ok_env.yaml", &err), ALERT_ERR_CONFIG);
    assert_int_equal(err.line, 4);
    assert_int_equal(err.column, 23);
    assert_null(strstr(err.text, "sk-not-a-number-secret"));
    assert_non_null(strstr(err.text, "alerting_threshold"));
    assert_double_equal(cfg->alerting_threshold, 42.5);

    unsetenv("LIBALERTING_TEST_DEST");
    assert_int_equal(alert_config_load_file(cfg, DATA "ok_env.yaml", &err), ALERT_ERR_CONFIG);
    assert_non_null(strstr(err.text, "LIBALERTING_TEST_DEST"));
    unsetenv("LIBALERTING_TEST_THRESHOLD");
    unsetenv("LIBALERTING_TEST_URL");
    unsetenv("LIBALERTING_TEST_BOOL");
    alert_config_free(cfg);
}

/* ---- alert_config_set --------------------------------------------------------- */

static void test_set_scalars(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    set_ok(cfg, "alerting_threshold", "0.5");
    assert_double_equal(cfg->alerting_threshold, 0.5);
    assert_string_equal(cfg->alerting_threshold_text, "0.5");
    set_ok(cfg, "spend_report_frequency", "3d");
    assert_int_equal(cfg->spend_report_days, 3);
    set_ok(cfg, "flush_interval", "0.1");
    assert_double_equal(cfg->flush_interval, 0.1);
    set_ok(cfg, "send_resolved", "yes");
    assert_int_equal(cfg->send_resolved, 1);
    set_ok(cfg, "smtp_password", "p4ss word");
    assert_string_equal(cfg->smtp_password, "p4ss word");
    set_ok(cfg, "litellm_settings.redact_messages_in_exceptions", "true");
    assert_int_equal(cfg->redact_messages, 1);
    set_ok(cfg, "litellm_settings.redact_messages_in_exceptions", "false");
    assert_int_equal(cfg->redact_messages, 0);
    set_ok(cfg, "general_settings.alerting_threshold", "7");
    assert_double_equal(cfg->alerting_threshold, 7);
    /* an empty value is YAML null: back to the default */
    set_ok(cfg, "alerting_threshold", "");
    assert_double_equal(cfg->alerting_threshold, 600);
    assert_string_equal(cfg->alerting_threshold_text, "600");
    set_ok(cfg, "smtp_password", "~");
    assert_null(cfg->smtp_password);
    alert_config_free(cfg);
}

static void test_set_lists(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    set_ok(cfg, "alerting", "[slack, webhook]");
    assert_int_equal(cfg->alerting.n, 2);
    assert_string_equal(cfg->alerting.items[1], "webhook");
    assert_int_equal(cfg->alerting_set, 1);
    set_ok(cfg, "alerting", "[]");
    assert_int_equal(cfg->alerting.n, 0);
    assert_int_equal(cfg->alerting_set, 1);
    set_ok(cfg, "alerting", "discord");
    assert_int_equal(cfg->alerting.n, 1);
    set_ok(cfg, "alert_types", "[llm_exceptions, budget_alerts]");
    assert_int_equal(cfg->alert_types, bit(AL_T_LLM_EXCEPTIONS) | bit(AL_T_BUDGET_ALERTS));
    set_ok(cfg, "alerting_args.budget_alert_thresholds", "[70, 90]");
    assert_int_equal(cfg->n_budget_alert_thresholds, 2);
    assert_string_equal(cfg->budget_alert_threshold_text[0], "70");
    set_ok(cfg, "alerting_args.email_recipients", "[a@example.com, b@example.com]");
    assert_int_equal(cfg->email_recipients.n, 2);
    set_ok(cfg, "budgets", "[{entity: key, id: k1, max_budget: 5, budget_duration: 12h}]");
    assert_int_equal(cfg->n_budgets, 1);
    assert_int_equal(cfg->budgets[0].entity, ALERT_ENTITY_KEY);
    assert_string_equal(cfg->budgets[0].budget_duration, "12h");
    alert_config_free(cfg);
}

static void test_set_nested(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    set_ok(cfg, "alerting_args.flush_interval", "1");
    assert_double_equal(cfg->flush_interval, 1);
    set_ok(cfg, "alert_to_webhook_url.llm_exceptions", "http://127.0.0.1:9/x");
    assert_int_equal(cfg->alert_to_webhook_url[AL_T_LLM_EXCEPTIONS].n, 1);
    assert_string_equal(cfg->alert_to_webhook_url[AL_T_LLM_EXCEPTIONS].items[0],
                        "http://127.0.0.1:9/x");
    /* routes merge per type */
    set_ok(cfg, "alert_to_webhook_url.llm_too_slow",
           "[http://127.0.0.1:9/a, http://127.0.0.1:9/b]");
    assert_int_equal(cfg->alert_to_webhook_url[AL_T_LLM_EXCEPTIONS].n, 1);
    assert_int_equal(cfg->alert_to_webhook_url[AL_T_LLM_TOO_SLOW].n, 2);
    set_ok(cfg, "alert_type_config.llm_too_slow.digest", "true");
    set_ok(cfg, "alert_type_config.llm_too_slow.digest_interval", "60");
    assert_int_equal(cfg->type_conf[AL_T_LLM_TOO_SLOW].digest, 1);
    assert_double_equal(cfg->type_conf[AL_T_LLM_TOO_SLOW].digest_interval, 60);
    set_ok(cfg, "alerting_args.rate_limits.slack", "2/s");
    set_ok(cfg, "alerting_args.rate_limits", "{discord: 5/2s}");
    set_ok(cfg, "rate_limits.slack", "3/s");
    assert_int_equal(cfg->n_rate_limits, 2);
    for (size_t i = 0; i < cfg->n_rate_limits; i++)
        if (strcmp(cfg->rate_limits[i].destination, "slack") == 0)
            assert_string_equal(cfg->rate_limits[i].spec, "3/s");
    set_ok(cfg, "alerting_args", "{batch_size: 3, http_timeout: 0.5}");
    assert_int_equal(cfg->batch_size, 3);
    assert_double_equal(cfg->http_timeout, 0.5);
    assert_double_equal(cfg->flush_interval, 1);   /* merged, not replaced */
    alert_config_free(cfg);
}

static void test_set_errors(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    set_ok(cfg, "alert_types", "[llm_exceptions]");
    alert_error err = ALERT_ERROR_INIT;
    /* issue 12, item 2: an unknown type is a warning, the name ignored */
    log_capture logs = { 0 };
    alert_config_set_log(cfg, capture_log, &logs);
    set_ok(cfg, "alert_types", "[llm_too_slow, bogus]");
    assert_int_equal(cfg->alert_types, bit(AL_T_LLM_TOO_SLOW));
    assert_int_equal(logs.warnings, 1);
    assert_non_null(strstr(logs.all, "unknown alert type 'bogus'"));
    set_ok(cfg, "alert_types", "[llm_exceptions]");

    assert_int_equal(alert_config_set(cfg, "alerting_args.flush_interval", "-2", &err),
                     ALERT_ERR_CONFIG);
    assert_string_equal(err.source, "alerting_args.flush_interval");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 1);
    assert_double_equal(cfg->flush_interval, 5);

    assert_int_equal(alert_config_set(cfg, "alerting", "[slack", &err), ALERT_ERR_CONFIG);
    assert_string_equal(err.source, "alerting");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 7);
    set_ok(cfg, "alert_to_webhook_url.nope", "http://x");
    assert_int_equal(logs.warnings, 2);
    assert_non_null(strstr(logs.all, "unknown alert type 'nope'"));
    alert_config_set_log(cfg, NULL, NULL);

    /* the message names the key, never the secret */
    assert_int_equal(alert_config_set(cfg, "webhook_secret", "[whsec_topsecretvalue]", &err),
                     ALERT_ERR_CONFIG);
    assert_null(strstr(err.text, "topsecret"));
    assert_non_null(strstr(err.text, "webhook_secret"));

    const char *bad_keys[] = { "", ".", "a..b", ".alerting", "alerting." };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++)
        assert_int_equal(alert_config_set(cfg, bad_keys[i], "1", &err), ALERT_ERR_INVALID);
    alert_config_free(cfg);
}

static void test_set_unknown_key_warns(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    log_capture logs = { 0 };
    alert_config_set_log(cfg, capture_log, &logs);
    set_ok(cfg, "alerting_args.flush_intervall", "1");
    assert_int_equal(logs.warnings, 1);
    assert_non_null(strstr(logs.all, "unknown key 'alerting_args.flush_intervall'"));
    assert_double_equal(cfg->flush_interval, 5);
    alert_config_free(cfg);
}

/* ---- precedence ---------------------------------------------------------------- */

static void check_args_won(const alert_config *cfg)
{
    assert_double_equal(cfg->flush_interval, 7);
    assert_string_equal(cfg->webhook_url, "http://127.0.0.1:9/args");
    assert_int_equal(cfg->batch_size, 16);
}

static void test_args_precedence(void **state)
{
    (void)state;
    alert_config *first = load_ok(DATA "ok_args_first.yaml");
    check_args_won(first);
    alert_config *last = load_ok(DATA "ok_args_last.yaml");
    check_args_won(last);
    /* a later call is a new statement: it overrides either form */
    set_ok(last, "flush_interval", "9");
    assert_double_equal(last->flush_interval, 9);
    alert_config_free(first);
    alert_config_free(last);

    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    const char *yaml = "alerting_args: {http_timeout: 4}\nhttp_timeout: 8\n";
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    assert_double_equal(cfg->http_timeout, 4);
    alert_config_free(cfg);
}

/* ---- warnings ------------------------------------------------------------------- */

static void test_unknown_keys_warn(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    log_capture logs = { 0 };
    alert_config_set_log(cfg, capture_log, &logs);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_file(cfg, DATA "ok_unknown_keys.yaml", &err), ALERT_OK);
    assert_int_equal(logs.warnings, 4);
    assert_non_null(strstr(logs.all, "unknown key 'general_settings.bogus_key' at "
                                     DATA "ok_unknown_keys.yaml:4:3"));
    assert_non_null(strstr(logs.all, "'general_settings.daily_report_frequency'"));
    assert_non_null(strstr(logs.all, "'general_settings.alerting_args.flush_intervall' at "
                                     DATA "ok_unknown_keys.yaml:7:5"));
    assert_non_null(strstr(logs.all, "'general_settings.alert_type_config.llm_too_slow.colour'"));
    /* the known keys next to them still apply; the misplaced one does not */
    assert_int_equal(cfg->alerting.n, 1);
    assert_int_equal(cfg->type_conf[AL_T_LLM_TOO_SLOW].digest, 1);
    assert_double_equal(cfg->daily_report_frequency, 43200);
    assert_double_equal(cfg->flush_interval, 5);

    /* without a log callback, unknown keys are still not errors */
    alert_config_set_log(cfg, NULL, NULL);
    assert_int_equal(alert_config_load_file(cfg, DATA "ok_unknown_keys.yaml", &err), ALERT_OK);
    alert_config_free(cfg);
}

static void test_redact_flags(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    const char *a = "litellm_settings:\n  turn_off_message_logging: true\n";
    assert_int_equal(alert_config_load_string(cfg, a, strlen(a), &err), ALERT_OK);
    assert_int_equal(cfg->redact_messages, 1);
    const char *b = "litellm_settings:\n  redact_messages_in_exceptions: false\n"
                    "  turn_off_message_logging: false\n";
    assert_int_equal(alert_config_load_string(cfg, b, strlen(b), &err), ALERT_OK);
    assert_int_equal(cfg->redact_messages, 0);
    const char *c = "general_settings:\n  redact_messages_in_exceptions: TRUE\n";
    assert_int_equal(alert_config_load_string(cfg, c, strlen(c), &err), ALERT_OK);
    assert_int_equal(cfg->redact_messages, 1);
    /* a file that says nothing about it leaves it alone */
    const char *d = "general_settings:\n  alerting: [slack]\n";
    assert_int_equal(alert_config_load_string(cfg, d, strlen(d), &err), ALERT_OK);
    assert_int_equal(cfg->redact_messages, 1);
    alert_config_free(cfg);
}

static void test_aliases(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    const char *ok = "general_settings:\n  alerting: &dest [slack, webhook]\n"
                     "  alerting_args:\n    email_recipients: *dest\n";
    assert_int_equal(alert_config_load_string(cfg, ok, strlen(ok), &err), ALERT_OK);
    assert_int_equal(cfg->alerting.n, 2);
    assert_int_equal(cfg->email_recipients.n, 2);
    const char *loop = "alerting: &a [slack, *a]\n";
    assert_int_equal(alert_config_load_string(cfg, loop, strlen(loop), &err), ALERT_ERR_CONFIG);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 22);
    alert_config_free(cfg);
}

/* ---- the malformed cases of tests/data/config ---------------------------------- */

typedef struct error_case {
    const char *file;
    int line;
    int column;
    const char *text;       /* a part of the expected error text */
} error_case;

static const error_case error_cases[] = {
    { "bad_yaml_indent.yaml", 4, 5, "malformed YAML" },
    { "bad_yaml_unclosed.yaml", 4, 11, "malformed YAML" },
    { "bad_yaml_tab.yaml", 3, 1, "malformed YAML" },
    { "bad_utf8.yaml", 2, 14, "malformed YAML" },
    { "two_documents.yaml", 3, 1, "single document" },
    { "undefined_alias.yaml", 2, 11, "undefined alias 'destinations'" },
    { "bad_top_level.yaml", 2, 1, "expected a mapping" },
    { "bad_general_settings.yaml", 2, 19, "general_settings: expected a mapping" },
    { "bad_type_threshold.yaml", 4, 23, "alerting_threshold: expected a number" },
    { "nan_threshold.yaml", 3, 23, "finite" },
    { "inf_threshold.yaml", 2, 21, "finite" },
    { "negative_threshold.yaml", 3, 23, "must not be negative" },
    { "zero_threshold.yaml", 2, 21, "greater than 0" },
    { "negative_interval.yaml", 5, 21, "flush_interval: must not be negative" },
    { "negative_count.yaml", 4, 35, "minor_outage_alert_threshold: must not be negative" },
    { "fraction_count.yaml", 3, 15, "batch_size: expected a whole number" },
    { "bool_for_number.yaml", 4, 16, "max_queue: expected a number, not a boolean" },
    { "bad_duration.yaml", 7, 24, "budget_duration" },
    { "bad_entity.yaml", 4, 16, "unknown entity 'galaxy'" },
    { "missing_entity.yaml", 4, 7, "missing entity" },
    { "bad_bool.yaml", 4, 20, "send_resolved: expected true or false" },
    { "bad_bool_number.yaml", 3, 34, "redact_messages_in_exceptions: expected true or false" },
    { "list_for_scalar.yaml", 3, 23, "expected a single value, not a list" },
    { "mapping_for_list.yaml", 3, 16, "alert_types: expected a list, not a mapping" },
    { "list_for_mapping.yaml", 3, 18, "alerting_args: expected a mapping" },
    { "unset_env.yaml", 4, 24, "environment variable LIBALERTING_TEST_UNSET is not set" },
    { "unset_env_in_list.yaml", 4, 5, "environment variable LIBALERTING_TEST_UNSET is not set" },
    { "bad_rate_limit.yaml", 6, 16, "rate_limits.discord" },
    { "bad_spend_frequency.yaml", 3, 27, "spend_report_frequency" },
    { "bad_budget_threshold.yaml", 4, 35, "budget_alert_thresholds[1]" },
    { "bool_budget_threshold.yaml", 4, 35, "not a boolean" },
    { "bad_digest_interval.yaml", 4, 51, "digest_interval: must be greater than 0" },
    { "empty_destination.yaml", 2, 19, "must not be empty" },
    { "secret_list_for_scalar.yaml", 5, 7, "webhook_secret: expected a single value" },
    { "crlf_bad_number.yaml", 3, 23, "expected a number" },
    /* issue 9, items 2, 13 and 14 (also seeds of tests/fuzz/fuzz_config) */
    { "bad_deep_nesting.yaml", 1, 74, "YAML limit: nesting deeper than 64" },
    { "bad_alias_bomb.yaml", 6, 45, "YAML limit: aliases expand to more nodes than 100000" },
    { "bad_anchor_count.yaml", 1, 8895, "YAML limit: more anchors than 1000" },
    { "bad_long_list.yaml", 1, 11, "alerting: a list of 257 entries: at most 256" },
    { "bad_huge_duration.yaml", 3, 24, "alerting_args.delivery_deadline: must be at most 31536000" },
    { "bad_tiny_timeout.yaml", 3, 19, "alerting_args.http_timeout: must be at least 0.001" },
    { "bad_secret_destination.yaml", 2, 19, "alerting[1]: an entry that looks like a URL" },
};
#define N_ERROR_CASES (sizeof error_cases / sizeof error_cases[0])

/* issue 12, item 5: the webhook and e-mail scopes, budget_alerts by default */
static void test_scope_keys(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    assert_int_equal(cfg->webhook_alert_types, bit(AL_T_BUDGET_ALERTS));
    assert_int_equal(cfg->email_alert_types, bit(AL_T_BUDGET_ALERTS));
    const char *yaml = "general_settings:\n  alerting_args:\n"
                       "    webhook_alert_types: [budget_alerts, llm_exceptions, outage_alerts]\n"
                       "    email_alert_types: llm_requests_hanging\n";
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    assert_int_equal(cfg->webhook_alert_types, bit(AL_T_BUDGET_ALERTS) |
                     bit(AL_T_LLM_EXCEPTIONS) | bit(AL_T_OUTAGE_ALERTS));
    assert_int_equal(cfg->email_alert_types, bit(AL_T_LLM_REQUESTS_HANGING));
    set_ok(cfg, "alerting_args.webhook_alert_types", "~");
    assert_int_equal(cfg->webhook_alert_types, bit(AL_T_BUDGET_ALERTS));
    set_ok(cfg, "email_alert_types", "[db_exceptions]");
    assert_int_equal(cfg->email_alert_types, bit(AL_T_DB_EXCEPTIONS));
    alert_config_free(cfg);
}

/* issue 12, item 2: what LiteLLM accepts loads, with warnings (tests/data/config/warn_*). */
typedef struct warn_case {
    const char *file;
    int warnings;
    const char *text;       /* a part of the expected warnings */
} warn_case;

static const warn_case warn_cases[] = {
    { "warn_unknown_alert_type.yaml", 1, "unknown alert type 'llm_too_slw' at" },
    { "warn_unknown_route_type.yaml", 1, "unknown alert type 'llm_exception'" },
    { "warn_unknown_digest_type.yaml", 1, "unknown alert type 'slow'" },
    { "warn_secret_as_alert_type.yaml", 1, "unknown alert type '(an entry that looks like" },
    { "warn_empty_channel.yaml", 2, "llm_too_slow[0]: an empty channel is ignored" },
};
#define N_WARN_CASES (sizeof warn_cases / sizeof warn_cases[0])

static void test_warn_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_WARN_CASES; i++) {
        const warn_case *c = &warn_cases[i];
        char path[256];
        snprintf(path, sizeof path, DATA "%s", c->file);
        alert_config *cfg = new_config();
        log_capture logs = { 0 };
        alert_config_set_log(cfg, capture_log, &logs);
        alert_error err = ALERT_ERROR_INIT;
        int rc = alert_config_load_file(cfg, path, &err);
        if (rc != ALERT_OK || logs.warnings != c->warnings || !strstr(logs.all, c->text))
            fail_msg("%s: got %d '%s', %d warnings '%s'", c->file, rc, err.text, logs.warnings,
                     logs.all);
        if (strstr(logs.all, "SECRETTOKEN") || strstr(logs.all, "hooks.slack.com"))
            fail_msg("%s: a warning repeats a secret: %s", c->file, logs.all);
        alert_config_free(cfg);
    }
    /* the misspelt type is dropped, the others kept */
    alert_config *cfg = load_ok(DATA "warn_unknown_alert_type.yaml");
    assert_int_equal(cfg->alert_types, bit(AL_T_LLM_EXCEPTIONS) | bit(AL_T_BUDGET_ALERTS));
    alert_config_free(cfg);
    cfg = load_ok(DATA "warn_unknown_route_type.yaml");
    assert_int_equal(cfg->alert_to_webhook_url[AL_T_LLM_EXCEPTIONS].n, 1);
    alert_config_free(cfg);
    /* empty channels unset; a non-URL one is kept until alert_ctx_create, which unsets it */
    cfg = load_ok(DATA "warn_empty_channel.yaml");
    assert_int_equal(cfg->alert_to_webhook_url[AL_T_LLM_EXCEPTIONS].n, 0);
    assert_int_equal(cfg->alert_to_webhook_url[AL_T_LLM_TOO_SLOW].n, 1);
    log_capture logs = { 0 };
    alert_config_set_log(cfg, capture_log, &logs);
    set_ok(cfg, "alerting_args.worker_threads", "0");
    alert_ctx *ctx = NULL;
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_ctx_create(&ctx, cfg, &err), ALERT_OK);
    assert_non_null(strstr(logs.all, "alert_to_webhook_url.budget_alerts[0] is not an http or "
                                     "https URL: that channel is unset"));
    assert_null(strstr(logs.all, "not a url"));
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
}

/* Secrets the error files contain: no error text may repeat them. */
static const char *const file_secrets[] = { "whsec_", "SECRETTOKEN", "hooks.slack.com" };

static void check_error_case(const error_case *c)
{
    char path[256];
    snprintf(path, sizeof path, DATA "%s", c->file);
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_file(cfg, path, &err);
    if (rc != ALERT_ERR_CONFIG || err.line != c->line || err.column != c->column ||
        !strstr(err.text, c->text) || strcmp(err.source, path) != 0 || err.code != rc)
        fail_msg("%s: got %d at %d:%d '%s', want %d:%d '%s'", c->file, rc, err.line,
                 err.column, err.text, c->line, c->column, c->text);
    for (size_t i = 0; i < sizeof file_secrets / sizeof file_secrets[0]; i++)
        if (strstr(err.text, file_secrets[i]))
            fail_msg("%s: error text repeats a secret: %s", c->file, err.text);
    /* nothing changed */
    assert_int_equal(cfg->alerting.n, 0);
    assert_int_equal(cfg->alerting_set, 0);
    assert_double_equal(cfg->alerting_threshold, 600);
    assert_int_equal(cfg->alert_types, al_type_default_mask());
    assert_int_equal(cfg->n_budgets, 0);
    alert_config_free(cfg);
}

static void test_error_cases(void **state)
{
    (void)state;
    unsetenv("LIBALERTING_TEST_UNSET");
    for (size_t i = 0; i < N_ERROR_CASES; i++)
        check_error_case(&error_cases[i]);
}

/* Every file of tests/data/config is either a valid case (ok_*) or in the table. */
static void test_error_cases_cover_data_dir(void **state)
{
    (void)state;
    DIR *dir = opendir(DATA);
    assert_non_null(dir);
    struct dirent *e;
    size_t seen = 0;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        if (strncmp(e->d_name, "ok_", 3) == 0)
            continue;
        if (strncmp(e->d_name, "warn_", 5) == 0) {
            int listed = 0;
            for (size_t i = 0; i < N_WARN_CASES && !listed; i++)
                listed = strcmp(warn_cases[i].file, e->d_name) == 0;
            if (!listed)
                fail_msg("%s is not in warn_cases", e->d_name);
            continue;
        }
        int found = 0;
        for (size_t i = 0; i < N_ERROR_CASES && !found; i++)
            found = strcmp(error_cases[i].file, e->d_name) == 0;
        if (!found)
            fail_msg("%s has no expected position in error_cases", e->d_name);
        seen++;
    }
    closedir(dir);
    assert_int_equal(seen, N_ERROR_CASES);
}

/* ---- failure leaves the config alone -------------------------------------------- */

static void test_failed_load_unchanged(void **state)
{
    (void)state;
    alert_config *cfg = load_ok(DATA "ok_full_litellm.yaml");
    alert_error err = ALERT_ERROR_INIT;
    /* valid keys come before the error: none of them may stick */
    const char *yaml = "general_settings:\n"
                       "  alerting: [discord]\n"
                       "  alerting_threshold: 1\n"
                       "  budgets: []\n"
                       "  alert_to_webhook_url: ~\n"
                       "  alerting_args:\n"
                       "    rate_limits: ~\n"
                       "    smtp_password: changed\n"
                       "    flush_interval: .inf\n";
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_ERR_CONFIG);
    assert_int_equal(err.line, 9);
    assert_int_equal(err.column, 21);
    check_full_general(cfg);
    check_full_args(cfg);
    check_full_strings(cfg);
    alert_config_free(cfg);
}

/* ---- copies and transports ------------------------------------------------------ */

static void test_copy_deep(void **state)
{
    (void)state;
    alert_config *src = load_ok(DATA "ok_full_litellm.yaml");
    int destroyed = 0;
    alert_transport t = make_transport();
    assert_int_equal(alert_config_add_transport(src, "my_transport", &t, &destroyed), ALERT_OK);
    alert_config copy;
    assert_int_equal(al_config_copy(&copy, src), ALERT_OK);
    assert_ptr_not_equal(copy.slack_webhook_url, src->slack_webhook_url);
    assert_ptr_not_equal(copy.alerting.items, src->alerting.items);
    assert_ptr_not_equal(copy.budgets, src->budgets);
    assert_ptr_equal(copy.transports[0], src->transports[0]);
    alert_config_free(src);
    assert_int_equal(destroyed, 0);
    check_full_general(&copy);
    check_full_args(&copy);
    check_full_strings(&copy);
    assert_int_equal(copy.n_transports, 1);
    assert_string_equal(copy.transports[0]->name, "my_transport");
    al_config_release(&copy);
    assert_int_equal(destroyed, 1);
    al_config_release(&copy);      /* twice is harmless */
    assert_int_equal(destroyed, 1);
}

static void test_transport_refcount(void **state)
{
    (void)state;
    int destroyed = 0;
    alert_config *cfg = new_config();
    alert_transport t = make_transport();
    int marker = 0;
    assert_int_equal(alert_config_add_transport(cfg, "pager_bot", &t, &destroyed), ALERT_OK);
    t.destroy = NULL;
    assert_int_equal(alert_config_add_transport(cfg, "no_destroy", &t, &marker), ALERT_OK);
    assert_int_equal(cfg->n_transports, 2);
    assert_int_equal(atomic_load(&cfg->transports[0]->refs), 1);
    assert_ptr_equal(cfg->transports[0]->vt.send, dummy_send);
    assert_ptr_equal(cfg->transports[0]->userdata, &destroyed);

    /* loads and sets go through a scratch copy: the transport survives them */
    set_ok(cfg, "alerting", "[pager_bot]");
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_set(cfg, "alerting_threshold", "x", &err), ALERT_ERR_CONFIG);
    assert_int_equal(atomic_load(&cfg->transports[0]->refs), 1);

    alert_config copy;
    assert_int_equal(al_config_copy(&copy, cfg), ALERT_OK);
    assert_int_equal(atomic_load(&cfg->transports[0]->refs), 2);
    alert_config_free(cfg);
    assert_int_equal(destroyed, 0);
    al_config_release(&copy);
    assert_int_equal(destroyed, 1);
}

static void test_add_transport_validation(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    int destroyed = 0;
    alert_transport t = make_transport();
    assert_int_equal(alert_config_add_transport(NULL, "x", &t, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_add_transport(cfg, NULL, &t, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_add_transport(cfg, "x", NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_add_transport(cfg, "", &t, NULL), ALERT_ERR_INVALID);
    const char *builtin[] = { "slack", "discord", "ms_teams", "webhook", "email", "pagerduty",
                              "alertmanager", "sentry" };
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        assert_int_equal(alert_config_add_transport(cfg, builtin[i], &t, NULL), ALERT_ERR_INVALID);
    alert_transport bad = t;
    bad.version = 0;
    assert_int_equal(alert_config_add_transport(cfg, "x", &bad, NULL), ALERT_ERR_VERSION);
    bad.version = ALERT_TRANSPORT_VERSION + 1;
    assert_int_equal(alert_config_add_transport(cfg, "x", &bad, NULL), ALERT_ERR_VERSION);
    bad = t;
    bad.send = NULL;
    assert_int_equal(alert_config_add_transport(cfg, "x", &bad, NULL), ALERT_ERR_INVALID);
    char name[16] = "mine";
    assert_int_equal(alert_config_add_transport(cfg, name, &t, &destroyed), ALERT_OK);
    strcpy(name, "changed");        /* the name was copied */
    assert_string_equal(cfg->transports[0]->name, "mine");
    assert_int_equal(alert_config_add_transport(cfg, "mine", &t, &destroyed), ALERT_ERR_INVALID);
    assert_int_equal(cfg->n_transports, 1);
    alert_config_free(cfg);
    assert_int_equal(destroyed, 1);
}

/* ---- allocation failures --------------------------------------------------------- */

static void check_base_state(const alert_config *cfg)
{
    assert_int_equal(cfg->alerting.n, 1);
    assert_string_equal(cfg->alerting.items[0], "webhook");
    assert_double_equal(cfg->alerting_threshold, 0.5);
    assert_double_equal(cfg->flush_interval, 2);
    assert_int_equal(cfg->n_transports, 1);
}

static int failing_load(long n, const char *what)
{
    int destroyed = 0;
    alert_config *cfg = new_config();
    alert_transport t = make_transport();
    assert_int_equal(alert_config_add_transport(cfg, "mine", &t, &destroyed), ALERT_OK);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_file(cfg, DATA "ok_bare.yaml", &err), ALERT_OK);
    al_alloc_fail_after(n);
    int rc = strcmp(what, "file") == 0
                 ? alert_config_load_file(cfg, EXAMPLE, &err)
                 : alert_config_set(cfg, "alerting_args", "{rate_limits: {slack: 1/s}, "
                                    "email_recipients: [a@b.c], budget_alert_thresholds: [1]}",
                                    &err);
    al_alloc_fail_after(-1);
    if (rc != ALERT_OK && rc != ALERT_ERR_NOMEM)
        fail_msg("%s, allocation %ld failing: %d %s", what, n, rc, err.text);
    if (rc == ALERT_ERR_NOMEM) {
        assert_int_equal(err.code, ALERT_ERR_NOMEM);
        check_base_state(cfg);
    }
    alert_config_free(cfg);
    assert_int_equal(destroyed, 1);
    return rc;
}

static void test_alloc_failure(void **state)
{
    (void)state;
    const char *what[] = { "file", "set" };
    for (size_t w = 0; w < 2; w++) {
        int ok_seen = 0;
        /* grows until an injected failure no longer hits anything */
        for (long n = 0; n < 100000 && !ok_seen; n++)
            ok_seen = failing_load(n, what[w]) == ALERT_OK;
        assert_true(ok_seen);
    }
    for (long n = 0; n < 3; n++) {
        alert_config *cfg = NULL;
        al_alloc_fail_after(n);
        int rc = alert_config_new(&cfg);
        al_alloc_fail_after(-1);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        assert_true(rc == ALERT_OK ? cfg != NULL : cfg == NULL);
        alert_config_free(cfg);
    }
    alert_config *src = load_ok(DATA "ok_full_litellm.yaml");
    int ok_seen = 0;
    for (long n = 0; n < 100000 && !ok_seen; n++) {
        alert_config copy;
        al_alloc_fail_after(n);
        int rc = al_config_copy(&copy, src);
        al_alloc_fail_after(-1);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        ok_seen = rc == ALERT_OK;
        if (ok_seen)
            check_full_args(&copy);
        al_config_release(&copy);
    }
    int destroyed = 0;
    for (long n = 0; n < 4; n++) {
        alert_transport t = make_transport();
        al_alloc_fail_after(n);
        int rc = alert_config_add_transport(src, "late", &t, &destroyed);
        al_alloc_fail_after(-1);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        assert_int_equal(destroyed, 0);     /* a failed add does not take the userdata */
        if (rc == ALERT_OK)
            break;
    }
    assert_int_equal(src->n_transports, 1);
    alert_config_free(src);
    assert_int_equal(destroyed, 1);
}

/* ---- arguments -------------------------------------------------------------------- */

static void test_null_arguments(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_new(NULL), ALERT_ERR_INVALID);
    alert_config_free(NULL);
    assert_int_equal(alert_config_load_file(NULL, EXAMPLE, &err), ALERT_ERR_INVALID);
    assert_int_equal(err.code, ALERT_ERR_INVALID);
    assert_int_equal(alert_config_load_file(cfg, NULL, &err), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_load_file(cfg, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_load_string(NULL, "a: 1", 4, &err), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_load_string(cfg, NULL, 0, &err), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set(NULL, "alerting", "[]", &err), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set(cfg, NULL, "[]", &err), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set(cfg, "alerting", NULL, &err), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set_clock(NULL, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set_log(NULL, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_error_init(NULL, ALERT_ERROR_VERSION), ALERT_ERR_INVALID);
    assert_int_equal(alert_transport_init(NULL, ALERT_TRANSPORT_VERSION), ALERT_ERR_INVALID);
    /* a NULL error struct is fine everywhere */
    assert_int_equal(alert_config_load_file(cfg, DATA "bad_bool.yaml", NULL), ALERT_ERR_CONFIG);
    assert_int_equal(alert_config_set(cfg, "alerting", "[", NULL), ALERT_ERR_CONFIG);
    alert_config_free(cfg);
}

static int64_t fixed_clock(void *userdata)
{
    return *(int64_t *)userdata;
}

static void test_callbacks_and_inits(void **state)
{
    (void)state;
    alert_config *cfg = new_config();
    int64_t now = 1700000000000;
    log_capture logs = { 0 };
    assert_int_equal(alert_config_set_clock(cfg, fixed_clock, &now), ALERT_OK);
    assert_int_equal(alert_config_set_log(cfg, capture_log, &logs), ALERT_OK);
    assert_ptr_equal(cfg->clock_fn, fixed_clock);
    assert_ptr_equal(cfg->clock_ud, &now);
    al_config_log(cfg, ALERT_LOG_INFO, "hello %d", 42);
    assert_string_equal(logs.all, "hello 42\n");
    /* callbacks survive a load (the scratch copy carries them) */
    set_ok(cfg, "alerting", "[slack]");
    assert_ptr_equal(cfg->log_fn, capture_log);

    alert_error err;
    memset(&err, 0xff, sizeof err);
    assert_int_equal(alert_error_init(&err, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_error_init(&err, ALERT_ERROR_VERSION + 1), ALERT_ERR_VERSION);
    assert_int_equal(alert_error_init(&err, ALERT_ERROR_VERSION), ALERT_OK);
    assert_int_equal(err.version, ALERT_ERROR_VERSION);
    assert_int_equal(err.code, 0);
    assert_int_equal(err.text[0], 0);

    alert_transport t;
    memset(&t, 0xff, sizeof t);
    assert_int_equal(alert_transport_init(&t, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_transport_init(&t, ALERT_TRANSPORT_VERSION + 1), ALERT_ERR_VERSION);
    assert_int_equal(alert_transport_init(&t, ALERT_TRANSPORT_VERSION), ALERT_OK);
    assert_null(t.send);
    assert_null(t.destroy);

    /* al_error_set: a zeroed struct gets the version, a given one is kept */
    alert_error zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    assert_int_equal(al_error_set(&zeroed, ALERT_ERR_CONFIG, "f.yaml", 3, 4, "x %s", "y"),
                     ALERT_ERR_CONFIG);
    assert_int_equal(zeroed.version, ALERT_ERROR_VERSION);
    assert_int_equal(zeroed.line, 3);
    assert_int_equal(zeroed.column, 4);
    assert_string_equal(zeroed.source, "f.yaml");
    assert_string_equal(zeroed.text, "x y");
    char long_source[300];
    memset(long_source, 'a', sizeof long_source - 1);
    long_source[sizeof long_source - 1] = '\0';
    al_error_set(&zeroed, ALERT_ERR_IO, long_source, 0, 0, "z");
    assert_int_equal(strlen(zeroed.source), sizeof zeroed.source - 1);
    assert_int_equal(al_error_set(NULL, ALERT_ERR_IO, NULL, 0, 0, "z"), ALERT_ERR_IO);
    alert_config_free(cfg);
}

static void test_strlist(void **state)
{
    (void)state;
    al_strlist a = { NULL, 0 }, b = { NULL, 0 };
    assert_int_equal(al_strlist_push(&a, "one"), ALERT_OK);
    assert_int_equal(al_strlist_push(&a, "two"), ALERT_OK);
    assert_int_equal(al_strlist_push(&a, NULL), ALERT_ERR_INVALID);
    assert_int_equal(al_strlist_push(&b, "old"), ALERT_OK);
    assert_int_equal(al_strlist_copy(&b, &a), ALERT_OK);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.items[1], "two");
    assert_ptr_not_equal(b.items[0], a.items[0]);
    al_alloc_fail_after(1);
    assert_int_equal(al_strlist_copy(&b, &a), ALERT_ERR_NOMEM);
    al_alloc_fail_after(-1);
    assert_int_equal(b.n, 2);           /* unchanged on failure */
    al_strlist_clear(&a);
    al_strlist_clear(&b);
    al_strlist_clear(&b);
    assert_null(b.items);
    al_strlist_clear(NULL);
}


/* ---- hostile documents: limits, not time (issue 9, item 13) ----------------------- */

typedef struct text_builder {
    char *data;
    size_t len;
    size_t cap;
} text_builder;

static void tb_add(text_builder *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

static void tb_repeat(text_builder *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        tb_add(b, s);
}

/* Loads b's text, expects ALERT_ERR_CONFIG at line:column with want in the text, and
 * that the config did not change. */
static void expect_load_error(text_builder *b, int line, int column, const char *want)
{
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_string(cfg, b->data, b->len, &err);
    if (rc != ALERT_ERR_CONFIG || err.line != line || err.column != column ||
        !strstr(err.text, want) || strcmp(err.source, "<string>") != 0)
        fail_msg("got %d at %d:%d '%s', want %d:%d '%s'", rc, err.line, err.column, err.text,
                 line, column, want);
    assert_int_equal(cfg->alerting.n, 0);
    alert_config_free(cfg);
    free(b->data);
    memset(b, 0, sizeof *b);
}

static void test_limit_flow_nesting(void **state)
{
    (void)state;
    /* 40 000 and 200 000 deep (loaded in 4.7 s and over 30 s before the limit) */
    static const size_t depths[] = { 40000, 200000, 65 };
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        text_builder b = { 0 };
        tb_add(&b, "alerting: ");
        tb_repeat(&b, "[", depths[i]);
        tb_repeat(&b, "]", depths[i]);
        tb_add(&b, "\n");
        /* the root mapping is level 1: the 64th '[' would be level 65 */
        expect_load_error(&b, 1, 11 + 63, "nesting deeper than 64");
    }
    /* 63 lists inside the root mapping are within the limit */
    text_builder ok = { 0 };
    tb_add(&ok, "x: ");
    tb_repeat(&ok, "[", 63);
    tb_repeat(&ok, "]", 63);
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, ok.data, ok.len, &err), ALERT_OK);
    alert_config_free(cfg);
    free(ok.data);
    /* block nesting counts the same */
    text_builder block = { 0 };
    char line[256];
    for (int level = 0; level < 70; level++) {
        snprintf(line, sizeof line, "%*sk:\n", level, "");
        tb_add(&block, line);
    }
    expect_load_error(&block, 65, 65, "nesting deeper than 64");
}

static void test_limit_anchors(void **state)
{
    (void)state;
    /* 40 000 anchors (5 s before): 40 lists of 1 000 anchored scalars */
    text_builder b = { 0 };
    char item[64];
    for (int list = 0; list < 40; list++) {
        snprintf(item, sizeof item, "l%d: [", list);
        tb_add(&b, item);
        for (int i = 0; i < 1000; i++) {
            snprintf(item, sizeof item, "%s&a%d x", i ? ", " : "", list * 1000 + i);
            tb_add(&b, item);
        }
        tb_add(&b, "]\n");
    }
    expect_load_error(&b, 2, 6, "more anchors than 1000");
}

static void test_limit_alias_expansion(void **state)
{
    (void)state;
    /* a duplicate key whose alias is repeated 2 000 times (13 s before): the list of
     * 100 names weighs 101 nodes, so alias 991 crosses 100 000 */
    text_builder b = { 0 };
    tb_add(&b, "x: &a [");
    char item[32];
    for (int i = 0; i < 100; i++) {
        snprintf(item, sizeof item, "%sd%d", i ? ", " : "", i);
        tb_add(&b, item);
    }
    tb_add(&b, "]\ngeneral_settings:\n");
    tb_repeat(&b, "  alerting: *a\n", 2000);
    expect_load_error(&b, 2 + 991, 13, "aliases expand to more nodes than 100000");

    /* a billion laughs: each level holds ten aliases of the one before */
    tb_add(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    char line[160];
    for (int level = 1; level < 10; level++) {
        snprintf(line, sizeof line, "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, "
                 "*l%d, *l%d]\n", level, level, level - 1, level - 1, level - 1, level - 1,
                 level - 1, level - 1, level - 1, level - 1, level - 1, level - 1);
        tb_add(&b, line);
    }
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, b.data, b.len, &err), ALERT_ERR_CONFIG);
    assert_non_null(strstr(err.text, "aliases expand"));
    alert_config_free(cfg);
    free(b.data);

    /* more than 10 000 aliases of a scalar */
    text_builder many = { 0 };
    tb_add(&many, "s: &s x\nl0: [*s");
    tb_repeat(&many, ", *s", 9999);
    tb_add(&many, "]\nl1: [*s]\n");
    expect_load_error(&many, 3, 6, "more aliases than 10000");
}

static void test_limit_list_sizes(void **state)
{
    (void)state;
    /* an alerting list of 100 000 names (13 s before): item 10 001 is refused */
    text_builder b = { 0 };
    tb_add(&b, "alerting: [");
    char item[32];
    size_t column = 0;
    for (int i = 0; i < 100000; i++) {
        if (i == 10000)
            column = b.len + 3;     /* after ", ", 1-based */
        snprintf(item, sizeof item, "%sd%d", i ? ", " : "", i);
        tb_add(&b, item);
    }
    tb_add(&b, "]\n");
    expect_load_error(&b, 1, (int)column, "more items in one list than 10000");

    /* a mapping of more than 10 000 keys */
    tb_add(&b, "general_settings:\n");
    for (int i = 0; i <= 10000; i++) {
        snprintf(item, sizeof item, "  k%d: 1\n", i);
        tb_add(&b, item);
    }
    expect_load_error(&b, 2 + 10000, 3, "more keys in one mapping than 10000");

    /* within the YAML limits, a config list is still bounded */
    tb_add(&b, "alerting: [");
    for (int i = 0; i < 257; i++) {
        snprintf(item, sizeof item, "%sd%d", i ? ", " : "", i);
        tb_add(&b, item);
    }
    tb_add(&b, "]\n");
    expect_load_error(&b, 1, 11, "alerting: a list of 257 entries: at most 256");

    tb_add(&b, "rate_limits:\n");
    for (int i = 0; i < 257; i++) {
        snprintf(item, sizeof item, "  d%d: 1/s\n", i);
        tb_add(&b, item);
    }
    expect_load_error(&b, 258, 3, "at most 256 destinations");
}

/* ---- durations have a range (issue 9, item 14) ----------------------------------- */

typedef struct range_case {
    const char *key;
    const char *value;
    const char *text;       /* a part of the expected error; NULL: accepted */
} range_case;

static const range_case range_cases[] = {
    { "alerting_args.delivery_deadline", "1e300", "delivery_deadline: must be at most 31536000" },
    { "alerting_args.shutdown_timeout", "1e300", "shutdown_timeout: must be at most" },
    { "alerting_args.flush_interval", "9e18", "flush_interval: must be at most" },
    { "alerting_args.http_timeout", "0.0004", "http_timeout: must be at least 0.001" },
    { "alerting_args.http_timeout", "-1", "http_timeout: must not be negative" },
    { "alerting_args.http_timeout", ".nan", "http_timeout: must be a finite number" },
    { "alerting_args.http_timeout", "-.inf", "http_timeout: must be a finite number" },
    { "alerting_args.http_timeout", "0", "http_timeout: must be greater than 0" },
    { "alerting_args.shutdown_timeout", "0.0004", "shutdown_timeout: must be 0 or at least 0.001" },
    { "alerting_args.budget_alert_ttl", "9e18", "budget_alert_ttl: must be at most" },
    { "alerting_args.daily_report_frequency", "1e300", "daily_report_frequency: must be at most" },
    { "alerting_args.report_check_interval", "1e300", "report_check_interval: must be at most" },
    { "alerting_args.outage_alert_ttl", "1e300", "outage_alert_ttl: must be at most" },
    { "alerting_args.region_outage_alert_ttl", "1e300", "region_outage_alert_ttl: must be at most" },
    { "alerting_args.user_spend_check_interval", "1e300", "user_spend_check_interval: must be" },
    { "alerting_args.failure_threshold_window_seconds", "1e300", "failure_threshold_window_seconds" },
    { "alerting_args.hanging_threshold_seconds", "1e300", "hanging_threshold_seconds: must be" },
    { "alerting_args.hanging_threshold_window_seconds", "1e300", "hanging_threshold_window_seconds" },
    { "alerting_args.alertmanager_resolve_after", "1e300", "alertmanager_resolve_after: must be" },
    { "alerting_threshold", "1e300", "alerting_threshold: must be at most" },
    { "alerting_threshold", "0.0001", "alerting_threshold: must be at least 0.001" },
    { "alert_type_config.llm_too_slow.digest_interval", "9e18", "digest_interval: must be at most" },
    { "alerting_args.spend_anomaly_baseline_days", "9e18", "spend_anomaly_baseline_days: must be at most 365" },
    { "spend_report_frequency", "999999d", "spend_report_frequency: must be at most 366d" },
    { "alerting_args.shutdown_timeout", "0", NULL },
    { "alerting_args.budget_alert_ttl", "0", NULL },
    { "alerting_args.http_timeout", "0.001", NULL },
    { "alerting_args.delivery_deadline", "31536000", NULL },
    { "alerting_args.spend_anomaly_baseline_days", "365", NULL },
    { "spend_report_frequency", "366d", NULL },
};

static void test_duration_ranges(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof range_cases / sizeof range_cases[0]; i++) {
        const range_case *c = &range_cases[i];
        alert_config *cfg = new_config();
        alert_error err = ALERT_ERROR_INIT;
        int rc = alert_config_set(cfg, c->key, c->value, &err);
        if (c->text ? rc != ALERT_ERR_CONFIG || !strstr(err.text, c->text) : rc != ALERT_OK)
            fail_msg("%s=%s: got %d '%s', want '%s'", c->key, c->value, rc, err.text,
                     c->text ? c->text : "OK");
        if (c->text) {
            /* unchanged */
            assert_double_equal(cfg->http_timeout, 15);
            assert_double_equal(cfg->delivery_deadline, 86400);
        }
        alert_config_free(cfg);
    }
}

/* ---- secrets in the wrong place are not echoed (issue 9, item 2) ------------------ */

#define HOOK "https://hooks.slack.com/services/T0000/B0000/SECRETTOKEN123"

static void expect_no_secret(const char *text)
{
    if (strstr(text, "hooks.slack.com") || strstr(text, "SECRETTOKEN") ||
        strstr(text, "R0UTINGKEY"))
        fail_msg("a secret is repeated: %s", text);
}

static void test_secret_names_not_echoed(void **state)
{
    (void)state;
    setenv("LIBALERTING_TEST_HOOK", HOOK, 1);
    static const char *const errors[] = {
        /* a destination name that is the webhook URL, through the environment or not */
        "alerting: [os.environ/LIBALERTING_TEST_HOOK]\n",
        "alerting: [slack, \"" HOOK "\"]\n",
        "alerting: [R0UTINGKEY0123456789abcdefabcdef]\n",
        /* a rate_limits or alert_to_webhook_url key */
        "rate_limits: {\"" HOOK "\": 1/s}\n",
        "alerting_args: {rate_limits: {R0UTINGKEY0123456789abcdefabcdef: 1/s}}\n",
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        alert_config *cfg = new_config();
        alert_error err = ALERT_ERROR_INIT;
        int rc = alert_config_load_string(cfg, errors[i], strlen(errors[i]), &err);
        if (rc != ALERT_ERR_CONFIG || !strstr(err.text, "looks like a URL"))
            fail_msg("%s: got %d '%s'", errors[i], rc, err.text);
        expect_no_secret(err.text);
        alert_config_free(cfg);
    }
    /* unknown keys are warnings: the warning does not repeat them either */
    static const char *const warnings[] = {
        "\"" HOOK "\": 1\n",
        "alerting_args: {\"" HOOK "\": 1}\n",
        "alerting_args: {R0UTINGKEY0123456789abcdefabcdef: 1}\n",
        "budgets: [{entity: team, \"" HOOK "\": 1}]\n",
        /* unknown alert types are warnings too (issue 12, item 2) */
        "alert_to_webhook_url: {\"" HOOK "\": " HOOK "}\n",
        "alert_type_config: {\"" HOOK "\": {digest: true}}\n",
        "alert_types: [\"" HOOK "\"]\n",
    };
    for (size_t i = 0; i < sizeof warnings / sizeof warnings[0]; i++) {
        alert_config *cfg = new_config();
        log_capture logs = { 0 };
        alert_config_set_log(cfg, capture_log, &logs);
        alert_error err = ALERT_ERROR_INIT;
        int rc = alert_config_load_string(cfg, warnings[i], strlen(warnings[i]), &err);
        if (rc != ALERT_OK || logs.warnings != 1)
            fail_msg("%s: got %d '%s', %d warnings", warnings[i], rc, err.text, logs.warnings);
        expect_no_secret(logs.all);
        alert_config_free(cfg);
    }
    /* custom transport names with digits stay names */
    alert_config *cfg = new_config();
    alert_error err = ALERT_ERROR_INIT;
    const char *names = "alerting: [team-alerts-2024-backup, pager_duty_backup_2, Ops2Oncall]\n";
    assert_int_equal(alert_config_load_string(cfg, names, strlen(names), &err), ALERT_OK);
    assert_int_equal(cfg->alerting.n, 3);
    alert_config_free(cfg);
    unsetenv("LIBALERTING_TEST_HOOK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_warn_cases),
        cmocka_unit_test(test_scope_keys),
        cmocka_unit_test(test_environment_variables_overlay),
        cmocka_unit_test(test_example_config),
        cmocka_unit_test(test_full_litellm),
        cmocka_unit_test(test_bare_file),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_load_string),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_env_resolution),
        cmocka_unit_test(test_set_scalars),
        cmocka_unit_test(test_set_lists),
        cmocka_unit_test(test_set_nested),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_set_unknown_key_warns),
        cmocka_unit_test(test_args_precedence),
        cmocka_unit_test(test_unknown_keys_warn),
        cmocka_unit_test(test_redact_flags),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_error_cases),
        cmocka_unit_test(test_error_cases_cover_data_dir),
        cmocka_unit_test(test_failed_load_unchanged),
        cmocka_unit_test(test_copy_deep),
        cmocka_unit_test(test_transport_refcount),
        cmocka_unit_test(test_add_transport_validation),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_callbacks_and_inits),
        cmocka_unit_test(test_strlist),
        cmocka_unit_test(test_limit_flow_nesting),
        cmocka_unit_test(test_limit_anchors),
        cmocka_unit_test(test_limit_alias_expansion),
        cmocka_unit_test(test_limit_list_sizes),
        cmocka_unit_test(test_duration_ranges),
        cmocka_unit_test(test_secret_names_not_echoed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
