/* SPDX-License-Identifier: MIT */
/* Every destination against real servers on loopback: Discord, Teams, signed
 * webhooks, PagerDuty, Alertmanager's API, e-mail through a real SMTP server. */
#include <openssl/evp.h>
#include <openssl/params.h>

#include "harness.h"

static void emit(harness *h, const char *type, const char *text)
{
    assert_int_equal(alert_emit(h->ctx, type, ALERT_LEVEL_HIGH, text, NULL), ALERT_OK);
}

static json_t *body_json(harness *h, size_t i, rcv_request *q)
{
    assert_int_equal(rcv_get(h->rcv, i, q), 0);
    json_error_t jerr;
    json_t *j = json_loads(q->body, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s", q->body);
    return j;
}

static void discord_native_and_slack_compatible(void **state)
{
    (void)state;
    harness *h = h_dest("discord", "discord_webhook_url", "/api/webhooks/1/tok", NULL);
    rcv_set_default(h->rcv, 204, NULL, "");
    h_start(h);
    emit(h, "db_exceptions", "<@everyone> DB & cache down");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(q.path, "/api/webhooks/1/tok?wait=true");
    const char *content = json_string_value(json_object_get(j, "content"));
    /* plain, not escaped; the mention broken with a zero-width space (issue 9, item 3) */
    assert_non_null(strstr(content, "Message: <\xE2\x80\x8B" "@\xE2\x80\x8B" "everyone> DB & cache down"));
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "allowed_mentions"), "parse")), 0);
    json_decref(j);
    rcv_request_free(&q);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 1);
    h_free(h);

    h = h_dest("discord", "discord_webhook_url", "/api/webhooks/1/tok/slack", NULL);
    h_start(h);
    emit(h, "db_exceptions", "compat");
    h_advance(h, 0);
    j = body_json(h, 0, &q);
    assert_string_equal(q.path, "/api/webhooks/1/tok/slack");
    assert_non_null(json_object_get(j, "text"));
    json_decref(j);
    rcv_request_free(&q);
    h_free(h);
}

static void discord_retry_after_in_json(void **state)
{
    (void)state;
    harness *h = h_dest("discord", "discord_webhook_url", "/api/webhooks/2/tok", NULL);
    rcv_push(h->rcv, 429, "Content-Type: application/json\r\n",
             "{\"message\": \"You are being rate limited.\", \"retry_after\": 3.5, \"global\": false}");
    rcv_set_default(h->rcv, 204, NULL, "");
    h_start(h);
    emit(h, "db_exceptions", "later");
    h_advance(h, 0);
    h_advance(h, 3499);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_advance(h, 1);
    assert_int_equal(rcv_count(h->rcv), 2);
    h_free(h);
}

static void retry_after_storm_holds_the_whole_target(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    rcv_set_default(h->rcv, 429, "Retry-After: 5\r\n", "slow down");
    h_start(h);
    char text[32];
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof text, "storm %d", i);
        emit(h, "db_exceptions", text);
    }
    h_advance(h, 0);
    size_t first = rcv_count(h->rcv);
    assert_true(first >= 1 && first <= 10);
    for (int i = 0; i < 4; i++)
        h_advance(h, 1249);
    assert_int_equal(rcv_count(h->rcv), first);        /* nothing before Retry-After */
    rcv_set_default(h->rcv, 200, NULL, "ok");
    h_advance(h, 4);                                   /* 5 s: one probe, then the rest */
    h_advance(h, 0);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 10);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(s.deliveries_dropped + s.deliveries_failed, 0);
    h_free(h);
}

static void teams_adaptive_card(void **state)
{
    (void)state;
    harness *h = h_dest("ms_teams", "ms_teams_webhook_url", "/workflows/abc/triggers/manual", NULL);
    rcv_set_default(h->rcv, 202, NULL, "");
    h_start(h);
    emit(h, "db_exceptions", "a <b> & c");
    h_advance(h, 0);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "message");
    json_t *att = json_array_get(json_object_get(j, "attachments"), 0);
    assert_string_equal(json_string_value(json_object_get(att, "contentType")),
                        "application/vnd.microsoft.card.adaptive");
    json_t *card = json_object_get(att, "content");
    assert_string_equal(json_string_value(json_object_get(card, "version")), "1.2");
    const char *text = json_string_value(json_object_get(json_array_get(json_object_get(card, "body"), 0), "text"));
    assert_non_null(strstr(text, "a &lt;b&gt; &amp; c"));
    json_decref(j);
    rcv_request_free(&q);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 1);          /* 202 is success for Teams */
    h_free(h);
}

