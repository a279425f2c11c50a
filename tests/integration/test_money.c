/* SPDX-License-Identifier: MIT */
/* Budgets and spend end to end: thresholds once per period, the compat texts and
 * webhook JSON, library-tracked budgets, spend reports, restarts, spend_tracked,
 * tracking failures. */
#include <float.h>

#include "harness.h"

static void key_budget(harness *h, double spend, double max, double soft)
{
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "hashed-key-1";
    b.key_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    b.key_alias = "prod-key";
    b.spend = spend;
    b.max_budget = max;
    b.soft_budget = soft;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
}

#define ONLY_BUDGETS "  alert_types: [budget_alerts]\n"

static void one_alert_for_many_observations(void **state)
{
    (void)state;
    harness *h = h_new(ONLY_BUDGETS);
    h_start(h);
    for (int i = 0; i < 50; i++)
        key_budget(h, 86, 100, -1);
    h_advance(h, 0);
    for (int i = 0; i < 50; i++)
        key_budget(h, 86, 100, -1);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    assert_int_equal(h_count(h, "Message: Key Budget: 15% or less of budget remaining"), 1);
    h_free(h);
}

static void thresholds_in_order_and_jumps(void **state)
{
    (void)state;
    harness *h = h_new(ONLY_BUDGETS);
    h_start(h);
    key_budget(h, 85, 100, -1);
    h_advance(h, 0);
    key_budget(h, 95, 100, -1);
    h_advance(h, 0);
    key_budget(h, 100, 100, -1);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "Key Budget: 15% or less of budget remaining"), 1);
    assert_int_equal(h_count(h, "Key Budget: 5% or less of budget remaining"), 1);
    assert_int_equal(h_count(h, "Key Budget: Budget Crossed\n Total Budget:`100.0`"), 1);
    assert_int_equal(rcv_count(h->rcv), 3);
    h_free(h);

    h = h_new(ONLY_BUDGETS);
    h_start(h);
    key_budget(h, 80, 100, -1);
    key_budget(h, 120, 100, -1);           /* a jump: only the highest */
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    assert_int_equal(h_count(h, "Budget Crossed"), 1);
    assert_int_equal(h_count(h, "*spend:* `120.0`\n*max_budget:* `100.0`"), 1);
    assert_int_equal(h_count(h, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), 0);
    h_free(h);
}

static void soft_budget_text(void **state)
{
    (void)state;
    harness *h = h_new(ONLY_BUDGETS);
    h_start(h);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.spend = 80;
    b.soft_budget = 80;
    b.user_id = "test@test.com";
    b.user_email = "test@test.com";
    b.key_alias = "test-key";
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "Message: Soft Budget Crossed: Total Soft Budget:`80.0`\n\n"
                              "*spend:* `80.0`\n*soft_budget:* `80.0`\n*user_id:* `test@test.com`\n"
                              "*user_email:* `test@test.com`\n*key_alias:* `test-key`\n"
                              "*event_group:* `key`"), 1);
    h_free(h);
}

static void new_period_rearms(void **state)
{
    (void)state;
    harness *h = h_new(ONLY_BUDGETS);
    h_start(h);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_TEAM;
    b.entity_id = "team-search";
    b.team_alias = "search";
    b.max_budget = 100;
    b.spend = 101;
    b.budget_reset_at_ms = T0 + 86400000;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "Team Budget: Budget Crossed"), 1);
    b.budget_reset_at_ms += 86400000;          /* the host reset the period */
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "Team Budget: Budget Crossed"), 2);
    h_free(h);
}

static void budget_webhook_json(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/budget-hook", NULL);
    h_start(h);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_USER;
    b.entity_id = "u-1";
    b.user_id = "u-1";
    b.key_hash = "sk-not-a-real-key";
    b.spend = 1;
    b.max_budget = 0;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, 0, &q), 0);
    /* every field, nulls included, in this order */
    const char *order[] = { "\"spend\":1.0", "\"max_budget\":0.0", "\"soft_budget\":null", "\"token\":\"",
                            "\"customer_id\":null", "\"user_id\":\"u-1\"", "\"team_id\":null",
                            "\"team_alias\":null", "\"organization_id\":null", "\"user_email\":null",
                            "\"key_alias\":null", "\"projected_exceeded_date\":null",
                            "\"projected_spend\":null", "\"event_group\":\"user\"", "\"alert_emails\":null",
                            "\"event\":\"budget_crossed\"",
                            "\"event_message\":\"User Budget: Budget Crossed\\n Total Budget:`0.0`\"" };
    const char *at = q.body;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        const char *hit = strstr(at, order[i]);
        if (!hit)
            fail_msg("missing or out of order: %s in %s", order[i], q.body);
        at = hit;
    }
    assert_null(strstr(q.body, "sk-not-a-real-key"));   /* the raw key never leaves */
    rcv_request_free(&q);
    h_free(h);
}

