/* SPDX-License-Identifier: MIT */
/* Cross-checks against implementations that are not ours: the Standard Webhooks
 * reference verifier (npm), and a real Prometheus Alertmanager reading back what
 * we posted. */
#include <curl/curl.h>
#include <fcntl.h>

#include "harness.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static void standard_webhooks_reference_verifies_us(void **state)
{
    (void)state;
    if (access("tests/node/node_modules/standardwebhooks", F_OK) != 0 || system("node --version >/dev/null 2>&1") != 0)
        fail_msg("tests/node/node_modules/standardwebhooks is missing: run scripts/deps.sh");
    /* the reference checks the timestamp against real time: this test uses the real clock */
    rcv *r = rcv_start(0);
    char url[256], yaml[1024];
    rcv_url(r, "/hook", url, sizeof url);
    snprintf(yaml, sizeof yaml, "alerting: [webhook]\nalerting_args:\n  worker_threads: 0\n"
             "  webhook_url: \"%s\"\n  webhook_secret: \"" SECRET "\"\n"
             "  webhook_alert_types: llm_exceptions\n", url);
    alert_config *cfg;
    alert_config_new(&cfg);
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    alert_ctx *ctx;
    assert_int_equal(alert_ctx_create(&ctx, cfg, NULL), ALERT_OK);
    assert_int_equal(alert_emit(ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "signed \"é\" & <ok>",
                                "{\"team\": \"search\"}"), ALERT_OK);
    assert_int_equal(alert_flush(ctx, 10000), ALERT_OK);
    assert_int_equal(rcv_count(r), 1);
    rcv_request q;
    assert_int_equal(rcv_get(r, 0, &q), 0);
    char id[64], ts[32], sig[128];
    assert_non_null(rcv_request_header(&q, "webhook-id", id, sizeof id));
    assert_non_null(rcv_request_header(&q, "webhook-timestamp", ts, sizeof ts));
    assert_non_null(rcv_request_header(&q, "webhook-signature", sig, sizeof sig));
    char body_file[] = "/tmp/libalerting-body-XXXXXX";
    int fd = mkstemp(body_file);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, q.body, q.body_len), (ssize_t)q.body_len);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "node tests/node/verify.js '%s' '%s' '%s' '%s' '%s'", SECRET, body_file, id, ts, sig);
    assert_int_equal(system(cmd), 0);
    /* and a tampered body fails there too (the check can fail) */
    fd = open(body_file, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, " ", 1), 1);
    close(fd);
    assert_true(system(cmd) != 0);
    unlink(body_file);
    rcv_request_free(&q);
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
    rcv_stop(r);
}

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    char **out = ud;
    size_t old = *out ? strlen(*out) : 0;
    *out = realloc(*out, old + s * n + 1);
    memcpy(*out + old, p, s * n);
    (*out)[old + s * n] = '\0';
    return s * n;
}

static long http_get(const char *url, char **body)
{
    *body = NULL;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void real_alertmanager_reads_back_our_alert(void **state)
{
    (void)state;
    if (access("/usr/bin/prometheus-alertmanager", X_OK) != 0)
        fail_msg("prometheus-alertmanager is missing: run scripts/deps.sh");
    char dir[] = "/tmp/libalerting-am-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char conf[128], data[128], listen[64], cfg_arg[160], data_arg[160], url[96];
    snprintf(conf, sizeof conf, "%s/am.yml", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    FILE *f = fopen(conf, "w");
    fputs("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n", f);
    fclose(f);
    int port = h_free_port();
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
    snprintf(cfg_arg, sizeof cfg_arg, "--config.file=%s", conf);
    snprintf(data_arg, sizeof data_arg, "--storage.path=%s", data);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl("/usr/bin/prometheus-alertmanager", "alertmanager", cfg_arg, data_arg, listen,
              "--cluster.listen-address=", (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    char ready[160];
    snprintf(ready, sizeof ready, "%s/-/ready", url);
    char *body = NULL;
    long st = 0;
    for (int i = 0; i < 500 && st != 200; i++) {       /* waiting for a process to start */
        free(body);
        st = http_get(ready, &body);
        if (st != 200) {
            struct timespec ts = { 0, 20 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    free(body);
    assert_int_equal(st, 200);

    harness *h = h_new(NULL);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [alertmanager]\n  alerting_args:\n"
             "    alertmanager_url: \"%s\"\n    instance_name: proxy-1\n", url);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h->now = (int64_t)time(NULL) * 1000;   /* Alertmanager keeps alerts relative to its clock */
    h_start(h);
    alert_req_id id = h_req(h, "gpt-4", "call-am", 0);
    alert_failure fl;
    alert_failure_init(&fl, ALERT_FAILURE_VERSION);
    fl.status_code = 500;
    fl.message = "upstream down";
    fl.deployment = "azure/gpt-4-eu";
    assert_int_equal(alert_on_request_failure(h->ctx, id, &fl), ALERT_OK);
    h_advance(h, 0);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 1);
    char alerts_url[160];
    snprintf(alerts_url, sizeof alerts_url, "%s/api/v2/alerts", url);
    assert_int_equal(http_get(alerts_url, &body), 200);
    json_error_t jerr;
    json_t *j = json_loads(body, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 1);
    json_t *labels = json_object_get(json_array_get(j, 0), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "alertname")), "llm_exceptions");
    assert_string_equal(json_string_value(json_object_get(labels, "severity")), "critical");
    assert_string_equal(json_string_value(json_object_get(labels, "instance")), "proxy-1");
    assert_string_equal(json_string_value(json_object_get(labels, "deployment")), "azure/gpt-4-eu");
    json_t *ann = json_object_get(json_array_get(j, 0), "annotations");
    assert_non_null(strstr(json_string_value(json_object_get(ann, "description")), "upstream down"));
    json_decref(j);
    free(body);
    h_free(h);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    h_rmdir(dir);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(standard_webhooks_reference_verifies_us),
        cmocka_unit_test(real_alertmanager_reads_back_our_alert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
