/* SPDX-License-Identifier: MIT */
/* Fleet mode when Redis misbehaves (FLEET.md, "How it is tested"): slow, frozen
 * (SIGSTOP), down, restarted empty, replies dropped after the command was applied, a
 * replica partitioned then healed. A real redis-server, and the fault proxy of
 * tests/support between it and the replicas that the test hurts. What must hold: no
 * alert is lost, every duplicate is counted (fleet_claims_unanswered), no round holds a
 * worker pass much past fleet_timeout, and warnings come once per change. */

#include <fcntl.h>
#include <openssl/evp.h>

#include "fault_proxy.h"
#include "fleet.h"

/* The fault tests' timings: short rounds, a short fleet_timeout, and a claim timeout
 * that the injected clock never reaches, so that what decides is Redis's answer (or a
 * failed round), not time. */
#define FAULT_ARGS                         \
    "    fleet_timeout: 0.25\n"            \
    "    fleet_sync_interval: 0.05\n"      \
    "    fleet_claim_timeout: 30\n"
#define FLEET_TIMEOUT_US 250000

/* One replica, as f_replica, with the fault timings. */
static alert_ctx *ff_replica(fleet *f, int port)
{
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_config_set_clock(cfg, f_clock, f);
    alert_config_set_log(cfg, f_log, f);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [slack]\n"
             "  alert_types: [budget_alerts]\n"
             "  alerting_args:\n"
             "    worker_threads: 0\n"
             "    slack_webhook_url: \"%s\"\n"
             "    shutdown_timeout: 0.2\n"
             "    http_timeout: 2\n"
             "    instance_name: replica-%d\n"
             "    redis_url: \"redis://127.0.0.1:%d\"\n"
             FAULT_ARGS,
             f->url, f->n, port);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    alert_ctx *ctx = NULL;
    int rc = alert_ctx_create(&ctx, cfg, &err);
    if (rc != ALERT_OK)
        fail_msg("ctx: %s %s", alert_err_name(rc), err.text);
    alert_config_free(cfg);
    return ctx;
}

/* n replicas; replica i talks to Redis at ports[i] (Redis itself, or a proxy). */
static fleet *ff_new(int n, const int *ports)
{
    fleet *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->now = T0;
    f->rcv = rcv_start(0);
    assert_non_null(f->rcv);
    rcv_url(f->rcv, "/services/T000/B000/FLEET", f->url, sizeof f->url);
    for (int i = 0; i < n; i++) {
        f->ctx[i] = ff_replica(f, ports[i]);
        f->n++;
    }
    return f;
}

static void observe(alert_ctx *ctx, const char *id, double spend)
{
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = id;
    b.key_alias = id;
    b.spend = spend;
    b.max_budget = 100;
    b.budget_reset_at_ms = T0 + 30 * 86400000LL;
    assert_int_equal(alert_on_budget(ctx, &b), ALERT_OK);
}

static alert_stats stats_of(alert_ctx *ctx)
{
    alert_stats st = ALERT_STATS_INIT;
    assert_int_equal(alert_stats_get(ctx, &st), ALERT_OK);
    return st;
}

#define SUM(f, field) sum_of(f, offsetof(alert_stats, field))
static uint64_t sum_of(fleet *f, size_t offset)
{
    uint64_t n = 0;
    for (int i = 0; i < f->n; i++) {
        alert_stats st = stats_of(f->ctx[i]);
        uint64_t v;
        memcpy(&v, (const char *)&st + offset, sizeof v);
        n += v;
    }
    return n;
}

/* Runs the replicas' passes until every one is connected to Redis again (a reconnect
 * waits for the coordinator's backoff, in real time): polling a condition, bounded. */
static void ff_until_connected(fleet *f)
{
    for (int tries = 0; tries < 1500; tries++) {
        int all = 1;
        for (int i = 0; i < f->n; i++) {
            assert_int_equal(alert_poll(f->ctx[i], 0), ALERT_OK);
            all &= stats_of(f->ctx[i]).fleet_connected == 1;
        }
        if (all)
            return;
        struct timespec ts = { 0, 10 * 1000000L };      /* the backoff runs in real time */
        nanosleep(&ts, NULL);
    }
    fail_msg("the replicas did not reconnect");
}