static alert_spend spend_of(double cost, const char *team, int64_t at)
{
    static const char *tags[] = { "prod", "search" };
    alert_spend s;
    alert_spend_init(&s, ALERT_SPEND_VERSION);
    s.cost = cost;
    s.team_id = team;
    s.team_alias = team;
    s.user_id = "u-42";
    s.tags = tags;
    s.tag_count = 2;
    s.at_ms = at;
    return s;
}

static void library_tracked_budget(void **state)
{
    (void)state;
    harness *h = h_new(ONLY_BUDGETS);
    h_start(h);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_TEAM;
    b.entity_id = "search";
    b.max_budget = 10;
    assert_int_equal(alert_set_budget(h->ctx, &b, "1d"), ALERT_OK);
    h_advance(h, 0);
    for (int i = 0; i < 12; i++) {
        alert_spend s = spend_of(1.0, "search", 0);
        assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
        h_advance(h, 1000);
    }
    assert_int_equal(h_count(h, "Team Budget: 15% or less of budget remaining"), 1);   /* at 9 of 10 */
    assert_int_equal(h_count(h, "Team Budget: 5% or less of budget remaining"), 0);    /* 9 -> 10 jumps it */
    assert_int_equal(h_count(h, "Team Budget: Budget Crossed\n Total Budget:`10.0`"), 1);
    int before = (int)rcv_count(h->rcv);
    h_advance(h, 86400000);                     /* the period rolls over: armed again */
    for (int i = 0; i < 11; i++) {
        alert_spend s = spend_of(1.0, "search", 0);
        assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
        h_advance(h, 1000);
    }
    assert_int_equal(h_count(h, "Team Budget: Budget Crossed"), 2);
    assert_true((int)rcv_count(h->rcv) > before);
    h_free(h);
}

static void weekly_spend_report(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [spend_reports]\n");
    h_start(h);
    /* T0 is 2026-01-01 00:00 UTC; spend on the 1st and the 3rd */
    alert_spend a = spend_of(12.34567, "search", T0 + 3600000);
    alert_spend b = spend_of(60.0, "ads", T0 + 2 * 86400000LL + 3600000);
    assert_int_equal(alert_on_spend(h->ctx, &a), ALERT_OK);
    h_advance(h, 0);
    for (int d = 1; d < 7; d++) {
        if (d == 3)         /* at_ms at most an hour ahead of the clock */
            assert_int_equal(alert_on_spend(h->ctx, &b), ALERT_OK);
        h_advance(h, 86400000);
    }
    assert_int_equal(h_count(h, "Spend Report"), 0);
    h_advance(h, 86400000);                    /* 2026-01-08 00:00: seven days have passed */
    assert_int_equal(h_count(h, "*💸 Spend Report for `01-01-2026 - 01-08-2026` (7 days)*"), 1);
    assert_int_equal(h_count(h, "Team: `ads` | Spend: `$60.0`\nTeam: `search` | Spend: `$12.3457`"), 1);
    assert_int_equal(h_count(h, "Tag: `prod` | Spend: `$72.3457`"), 1);
    h_advance(h, 86400000);
    assert_int_equal(h_count(h, "Spend Report for"), 1);     /* once per window */
    h_free(h);
}

static void restart_keeps_marks_and_ledger(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-money-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char extra[256];
    snprintf(extra, sizeof extra, "  alert_types: [budget_alerts, spend_reports]\n"
             "  alerting_args:\n    state_path: \"%s/s.db\"\n", dir);
    harness *h = h_new(extra);
    h_start(h);
    key_budget(h, 101, 100, -1);
    alert_spend s = spend_of(5.0, "search", T0 + 1000);
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
    h_advance(h, 86400000 * 3LL);
    assert_int_equal(h_count(h, "Budget Crossed"), 1);
    alert_ctx_destroy(h->ctx);                 /* a restart, mid-period */
    h->ctx = NULL;
    h_start(h);
    key_budget(h, 102, 100, -1);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "Budget Crossed"), 1);       /* not twice */
    for (int d = 3; d < 7; d++)
        h_advance(h, 86400000);
    assert_int_equal(h_count(h, "Team: `search` | Spend: `$5.0`"), 1);   /* days before the restart */
    h_free(h);
    h_rmdir(dir);
}

