/* SPDX-License-Identifier: MIT */
/* Fleet mode, deliveries (libalerting-fleet(7), "Pending deliveries"), against a real
 * redis-server and the real loopback receiver: one rate limit and one Retry-After block for the whole fleet;
 * a replica's pending deliveries adopted by the others when it is killed. */

#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>

#include "fleet.h"

/* Requests received so far. */
static size_t arrivals(fleet *f)
{
    return rcv_count(f->rcv);
}

/* Alerts whose marker is in a body (a throttled Slack target packs several per post). */
static int delivered(fleet *f, int n)
{
    int all = 1;
    for (int k = 0; k < n; k++) {
        char marker[32];
        snprintf(marker, sizeof marker, "[r%02d]", k);
        if (f_count(f, marker) == 0)
            all = 0;
    }
    return all;
}

/* Slack at its default 1/s, burst 3, 60 alerts from 3 replicas: on the (injected)
 * timeline of arrivals, no window of length L holds more than 3 + L x 1/s posts;
 * every alert arrives. Alone, each replica would post its own burst of 3 at once. */
static void slack_rate_is_shared_by_the_fleet(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "db_exceptions", NULL);
    enum { STEPS = 1200, STEP_MS = 100 };
    static int64_t at[STEPS];
    static int n_at[STEPS];
    int steps = 0;
    size_t seen = 0;
    int emitted = 0;
    while (steps < STEPS) {
        /* each replica raises one alert a second: 3/s offered to a 1/s target */
        for (int i = 0; i < 3 && emitted < 60 && steps % 10 == 0; i++, emitted++) {
            char text[32];
            snprintf(text, sizeof text, "[r%02d]", emitted);
            assert_int_equal(alert_emit(f->ctx[i], "db_exceptions", ALERT_LEVEL_HIGH, text, NULL),
                             ALERT_OK);
        }
        f_advance(f, STEP_MS);
        size_t now = arrivals(f);
        at[steps] = f->now;
        n_at[steps++] = (int)(now - seen);
        seen = now;
        if (delivered(f, 60))
            break;
    }
    assert_true(delivered(f, 60));
    assert_true(seen >= 10);                /* the burst, then the rate */
    for (int i = 0; i < steps; i++) {
        int sum = 0;
        for (int j = i; j < steps; j++) {
            sum += n_at[j];
            int64_t allowed = 3 + (at[j] - at[i]) / 1000;
            if (sum > allowed)
                fail_msg("%d posts between +%lld ms and +%lld ms: more than the shared 1/s "
                         "(burst 3) allows", sum, (long long)(at[i] - T0), (long long)(at[j] - T0));
        }
    }
    f_free(f);
    redis_stop(r);
}

/* One replica is answered 429 with Retry-After: 5: the others hold that target too until
 * it passes, then everything arrives. */
static void retry_after_holds_every_replica(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "db_exceptions", NULL);
    rcv_push(f->rcv, 429, "Retry-After: 5\r\n", "rate_limited");
    assert_int_equal(alert_emit(f->ctx[0], "db_exceptions", ALERT_LEVEL_HIGH, "[r00]", NULL),
                     ALERT_OK);
    f_advance(f, 100);
    assert_int_equal(arrivals(f), 1);       /* refused: the fleet holds for 5 s */
    int64_t refused_at = f->now;
    assert_int_equal(alert_emit(f->ctx[1], "db_exceptions", ALERT_LEVEL_HIGH, "[r01]", NULL),
                     ALERT_OK);
    assert_int_equal(alert_emit(f->ctx[2], "db_exceptions", ALERT_LEVEL_HIGH, "[r02]", NULL),
                     ALERT_OK);
    while (f->now + 200 < refused_at + 5000) {
        f_advance(f, 200);
        if (arrivals(f) != 1)
            fail_msg("a replica posted %lld ms after the 429, inside its Retry-After of 5 s",
                     (long long)(f->now - refused_at));
    }
    for (int i = 0; i < 100 && !delivered(f, 3); i++)
        f_advance(f, 200);
    assert_true(delivered(f, 3));
    f_free(f);
    redis_stop(r);
}

