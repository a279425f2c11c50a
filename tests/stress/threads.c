/* SPDX-License-Identifier: MIT */
/* Races: two host threads run every hook while the worker thread delivers and the
 * main thread flushes and reads the counters. Built with -fsanitize=thread by
 * `make check` (any report fails it); the counts are checked too. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "receiver.h"

#define PER_THREAD 20000

static alert_ctx *ctx;

static void *host_thread(void *arg)
{
    long k = (long)arg;
    alert_request r = ALERT_REQUEST_INIT;
    r.model = "gpt-4o";
    r.call_id = "call";
    r.deployment = k ? "azure/a" : "azure/b";
    r.alerting_metadata_json = "{\"team\": \"search\"}";
    for (int i = 0; i < PER_THREAD; i++) {
        alert_req_id id;
        r.start_ms = (i % 500 == 0) ? 1 : 0;     /* now and then one that is long overdue */
        if (alert_on_request_start(ctx, &r, &id) != ALERT_OK)
            return (void *)1;
        if (i % 3 == 0)
            alert_on_first_token(ctx, id, 0);
        if (i % 7 == 0) {
            alert_failure f = ALERT_FAILURE_INIT;
            f.status_code = 500;
            f.message = "upstream error";
            alert_on_request_failure(ctx, id, &f);
        } else if (i % 11 == 0) {
            alert_on_request_cancel(ctx, id);
        } else {
            alert_response resp = ALERT_RESPONSE_INIT;
            alert_on_request_end(ctx, id, &resp);
        }
        if (i % 1000 == 0) {
            alert_spend s = ALERT_SPEND_INIT;
            s.cost = 1;
            s.user_id = "u";
            alert_on_spend(ctx, &s);
            alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, "from a host thread", NULL);
            alert_stats st = ALERT_STATS_INIT;
            alert_stats_get(ctx, &st);
            (void)alert_ctx_last_error(ctx);
        }
    }
    return NULL;
}

int main(void)
{
    rcv *rv = rcv_start(0);
    char url[200], yaml[512];
    rcv_url(rv, "/hook", url, sizeof url);
    snprintf(yaml, sizeof yaml, "alerting: [webhook]\nalerting_threshold: 0.05\n"
             "alerting_args: {webhook_url: \"%s\", flush_interval: 0.05,\n"
             "  webhook_alert_types: [llm_exceptions, llm_too_slow, llm_requests_hanging]}\n", url);
    alert_config *cfg;
    alert_config_new(&cfg);
    if (alert_config_load_string(cfg, yaml, strlen(yaml), NULL) != ALERT_OK ||
        alert_ctx_create(&ctx, cfg, NULL) != ALERT_OK)
        return 1;
    alert_config_free(cfg);
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, host_thread, (void *)i);
    for (int i = 0; i < 20; i++)
        alert_flush(ctx, 50);
    void *bad[2];
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], &bad[i]);
    int rc = alert_flush(ctx, 10000);
    alert_stats st = ALERT_STATS_INIT;
    alert_stats_get(ctx, &st);
    int ok = !bad[0] && !bad[1] && rc == ALERT_OK && st.requests_started == 2 * PER_THREAD &&
             st.requests_inflight == 0 && st.alerts_raised > 0 && st.deliveries_ok > 0 &&
             st.queue_depth == 0 && st.deliveries_failed == 0 && st.deliveries_dropped == 0;
    printf("stress: started %llu, in flight %llu, raised %llu, delivered %llu messages\n",
           (unsigned long long)st.requests_started, (unsigned long long)st.requests_inflight,
           (unsigned long long)st.alerts_raised, (unsigned long long)st.deliveries_ok);
    alert_ctx_destroy(ctx);
    rcv_stop(rv);
    printf("stress: %d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
