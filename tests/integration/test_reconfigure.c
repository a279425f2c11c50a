/* alert_ctx_reconfigure: a new configuration on a running context, all or nothing.
 * Poll mode and the injected clock, except where the worker thread is the point. */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

/* A configuration for h's context: its clock and log (they cannot change live), the
 * harness's base keys, then yaml. */
static alert_config *cfg_with(harness *h, const char *yaml)
{
    alert_config *c = NULL;
    assert_int_equal(alert_config_new(&c), ALERT_OK);
    assert_int_equal(alert_config_set_clock(c, h_clock, h), ALERT_OK);
    assert_int_equal(alert_config_set_log(c, h_log, h), ALERT_OK);
    char base[1024];
    snprintf(base, sizeof base,
             "general_settings:\n"
             "  alerting: [slack]\n"
             "  alerting_threshold: 300\n"
             "  alerting_args:\n"
             "    worker_threads: 0\n"
             "    slack_webhook_url: \"%s\"\n"
             "    shutdown_timeout: 0.2\n"
             "    http_timeout: 2\n", h->url);
    alert_error err = ALERT_ERROR_INIT;
    if (alert_config_load_string(c, base, strlen(base), &err) != ALERT_OK ||
        (yaml && alert_config_load_string(c, yaml, strlen(yaml), &err) != ALERT_OK))
        fail_msg("config: %d:%d %s", err.line, err.column, err.text);
    return c;
}

static int reconfigure(harness *h, const char *yaml, alert_error *err)
{
    alert_config *c = cfg_with(h, yaml);
    int rc = alert_ctx_reconfigure(h->ctx, c, err);
    alert_config_free(c);   /* the context keeps its own copy */
    return rc;
}

static int path_count(harness *h, const char *path)
{
    int n = 0;
    for (size_t i = 0; i < rcv_count(h->rcv); i++) {
        rcv_request q;
        assert_int_equal(rcv_get(h->rcv, i, &q), 0);
        n += strcmp(q.path, path) == 0;
        rcv_request_free(&q);
    }
    return n;
}

static int logged(harness *h, const char *needle)
{
    for (int i = 0; i < h->n_log; i++)
        if (strstr(h->log[i], needle))
            return 1;
    return 0;
}

/* A request in flight under a 300 s threshold hangs 5 s after start once the threshold
 * is 5 s, and its id stays valid. */
static void test_hanging_follows_new_threshold(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_req_id id = h_req(h, "gpt-4o", "call-1", h->now);
    h_advance(h, 10000);
    assert_int_equal(rcv_count(h->rcv), 0);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, "general_settings:\n  alerting_threshold: 5\n", &err), ALERT_OK);
    h_advance(h, 100);
    assert_true(h_find(h, "Requests are hanging") >= 0);
    assert_int_equal(alert_on_request_end(h->ctx, id, NULL), ALERT_OK);
    h_free(h);
}

/* The other way: a longer threshold moves a deadline that has not come yet. */
static void test_hanging_deadline_moves_later(void **state)
{
    (void)state;
    harness *h = h_new("general_settings:\n  alerting_threshold: 5\n");
    h_start(h);
    alert_req_id id = h_req(h, "gpt-4o", "call-2", h->now);
    h_advance(h, 1000);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, "general_settings:\n  alerting_threshold: 600\n", &err), ALERT_OK);
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 0);
    h_advance(h, 540000);
    assert_true(h_find(h, "Requests are hanging") >= 0);
    assert_int_equal(alert_on_request_end(h->ctx, id, NULL), ALERT_OK);
    h_free(h);
}