/* ---- a replica killed with 1 000 pending deliveries ----------------------------------- */

static _Atomic int64_t kill_clock_ms = T0;     /* read by the worker threads too */

static int64_t kill_clock(void *ud)
{
    (void)ud;
    return atomic_load(&kill_clock_ms);
}

static _Atomic int copies_dropped_logged;

static void kill_log(int level, const char *msg, void *ud)
{
    (void)ud;
    if (strstr(msg, "its own copies are dropped"))
        copies_dropped_logged++;
    if (getenv("FLEET_TEST_LOG"))
        fprintf(stderr, "[%d] %d %s\n", (int)getpid(), level, msg);
}

static alert_ctx *webhook_replica(int port, int redis_port, int threads)
{
    alert_config *cfg;
    if (alert_config_new(&cfg) != ALERT_OK)
        return NULL;
    alert_config_set_clock(cfg, kill_clock, NULL);
    alert_config_set_log(cfg, kill_log, NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "alerting: [webhook]\n"
             "alerting_args:\n  worker_threads: %d\n  webhook_url: \"http://127.0.0.1:%d/hook\"\n"
             "  shutdown_timeout: 0.1\n  http_timeout: 2\n"
             "  redis_url: \"redis://127.0.0.1:%d\"\n  fleet_timeout: 2\n"
             "  fleet_sync_interval: 0.1\n  fleet_takeover_after: 1\n"
             "  webhook_alert_types: [db_exceptions]\n", threads, port, redis_port);
    alert_ctx *ctx = NULL;
    alert_error err = ALERT_ERROR_INIT;
    if (alert_config_load_string(cfg, yaml, strlen(yaml), &err) == ALERT_OK)
        alert_ctx_create(&ctx, cfg, &err);
    alert_config_free(cfg);
    return ctx;
}

/* Rows mirrored by all replicas (the test's own look into Redis). */
static long long mirrored(const redis_proc *r)
{
    redisReply *keys = redis_do(r, "KEYS {alerting:default}:outbox:*");
    long long n = 0;
    for (size_t i = 0; keys && i < keys->elements; i++) {
        redisReply *len = redis_do(r, "HLEN %s", keys->element[i]->str);
        n += len ? len->integer : 0;
        freeReplyObject(len);
    }
    freeReplyObject(keys);
    return n;
}