/* Runs replica i's passes until its coordinator ran n more rounds (settles go with the
 * round of the next sync interval, in real time): polling a condition, bounded. */
static void ff_rounds(fleet *f, int i, uint64_t n)
{
    uint64_t until = stats_of(f->ctx[i]).fleet_rounds + n;
    for (int k = 0; k < 1500 && stats_of(f->ctx[i]).fleet_rounds < until; k++) {
        assert_int_equal(alert_poll(f->ctx[i], 0), ALERT_OK);
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    assert_true(stats_of(f->ctx[i]).fleet_rounds >= until);
}

/* The fleet's record of the "Budget Crossed" step of key id in Redis ("s": sent,
 * "p|<holder>": pending; "" none). budget.c names the hash by the id's SHA-256. */
static void crossed_step(const redis_proc *r, const char *id, char *out, size_t cap)
{
    unsigned char md[32];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(id, strlen(id), md, &len, EVP_sha256(), NULL), 1);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    out[0] = '\0';
    redisReply *keys = redis_do(r, "KEYS *step:budget:*:%s:max:*", hex);
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    for (size_t k = 0; k < keys->elements; k++) {
        redisReply *v = redis_do(r, "HGET %s t100", keys->element[k]->str);
        assert_non_null(v);
        if (v->type == REDIS_REPLY_STRING)
            snprintf(out, cap, "%s", v->str);
        freeReplyObject(v);
    }
    freeReplyObject(keys);
}

static int warnings(fleet *f)
{
    return f_logged(f, "fleet: lost Redis") + f_logged(f, "unreachable") +
           f_logged(f, "lost its data") + f_logged(f, "back on");
}

/* Redis slower than usual but within fleet_timeout: the fleet decides as ever. */
static void slow_redis_within_timeout(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fproxy *p = fproxy_start(r->port);
    assert_non_null(p);
    int port = fproxy_port(p);
    fleet *f = ff_new(3, (int[]){ port, port, port });
    fproxy_set(p, FP_DELAY, 40);
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], "slow-key", 120);
    /* the claim is answered in an urgent round; Slack's shared token comes with the next
     * round, which in poll mode runs on the coordinator's real-time sync interval */
    for (int k = 0; k < 10 && f_count(f, "Budget Crossed") < 1; k++)
        f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    assert_int_equal(SUM(f, fleet_claims_won), 1);
    assert_int_equal(SUM(f, fleet_claims_lost), 2);
    assert_int_equal(SUM(f, fleet_claims_unanswered), 0);
    assert_int_equal(SUM(f, fleet_round_errors), 0);
    f_free(f);
    fproxy_stop(p);
    redis_stop(r);
}

/* Redis slower than fleet_timeout: every replica decides alone (each sends: duplicates,
 * counted), no round holds a pass much past fleet_timeout, and once Redis is quick again
 * what was sent is recorded for the fleet. */
static void slow_redis_past_timeout(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fproxy *p = fproxy_start(r->port);
    assert_non_null(p);
    int port = fproxy_port(p);
    fleet *f = ff_new(3, (int[]){ port, port, port });
    fproxy_set(p, FP_DELAY, 700);
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], "slower-key", 120);
    /* each replica alone holds a third of Slack's shared rate: a few seconds for all */
    for (int k = 0; k < 4; k++)
        f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 3);      /* never lost */
    assert_int_equal(SUM(f, fleet_claims_unanswered), 3);   /* each duplicate counted */
    assert_true(SUM(f, fleet_round_errors) >= 3);
    for (int i = 0; i < 3; i++)
        assert_true(stats_of(f->ctx[i]).fleet_round_longest_us <= 2 * FLEET_TIMEOUT_US);
    fproxy_set(p, FP_PASS, 0);
    ff_until_connected(f);
    f_advance(f, 1000);
    char v[256];
    for (int i = 0; i < f->n; i++)
        ff_rounds(f, i, 1);
    crossed_step(r, "slower-key", v, sizeof v);
    assert_string_equal(v, "s");                            /* recorded as sent */
    f_free(f);
    fproxy_stop(p);
    redis_stop(r);
}