static int hmac_b64(const unsigned char *key, size_t key_len, const char *msg, char *out, size_t n)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
    OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                       OSSL_PARAM_construct_end() };
    unsigned char md[32];
    size_t md_len = 0;
    int ok = EVP_MAC_init(c, key, key_len, p) && EVP_MAC_update(c, (const unsigned char *)msg, strlen(msg)) &&
             EVP_MAC_final(c, md, &md_len, sizeof md);
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
    if (!ok || n < 48)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
    return 0;
}

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static void signed_webhook(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", "    webhook_secret: \"" SECRET "\"\n");
    h_start(h);
    alert_req_id id = h_req(h, "gpt-4", "call-9", 0);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 502;
    f.message = "bad gateway";
    assert_int_equal(alert_on_request_failure(h->ctx, id, &f), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "llm_exceptions");
    assert_string_equal(json_string_value(json_object_get(j, "event_group")), "proxy");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "High");
    assert_string_equal(json_string_value(json_object_get(j, "timestamp")), "2026-01-01T00:00:00.123Z");
    json_t *data = json_object_get(j, "data");
    assert_string_equal(json_string_value(json_object_get(data, "model")), "gpt-4");
    assert_string_equal(json_string_value(json_object_get(data, "call_id")), "call-9");
    assert_int_equal(json_integer_value(json_object_get(data, "status_code")), 502);
    json_decref(j);
    char wid[64], wts[32], wsig[128];
    assert_non_null(rcv_request_header(&q, "webhook-id", wid, sizeof wid));
    assert_non_null(rcv_request_header(&q, "webhook-timestamp", wts, sizeof wts));
    assert_non_null(rcv_request_header(&q, "webhook-signature", wsig, sizeof wsig));
    assert_string_equal(wts, "1767225600");                       /* the ctx clock */
    /* verify it ourselves with OpenSSL: v1,base64(HMAC(key, id.ts.body)) */
    unsigned char key[64];
    int klen = EVP_DecodeBlock(key, (const unsigned char *)SECRET + 6, (int)strlen(SECRET) - 6);
    klen -= (SECRET[strlen(SECRET) - 1] == '=') + (SECRET[strlen(SECRET) - 2] == '=');
    char *signed_content = malloc(strlen(wid) + strlen(wts) + q.body_len + 3);
    sprintf(signed_content, "%s.%s.%s", wid, wts, q.body);
    char want[64] = "v1,";
    assert_int_equal(hmac_b64(key, (size_t)klen, signed_content, want + 3, sizeof want - 3), 0);
    assert_string_equal(wsig, want);
    free(signed_content);
    rcv_request_free(&q);
    h_free(h);
}

static void pagerduty_failure_rate_page(void **state)
{
    (void)state;
    harness *h = h_dest("pagerduty", "pagerduty_url", "/v2/enqueue",
                        "    pagerduty_api_key: \"R0UTINGKEY0123456789abcdefabcdef\"\n"
                        "    failure_threshold: 3\n    failure_threshold_window_seconds: 60\n");
    rcv_set_default(h->rcv, 202, NULL, "{\"status\":\"success\"}");
    h_start(h);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.model = "gpt-4";
    f.message = "boom";
    for (int i = 0; i < 2; i++) {
        assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
        h_advance(h, 1000);
    }
    assert_int_equal(rcv_count(h->rcv), 0);        /* exceptions alone are not pages */
    assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(json_string_value(json_object_get(j, "routing_key")), "R0UTINGKEY0123456789abcdefabcdef");
    assert_string_equal(json_string_value(json_object_get(j, "event_action")), "trigger");
    json_t *p = json_object_get(j, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "summary")),
                        "High LLM API Failure Rate: 3 in the last 60 seconds.");
    assert_string_equal(json_string_value(json_object_get(p, "severity")), "error");
    assert_int_equal(strlen(json_string_value(json_object_get(j, "dedup_key"))), 64);
    json_decref(j);
    rcv_request_free(&q);
    /* failures spread wider than the window never page */
    for (int i = 0; i < 5; i++) {
        h_advance(h, 61000);
        assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    }
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_free(h);
}

