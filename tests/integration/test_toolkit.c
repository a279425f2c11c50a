/* SPDX-License-Identifier: MIT */
/* The operator's toolkit (issue 13): every failed call says why, a config is checked
 * without side effects, values are set literally and read back masked, metrics come as
 * Prometheus text, a poll loop knows when to call next, a config is reloaded live. */
#include <fcntl.h>

#include "harness.h"

#define LAST(h) alert_ctx_last_error((h)->ctx)

static void assert_says(harness *h, const char *needle)
{
    const char *last = LAST(h);
    if (!strstr(last, needle))
        fail_msg("last error \"%s\" does not say \"%s\"", last, needle);
}

/* Item 6: each refused call leaves a reason naming the function and what was wrong. */
static void failed_calls_say_why(void **state)
{
    (void)state;
    harness *h = h_new("    max_inflight: 1\n");
    h_start(h);
    alert_request req;
    alert_request_init(&req, ALERT_REQUEST_VERSION);
    alert_req_id id, id2;

    req.version = 0;
    assert_int_equal(alert_on_request_start(h->ctx, &req, &id), ALERT_ERR_VERSION);
    assert_says(h, "alert_on_request_start: alert_request version 0");
    req.version = ALERT_REQUEST_VERSION;
    assert_int_equal(alert_on_request_start(h->ctx, &req, &id), ALERT_OK);
    assert_int_equal(alert_on_request_start(h->ctx, &req, &id2), ALERT_ERR_FULL);
    assert_says(h, "max_inflight (1)");
    assert_int_equal(alert_on_request_end(h->ctx, id, NULL), ALERT_OK);
    char want[128];
    snprintf(want, sizeof want, "request id %llu is not in flight", (unsigned long long)id);
    assert_int_equal(alert_on_request_end(h->ctx, id, NULL), ALERT_ERR_NOT_FOUND);
    assert_says(h, want);
    assert_says(h, "alert_on_request_end");
    assert_int_equal(alert_on_request_cancel(h->ctx, id), ALERT_ERR_NOT_FOUND);
    assert_says(h, "alert_on_request_cancel");
    assert_int_equal(alert_on_first_token(h->ctx, 0, 0), ALERT_ERR_INVALID);
    assert_says(h, "request id 0");

    assert_int_equal(alert_emit(h->ctx, "llm_too_slow", 7, "m", NULL), ALERT_ERR_INVALID);
    assert_says(h, "level 7");
    assert_int_equal(alert_emit(h->ctx, "no_such_type", 1, "m", NULL), ALERT_ERR_INVALID);
    assert_says(h, "unknown alert_type \"no_such_type\"");
    assert_int_equal(alert_emit(h->ctx, "llm_too_slow", 1, "m", "[1]"), ALERT_ERR_INVALID);
    assert_says(h, "not a JSON object");
    assert_int_equal(alert_send_test(h->ctx, "discord"), ALERT_ERR_NOT_FOUND);
    assert_says(h, "\"discord\" is not in the alerting list");

    alert_spend sp = ALERT_SPEND_INIT;
    sp.cost = -1;
    assert_int_equal(alert_on_spend(h->ctx, &sp), ALERT_ERR_INVALID);
    assert_says(h, "alert_on_spend: cost -1");
    alert_budget b = ALERT_BUDGET_INIT;
    b.entity = 99;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_ERR_INVALID);
    assert_says(h, "entity 99");
    b.entity = ALERT_ENTITY_KEY;
    assert_int_equal(alert_set_budget(h->ctx, &b, "7x"), ALERT_ERR_INVALID);
    assert_says(h, "budget_duration \"7x\"");
    assert_int_equal(alert_on_deployment_cooldown(h->ctx, "d", NULL, -5), ALERT_ERR_INVALID);
    assert_says(h, "cooldown_seconds -5");
    assert_int_equal(alert_on_management_event(h->ctx, "llm_too_slow", NULL, NULL), ALERT_ERR_INVALID);
    assert_says(h, "not a management alert type");
    alert_stats st;
    st.version = 99;
    assert_int_equal(alert_stats_get(h->ctx, &st), ALERT_ERR_VERSION);
    assert_says(h, "alert_stats version 99");
    h_free(h);

    /* alert_poll on a threaded ctx */
    h = h_new("    worker_threads: 1\n");
    h_start(h);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_ERR_STATE);
    assert_says(h, "alert_poll: this context has a worker thread");
    h_free(h);
}