static void spend_tracked_and_tracking_failures(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", "    customer_spend_webhook: true\n"
                        "    webhook_alert_types: [budget_alerts, failed_tracking_spend]\n");
    h_start(h);
    alert_spend s = spend_of(0.25, "search", 0);
    s.customer_id = "cust-7";
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_spend_tracking_failure(h->ctx, "gpt-9", "model not in cost map; key sk-abcdefghijkl1234"), ALERT_OK);
    h_advance(h, 0);
    int tracked = -1, failed = 0;
    for (size_t i = 0; i < rcv_count(h->rcv); i++) {
        rcv_request q;
        rcv_get(h->rcv, i, &q);
        if (strstr(q.body, "\"event\":\"spend_tracked\"")) {
            tracked = (int)i;
            assert_non_null(strstr(q.body, "Customer spend tracked. Customer=cust-7, spend=0.25"));
            assert_non_null(strstr(q.body, "\"event_group\":\"end_user\""));
        }
        if (strstr(q.body, "failed_tracking_spend")) {
            failed++;
            assert_non_null(strstr(q.body, "Failed Tracking Cost for"));
            assert_null(strstr(q.body, "abcdefghijkl1234"));
        }
        rcv_request_free(&q);
    }
    assert_true(tracked >= 0);
    assert_int_equal(failed, 1);               /* once per model per budget_alert_ttl */
    h_free(h);
}

static void pending_until_delivered_rearmed_when_it_fails(void **state)
{
    (void)state;
    harness *h = h_new(ONLY_BUDGETS "  alerting_args:\n    delivery_deadline: 30\n");
    rcv_set_default(h->rcv, 503, NULL, "busy");        /* a slow, failing receiver */
    h_start(h);
    for (int i = 0; i < 10000; i++)
        key_budget(h, 120, 100, -1);
    h_advance(h, 0);
    for (int i = 0; i < 10000; i++)
        key_budget(h, 120, 100, -1);
    h_advance(h, 2000);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.alerts_raised, 1);              /* held pending: raised once */
    for (int i = 0; i < 10; i++)
        h_advance(h, 10000);                           /* past delivery_deadline: dropped */
    h_stats(h, &s);
    assert_int_equal(s.deliveries_dropped, 1);
    assert_int_equal(s.queue_depth, 0);
    rcv_set_default(h->rcv, 200, NULL, "ok");
    key_budget(h, 120, 100, -1);                       /* re-armed: raised again, delivered */
    h_advance(h, 0);
    h_stats(h, &s);
    assert_int_equal(s.alerts_raised, 2);
    assert_int_equal(s.deliveries_ok, 1);
    key_budget(h, 120, 100, -1);                       /* and now marked: no more */
    h_advance(h, 0);
    h_stats(h, &s);
    assert_int_equal(s.alerts_raised, 2);
    h_free(h);
}

static void user_spend_thresholds_and_anomalies(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [user_spend_thresholds, user_spend_anomalies]\n"
                       "  alerting_args:\n    daily_spend_per_user_threshold: 5\n"
                       "    spend_anomaly_min_spend: 10\n    user_spend_check_interval: 3600\n");
    h_start(h);
    for (int i = 0; i < 3; i++) {
        alert_spend s = spend_of(2.5, "search", 0);     /* 2.5, 5.0, 7.5 today */
        assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
        h_advance(h, 1000);
    }
    assert_int_equal(h_count(h, "User Daily Spend Threshold Crossed:\nUser: `u-42`"), 1);  /* once a day */
    alert_spend big = spend_of(20.0, "search", 0);      /* a new user's first big day */
    big.user_id = "u-new";
    assert_int_equal(alert_on_spend(h->ctx, &big), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "User Spend Anomaly Detected"), 0);   /* checked hourly */
    h_advance(h, 3600000);
    assert_int_equal(h_count(h, "User Spend Anomaly Detected:\nUser: `u-new`"), 1);
    h_advance(h, 3600000);
    assert_int_equal(h_count(h, "User Spend Anomaly Detected:\nUser: `u-new`"), 1);  /* once a day */
    h_free(h);
}

/* Item 7: a clock 60 days ahead for one poll, or one spend dated 46 days ahead, in
 * 2100 or at INT64_MIN, must not erase the ledger nor move the report schedule or
 * the budget periods; out-of-range times are clamped to the current time. */