/* Deliveries waiting for their batch, and one waiting for its retry, go to the new URL. */
static void test_changed_target_gets_pending(void **state)
{
    (void)state;
    harness *h = h_new("general_settings:\n  alerting_args:\n    flush_interval: 60\n");
    h_start(h);
    rcv_push(h->rcv, 503, NULL, "busy");
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "first", NULL), ALERT_OK);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    h->now += 61000;
    alert_stats s;
    for (int i = 0; i < 500; i++) {     /* answered 503: a retry waits (backoff) */
        assert_int_equal(alert_poll(h->ctx, 10), ALERT_OK);
        h_stats(h, &s);
        if (s.deliveries_retried)
            break;
    }
    assert_int_equal(s.deliveries_retried, 1);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "second", NULL), ALERT_OK);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);      /* batched, for 60 s */
    char url[256], yaml[512];
    rcv_url(h->rcv, "/new/SECRET2", url, sizeof url);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting_args:\n    flush_interval: 60\n"
             "    slack_webhook_url: \"%s\"\n", url);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, yaml, &err), ALERT_OK);
    h_advance(h, 120000);
    assert_int_equal(path_count(h, "/new/SECRET2"), 2);
    assert_int_equal(path_count(h, "/services/T000/B000/SECRETPATH"), 1);   /* the 503 only */
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 2);
    assert_int_equal(s.queue_depth, 0);
    h_free(h);
}

/* A removed destination's pending deliveries are dropped, counted and logged; the
 * others stay. */
static void test_removed_destination_dropped(void **state)
{
    (void)state;
    char wh[256], yaml[512];
    harness *h = h_new(NULL);
    rcv_url(h->rcv, "/hook", wh, sizeof wh);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [slack, webhook]\n"
             "  alerting_args:\n    flush_interval: 60\n    webhook_url: \"%s\"\n"
             "    webhook_alert_types: [llm_exceptions]\n", wh);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), &err), ALERT_OK);
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "one", NULL), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "two", NULL), ALERT_OK);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.queue_depth, 4);
    assert_int_equal(reconfigure(h, "general_settings:\n  alerting_args:\n    flush_interval: 60\n", &err),
                     ALERT_OK);
    h_stats(h, &s);
    assert_int_equal(s.deliveries_dropped, 2);
    assert_int_equal(s.queue_depth, 2);
    assert_true(logged(h, "2 pending deliveries to webhook (http://127.0.0.1:"));
    assert_true(logged(h, "dropped: the destination was removed"));
    for (int i = 0; i < h->n_log; i++)
        assert_null(strstr(h->log[i], "/hook"));     /* the URL is a secret */
    h_advance(h, 61000);
    assert_int_equal(path_count(h, "/hook"), 0);
    assert_int_equal(path_count(h, "/services/T000/B000/SECRETPATH"), 2);
    assert_int_equal(alert_send_test(h->ctx, "webhook"), ALERT_ERR_NOT_FOUND);
    h_free(h);
}

static void fail_deployment(harness *h)
{
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 503;
    f.model = "gpt-4";
    f.deployment = "azure/gpt-4-eu";
    f.provider = "azure";
    f.message = "unavailable";
    assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
}

/* An outage window survives: 3 failures before and 2 after make the 5 of a minor outage. */
static void test_outage_window_survives(void **state)
{
    (void)state;
    harness *h = h_new("general_settings:\n  alert_types: [outage_alerts]\n");
    h_start(h);
    for (int i = 0; i < 3; i++)
        fail_deployment(h);
    h_advance(h, 1000);
    assert_int_equal(rcv_count(h->rcv), 0);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, "general_settings:\n  alert_types: [outage_alerts]\n"
                                    "  alerting_args:\n    instance_name: edge-2\n", &err), ALERT_OK);
    for (int i = 0; i < 2; i++)
        fail_deployment(h);
    h_advance(h, 1000);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_free(h);
}

/* Budget marks and the spend ledger survive, as across a restart (test_money's
 * restart_keeps_marks_and_ledger), and so does the weekly report's schedule. */