static int count_dir(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s | wc -l", path);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

/* Items 1: alert_config_check makes every check of alert_ctx_create and nothing else:
 * it passes while another context holds state_path, creates no file, leaves no
 * descriptor or thread behind, and refuses what create refuses with the same words. */
static void config_check_has_no_side_effects(void **state)
{
    (void)state;
    char dir[] = "/tmp/alerting-check-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yaml[512];
    snprintf(yaml, sizeof yaml, "    state_path: \"%s/state.db\"\n    insecure_skip_verify: true\n", dir);
    harness *h = h_new(yaml);
    alert_error err = ALERT_ERROR_INIT;
    int fds = count_dir("/proc/self/fd"), tasks = count_dir("/proc/self/task");
    assert_int_equal(alert_config_check(h->cfg, &err), ALERT_OK);
    assert_int_equal(count_dir(dir), 0);                        /* no state file made */
    assert_int_equal(count_dir("/proc/self/fd"), fds);
    assert_int_equal(count_dir("/proc/self/task"), tasks);
    int warned = 0;                                             /* the same warning */
    for (int i = 0; i < h->n_log; i++)
        warned |= strstr(h->log[i], "insecure_skip_verify is on") != NULL;
    assert_true(warned);
    h_start(h);                                                 /* holds state_path */
    alert_config *other;
    assert_int_equal(alert_config_new(&other), ALERT_OK);
    char doc[1024];
    snprintf(doc, sizeof doc, "general_settings:\n  alerting: [slack]\n  alerting_args:\n"
             "    slack_webhook_url: \"%s\"\n    state_path: \"%s/state.db\"\n", h->url, dir);
    assert_int_equal(alert_config_load_string(other, doc, strlen(doc), &err), ALERT_OK);
    alert_ctx *second = NULL;
    assert_int_equal(alert_ctx_create(&second, other, &err), ALERT_ERR_STATE);
    assert_int_equal(alert_config_check(other, &err), ALERT_OK);    /* while the proxy runs */
    /* what create refuses, check refuses with the same error */
    assert_int_equal(alert_config_set(other, "alerting", "[slack, nosuch]", &err), ALERT_OK);
    assert_int_equal(alert_config_set(other, "alerting_args.state_path", "null", &err), ALERT_OK);
    alert_error e1 = ALERT_ERROR_INIT, e2 = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_check(other, &e1), ALERT_ERR_CONFIG);
    assert_int_equal(alert_ctx_create(&second, other, &e2), ALERT_ERR_CONFIG);
    assert_string_equal(e1.text, e2.text);
    assert_string_equal(e1.source, e2.source);
    snprintf(doc, sizeof doc, "%s/no/such/dir/state.db", dir);
    assert_int_equal(alert_config_set(other, "alerting", "[slack]", &err), ALERT_OK);
    assert_int_equal(alert_config_set_string(other, "alerting_args.state_path", doc, &err), ALERT_OK);
    assert_int_equal(alert_config_check(other, &e1), ALERT_ERR_IO);
    assert_string_equal(e1.source, "state_path");
    assert_int_equal(alert_config_check(NULL, &e1), ALERT_ERR_INVALID);
    alert_config_free(other);
    h_free(h);
    h_rmdir(dir);
}

/* Item 3: set_string stores values YAML would change or refuse; get reads them back as
 * flow YAML with secrets masked; a short buffer says how much it needs. */
