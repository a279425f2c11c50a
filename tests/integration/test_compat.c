/* The compatibility suite (issue 12, items 6 and 8): one golden text per alert type and
 * one golden JSON per webhook event, each built from LiteLLM's format strings
 * (shared/design/reference/litellm-alerting.md) with the fields this library fills.
 * What differs from LiteLLM on purpose is listed in README.md, "What differs, and why";
 * each golden below says which LiteLLM string it follows. The clock is injected
 * (T0 = 2026-01-01 00:00:00.123 UTC), so the Timestamp lines are fixed. */
#include "harness.h"

/* The whole text of the only request the receiver got, envelope included. */
static void golden(harness *h, const char *want)
{
    if (rcv_count(h->rcv) != 1)
        fail_msg("%zu requests, want 1", rcv_count(h->rcv));
    char *t = h_text(h, 0);
    if (getenv("COMPAT_DUMP"))
        fprintf(stderr, "----\n%s\n----\n", t);
    if (strcmp(t, want) != 0)
        fail_msg("text differs:\n got: %s\nwant: %s", t, want);
    free(t);
}

/* The JSON body of request i as the receiver got it. */
static void golden_body(harness *h, size_t i, const char *want)
{
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, i, &q), 0);
    if (getenv("COMPAT_DUMP"))
        fprintf(stderr, "----\n%s\n----\n", q.body);
    if (strcmp(q.body, want) != 0)
        fail_msg("body differs:\n got: %s\nwant: %s", q.body, want);
    rcv_request_free(&q);
}

#define ENV(type, level) "Alert type: `" type "`\nLevel: `" level "`\nTimestamp: `00:00:00`\n\nMessage: "

static void emit_one(harness *h, const char *type, const char *text, const char *meta)
{
    assert_int_equal(alert_emit(h->ctx, type, ALERT_LEVEL_HIGH, text, meta), ALERT_OK);
    h_advance(h, 0);
}

/* llm_requests_hanging: `Requests are hanging - <threshold>s+ request time` + the four
 * lines LiteLLM's tests fix; a missing alias prints "" as LiteLLM stores it; Request ID
 * and Elapsed are ours (README). */
static void compat_hanging(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gpt-4";
    r.call_id = "call-1";
    h->now -= 300000;           /* so that the alert's Timestamp is 00:00:00 */
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    h_advance(h, 0);
    h_advance(h, 300000);
    golden(h, ENV("llm_requests_hanging", "Medium")
              "`Requests are hanging - 300s+ request time`\nRequest Model: `gpt-4`\n"
              "API Base: `None`\nKey Alias: ``\nTeam Alias: ``\nRequest ID: `call-1`\n"
              "Elapsed: `300.00s`");
    h_free(h);
}

/* llm_too_slow: `Responses are slow - <round(duration,2)>s response time > Alerting
 * threshold: <threshold>s`, then Key Name / Team when a key alias is known, Request
 * Model, API Base, Messages. */
static void compat_slow(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gpt-4";
    r.call_id = "call-2";
    r.key_alias = "prod-key";
    r.team_alias = "search";
    r.api_base = "https://api.example/v1";
    r.messages = "hello there";
    r.start_ms = T0 - 301250;
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.end_ms = T0;
    assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("llm_too_slow", "Low")
              "`Responses are slow - 301.25s response time > Alerting threshold: 300s`\n\n"
              "Key Name: `prod-key`\nTeam: `search`\nRequest Model: `gpt-4`\n"
              "API Base: `https://api.example/v1`\nMessages: `hello there`");
    h_free(h);
}

/* llm_exceptions: `LLM API call failed: `<error>`` then our field lines (README). */
static void compat_exception(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gpt-4";
    r.call_id = "call-3";
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.message = "Internal server error";
    f.deployment = "azure/gpt-4-eu";
    f.api_base = "https://eu.example.com";
    f.end_ms = T0;
    assert_int_equal(alert_on_request_failure(h->ctx, id, &f), ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("llm_exceptions", "High") "LLM API call failed: `Internal server error`\n"
              "Model: `gpt-4`\nDeployment: `azure/gpt-4-eu`\nAPI Base: `https://eu.example.com`");
    h_free(h);
}

/* db_exceptions: `DB read/write call failed: <error>` */
static void compat_db(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    assert_int_equal(alert_on_db_error(h->ctx, "connection refused"), ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("db_exceptions", "High") "DB read/write call failed: connection refused");
    h_free(h);
}