static void pagerduty_hanging_page(void **state)
{
    (void)state;
    harness *h = h_dest("pagerduty", "pagerduty_url", "/v2/enqueue",
                        "    pagerduty_api_key: \"R0UTINGKEY0123456789abcdefabcdef\"\n"
                        "    hanging_threshold_seconds: 60\n    hanging_threshold_fails: 60\n"
                        "    hanging_threshold_window_seconds: 600\n");
    rcv_set_default(h->rcv, 202, NULL, "{}");
    h_start(h);
    char id[32];
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "c%d", i);
        alert_req_id r = h_req(h, "gpt-4", id, 0);
        if (i == 0)
            assert_int_equal(alert_on_request_cancel(h->ctx, r), ALERT_OK);   /* one finishes */
    }
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 0);        /* 59 hang: not 60 */
    h_req(h, "gpt-4", "late", 0);
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "payload"), "summary")),
                        "High Number of Hanging LLM Requests: 60 in the last 600 seconds.");
    json_decref(j);
    rcv_request_free(&q);
    h_free(h);
}

static void fail_deployment(harness *h);

static void pagerduty_outage_trigger_then_resolve(void **state)
{
    (void)state;
    harness *h = h_dest("pagerduty", "pagerduty_url", "/v2/enqueue",
                        "    pagerduty_api_key: \"R0UTINGKEY0123456789abcdefabcdef\"\n"
                        "    send_resolved: true\n    failure_threshold: 1000\n");
    assert_int_equal(alert_config_set(h->cfg, "alert_types", "[outage_alerts]", NULL), ALERT_OK);
    rcv_set_default(h->rcv, 202, NULL, "{}");
    h_start(h);
    for (int i = 0; i < 5; i++)
        fail_deployment(h);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_advance(h, 60000);
    h_advance(h, 1000);
    assert_int_equal(rcv_count(h->rcv), 2);
    rcv_request q0, q1;
    json_t *t = body_json(h, 0, &q0), *r = body_json(h, 1, &q1);
    assert_string_equal(json_string_value(json_object_get(t, "event_action")), "trigger");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "payload"), "severity")), "warning");
    assert_string_equal(json_string_value(json_object_get(r, "event_action")), "resolve");
    assert_string_equal(json_string_value(json_object_get(t, "dedup_key")),
                        json_string_value(json_object_get(r, "dedup_key")));
    json_decref(t);
    json_decref(r);
    rcv_request_free(&q0);
    rcv_request_free(&q1);
    h_free(h);
}

