/* SPDX-License-Identifier: MIT */
/* The worker glue of money.c, alone: a real ctx (memory state, worker_threads: 0, an
 * injected clock) whose route tap captures every alert, fed with spend and budget
 * events built here. Budget alerts (soft, thresholds, crossed, projected, library
 * tracked), N-day and monthly spend reports, user spend thresholds and anomalies,
 * failed tracking, spend_tracked for the webhook; and settling through
 * al_money_settle: a step or a report whose delivery failed is raised again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "ctx.h"
#include "money.h"
#include "dest.h"

#include "glue.h"

#define DAY 86400000LL

/* ---- events as the hooks pack them: the struct as payload ------------------------- */

static void budget_ev(glue *g, alert_budget b, int64_t at)
{
    al_event e = { .kind = AL_EV_BUDGET, .end_ms = at, .payload = &b };
    al_money_on_event(g->ctx, &e);
}

static void spend_ev(glue *g, alert_spend s)
{
    al_event e = { .kind = AL_EV_SPEND, .end_ms = s.at_ms, .payload = &s };
    al_money_on_event(g->ctx, &e);
}

static alert_budget key_budget(double spend, double max, double soft)
{
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "hashed-key-1";
    b.key_alias = "prod-key";
    b.spend = spend;
    b.max_budget = max;
    b.soft_budget = soft;
    return b;
}

static alert_spend spend_of(double cost, const char *team, const char *user, int64_t at)
{
    static const char *tags[] = { "prod", "search" };
    alert_spend s;
    alert_spend_init(&s, ALERT_SPEND_VERSION);
    s.cost = cost;
    s.team_id = team;
    s.team_alias = team;
    s.user_id = user;
    s.tags = tags;
    s.tag_count = 2;
    s.at_ms = at;
    return s;
}

static void prefix(const char *key, const char *want)
{
    if (!key || strncmp(key, want, strlen(want)) != 0)
        fail_msg("settle key \"%s\" does not start with \"%s\"", key ? key : "(null)", want);
}

#define BUDGETS "  alert_types: [budget_alerts]\n"

/* ---- budget_alerts ------------------------------------------------------------------ */

static void soft_budget_crossed(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, BUDGETS);
    alert_budget b = key_budget(80, -1, 80);
    b.user_id = "test@test.com";
    b.user_email = "test@test.com";
    b.key_alias = "test-key";
    budget_ev(g, b, T0);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_BUDGET_ALERTS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->entity, ALERT_ENTITY_KEY);
    assert_string_equal(a->message, "Soft Budget Crossed: Total Soft Budget:`80.0`\n\n"
                                    "*spend:* `80.0`\n*soft_budget:* `80.0`\n*user_id:* `test@test.com`\n"
                                    "*user_email:* `test@test.com`\n*key_alias:* `test-key`\n"
                                    "*event_group:* `key`\n");
    has(a->webhook_json, "\"event\":\"soft_budget_crossed\"");
    assert_int_equal(a->emails.n, 1);
    assert_string_equal(a->emails.items[0], "test@test.com");
    prefix(a->settle_key, "budget|");
    g_free(g);
}

