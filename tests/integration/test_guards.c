/* SPDX-License-Identifier: MIT */
/* Issue 9, items 2 and 3 end to end, against the loopback receiver: what a rich
 * destination receives cannot carry a forged mention or link, whatever its URL looks
 * like, and log_to_console never logs a credential. */
#include "harness.h"

#define ZWSP "\xE2\x80\x8B"
#define HOSTILE "db down @everyone <@&42> [login](https://evil.example) <https://evil.example|login>"

static json_t *body_json(harness *h, size_t i, rcv_request *q)
{
    assert_int_equal(rcv_get(h->rcv, i, q), 0);
    json_error_t jerr;
    json_t *j = json_loads(q->body, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s", q->body);
    return j;
}

static void expect_guarded(const char *text)
{
    static const char *const forged[] = { "@everyone", "<@", "](", "<http" };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++)
        if (strstr(text, forged[i]))
            fail_msg("'%s' reached the destination: %s", forged[i], text);
    assert_non_null(strstr(text, "@" ZWSP "everyone"));
}

/* A Discord URL ending in /slack gets the Slack payload, and still the mention guard
 * (it used to get raw @everyone, <@&id> and no allowed_mentions). */
static void discord_slack_url_guarded(void **state)
{
    (void)state;
    harness *h = h_dest("discord", "discord_webhook_url", "/api/webhooks/1/tok/slack", NULL);
    rcv_set_default(h->rcv, 200, NULL, "ok");
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, HOSTILE, NULL), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(q.path, "/api/webhooks/1/tok/slack");
    const char *text = json_string_value(json_object_get(j, "text"));
    assert_non_null(text);
    expect_guarded(text);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "allowed_mentions"), "parse")), 0);
    assert_non_null(json_object_get(j, "allowed_mentions"));
    json_decref(j);
    rcv_request_free(&q);
    h_free(h);
}

/* The README promises that no input can forge a link: Teams renders Markdown. */
static void teams_no_markdown_link(void **state)
{
    (void)state;
    harness *h = h_dest("ms_teams", "ms_teams_webhook_url", "/workflows/teams", NULL);
    rcv_set_default(h->rcv, 202, NULL, "");
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, HOSTILE, NULL), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, 0, &q), 0);
    /* anywhere in the body, whatever the card's structure */
    assert_null(strstr(q.body, "]("));
    assert_non_null(strstr(q.body, "[login]" ZWSP "(https://evil.example)"));
    rcv_request_free(&q);
    h_free(h);
}

/* alerting_args.log_to_console logs what was delivered, without the routing key. */
static void pagerduty_log_without_routing_key(void **state)
{
    (void)state;
    harness *h = h_dest("pagerduty", "pagerduty_url", "/v2/enqueue",
                        "    pagerduty_api_key: \"R0UTINGKEY0123456789abcdefabcdef\"\n"
                        "    failure_threshold: 1\n    log_to_console: true\n");
    rcv_set_default(h->rcv, 202, NULL, "{\"status\":\"success\"}");
    h_start(h);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.model = "gpt-4";
    f.message = "boom";
    assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, 0, &q), 0);
    assert_non_null(strstr(q.body, "R0UTINGKEY0123456789abcdefabcdef"));   /* PagerDuty needs it */
    rcv_request_free(&q);
    int delivered = 0;
    for (int i = 0; i < h->n_log; i++) {
        if (strstr(h->log[i], "R0UTINGKEY"))
            fail_msg("the routing key was logged: %s", h->log[i]);
        delivered += strstr(h->log[i], "delivered to") != NULL;
    }
    assert_int_equal(delivered, 1);
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discord_slack_url_guarded),
        cmocka_unit_test(teams_no_markdown_link),
        cmocka_unit_test(pagerduty_log_without_routing_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