static void alertmanager_api(void **state)
{
    (void)state;
    harness *h = h_dest("alertmanager", "alertmanager_url", "/am/", "    instance_name: proxy-7\n");
    h_start(h);
    alert_req_id id = h_req(h, "gpt-4", "c", 0);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 503;
    f.message = "unavailable";
    f.deployment = "azure/gpt-4";
    assert_int_equal(alert_on_request_failure(h->ctx, id, &f), ALERT_OK);
    h_advance(h, 0);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(q.path, "/am/api/v2/alerts");
    json_t *a = json_array_get(j, 0);
    json_t *labels = json_object_get(a, "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "alertname")), "llm_exceptions");
    assert_string_equal(json_string_value(json_object_get(labels, "severity")), "critical");
    assert_string_equal(json_string_value(json_object_get(labels, "instance")), "proxy-7");
    assert_string_equal(json_string_value(json_object_get(labels, "model")), "gpt-4");
    assert_string_equal(json_string_value(json_object_get(labels, "deployment")), "azure/gpt-4");
    assert_string_equal(json_string_value(json_object_get(a, "startsAt")), "2026-01-01T00:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(a, "endsAt")), "2026-01-01T01:00:00.123Z");
    json_decref(j);
    rcv_request_free(&q);
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

static const char *ends_at(harness *h, size_t i, char *buf, size_t n)
{
    rcv_request q;
    json_t *j = body_json(h, i, &q);
    snprintf(buf, n, "%s", json_string_value(json_object_get(json_array_get(j, 0), "endsAt")));
    json_decref(j);
    rcv_request_free(&q);
    return buf;
}

static void alertmanager_episode_reposted_then_resolved(void **state)
{
    (void)state;
    harness *h = h_dest("alertmanager", "alertmanager_url", "/am", NULL);
    assert_int_equal(alert_config_set(h->cfg, "alert_types", "[outage_alerts]", NULL), ALERT_OK);
    h_start(h);
    for (int i = 0; i < 5; i++)
        fail_deployment(h);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);             /* Minor */
    char buf[64];
    assert_string_equal(ends_at(h, 0, buf, sizeof buf), "2026-01-01T01:00:00.123Z");
    for (int s = 0; s < 3; s++) {                       /* failures go on, 20 s apart */
        h_advance(h, 20000);
        fail_deployment(h);
    }
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 2);             /* posted again at 60 s */
    assert_string_equal(ends_at(h, 1, buf, sizeof buf), "2026-01-01T01:01:00.123Z");
    h_advance(h, 60000);                                /* a quiet window: the episode ends */
    h_advance(h, 1000);
    size_t n = rcv_count(h->rcv);
    assert_true(n >= 3);
    assert_string_equal(ends_at(h, n - 1, buf, sizeof buf), "2026-01-01T00:02:00.123Z");   /* its end */
    h_advance(h, 180000);
    assert_int_equal(rcv_count(h->rcv), n);             /* nothing more after the end */
    h_free(h);
}

/* An HTTPS receiver with a self-signed certificate (tests/support/tls_sink.py). */
static pid_t tls_server(const char *dir, int *port)
{
    char cmd[512], cert[160], key[160], port_file[160];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-keyout %s -out %s >/dev/null 2>&1", key, cert);
    assert_int_equal(system(cmd), 0);
    char *argv[] = { (char *)"/usr/bin/python3", (char *)"tests/support/tls_sink.py", cert, key,
                     (char *)"--port-file", port_file, NULL };
    return h_spawn(argv, port_file, port);
}

static void tls_is_verified_unless_told_otherwise(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int port;
    pid_t pid = tls_server(dir, &port);
    for (int insecure = 0; insecure < 2; insecure++) {
        harness *h = h_new(NULL);
        char yaml[512];
        snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [webhook]\n  alerting_args:\n"
                 "    webhook_url: \"https://127.0.0.1:%d/hook\"\n    insecure_skip_verify: %s\n" H_SCOPE,
                 port, insecure ? "true" : "false");
        assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
        h_start(h);
        emit(h, "db_exceptions", "over TLS");
        h_advance(h, 0);
        alert_stats s;
        h_stats(h, &s);
        int warned = 0;
        for (int i = 0; i < h->n_log; i++)
            warned |= strstr(h->log[i], "insecure_skip_verify") != NULL;
        if (insecure) {
            assert_int_equal(s.deliveries_ok, 1);   /* told not to check: it goes through */
            assert_true(warned);                    /* and that was said loudly */
        } else {
            assert_int_equal(s.deliveries_ok, 0);   /* a self-signed certificate is refused */
            assert_int_equal(s.deliveries_retried, 1);
            assert_non_null(strstr(alert_ctx_last_error(h->ctx), "https://127.0.0.1"));
            assert_false(warned);
        }
        h_free(h);
    }
    h_kill(pid);
    h_rmdir(dir);
}

typedef struct sink {
    pid_t pid;
    int port;
    char dir[128];
} sink;

static void sink_start(sink *s, const char *extra_flag, const char *extra_value)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/libalerting-smtp-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    char port_file[192];
    snprintf(port_file, sizeof port_file, "%s/port", s->dir);
    char *argv[] = { (char *)"/usr/bin/python3", (char *)"tests/support/smtp_sink.py", s->dir,
                     (char *)"--port-file", port_file, (char *)extra_flag, (char *)extra_value, NULL };
    s->pid = h_spawn(argv, port_file, &s->port);
}

static char *sink_read(sink *s, int n, const char *ext)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%d.%s", s->dir, n, ext);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t got = fread(buf, 1, (1 << 20) - 1, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void sink_stop(sink *s)
{
    h_kill(s->pid);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    assert_int_equal(system(cmd), 0);
}