static void glitches_do_not_move_the_calendar(void **state)
{
    (void)state;
    static const int64_t bad_at[] = { 0 /* the clock glitch */, T0 + 46 * 86400000LL,
                                      4102444800000LL /* 2100-01-01 */, INT64_MIN };
    for (size_t k = 0; k < sizeof bad_at / sizeof *bad_at; k++) {
        harness *h = h_new("  alert_types: [spend_reports, budget_alerts]\n");
        h_start(h);
        alert_spend a = spend_of(12.0, "search", T0 + 3600000);
        assert_int_equal(alert_on_spend(h->ctx, &a), ALERT_OK);
        h_advance(h, 86400000);                 /* 2026-01-02 */
        if (k == 0) {
            h->now += 60 * 86400000LL;
            key_budget(h, 50, 100, -1);         /* observed while the clock is off */
            assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
            h->now -= 60 * 86400000LL;
        } else {
            alert_spend b = spend_of(1.0, "ads", bad_at[k]);
            assert_int_equal(alert_on_spend(h->ctx, &b), ALERT_OK);
        }
        h_advance(h, 0);
        assert_int_equal(rcv_count(h->rcv), 0);
        for (int d = 2; d < 7; d++)
            h_advance(h, 86400000);
        assert_int_equal(h_count(h, "Spend Report"), 0);
        h_advance(h, 86400000);                 /* 2026-01-08: the report of the week */
        assert_int_equal(h_count(h, "*💸 Spend Report for `01-01-2026 - 01-08-2026` (7 days)*"), 1);
        assert_int_equal(h_count(h, "Team: `search` | Spend: `$12.0`"), 1);
        if (k > 0)      /* clamped: counted on the day it arrived */
            assert_int_equal(h_count(h, "Team: `ads` | Spend: `$1.0`"), 1);
        /* budget alerts still work, once per period */
        key_budget(h, 101, 100, -1);
        h_advance(h, 0);
        key_budget(h, 102, 100, -1);
        h_advance(h, 0);
        assert_int_equal(h_count(h, "Budget Crossed"), 1);
        int warned = 0;
        for (int i = 0; i < h->n_log; i++)
            warned += strstr(h->log[i], k == 0 ? "the clock jumped 60 days ahead" : "alert_on_spend: a time") != NULL;
        assert_int_equal(warned, 1);
        h_free(h);
    }
}

/* Item 17: DBL_MAX costs and their sum, and a 309-digit figure, print as a saturated
 * amount, never $inf or a figure cut short; max_budget -0.0 is no budget. */
static void money_display_saturates(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [spend_reports, budget_alerts]\n");
    h_start(h);
    alert_spend a = spend_of(DBL_MAX, "search", T0 + 3600000);
    assert_int_equal(alert_on_spend(h->ctx, &a), ALERT_OK);
    assert_int_equal(alert_on_spend(h->ctx, &a), ALERT_OK);
    alert_spend b = spend_of(1e300, "ads", T0 + 3600000);
    assert_int_equal(alert_on_spend(h->ctx, &b), ALERT_OK);
    alert_spend c = spend_of(999999999999999.0, "eng", T0 + 3600000);
    assert_int_equal(alert_on_spend(h->ctx, &c), ALERT_OK);
    key_budget(h, 5, -0.0, -1);
    /* a budget the library tracks (as the budgets config list declares them) */
    alert_budget zb;
    alert_budget_init(&zb, ALERT_BUDGET_VERSION);
    zb.entity = ALERT_ENTITY_KEY;
    zb.entity_id = "zero-key";
    zb.max_budget = -0.0;
    zb.soft_budget = -1;
    assert_int_equal(alert_set_budget(h->ctx, &zb, "30d"), ALERT_OK);
    alert_spend z = spend_of(3.0, "zero", T0 + 3600000);
    z.key_hash = "zero-key";
    assert_int_equal(alert_on_spend(h->ctx, &z), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 0);     /* -0.0: no budget, nothing crossed */
    for (int d = 1; d < 8; d++)
        h_advance(h, 86400000);
    assert_int_equal(h_count(h, "Spend Report for"), 1);
    assert_int_equal(h_count(h, "inf"), 0);
    assert_int_equal(h_count(h, "-0.0"), 0);
    assert_int_equal(h_count(h, "Team: `search` | Spend: `> $1e15`"), 1);
    assert_int_equal(h_count(h, "Team: `ads` | Spend: `> $1e15`"), 1);
    assert_int_equal(h_count(h, "Team: `eng` | Spend: `$999999999999999.0`"), 1);
    assert_int_equal(h_count(h, "Tag: `prod` | Spend: `> $1e15`"), 1);
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_alert_for_many_observations),
        cmocka_unit_test(thresholds_in_order_and_jumps),
        cmocka_unit_test(soft_budget_text),
        cmocka_unit_test(new_period_rearms),
        cmocka_unit_test(budget_webhook_json),
        cmocka_unit_test(library_tracked_budget),
        cmocka_unit_test(weekly_spend_report),
        cmocka_unit_test(restart_keeps_marks_and_ledger),
        cmocka_unit_test(spend_tracked_and_tracking_failures),
        cmocka_unit_test(pending_until_delivered_rearmed_when_it_fails),
        cmocka_unit_test(user_spend_thresholds_and_anomalies),
        cmocka_unit_test(glitches_do_not_move_the_calendar),
        cmocka_unit_test(money_display_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
