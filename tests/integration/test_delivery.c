/* SPDX-License-Identifier: MIT */
/* Routing and delivery: the alert_types gate, alert_to_webhook_url, batching and
 * coalescing, retries, Retry-After, give-up, custom transports, secrets. */
#include "harness.h"

static void emit(harness *h, const char *type, const char *text)
{
    assert_int_equal(alert_emit(h->ctx, type, ALERT_LEVEL_HIGH, text, NULL), ALERT_OK);
}

static void slow_request(harness *h)
{
    alert_req_id id = h_req(h, "gpt-4", "slow", h->now);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.end_ms = h->now + 400000;
    assert_int_equal(alert_on_request_end(h->ctx, id, &resp), ALERT_OK);
}

static void alert_types_gate(void **state)
{
    (void)state;
    harness *h = h_new("  alert_types: [llm_exceptions, llm_requests_hanging]\n");
    h_start(h);
    slow_request(h);
    emit(h, "llm_too_slow", "host text");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 0);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.alerts_raised, 0);
    assert_int_equal(s.alerts_filtered, 1);     /* emit counts; a slow end is not even tracked */
    emit(h, "llm_exceptions", "allowed");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_free(h);
}

static void no_alerting_no_alerts(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    assert_int_equal(alert_config_set(h->cfg, "alerting", "[]", NULL), ALERT_OK);
    h_start(h);
    emit(h, "llm_exceptions", "nobody listens");
    h_req(h, "m", "c", 0);
    h_advance(h, 400000);
    assert_int_equal(rcv_count(h->rcv), 0);
    h_free(h);
}

/* Issue 12, item 3: LiteLLM's environment_variables section is an overlay for the
 * environment fallbacks of the targets, read at alert_ctx_create; the process
 * environment is not changed. */
static void environment_variables_feed_the_targets(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    assert_int_equal(alert_config_set(h->cfg, "alerting_args.slack_webhook_url", "~", NULL), ALERT_OK);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "environment_variables:\n  SLACK_WEBHOOK_URL: \"%s\"\n", h->url);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    assert_null(getenv("SLACK_WEBHOOK_URL"));
    h_start(h);
    assert_null(getenv("SLACK_WEBHOOK_URL"));
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, "via the overlay", NULL),
                     ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "via the overlay"));
    free(t);
    h_free(h);
}

static void per_type_webhook_urls(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    char a[256], b[256], c[256], yaml[1024];
    rcv_url(h->rcv, "/exceptions", a, sizeof a);
    rcv_url(h->rcv, "/exceptions-2", b, sizeof b);
    rcv_url(h->rcv, "/slow", c, sizeof c);
    snprintf(yaml, sizeof yaml, "[\"%s\", \"%s\"]", a, b);
    assert_int_equal(alert_config_set(h->cfg, "alert_to_webhook_url.llm_exceptions", yaml, NULL), ALERT_OK);
    assert_int_equal(alert_config_set(h->cfg, "alert_to_webhook_url.llm_too_slow", c, NULL), ALERT_OK);
    h_start(h);
    emit(h, "llm_exceptions", "exc");
    slow_request(h);
    emit(h, "llm_requests_hanging", "default route");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 4);
    int exc = 0, exc2 = 0, slow = 0, dflt = 0;
    for (size_t i = 0; i < 4; i++) {
        rcv_request q;
        assert_int_equal(rcv_get(h->rcv, i, &q), 0);
        exc += strcmp(q.path, "/exceptions") == 0 && strstr(q.body, "llm_exceptions");
        exc2 += strcmp(q.path, "/exceptions-2") == 0 && strstr(q.body, "llm_exceptions");
        slow += strcmp(q.path, "/slow") == 0 && strstr(q.body, "llm_too_slow");
        dflt += strcmp(q.path, "/services/T000/B000/SECRETPATH") == 0 && strstr(q.body, "default route");
        rcv_request_free(&q);
    }
    assert_int_equal(exc, 1);
    assert_int_equal(exc2, 1);
    assert_int_equal(slow, 1);
    assert_int_equal(dflt, 1);
    h_free(h);
}