static void test_marks_and_ledger_survive(void **state)
{
    (void)state;
    static const char *tags[] = { "prod", "search" };
    const char *types = "general_settings:\n  alert_types: [budget_alerts, spend_reports]\n";
    harness *h = h_new(types);
    h_start(h);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "hashed-key-1";
    b.key_alias = "prod-key";
    b.spend = 101;
    b.max_budget = 100;
    b.soft_budget = -1;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    alert_spend s;
    alert_spend_init(&s, ALERT_SPEND_VERSION);
    s.cost = 5.0;
    s.team_id = s.team_alias = "search";
    s.user_id = "u-42";
    s.tags = tags;
    s.tag_count = 2;
    s.at_ms = T0 + 1000;
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
    h_advance(h, 86400000 * 3LL);
    assert_int_equal(h_count(h, "Budget Crossed"), 1);
    char yaml[256];
    snprintf(yaml, sizeof yaml, "%s  alerting_args:\n    instance_name: edge-3\n", types);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, yaml, &err), ALERT_OK);
    b.spend = 102;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(h_count(h, "Budget Crossed"), 1);       /* the mark held: not twice */
    for (int d = 3; d < 7; d++)
        h_advance(h, 86400000);
    assert_int_equal(h_count(h, "Team: `search` | Spend: `$5.0`"), 1);   /* spent before */
    h_free(h);
}

/* PagerDuty added live: the hooks flag failures for its aggregate window from then on. */
static void test_pagerduty_added(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    rcv_set_default(h->rcv, 202, NULL, "{\"status\":\"success\"}");
    h_start(h);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.model = "gpt-4";
    f.message = "boom";
    char pd[256], yaml[512];
    rcv_url(h->rcv, "/v2/enqueue", pd, sizeof pd);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [slack, pagerduty]\n"
             "  alerting_args:\n"
             "    pagerduty_api_key: \"R0UTINGKEY0123456789abcdefabcdef\"\n"
             "    pagerduty_url: \"%s\"\n    failure_threshold: 3\n"
             "    failure_threshold_window_seconds: 60\n", pd);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    h_advance(h, 1000);
    assert_int_equal(path_count(h, "/v2/enqueue"), 0);     /* no PagerDuty yet */
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, yaml, &err), ALERT_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    h_advance(h, 1000);
    assert_int_equal(path_count(h, "/v2/enqueue"), 0);     /* the window starts empty */
    assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    h_advance(h, 1000);
    assert_int_equal(path_count(h, "/v2/enqueue"), 1);
    /* and its window keys are fixed while it stays */
    char yaml2[600];
    snprintf(yaml2, sizeof yaml2, "%s    hanging_threshold_fails: 7\n", yaml);
    assert_int_equal(reconfigure(h, yaml2, &err), ALERT_ERR_CONFIG);
    assert_string_equal(err.source, "hanging_threshold_fails");
    h_free(h);
}

/* state_path: the rows follow. A moved delivery's row names the new target, a removed
 * destination's row is deleted: the next start replays the one to the new URL only. */