static void thresholds_then_crossed(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, BUDGETS);
    budget_ev(g, key_budget(85, 100, -1), T0);
    has(g_one(g, AL_T_BUDGET_ALERTS)->message, "Key Budget: 15% or less of budget remaining");
    has(g->got[0]->webhook_json, "\"event\":\"threshold_crossed\"");
    prefix(g->got[0]->settle_key, "budget|");
    g_settle(g, 1);
    budget_ev(g, key_budget(86, 100, -1), T0 + 1);
    assert_int_equal(g->n, 0);              /* that step is done */
    budget_ev(g, key_budget(95, 100, -1), T0 + 2);
    has(g_one(g, AL_T_BUDGET_ALERTS)->message, "Key Budget: 5% or less of budget remaining");
    g_settle(g, 1);
    budget_ev(g, key_budget(100, 100, -1), T0 + 3);
    al_alert *a = g_one(g, AL_T_BUDGET_ALERTS);
    has(a->message, "Key Budget: Budget Crossed\n Total Budget:`100.0`\n\n*spend:* `100.0`\n"
                    "*max_budget:* `100.0`\n");
    has(a->webhook_json, "\"event\":\"budget_crossed\"");
    g_settle(g, 1);
    budget_ev(g, key_budget(150, 100, -1), T0 + 4);
    assert_int_equal(g->n, 0);
    g_free(g);

    /* off: nothing */
    g = g_new(NULL, NULL, "  alert_types: [spend_reports]\n");
    budget_ev(g, key_budget(150, 100, -1), T0);
    assert_int_equal(g->n, 0);
    g_free(g);
}

static void projected_limit(void **state)
{
    (void)state;
    int64_t june15 = T0 + 165 * DAY + 9 * 3600000LL;     /* 2026-06-15 09:00 */
    glue_start_at = june15;
    glue *g = g_new(NULL, NULL, BUDGETS);
    glue_start_at = T0;
    alert_budget b = key_budget(56, 1000, 100);
    b.key_alias = "k";
    budget_ev(g, b, june15);
    al_alert *a = g_one(g, AL_T_BUDGET_ALERTS);
    assert_string_equal(a->plain, "Key Budget: Projected Limit Exceeded\n\n"
                                  "*spend:* `56.0`\n*max_budget:* `100.0`\n"
                                  "*soft_budget:* `100.0`\n*key_alias:* `k`\n"
                                  "*projected_exceeded_date:* `2026-06-26`\n"
                                  "*projected_spend:* `116.0`\n*event_group:* `key`\n");
    has(a->webhook_json, "\"event\":\"projected_limit_exceeded\"");
    prefix(a->settle_key, "budget|");
    g_settle(g, 1);
    budget_ev(g, b, june15 + DAY);
    assert_int_equal(g->n, 0);              /* once per period */
    g_free(g);
}

/* A step whose delivery failed is re-armed; one delivered is not raised again. */
static void budget_step_settle(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, BUDGETS);
    budget_ev(g, key_budget(120, 100, -1), T0);
    has(g_one(g, AL_T_BUDGET_ALERTS)->message, "Budget Crossed");
    budget_ev(g, key_budget(121, 100, -1), T0 + 1);
    assert_int_equal(g->n, 1);              /* pending: not raised twice */
    g_settle(g, 0);                         /* its delivery failed */
    budget_ev(g, key_budget(122, 100, -1), T0 + 2);
    al_alert *a = g_one(g, AL_T_BUDGET_ALERTS);  /* re-armed */
    /* straight through al_money_settle, as settle.c calls it */
    char *key = a->settle_key;
    a->settle_key = NULL;
    a->settle = NULL;
    a->settle_alert = NULL;             /* settle.c's hook, set by the router */
    g_settle(g, 0);
    prefix(key, "budget|");
    al_money_settle(g->ctx, key, 0);
    budget_ev(g, key_budget(123, 100, -1), T0 + 3);
    a = g_one(g, AL_T_BUDGET_ALERTS);
    char *again = al_strdup(a->settle_key);
    assert_non_null(again);
    assert_string_equal(again, key);        /* the same step */
    a->settle = NULL;
    a->settle_alert = NULL;             /* settle.c's hook, set by the router */
    g_settle(g, 0);
    al_money_settle(g->ctx, again, 1);      /* delivered */
    budget_ev(g, key_budget(124, 100, -1), T0 + 4);
    assert_int_equal(g->n, 0);
    al_free(key);
    al_free(again);
    g_free(g);
}

