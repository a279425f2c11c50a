/* SPDX-License-Identifier: MIT */
/* Fleet health end to end: outage windows from the failure hook, region outages,
 * recovery, the daily and fallback reports on the ctx clock, operations events. */
#include "harness.h"

static void failed_call(harness *h, const char *deployment, const char *provider, const char *region,
                 int status)
{
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = deployment;        /* the daily report names a deployment by its model */
    r.deployment = deployment;
    r.provider = provider;
    r.region = region;
    r.api_base = "https://vertex.example";
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = status;
    f.message = "upstream error";
    assert_int_equal(alert_on_request_failure(h->ctx, id, &f), ALERT_OK);
}

#define ONLY(types) "  alert_types: [" types "]\n"

static void deployment_outage_minor_major_once(void **state)
{
    (void)state;
    harness *h = h_new(ONLY("outage_alerts"));
    h_start(h);
    for (int i = 1; i <= 50; i++) {
        failed_call(h, "vertex/gemini-eu", "vertex_ai", NULL, i % 2 ? 500 : 408);
        h_advance(h, 1000);
        if (i == 4)
            assert_int_equal(h_count(h, "Service Outage"), 0);
        if (i == 5)
            assert_int_equal(h_count(h, "*⚠️ Minor Service Outage*"), 1);
        if (i == 9)
            assert_int_equal(h_count(h, "*⚠️ Major Service Outage*"), 0);
        if (i == 10)
            assert_int_equal(h_count(h, "*⚠️ Major Service Outage*"), 1);
    }
    assert_int_equal(h_count(h, "Service Outage"), 2);
    assert_int_equal(h_count(h, "Timeout Errors: "), 2);
    assert_true(h_count(h, "*Model Name:* `vertex/gemini-eu`") == 2);
    h_free(h);
}

static void spread_out_and_user_errors_never_count(void **state)
{
    (void)state;
    harness *h = h_new(ONLY("outage_alerts, region_outage_alerts"));
    h_start(h);
    for (int i = 0; i < 10; i++) {
        failed_call(h, "azure/gpt-4", "azure", "eastus", 500);
        h_advance(h, 61000);
    }
    int codes[] = { 400, 401, 404, 429 };
    for (int i = 0; i < 20; i++)
        failed_call(h, "azure/gpt-4", "azure", "eastus", codes[i % 4]);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 0);
    h_free(h);
}

static void region_outage_needs_two_deployments(void **state)
{
    (void)state;
    harness *h = h_new(ONLY("region_outage_alerts"));
    h_start(h);
    for (int i = 0; i < 6; i++) {
        failed_call(h, i % 2 ? "vertex/gemini-a" : "vertex/gemini-b", "vertex_ai", "us-central1",
             i % 2 ? 500 : 408);
        h_advance(h, 1000);
    }
    assert_int_equal(h_count(h, "Minor Service Outage"), 1);
    assert_int_equal(h_count(h, "*Region Name:* `us-central1`"), 1);
    assert_int_equal(h_count(h, "Alert type: `region_outage_alerts`"), 1);
    h_free(h);

    h = h_new(ONLY("region_outage_alerts"));
    h_start(h);
    for (int i = 0; i < 12; i++) {
        failed_call(h, "vertex/gemini-a", "vertex_ai", "us-central1", 500);   /* one deployment */
        failed_call(h, "openai/gpt-4", "openai", NULL, 500);                   /* no region */
    }
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 0);
    h_free(h);
}

static void quiet_window_ends_episode_and_recovers(void **state)
{
    (void)state;
    harness *h = h_new(ONLY("outage_alerts") "  alerting_args:\n    send_resolved: true\n");
    h_start(h);
    for (int i = 0; i < 5; i++)
        failed_call(h, "d1", "openai", NULL, 503);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "*⚠️ Minor Service Outage*"), 1);
    h_advance(h, 60000);
    h_advance(h, 1000);
    assert_int_equal(h_count(h, "Service Recovered"), 1);
    for (int i = 0; i < 5; i++)
        failed_call(h, "d1", "openai", NULL, 503);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "*⚠️ Minor Service Outage*"), 2);      /* a new episode */
    h_free(h);
}

