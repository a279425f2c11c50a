/* SPDX-License-Identifier: MIT */
/* Fleet mode, the money part, against a real redis-server: tracked budgets judged on
 * the fleet's spend, once-only marks claimed for the fleet, spend caught up after Redis
 * comes back and re-seeded after it restarts empty. Replicas of one config in this
 * process, one injected clock, alert_poll. */

#include <fcntl.h>
#include <time.h>

#include "fleet.h"

/* Every replica tracks a $100 budget of one key (alert_set_budget, a 30-day period). */
static fleet *tracked(int n, int port, const char *extra_args)
{
    fleet *f = f_new(n, port, "budget_alerts", extra_args);
    f_track_budget(f, 100);
    return f;
}

static void spend(alert_ctx *ctx, double cost)
{
    alert_spend s = ALERT_SPEND_INIT;
    s.cost = cost;
    s.key_hash = "hashed-key-1";
    s.key_alias = "prod-key";
    assert_int_equal(alert_on_spend(ctx, &s), ALERT_OK);
}

/* The fleet's total of the tracked budget, in nano-dollars, as Redis holds it. */
static long long fleet_total(const redis_proc *r)
{
    redisReply *keys = redis_do(r, "KEYS *fspend:*");
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    assert_int_equal(keys->elements, 1);
    redisReply *t = redis_do(r, "HGET %s t", keys->element[0]->str);
    assert_non_null(t);
    assert_int_equal(t->type, REDIS_REPLY_STRING);
    long long v = strtoll(t->str, NULL, 10);
    freeReplyObject(t);
    freeReplyObject(keys);
    return v;
}

/* Index of the first request whose body holds needle, or -1. */
static int first_at(fleet *f, const char *needle)
{
    for (size_t i = 0; i < rcv_count(f->rcv); i++) {
        rcv_request q;
        assert_int_equal(rcv_get(f->rcv, i, &q), 0);
        int hit = strstr(q.body, needle) != NULL;
        rcv_request_free(&q);
        if (hit)
            return (int)i;
    }
    return -1;
}

/* 3 replicas, a tracked $100 budget, $1 spends spread over them (none reaches 85 %
 * alone): one 85 %, one 95 %, one Crossed, in that order; the fleet spend exact. */
static void tracked_budget_on_fleet_spend(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = tracked(3, r->port, NULL);
    for (int k = 0; k < 120; k++) {
        spend(f->ctx[k % 3], 1.0);
        f_advance(f, 100);
    }
    /* the spend posted after a replica's last round goes with its next one */
    f_advance(f, 1000);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "15% or less of budget remaining"), 1);
    assert_int_equal(f_count(f, "5% or less of budget remaining"), 2);    /* 85 % says "15% or less" */
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    assert_int_equal(rcv_count(f->rcv), 3);
    int a85 = first_at(f, "15% or less of budget remaining");
    int a95 = first_at(f, "Key Budget: 5% or less of budget remaining");
    int a100 = first_at(f, "Budget Crossed");
    assert_true(a85 >= 0 && a85 < a95 && a95 < a100);
    assert_int_equal(fleet_total(r), 120LL * 1000000000LL);
    f_free(f);
    redis_stop(r);
}

/* $60 on one replica and $60 on another against $100: Crossed once. */
static void crossing_made_of_two_replicas(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = tracked(2, r->port, "    budget_alert_thresholds: [100]\n");
    spend(f->ctx[0], 60);
    f_advance(f, 1000);
    spend(f->ctx[1], 60);
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    assert_int_equal(rcv_count(f->rcv), 1);
    assert_int_equal(fleet_total(r), 120LL * 1000000000LL);
    f_free(f);
    redis_stop(r);
}

#define DAY0 ((long long)(T0 / 86400000))      /* T0's UTC day */

/* A cell of the fleet ledger's hash of day, in nano-dollars (0 when none). */
static long long fleet_cell(const redis_proc *r, long long day, const char *field)
{
    redisReply *keys = redis_do(r, "KEYS *fledger:d:%lld", day);
    assert_non_null(keys);
    long long v = 0;
    if (keys->elements == 1) {
        redisReply *c = redis_do(r, "HGET %s %s", keys->element[0]->str, field);
        assert_non_null(c);
        if (c->type == REDIS_REPLY_STRING)
            v = strtoll(c->str, NULL, 10);
        freeReplyObject(c);
    }
    freeReplyObject(keys);
    return v;
}