/* Redis frozen (SIGSTOP) for seconds: hooks return at once, no round holds a pass past
 * about fleet_timeout, alerts go out (duplicates counted); after SIGCONT the fleet's
 * counters are exact and it decides as one again. */
static void frozen_redis(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = ff_new(3, (int[]){ r->port, r->port, r->port });
    f_advance(f, 100);
    assert_int_equal(kill(r->pid, SIGSTOP), 0);
    for (int i = 0; i < 3; i++) {
        observe(f->ctx[i], "frozen-key", 120);
        alert_request q;
        alert_request_init(&q, ALERT_REQUEST_VERSION);
        q.model = "gpt-4o";
        alert_req_id id;
        assert_int_equal(alert_on_request_start(f->ctx[i], &q, &id), ALERT_OK);
        alert_response resp;
        alert_response_init(&resp, ALERT_RESPONSE_VERSION);
        assert_int_equal(alert_on_request_end(f->ctx[i], id, &resp), ALERT_OK);
    }
    for (int k = 0; k < 4; k++)
        f_advance(f, 1000);                 /* several seconds of real time, frozen */
    assert_int_equal(f_count(f, "Budget Crossed"), 3);
    assert_int_equal(SUM(f, fleet_claims_unanswered), 3);
    assert_int_equal(SUM(f, fleet_claims_won) + SUM(f, fleet_claims_lost), 0);
    for (int i = 0; i < 3; i++) {
        alert_stats st = stats_of(f->ctx[i]);
        assert_int_equal(st.fleet_connected, 0);
        assert_true(st.fleet_round_longest_us <= 2 * FLEET_TIMEOUT_US);
        assert_int_equal(st.requests_started, 1);
        assert_int_equal(st.requests_inflight, 0);
    }
    int said = warnings(f);
    assert_int_equal(said, 3);              /* "lost Redis", once per replica */
    assert_int_equal(kill(r->pid, SIGCONT), 0);
    ff_until_connected(f);
    f_advance(f, 1000);
    assert_int_equal(warnings(f), said + 3);    /* "back on", once per replica */
    char v[256];
    for (int i = 0; i < f->n; i++)
        ff_rounds(f, i, 1);
    crossed_step(r, "frozen-key", v, sizeof v);
    assert_string_equal(v, "s");
    /* exact after resume: the fleet decides as one again */
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], "after-key", 120);
    for (int k = 0; k < 12 && f_count(f, "Budget Crossed") < 4; k++)
        f_advance(f, 1000);                 /* bounded: the shared token rides a real-time round */
    assert_int_equal(f_count(f, "Budget Crossed"), 4);
    assert_int_equal(SUM(f, fleet_claims_won), 1);
    assert_int_equal(SUM(f, fleet_claims_lost), 2);
    assert_int_equal(SUM(f, fleet_claims_unanswered), 3);
    assert_int_equal(SUM(f, deliveries_ok), 4);
    f_free(f);
    redis_stop(r);
}

/* Redis down, then back empty (a restart without persistence): alerts flow meanwhile,
 * one warning per replica per change (never per round), the new epoch is noticed once,
 * what was sent while down is recorded in the new Redis, and the fleet decides again. */