static void identical_alerts_coalesce(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    for (int i = 0; i < 3; i++)
        emit(h, "db_exceptions", "DB read/write call failed: timeout");
    emit(h, "db_exceptions", "DB read/write call failed: other");
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    assert_int_equal(rcv_count(h->rcv), 0);      /* batched until flush_interval */
    h->now += 5000;
    assert_int_equal(alert_poll(h->ctx, 1000), ALERT_OK);
    assert_int_equal(rcv_wait(h->rcv, 2, 5000), 0);
    assert_int_equal(alert_flush(h->ctx, 5000), ALERT_OK);
    assert_int_equal(rcv_count(h->rcv), 2);
    int three = h_find(h, "[Num Alerts: 3]\n\nAlert type: `db_exceptions`");
    assert_true(three >= 0);
    char *t = h_text(h, (size_t)three);
    assert_true(strncmp(t, "[Num Alerts: 3]\n\nAlert type: `db_exceptions`", 44) == 0);
    assert_non_null(strstr(t, "Message: DB read/write call failed: timeout"));
    free(t);
    t = h_text(h, (size_t)(1 - three));
    assert_true(strncmp(t, "Alert type: `db_exceptions`", 27) == 0);
    assert_non_null(strstr(t, "call failed: other"));
    free(t);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.alerts_raised, 4);
    assert_int_equal(s.alerts_coalesced, 2);
    assert_int_equal(s.deliveries_ok, 2);
    h_free(h);
}

static void batch_size_flushes_early(void **state)
{
    (void)state;
    harness *h = h_new("    batch_size: 3\n");
    h_start(h);
    emit(h, "db_exceptions", "one");
    emit(h, "db_exceptions", "two");
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    assert_int_equal(rcv_count(h->rcv), 0);
    emit(h, "db_exceptions", "three");
    /* the clock does not move: only batch_size can have released them */
    for (int i = 0; i < 100 && rcv_count(h->rcv) < 3; i++)
        assert_int_equal(alert_poll(h->ctx, 100), ALERT_OK);
    assert_int_equal(rcv_count(h->rcv), 3);
    h_free(h);
}

static void throttled_target_packs_nothing_lost(void **state)
{
    (void)state;
    harness *h = h_new("    rate_limits: {slack: \"1/s\"}\n");
    h_start(h);
    char text[32];
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "storm %d", i);
        emit(h, "db_exceptions", text);
    }
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);        /* one token: one packed post */
    char *t = h_text(h, 0);
    const char *at = t;
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "Message: storm %d", i);
        const char *hit = strstr(at, text);
        assert_non_null(hit);                       /* all there, in order */
        at = hit;
    }
    assert_non_null(strstr(t, "\n\n---\n\nAlert type: `db_exceptions`"));
    free(t);
    emit(h, "db_exceptions", "late 1");
    emit(h, "db_exceptions", "late 2");
    h_advance(h, 500);                              /* no token yet: waits, flush is not stuck */
    assert_int_equal(rcv_count(h->rcv), 1);
    h_advance(h, 500);
    assert_int_equal(rcv_count(h->rcv), 2);
    t = h_text(h, 1);
    assert_non_null(strstr(t, "late 1"));
    assert_non_null(strstr(t, "late 2"));
    free(t);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 7);
    assert_int_equal(s.queue_depth, 0);
    h_free(h);
}

static void digest_mode_sends_one_message_per_interval(void **state)
{
    (void)state;
    harness *h = h_new("  alert_type_config:\n    db_exceptions: {digest: true, digest_interval: 60}\n");
    h_start(h);
    for (int i = 0; i < 3; i++)
        emit(h, "db_exceptions", "DB read/write call failed: timeout");
    emit(h, "llm_exceptions", "not digested");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    assert_true(h_find(h, "not digested") == 0);
    h_advance(h, 30000);
    emit(h, "db_exceptions", "DB read/write call failed: timeout");
    h_advance(h, 29999);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_advance(h, 1);
    assert_int_equal(rcv_count(h->rcv), 2);
    char *t = h_text(h, 1);
    assert_non_null(strstr(t, "Alert type: `db_exceptions` (Digest)\nLevel: `High`\n"
                              "Start: `2026-01-01 00:00:00`\nEnd: `2026-01-01 00:00:30`\nCount: `4`\n\n"
                              "Message: DB read/write call failed: timeout"));
    free(t);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.alerts_raised, 5);
    assert_int_equal(s.alerts_coalesced, 3);
    h_free(h);
}