/* Polls every replica until the fleet ledger's cell holds want: batches that are not
 * urgent go at the next fleet_sync_interval of real time. Bounded by ~10 s of real time. */
static void wait_cell(fleet *f, const redis_proc *r, long long day, const char *field,
                      long long want)
{
    for (int i = 0; i < 1000; i++) {
        for (int k = 0; k < f->n; k++)
            assert_int_equal(alert_poll(f->ctx[k], 0), ALERT_OK);
        if (fleet_cell(r, day, field) == want)
            return;
        struct timespec ts = { 0, 10 * 1000000L };     /* waiting for a sync round */
        nanosleep(&ts, NULL);
    }
    fail_msg("the fleet ledger's %s is %lld, not %lld", field, fleet_cell(r, day, field), want);
}

/* How many replicas' cumulative spend the fleet total holds. */
static long long fleet_fields(const redis_proc *r)
{
    redisReply *keys = redis_do(r, "KEYS *fspend:*");
    assert_non_null(keys);
    assert_int_equal(keys->elements, 1);
    redisReply *n = redis_do(r, "HLEN %s", keys->element[0]->str);
    assert_non_null(n);
    long long v = n->integer;
    freeReplyObject(n);
    freeReplyObject(keys);
    return v;
}

/* Redis down while both replicas spend ($60 and $30 more, none over $100 alone), then
 * back with its data: each replica's spend is counted exactly once (the retried posts
 * change nothing twice), no new epoch, and the next $15 crosses $100 for the fleet once. */
static void spend_caught_up_once_after_redis_returns(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = tracked(2, r->port, "    budget_alert_thresholds: [100]\n"
                                   "    fleet_sync_interval: 0.05\n");
    spend(f->ctx[0], 30);
    f_advance(f, 1000);
    assert_int_equal(fleet_total(r), 30LL * 1000000000LL);
    wait_cell(f, r, DAY0, "3:hashed-key-1", 30LL * 1000000000LL);
    redis_down(r, 1);
    spend(f->ctx[0], 30);
    spend(f->ctx[1], 30);
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 0);
    int back = f_logged(f, "back on Redis");
    redis_up(r);
    f_wait_back(f, back);
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(fleet_total(r), 90LL * 1000000000LL);
    assert_int_equal(fleet_fields(r), 3);      /* "t" and one cumulative per replica */
    /* the ledger's batches kept while Redis was away: applied once */
    wait_cell(f, r, DAY0, "3:hashed-key-1", 90LL * 1000000000LL);
    assert_int_equal(f_logged(f, "a new epoch"), 0);
    assert_int_equal(f_count(f, "Budget Crossed"), 0);
    spend(f->ctx[1], 15);                       /* $45 here, $60 there: $105 for the fleet */
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(fleet_total(r), 105LL * 1000000000LL);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    assert_int_equal(rcv_count(f->rcv), 1);
    f_free(f);
    redis_stop(r);
}

/* Redis restarted empty (a new epoch): each replica posts its own period spend again,
 * with no new spend to carry it, so the fleet total is re-seeded exactly; then a
 * crossing made of both replicas' spend fires once. */
static void totals_reseeded_after_redis_restarts_empty(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = tracked(2, r->port, "    budget_alert_thresholds: [100]\n"
                                   "    fleet_sync_interval: 0.05\n");
    spend(f->ctx[0], 30);
    spend(f->ctx[1], 20);
    for (int k = 0; k < 2; k++)
        f_advance(f, 1000);
    assert_int_equal(fleet_total(r), 50LL * 1000000000LL);
    wait_cell(f, r, DAY0, "3:hashed-key-1", 50LL * 1000000000LL);
    int back = f_logged(f, "back on Redis");
    redis_down(r, 0);
    redis_up(r);
    f_wait_back(f, back);
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(f_logged(f, "a new epoch"), 2);
    assert_int_equal(fleet_total(r), 50LL * 1000000000LL);
    /* the ledger re-seeded from each replica's own ledger: once, not twice */
    wait_cell(f, r, DAY0, "3:hashed-key-1", 50LL * 1000000000LL);
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(fleet_cell(r, DAY0, "3:hashed-key-1"), 50LL * 1000000000LL);
    spend(f->ctx[1], 55);                       /* $75 here, $30 there: $105 */
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(fleet_total(r), 105LL * 1000000000LL);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    assert_int_equal(rcv_count(f->rcv), 1);
    f_free(f);
    redis_stop(r);
}