static void down_then_restarted_empty(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fproxy *p = fproxy_start(r->port);
    assert_non_null(p);
    int port = fproxy_port(p);
    fleet *f = ff_new(3, (int[]){ port, port, port });
    f_advance(f, 100);
    redis_stop(r);
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], "down-key", 120);
    for (int k = 0; k < 6; k++)            /* a third of Slack's rate each, while alone */
        f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 3);
    assert_int_equal(SUM(f, fleet_claims_unanswered), 3);
    int said = warnings(f);
    for (int k = 0; k < 5; k++)
        f_advance(f, 1000);
    assert_int_equal(warnings(f), said);     /* not per round */
    r = redis_start();
    fproxy_set_upstream(p, r->port);
    ff_until_connected(f);
    for (int k = 0; k < 5; k++)
        f_advance(f, 1000);
    assert_int_equal(f_logged(f, "lost its data"), 3);      /* once per replica */
    assert_int_equal(f_logged(f, "back on"), 3);
    char v[256];
    for (int i = 0; i < f->n; i++)
        ff_rounds(f, i, 1);
    crossed_step(r, "down-key", v, sizeof v);
    assert_string_equal(v, "s");            /* raised while down, recorded once back */
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], "later-key", 120);
    for (int k = 0; k < 12 && f_count(f, "Budget Crossed") < 4; k++)
        f_advance(f, 1000);                 /* bounded: the shared token rides a real-time round */
    assert_int_equal(f_count(f, "Budget Crossed"), 4);
    assert_int_equal(SUM(f, fleet_claims_won), 1);
    assert_int_equal(SUM(f, fleet_claims_lost), 2);
    for (int i = 0; i < f->n_log; i++)
        assert_null(strstr(f->log[i], "redis://"));
    f_free(f);
    fproxy_stop(p);
    redis_stop(r);
}

/* The reply to a claim is lost after Redis ran it (the proxy forwards the request and
 * swallows the answer). The replica asks again on its next connection, and the script
 * answers "won" to the holder it already recorded: one alert, by that replica, not a
 * loss (the others see it held) and not a duplicate (nothing is taken as won unasked). */
static void reply_dropped_after_apply(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fproxy *p = fproxy_start(r->port);
    assert_non_null(p);
    fleet *f = ff_new(3, (int[]){ fproxy_port(p), r->port, r->port });
    observe(f->ctx[0], "warm-key", 120);     /* loads the step scripts on its connection */
    f_advance(f, 100);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    ff_rounds(f, 0, 2);                     /* its settle goes with the next round */
    char v[256];
    crossed_step(r, "warm-key", v, sizeof v);
    assert_string_equal(v, "s");
    observe(f->ctx[0], "dropped-key", 120);
    fproxy_set(p, FP_DROP_REPLIES, 0);
    /* raises, posts the claim, and the pass's round sends it: applied, reply lost */
    assert_int_equal(alert_poll(f->ctx[0], 0), ALERT_OK);
    assert_true(fproxy_replies_dropped(p) > 0);
    crossed_step(r, "dropped-key", v, sizeof v);
    assert_non_null(strstr(v, "p|replica-0#"));          /* Redis did run it */
    alert_stats a = stats_of(f->ctx[0]);
    assert_int_equal(a.fleet_round_errors, 1);
    assert_int_equal(a.fleet_claims_won, 1);                /* the warm-up's */
    assert_int_equal(a.fleet_claims_unanswered, 0);         /* still asking */
    for (int i = 1; i < 3; i++) {
        observe(f->ctx[i], "dropped-key", 120);
        for (int k = 0; k < 3; k++)
            assert_int_equal(alert_poll(f->ctx[i], 0), ALERT_OK);
        assert_int_equal(alert_flush(f->ctx[i], 5000), ALERT_OK);
    }
    assert_int_equal(f_count(f, "Budget Crossed"), 1);     /* held for replica-0 */
    fproxy_set(p, FP_PASS, 0);
    for (int k = 0; k < 12 && f_count(f, "Budget Crossed") < 2; k++)
        f_advance(f, 1000);                 /* bounded: the shared token rides a real-time round */
    assert_int_equal(f_count(f, "Budget Crossed"), 2);
    a = stats_of(f->ctx[0]);
    assert_int_equal(a.fleet_claims_won, 2);                /* its own claim, won again */
    assert_int_equal(a.fleet_claims_unanswered, 0);
    assert_int_equal(a.deliveries_ok, 2);
    assert_int_equal(SUM(f, fleet_claims_lost), 2);
    ff_rounds(f, 0, 2);
    crossed_step(r, "dropped-key", v, sizeof v);
    assert_string_equal(v, "s");
    f_free(f);
    fproxy_stop(p);
    redis_stop(r);
}