static void full_queue_drops_lowest_first_and_says_so(void **state)
{
    (void)state;
    harness *h = h_new("    max_queue: 3\n");
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, "high 1", NULL), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_LOW, "low 1", NULL), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_LOW, "low 2", NULL), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, "high 2", NULL), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_LOW, "low 3", NULL), ALERT_OK);
    h_advance(h, 0);
    assert_true(h_find(h, "high 1") >= 0);
    assert_true(h_find(h, "high 2") >= 0);
    assert_true(h_find(h, "low 3") >= 0);
    assert_true(h_find(h, "low 1") < 0);       /* the oldest Low went first */
    assert_true(h_find(h, "low 2") < 0);       /* then the next oldest Low */
    assert_true(h_find(h, "`2 alerts dropped`: the delivery queue was full (max_queue = 3)") >= 0);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_dropped, 2);
    assert_int_equal(s.queue_depth, 0);
    /* a full queue of High alerts turns away a Low newcomer, not a High one */
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, "keep", NULL), ALERT_OK);
    assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_LOW, "newcomer", NULL), ALERT_OK);
    h_advance(h, 0);
    assert_true(h_find(h, "newcomer") < 0);
    assert_true(h_find(h, "`1 alerts dropped`") >= 0);
    h_free(h);
}

static void server_errors_are_retried(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    rcv_push(h->rcv, 500, NULL, "oops");
    rcv_push(h->rcv, 503, NULL, "busy");
    emit(h, "db_exceptions", "must arrive");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 2);
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 3);
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 3);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 1);
    assert_int_equal(s.deliveries_retried, 2);
    assert_int_equal(s.deliveries_failed, 0);
    assert_int_equal(s.queue_depth, 0);
    /* every attempt carried the same idempotency key */
    char k0[80], k2[80];
    rcv_request q0, q2;
    assert_int_equal(rcv_get(h->rcv, 0, &q0), 0);
    assert_int_equal(rcv_get(h->rcv, 2, &q2), 0);
    assert_non_null(rcv_request_header(&q0, "webhook-id", k0, sizeof k0));
    assert_non_null(rcv_request_header(&q2, "webhook-id", k2, sizeof k2));
    assert_string_equal(k0, k2);
    assert_int_equal(strlen(k0), 36);
    assert_true(strncmp(k0, "msg_", 4) == 0);
    rcv_request_free(&q0);
    rcv_request_free(&q2);
    h_free(h);
}

static void retry_after_is_honoured(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    rcv_push(h->rcv, 429, "Retry-After: 2\r\n", "{\"ok\":false,\"error\":\"rate_limited\"}");
    emit(h, "db_exceptions", "throttled");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_advance(h, 1999);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_advance(h, 1);
    assert_int_equal(rcv_count(h->rcv), 2);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 1);
    assert_int_equal(s.deliveries_retried, 1);
    h_free(h);
}

static void client_errors_give_up(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    rcv_push(h->rcv, 400, NULL, "invalid_payload");
    rcv_push(h->rcv, 200, NULL, "{\"ok\":false}");    /* Slack says 200 but not "ok" */
    emit(h, "db_exceptions", "first");
    h_advance(h, 0);
    emit(h, "db_exceptions", "second");
    h_advance(h, 0);
    h_advance(h, 120000);
    assert_int_equal(rcv_count(h->rcv), 2);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_failed, 2);
    assert_int_equal(s.deliveries_ok, 0);
    assert_int_equal(s.deliveries_retried, 0);
    /* the error says what and where, never the secret path of the webhook URL */
    const char *e = alert_ctx_last_error(h->ctx);
    assert_non_null(strstr(e, "http://127.0.0.1:"));
    assert_null(strstr(e, "SECRETPATH"));
    for (int i = 0; i < h->n_log; i++)
        assert_null(strstr(h->log[i], "SECRETPATH"));
    h_free(h);
}

static void gone_marks_the_target_dead(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    rcv_set_default(h->rcv, 404, NULL, "channel_not_found");
    emit(h, "db_exceptions", "a");
    h_advance(h, 0);
    emit(h, "db_exceptions", "b");
    h_advance(h, 10000);
    assert_int_equal(rcv_count(h->rcv), 1);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.destinations_dead, 1);
    assert_int_equal(s.deliveries_failed, 2);
    h_free(h);
}