static void set_string_and_get(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    alert_error err = ALERT_ERROR_INIT;
    char buf[256];
    size_t need = 0;
    static const struct { const char *in, *out; } lit[] = {
        { "edge #3", "\"edge #3\"" }, { "!prod", "\"!prod\"" }, { "[my-secret", "\"[my-secret\"" },
        { "p@ss: word", "\"p@ss: word\"" }, { "null", "\"null\"" }, { "say \"hi\"", "\"say \\\"hi\\\"\"" },
    };
    for (size_t i = 0; i < sizeof lit / sizeof *lit; i++) {
        assert_int_equal(alert_config_set_string(h->cfg, "instance_name", lit[i].in, &err), ALERT_OK);
        assert_int_equal(alert_config_get(h->cfg, "alerting_args.instance_name", buf, sizeof buf, &need),
                         ALERT_OK);
        assert_string_equal(buf, lit[i].out);
        assert_int_equal(need, strlen(lit[i].out) + 1);
    }
    /* the YAML setter changes the same text: the reason set_string exists */
    assert_int_equal(alert_config_set(h->cfg, "instance_name", "edge #3", &err), ALERT_OK);
    assert_int_equal(alert_config_get(h->cfg, "instance_name", buf, sizeof buf, NULL), ALERT_OK);
    assert_string_equal(buf, "\"edge\"");
    /* typed keys still take their text */
    assert_int_equal(alert_config_set_string(h->cfg, "alerting_threshold", "12.5", &err), ALERT_OK);
    assert_int_equal(alert_config_get(h->cfg, "alerting_threshold", buf, sizeof buf, NULL), ALERT_OK);
    assert_string_equal(buf, "12.5");
    assert_int_equal(alert_config_set_string(h->cfg, "max_queue", "many", &err), ALERT_ERR_CONFIG);
    /* secrets are masked: a password whole, a webhook URL down to its host */
    assert_int_equal(alert_config_set_string(h->cfg, "smtp_password", "p@ss: word", &err), ALERT_OK);
    assert_int_equal(alert_config_get(h->cfg, "smtp_password", buf, sizeof buf, NULL), ALERT_OK);
    assert_string_equal(buf, "\"***\"");
    assert_int_equal(alert_config_get(h->cfg, "slack_webhook_url", buf, sizeof buf, NULL), ALERT_OK);
    assert_null(strstr(buf, "SECRETPATH"));
    assert_non_null(strstr(buf, "http://127.0.0.1:"));
    assert_int_equal(alert_config_get(h->cfg, "alerting", buf, sizeof buf, NULL), ALERT_OK);
    assert_string_equal(buf, "[\"slack\"]");
    assert_int_equal(alert_config_get(h->cfg, "worker_threads", buf, sizeof buf, NULL), ALERT_OK);
    assert_string_equal(buf, "0");
    assert_int_equal(alert_config_get(h->cfg, "send_resolved", buf, sizeof buf, NULL), ALERT_OK);
    assert_string_equal(buf, "false");
    /* the whole configuration, and a buffer too small for it */
    assert_int_equal(alert_config_get(h->cfg, "general_settings", buf, 8, &need), ALERT_ERR_FULL);
    assert_true(need > 8);
    assert_int_equal(strlen(buf), 7);
    char *all = malloc(need);
    assert_non_null(all);
    assert_int_equal(alert_config_get(h->cfg, "general_settings", all, need, NULL), ALERT_OK);
    assert_int_equal(strlen(all) + 1, need);
    assert_null(strstr(all, "SECRETPATH"));
    assert_null(strstr(all, "p@ss"));
    assert_non_null(strstr(all, "alerting_args: {"));
    free(all);
    assert_int_equal(alert_config_get(h->cfg, "no_such_key", buf, sizeof buf, NULL), ALERT_ERR_NOT_FOUND);
    assert_int_equal(alert_config_get(h->cfg, "budgets", buf, sizeof buf, NULL), ALERT_ERR_UNSUPPORTED);
    assert_int_equal(alert_config_get(NULL, "alerting", buf, sizeof buf, NULL), ALERT_ERR_INVALID);
    assert_int_equal(alert_config_set_string(h->cfg, "instance_name", NULL, &err), ALERT_ERR_INVALID);
    h_free(h);
}