static void daily_report_top_deployments(void **state)
{
    (void)state;
    harness *h = h_new(ONLY("daily_reports") "  alerting_args:\n    daily_report_frequency: 3600\n");
    h_start(h);
    /* d-slow: 2 requests, 10 s for 100 tokens each (0.1 s/token); d-fast: 1 s for 100 */
    const char *deps[] = { "d-slow", "d-fast" };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 2; i++) {
            alert_request r;
            alert_request_init(&r, ALERT_REQUEST_VERSION);
            r.deployment = deps[k];
            r.api_base = "https://a.example";
            r.start_ms = h->now;
            alert_req_id id;
            assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
            alert_response resp;
            alert_response_init(&resp, ALERT_RESPONSE_VERSION);
            resp.end_ms = h->now + (k == 0 ? 10000 : 1000);
            resp.completion_tokens = 100;
            assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
        }
    for (int i = 0; i < 3; i++)
        failed_call(h, "d-fast", "openai", NULL, 500);
    h_advance(h, 3599000);
    assert_int_equal(rcv_count(h->rcv), 0);
    h_advance(h, 1000);
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_true(strncmp(t, "Alert type: `daily_reports`", 27) == 0);
    assert_non_null(strstr(t, "1. Deployment: `d-fast`, Failed Requests: `3`,  API Base: `"));
    char *slow = strstr(t, "Top Slowest Deployments");
    assert_non_null(slow);
    assert_non_null(strstr(slow, "1. Deployment: `d-slow`, Latency per output token: `0.1s/token`"));
    assert_non_null(strstr(slow, "2. Deployment: `d-fast`, Latency per output token: `0.01s/token`"));
    free(t);
    /* counters reset after the report was delivered: an idle day sends nothing */
    h_advance(h, 3600000);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_free(h);
}

static void fallback_report_and_operations(void **state)
{
    (void)state;
    harness *h = h_new(ONLY("fallback_reports, db_exceptions, cooldown_deployment, new_virtual_key_created")
                       "  alerting_args:\n    daily_report_frequency: 600\n");
    h_start(h);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_fallback(h->ctx, "gpt-4", "claude-3", 1), ALERT_OK);
    assert_int_equal(alert_on_fallback(h->ctx, "gpt-4", "claude-3", 0), ALERT_OK);
    assert_int_equal(alert_on_db_error(h->ctx, "connection to postgres://app:hunter2@db/x failed"), ALERT_OK);
    assert_int_equal(alert_on_deployment_cooldown(h->ctx, "azure/gpt-4", "429s", 60), ALERT_OK);
    assert_int_equal(alert_on_deployment_cooldown(h->ctx, "azure/gpt-4", "429s", 60), ALERT_OK);
    assert_int_equal(alert_on_management_event(h->ctx, "new_virtual_key_created",
                                               "{\"created_by_user_id\": \"admin\"}",
                                               "{\"key_alias\": \"<team-a>\"}"), ALERT_OK);
    assert_int_equal(alert_on_management_event(h->ctx, "llm_exceptions", NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_management_event(h->ctx, "team_updated", "[1]", NULL), ALERT_ERR_INVALID);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "DB read/write call failed: connection to postgres://app:REDACTED@db/x failed"), 1);
    assert_int_equal(h_count(h, "Alert type: `cooldown_deployment`"), 1);   /* once per cooldown */
    assert_int_equal(h_count(h, "`New Virtual Key Created`"), 1);
    assert_int_equal(h_count(h, "&lt;team-a&gt;"), 1);
    assert_int_equal(h_count(h, "fallback"), 0);
    h_advance(h, 600000);
    assert_int_equal(h_count(h, "`3 successful fallback requests` with primary model=`gpt-4` -> "
                              "fallback model=`claude-3`"), 1);
    assert_int_equal(h_count(h, "`1 failed fallback requests` with primary model=`gpt-4` -> "
                              "fallback model=`claude-3`"), 1);
    h_free(h);
}

static void report_schedule_survives_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-sched-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char extra[256];
    snprintf(extra, sizeof extra, ONLY("daily_reports")
             "  alerting_args:\n    daily_report_frequency: 3600\n    state_path: \"%s/s.db\"\n", dir);
    harness *h = h_new(extra);
    h_start(h);
    failed_call(h, "d1", "openai", NULL, 500);
    h_advance(h, 1800000);                 /* half a period, then a restart */
    int64_t now = h->now;
    alert_ctx_destroy(h->ctx);
    h->ctx = NULL;
    h_start(h);
    failed_call(h, "d1", "openai", NULL, 500);
    h_advance(h, 1799000);
    assert_int_equal(rcv_count(h->rcv), 0);   /* not early */
    h_advance(h, 1000);
    assert_int_equal(rcv_count(h->rcv), 1);   /* nor skipped: one period after the first start */
    assert_true(h->now - now == 1800000);
    h_free(h);
    h_rmdir(dir);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deployment_outage_minor_major_once),
        cmocka_unit_test(spread_out_and_user_errors_never_count),
        cmocka_unit_test(region_outage_needs_two_deployments),
        cmocka_unit_test(quiet_window_ends_episode_and_recovers),
        cmocka_unit_test(daily_report_top_deployments),
        cmocka_unit_test(fallback_report_and_operations),
        cmocka_unit_test(report_schedule_survives_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