/* Failed tracking of one model seen by every replica: one alert for the fleet. */
static void tracking_failure_once_per_fleet(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "failed_tracking_spend", NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_spend_tracking_failure(f->ctx[i], "gpt-4o", "cost map missing"),
                         ALERT_OK);
    f_advance(f, 1000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_spend_tracking_failure(f->ctx[i], "gpt-4o", "cost map missing"),
                         ALERT_OK);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Failed Tracking Cost"), 1);
    assert_int_equal(rcv_count(f->rcv), 1);
    f_free(f);
    redis_stop(r);
}

/* ---- the fleet ledger ------------------------------------------------------------------ */

static void team_spend(alert_ctx *ctx, const char *team, const char *user, double cost)
{
    alert_spend s = ALERT_SPEND_INIT;
    s.cost = cost;
    s.team_alias = team;
    s.user_id = user;
    assert_int_equal(alert_on_spend(ctx, &s), ALERT_OK);
}

/* How many requests hold both needles. */
static int f_count2(fleet *f, const char *a, const char *b)
{
    int n = 0;
    for (size_t i = 0; i < rcv_count(f->rcv); i++) {
        rcv_request q;
        assert_int_equal(rcv_get(f->rcv, i, &q), 0);
        if (strstr(q.body, a) && strstr(q.body, b))
            n++;
        rcv_request_free(&q);
    }
    return n;
}

/* $2 of one user on each of 3 replicas against a daily threshold of $5 (none reaches it
 * alone): one alert for the fleet, with the fleet's $6; the ledger's cell is exact. */
static void user_threshold_reached_only_by_the_sum(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "user_spend_thresholds",
                     "    daily_spend_per_user_threshold: 5\n");
    f_advance(f, 0);
    for (int i = 0; i < 3; i++) {
        team_spend(f->ctx[i], "alpha", "u-7", 2.0);
        f_advance(f, 1000);
    }
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(fleet_cell(r, DAY0, "2:u-7"), 6LL * 1000000000LL);
    assert_int_equal(f_count(f, "User Daily Spend Threshold Crossed:\\nUser: `u-7`"), 1);
    assert_int_equal(f_count(f, "Spend Today: `$6.00`"), 1);
    assert_int_equal(rcv_count(f->rcv), 1);
    f_free(f);
    redis_stop(r);
}

/* $10 of team alpha on each of 3 replicas: one daily (N = 1) spend report for the
 * fleet, with the fleet's $30, not one replica's $10. */
static void n_day_report_from_fleet_totals(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "spend_reports",
                     "    fleet_sync_interval: 0.05\n  spend_report_frequency: 1d\n");
    f_advance(f, 0);
    for (int i = 0; i < 3; i++)
        team_spend(f->ctx[i], "alpha", NULL, 10.0);
    wait_cell(f, r, DAY0, "0:alpha", 30LL * 1000000000LL);
    f_advance(f, 86400000);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Spend Report for `01-01-2026 - 01-02-2026` (1 days)"), 1);  /* ends on the day it is sent, as LiteLLM */
    assert_int_equal(f_count(f, "Team: `alpha` | Spend: `$30.0`"), 1);
    assert_int_equal(rcv_count(f->rcv), 1);
    f_free(f);
    redis_stop(r);
}

/* The monthly report of January: one for the fleet, with the fleet's sum. */
static void monthly_report_from_fleet_totals(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(2, r->port, "spend_reports", "    fleet_sync_interval: 0.05\n");
    f_advance(f, 0);
    team_spend(f->ctx[0], "alpha", NULL, 10.0);
    team_spend(f->ctx[1], "alpha", NULL, 15.0);
    wait_cell(f, r, DAY0, "0:alpha", 25LL * 1000000000LL);
    for (int d = 0; d < 31; d++)                /* the calendar follows day by day */
        f_advance(f, 86400000);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Monthly Spend Report for `01-01-2026 - 01-31-2026`"), 1);
    assert_int_equal(f_count2(f, "Monthly Spend Report", "Team: `alpha` | Spend: `$25.0`"), 1);
    f_free(f);
    redis_stop(r);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tracked_budget_on_fleet_spend),
        cmocka_unit_test(crossing_made_of_two_replicas),
        cmocka_unit_test(tracking_failure_once_per_fleet),
        cmocka_unit_test(spend_caught_up_once_after_redis_returns),
        cmocka_unit_test(totals_reseeded_after_redis_restarts_empty),
        cmocka_unit_test(user_threshold_reached_only_by_the_sum),
        cmocka_unit_test(n_day_report_from_fleet_totals),
        cmocka_unit_test(monthly_report_from_fleet_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