/* alert_set_budget: the library tracks the spend itself. */
static void library_tracked_budget(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, BUDGETS);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_TEAM;
    b.entity_id = "search";
    b.max_budget = 10;
    al_event set = { .kind = AL_EV_SET_BUDGET, .end_ms = T0, .payload = &b };
    set.s[AL_ES_MESSAGE] = "1d";
    al_money_on_event(g->ctx, &set);
    assert_int_equal(g->n, 0);
    for (int i = 1; i <= 11; i++) {
        spend_ev(g, spend_of(1.0, "search", "u-1", T0 + i * 1000));
        if (i == 9)
            has(g_one(g, AL_T_BUDGET_ALERTS)->message, "Team Budget: 15% or less of budget remaining");
        else if (i == 10)       /* 9 -> 10 jumps the 5% step: only the crossing */
            has(g_one(g, AL_T_BUDGET_ALERTS)->message, "Team Budget: Budget Crossed\n Total Budget:`10.0`");
        else
            assert_int_equal(g->n, 0);
        g_settle(g, 1);
    }
    g_free(g);
}

/* ---- spend_reports -------------------------------------------------------------------- */

#define REPORTS "  alert_types: [spend_reports]\n"

static void weekly_report_and_settle(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, REPORTS);
    spend_ev(g, spend_of(12.34567, "search", "u-1", T0 + 3600000));
    spend_ev(g, spend_of(60.0, "ads", "u-2", T0 + 2 * DAY + 3600000));
    assert_int_equal(g->n, 0);
    for (int d = 1; d < 7; d++)
        al_money_tick(g->ctx, T0 + d * DAY);
    assert_int_equal(g->n, 0);
    al_money_tick(g->ctx, T0 + 7 * DAY);     /* 2026-01-08: seven days have passed */
    al_alert *a = g_one(g, AL_T_SPEND_REPORTS);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    has(a->message, "*\xF0\x9F\x92\xB8 Spend Report for `01-01-2026 - 01-08-2026` (7 days)*");
    has(a->message, "Team: `ads` | Spend: `$60.0`\nTeam: `search` | Spend: `$12.3457`");
    has(a->message, "Tag: `prod` | Spend: `$72.3457`");
    prefix(a->settle_key, "report|spend|");
    al_money_tick(g->ctx, T0 + 7 * DAY + 3600000);
    assert_int_equal(g->n, 1);              /* pending: once */
    g_settle(g, 0);                         /* not delivered: raised again */
    al_money_tick(g->ctx, T0 + 7 * DAY + 7200000);
    a = g_one(g, AL_T_SPEND_REPORTS);
    has(a->message, "Spend Report for `01-01-2026 - 01-08-2026` (7 days)");
    g_settle(g, 1);                         /* delivered: done */
    al_money_tick(g->ctx, T0 + 8 * DAY);
    assert_int_equal(g->n, 0);
    g_free(g);
}

static void monthly_report_and_settle(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, REPORTS);
    spend_ev(g, spend_of(2.5, "search", "u-1", T0 + 3600000));
    spend_ev(g, spend_of(4.0, "ads", "u-2", T0 + 20 * DAY));
    al_money_tick(g->ctx, T0 + 30 * DAY);
    assert_int_equal(g->n, 0);
    al_money_tick(g->ctx, T0 + 31 * DAY);    /* 2026-02-01 */
    al_alert *a = g_one(g, AL_T_SPEND_REPORTS);
    has(a->message, "Monthly Spend Report for `01-01-2026 - 01-31-2026`");
    has(a->message, "Team: `ads` | Spend: `$4.0`\nTeam: `search` | Spend: `$2.5`");
    prefix(a->settle_key, "report|monthly|");
    /* through al_money_settle: not delivered */
    char *key = a->settle_key;
    a->settle_key = NULL;
    a->settle = NULL;
    a->settle_alert = NULL;             /* settle.c's hook, set by the router */
    g_settle(g, 0);
    al_money_settle(g->ctx, key, 0);
    al_free(key);
    al_money_tick(g->ctx, T0 + 31 * DAY + 60000);
    a = g_one(g, AL_T_SPEND_REPORTS);
    has(a->message, "Monthly Spend Report for `01-01-2026 - 01-31-2026`");
    g_settle(g, 1);
    al_money_tick(g->ctx, T0 + 32 * DAY);
    assert_int_equal(g_count(g, AL_T_SPEND_REPORTS), 0);
    g_free(g);
}