static void email_through_real_smtp(void **state)
{
    (void)state;
    sink s;
    sink_start(&s, "--auth", "alerts:s3cr3t-pa55");
    harness *h = h_new(NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [email]\n  alerting_args:\n" H_SCOPE
             "    smtp_host: 127.0.0.1\n    smtp_port: %d\n    smtp_username: alerts\n"
             "    smtp_password: s3cr3t-pa55\n    smtp_sender_email: proxy@example.test\n"
             "    email_recipients: [oncall@example.test, lead@example.test]\n", s.port);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    emit(h, "db_exceptions", "DB read/write call failed: deadlock <detected>");
    /* SMTP is real time: keep flushing until the server has it */
    for (int i = 0; i < 100; i++) {
        h_advance(h, 0);
        alert_stats st;
        h_stats(h, &st);
        if (st.deliveries_ok)
            break;
    }
    char *env = sink_read(&s, 1, "env");
    char *msg = sink_read(&s, 1, "eml");
    assert_non_null(env);
    assert_non_null(msg);
    assert_string_equal(env, "proxy@example.test\noncall@example.test\nlead@example.test\n");
    assert_non_null(strstr(msg, "Subject: [High] DB read/write call failed: deadlock <detected>"));
    assert_non_null(strstr(msg, "multipart/alternative"));
    assert_non_null(strstr(msg, "text/plain"));
    assert_non_null(strstr(msg, "text/html"));
    assert_non_null(strstr(msg, "&lt;detected&gt;"));    /* in the HTML part */
    assert_null(strstr(msg, "s3cr3t-pa55"));
    free(env);
    free(msg);
    for (int i = 0; i < h->n_log; i++)
        assert_null(strstr(h->log[i], "s3cr3t-pa55"));
    h_free(h);
    sink_stop(&s);
}

/* issue 12, item 5: as LiteLLM, the webhook and e-mail get budget alerts only unless
 * webhook_alert_types / email_alert_types say otherwise; Slack still gets everything. */
static void webhook_and_email_scope_is_litellms(void **state)
{
    (void)state;
    sink s;
    sink_start(&s, NULL, NULL);
    harness *h = h_new(NULL);
    char url[256], yaml[1024];
    rcv_url(h->rcv, "/hook", url, sizeof url);
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [slack, webhook, email]\n  alerting_args:\n"
             "    webhook_url: \"%s\"\n"
             "    smtp_host: 127.0.0.1\n    smtp_port: %d\n    email_recipients: [ops@example.test]\n",
             url, s.port);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    emit(h, "llm_exceptions", "not for the webhook");
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "k1";
    b.spend = 101;
    b.max_budget = 100;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    alert_stats st;
    for (int i = 0; i < 100; i++) {
        h_advance(h, 0);
        h_stats(h, &st);
        if (st.deliveries_ok >= 4 && st.queue_depth == 0)
            break;
    }
    assert_int_equal(st.deliveries_ok, 4);          /* 2 to Slack, 1 webhook, 1 e-mail */
    int hook = 0, slack = 0;
    for (size_t i = 0; i < rcv_count(h->rcv); i++) {
        rcv_request q;
        assert_int_equal(rcv_get(h->rcv, i, &q), 0);
        if (strcmp(q.path, "/hook") == 0) {
            hook++;
            assert_non_null(strstr(q.body, "\"event\":\"budget_crossed\""));
            assert_null(strstr(q.body, "not for the webhook"));
        } else {
            slack++;
        }
        rcv_request_free(&q);
    }
    assert_int_equal(hook, 1);
    assert_int_equal(slack, 2);
    char *first = sink_read(&s, 1, "eml");
    assert_non_null(first);
    assert_non_null(strstr(first, "Budget Crossed"));
    assert_null(sink_read(&s, 2, "eml"));
    free(first);
    h_free(h);

    /* widened: the webhook now gets llm_exceptions in the generic shape too */
    h = h_dest("webhook", "webhook_url", "/hook", NULL);
    assert_int_equal(alert_config_set(h->cfg, "alerting_args.webhook_alert_types",
                                      "[llm_exceptions]", NULL), ALERT_OK);
    h_start(h);
    emit(h, "llm_exceptions", "now for the webhook");
    emit(h, "db_exceptions", "still not");
    h_advance(h, 0);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, 0, &q), 0);
    assert_non_null(strstr(q.body, "\"event\":\"llm_exceptions\""));
    rcv_request_free(&q);
    h_free(h);
    sink_stop(&s);
}