static void connection_failures_are_retried(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    rcv_push(h->rcv, RCV_RESET, NULL, NULL);
    rcv_push(h->rcv, RCV_HANG, NULL, NULL);
    assert_int_equal(alert_config_set(h->cfg, "alerting_args.http_timeout", "0.3", NULL), ALERT_OK);
    alert_ctx_destroy(h->ctx);
    h_start(h);
    emit(h, "db_exceptions", "survives");
    h_advance(h, 0);                    /* reset */
    h_advance(h, 60000);                /* hangs: our http_timeout fires */
    rcv_release_hangs(h->rcv);
    h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 3);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 1);
    assert_int_equal(s.deliveries_retried, 2);
    h_free(h);
}

/* Every Slack text the receiver got, one after the other (caller frees). */
static char *all_texts(harness *h)
{
    size_t cap = 1 << 16, len = 0;
    char *all = calloc(1, cap);
    assert_non_null(all);
    for (size_t i = 0; i < rcv_count(h->rcv); i++) {
        char *t = h_text(h, i);
        size_t n = strlen(t);
        while (len + n + 2 > cap)
            assert_non_null(all = realloc(all, cap *= 2));
        memcpy(all + len, t, n);
        len += n;
        all[len++] = '\n';
        all[len] = '\0';
        free(t);
    }
    return all;
}

/* A webhook that accepts and never answers holds no more than its share of the 64
 * transfers: the healthy Slack target gets every alert, the queue stays within
 * max_queue plus the notices' reserve, and the stuck target's backlog is what goes. */
static void stuck_target_does_not_starve_the_healthy_one(void **state)
{
    (void)state;
    rcv *stuck = rcv_start(0);
    assert_non_null(stuck);
    rcv_set_default(stuck, RCV_HANG, NULL, NULL);
    char url[256], yaml[1024];
    rcv_url(stuck, "/hook", url, sizeof url);
    snprintf(yaml, sizeof yaml,
             "    webhook_url: \"%s\"\n    max_queue: 100\n    http_timeout: 600\n"
             "    rate_limits: {slack: \"100000/s\"}\n" H_SCOPE, url);
    harness *h = h_new(yaml);
    assert_int_equal(alert_config_set(h->cfg, "alerting", "[slack, webhook]", NULL), ALERT_OK);
    h_start(h);
    enum { ROUNDS = 30, PER_ROUND = 10 };
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++) {
            char text[64];
            snprintf(text, sizeof text, "alert [r%02d-%02d]", round, i);
            assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_LOW, text, NULL),
                             ALERT_OK);
        }
        h->now += 6000;     /* past flush_interval: the batch is sent */
        char last[32];
        snprintf(last, sizeof last, "[r%02d-%02d]", round, PER_ROUND - 1);
        /* the receiver is real: poll until the round is in (a bound, not an assertion) */
        for (int i = 0; i < 500; i++) {
            assert_int_equal(alert_poll(h->ctx, 20), ALERT_OK);
            alert_stats s;
            h_stats(h, &s);
            assert_true(s.queue_depth <= 100 + 64);
            if (h_find(h, last) >= 0)
                break;
        }
    }
    char *all = all_texts(h);
    for (int round = 0; round < ROUNDS; round++)
        for (int i = 0; i < PER_ROUND; i++) {
            char tag[32];
            snprintf(tag, sizeof tag, "[r%02d-%02d]", round, i);
            if (!strstr(all, tag)) {
                alert_stats st;
                h_stats(h, &st);
                fail_msg("the healthy target did not get %s (%zu got, %zu stuck, dropped %llu, depth %llu)", tag,
                         rcv_count(h->rcv), rcv_count(stuck), (unsigned long long)st.deliveries_dropped,
                         (unsigned long long)st.queue_depth);
            }
        }
    free(all);
    alert_stats s;
    h_stats(h, &s);
    assert_true(s.deliveries_dropped > 0);          /* the stuck target's backlog */
    assert_true(s.queue_depth <= 100 + 64);
    assert_true(rcv_count(stuck) <= 32);            /* its share, never more */
    h_free(h);
    rcv_stop(stuck);
}

/* A reply that is not HTTP (garbage, an HTTP/0.9 answer without a status line) is a
 * broken or overloaded receiver, not a refusal: retried until delivery_deadline. */