/* Runs build/alerting-check with args; its output in out, its exit status returned. */
static int run_tool(const char *args, char *out, size_t n)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "build/alerting-check %s 2>&1", args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Item 2: alerting-check FILE, --print, --send-test. */
static void alerting_check_program(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    char path[] = "/tmp/alerting-check-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    char doc[1024];
    int n = snprintf(doc, sizeof doc, "general_settings:\n  alerting: [slack]\n  alerting_treshold: 10\n"
                     "  alerting_args:\n    slack_webhook_url: \"%s\"\n    smtp_password: \"hunter2\"\n"
                     "    instance_name: \"edge #3\"\n", h->url);
    assert_int_equal(write(fd, doc, (size_t)n), n);
    close(fd);
    char out[16384], args[512];
    snprintf(args, sizeof args, "%s", path);
    assert_int_equal(run_tool(args, out, sizeof out), 0);       /* warnings allowed */
    char want[600];
    snprintf(want, sizeof want, "%s:3:3: general_settings.alerting_treshold: warning:", path);
    if (!strstr(out, want))
        fail_msg("no \"%s\" in:\n%s", want, out);
    snprintf(args, sizeof args, "--print %s", path);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "    instance_name: \"edge #3\"\n"));
    assert_non_null(strstr(out, "  alerting: [\"slack\"]\n"));             /* as given */
    assert_non_null(strstr(out, "    batch_size: 512\n"));                /* a default */
    assert_null(strstr(out, "SECRETPATH"));
    assert_null(strstr(out, "hunter2"));
    /* --send-test: one test alert through the real receiver */
    snprintf(args, sizeof args, "--send-test slack %s", path);
    assert_int_equal(run_tool(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "slack: send-test: delivered"));
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_set_default(h->rcv, 404, NULL, "no_team");
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "slack: send-test: not delivered"));
    assert_null(strstr(out, "SECRETPATH"));
    snprintf(args, sizeof args, "--send-test discord %s", path);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "\"discord\" is not in the alerting list"));
    /* an invalid file: exit 1 and the error with its position */
    fd = open(path, O_WRONLY | O_TRUNC);
    n = snprintf(doc, sizeof doc, "general_settings:\n  alerting: [slack, nosuch]\n  alerting_args:\n"
                 "    slack_webhook_url: \"%s\"\n", h->url);
    assert_int_equal(write(fd, doc, (size_t)n), n);
    close(fd);
    snprintf(args, sizeof args, "%s", path);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    assert_non_null(strstr(out, ": alerting: error: unknown destination 'nosuch'"));
    fd = open(path, O_WRONLY | O_TRUNC);
    static const char broken[] = "general_settings:\n  alerting: [slack\n";
    assert_int_equal(write(fd, broken, sizeof broken - 1), (ssize_t)sizeof broken - 1);
    close(fd);
    assert_int_equal(run_tool(args, out, sizeof out), 1);
    snprintf(want, sizeof want, "%s:3:1: -: error: malformed YAML", path);
    assert_non_null(strstr(out, want));
    unlink(path);
    h_free(h);
}

/* Item 5: Prometheus text of every counter, per target in display form, accepted by
 * promtool. */
static void metrics_in_prometheus_text(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "llm_too_slow", ALERT_LEVEL_MEDIUM, "slow", NULL), ALERT_OK);
    h_advance(h, 1000);
    assert_int_equal(rcv_count(h->rcv), 1);
    size_t need = 0;
    assert_int_equal(alert_metrics_format(h->ctx, ALERT_METRICS_PROMETHEUS, NULL, 0, &need), ALERT_ERR_FULL);
    char *text = malloc(need);
    assert_non_null(text);
    assert_int_equal(alert_metrics_format(h->ctx, ALERT_METRICS_PROMETHEUS, text, need, NULL), ALERT_OK);
    assert_int_equal(strlen(text) + 1, need);
    char want[256];
    snprintf(want, sizeof want, "alerting_target_deliveries_total{destination=\"slack\","
             "target=\"http://127.0.0.1:%d\",outcome=\"ok\"} 1\n", rcv_port(h->rcv));
    if (!strstr(text, want))
        fail_msg("no %s in:\n%s", want, text);
    assert_non_null(strstr(text, "alerting_alerts_total{type=\"llm_too_slow\"} 1\n"));
    assert_non_null(strstr(text, "alerting_deliveries_ok_total 1\n"));
    assert_non_null(strstr(text, "alerting_target_dead{destination=\"slack\""));
    assert_null(strstr(text, "SECRETPATH"));
    snprintf(want, sizeof want, "alerting_target_last_success_timestamp_seconds{destination=\"slack\","
             "target=\"http://127.0.0.1:%d\"} %lld.%03d\n", rcv_port(h->rcv),
             (long long)(h->now / 1000), (int)(h->now % 1000));
    assert_non_null(strstr(text, want));
    /* promtool (Debian's prometheus) accepts it */
    char path[] = "/tmp/alerting-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, need - 1), (ssize_t)need - 1);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    int st = system(cmd);
    unlink(path);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* a short buffer: cut, NUL-terminated, and the size needed */
    char small[16];
    assert_int_equal(alert_metrics_format(h->ctx, ALERT_METRICS_PROMETHEUS, small, sizeof small, &need),
                     ALERT_ERR_FULL);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(alert_metrics_format(h->ctx, 2, text, need, NULL), ALERT_ERR_UNSUPPORTED);
    assert_says(h, "format 2");
    free(text);
    h_free(h);
}

