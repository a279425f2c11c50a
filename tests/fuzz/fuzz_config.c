/* SPDX-License-Identifier: MIT */
/* libFuzzer: any bytes as a YAML config file. Never a crash or leak; an error always
 * carries a code the API knows, and a line/column inside the input when it has one.
 * A config that loads holds every documented limit (durations, list sizes), and
 * libFuzzer's -timeout catches an input that costs more than its size. Seeds for the
 * limits: tests/data/config/bad_{deep_nesting,alias_bomb,anchor_count,long_list,
 * huge_duration,tiny_timeout,secret_destination}.yaml. */
#include <stdint.h>
#include <string.h>

#include "alerting.h"
#include "config.h"

static int duration_ok(double d, int zero_ok)
{
    return (d == 0 && zero_ok) || (d >= AL_DURATION_MIN_S && d <= AL_DURATION_MAX_S);
}

static void check_limits(const alert_config *c)
{
    const double durations[] = {
        c->alerting_threshold, c->daily_report_frequency, c->report_check_interval,
        c->outage_alert_ttl, c->region_outage_alert_ttl, c->user_spend_check_interval,
        c->failure_threshold_window_seconds, c->hanging_threshold_seconds,
        c->hanging_threshold_window_seconds, c->flush_interval, c->delivery_deadline,
        c->http_timeout, c->alertmanager_resolve_after,
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
        if (!duration_ok(durations[i], 0))
            __builtin_trap();
    if (!duration_ok(c->budget_alert_ttl, 1) || !duration_ok(c->shutdown_timeout, 1))
        __builtin_trap();
    for (int t = 0; t < AL_T__COUNT; t++)
        if (!duration_ok(c->type_conf[t].digest_interval, 0) ||
            c->alert_to_webhook_url[t].n > AL_MAX_LIST_ENTRIES)
            __builtin_trap();
    if (c->spend_report_days < 1 || c->spend_report_days > AL_MAX_REPORT_DAYS ||
        c->spend_anomaly_baseline_days > AL_MAX_BASELINE_DAYS ||
        c->alerting.n > AL_MAX_LIST_ENTRIES || c->email_recipients.n > AL_MAX_LIST_ENTRIES ||
        c->n_rate_limits > AL_MAX_LIST_ENTRIES)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alert_config *cfg;
    if (alert_config_new(&cfg) != ALERT_OK)
        return 0;
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_string(cfg, (const char *)data, size, &err);
    if (rc != ALERT_OK && rc != ALERT_ERR_CONFIG && rc != ALERT_ERR_NOMEM)
        __builtin_trap();
    if (rc != ALERT_OK && (err.line < 0 || err.column < 0 || !memchr(err.text, 0, sizeof err.text)))
        __builtin_trap();
    /* the same bytes as one value of alert_config_set */
    char value[512];
    size_t n = size < sizeof value - 1 ? size : sizeof value - 1;
    memcpy(value, data, n);
    value[n] = '\0';
    alert_config_set(cfg, "alert_types", value, &err);
    alert_config_set(cfg, "alerting_args.rate_limits", value, &err);
    alert_config_set(cfg, "alerting", value, &err);
    alert_config_set(cfg, "alerting_args.http_timeout", value, &err);
    alert_config_set(cfg, "alerting_args.shutdown_timeout", value, &err);
    check_limits(cfg);
    alert_config_free(cfg);
    return 0;
}