static void budget_email_goes_to_its_owners_too(void **state)
{
    (void)state;
    sink s;
    sink_start(&s, NULL, NULL);
    harness *h = h_new(NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [email]\n  alert_types: [budget_alerts]\n  alerting_args:\n"
             "    smtp_host: 127.0.0.1\n    smtp_port: %d\n    email_recipients: [finance@example.test]\n",
             s.port);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    const char *owners[] = { "owner@example.test" };
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "k1";
    b.spend = 101;
    b.max_budget = 100;
    b.user_email = "user@example.test";
    b.alert_emails = owners;
    b.alert_email_count = 1;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    alert_stats st;
    for (int i = 0; i < 100; i++) {
        h_advance(h, 0);
        h_stats(h, &st);
        if (st.deliveries_ok)
            break;
    }
    char *msg = sink_read(&s, 1, "eml");
    char *env = sink_read(&s, 1, "env");
    assert_non_null(msg);
    assert_non_null(env);
    assert_non_null(strstr(env, "finance@example.test"));
    assert_non_null(strstr(env, "owner@example.test"));
    assert_non_null(strstr(env, "user@example.test"));
    free(env);
    assert_non_null(strstr(msg, "Subject: [High] Key Budget: Budget Crossed"));
    free(msg);
    h_free(h);
    sink_stop(&s);
}

/* CR/LF in an address from user data (alert_emails, user_email of an alert_budget) would
 * be SMTP commands of their own: a forged DATA, MAIL FROM, RCPT TO sent with our login.
 * Every address is checked first; a bad one is dropped, counted and logged without its bytes. */
static void email_address_injection_is_dropped(void **state)
{
    (void)state;
    sink s;
    sink_start(&s, NULL, NULL);
    harness *h = h_new(NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [email]\n  alert_types: [budget_alerts]\n  alerting_args:\n"
             "    smtp_host: 127.0.0.1\n    smtp_port: %d\n"
             "    email_recipients: [finance@example.test, \"bad address@example.test\"]\n",
             s.port);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    const char *forged = "x@example.test>\r\nDATA\r\nSubject: forged\r\n\r\nforged body\r\n.\r\n"
                         "MAIL FROM:<ceo@example.test>\r\nRCPT TO:<attacker@evil.test";
    const char *owners[] = { "owner@example.test", forged, "<angle@example.test>" };
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "k1";
    b.spend = 101;
    b.max_budget = 100;
    b.user_email = "victim@example.test\nRCPT TO:<attacker@evil.test>";
    b.alert_emails = owners;
    b.alert_email_count = 3;
    assert_int_equal(alert_on_budget(h->ctx, &b), ALERT_OK);
    alert_stats st;
    for (int i = 0; i < 100; i++) {
        h_advance(h, 0);
        h_stats(h, &st);
        if (st.deliveries_ok)
            break;
    }
    assert_int_equal(st.deliveries_ok, 1);
    assert_int_equal(st.deliveries_failed, 3);      /* the three bad addresses */
    char *env = sink_read(&s, 1, "env");
    char *msg = sink_read(&s, 1, "eml");
    assert_non_null(env);
    assert_non_null(msg);
    assert_string_equal(env, "libalerting@localhost\nfinance@example.test\nowner@example.test\n");
    /* the budget text may show the data (escaped); the headers carry only good addresses */
    char *head_end = strstr(msg, "\r\n\r\n");
    assert_non_null(head_end);
    *head_end = '\0';
    assert_non_null(strstr(msg, "To: finance@example.test, owner@example.test\r\n"));
    assert_null(strstr(msg, "attacker"));
    assert_null(strstr(msg, "forged"));
    assert_non_null(strstr(msg, "Subject: [High] Key Budget: Budget Crossed"));
    free(env);
    free(msg);
    assert_null(sink_read(&s, 2, "env"));           /* no second, forged message */
    int warned = 0;
    for (int i = 0; i < h->n_log; i++) {
        assert_null(strstr(h->log[i], "attacker"));
        assert_null(strstr(h->log[i], "bad address"));
        warned |= strstr(h->log[i], "3 recipient addresses of a budget_alerts alert") != NULL;
    }
    assert_true(warned);
    h_free(h);
    assert_null(sink_read(&s, 2, "env"));
    sink_stop(&s);
}

