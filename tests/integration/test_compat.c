/* SPDX-License-Identifier: MIT */
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

#define ENV_AT(type, level, hms) "Alert type: `" type "`\nLevel: `" level "`\nTimestamp: `" hms \
                                 "`\n\nMessage: "
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

/* ---- reports (section 6 of the reference) ---- */

static alert_spend team_spend(double cost, const char *team, const char *tag, int64_t at)
{
    static const char *tags[1];
    tags[0] = tag;
    alert_spend s;
    alert_spend_init(&s, ALERT_SPEND_VERSION);
    s.cost = cost;
    s.team_id = team;
    s.team_alias = team;
    s.user_id = "u-1";
    s.tags = tags;
    s.tag_count = tag ? 1 : 0;
    s.at_ms = at;
    return s;
}

/* spend_reports, N days: ``*💸 Spend Report for `MM-DD-YYYY - MM-DD-YYYY` (N days)*\n`` +
 * `\n*Team Spend Report:*\n` + ``Team: `<alias>` | Spend: `$<round 4>`\n`` per team +
 * `\n*Tag Spend Report:*\n` + ``Tag: `<tag>` | Spend: `$<round 4>`\n`` per tag. */
static void compat_spend_report_days(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [spend_reports]\n  spend_report_frequency: \"2d\"\n");
    h_start(h);
    h->now -= 123;              /* midnight: the alert's Timestamp is 00:00:00 */
    alert_spend a = team_spend(12.34567, "search", "prod", T0 + 3600000);
    alert_spend b = team_spend(60.0, "ads", "prod", T0 + 86400000LL + 3600000);
    assert_int_equal(alert_on_spend(h->ctx, &a), ALERT_OK);
    h_advance(h, 86400000);
    assert_int_equal(alert_on_spend(h->ctx, &b), ALERT_OK);
    h_advance(h, 86400000);
    golden(h, ENV("spend_reports", "Low")
              "*\xF0\x9F\x92\xB8 Spend Report for `01-01-2026 - 01-03-2026` (2 days)*\n"
              "\n*Team Spend Report:*\nTeam: `ads` | Spend: `$60.0`\nTeam: `search` | Spend: `$12.3457`\n"
              "\n*Tag Spend Report:*\nTag: `prod` | Spend: `$72.3457`\n");
    h_free(h);
}

/* spend_reports, monthly: ``*💸 Monthly Spend Report for `MM-DD-YYYY - MM-DD-YYYY` *\n``
 * then the same two lists; the month just ended (README). */
static void compat_spend_report_monthly(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [spend_reports]\n  spend_report_frequency: \"60d\"\n");
    h_start(h);
    h->now -= 123;
    alert_spend a = team_spend(25.0, "alpha", "prod", T0 + 3600000);
    assert_int_equal(alert_on_spend(h->ctx, &a), ALERT_OK);
    for (int d = 0; d < 31; d++)
        h_advance(h, 86400000);
    golden(h, ENV("spend_reports", "Low")
              "*\xF0\x9F\x92\xB8 Monthly Spend Report for `01-01-2026 - 01-31-2026` *\n"
              "\n*Team Spend Report:*\nTeam: `alpha` | Spend: `$25.0`\n"
              "\n*Tag Spend Report:*\nTag: `prod` | Spend: `$25.0`\n");
    h_free(h);
}

static void ended_call(harness *h, const char *model, const char *deployment, int64_t ms, int64_t tokens)
{
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = model;
    r.deployment = deployment;
    r.api_base = "https://a.example";
    r.start_ms = h->now;
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.end_ms = h->now + ms;
    resp.completion_tokens = tokens;
    assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
}

static void failed_call(harness *h, const char *model, const char *deployment)
{
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = model;
    r.deployment = deployment;
    r.api_base = "https://b.example";
    alert_req_id id;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.message = "upstream error";
    assert_int_equal(alert_on_request_failure(h->ctx, id, &f), ALERT_OK);
}

/* daily_reports: LiteLLM's send_daily_reports text, no Level or Timestamp (as
 * new_model_added), a deployment named by its model (litellm_params.model). */