/* One replica cut off (black-holed: its packets vanish), then healed: it decides alone
 * meanwhile (a duplicate, counted), records what it sent once healed, and the fleet then
 * decides as one. */
static void partitioned_then_healed(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fproxy *p = fproxy_start(r->port);
    assert_non_null(p);
    fleet *f = ff_new(3, (int[]){ fproxy_port(p), r->port, r->port });
    f_advance(f, 100);
    fproxy_set(p, FP_BLACKHOLE, 0);
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], "cut-key", 120);
    /* the cut one holds a third of Slack's rate; the others' shared token comes with a
     * round on the real-time sync interval: bounded, not timed */
    for (int k = 0; k < 12 && f_count(f, "Budget Crossed") < 2; k++)
        f_advance(f, 1000);
    /* the fleet's and the cut one's: two. Or one, when the cut one's claim reached Redis
     * just before the cut (then its reply is what was lost, and the others see its claim
     * held): never none */
    int sent = f_count(f, "Budget Crossed");
    assert_true(sent == 1 || sent == 2);
    assert_int_equal(stats_of(f->ctx[0]).fleet_claims_unanswered, 1);
    assert_int_equal(stats_of(f->ctx[0]).fleet_connected, 0);
    assert_int_equal(SUM(f, fleet_claims_won), (uint64_t)(sent - 1));
    assert_int_equal(SUM(f, fleet_claims_won) + SUM(f, fleet_claims_lost), 2);
    fproxy_set(p, FP_PASS, 0);
    ff_until_connected(f);
    f_advance(f, 1000);
    char v[256];
    for (int i = 0; i < f->n; i++)
        ff_rounds(f, i, 1);
    crossed_step(r, "cut-key", v, sizeof v);
    assert_string_equal(v, "s");
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], "healed-key", 120);
    for (int k = 0; k < 12 && f_count(f, "Budget Crossed") < sent + 1; k++)
        f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), sent + 1);      /* one for the fleet */
    assert_int_equal(SUM(f, fleet_claims_won), (uint64_t)sent);
    assert_int_equal(SUM(f, fleet_claims_lost), (uint64_t)(5 - sent));
    assert_int_equal(SUM(f, fleet_claims_unanswered), 1);
    f_free(f);
    fproxy_stop(p);
    redis_stop(r);
}

/* FLEET.md's configuration warnings: a Redis that may evict the fleet's keys, and a
 * replica whose config differs; each once, not per round. */
static void policy_and_fingerprint_warnings(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    freeReplyObject(redis_do(r, "CONFIG SET maxmemory-policy allkeys-lru"));
    fleet *f = ff_new(2, (int[]){ r->port, r->port });
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(f_logged(f, "maxmemory-policy allkeys-lru"), 2);
    assert_int_equal(f_logged(f, "another configuration"), 0);      /* same config */
    /* a third replica with another budget threshold list */
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_config_set_clock(cfg, f_clock, f);
    alert_config_set_log(cfg, f_log, f);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [slack]\n  alert_types: [budget_alerts]\n"
             "  alerting_args:\n    worker_threads: 0\n    slack_webhook_url: \"%s\"\n"
             "    instance_name: odd-one\n    redis_url: \"redis://127.0.0.1:%d\"\n"
             "    budget_alert_thresholds: [50, 90]\n" FAULT_ARGS, f->url, r->port);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    assert_int_equal(alert_ctx_create(&f->ctx[f->n], cfg, &err), ALERT_OK);
    f->n++;
    alert_config_free(cfg);
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(f_logged(f, "another configuration"), 1);     /* the newcomer's */
    for (int i = 0; i < f->n_log; i++)
        if (strstr(f->log[i], "another configuration"))
            assert_non_null(strstr(f->log[i], "replica-"));
    f_free(f);
    redis_stop(r);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slow_redis_within_timeout),
        cmocka_unit_test(slow_redis_past_timeout),
        cmocka_unit_test(frozen_redis),
        cmocka_unit_test(down_then_restarted_empty),
        cmocka_unit_test(reply_dropped_after_apply),
        cmocka_unit_test(partitioned_then_healed),
        cmocka_unit_test(policy_and_fingerprint_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
