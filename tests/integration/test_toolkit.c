/* The operator's toolkit (issue 13): every failed call says why, a config is checked
 * without side effects, values are set literally and read back masked, metrics come as
 * Prometheus text, a poll loop knows when to call next, a config is reloaded live. */
#include "harness.h"

#define LAST(h) alert_ctx_last_error((h)->ctx)

static void assert_says(harness *h, const char *needle)
{
    const char *last = LAST(h);
    if (!strstr(last, needle))
        fail_msg("last error \"%s\" does not say \"%s\"", last, needle);
}

/* Item 6: each refused call leaves a reason naming the function and what was wrong. */
static void failed_calls_say_why(void **state)
{
    (void)state;
    harness *h = h_new("    max_inflight: 1\n");
    h_start(h);
    alert_request req;
    alert_request_init(&req, ALERT_REQUEST_VERSION);
    alert_req_id id, id2;

    req.version = 0;
    assert_int_equal(alert_on_request_start(h->ctx, &req, &id), ALERT_ERR_VERSION);
    assert_says(h, "alert_on_request_start: alert_request version 0");
    req.version = ALERT_REQUEST_VERSION;
    assert_int_equal(alert_on_request_start(h->ctx, &req, &id), ALERT_OK);
    assert_int_equal(alert_on_request_start(h->ctx, &req, &id2), ALERT_ERR_FULL);
    assert_says(h, "max_inflight (1)");
    assert_int_equal(alert_on_request_end(h->ctx, id, NULL), ALERT_OK);
    char want[128];
    snprintf(want, sizeof want, "request id %llu is not in flight", (unsigned long long)id);
    assert_int_equal(alert_on_request_end(h->ctx, id, NULL), ALERT_ERR_NOT_FOUND);
    assert_says(h, want);
    assert_says(h, "alert_on_request_end");
    assert_int_equal(alert_on_request_cancel(h->ctx, id), ALERT_ERR_NOT_FOUND);
    assert_says(h, "alert_on_request_cancel");
    assert_int_equal(alert_on_first_token(h->ctx, 0, 0), ALERT_ERR_INVALID);
    assert_says(h, "request id 0");

    assert_int_equal(alert_emit(h->ctx, "llm_too_slow", 7, "m", NULL), ALERT_ERR_INVALID);
    assert_says(h, "level 7");
    assert_int_equal(alert_emit(h->ctx, "no_such_type", 1, "m", NULL), ALERT_ERR_INVALID);
    assert_says(h, "unknown alert_type \"no_such_type\"");
    assert_int_equal(alert_emit(h->ctx, "llm_too_slow", 1, "m", "[1]"), ALERT_ERR_INVALID);
    assert_says(h, "not a JSON object");
    assert_int_equal(alert_send_test(h->ctx, "discord"), ALERT_ERR_NOT_FOUND);
    assert_says(h, "\"discord\" is not in the alerting list");

    alert_spend sp = ALERT_SPEND_INIT;
    sp.cost = -1;
    assert_int_equal(alert_on_spend(h->ctx, &sp), ALERT_ERR_INVALID);
    assert_says(h, "alert_on_spend: cost -1");
    alert_budget b = ALERT_BUDGET_INIT;
    b.entity = 99;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_ERR_INVALID);
    assert_says(h, "entity 99");
    b.entity = ALERT_ENTITY_KEY;
    assert_int_equal(alert_set_budget(h->ctx, &b, "7x"), ALERT_ERR_INVALID);
    assert_says(h, "budget_duration \"7x\"");
    assert_int_equal(alert_on_deployment_cooldown(h->ctx, "d", NULL, -5), ALERT_ERR_INVALID);
    assert_says(h, "cooldown_seconds -5");
    assert_int_equal(alert_on_management_event(h->ctx, "llm_too_slow", NULL, NULL), ALERT_ERR_INVALID);
    assert_says(h, "not a management alert type");
    alert_stats st;
    st.version = 99;
    assert_int_equal(alert_stats_get(h->ctx, &st), ALERT_ERR_VERSION);
    assert_says(h, "alert_stats version 99");
    h_free(h);

    /* alert_poll on a threaded ctx */
    h = h_new("    worker_threads: 1\n");
    h_start(h);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_ERR_STATE);
    assert_says(h, "alert_poll: this context has a worker thread");
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_calls_say_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
