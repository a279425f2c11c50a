/* SPDX-License-Identifier: MIT */
/* Every public function given NULL, a version-0 struct or a bad value returns an
 * error, never crashes; the codes and their names are stable. */
#include "harness.h"

static void codes_and_names(void **state)
{
    (void)state;
    static const struct { int code; const char *name; } want[] = {
        { 0, "ALERT_OK" }, { -1, "ALERT_ERR_NOMEM" }, { -2, "ALERT_ERR_INVALID" },
        { -3, "ALERT_ERR_VERSION" }, { -4, "ALERT_ERR_CONFIG" }, { -5, "ALERT_ERR_IO" },
        { -6, "ALERT_ERR_TRANSPORT" }, { -7, "ALERT_ERR_NOT_FOUND" }, { -8, "ALERT_ERR_FULL" },
        { -9, "ALERT_ERR_TIMEOUT" }, { -10, "ALERT_ERR_STATE" }, { -11, "ALERT_ERR_UNSUPPORTED" },
        { -12, "ALERT_ERR_CALLBACK" },
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        assert_string_equal(alert_err_name(want[i].code), want[i].name);
        assert_string_not_equal(alert_strerror(want[i].code), "unknown error");
    }
    assert_string_equal(alert_strerror(-999), "unknown error");
    assert_non_null(alert_err_name(12345));
    assert_int_equal(alert_version(), ALERT_VERSION_NUM);
    assert_string_equal(alert_version_string(), ALERT_VERSION_STRING);
    assert_int_equal(alert_global_init(), ALERT_OK);
    assert_int_equal(alert_global_init(), ALERT_OK);
    alert_global_cleanup();
    alert_global_cleanup();
    alert_global_cleanup();         /* one too many: harmless */
}

