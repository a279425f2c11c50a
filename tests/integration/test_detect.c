/* SPDX-License-Identifier: MIT */
/* Hanging, slow and failed requests, end to end: hooks -> worker -> Slack receiver. */
#include "harness.h"

static void hanging_fires_once_at_threshold(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    h_req(h, "gpt-4", "call-1", 0);
    h_advance(h, 299000);
    assert_int_equal(rcv_count(h->rcv), 0);
    h_advance(h, 1000);                     /* exactly 300 s */
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "Alert type: `llm_requests_hanging`"));
    assert_non_null(strstr(t, "Level: `Medium`"));
    assert_non_null(strstr(t, "`Requests are hanging - 300s+ request time`"));
    assert_non_null(strstr(t, "\nRequest Model: `gpt-4`"));
    assert_non_null(strstr(t, "\nAPI Base: `https://api.openai.example/v1`"));
    assert_non_null(strstr(t, "\nKey Alias: `prod-key`"));
    assert_non_null(strstr(t, "\nTeam Alias: `search`"));
    assert_non_null(strstr(t, "\nRequest ID: `call-1`"));
    assert_non_null(strstr(t, "\nElapsed: `300.00s`"));
    free(t);
    for (int i = 0; i < 5; i++)
        h_advance(h, 1000);
    h_advance(h, 600000);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_free(h);
}

/* Issue 12, item 1: with worker_threads: 0, a request started before the host's first
 * alert_poll, which comes after its deadline, alerts at that first poll (before, the
 * wheel's first advance skipped it: never with this clock, a turn late with the real one). */
static void hanging_before_the_first_poll_injected_clock(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    h_req(h, "gpt-4", "call-early", 0);
    h_advance(h, 305000);                   /* the first poll, 5 s after the deadline */
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "`Requests are hanging - 300s+ request time`"));
    free(t);
    h_advance(h, 600000);
    assert_int_equal(rcv_count(h->rcv), 1);    /* once */
    h_free(h);
}

static int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same with the real clock: the alert is there after the first poll (asserted on
 * the order of events, not on times). */
static void hanging_before_the_first_poll_real_clock(void **state)
{
    (void)state;
    rcv *r = rcv_start(0);
    assert_non_null(r);
    char url[256], yaml[1024];
    rcv_url(r, "/services/T000/B000/SECRETPATH", url, sizeof url);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [slack]\n  alerting_threshold: 0.05\n"
             "  alerting_args:\n    worker_threads: 0\n    slack_webhook_url: \"%s\"\n"
             "    shutdown_timeout: 0.2\n    http_timeout: 2\n", url);
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    alert_ctx *ctx;
    assert_int_equal(alert_ctx_create(&ctx, cfg, NULL), ALERT_OK);
    alert_request q;
    assert_int_equal(alert_request_init(&q, ALERT_REQUEST_VERSION), ALERT_OK);
    q.model = "gpt-4";
    q.call_id = "call-real";
    alert_req_id id = 0;
    int64_t started = real_now_ms();
    assert_int_equal(alert_on_request_start(ctx, &q, &id), ALERT_OK);
    /* the scenario itself: the deadline (50 ms) passes before the host first polls */
    struct timespec pause = { 0, 20 * 1000000L };
    while (real_now_ms() - started < 200)
        nanosleep(&pause, NULL);
    assert_int_equal(alert_poll(ctx, 0), ALERT_OK);       /* poll 1 */
    alert_stats st;
    assert_int_equal(alert_stats_init(&st, ALERT_STATS_VERSION), ALERT_OK);
    assert_int_equal(alert_stats_get(ctx, &st), ALERT_OK);
    assert_int_equal(st.alerts_raised, 1);                  /* raised by poll 1 */
    assert_int_equal(alert_flush(ctx, 5000), ALERT_OK);
    assert_int_equal(rcv_count(r), 1);
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
    rcv_stop(r);
}