/* BEHAVIOUR.md section 5: the monthly report covers the calendar month just ended and
 * is sent on the 1st. A ctx first started mid-month has no month just ended to report:
 * spend that the ledger holds from the month before (a host's late, backdated spend, or
 * a ledger kept in the state while spend_reports was off) is no report of its own. */
static void monthly_first_start_mid_month(void **state)
{
    (void)state;
    glue_start_at = T0 + 14 * DAY;               /* 2026-01-15 */
    glue *g = g_new(NULL, NULL, REPORTS);
    glue_start_at = T0;
    spend_ev(g, spend_of(9.0, "late", "u-1", T0 - 12 * DAY));      /* 2025-12-20 */
    al_money_tick(g->ctx, T0 + 14 * DAY + 3600000);
    assert_int_equal(g_count(g, AL_T_SPEND_REPORTS), 0);
    spend_ev(g, spend_of(3.0, "search", "u-1", T0 + 15 * DAY));
    al_money_tick(g->ctx, T0 + 20 * DAY);
    assert_int_equal(g_count(g, AL_T_SPEND_REPORTS), 0);
    for (int d = 21; d <= 31; d++)           /* day by day: a far jump is not followed at once */
        al_money_tick(g->ctx, T0 + d * DAY);    /* 2026-02-01: January's */
    al_alert *a = NULL;                     /* the weekly report of Jan 22 came too */
    int monthly = 0;
    for (size_t i = 0; i < g->n; i++)
        if (strstr(g->got[i]->message, "Monthly Spend Report")) {
            a = g->got[i];
            monthly++;
        }
    assert_int_equal(monthly, 1);
    has(a->message, "Monthly Spend Report for `01-01-2026 - 01-31-2026`");
    has(a->message, "Team: `search` | Spend: `$3.0`");
    assert_null(strstr(a->message, "late"));
    g_free(g);
}

/* ---- user spend --------------------------------------------------------------------- */

