/* SPDX-License-Identifier: MIT */
/* One way back from delivery, across a crash: a daily report and a spend report are
 * pending when the process is SIGKILLed; the next process restores them from
 * state_path, and their fate settles as the first process's would have:
 *  (a) the receiver accepts: each arrives once and no second report is sent for the
 *      same window;
 *  (b) the receiver answers 400: the spend report's window is re-armed and sent again,
 *      and the daily report's failure is reported. */

#include "harness.h"

static int64_t clock_ms;
static int64_t fixed_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

static char logs[64][512];
static int n_logs;
static void keep_log(int level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    if (n_logs < 64)
        snprintf(logs[n_logs++], sizeof logs[0], "%s", msg);
}

static alert_ctx *report_ctx(int port, const char *state_path)
{
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_config_set_clock(cfg, fixed_clock, NULL);
    alert_config_set_log(cfg, keep_log, NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [slack]\n"
             "  alert_types: [daily_reports, spend_reports]\n"
             "  alerting_args:\n"
             "    worker_threads: 0\n"
             "    slack_webhook_url: \"http://127.0.0.1:%d/services/T0/B0/SECRET\"\n"
             "    state_path: \"%s\"\n"
             "    daily_report_frequency: 3600\n"
             "    shutdown_timeout: 0.1\n"
             "    http_timeout: 2\n", port, state_path);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    alert_ctx *ctx = NULL;
    int rc = alert_ctx_create(&ctx, cfg, &err);
    alert_config_free(cfg);
    if (rc != ALERT_OK)
        return NULL;
    return ctx;
}

/* The first process: traffic and spend on day one, both reports due a week later
 * while the receiver is down, then a crash. */
static void crash_with_two_reports_pending(int port, const char *path)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        clock_ms = T0;
        alert_ctx *ctx = report_ctx(port, path);
        if (!ctx)
            _exit(10);
        alert_request r;
        alert_request_init(&r, ALERT_REQUEST_VERSION);
        r.model = "gpt-4";
        r.deployment = "azure/gpt-4";
        r.api_base = "https://a.example";
        alert_req_id id;
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = 500;
        f.message = "upstream error";
        if (alert_on_request_start(ctx, &r, &id) != ALERT_OK || alert_on_request_failure(ctx, id, &f) != ALERT_OK)
            _exit(11);
        alert_spend s;
        alert_spend_init(&s, ALERT_SPEND_VERSION);
        s.cost = 12.5;
        s.team_id = s.team_alias = "search";
        s.at_ms = T0 + 1000;
        if (alert_on_spend(ctx, &s) != ALERT_OK)
            _exit(12);
        alert_poll(ctx, 0);
        clock_ms = T0 + 7 * 86400000LL + 1000;     /* a week: both reports are due */
        alert_poll(ctx, 0);
        alert_flush(ctx, 5000);                     /* refused: both wait for a retry */
        alert_stats st = ALERT_STATS_INIT;
        alert_stats_get(ctx, &st);
        if (st.queue_depth != 2 || st.deliveries_ok != 0)
            _exit(13);
        kill(getpid(), SIGKILL);
        _exit(14);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (!WIFSIGNALED(status))
        fail_msg("the first process exited with %d", WEXITSTATUS(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static int count_in(rcv *r, const char *needle, int status)
{
    int n = 0;
    for (size_t i = 0; i < rcv_count(r); i++) {
        rcv_request q;
        assert_int_equal(rcv_get(r, i, &q), 0);
        if (strstr(q.body, needle) && (status == 0 || q.answered_status == status))
            n++;
        rcv_request_free(&q);
    }
    return n;
}

static void drive(alert_ctx *ctx, int64_t step_ms, int passes)
{
    for (int i = 0; i < passes; i++) {
        clock_ms += step_ms;
        assert_int_equal(alert_poll(ctx, 0), ALERT_OK);
        assert_int_equal(alert_flush(ctx, 5000), ALERT_OK);
    }
}

static void restored_reports_accepted(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-settle-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/alerting.db", dir);
    int port = h_free_port();
    crash_with_two_reports_pending(port, path);

    rcv *r = rcv_start(port);
    assert_non_null(r);
    clock_ms = T0 + 7 * 86400000LL + 3600000;
    alert_ctx *ctx = report_ctx(port, path);
    assert_non_null(ctx);
    drive(ctx, 1000, 3);
    assert_int_equal(count_in(r, "Spend Report for", 200), 1);
    assert_int_equal(count_in(r, "daily_reports", 200), 1);
    /* a day later (the spend window is a week; the new process has no traffic): nothing
     * is sent again for the window that was delivered */
    drive(ctx, 3600000, 24);
    assert_int_equal(count_in(r, "Spend Report for", 0), 1);
    assert_int_equal(count_in(r, "daily_reports", 0), 1);
    alert_ctx_destroy(ctx);
    rcv_stop(r);
    h_rmdir(dir);
}

static void restored_reports_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-settle-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/alerting.db", dir);
    int port = h_free_port();
    crash_with_two_reports_pending(port, path);

    rcv *r = rcv_start(port);
    assert_non_null(r);
    rcv_push(r, 400, NULL, "invalid_payload");      /* both restored deliveries are refused */
    rcv_push(r, 400, NULL, "invalid_payload");
    n_logs = 0;
    clock_ms = T0 + 7 * 86400000LL + 3600000;
    alert_ctx *ctx = report_ctx(port, path);
    assert_non_null(ctx);
    drive(ctx, 1000, 3);
    assert_int_equal(count_in(r, "daily_reports", 400), 1);
    assert_int_equal(count_in(r, "Spend Report for", 400), 1);
    /* the spend report's window was re-armed, as the first process would have done:
     * it is raised again and delivered, with the same figures */
    assert_int_equal(count_in(r, "Spend Report for", 200), 1);
    assert_int_equal(count_in(r, "search", 200), 1);
    int warned = 0;
    for (int i = 0; i < n_logs; i++)
        if (strstr(logs[i], "daily report restored after a restart could not be delivered"))
            warned++;
    assert_int_equal(warned, 1);
    /* and only once */
    drive(ctx, 3600000, 24);
    assert_int_equal(count_in(r, "Spend Report for", 200), 1);
    alert_ctx_destroy(ctx);
    rcv_stop(r);
    h_rmdir(dir);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restored_reports_accepted),
        cmocka_unit_test(restored_reports_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