static void killed_replica_is_adopted(int threads)
{
    redis_proc *r = redis_start();
    int port = h_free_port();               /* nothing listens there yet: the receiver is down */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        alert_ctx *ctx = webhook_replica(port, r->port, 0);
        if (!ctx)
            _exit(10);
        for (int i = 0; i < 1000; i++) {
            char text[32];
            snprintf(text, sizeof text, "pending #%d", i);
            if (alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, text, NULL) != ALERT_OK)
                _exit(11);
        }
        /* every attempt is refused; the rows reach Redis within a few rounds */
        for (int i = 0; i < 2000 && mirrored(r) < 1000; i++) {
            alert_poll(ctx, 0);
            alert_flush(ctx, 50);
        }
        if (mirrored(r) != 1000)
            _exit(12);
        alert_stats s = ALERT_STATS_INIT;
        alert_stats_get(ctx, &s);
        if (s.queue_depth != 1000 || s.deliveries_ok != 0)
            _exit(13);
        if (write(ready[1], "k", 1) != 1)
            _exit(14);
        for (;;)
            alert_poll(ctx, 10);            /* alive, heartbeating, until killed */
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    kill(child, SIGKILL);                   /* no destroy, no handover: a crash */
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));

    rcv *rv = rcv_start(port);              /* the receiver is up now */
    assert_non_null(rv);
    alert_ctx *ctx[2];
    for (int i = 0; i < 2; i++)
        assert_non_null(ctx[i] = webhook_replica(port, r->port, threads));
    /* the dead replica's heartbeat expires after fleet_takeover_after (1 s of Redis's
     * time); the replicas run until every delivery arrived, bounded in real time */
    struct timespec t0, tn;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    alert_stats s0 = ALERT_STATS_INIT, s1 = ALERT_STATS_INIT;
    for (;;) {
        kill_clock_ms += 200;
        for (int i = 0; i < 2; i++) {
            if (!threads)
                alert_poll(ctx[i], 0);
            alert_flush(ctx[i], 100);
        }
        alert_stats_get(ctx[0], &s0);
        alert_stats_get(ctx[1], &s1);
        if (s0.deliveries_ok + s1.deliveries_ok >= 1000 && s0.queue_depth + s1.queue_depth == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &tn);
        if (tn.tv_sec - t0.tv_sec > 120)
            fail_msg("after 120 s: %llu + %llu delivered", (unsigned long long)s0.deliveries_ok,
                     (unsigned long long)s1.deliveries_ok);
        struct timespec pause = { 0, 20 * 1000000L };   /* Redis's clock must run: 1 s */
        nanosleep(&pause, NULL);
    }
    size_t n = rcv_count(rv);
    assert_true(n >= 1000);
    char *seen = calloc(1000, 1);
    char (*keys)[40] = calloc(1000, 40);
    for (size_t i = 0; i < n; i++) {
        rcv_request q;
        assert_int_equal(rcv_get(rv, i, &q), 0);
        json_t *j = json_loads(q.body, 0, NULL);
        assert_non_null(j);
        int k = -1;
        assert_int_equal(sscanf(json_string_value(json_object_get(j, "event_message")),
                                "pending #%d", &k), 1);
        assert_true(k >= 0 && k < 1000);
        char id[64];
        assert_non_null(rcv_request_header(&q, "webhook-id", id, sizeof id));
        if (seen[k])
            assert_string_equal(keys[k], id);  /* a duplicate carries the same key */
        seen[k] = 1;
        snprintf(keys[k], 40, "%.39s", id);
        json_decref(j);
        rcv_request_free(&q);
    }
    for (int k = 0; k < 1000; k++)
        if (!seen[k])
            fail_msg("pending #%d was lost with its replica", k);
    free(seen);
    free(keys);
    for (int i = 0; i < 2; i++)
        alert_ctx_destroy(ctx[i]);
    assert_int_equal(mirrored(r), 0);       /* delivered means forgotten by the fleet too */
    rcv_stop(rv);
    redis_stop(r);
}

static void sigkilled_replica_1000_pending_adopted(void **state)
{
    (void)state;
    killed_replica_is_adopted(0);
}

/* The same with a worker thread and a coordinator thread per replica (ThreadSanitizer). */
static void sigkilled_replica_adopted_threaded(void **state)
{
    (void)state;
    killed_replica_is_adopted(1);
}

/* A replica that leaves cleanly hands over what it could not deliver: another adopts it
 * at once, without waiting for fleet_takeover_after. */
static void destroyed_replica_hands_over(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    int port = h_free_port();
    alert_ctx *leaving = webhook_replica(port, r->port, 0);
    assert_non_null(leaving);
    for (int i = 0; i < 10; i++) {
        char text[32];
        snprintf(text, sizeof text, "pending #%d", i);
        assert_int_equal(alert_emit(leaving, "db_exceptions", ALERT_LEVEL_HIGH, text, NULL), ALERT_OK);
    }
    alert_poll(leaving, 0);
    alert_flush(leaving, 200);
    alert_ctx_destroy(leaving);
    assert_int_equal(mirrored(r), 10);
    rcv *rv = rcv_start(port);
    assert_non_null(rv);
    alert_ctx *ctx = webhook_replica(port, r->port, 0);
    assert_non_null(ctx);
    alert_stats s = ALERT_STATS_INIT;
    for (int i = 0; i < 200 && s.deliveries_ok < 10; i++) {
        kill_clock_ms += 1000;
        alert_poll(ctx, 0);
        alert_flush(ctx, 100);
        alert_stats_get(ctx, &s);
    }
    assert_int_equal(s.deliveries_ok, 10);
    assert_int_equal(s.fleet_deliveries_adopted, 10);   /* alert_stats says who sent them */
    alert_ctx_destroy(ctx);
    assert_int_equal(mirrored(r), 0);
    rcv_stop(rv);
    redis_stop(r);
}