static void user_threshold_and_anomaly(void **state)
{
    (void)state;
    glue *g = g_new(NULL, "    daily_spend_per_user_threshold: 5\n    spend_anomaly_min_spend: 10\n"
                          "    user_spend_check_interval: 3600\n",
                    "  alert_types: [user_spend_thresholds, user_spend_anomalies]\n");
    spend_ev(g, spend_of(2.5, "search", "u-42", T0 + 1000));
    assert_int_equal(g->n, 0);
    spend_ev(g, spend_of(2.5, "search", "u-42", T0 + 2000));   /* 5.0 today */
    al_alert *a = g_one(g, AL_T_USER_SPEND_THRESHOLDS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    has(a->message, "User Daily Spend Threshold Crossed:\nUser: `u-42`");
    prefix(a->settle_key, "mark|");
    g_settle(g, 1);
    spend_ev(g, spend_of(2.5, "search", "u-42", T0 + 3000));
    assert_int_equal(g->n, 0);              /* once a day */

    alert_spend big = spend_of(20.0, "search", "u-new", T0 + 4000);
    spend_ev(g, big);
    g_settle(g, 1);                         /* u-new crossed the daily threshold too */
    al_money_tick(g->ctx, T0 + 3599999);
    assert_int_equal(g_count(g, AL_T_USER_SPEND_ANOMALIES), 0);   /* checked hourly */
    al_money_tick(g->ctx, T0 + 3600000);
    a = g_one(g, AL_T_USER_SPEND_ANOMALIES);
    has(a->message, "User Spend Anomaly Detected:\nUser: `u-new`");
    assert_null(strstr(a->message, "u-42"));    /* under spend_anomaly_min_spend */
    prefix(a->settle_key, "mark|");
    g_settle(g, 0);                         /* not delivered: checked again */
    al_money_tick(g->ctx, T0 + 7200000);
    has(g_one(g, AL_T_USER_SPEND_ANOMALIES)->message, "User Spend Anomaly Detected:\nUser: `u-new`");
    g_settle(g, 1);
    al_money_tick(g->ctx, T0 + 10800000);
    assert_int_equal(g->n, 0);              /* once a day */
    g_free(g);
}

/* ---- failed_tracking_spend ------------------------------------------------------------ */

static void tracking_failure_once(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, "  alert_types: [failed_tracking_spend]\n");
    al_event e = { .kind = AL_EV_TRACKING_FAILURE, .end_ms = T0 };
    e.s[AL_ES_MODEL] = "gpt-9";
    e.s[AL_ES_MESSAGE] = "model not in cost map; key sk-abcdefghijkl1234";
    for (int i = 0; i < 3; i++)
        al_money_on_event(g->ctx, &e);
    al_alert *a = g_one(g, AL_T_FAILED_TRACKING_SPEND);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_string_equal(a->message, "Failed Tracking Cost for model not in cost map; key REDACTED");
    assert_string_equal(a->model, "gpt-9");
    assert_string_equal(a->subject, "model gpt-9");
    assert_null(strstr(a->message, "abcdefghijkl1234"));
    prefix(a->settle_key, "mark|");
    assert_int_equal(atomic_load(&g->ctx->n.alerts_deduplicated), 2);
    g_settle(g, 0);                         /* not delivered: the mark is released */
    al_money_on_event(g->ctx, &e);
    assert_int_equal(g_count(g, AL_T_FAILED_TRACKING_SPEND), 1);
    g_settle(g, 1);
    al_money_on_event(g->ctx, &e);
    assert_int_equal(g->n, 0);
    g_free(g);
}

/* ---- spend_tracked: to the webhook only ---------------------------------------------- */

static void spend_tracked_for_webhook(void **state)
{
    (void)state;
    glue *g = g_new("slack, webhook", "    webhook_url: \"http://127.0.0.1:9/hook\"\n"
                                      "    customer_spend_webhook: true\n", BUDGETS);
    alert_spend s = spend_of(0.25, "search", "u-1", T0);
    s.customer_id = "cust-7";
    spend_ev(g, s);
    al_alert *a = g_one(g, AL_T_BUDGET_ALERTS);
    assert_int_equal(a->only, AL_DEST_BIT(AL_DEST_WEBHOOK));
    has(a->webhook_json, "\"event\":\"spend_tracked\"");
    has(a->webhook_json, "Customer spend tracked. Customer=cust-7, spend=0.25");
    has(a->webhook_json, "\"event_group\":\"end_user\"");
    g_settle(g, 1);
    s.customer_id = NULL;                   /* not an end user's request */
    spend_ev(g, s);
    assert_int_equal(g->n, 0);
    g_free(g);

    /* no webhook in alerting: nothing to say */
    g = g_new(NULL, "    customer_spend_webhook: true\n", BUDGETS);
    s.customer_id = "cust-7";
    spend_ev(g, s);
    assert_int_equal(g->n, 0);
    g_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(soft_budget_crossed),
        cmocka_unit_test(thresholds_then_crossed),
        cmocka_unit_test(projected_limit),
        cmocka_unit_test(budget_step_settle),
        cmocka_unit_test(library_tracked_budget),
        cmocka_unit_test(weekly_report_and_settle),
        cmocka_unit_test(monthly_report_and_settle),
        cmocka_unit_test(monthly_first_start_mid_month),
        cmocka_unit_test(user_threshold_and_anomaly),
        cmocka_unit_test(tracking_failure_once),
        cmocka_unit_test(spend_tracked_for_webhook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