/* failed_tracking_spend: `Failed Tracking Cost for <error>` */
static void compat_failed_tracking(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    assert_int_equal(alert_on_spend_tracking_failure(h->ctx, "gpt-9", "model not in cost map"),
                     ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("failed_tracking_spend", "High")
              "Failed Tracking Cost for model not in cost map");
    h_free(h);
}

/* Alerting Metadata as LiteLLM appends it: the heading per item, a trailing blank line;
 * then the Proxy URL line. */
static void compat_metadata_and_proxy_url(void **state)
{
    (void)state;
    harness *h = h_new("    proxy_base_url: \"https://proxy.example\"\n");
    h_start(h);
    emit_one(h, "model_deprecation_warnings", "*Deprecated*", "{\"team\": \"search\", \"n\": 7}");
    golden(h, ENV("model_deprecation_warnings", "High") "*Deprecated*"
              "\n\n*Alerting Metadata*: \nteam: `search`\n\n"
              "\n\n*Alerting Metadata*: \nn: `7`\n\n"
              "\n\nProxy URL: `https://proxy.example`");
    h_free(h);
}

/* new_model_added: no Level or Timestamp, but the Proxy URL line (LiteLLM adds it to
 * every type). */
static void compat_new_model(void **state)
{
    (void)state;
    harness *h = h_new("    proxy_base_url: \"https://proxy.example\"\n");
    h_start(h);
    assert_int_equal(alert_on_management_event(h->ctx, "new_model_added", NULL,
                                               "{\"model_name\": \"gpt-5\"}"), ALERT_OK);
    h_advance(h, 0);
    golden(h, "Alert type: `new_model_added`\n*\xF0\x9F\x9A\x85 New Model Added*\n"
              "Model Name: `gpt-5`\n\n\nProxy URL: `https://proxy.example`");
    h_free(h);
}

/* outage_alerts: LiteLLM's _outage_alert_msg_factory, *Last Check:* included. */
static void compat_outage(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [outage_alerts]\n");
    h_start(h);
    for (int i = 0; i < 5; i++) {
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = 500;
        f.message = "down";
        f.model = "azure/gpt-4-eu";
        f.deployment = "azure/gpt-4-eu";
        f.provider = "azure";
        f.api_base = "https://eu.example.com";
        f.end_ms = T0;
        assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    }
    h_advance(h, 0);
    golden(h, ENV("outage_alerts", "Medium")
              "\n\n\n*\xE2\x9A\xA0\xEF\xB8\x8F Minor Service Outage*\n\n\n"
              "*Model Name:* `azure/gpt-4-eu`\n*Provider:* `azure`\n*API Base:* `https://eu.example.com`"
              "\n\n\n*Errors:*\n\nAPI Errors: 5\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    h_free(h);
}

static void budget_of(alert_budget *b, int entity, const char *id, double spend, double max,
                      double soft)
{
    alert_budget_init(b, ALERT_BUDGET_VERSION);
    b->entity = entity;
    b->entity_id = id;
    b->spend = spend;
    b->max_budget = max;
    b->soft_budget = soft;
}

/* budget_alerts: `<Prefix><event text>` + a blank line + one `*<field>:* `<value>`` line
 * per non-null CallInfo field, in its order, the token left out. */
static void compat_budget_crossed(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_KEY, "k1", 101, 100, -1);
    b.key_hash = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b";
    b.key_alias = "test-key";
    b.user_id = "u1";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("budget_alerts", "High") "Key Budget: Budget Crossed\n Total Budget:`100.0`\n\n"
              "*spend:* `101.0`\n*max_budget:* `100.0`\n*user_id:* `u1`\n"
              "*key_alias:* `test-key`\n*event_group:* `key`\n");
    h_free(h);
}

static void compat_budget_threshold(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_USER, "u2", 85, 100, -1);
    b.user_id = "u2";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("budget_alerts", "High") "User Budget: 15% or less of budget remaining\n\n"
              "*spend:* `85.0`\n*max_budget:* `100.0`\n*user_id:* `u2`\n*event_group:* `user`\n");
    h_free(h);
}

static void compat_budget_soft(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_TEAM, "t1", 80, -1, 80);
    b.team_id = "t1";
    b.team_alias = "search";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("budget_alerts", "High") "Soft Budget Crossed: Total Soft Budget:`80.0`\n\n"
              "*spend:* `80.0`\n*soft_budget:* `80.0`\n*team_id:* `t1`\n*team_alias:* `search`\n"
              "*event_group:* `team`\n");
    h_free(h);
}