/* A replica that stalls (no pass, so no heartbeat) past fleet_takeover_after with pending
 * deliveries is adopted: another replica sends its rows. When the stalled one comes back
 * it drops its copies instead of sending them again, and says so. */
static void stalled_replica_drops_adopted_copies(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    int port = h_free_port();               /* the receiver is down */
    alert_ctx *a = webhook_replica(port, r->port, 0);
    assert_non_null(a);
    for (int i = 0; i < 10; i++) {
        char text[32];
        snprintf(text, sizeof text, "pending #%d", i);
        assert_int_equal(alert_emit(a, "db_exceptions", ALERT_LEVEL_HIGH, text, NULL), ALERT_OK);
    }
    for (int i = 0; i < 500 && mirrored(r) < 10; i++) {
        alert_poll(a, 0);
        alert_flush(a, 20);
    }
    assert_int_equal(mirrored(r), 10);
    alert_stats sa = ALERT_STATS_INIT, sb = ALERT_STATS_INIT;
    alert_stats_get(a, &sa);
    assert_int_equal(sa.queue_depth, 10);
    copies_dropped_logged = 0;
    assert_int_equal(sa.deliveries_ok, 0);
    /* a stalls; b adopts its rows once a's heartbeat is gone (1 s of Redis's time) */
    alert_ctx *b = webhook_replica(port, r->port, 0);
    assert_non_null(b);
    for (int i = 0; i < 500 && sb.fleet_deliveries_adopted < 10; i++) {
        kill_clock_ms += 200;
        alert_poll(b, 0);
        alert_flush(b, 20);
        alert_stats_get(b, &sb);
        struct timespec pause = { 0, 20 * 1000000L };   /* Redis's clock must run: 1 s */
        nanosleep(&pause, NULL);
    }
    assert_int_equal(sb.fleet_deliveries_adopted, 10);
    rcv *rv = rcv_start(port);              /* the receiver is up: b delivers */
    assert_non_null(rv);
    for (int i = 0; i < 500 && sb.deliveries_ok < 10; i++) {
        kill_clock_ms += 1000;
        alert_poll(b, 0);
        alert_flush(b, 50);
        alert_stats_get(b, &sb);
    }
    assert_int_equal(sb.deliveries_ok, 10);
    assert_int_equal(rcv_count(rv), 10);
    /* a comes back, its retries long due: it drops its copies, it does not send them */
    for (int i = 0; i < 50; i++) {
        kill_clock_ms += 1000;
        alert_poll(a, 0);
        alert_flush(a, 50);
        alert_poll(b, 0);
        alert_flush(b, 50);
    }
    alert_stats_get(a, &sa);
    assert_int_equal(rcv_count(rv), 10);
    assert_int_equal(sa.deliveries_ok, 0);
    assert_int_equal(sa.queue_depth, 0);
    assert_int_equal(sa.fleet_deliveries_adopted, 0);
    assert_int_equal(copies_dropped_logged, 1);     /* a says so, once */
    alert_ctx_destroy(a);
    alert_ctx_destroy(b);
    assert_int_equal(mirrored(r), 0);
    rcv_stop(rv);
    redis_stop(r);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slack_rate_is_shared_by_the_fleet),
        cmocka_unit_test(retry_after_holds_every_replica),
        cmocka_unit_test(sigkilled_replica_1000_pending_adopted),
        cmocka_unit_test(sigkilled_replica_adopted_threaded),
        cmocka_unit_test(destroyed_replica_hands_over),
        cmocka_unit_test(stalled_replica_drops_adopted_copies),
    };
#ifdef FLEET_TSAN_ONLY
    cmocka_set_test_filter("*_threaded");   /* make tsan: the run with threads */
#endif
    return cmocka_run_group_tests(tests, NULL, NULL);
}