static void email_transient_failure_is_retried(void **state)
{
    (void)state;
    sink s;
    sink_start(&s, "--fail-first", "1");
    harness *h = h_new(NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [email]\n  alerting_args:\n" H_SCOPE
             "    smtp_host: 127.0.0.1\n    smtp_port: %d\n    email_recipients: [oncall@example.test]\n",
             s.port);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    emit(h, "db_exceptions", "retry me");
    alert_stats st;
    for (int i = 0; i < 100; i++) {
        h_advance(h, 60000);
        h_stats(h, &st);
        if (st.deliveries_ok)
            break;
    }
    assert_int_equal(st.deliveries_ok, 1);
    assert_true(st.deliveries_retried >= 1);
    char *msg = sink_read(&s, 1, "eml");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "retry me"));
    free(msg);
    h_free(h);
    sink_stop(&s);
}

static void urls_are_checked_at_create(void **state)
{
    (void)state;
    const char *bad[] = { "file:///etc/passwd", "gopher://127.0.0.1:70/x", "not a url at all",
                          "ftp://127.0.0.1/secret-path-123" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        harness *h = h_new(NULL);
        char yaml[512];
        snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [webhook]\n  alerting_args:\n"
                                    "    webhook_url: \"%s\"\n", bad[i]);
        assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
        alert_error err = ALERT_ERROR_INIT;
        assert_int_equal(alert_ctx_create(&h->ctx, h->cfg, &err), ALERT_ERR_CONFIG);
        assert_non_null(strstr(err.text, "webhook_url"));
        assert_null(strstr(err.text, "secret-path-123"));
        assert_null(strstr(err.text, "passwd"));
        h_free(h);
    }
    /* a signing secret that is not whsec_<base64> is refused at create, never shown */
    harness *hs = h_dest("webhook", "webhook_url", "/hook", "    webhook_secret: \"whsec_%%%not-base64-SECRETVALUE\"\n");
    alert_error es = ALERT_ERROR_INIT;
    assert_int_equal(alert_ctx_create(&hs->ctx, hs->cfg, &es), ALERT_ERR_CONFIG);
    assert_non_null(strstr(es.text, "webhook_secret"));
    assert_null(strstr(es.text, "SECRETVALUE"));
    h_free(hs);
    /* outage thresholds are bounded (one timestamp per counted failure is kept) */
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    const char *big = "alerting_args:\n  major_outage_alert_threshold: 5000\n";
    assert_int_equal(alert_config_load_string(cfg, big, strlen(big), &es), ALERT_ERR_CONFIG);
    assert_int_equal(es.line, 2);
    alert_config_free(cfg);
    /* a destination without its target is a config error, named */
    harness *h = h_new(NULL);
    assert_int_equal(alert_config_set(h->cfg, "alerting", "[discord]", NULL), ALERT_OK);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_ctx_create(&h->ctx, h->cfg, &err), ALERT_ERR_CONFIG);
    assert_non_null(strstr(err.text, "DISCORD_WEBHOOK_URL"));
    h_free(h);
}

static void redirects_are_not_followed_and_big_bodies_bounded(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    char loc[300];
    snprintf(loc, sizeof loc, "Location: http://127.0.0.1:%d/elsewhere\r\n", rcv_port(h->rcv));
    rcv_push(h->rcv, 302, loc, "");
    size_t big = 50u * 1024 * 1024;
    char *huge = malloc(big + 1);
    memset(huge, 'x', big);
    huge[big] = '\0';
    rcv_push(h->rcv, 200, NULL, huge);
    free(huge);
    h_start(h);
    emit(h, "db_exceptions", "redirected");
    h_advance(h, 0);
    emit(h, "db_exceptions", "big answer");
    h_advance(h, 0);
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 2);        /* nothing went to /elsewhere */
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, 1, &q), 0);
    assert_string_equal(q.path, "/hook");
    rcv_request_free(&q);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_failed, 1);      /* the 302 */
    assert_int_equal(s.deliveries_ok, 1);          /* the 2xx, its 50 MB read and dropped */
    h_free(h);
}

