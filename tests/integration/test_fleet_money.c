/* SPDX-License-Identifier: MIT */
/* Fleet mode, the money part, against a real redis-server: tracked budgets judged on
 * the fleet's spend, once-only marks claimed for the fleet, (Redis down and epoch re-seed:
 * see docs-fleet-money.md, not yet covered here). Replicas of one config in this process, one injected clock,
 * alert_poll. */

#include <fcntl.h>

#include "fleet.h"

/* Every replica tracks a $100 budget of one key (alert_set_budget, a 30-day period). */
static fleet *tracked(int n, int port, const char *extra_args)
{
    fleet *f = f_new(n, port, "budget_alerts", extra_args);
    for (int i = 0; i < n; i++) {
        alert_budget b;
        alert_budget_init(&b, ALERT_BUDGET_VERSION);
        b.entity = ALERT_ENTITY_KEY;
        b.entity_id = "hashed-key-1";
        b.key_alias = "prod-key";
        b.max_budget = 100;
        assert_int_equal(alert_set_budget(f->ctx[i], &b, "30d"), ALERT_OK);
    }
    f_advance(f, 0);
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

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tracked_budget_on_fleet_spend),
        cmocka_unit_test(crossing_made_of_two_replicas),
        cmocka_unit_test(tracking_failure_once_per_fleet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