static void compat_daily_report(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [daily_reports]\n"
                       "  alerting_args:\n    daily_report_frequency: 3600\n");
    h->now -= 123;              /* the schedule starts at a whole second */
    h_start(h);
    ended_call(h, "gpt-4", "dep-slow-id", 10000, 100);
    ended_call(h, "gpt-4o", "dep-fast-id", 1000, 100);
    for (int i = 0; i < 2; i++)
        failed_call(h, "azure/gpt-4-eu", "dep-eu-id");
    h_advance(h, 3600000);
    golden(h, "Alert type: `daily_reports`"
              "\n\nTime: `1767229200.0`s\nHere are today's key metrics \xF0\x9F\x93\x88: \n\n"
              "\n\n*\xE2\x9D\x97\xEF\xB8\x8F Top Deployments with Most Failed Requests:*\n\n"
              "\t1. Deployment: `azure/gpt-4-eu`, Failed Requests: `2`,  API Base: `https://b.example`\n"
              "\n\n*\xF0\x9F\x98\x85 Top Slowest Deployments:*\n\n"
              "\t1. Deployment: `gpt-4`, Latency per output token: `0.1s/token`,  API Base: `https://a.example`\n\n"
              "\t2. Deployment: `gpt-4o`, Latency per output token: `0.01s/token`,  API Base: `https://a.example`\n\n"
              "\n\nNext Run is at: `1767232800.0`s");
    h_free(h);
}

/* fallback_reports: `*Fallback Statistics:*\n` + `` `<n> successful fallback requests`
 * with primary model=`<p>` -> fallback model=`<f>` `` lines (failed ones say "failed":
 * README). */
static void compat_fallback_report(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [fallback_reports]\n"
                       "  alerting_args:\n    daily_report_frequency: 600\n");
    h->now -= 123;
    h_start(h);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_fallback(h->ctx, "gpt-4", "claude-3", 1), ALERT_OK);
    assert_int_equal(alert_on_fallback(h->ctx, "gpt-4", "claude-3", 0), ALERT_OK);
    h_advance(h, 600000);
    golden(h, ENV_AT("fallback_reports", "Low", "00:10:00") "*Fallback Statistics:*\n"
              "`3 successful fallback requests` with primary model=`gpt-4` -> fallback model=`claude-3`\n"
              "`1 failed fallback requests` with primary model=`gpt-4` -> fallback model=`claude-3`\n");
    h_free(h);
}

/* user_spend_thresholds (daily and monthly) and user_spend_anomalies: LiteLLM's
 * `User ... Crossed:\nUser: `<id>`\n...` texts, one alert per type per run. */
static void compat_user_spend(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [user_spend_thresholds, user_spend_anomalies]\n"
                       "  alerting_args:\n    daily_spend_per_user_threshold: 5\n"
                       "    monthly_spend_per_user_threshold: 8\n"
                       "    spend_anomaly_min_spend: 10\n    user_spend_check_interval: 3600\n");
    h_start(h);
    alert_spend s = team_spend(12.5, "search", NULL, 0);
    s.user_id = "u-42";
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
    h_advance(h, 0);
    /* the two thresholds share their alert type: one alert, joined by a blank line */
    golden(h, ENV("user_spend_thresholds", "High") "User Daily Spend Threshold Crossed:\nUser: `u-42`\n"
              "Spend Today: `$12.50`\nDaily Threshold: `$5.00`\n\n"
              "User Monthly Spend Threshold Crossed:\nUser: `u-42`\n"
              "Spend This Month: `$12.50`\nMonthly Threshold: `$8.00`");
    h_advance(h, 3600000);      /* anomalies are checked every user_spend_check_interval */
    assert_int_equal(rcv_count(h->rcv), 2);
    char *t = h_text(h, 1);
    if (getenv("COMPAT_DUMP"))
        fprintf(stderr, "----\n%s\n----\n", t);
    assert_string_equal(t, ENV_AT("user_spend_anomalies", "High", "01:00:00")
                           "User Spend Anomaly Detected:\nUser: `u-42`\n"
                           "Spend Today: `$12.50`\nDaily Average (last 7 days): `$0.00`\n"
                           "Trigger: spend above `3.0x` the daily average (minimum `$10.00`)");
    free(t);
    h_free(h);
}

/* cooldown_deployment: LiteLLM never sends it (README); ours names the deployment,
 * the reason and the cooldown. */
static void compat_cooldown(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    assert_int_equal(alert_on_deployment_cooldown(h->ctx, "azure/gpt-4", "429 rate limited", 60), ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("cooldown_deployment", "Medium") "Deployment cooled down: `azure/gpt-4`\n"
              "Reason: `429 rate limited`\nCooldown: `60s`");
    h_free(h);
}

/* The management events: `` `<Event Name>`\n*Action Done by:*\n`` + the created_by
 * lines + `\n*Arguments passed:*\n` + one line per argument. Without an actor, the
 * VirtualKeyEvent's defaults: `Unknown`, `Unknown`, `None`. */
