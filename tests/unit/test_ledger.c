/* SPDX-License-Identifier: MIT */
/* The spend ledger (ledger.c): cells by day and dimension, the N-day and monthly
 * spend reports, the user spend thresholds and anomalies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "budget.h"
#include "ledger.h"
#include "sign.h"

static int64_t at(int y, int m, int d, int hh)
{
    return (int64_t)al_day_from_civil(y, m, d) * 86400000 + (int64_t)hh * 3600000;
}

static int32_t day(int y, int m, int d)
{
    return al_day_from_civil(y, m, d);
}

static void spend(al_ledger *l, int64_t when, const char *team, const char *tag1, const char *tag2,
                  const char *user, double cost)
{
    const char *tags[2] = { tag1, tag2 };
    alert_spend s = ALERT_SPEND_INIT;
    s.cost = cost;
    s.team_alias = team;
    s.tags = tags;
    s.tag_count = tag2 ? 2 : tag1 ? 1 : 0;
    s.user_id = user;
    assert_int_equal(al_ledger_add(l, &s, when), ALERT_OK);
}

static void finish(al_alert *a, int ok)
{
    a->delivered_ok = ok;
    al_alert_free(a);
}

/* The fixed ledger of the report tests: the week 06-03 .. 06-09 plus noise around it. */
static al_ledger *fixed_ledger(void)
{
    al_ledger *l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    assert_non_null(l);
    spend(l, at(2024, 6, 3, 9), "alpha", "prod", "chat", "u1", 10.0);
    spend(l, at(2024, 6, 5, 23), "alpha", "prod", "chat", "u1", 2.3456);
    spend(l, at(2024, 6, 4, 0), "beta", "prod", NULL, "u2", 60.0);
    spend(l, at(2024, 6, 9, 12), NULL, "batch", NULL, NULL, 0.00004);
    spend(l, at(2024, 6, 9, 13), NULL, "batch", NULL, NULL, 1.23456789);
    spend(l, at(2024, 6, 10, 0), "alpha", "prod", NULL, "u1", 1000);     /* the day it is sent */
    spend(l, at(2024, 6, 2, 23), "beta", "prod", NULL, "u2", 500);       /* the week before */
    return l;
}

static const char week_report[] =
    "*\xF0\x9F\x92\xB8 Spend Report for `06-03-2024 - 06-10-2024` (7 days)*\n"
    "\n*Team Spend Report:*\n"
    "Team: `beta` | Spend: `$60.0`\n"
    "Team: `alpha` | Spend: `$12.3456`\n"
    "Team: `None` | Spend: `$1.2346`\n"
    "\n*Tag Spend Report:*\n"
    "Tag: `prod` | Spend: `$72.3456`\n"
    "Tag: `chat` | Spend: `$12.3456`\n"
    "Tag: `batch` | Spend: `$1.2346`\n";

static void test_report_exact_lines(void **state)
{
    (void)state;
    al_ledger *l = fixed_ledger();
    al_alert *a;
    assert_int_equal(al_spend_report_build(l, day(2024, 6, 3), day(2024, 6, 9), 7,
                                           at(2024, 6, 10, 0), &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain, week_report);
    assert_string_equal(a->message, week_report);
    assert_int_equal(a->type, AL_T_SPEND_REPORTS);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    al_alert_free(a);
    al_ledger_free(l);
}

static void test_report_schedule(void **state)
{
    (void)state;
    al_ledger *l = fixed_ledger();
    al_report_state st = AL_REPORT_STATE_INIT;
    al_alert *a;
    /* the ctx first starts on 06-03: that only records the day */
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 3, 10), &a), ALERT_OK);
    assert_null(a);
    assert_int_equal(st.last, day(2024, 6, 3));
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 9, 23), &a), ALERT_OK);
    assert_null(a);
    /* the first poll after 00:00 UTC seven days later */
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 10, 0) + 30000, &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain, week_report);
    assert_int_equal(st.last, day(2024, 6, 10));    /* recorded at once */
    al_alert *again;
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 10, 1), &again), ALERT_OK);
    assert_null(again);
    /* the delivery finally fails: raised again at the next check */
    finish(a, 0);
    assert_int_equal(st.last, day(2024, 6, 3));
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 10, 2), &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain, week_report);
    finish(a, 1);
    assert_int_equal(st.last, day(2024, 6, 10));
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 16, 23), &a), ALERT_OK);
    assert_null(a);
    /* 06-17: the week 06-10 .. 06-16 holds only the 1000 of alpha */
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 17, 0), &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain,
        "*\xF0\x9F\x92\xB8 Spend Report for `06-10-2024 - 06-17-2024` (7 days)*\n"
        "\n*Team Spend Report:*\nTeam: `alpha` | Spend: `$1000.0`\n"
        "\n*Tag Spend Report:*\nTag: `prod` | Spend: `$1000.0`\n");
    finish(a, 1);
    /* an empty week sends nothing, and counts as done */
    assert_int_equal(al_spend_report_due(l, &st, 7, at(2024, 6, 24, 0), &a), ALERT_OK);
    assert_null(a);
    assert_int_equal(st.last, day(2024, 6, 24));
    assert_int_equal(al_spend_report_due(l, &st, 0, at(2024, 6, 24, 0), &a), ALERT_ERR_INVALID);
    al_ledger_free(l);
}