static void count_wake(void *ud)
{
    (*(int *)ud)++;
}

/* Item 7: without a worker thread the host learns when to poll next and is woken when a
 * hook queues work; a loop driven by alert_poll_timeout alone delivers a hanging alert. */
static void poll_timeout_and_wakeup(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    int wakes = 0;
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_set(h->cfg, "alerting_threshold", "10", &err), ALERT_OK);
    assert_int_equal(alert_config_set_wakeup(h->cfg, count_wake, &wakes), ALERT_OK);
    h_start(h);
    int32_t t = -1;
    assert_int_equal(alert_poll_timeout(h->ctx, &t), ALERT_OK);
    assert_int_equal(t, 1000);                      /* idle: once a second */
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "one", NULL), ALERT_OK);
    assert_int_equal(wakes, 1);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "two", NULL), ALERT_OK);
    assert_int_equal(wakes, 1);                     /* once per wake */
    assert_int_equal(alert_poll_timeout(h->ctx, &t), ALERT_OK);
    assert_int_equal(t, 0);                         /* work waits */
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    assert_int_equal(alert_flush(h->ctx, 5000), ALERT_OK);
    size_t before = rcv_count(h->rcv);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "three", NULL), ALERT_OK);
    assert_int_equal(wakes, 2);                     /* a new wake after the poll */
    assert_int_equal(alert_flush(h->ctx, 5000), ALERT_OK);

    /* a request in flight: the wait is at most the wheel's tick (threshold / 100) */
    alert_req_id id = h_req(h, "gpt-4o", "call-1", 0);
    assert_int_equal(alert_poll_timeout(h->ctx, &t), ALERT_OK);
    assert_true(t >= 0 && t <= 100);
    /* the loop of examples/poll_loop.c, on the injected clock: wait what it says, poll */
    before = rcv_count(h->rcv);
    int64_t start = h->now;
    for (int i = 0; i < 2000 && rcv_count(h->rcv) == before; i++) {
        assert_int_equal(alert_poll_timeout(h->ctx, &t), ALERT_OK);
        assert_true(t >= 0 && t <= 1000);
        h->now += t;
        assert_int_equal(alert_poll(h->ctx, t > 0 ? t : 1), ALERT_OK);
    }
    assert_true(rcv_count(h->rcv) > before);
    assert_true(h_find(h, "llm_requests_hanging") >= 0 || h_find(h, "hanging") >= 0);
    assert_true(h->now - start >= 10000);           /* not before the threshold */
    assert_true(h->now - start <= 10000 + 5000 + 1000 + 100);   /* threshold + flush_interval */
    alert_on_request_cancel(h->ctx, id);
    assert_int_equal(alert_poll_timeout(h->ctx, NULL), ALERT_ERR_INVALID);
    h_free(h);

    h = h_new("    worker_threads: 1\n");
    h_start(h);
    assert_int_equal(alert_poll_timeout(h->ctx, &t), ALERT_ERR_STATE);
    assert_says(h, "worker thread");
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_calls_say_why),
        cmocka_unit_test(config_check_has_no_side_effects),
        cmocka_unit_test(set_string_and_get),
        cmocka_unit_test(alerting_check_program),
        cmocka_unit_test(metrics_in_prometheus_text),
        cmocka_unit_test(poll_timeout_and_wakeup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