/* The webhook events: LiteLLM's WebhookEvent, every field, nulls included, in order. */
static void compat_webhook_budget_crossed(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_USER, "u3", 1, 0, -1);
    b.user_id = "u3";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    golden_body(h, 0, "{\"spend\":1.0,\"max_budget\":0.0,\"soft_budget\":null,\"token\":null,"
                      "\"customer_id\":null,\"user_id\":\"u3\",\"team_id\":null,\"team_alias\":null,"
                      "\"organization_id\":null,\"user_email\":null,\"key_alias\":null,"
                      "\"projected_exceeded_date\":null,\"projected_spend\":null,"
                      "\"event_group\":\"user\",\"alert_emails\":null,\"event\":\"budget_crossed\","
                      "\"event_message\":\"User Budget: Budget Crossed\\n Total Budget:`0.0`\"}");
    h_free(h);
}

static void compat_webhook_threshold_and_soft(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_TEAM, "t2", 95, 100, -1);
    b.team_id = "t2";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    golden_body(h, 0, "{\"spend\":95.0,\"max_budget\":100.0,\"soft_budget\":null,\"token\":null,"
                      "\"customer_id\":null,\"user_id\":null,\"team_id\":\"t2\",\"team_alias\":null,"
                      "\"organization_id\":null,\"user_email\":null,\"key_alias\":null,"
                      "\"projected_exceeded_date\":null,\"projected_spend\":null,"
                      "\"event_group\":\"team\",\"alert_emails\":null,\"event\":\"threshold_crossed\","
                      "\"event_message\":\"Team Budget: 5% or less of budget remaining\"}");
    h_free(h);
}

/* spend_tracked: LiteLLM's customer spend event (on by default with webhook). */
static void compat_webhook_spend_tracked(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    alert_spend s;
    alert_spend_init(&s, ALERT_SPEND_VERSION);
    s.cost = 0.25;
    s.customer_id = "cust-7";
    s.key_hash = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b";
    s.at_ms = T0;
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
    h_advance(h, 0);
    golden_body(h, 0, "{\"spend\":0.25,\"max_budget\":null,\"soft_budget\":null,"
                      "\"token\":\"88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b\","
                      "\"customer_id\":\"cust-7\",\"user_id\":null,\"team_id\":null,\"team_alias\":null,"
                      "\"organization_id\":null,\"user_email\":null,\"key_alias\":null,"
                      "\"projected_exceeded_date\":null,\"projected_spend\":null,"
                      "\"event_group\":\"end_user\",\"alert_emails\":null,\"event\":\"spend_tracked\","
                      "\"event_message\":\"Customer spend tracked. Customer=cust-7, spend=0.25\"}");
    h_free(h);
}

/* alert_send_test(ctx, "webhook"): /health/services?service=webhook's event. */
static void compat_webhook_test_event(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    assert_int_equal(alert_send_test(h->ctx, "webhook"), ALERT_OK);
    h_advance(h, 0);
    golden_body(h, 0, "{\"spend\":1.0,\"max_budget\":0.0,\"soft_budget\":null,\"token\":null,"
                      "\"customer_id\":null,\"user_id\":\"default_user_id\",\"team_id\":null,"
                      "\"team_alias\":null,"
                      "\"organization_id\":null,\"user_email\":null,\"key_alias\":null,"
                      "\"projected_exceeded_date\":null,\"projected_spend\":null,"
                      "\"event_group\":\"key\",\"alert_emails\":null,\"event\":\"budget_crossed\","
                      "\"event_message\":\"User Budget: Budget Crossed\\n Total Budget:`0.0`\"}");
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compat_hanging),
        cmocka_unit_test(compat_slow),
        cmocka_unit_test(compat_exception),
        cmocka_unit_test(compat_db),
        cmocka_unit_test(compat_failed_tracking),
        cmocka_unit_test(compat_metadata_and_proxy_url),
        cmocka_unit_test(compat_new_model),
        cmocka_unit_test(compat_outage),
        cmocka_unit_test(compat_budget_crossed),
        cmocka_unit_test(compat_budget_threshold),
        cmocka_unit_test(compat_budget_soft),
        cmocka_unit_test(compat_webhook_budget_crossed),
        cmocka_unit_test(compat_webhook_threshold_and_soft),
        cmocka_unit_test(compat_webhook_spend_tracked),
        cmocka_unit_test(compat_webhook_test_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