static void no_secret_leaks_when_everything_fails(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    rcv_set_default(h->rcv, 400, NULL, "no");
    char base[128], yaml[4096];
    rcv_url(h->rcv, "", base, sizeof base);
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [slack, discord, ms_teams, webhook, pagerduty, alertmanager, email]\n"
             "  alerting_args:\n" H_SCOPE
             "    slack_webhook_url: \"%s/services/T0/B0/SLACKSECRET\"\n"
             "    discord_webhook_url: \"%s/api/webhooks/1/DISCORDSECRET\"\n"
             "    ms_teams_webhook_url: \"%s/workflows/TEAMSSECRET\"\n"
             "    webhook_url: \"%s/hooks/WEBHOOKSECRET?token=QUERYSECRET\"\n"
             "    webhook_secret: \"" SECRET "\"\n"
             "    pagerduty_api_key: ROUTINGKEYSECRET\n"
             "    pagerduty_url: \"%s/v2/enqueue\"\n"
             "    alertmanager_url: \"http://user:AMPASSSECRET@127.0.0.1:%d\"\n"
             "    smtp_host: 127.0.0.1\n    smtp_port: 1\n    smtp_password: SMTPSECRET\n"
             "    email_recipients: [a@example.test]\n"
             "    failure_threshold: 1\n    delivery_deadline: 120\n",
             base, base, base, base, base, rcv_port(h->rcv));
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    alert_failure f;
    alert_failure_init(&f, ALERT_FAILURE_VERSION);
    f.status_code = 500;
    f.message = "x";
    assert_int_equal(alert_on_request_failure(h->ctx, 0, &f), ALERT_OK);
    for (int i = 0; i < 5; i++)
        h_advance(h, 60000);
    const char *secrets[] = { "SLACKSECRET", "DISCORDSECRET", "TEAMSSECRET", "WEBHOOKSECRET",
                              "QUERYSECRET", "ROUTINGKEYSECRET", "AMPASSSECRET", "SMTPSECRET",
                              "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" };
    const char *last = alert_ctx_last_error(h->ctx);
    assert_true(strlen(last) > 0);
    assert_true(h->n_log > 0);
    for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++) {
        assert_null(strstr(last, secrets[k]));
        for (int i = 0; i < h->n_log; i++)
            if (strstr(h->log[i], secrets[k]))
                fail_msg("log line leaks %s: %s", secrets[k], h->log[i]);
    }
    alert_stats s;
    h_stats(h, &s);
    assert_true(s.deliveries_failed >= 6);
    h_free(h);
}

static void send_test_every_destination(void **state)
{
    (void)state;
    harness *h = h_dest("webhook", "webhook_url", "/hook", NULL);
    h_start(h);
    assert_int_equal(alert_send_test(h->ctx, "webhook"), ALERT_OK);
    h_advance(h, 0);
    rcv_request q;
    json_t *j = body_json(h, 0, &q);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "budget_crossed");
    assert_string_equal(json_string_value(json_object_get(j, "event_message")),
                        "User Budget: Budget Crossed\n Total Budget:`0.0`");
    assert_true(json_is_null(json_object_get(j, "soft_budget")));
    json_decref(j);
    rcv_request_free(&q);
    h_free(h);
    h = h_dest("ms_teams", "ms_teams_webhook_url", "/teams", NULL);
    rcv_set_default(h->rcv, 202, NULL, "");
    h_start(h);
    assert_int_equal(alert_send_test(h->ctx, "ms_teams"), ALERT_OK);
    h_advance(h, 0);
    j = body_json(h, 0, &q);
    char *dumped = json_dumps(j, 0);
    assert_non_null(strstr(dumped, "This is a test alert message"));
    free(dumped);
    json_decref(j);
    rcv_request_free(&q);
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discord_native_and_slack_compatible),
        cmocka_unit_test(discord_retry_after_in_json),
        cmocka_unit_test(retry_after_storm_holds_the_whole_target),
        cmocka_unit_test(teams_adaptive_card),
        cmocka_unit_test(signed_webhook),
        cmocka_unit_test(pagerduty_failure_rate_page),
        cmocka_unit_test(pagerduty_hanging_page),
        cmocka_unit_test(pagerduty_outage_trigger_then_resolve),
        cmocka_unit_test(alertmanager_api),
        cmocka_unit_test(alertmanager_episode_reposted_then_resolved),
        cmocka_unit_test(email_through_real_smtp),
        cmocka_unit_test(webhook_and_email_scope_is_litellms),
        cmocka_unit_test(budget_email_goes_to_its_owners_too),
        cmocka_unit_test(email_transient_failure_is_retried),
        cmocka_unit_test(email_address_injection_is_dropped),
        cmocka_unit_test(urls_are_checked_at_create),
        cmocka_unit_test(tls_is_verified_unless_told_otherwise),
        cmocka_unit_test(redirects_are_not_followed_and_big_bodies_bounded),
        cmocka_unit_test(no_secret_leaks_when_everything_fails),
        cmocka_unit_test(send_test_every_destination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
