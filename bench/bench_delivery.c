/* SPDX-License-Identifier: MIT */
/* make bench: deliveries per second to a loopback receiver over 1 and 64
 * connections, the worker's CPU time per delivered alert, and the hook cost while
 * the queue is full and the receiver is down. Figures, not tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting.h"
#include "ctx.h"
#include "outbox.h"
#include "receiver.h"

static double now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static alert_ctx *make(const char *url, const char *extra)
{
    alert_config *cfg;
    alert_config_new(&cfg);
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "alerting: [webhook]\nalerting_args:\n  worker_threads: 0\n"
             "  webhook_url: \"%s\"\n  shutdown_timeout: 0.1\n  http_timeout: 5\n"
             "  webhook_alert_types: [db_exceptions]\n%s", url, extra);
    alert_error err = ALERT_ERROR_INIT;
    if (alert_config_load_string(cfg, yaml, strlen(yaml), &err) != ALERT_OK) {
        fprintf(stderr, "bench: %s\n", err.text);
        exit(1);
    }
    alert_ctx *ctx;
    if (alert_ctx_create(&ctx, cfg, &err) != ALERT_OK) {
        fprintf(stderr, "bench: %s\n", err.text);
        exit(1);
    }
    alert_config_free(cfg);
    return ctx;
}

static void deliveries(int connections, int n)
{
    rcv *r = rcv_start(0);
    char url[128];
    rcv_url(r, "/hook", url, sizeof url);
    alert_ctx *ctx = make(url, "");
    al_outbox_set_max_transfers(ctx->outbox, (size_t)connections);
    char text[64];
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "delivery %d", i);
        alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, text, NULL);
    }
    double w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    alert_flush(ctx, 120000);
    double w1 = now_ns(CLOCK_MONOTONIC), c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    alert_stats s = ALERT_STATS_INIT;
    alert_stats_get(ctx, &s);
    printf("deliveries to a loopback receiver, %d connection%s: %.0f deliveries/s (%llu of %d)\n",
           connections, connections == 1 ? "" : "s", (double)s.deliveries_ok / ((w1 - w0) / 1e9),
           (unsigned long long)s.deliveries_ok, n);
    if (connections > 1)
        printf("worker CPU per delivered alert: %.1f us\n", (c1 - c0) / 1e3 / (double)s.deliveries_ok);
    alert_ctx_destroy(ctx);
    rcv_stop(r);
}

static void hooks_while_down(void)
{
    /* nothing listens on port 9 of loopback: every attempt is refused; the worker is a
     * thread of its own, as in a proxy, and keeps retrying while the hooks run */
    alert_config *cfg;
    alert_config_new(&cfg);
    const char *yaml = "alerting: [webhook]\nalerting_args:\n  webhook_url: \"http://127.0.0.1:9/hook\"\n"
                       "  shutdown_timeout: 0.1\n  max_queue: 100000\n"
                       "  webhook_alert_types: [db_exceptions]\n";
    alert_config_load_string(cfg, yaml, strlen(yaml), NULL);
    alert_ctx *ctx;
    if (alert_ctx_create(&ctx, cfg, NULL) != ALERT_OK)
        exit(1);
    alert_config_free(cfg);
    char text[64];
    alert_stats s = ALERT_STATS_INIT;
    for (int i = 0; i < 100000; i++) {
        snprintf(text, sizeof text, "pending %d", i);
        while (alert_emit(ctx, "db_exceptions", ALERT_LEVEL_LOW, text, NULL) == ALERT_ERR_FULL)
            alert_flush(ctx, 100);
    }
    alert_flush(ctx, 5000);
    alert_stats_get(ctx, &s);
    alert_request req;
    alert_request_init(&req, ALERT_REQUEST_VERSION);
    req.model = "gpt-4o";
    req.api_base = "https://eastus.example";
    req.call_id = "2f1c9c1e-6b1e-4d55-9e53-4a7d3b0f9a11";
    alert_response resp = ALERT_RESPONSE_INIT;
    alert_req_id id;
    const int pairs = 2000000;
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < pairs; i++) {
        alert_on_request_start(ctx, &req, &id);
        alert_on_request_end(ctx, id, &resp);
    }
    double t1 = now_ns(CLOCK_MONOTONIC);
    printf("start+end pair while %llu deliveries wait and the receiver is down: %.1f ns\n",
           (unsigned long long)s.queue_depth, (t1 - t0) / pairs);
    alert_ctx_destroy(ctx);
}

int main(void)
{
    deliveries(1, 10000);
    deliveries(64, 20000);
    hooks_while_down();
    return 0;
}