static void hanging_61_in_one_tick(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    char id[32];
    for (int i = 0; i < 61; i++) {
        snprintf(id, sizeof id, "call-%d", i);
        h_req(h, "gpt-4", id, 0);
    }
    h_advance(h, 299999);
    assert_int_equal(rcv_count(h->rcv), 0);
    h_advance(h, 1);
    /* Slack takes about one post a second: the storm arrives packed, nothing lost */
    size_t posts = rcv_count(h->rcv);
    assert_true(posts >= 1 && posts <= 3);
    int seen[61] = { 0 };
    int alerts = 0;
    for (size_t p = 0; p < posts; p++) {
        char *t = h_text(h, p);
        for (char *at = t; (at = strstr(at, "Alert type: `llm_requests_hanging`")); at++)
            alerts++;
        for (int i = 0; i < 61; i++) {
            char want[48];
            snprintf(want, sizeof want, "Request ID: `call-%d`", i);
            for (char *at = t; (at = strstr(at, want)); at++)
                seen[i]++;
        }
        free(t);
    }
    assert_int_equal(alerts, 61);
    for (int i = 0; i < 61; i++)
        assert_int_equal(seen[i], 1);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.alerts_raised, 61);
    assert_int_equal(s.deliveries_ok, 61);
    assert_int_equal(s.requests_inflight, 61);
    h_free(h);
}

static void ended_failed_cancelled_never_hang(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_req_id a = h_req(h, "gpt-4", "a", 0);
    alert_req_id b = h_req(h, "gpt-4", "b", 0);
    alert_req_id c = h_req(h, "gpt-4", "c", 0);
    h_advance(h, 100000);                   /* the starts reach the wheel first */
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    assert_int_equal(alert_on_request_end(h->ctx, a, &resp), ALERT_OK);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 401;
    f.user_error = 1;
    assert_int_equal(alert_on_request_failure(h->ctx, b, &f), ALERT_OK);
    assert_int_equal(alert_on_request_cancel(h->ctx, c), ALERT_OK);
    /* a finished id is gone */
    assert_int_equal(alert_on_request_end(h->ctx, a, &resp), ALERT_ERR_NOT_FOUND);
    assert_int_equal(alert_on_request_cancel(h->ctx, c), ALERT_ERR_NOT_FOUND);
    assert_int_equal(alert_on_first_token(h->ctx, b, 0), ALERT_ERR_NOT_FOUND);
    h_advance(h, 400000);
    assert_int_equal(rcv_count(h->rcv), 0);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.requests_started, 3);
    assert_int_equal(s.requests_inflight, 0);
    assert_int_equal(s.alerts_raised, 0);
    h_free(h);
}

static void slot_reuse_does_not_inherit_a_timer(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_req_id a = h_req(h, "gpt-4", "old", 0);
    h_advance(h, 1000);
    assert_int_equal(alert_on_request_cancel(h->ctx, a), ALERT_OK);
    /* the same slot, started 200 s later: due at 500 s, not at 300 s */
    h_advance(h, 199000);
    h_req(h, "gpt-4", "new", 0);
    h_advance(h, 100000);                   /* 300 s after the first start */
    assert_int_equal(rcv_count(h->rcv), 0);
    h_advance(h, 200000);
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "Request ID: `new`"));
    free(t);
    h_free(h);
}

static void slow_is_strictly_over_threshold(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    alert_req_id at = h_req(h, "gpt-4", "exact", T0);
    resp.end_ms = T0 + 300000;
    assert_int_equal(alert_on_request_end(h->ctx, at, &resp), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 0);

    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gpt-4";
    r.api_base = "https://x.example";
    r.messages = "What is the capital of France?";
    r.key_alias = "k1";
    r.team_alias = "t1";
    r.start_ms = T0;
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    resp.end_ms = T0 + 301000;
    assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "Alert type: `llm_too_slow`\nLevel: `Low`\nTimestamp: `00:05:01`\n\n"
                              "Message: `Responses are slow - 301.0s response time > Alerting "
                              "threshold: 300s`\n\nKey Name: `k1`\nTeam: `t1`\nRequest Model: "
                              "`gpt-4`\nAPI Base: `https://x.example`\nMessages: `What is the "
                              "capital of France?`"));
    free(t);
    h_free(h);
}