static void nulls_are_invalid(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_ctx *c = h->ctx;
    alert_request req;
    alert_request_init(&req, ALERT_REQUEST_VERSION);
    alert_req_id id;
    alert_error err = ALERT_ERROR_INIT;
    alert_transport tr = ALERT_TRANSPORT_INIT;

    assert_int_equal(alert_config_new(NULL), ALERT_ERR_INVALID);
    alert_config_free(NULL);
    alert_ctx_destroy(NULL);
    assert_int_equal(alert_config_load_file(NULL, "x", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_load_file(h->cfg, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_load_string(NULL, "a: 1", 4, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_load_string(h->cfg, NULL, 4, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set(NULL, "alerting", "[]", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set(h->cfg, NULL, "[]", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set(h->cfg, "alerting", NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set_clock(NULL, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set_log(NULL, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_add_transport(NULL, "x", &tr, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_add_transport(h->cfg, NULL, &tr, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_add_transport(h->cfg, "x", NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_ctx_create(NULL, h->cfg, &err), ALERT_ERR_INVALID);
    assert_int_equal(alert_ctx_create(&c, NULL, &err), ALERT_ERR_INVALID);
    c = h->ctx;
    assert_int_equal(alert_poll(NULL, 0), ALERT_ERR_INVALID);
    assert_int_equal(alert_flush(NULL, 0), ALERT_ERR_INVALID);
    assert_non_null(alert_ctx_last_error(NULL));
    assert_int_equal(alert_on_request_start(NULL, &req, &id), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_start(c, NULL, &id), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_start(c, &req, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_first_token(NULL, 1, 0), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_first_token(c, 0, 0), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_end(NULL, 1, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_end(c, 0, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_failure(NULL, 1, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_failure(c, 1, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_cancel(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_request_cancel(c, 0), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_spend(NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_spend(c, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_budget(c, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_set_budget(c, NULL, "1d"), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_db_error(NULL, "x"), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_db_error(c, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_spend_tracking_failure(c, "m", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_deployment_cooldown(c, NULL, "r", 5), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_fallback(c, NULL, "f", 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_on_management_event(c, NULL, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_emit(NULL, "llm_exceptions", 3, "x", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_emit(c, NULL, 3, "x", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_emit(c, "llm_exceptions", 3, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_emit(c, "no_such_type", 3, "x", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_emit(c, "llm_exceptions", 0, "x", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_emit(c, "llm_exceptions", 4, "x", NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_send_test(NULL, "slack"), ALERT_ERR_INVALID);
    assert_int_equal(alert_send_test(c, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_stats_get(NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_stats_get(c, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_request_init(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_response_init(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_failure_init(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_spend_init(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_budget_init(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_stats_init(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_error_init(NULL, 1), ALERT_ERR_INVALID);
    assert_int_equal(alert_transport_init(NULL, 1), ALERT_ERR_INVALID);
    /* an oversized message is refused, not cut */
    size_t big = 2 * 1024 * 1024;
    char *huge = malloc(big + 1);
    memset(huge, 'x', big);
    huge[big] = '\0';
    assert_int_equal(alert_emit(c, "llm_exceptions", 3, huge, NULL), ALERT_ERR_INVALID);
    free(huge);
    h_free(h);
}

static void version_zero_and_future_are_refused(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_ctx *c = h->ctx;
    alert_req_id id;
    alert_request req;
    memset(&req, 0, sizeof req);
    assert_int_equal(alert_on_request_start(c, &req, &id), ALERT_ERR_VERSION);
    req.version = ALERT_REQUEST_VERSION + 1;
    assert_int_equal(alert_on_request_start(c, &req, &id), ALERT_ERR_VERSION);
    id = h_req(h, "m", "c", 0);
    alert_response resp;
    memset(&resp, 0, sizeof resp);
    assert_int_equal(alert_on_request_end(c, id, &resp), ALERT_ERR_VERSION);
    alert_failure f;
    memset(&f, 0, sizeof f);
    assert_int_equal(alert_on_request_failure(c, id, &f), ALERT_ERR_VERSION);
    /* the refused calls changed nothing: the request is still there */
    assert_int_equal(alert_on_request_cancel(c, id), ALERT_OK);
    alert_spend s;
    memset(&s, 0, sizeof s);
    assert_int_equal(alert_on_spend(c, &s), ALERT_ERR_VERSION);
    alert_budget b;
    memset(&b, 0, sizeof b);
    assert_int_equal(alert_on_budget(c, &b), ALERT_ERR_VERSION);
    assert_int_equal(alert_set_budget(c, &b, "1d"), ALERT_ERR_VERSION);
    alert_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(alert_stats_get(c, &st), ALERT_ERR_VERSION);
    alert_transport tr;
    memset(&tr, 0, sizeof tr);
    tr.send = NULL;
    assert_int_equal(alert_config_add_transport(h->cfg, "x", &tr, NULL), ALERT_ERR_VERSION);
    assert_int_equal(alert_request_init(&req, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_request_init(&req, 99), ALERT_ERR_VERSION);
    assert_int_equal(alert_response_init(&resp, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_failure_init(&f, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_spend_init(&s, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_budget_init(&b, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_stats_init(&st, 0), ALERT_ERR_VERSION);
    alert_error e;
    assert_int_equal(alert_error_init(&e, 0), ALERT_ERR_VERSION);
    assert_int_equal(alert_transport_init(&tr, 0), ALERT_ERR_VERSION);
    h_free(h);
}

static void stale_and_forged_ids(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_req_id id = h_req(h, "m", "c", 0);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    assert_int_equal(alert_on_request_end(h->ctx, id + (1ull << 32), &resp), ALERT_ERR_NOT_FOUND);
    assert_int_equal(alert_on_request_end(h->ctx, 0xffffffffffffffffull, &resp), ALERT_ERR_NOT_FOUND);
    assert_int_equal(alert_on_request_end(h->ctx, 12345ull << 32 | 999999, &resp), ALERT_ERR_NOT_FOUND);
    assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
    h_free(h);
}

static void money_arguments_are_checked(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    alert_spend s;
    alert_spend_init(&s, ALERT_SPEND_VERSION);
    s.cost = 0.5;
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_OK);
    s.cost = -1;
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_ERR_INVALID);
    s.cost = 0.0 / 0.0;
    assert_int_equal(alert_on_spend(h->ctx, &s), ALERT_ERR_INVALID);
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.spend = 1.0 / 0.0;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_ERR_INVALID);
    b.spend = 1;
    b.max_budget = 0.0 / 0.0;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_ERR_INVALID);
    b.max_budget = 10;
    b.entity = 99;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_ERR_INVALID);
    b.entity = ALERT_ENTITY_TEAM;
    assert_int_equal(alert_set_budget(h->ctx, &b, "7x"), ALERT_ERR_INVALID);
    assert_int_equal(alert_set_budget(h->ctx, &b, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_set_budget(h->ctx, &b, "30d"), ALERT_OK);
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    h_free(h);
}

static void full_table_rejects_and_counts(void **state)
{
    (void)state;
    harness *h = h_new("    max_inflight: 5000\n");
    h_start(h);
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    alert_req_id id;
    int ok = 0, full = 0;
    for (int i = 0; i < 5001; i++) {
        int rc = alert_on_request_start(h->ctx, &r, &id);
        ok += rc == ALERT_OK;
        full += rc == ALERT_ERR_FULL;
    }
    assert_int_equal(ok, 5000);
    assert_int_equal(full, 1);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.requests_rejected, 1);
    assert_int_equal(s.requests_inflight, 5000);
    h_free(h);
}

/* Item 6: a step of the clock backwards (an NTP step) must not stall a retry for the
 * length of the step, nor let alert_flush say OK while the alert is still queued. */
static void retries_continue_after_a_clock_step_back(void **state)
{
    (void)state;
    static const int64_t steps_min[] = { 1, 10, 60 };
    for (size_t k = 0; k < sizeof steps_min / sizeof *steps_min; k++) {
        harness *h = h_new(NULL);
        h_start(h);
        rcv_push(h->rcv, 503, NULL, "busy");
        assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, "after the step", NULL),
                         ALERT_OK);
        h_advance(h, 0);
        assert_int_equal(rcv_count(h->rcv), 1);        /* the 503: a retry is planned */
        h->now -= steps_min[k] * 60000;                 /* the clock steps back */
        /* within a minute of the clock's own time, the retry goes out; each flush that
         * says OK has nothing left queued once the retry was due */
        for (int i = 0; i < 12 && rcv_count(h->rcv) < 2; i++)
            h_advance(h, 5000);
        assert_int_equal(rcv_count(h->rcv), 2);
        alert_stats s;
        h_stats(h, &s);
        assert_int_equal(s.queue_depth, 0);
        assert_int_equal(s.deliveries_ok, 1);
        /* and a new alert after the step goes out at once */
        assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, "later", NULL), ALERT_OK);
        h_advance(h, 0);
        assert_int_equal(rcv_count(h->rcv), 3);
        h_free(h);
    }
}

/* Item 17: a clock that says a time before 1970 is refused at create. */
static int64_t negative_clock(void *ud)
{
    (void)ud;
    return -5000;
}

static void negative_clock_is_refused(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    assert_int_equal(alert_config_set_clock(h->cfg, negative_clock, NULL), ALERT_OK);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_ctx_create(&h->ctx, h->cfg, &err), ALERT_ERR_CONFIG);
    assert_null(h->ctx);
    assert_non_null(strstr(err.text, "negative time"));
    /* one that goes negative later: logged as an error, nothing runs on it */
    assert_int_equal(alert_config_set_clock(h->cfg, h_clock, h), ALERT_OK);
    h_start(h);
    h->now = -1;
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    int logged = 0;
    for (int i = 0; i < h->n_log; i++)
        logged += strstr(h->log[i], "negative time") != NULL;
    assert_int_equal(logged, 1);
    assert_non_null(strstr(alert_ctx_last_error(h->ctx), "negative time"));
    h->now = T0 + 1000;     /* sane again: deliveries go on */
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, "back", NULL), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_free(h);
}

/* Item 15: callbacks run inside alert_ctx_destroy; alert_poll and alert_flush from
 * there get ALERT_ERR_STATE instead of running a worker pass in the teardown. */
typedef struct reentry {
    alert_ctx *ctx;
    int calls, refused;
} reentry;

static void log_reenters(int level, const char *msg, void *ud)
{
    reentry *r = ud;
    (void)level;
    (void)msg;
    if (!r->ctx)
        return;
    r->calls++;
    r->refused += alert_poll(r->ctx, 0) == ALERT_ERR_STATE;
    r->refused += alert_flush(r->ctx, 0) == ALERT_ERR_STATE;
}

static void destroy_refuses_reentry(void **state)
{
    (void)state;
    int port = h_free_port();       /* nothing listens: deliveries stay pending */
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    reentry r = { NULL, 0, 0 };
    assert_int_equal(alert_config_set_log(cfg, log_reenters, &r), ALERT_OK);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [slack]\n  alerting_args:\n    worker_threads: 0\n"
             "    slack_webhook_url: \"http://127.0.0.1:%d/x\"\n    shutdown_timeout: 0.1\n", port);
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    alert_ctx *ctx;
    assert_int_equal(alert_ctx_create(&ctx, cfg, NULL), ALERT_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, "pending", NULL), ALERT_OK);
    r.ctx = ctx;
    alert_ctx_destroy(ctx);         /* logs what is still pending */
    assert_true(r.calls > 0);
    assert_int_equal(r.refused, 2 * r.calls);
    alert_config_free(cfg);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_and_names),
        cmocka_unit_test(nulls_are_invalid),
        cmocka_unit_test(version_zero_and_future_are_refused),
        cmocka_unit_test(stale_and_forged_ids),
        cmocka_unit_test(money_arguments_are_checked),
        cmocka_unit_test(full_table_rejects_and_counts),
        cmocka_unit_test(retries_continue_after_a_clock_step_back),
        cmocka_unit_test(negative_clock_is_refused),
        cmocka_unit_test(destroy_refuses_reentry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