static void test_spool_rows_follow(void **state)
{
    (void)state;
    char dir[] = "/tmp/alert-reconf-XXXXXX", db[128], wh[256], moved[256], yaml[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/state.db", dir);
    harness *h = h_new(NULL);
    rcv_url(h->rcv, "/hook", wh, sizeof wh);
    rcv_url(h->rcv, "/moved/SECRET4", moved, sizeof moved);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [slack, webhook]\n"
             "  alerting_args:\n    flush_interval: 60\n    webhook_url: \"%s\"\n"
             "    state_path: \"%s\"\n", wh, db);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), &err), ALERT_OK);
    rcv_set_default(h->rcv, 503, NULL, "down");
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "spooled", NULL), ALERT_OK);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting_args:\n    flush_interval: 60\n"
             "    slack_webhook_url: \"%s\"\n    state_path: \"%s\"\n", moved, db);
    assert_int_equal(reconfigure(h, yaml, &err), ALERT_OK);
    alert_ctx_destroy(h->ctx);      /* the slack delivery gets a 503 at shutdown: kept */
    h->ctx = NULL;
    assert_int_equal(path_count(h, "/hook"), 0);
    rcv_clear(h->rcv);
    rcv_set_default(h->rcv, 200, NULL, "ok");
    alert_config *c = cfg_with(h, NULL);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [slack, webhook]\n"
             "  alerting_args:\n    webhook_url: \"%s\"\n    slack_webhook_url: \"%s\"\n"
             "    state_path: \"%s\"\n", wh, moved, db);
    assert_int_equal(alert_config_load_string(c, yaml, strlen(yaml), &err), ALERT_OK);
    assert_int_equal(alert_ctx_create(&h->ctx, c, &err), ALERT_OK);
    alert_config_free(c);
    h_advance(h, 3600000);
    assert_int_equal(path_count(h, "/moved/SECRET4"), 1);
    assert_int_equal(path_count(h, "/hook"), 0);
    h_free(h);
    h_rmdir(dir);
}

/* A config alert_ctx_create would refuse changes nothing: the threshold, the target and
 * the pending delivery stay as they were. */
static void test_invalid_config_changes_nothing(void **state)
{
    (void)state;
    harness *h = h_new("general_settings:\n  alerting_args:\n    flush_interval: 60\n");
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "kept", NULL), ALERT_OK);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    alert_req_id id = h_req(h, "gpt-4o", "call-3", h->now);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, "general_settings:\n  alerting: [slack, carrier_pigeon]\n"
                                    "  alerting_threshold: 5\n", &err), ALERT_ERR_CONFIG);
    assert_string_equal(err.source, "alerting");
    assert_non_null(strstr(alert_ctx_last_error(h->ctx), "nothing was changed"));
    h_advance(h, 61000);
    assert_int_equal(path_count(h, "/services/T000/B000/SECRETPATH"), 1);
    assert_int_equal(h_find(h, "Requests are hanging"), -1);    /* still 300 s */
    assert_int_equal(alert_on_request_end(h->ctx, id, NULL), ALERT_OK);
    h_free(h);
}

/* Keys that cannot change live are refused by name; the same value is fine. */
static void test_fixed_keys_refused(void **state)
{
    (void)state;
    static const struct { const char *yaml, *key; } cases[] = {
        { "general_settings:\n  alerting_args:\n    max_inflight: 7\n", "max_inflight" },
        { "general_settings:\n  alerting_args:\n    worker_threads: 1\n", "worker_threads" },
        { "general_settings:\n  alerting_args:\n    event_queue_size: 1024\n", "event_queue_size" },
        { "general_settings:\n  alerting_args:\n    state_path: /tmp/nowhere.db\n", "state_path" },
        { "general_settings:\n  alerting_args:\n    fleet_name: other\n", "fleet_name" },
    };
    harness *h = h_new(NULL);
    h_start(h);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        alert_error err = ALERT_ERROR_INIT;
        assert_int_equal(reconfigure(h, cases[i].yaml, &err), ALERT_ERR_CONFIG);
        assert_string_equal(err.source, cases[i].key);
        assert_non_null(strstr(alert_ctx_last_error(h->ctx), cases[i].key));
    }
    /* another clock */
    alert_config *c = cfg_with(h, NULL);
    assert_int_equal(alert_config_set_clock(c, NULL, NULL), ALERT_OK);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_ctx_reconfigure(h->ctx, c, &err), ALERT_ERR_CONFIG);
    assert_string_equal(err.source, "clock");
    alert_config_free(c);
    assert_int_equal(reconfigure(h, NULL, &err), ALERT_OK);
    assert_int_equal(alert_ctx_reconfigure(h->ctx, NULL, &err), ALERT_ERR_INVALID);
    h_free(h);
}