static void compat_management_event(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [new_virtual_key_created, team_deleted]\n");
    h_start(h);
    assert_int_equal(alert_on_management_event(h->ctx, "new_virtual_key_created",
                                               "{\"created_by_user_id\": \"admin\", "
                                               "\"created_by_user_role\": \"proxy_admin\"}",
                                               "{\"key_alias\": \"team-a\", \"max_budget\": 10}"),
                     ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("new_virtual_key_created", "High") "`New Virtual Key Created`\n*Action Done by:*\n"
              "created_by_user_id: `admin`\ncreated_by_user_role: `proxy_admin`\n"
              "\n*Arguments passed:*\nkey_alias: `team-a`\nmax_budget: `10`\n");
    h_free(h);
}

static void compat_management_event_unknown_actor(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [team_deleted]\n");
    h_start(h);
    assert_int_equal(alert_on_management_event(h->ctx, "team_deleted", NULL, "{\"team_id\": \"t-9\"}"),
                     ALERT_OK);
    h_advance(h, 0);
    golden(h, ENV("team_deleted", "High") "`Team Deleted`\n*Action Done by:*\n"
              "created_by_user_id: `Unknown`\ncreated_by_user_role: `Unknown`\n"
              "created_by_key_alias: `None`\n\n*Arguments passed:*\nteam_id: `t-9`\n");
    h_free(h);
}

/* region_outage_alerts: the outage factory with `*Region Name:*` in place of the model
 * name and no API Base line;
 * sent under its own type (README). */
static void compat_region_outage(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [region_outage_alerts]\n");
    h_start(h);
    for (int i = 0; i < 6; i++) {
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = i % 2 ? 408 : 500;
        f.message = "down";
        f.model = "vertex_ai/gemini-pro";
        f.deployment = i % 2 ? "vertex-a" : "vertex-b";
        f.provider = "vertex_ai";
        f.region = "us-central1";
        f.end_ms = T0;
        assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    }
    h_advance(h, 0);
    golden(h, ENV("region_outage_alerts", "Medium")
              "\n\n\n*\xE2\x9A\xA0\xEF\xB8\x8F Minor Service Outage*\n\n\n"
              "*Region Name:* `us-central1`\n*Provider:* `vertex_ai`"
              "\n\n\n*Errors:*\n\nTimeout Errors: 2\n\nAPI Errors: 3\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    h_free(h);
}

/* soft_budget_crossed and projected_limit_exceeded webhook events. */
static void compat_webhook_soft_budget(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_KEY, "k4", 80, -1, 80);
    b.key_hash = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b";
    b.key_alias = "test-key";
    b.user_id = "test@test.com";
    b.user_email = "test@test.com";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    golden_body(h, 0, "{\"spend\":80.0,\"max_budget\":null,\"soft_budget\":80.0,"
                      "\"token\":\"88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b\","
                      "\"customer_id\":null,\"user_id\":\"test@test.com\",\"team_id\":null,\"team_alias\":null,"
                      "\"organization_id\":null,\"user_email\":\"test@test.com\",\"key_alias\":\"test-key\","
                      "\"projected_exceeded_date\":null,\"projected_spend\":null,"
                      "\"event_group\":\"key\",\"alert_emails\":null,\"event\":\"soft_budget_crossed\","
                      "\"event_message\":\"Soft Budget Crossed: Total Soft Budget:`80.0`\"}");
    h_free(h);
}

/* One observation above both the soft and the max budget: ONE alert and one
 * budget_crossed event, LiteLLM's two texts run together (issue 12, item 6). */
static void compat_webhook_soft_and_max(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_KEY, "k6", 120, 100, 80);
    b.key_hash = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b";
    b.key_alias = "test-key";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    golden_body(h, 0, "{\"spend\":120.0,\"max_budget\":100.0,\"soft_budget\":80.0,"
                      "\"token\":\"88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b\","
                      "\"customer_id\":null,\"user_id\":null,\"team_id\":null,\"team_alias\":null,"
                      "\"organization_id\":null,\"user_email\":null,\"key_alias\":\"test-key\","
                      "\"projected_exceeded_date\":null,\"projected_spend\":null,"
                      "\"event_group\":\"key\",\"alert_emails\":null,\"event\":\"budget_crossed\","
                      "\"event_message\":\"Soft Budget Crossed: Total Soft Budget:`80.0`Budget Crossed\\n"
                      " Total Budget:`100.0`\"}");
    h_free(h);
}