static void non_http_replies_are_retried(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    rcv_push(h->rcv, RCV_RAW, NULL, "garbage that is no status line\r\n\r\n");
    rcv_push(h->rcv, RCV_RAW, NULL, "ok");                 /* HTTP/0.9 */
    rcv_push(h->rcv, RCV_RAW, NULL, "HTTP/1.1 2000000 What\r\n\r\n");
    emit(h, "db_exceptions", "survives a broken receiver");
    h_advance(h, 0);
    for (int i = 0; i < 4; i++)
        h_advance(h, 60000);
    assert_int_equal(rcv_count(h->rcv), 4);
    alert_stats s;
    h_stats(h, &s);
    assert_int_equal(s.deliveries_ok, 1);
    assert_int_equal(s.deliveries_retried, 3);
    assert_int_equal(s.deliveries_failed, 0);
    assert_true(h_find(h, "survives a broken receiver") >= 0);
    h_free(h);
}

typedef struct sink {
    int calls;
    int fail_first;
    int destroyed;
    char last_text[2048];
    char last_body[4096];
    char key[64];
    int last_attempt;
} sink;

static int sink_send(const alert_delivery *d, void *ud)
{
    sink *s = ud;
    s->calls++;
    snprintf(s->last_text, sizeof s->last_text, "%s", d->text);
    snprintf(s->last_body, sizeof s->last_body, "%.*s", (int)d->body_len, d->body);
    snprintf(s->key, sizeof s->key, "%s", d->idempotency_key);
    s->last_attempt = d->attempt;
    assert_null(d->url);
    assert_string_equal(d->destination, "pager");
    if (s->fail_first > 0) {
        s->fail_first--;
        return ALERT_ERR_TRANSPORT;
    }
    return ALERT_OK;
}

static void sink_destroy(void *ud)
{
    ((sink *)ud)->destroyed++;
}

static void custom_transport(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    sink s;
    memset(&s, 0, sizeof s);
    s.fail_first = 1;
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = sink_send;
    t.destroy = sink_destroy;
    assert_int_equal(alert_config_add_transport(h->cfg, "pager", &t, &s), ALERT_OK);
    assert_int_equal(alert_config_set(h->cfg, "alerting", "[slack, pager]", NULL), ALERT_OK);
    h_start(h);
    assert_int_equal(alert_emit(h->ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "to both",
                                "{\"runbook\": \"https://wiki/x\"}"), ALERT_OK);
    h_advance(h, 0);
    assert_int_equal(s.calls, 1);
    h_advance(h, 60000);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.last_attempt, 2);
    assert_true(strncmp(s.key, "msg_", 4) == 0);
    assert_non_null(strstr(s.last_text, "Message: to both"));
    json_error_t jerr;
    json_t *j = json_loads(s.last_body, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "llm_exceptions");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "High");
    assert_string_equal(json_string_value(json_object_get(j, "event_message")), "to both");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "alerting_metadata"), "runbook")),
                        "https://wiki/x");
    json_decref(j);
    assert_int_equal(rcv_count(h->rcv), 1);        /* and slack got it too */
    alert_ctx_destroy(h->ctx);
    h->ctx = NULL;
    assert_int_equal(s.destroyed, 0);               /* the config still holds it */
    alert_config_free(h->cfg);
    h->cfg = NULL;
    assert_int_equal(s.destroyed, 1);
    h_free(h);
}

/* A send() that blocks for a second, driven by the test: it moves the injected clock. */
typedef struct slow_sink {
    harness *h;
    int calls;
} slow_sink;

static int slow_send(const alert_delivery *d, void *ud)
{
    (void)d;
    slow_sink *s = ud;
    s->calls++;
    s->h->now += 1000;
    return ALERT_OK;
}

/* flush and destroy stop calling a slow send() once their time is up: the remaining
 * alerts wait (alert_flush) or are counted dropped at shutdown (no state_path). */
static void slow_transport_is_bounded(void **state)
{
    (void)state;
    harness *h = h_new("    shutdown_timeout: 0.5\n");
    slow_sink s = { h, 0 };
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = slow_send;
    assert_int_equal(alert_config_add_transport(h->cfg, "slow", &t, &s), ALERT_OK);
    assert_int_equal(alert_config_set(h->cfg, "alerting", "[slow]", NULL), ALERT_OK);
    h_start(h);
    for (int i = 0; i < 6; i++) {
        char text[32];
        snprintf(text, sizeof text, "slow %d", i);
        emit(h, "db_exceptions", text);
    }
    assert_int_equal(alert_flush(h->ctx, 300), ALERT_ERR_TIMEOUT);
    assert_int_equal(s.calls, 1);           /* 1 s spent: no second send() */
    alert_stats st;
    h_stats(h, &st);
    assert_int_equal(st.deliveries_ok, 1);
    assert_int_equal(st.queue_depth, 5);
    alert_ctx_destroy(h->ctx);              /* shutdown_timeout 0.5: one more, at most */
    h->ctx = NULL;
    assert_int_equal(s.calls, 2);
    int said = 0;
    for (int i = 0; i < h->n_log; i++)
        said |= strstr(h->log[i], "4 deliveries still pending at shutdown were dropped") != NULL;
    assert_true(said);
    h_free(h);
}