/* alert_types and send_resolved, which the hooks read on host threads, change too. */
static void test_types_follow(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(reconfigure(h, "general_settings:\n  alert_types: [llm_too_slow]\n", &err), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "filtered", NULL), ALERT_OK);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.alerts_filtered, 1);
    h_free(h);
}

typedef struct hammer {
    harness *h;
    _Atomic int stop;
    _Atomic int calls;
} hammer;

/* A host thread in the hooks while the configuration changes under it. */
static void *hammer_main(void *arg)
{
    hammer *m = arg;
    while (!atomic_load(&m->stop)) {
        alert_request r;
        alert_request_init(&r, ALERT_REQUEST_VERSION);
        r.model = "gpt-4o";
        r.messages = "hello";
        alert_req_id id = 0;
        if (alert_on_request_start(m->h->ctx, &r, &id) == ALERT_OK)
            alert_on_request_end(m->h->ctx, id, NULL);
        alert_send_test(m->h->ctx, "slack");
        m->calls++;
    }
    return NULL;
}

/* The injected clock stands still here: Slack's default 1/s would hold back all but
 * its burst of what the hammer queued. */
#define FAST_SLACK "    rate_limits: {slack: 100000/s}\n"

/* With a worker thread the worker applies the change between two passes. */
static void test_worker_thread(void **state)
{
    (void)state;
    harness *h = h_new("general_settings:\n  alerting_args:\n    worker_threads: 1\n" FAST_SLACK);
    h_start(h);
    char url[256], yaml[512];
    rcv_url(h->rcv, "/threaded/SECRET3", url, sizeof url);
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting_args:\n    worker_threads: 1\n"
             "    slack_webhook_url: \"%s\"\n" FAST_SLACK, url);
    alert_error err = ALERT_ERROR_INIT;
    hammer m = { h, 0, 0 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hammer_main, &m), 0);
    for (int i = 0; i < 5 || (atomic_load(&m.calls) < 20 && i < 5000); i++) {
        assert_int_equal(reconfigure(h, "general_settings:\n  alerting_threshold: 1\n"
                                        "  redact_messages_in_exceptions: true\n  alerting_args:\n"
                                        "    worker_threads: 1\n    send_resolved: true\n" FAST_SLACK, &err), ALERT_OK);
        assert_int_equal(reconfigure(h, "general_settings:\n  alerting_args:\n    worker_threads: 1\n" FAST_SLACK,
                                     &err), ALERT_OK);
    }
    atomic_store(&m.stop, 1);
    pthread_join(th, NULL);
    assert_true(m.calls > 0);
    assert_int_equal(alert_flush(h->ctx, 5000), ALERT_OK);
    rcv_clear(h->rcv);
    assert_int_equal(reconfigure(h, yaml, &err), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "after", NULL), ALERT_OK);
    assert_int_equal(alert_flush(h->ctx, 5000), ALERT_OK);
    /* what the hammer left queued may ride along to the new target, never the old one */
    int at = h_find(h, "after");
    assert_true(at >= 0);
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, (size_t)at, &q), 0);
    assert_string_equal(q.path, "/threaded/SECRET3");
    rcv_request_free(&q);
    assert_int_equal(path_count(h, "/services/T000/B000/SECRETPATH"), 0);
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hanging_follows_new_threshold),
        cmocka_unit_test(test_hanging_deadline_moves_later),
        cmocka_unit_test(test_changed_target_gets_pending),
        cmocka_unit_test(test_removed_destination_dropped),
        cmocka_unit_test(test_outage_window_survives),
        cmocka_unit_test(test_marks_and_ledger_survive),
        cmocka_unit_test(test_pagerduty_added),
        cmocka_unit_test(test_spool_rows_follow),
        cmocka_unit_test(test_invalid_config_changes_nothing),
        cmocka_unit_test(test_fixed_keys_refused),
        cmocka_unit_test(test_types_follow),
        cmocka_unit_test(test_worker_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