/* projected_limit_exceeded: max_budget is the soft budget, projected_spend and
 * projected_exceeded_date (the date's str(), YYYY-MM-DD) filled. On the 1st the daily
 * rate is the spend: 10 + 10 x 30 = 310, the soft budget of 100 reached on the 10th. */
static void compat_webhook_projected(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_KEY, "k5", 10, -1, 100);
    b.key_hash = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    golden_body(h, 0, "{\"spend\":10.0,\"max_budget\":100.0,\"soft_budget\":100.0,"
                      "\"token\":\"88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b\","
                      "\"customer_id\":null,\"user_id\":null,\"team_id\":null,\"team_alias\":null,"
                      "\"organization_id\":null,\"user_email\":null,\"key_alias\":null,"
                      "\"projected_exceeded_date\":\"2026-01-10\",\"projected_spend\":310.0,"
                      "\"event_group\":\"key\",\"alert_emails\":null,\"event\":\"projected_limit_exceeded\","
                      "\"event_message\":\"Key Budget: Projected Limit Exceeded\"}");
    h_free(h);
}

/* e-mail (LiteLLM's legacy SMTP path and enterprise templates are not copied: README):
 * the budget alert that e-mail gets by default, as one multipart message whose subject is
 * `[<Level>] <first line>` and whose text part is the alert's text. */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t got = fread(buf, 1, (1 << 16) - 1, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void compat_email(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-compat-smtp-XXXXXX", port_file[128], path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    char *argv[] = { (char *)"/usr/bin/python3", (char *)"tests/support/smtp_sink.py", dir,
                     (char *)"--port-file", port_file, NULL };
    int port = 0;
    pid_t pid = h_spawn(argv, port_file, &port);
    harness *h = h_new(NULL);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [email]\n  alerting_args:\n"
             "    smtp_host: 127.0.0.1\n    smtp_port: %d\n    smtp_sender_email: proxy@example.test\n"
             "    email_recipients: [finance@example.test]\n", port);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    alert_budget b;
    budget_of(&b, ALERT_ENTITY_TEAM, "t1", 120, 100, -1);
    b.team_id = "t1";
    b.team_alias = "search";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    for (int i = 0; i < 100; i++) {     /* SMTP is real time: flush until the sink has it */
        h_advance(h, 0);
        alert_stats st;
        h_stats(h, &st);
        if (st.deliveries_ok)
            break;
    }
    snprintf(path, sizeof path, "%s/1.eml", dir);
    char *msg = read_all(path);
    assert_non_null(msg);
    if (getenv("COMPAT_DUMP"))
        fprintf(stderr, "----\n%s\n----\n", msg);
    assert_non_null(strstr(msg, "Subject: [High] Team Budget: Budget Crossed\r\n"));
    assert_non_null(strstr(msg, "From: proxy@example.test\r\n"));
    assert_non_null(strstr(msg, "To: finance@example.test\r\n"));
    /* the text part, whole: the Slack text with CRLF line ends (ASCII: nothing encoded) */
    char *part = strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n");
    assert_non_null(part);
    part = strstr(part, "\r\n\r\n");
    assert_non_null(part);
    part += 4;
    char *end = strstr(part, "\r\n--=_libalerting_");
    assert_non_null(end);
    *end = '\0';
    assert_string_equal(part, "Alert type: `budget_alerts`\r\nLevel: `High`\r\nTimestamp: `00:00:00`\r\n"
                              "\r\nMessage: Team Budget: Budget Crossed\r\n Total Budget:`100.0`\r\n\r\n"
                              "*spend:* `120.0`\r\n*max_budget:* `100.0`\r\n*team_id:* `t1`\r\n"
                              "*team_alias:* `search`\r\n*event_group:* `team`\r\n");
    free(msg);
    h_free(h);
    h_kill(pid);
    h_rmdir(dir);
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
        cmocka_unit_test(compat_spend_report_days),
        cmocka_unit_test(compat_spend_report_monthly),
        cmocka_unit_test(compat_daily_report),
        cmocka_unit_test(compat_fallback_report),
        cmocka_unit_test(compat_user_spend),
        cmocka_unit_test(compat_cooldown),
        cmocka_unit_test(compat_management_event),
        cmocka_unit_test(compat_management_event_unknown_actor),
        cmocka_unit_test(compat_region_outage),
        cmocka_unit_test(compat_webhook_soft_budget),
        cmocka_unit_test(compat_webhook_soft_and_max),
        cmocka_unit_test(compat_webhook_projected),
        cmocka_unit_test(compat_email),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