static void unknown_destination_fails_create(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    assert_int_equal(alert_config_set(h->cfg, "alerting", "[slack, carrier_pigeon]", NULL), ALERT_OK);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_ctx_create(&h->ctx, h->cfg, &err), ALERT_ERR_CONFIG);
    assert_null(h->ctx);
    assert_non_null(strstr(err.text, "carrier_pigeon"));
    h_free(h);
}

static void send_test_alert(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    h_start(h);
    assert_int_equal(alert_send_test(h->ctx, "slack"), ALERT_OK);
    assert_int_equal(alert_send_test(h->ctx, "webhook"), ALERT_ERR_NOT_FOUND);
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    char *t = h_text(h, 0);
    assert_non_null(strstr(t, "Level: `Low`"));
    assert_non_null(strstr(t, "Message: This is a test slack alert message"));
    free(t);
    h_free(h);
}

static void env_fallback_for_slack(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    char url[256];
    rcv_url(h->rcv, "/from-env", url, sizeof url);
    alert_config_free(h->cfg);
    assert_int_equal(alert_config_new(&h->cfg), ALERT_OK);
    assert_int_equal(alert_config_set_clock(h->cfg, h_clock, h), ALERT_OK);
    assert_int_equal(alert_config_set(h->cfg, "alerting", "[slack]", NULL), ALERT_OK);
    assert_int_equal(alert_config_set(h->cfg, "alerting_args.worker_threads", "0", NULL), ALERT_OK);
    setenv("ALERTING_WEBHOOK_URL", url, 1);
    h_start(h);
    unsetenv("ALERTING_WEBHOOK_URL");           /* read once, at create */
    emit(h, "db_exceptions", "via env");
    h_advance(h, 0);
    assert_int_equal(rcv_count(h->rcv), 1);
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, 0, &q), 0);
    assert_string_equal(q.path, "/from-env");
    rcv_request_free(&q);
    h_free(h);
}

static void threaded_worker_delivers(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    alert_config_free(h->cfg);
    assert_int_equal(alert_config_new(&h->cfg), ALERT_OK);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "alerting: [slack]\nslack_webhook_url: \"%s\"\n", h->url);
    assert_int_equal(alert_config_load_string(h->cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    h_start(h);
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_ERR_STATE);
    emit(h, "db_exceptions", "from a thread");
    assert_int_equal(alert_flush(h->ctx, 10000), ALERT_OK);
    assert_int_equal(rcv_count(h->rcv), 1);
    h_free(h);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alert_types_gate),
        cmocka_unit_test(no_alerting_no_alerts),
        cmocka_unit_test(environment_variables_feed_the_targets),
        cmocka_unit_test(per_type_webhook_urls),
        cmocka_unit_test(identical_alerts_coalesce),
        cmocka_unit_test(batch_size_flushes_early),
        cmocka_unit_test(throttled_target_packs_nothing_lost),
        cmocka_unit_test(digest_mode_sends_one_message_per_interval),
        cmocka_unit_test(full_queue_drops_lowest_first_and_says_so),
        cmocka_unit_test(server_errors_are_retried),
        cmocka_unit_test(retry_after_is_honoured),
        cmocka_unit_test(client_errors_give_up),
        cmocka_unit_test(gone_marks_the_target_dead),
        cmocka_unit_test(connection_failures_are_retried),
        cmocka_unit_test(non_http_replies_are_retried),
        cmocka_unit_test(stuck_target_does_not_starve_the_healthy_one),
        cmocka_unit_test(custom_transport),
        cmocka_unit_test(slow_transport_is_bounded),
        cmocka_unit_test(unknown_destination_fails_create),
        cmocka_unit_test(send_test_alert),
        cmocka_unit_test(env_fallback_for_slack),
        cmocka_unit_test(threaded_worker_delivers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