static void slow_stream_has_time_to_first_token(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "claude";
    r.stream = 1;
    r.start_ms = T0;
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    assert_int_equal(alert_on_first_token(h->ctx, id, T0 + 1250), ALERT_OK);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.end_ms = T0 + 301250;
    resp.api_base = "https://late.example";
    assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "301.25s response time"));
    assert_non_null(strstr(t, "Time to First Token: `1.25s`"));
    assert_non_null(strstr(t, "API Base: `https://late.example`"));
    assert_non_null(strstr(t, "Messages: `None`"));
    assert_null(strstr(t, "Key Name"));
    free(t);
    h_free(h);
}

static void prompt_is_truncated_repaired_and_redactable(void **state)
{
    (void)state;
    size_t big = 10 * 1024 * 1024;
    char *prompt = malloc(big + 1);
    assert_non_null(prompt);
    memset(prompt, 'a', big);
    memcpy(prompt, "\xff\xfe" "caf\xc3\xa9 ", 8);
    prompt[big] = '\0';
    for (int redact = 0; redact < 2; redact++) {
        harness *h = h_new(redact ? "litellm_settings:\n  redact_messages_in_exceptions: true\n" : NULL);
        h_start(h);
        alert_request r;
        alert_request_init(&r, ALERT_REQUEST_VERSION);
        r.model = "m";
        r.messages = prompt;
        r.start_ms = T0;
        alert_req_id id;
        assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
        alert_response resp;
        alert_response_init(&resp, ALERT_RESPONSE_VERSION);
        resp.end_ms = T0 + 400000;
        assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
        h_advance(h, 0);
        assert_int_equal(rcv_count(h->rcv), 1);
        char *t = h_text(h, 0);
        if (redact) {
            assert_non_null(strstr(t, "Messages: `Message not logged. "
                                      "litellm.redact_messages_in_exceptions=True`"));
            assert_null(strstr(t, "caf"));
        } else {
            /* 100 code points: two U+FFFD, "café ", then 93 'a' */
            char want[256] = "Messages: `\xef\xbf\xbd\xef\xbf\xbd" "caf\xc3\xa9 ";
            size_t n = strlen(want);
            memset(want + n, 'a', 93);
            want[n + 93] = '`';
            want[n + 94] = '\0';
            assert_non_null(strstr(t, want));
        }
        free(t);
        h_free(h);
    }
    free(prompt);
}

static void exceptions_are_scrubbed_and_user_errors_quiet(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_req_id id = h_req(h, "gpt-4", "x", 0);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.error_class = "APIError";
    f.message = "upstream said: Incorrect API key sk-proj-abcdefghijklmnop1234 "
                "(Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl) <@U123>";
    f.deployment = "azure/gpt-4-eu";
    assert_int_equal(alert_on_request_failure(h->ctx, id, &f), ALERT_OK);
    alert_failure u;
    alert_failure_init(&u, ALERT_FAILURE_VERSION);
    u.status_code = 429;
    u.user_error = 1;
    u.model = "gpt-4";
    assert_int_equal(alert_on_request_failure(h->ctx, 0, &u), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "Alert type: `llm_exceptions`\nLevel: `High`"));
    assert_non_null(strstr(t, "Message: LLM API call failed: `upstream said: Incorrect API key REDACTED"));
    assert_null(strstr(t, "abcdefghijklmnop1234"));
    assert_null(strstr(t, "eyJzdWIiOiIxIn0"));
    assert_non_null(strstr(t, "&lt;@U123&gt;"));          /* no forged mention */
    assert_non_null(strstr(t, "\nModel: `gpt-4`\nDeployment: `azure/gpt-4-eu`\nAPI Base: "
                              "`https://api.openai.example/v1`"));
    free(t);
    /* a failure of a call never started carries its own labels */
    alert_failure g;
    alert_failure_init(&g, ALERT_FAILURE_VERSION);
    g.status_code = 503;
    g.message = "no healthy deployments";
    g.model = "gemini";
    assert_int_equal(alert_on_request_failure(h->ctx, 0, &g), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 2);
    assert_true(h_find(h, "`no healthy deployments`\nModel: `gemini`\nDeployment: `None`") >= 0);
    h_free(h);
}

