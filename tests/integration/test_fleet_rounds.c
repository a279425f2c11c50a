/* SPDX-License-Identifier: MIT */
/* Fleet rounds against a real redis-server (FLEET.md principle 2): steady traffic costs
 * one round per fleet_sync_interval, whatever it carries (failures, tracked spend, the
 * ledger, daily counters), and its counters arrive exact; work that may claim goes in a
 * round at once; failures that only the fleet's sum brings to a level are decided
 * within about a round. Replicas in this process, one injected clock, alert_poll. */

#include "fleet.h"

/* a long interval: rounds that are not urgent wait for it on the injected clock */
#define SLOW                                    \
    "    fleet_sync_interval: 30\n"            \
    "    minor_outage_alert_threshold: 3\n"    \
    "    major_outage_alert_threshold: 1000\n"

static void request(alert_ctx *ctx, int fail)
{
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gpt-4o";
    r.deployment = "azure/gpt-4o-eu";
    r.api_base = "https://azure.example";
    alert_req_id id;
    assert_int_equal(alert_on_request_start(ctx, &r, &id), ALERT_OK);
    if (fail) {
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = 503;
        f.message = "upstream unavailable";
        assert_int_equal(alert_on_request_failure(ctx, id, &f), ALERT_OK);
    } else {
        alert_response resp;
        alert_response_init(&resp, ALERT_RESPONSE_VERSION);
        assert_int_equal(alert_on_request_end(ctx, id, &resp), ALERT_OK);
    }
    alert_spend s = ALERT_SPEND_INIT;
    s.cost = 0.5;
    s.key_hash = "hashed-key-1";
    s.key_alias = "prod-key";
    s.model = "gpt-4o";
    assert_int_equal(alert_on_spend(ctx, &s), ALERT_OK);
}

static uint64_t rounds(alert_ctx *ctx)
{
    alert_stats st = ALERT_STATS_INIT;
    assert_int_equal(alert_stats_get(ctx, &st), ALERT_OK);
    return st.fleet_rounds;
}

static long long in_window(const redis_proc *r)
{
    redisReply *rep = redis_do(r, "ZCARD {alerting:default}:outage:d|azure/gpt-4o-eu:win");
    assert_non_null(rep);
    long long n = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    return n;
}

static fleet *budgeted(const redis_proc *r)
{
    fleet *f = f_new(2, r->port, "outage_alerts, budget_alerts, daily_reports", SLOW);
    f_track_budget(f, 1000000);
    return f;
}

/* 20 s of traffic on 2 replicas (a failure, then successes, spend on every request):
 * no round before the interval is over; then one, carrying it all, exactly. */
static void steady_traffic_one_round_per_interval(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = budgeted(r);
    uint64_t before[2] = { rounds(f->ctx[0]), rounds(f->ctx[1]) };
    for (int s = 0; s < 20; s++) {
        for (int i = 0; i < f->n; i++)
            for (int k = 0; k < 5; k++)
                request(f->ctx[i], s == 0 && k == 0);      /* 1 failure per replica */
        f_advance(f, 1000);
    }
    for (int i = 0; i < f->n; i++)
        assert_int_equal(rounds(f->ctx[i]), before[i]);    /* nothing urgent: no round */
    assert_true(in_window(r) <= 0);
    f_advance(f, 10000);                                    /* the interval is over */
    for (int i = 0; i < f->n; i++)
        assert_int_equal(rounds(f->ctx[i]), before[i] + 1);
    assert_int_equal(in_window(r), 2);
    assert_int_equal(f_count(f, "Service Outage"), 0);     /* 2 < 3 */
    f_free(f);
    redis_stop(r);
}

/* 3 failures on one replica reach the Minor threshold alone: that batch may claim, so
 * it goes in a round at once. 2 + 2 on two replicas reach it only together: decided
 * at the next round, once. */
static void a_possible_claim_goes_at_once(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = budgeted(r);
    for (int k = 0; k < 3; k++)
        request(f->ctx[0], 1);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Minor Service Outage"), 1);
    assert_int_equal(in_window(r), 3);
    f_advance(f, 120000);                                   /* the episode ends */
    f_advance(f, 1000);
    for (int i = 0; i < f->n; i++)
        for (int k = 0; k < 2; k++)
            request(f->ctx[i], 1);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Minor Service Outage"), 1);   /* each saw 2 < 3 */
    f_advance(f, 30000);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Minor Service Outage"), 2);   /* the sum, once */
    assert_int_equal(in_window(r), 4);
    f_free(f);
    redis_stop(r);
}

/* alert_poll_timeout counts the next round: a host that sleeps as told still runs one
 * per fleet_sync_interval, and at once when answers wait. */
static void poll_timeout_counts_the_next_round(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(1, r->port, "budget_alerts", "    fleet_sync_interval: 0.2\n");
    f_advance(f, 1000);
    int32_t wait = -1;
    assert_int_equal(alert_poll_timeout(f->ctx[0], &wait), ALERT_OK);
    assert_true(wait >= 0 && wait <= 200);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "hashed-key-2";
    b.spend = 120;
    b.max_budget = 100;
    b.budget_reset_at_ms = T0 + 30 * 86400000LL;
    assert_int_equal(alert_on_budget(f->ctx[0], &b), ALERT_OK);
    assert_int_equal(alert_poll(f->ctx[0], 0), ALERT_OK);  /* raised, claimed in the pass's round */
    assert_int_equal(alert_poll_timeout(f->ctx[0], &wait), ALERT_OK);
    assert_int_equal(wait, 0);                              /* its answer waits */
    f_free(f);
    redis_stop(r);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steady_traffic_one_round_per_interval),
        cmocka_unit_test(a_possible_claim_goes_at_once),
        cmocka_unit_test(poll_timeout_counts_the_next_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