static void test_monthly_report(void **state)
{
    (void)state;
    al_ledger *l = fixed_ledger();
    al_report_state st = AL_REPORT_STATE_INIT;
    al_alert *a;
    assert_int_equal(al_monthly_report_due(l, &st, at(2024, 6, 3, 0), &a), ALERT_OK);
    assert_null(a);                         /* first check: May counts as done */
    assert_int_equal(al_monthly_report_due(l, &st, at(2024, 6, 30, 23), &a), ALERT_OK);
    assert_null(a);
    assert_int_equal(al_monthly_report_due(l, &st, at(2024, 7, 1, 0), &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain,
        "*\xF0\x9F\x92\xB8 Monthly Spend Report for `06-01-2024 - 06-30-2024` *\n"
        "\n*Team Spend Report:*\n"
        "Team: `alpha` | Spend: `$1012.3456`\n"
        "Team: `beta` | Spend: `$560.0`\n"
        "Team: `None` | Spend: `$1.2346`\n"
        "\n*Tag Spend Report:*\n"
        "Tag: `prod` | Spend: `$1572.3456`\n"
        "Tag: `chat` | Spend: `$12.3456`\n"
        "Tag: `batch` | Spend: `$1.2346`\n");
    finish(a, 1);
    assert_int_equal(al_monthly_report_due(l, &st, at(2024, 7, 1, 6), &a), ALERT_OK);
    assert_null(a);
    al_ledger_free(l);

    /* December, reported on the 1st of January */
    l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    spend(l, at(2024, 12, 1, 0), "t", NULL, NULL, NULL, 1.5);
    spend(l, at(2024, 12, 31, 23), "t", NULL, NULL, NULL, 1.5);
    spend(l, at(2024, 11, 30, 23), "t", NULL, NULL, NULL, 100);
    st.last = AL_DAY_NONE;
    al_monthly_report_due(l, &st, at(2024, 12, 10, 0), &a);
    assert_null(a);
    assert_int_equal(al_monthly_report_due(l, &st, at(2025, 1, 1, 0), &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain,
        "*\xF0\x9F\x92\xB8 Monthly Spend Report for `12-01-2024 - 12-31-2024` *\n"
        "\n*Team Spend Report:*\nTeam: `t` | Spend: `$3.0`\n"
        "\n*Tag Spend Report:*\n");
    finish(a, 1);
    al_ledger_free(l);
}

static void test_top_order_and_ties(void **state)
{
    (void)state;
    al_ledger *l = al_ledger_new(10);
    spend(l, at(2024, 1, 1, 0), "b", "x", NULL, NULL, 5);
    spend(l, at(2024, 1, 1, 0), "a", "y", NULL, NULL, 5);
    spend(l, at(2024, 1, 1, 0), NULL, NULL, NULL, NULL, 5);
    spend(l, at(2024, 1, 1, 0), "Z", "x", "x", NULL, 7);    /* a repeated tag counts once */
    al_ledger_sum *s;
    size_t n;
    assert_int_equal(al_ledger_top(l, AL_LDIM_TEAM, day(2024, 1, 1), day(2024, 1, 1), &s, &n),
                     ALERT_OK);
    assert_int_equal(n, 4);
    assert_string_equal(s[0].name, "Z");
    assert_null(s[1].name);                 /* ties by name: None sorts as "None" */
    assert_string_equal(s[2].name, "a");
    assert_string_equal(s[3].name, "b");
    al_free(s);
    assert_int_equal(al_ledger_top(l, AL_LDIM_TAG, day(2024, 1, 1), day(2024, 1, 1), &s, &n),
                     ALERT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].name, "x");
    assert_true(s[0].amount == 12);
    al_free(s);
    al_ledger_free(l);
}

static void test_invalid_cost_records_nothing(void **state)
{
    (void)state;
    al_ledger *l = al_ledger_new(10);
    alert_spend s = ALERT_SPEND_INIT;
    s.team_alias = "t";
    s.user_id = "u";
    const double bad[] = { NAN, INFINITY, -INFINITY, -0.01 };
    for (size_t i = 0; i < 4; i++) {
        s.cost = bad[i];
        assert_int_equal(al_ledger_add(l, &s, at(2024, 1, 1, 0)), ALERT_ERR_INVALID);
    }
    assert_int_equal(al_ledger_add(l, NULL, at(2024, 1, 1, 0)), ALERT_ERR_INVALID);
    assert_int_equal(al_ledger_cells(l), 0);
    assert_int_equal(al_ledger_names(l), 0);
    s.cost = 0;
    assert_int_equal(al_ledger_add(l, &s, at(2024, 1, 1, 0)), ALERT_OK);
    assert_int_equal(al_ledger_cells(l), 0);
    assert_int_equal(al_ledger_add_cell(l, day(2024, 1, 1), 7, "x", 1), ALERT_ERR_INVALID);
    al_ledger_free(l);
}

static void test_window_drops_old_days(void **state)
{
    (void)state;
    al_ledger *l = al_ledger_new(3);
    spend(l, at(2024, 1, 10, 0), "old-team", NULL, NULL, "u-old", 1);
    spend(l, at(2024, 1, 11, 0), "t", NULL, NULL, NULL, 1);
    spend(l, at(2024, 1, 12, 0), "t", NULL, NULL, NULL, 1);
    assert_true(al_ledger_get(l, AL_LDIM_TEAM, "old-team", day(2024, 1, 1), day(2024, 1, 31)) == 1);
    spend(l, at(2024, 1, 13, 0), "t", NULL, NULL, NULL, 1);
    /* day 10 is gone, and with it its names */
    assert_true(al_ledger_get(l, AL_LDIM_TEAM, "old-team", day(2024, 1, 1), day(2024, 1, 31)) == 0);
    assert_int_equal(al_ledger_names(l), 1);
    assert_int_equal(al_ledger_cells(l), 3);
    /* a late cost for a dropped day is ignored */
    spend(l, at(2024, 1, 9, 0), "late", NULL, NULL, NULL, 1);
    assert_int_equal(al_ledger_cells(l), 3);
    assert_int_equal(al_ledger_names(l), 1);
    /* the clock alone drops days too */
    al_ledger_advance(l, day(2024, 2, 1));
    assert_int_equal(al_ledger_cells(l), 0);
    assert_int_equal(al_ledger_names(l), 0);
    assert_int_equal(al_ledger_days_for(7, 7), 45);
    assert_int_equal(al_ledger_days_for(40, 10), 51);
    al_ledger_free(l);
}

typedef struct rows {
    al_ledger *into;
    int n;
    double sum;
} rows;

static int copy_row(void *ud, int32_t d, int32_t dim, const char *name, double amount)
{
    rows *r = ud;
    r->n++;
    r->sum += amount;
    return al_ledger_load_row(r->into, d, dim, name, amount);
}

static void sink(void *ud, int32_t d, int32_t dim, const char *name, double amount)
{
    rows *r = ud;
    r->n++;
    r->sum += amount;
    assert_non_null(name);
    (void)d;
    (void)dim;
}

static void test_export_import_and_sink(void **state)
{
    (void)state;
    al_ledger *l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    rows sunk = { 0 };
    al_ledger_set_sink(l, sink, &sunk);
    const char *tags[] = { "a", "b" };
    alert_spend s = ALERT_SPEND_INIT;
    s.cost = 2;
    s.tags = tags;
    s.tag_count = 2;
    s.user_id = "u";
    s.key_hash = "sk-raw";
    s.customer_id = "c";
    assert_int_equal(al_ledger_add(l, &s, at(2024, 3, 1, 0)), ALERT_OK);
    assert_int_equal(sunk.n, 6);            /* None team, 2 tags, user, key, customer */
    assert_true(sunk.sum == 12);
    char hex[65];
    al_sha256_hex("sk-raw", 6, hex);
    assert_true(al_ledger_get(l, AL_LDIM_KEY, hex, day(2024, 3, 1), day(2024, 3, 1)) == 2);
    assert_true(al_ledger_get(l, AL_LDIM_KEY, "sk-raw", day(2024, 3, 1), day(2024, 3, 1)) == 0);
    spend(l, at(2024, 3, 2, 0), "t", NULL, NULL, "u", 3);

    al_ledger *copy = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    rows r = { copy, 0, 0 };
    assert_int_equal(al_ledger_export(l, copy_row, &r), ALERT_OK);
    assert_int_equal(r.n, 8);               /* 6 cells on 03-01, 2 on 03-02 */
    assert_int_equal(al_ledger_cells(copy), al_ledger_cells(l));
    assert_true(al_ledger_get(copy, AL_LDIM_USER, "u", day(2024, 3, 1), day(2024, 3, 2)) == 5);
    assert_true(al_ledger_get(copy, AL_LDIM_TEAM, NULL, day(2024, 3, 1), day(2024, 3, 2)) == 2);
    al_alert *a1, *a2;
    al_spend_report_build(l, day(2024, 3, 1), day(2024, 3, 2), 2, 0, &a1);
    al_spend_report_build(copy, day(2024, 3, 1), day(2024, 3, 2), 2, 0, &a2);
    assert_string_equal(a1->plain, a2->plain);
    al_alert_free(a1);
    al_alert_free(a2);
    al_ledger_free(copy);
    al_ledger_free(l);
}

static void test_bytes_per_cell(void **state)
{
    (void)state;
    /* 45 days x (10 teams, 20 tags, 1000 users, 1000 keys, 100 customers), every
     * name active every day: the ledger at its bound for a mid-size proxy */
    al_ledger *l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    char teams[10][24], tags[20][24], users[1000][24], keys[1000][65], custs[100][24];
    for (int i = 0; i < 10; i++)
        snprintf(teams[i], sizeof teams[i], "team-%d", i);
    for (int i = 0; i < 20; i++)
        snprintf(tags[i], sizeof tags[i], "tag-%d", i);
    for (int i = 0; i < 1000; i++) {
        snprintf(users[i], sizeof users[i], "user-%d", i);
        char raw[32];
        snprintf(raw, sizeof raw, "sk-%d", i);
        al_sha256_hex(raw, strlen(raw), keys[i]);
    }
    for (int i = 0; i < 100; i++)
        snprintf(custs[i], sizeof custs[i], "cust-%d", i);
    for (int d = 0; d < 45; d++) {
        for (int i = 0; i < 1000; i++) {
            const char *t[2] = { tags[i % 20], tags[(i + 1) % 20] };
            alert_spend s = ALERT_SPEND_INIT;
            s.cost = 0.001 * (i + 1);
            s.team_alias = teams[i % 10];
            s.tags = t;
            s.tag_count = 2;
            s.user_id = users[i];
            s.key_hash = keys[i];
            s.customer_id = custs[i % 100];
            assert_int_equal(al_ledger_add(l, &s, at(2024, 1, 1, 0) + (int64_t)d * 86400000), ALERT_OK);
        }
    }
    assert_int_equal(al_ledger_cells(l), 45 * 2130);
    double per = al_ledger_bytes_per_cell(l);
    print_message("ledger: %zu cells, %zu names, %zu bytes, %.1f bytes per cell "
                  "(names reused every day)\n", al_ledger_cells(l), al_ledger_names(l),
                  al_ledger_bytes(l), per);
    assert_true(per <= 64);

    /* the worst case: every (day, key) name new, never seen again */
    al_ledger *w = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    for (int d = 0; d < 45; d++)
        for (int i = 0; i < 1000; i++) {
            char name[65];
            char raw[32];
            snprintf(raw, sizeof raw, "%d-%d", d, i);
            al_sha256_hex(raw, strlen(raw), name);
            al_ledger_add_cell(w, day(2024, 1, 1) + d, AL_LDIM_KEY, name, 1);
        }
    print_message("ledger: %.1f bytes per cell when every cell has a new 64-char name\n",
                  al_ledger_bytes_per_cell(w));
    al_ledger_free(w);
    al_ledger_free(l);
}

/* Names come and go with their days: the intern index (backward-shift deletion)
 * must still find every live name. */
static void test_name_churn(void **state)
{
    (void)state;
    enum { NAMES = 500, PER_DAY = 200, DAYS = 60 };
    static double want[DAYS][NAMES];
    memset(want, 0, sizeof want);
    al_ledger *l = al_ledger_new(2);
    for (int d = 0; d < DAYS; d++) {
        for (int i = 0; i < PER_DAY; i++) {
            int k = (d * 37 + i * 7 + (i * i) % 13) % NAMES;
            char nm[16];
            snprintf(nm, sizeof nm, "n%d", k);
            assert_int_equal(al_ledger_add_cell(l, d, AL_LDIM_USER, nm, 1), ALERT_OK);
            want[d][k] += 1;
        }
        for (int k = 0; k < NAMES; k++) {
            char nm[16];
            snprintf(nm, sizeof nm, "n%d", k);
            double w = want[d][k] + (d > 0 ? want[d - 1][k] : 0);
            assert_true(al_ledger_get(l, AL_LDIM_USER, nm, d - 1, d) == w);
        }
    }
    size_t live = 0;
    for (int k = 0; k < NAMES; k++)
        live += want[DAYS - 1][k] > 0 || want[DAYS - 2][k] > 0;
    assert_int_equal(al_ledger_names(l), live);
    al_ledger_free(l);
}

/* ---- user spend ------------------------------------------------------------------- */

static void user_spend(al_ledger *l, int64_t when, const char *user, double cost)
{
    spend(l, when, "t", NULL, NULL, user, cost);
}

static void test_user_thresholds(void **state)
{
    (void)state;
    al_ledger *l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    al_marks *m = al_marks_new();
    al_user_spend_args args = { 10, 50, 3.0, 7, 10.0 };
    al_alert *a;
    for (int d = 1; d <= 14; d++)
        user_spend(l, at(2024, 6, d, 12), "u1", 3);                  /* 42 this month */
    user_spend(l, at(2024, 6, 15, 8), "u1", 6);
    assert_int_equal(al_user_spend_thresholds_check(l, m, &args, "u1", at(2024, 6, 15, 8), &a),
                     ALERT_OK);
    assert_null(a);                                                 /* 6 today, 48 month */
    user_spend(l, at(2024, 6, 15, 9), "u1", 5);
    assert_int_equal(al_user_spend_thresholds_check(l, m, &args, "u1", at(2024, 6, 15, 9), &a),
                     ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain,
        "User Daily Spend Threshold Crossed:\nUser: `u1`\nSpend Today: `$11.00`\n"
        "Daily Threshold: `$10.00`\n\n"
        "User Monthly Spend Threshold Crossed:\nUser: `u1`\nSpend This Month: `$53.00`\n"
        "Monthly Threshold: `$50.00`");
    assert_int_equal(a->type, AL_T_USER_SPEND_THRESHOLDS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_string_equal(a->subject, "user u1");
    al_alert *b;
    user_spend(l, at(2024, 6, 15, 10), "u1", 5);
    al_user_spend_thresholds_check(l, m, &args, "u1", at(2024, 6, 15, 10), &b);
    assert_null(b);                                                 /* pending: once */
    finish(a, 1);
    al_user_spend_thresholds_check(l, m, &args, "u1", at(2024, 6, 15, 11), &b);
    assert_null(b);                                                 /* sent: once a day */
    /* the next day: the daily one again, the monthly one not */
    user_spend(l, at(2024, 6, 16, 1), "u1", 10);
    al_user_spend_thresholds_check(l, m, &args, "u1", at(2024, 6, 16, 1), &a);
    assert_non_null(a);
    assert_string_equal(a->plain,
        "User Daily Spend Threshold Crossed:\nUser: `u1`\nSpend Today: `$10.00`\n"
        "Daily Threshold: `$10.00`");
    finish(a, 0);                                                   /* failed: re-armed */
    al_user_spend_thresholds_check(l, m, &args, "u1", at(2024, 6, 16, 2), &a);
    assert_non_null(a);
    finish(a, 1);
    /* every user at once (a periodic check): one alert, users in order */
    user_spend(l, at(2024, 6, 16, 3), "<b>", 12);
    user_spend(l, at(2024, 6, 16, 3), "a", 12);
    al_user_spend_thresholds_check(l, m, &args, NULL, at(2024, 6, 16, 4), &a);
    assert_non_null(a);
    assert_string_equal(a->plain,
        "User Daily Spend Threshold Crossed:\nUser: `<b>`\nSpend Today: `$12.00`\n"
        "Daily Threshold: `$10.00`\n\n"
        "User Daily Spend Threshold Crossed:\nUser: `a`\nSpend Today: `$12.00`\n"
        "Daily Threshold: `$10.00`");
    assert_non_null(strstr(a->message, "User: `&lt;b&gt;`"));
    assert_string_equal(a->subject, "users");
    finish(a, 1);
    /* no thresholds configured: nothing */
    al_user_spend_args none = { -1, -1, 3.0, 7, 10.0 };
    al_user_spend_thresholds_check(l, m, &none, NULL, at(2024, 6, 17, 4), &a);
    assert_null(a);
    al_marks_free(m);
    al_ledger_free(l);
}

static void test_user_anomalies(void **state)
{
    (void)state;
    al_ledger *l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    al_marks *m = al_marks_new();
    al_user_spend_args args = { -1, -1, 3.0, 7, 10.0 };
    for (int d = 8; d <= 14; d++) {
        user_spend(l, at(2024, 6, d, 12), "u_steady", 5);       /* average 5 */
        user_spend(l, at(2024, 6, d, 12), "u_spike", 1);        /* average 1 */
    }
    user_spend(l, at(2024, 6, 15, 1), "u_steady", 14);          /* <= 15: normal */
    user_spend(l, at(2024, 6, 15, 1), "u_spike", 20);
    user_spend(l, at(2024, 6, 15, 1), "u_new", 12);             /* no baseline */
    user_spend(l, at(2024, 6, 15, 1), "u_small", 5);            /* under the minimum */
    al_alert *a;
    assert_int_equal(al_user_spend_anomalies_check(l, m, &args, at(2024, 6, 15, 2), &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain,
        "User Spend Anomaly Detected:\nUser: `u_new`\nSpend Today: `$12.00`\n"
        "Daily Average (last 7 days): `$0.00`\n"
        "Trigger: spend above `3.0x` the daily average (minimum `$10.00`)\n\n"
        "User Spend Anomaly Detected:\nUser: `u_spike`\nSpend Today: `$20.00`\n"
        "Daily Average (last 7 days): `$1.00`\n"
        "Trigger: spend above `3.0x` the daily average (minimum `$10.00`)");
    assert_int_equal(a->type, AL_T_USER_SPEND_ANOMALIES);
    finish(a, 1);
    al_alert *b;
    al_user_spend_anomalies_check(l, m, &args, at(2024, 6, 15, 3), &b);
    assert_null(b);                                             /* once per user per day */
    al_marks_free(m);
    al_ledger_free(l);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 300; n++) {
        al_ledger *l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
        al_marks *m = al_marks_new();
        if (!l || !m) {
            al_ledger_free(l);
            al_marks_free(m);
            continue;
        }
        al_report_state st = { day(2024, 6, 1) };
        al_user_spend_args args = { 1, 1, 3.0, 7, 1.0 };
        al_alert *a1 = NULL, *a2 = NULL, *a3 = NULL;
        al_alloc_fail_after(n);
        const char *tags[] = { "x", "y" };
        alert_spend s = ALERT_SPEND_INIT;
        s.cost = 5;
        s.tags = tags;
        s.tag_count = 2;
        s.user_id = "u";
        s.team_alias = "t";
        int rc = al_ledger_add(l, &s, at(2024, 6, 3, 0));
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        rc = al_spend_report_due(l, &st, 7, at(2024, 6, 8, 0), &a1);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        rc = al_user_spend_thresholds_check(l, m, &args, NULL, at(2024, 6, 3, 1), &a2);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        rc = al_user_spend_anomalies_check(l, m, &args, at(2024, 6, 3, 1), &a3);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        al_alloc_fail_after(-1);
        if (n == 299)
            assert_true(a1 && a2 && a3);
        if (a1)
            finish(a1, 1);
        if (a2)
            finish(a2, 1);
        if (a3)
            finish(a3, 1);
        al_marks_free(m);
        al_ledger_free(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_exact_lines),
        cmocka_unit_test(test_report_schedule),
        cmocka_unit_test(test_monthly_report),
        cmocka_unit_test(test_top_order_and_ties),
        cmocka_unit_test(test_invalid_cost_records_nothing),
        cmocka_unit_test(test_window_drops_old_days),
        cmocka_unit_test(test_export_import_and_sink),
        cmocka_unit_test(test_bytes_per_cell),
        cmocka_unit_test(test_name_churn),
        cmocka_unit_test(test_user_thresholds),
        cmocka_unit_test(test_user_anomalies),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