static void metadata_is_appended_or_dropped(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "m";
    r.alerting_metadata_json = "{\"team\": \"search\", \"runbook\": 7, \"token\": \"api_key=hunter2hunter2\"}";
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    r.alerting_metadata_json = "[1, 2]";        /* not an object: dropped, still tracked */
    alert_req_id id2;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id2), ALERT_OK);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.message = "boom";
    assert_int_equal(alert_on_request_failure(h->ctx, id, &f), ALERT_OK);
    assert_int_equal(alert_on_request_failure(h->ctx, id2, &f), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 2);
    int with = h_find(h, "\n\n*Alerting Metadata*: \nteam: `search`\n\n"
                         "\n\n*Alerting Metadata*: \nrunbook: `7`\n\n");
    assert_true(with >= 0);
    char *t = h_text(h, (size_t)with);
    assert_null(strstr(t, "hunter2"));
    assert_non_null(strstr(t, "token: `REDACTED`"));     /* a top-level secret key goes whole */
    free(t);
    t = h_text(h, (size_t)(1 - with));
    assert_null(strstr(t, "Alerting Metadata"));
    free(t);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "x", "[1]"), ALERT_ERR_INVALID);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "x", "{bad"), ALERT_ERR_INVALID);
    h_free(h);
}

/* Item 6: the clock steps back 1, 10 or 60 minutes while a request hangs: the hanging
 * alert still comes 300 s of clock time after the start, and says 300 s elapsed. */
static void hanging_survives_a_clock_step_back(void **state)
{
    (void)state;
    static const int64_t steps_min[] = { 1, 10, 60 };
    for (size_t k = 0; k < sizeof steps_min / sizeof *steps_min; k++) {
        harness *h = h_new(NULL);
        h_start(h);
        h_req(h, "gpt-4", "call-1", 0);
        h_advance(h, 100000);
        h->now -= steps_min[k] * 60000;
        h_advance(h, 0);                    /* the worker runs while the clock is back */
        h_advance(h, 199000);
        assert_int_equal(rcv_count(h->rcv), 0);
        h_advance(h, 1000);
        assert_int_equal(rcv_count(h->rcv), 1);
        char *t = h_text(h, 0);
        assert_non_null(strstr(t, "\nElapsed: `300.00s`"));
        free(t);
        /* a request started after the step is watched on the same terms */
        h_req(h, "gpt-4", "call-2", 0);
        h_advance(h, 299000);
        assert_int_equal(rcv_count(h->rcv), 1);
        h_advance(h, 1000);
        assert_int_equal(rcv_count(h->rcv), 2);
        h_free(h);
    }
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hanging_fires_once_at_threshold),
        cmocka_unit_test(hanging_before_the_first_poll_injected_clock),
        cmocka_unit_test(hanging_before_the_first_poll_real_clock),
        cmocka_unit_test(hanging_61_in_one_tick),
        cmocka_unit_test(ended_failed_cancelled_never_hang),
        cmocka_unit_test(slot_reuse_does_not_inherit_a_timer),
        cmocka_unit_test(slow_is_strictly_over_threshold),
        cmocka_unit_test(slow_stream_has_time_to_first_token),
        cmocka_unit_test(prompt_is_truncated_repaired_and_redactable),
        cmocka_unit_test(exceptions_are_scrubbed_and_user_errors_quiet),
        cmocka_unit_test(metadata_is_appended_or_dropped),
        cmocka_unit_test(hanging_survives_a_clock_step_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
