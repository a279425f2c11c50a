/* make bench: the cost of the request hooks on the caller's thread, their scaling
 * on two threads, allocations and memory per in-flight request, and the worker's
 * time for one tick with a million requests in flight. Figures, not tests. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting.h"
#include "alloc.h"
#include "inflight.h"
#include "wheel.h"

#define PAIRS 2000000

static double now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int discard(const alert_delivery *d, void *ud)
{
    (void)d;
    (void)ud;
    return ALERT_OK;
}

static alert_ctx *make_ctx(int threads, alert_clock_fn clock, void *ud, const char *extra)
{
    alert_config *cfg;
    alert_config_new(&cfg);
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = discard;
    alert_config_add_transport(cfg, "discard", &t, NULL);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "alerting: [discard]\nalerting_threshold: 300\n"
             "alerting_args: {worker_threads: %d, shutdown_timeout: 0.1, batch_size: 1000000%s}\n", threads, extra);
    alert_error err = ALERT_ERROR_INIT;
    if (alert_config_load_string(cfg, yaml, strlen(yaml), &err) != ALERT_OK) {
        fprintf(stderr, "bench: config: %s\n", err.text);
        exit(1);
    }
    if (clock)
        alert_config_set_clock(cfg, clock, ud);
    alert_ctx *ctx;
    if (alert_ctx_create(&ctx, cfg, &err) != ALERT_OK) {
        fprintf(stderr, "bench: ctx: %s\n", err.text);
        exit(1);
    }
    alert_config_free(cfg);
    return ctx;
}

static void typical_request(alert_request *r, char *call_id)
{
    alert_request_init(r, ALERT_REQUEST_VERSION);
    r->call_id = call_id;
    r->model = "gpt-4o";
    r->deployment = "azure/gpt-4o-eastus";
    r->deployment_id = "dep-7f3a";
    r->provider = "azure";
    r->api_base = "https://eastus.api.cognitive.example.com";
    r->region = "eastus";
    r->key_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    r->key_alias = "prod-search";
    r->team_alias = "search";
    r->user_id = "user-42";
}

typedef struct run_arg {
    alert_ctx *ctx;
    long pairs;
    double ns;
} run_arg;

static void *run_pairs(void *p)
{
    run_arg *a = p;
    alert_request r;
    char call_id[40] = "2f1c9c1e-6b1e-4d55-9e53-4a7d3b0f9a11";
    typical_request(&r, call_id);
    alert_response resp = ALERT_RESPONSE_INIT;
    alert_req_id id;
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < a->pairs; i++) {
        call_id[0] = (char)('a' + (i & 15));
        if (alert_on_request_start(a->ctx, &r, &id) == ALERT_OK)
            alert_on_request_end(a->ctx, id, &resp);
    }
    a->ns = now_ns(CLOCK_MONOTONIC) - t0;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_pairs(void)
{
    alert_ctx *ctx = make_ctx(1, NULL, NULL, "");
    run_arg warm = { ctx, 200000, 0 };
    run_pairs(&warm);
    double runs[7];
    uint64_t allocs0 = al_alloc_count();
    for (int i = 0; i < 7; i++) {
        run_arg a = { ctx, PAIRS / 4, 0 };
        run_pairs(&a);
        runs[i] = a.ns / (double)a.pairs;
    }
    uint64_t allocs = al_alloc_count() - allocs0;
    qsort(runs, 7, sizeof *runs, cmp_double);
    double one = runs[3];
    printf("start+end pair, 1 thread (median): %.1f ns\n", one);
    printf("allocations per pair (steady state): %.4f allocs\n", (double)allocs / (7.0 * PAIRS / 4));

    run_arg a[2] = { { ctx, PAIRS, 0 }, { ctx, PAIRS, 0 } };
    pthread_t th[2];
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, run_pairs, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double wall = now_ns(CLOCK_MONOTONIC) - t0;
    double tput1 = 1e9 / one;
    double tput2 = 2.0 * PAIRS / (wall / 1e9);
    printf("start+end pair, 2 threads: %.1f ns\n", wall / (2.0 * PAIRS));
    printf("throughput, 1 thread: %.2f Mpairs/s\n", tput1 / 1e6);
    printf("throughput, 2 threads: %.2f Mpairs/s\n", tput2 / 1e6);
    printf("scaling, 2 threads vs 1: %.2f x\n", tput2 / tput1);
    alert_ctx_destroy(ctx);
}

static void bench_memory(void)
{
    /* a typical request keeps call id, key hash, key alias and user id (labels are
     * interned); with llm_too_slow on it also keeps up to 100 characters of prompt */
    size_t ids = 36 + 64 + 11 + 7;
    int cls = al_inflight_var_class(ids);
    int cls_prompt = al_inflight_var_class(ids + 100);
    printf("bytes per in-flight request, fixed slot: %zu bytes\n", sizeof(al_slot));
    printf("bytes per in-flight request, timer wheel node: %zu bytes\n", al_wheel_bytes_per_entry());
    printf("bytes per in-flight request, variable data (typical, no prompt): %zu bytes\n",
           al_inflight_var_class_size(cls));
    printf("bytes per in-flight request, variable data (typical, 100-char prompt): %zu bytes\n",
           al_inflight_var_class_size(cls_prompt));
}

static int64_t bench_clock_ms;
static int64_t bench_clock(void *ud)
{
    (void)ud;
    return bench_clock_ms;
}

static void bench_tick(void)
{
    const int64_t t0 = 1767225600000LL;
    bench_clock_ms = t0;
    alert_ctx *ctx = make_ctx(0, bench_clock, NULL, ", max_inflight: 1100000");
    alert_request r;
    char call_id[40];
    typical_request(&r, call_id);
    alert_req_id id;
    for (int i = 0; i < 1000000; i++) {
        snprintf(call_id, sizeof call_id, "req-%d", i);
        /* 1 000 of them started 300 s before the tick; the rest are younger */
        r.start_ms = (i % 1000 == 0) ? t0 - 300000 + 500 : t0 - (i % 299) * 1000;
        if (alert_on_request_start(ctx, &r, &id) != ALERT_OK) {
            fprintf(stderr, "bench: start failed at %d\n", i);
            exit(1);
        }
        if (i % 2048 == 0)
            alert_poll(ctx, 0);
    }
    alert_poll(ctx, 0);
    alert_stats s = ALERT_STATS_INIT;
    alert_stats_get(ctx, &s);
    uint64_t raised0 = s.alerts_raised;
    bench_clock_ms = t0 + 1000;
    double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    alert_poll(ctx, 0);
    double c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    alert_stats_get(ctx, &s);
    printf("worker tick, %llu in flight, %llu due: %.2f ms\n",
           (unsigned long long)s.requests_inflight,
           (unsigned long long)(s.alerts_raised - raised0), (c1 - c0) / 1e6);
    alert_ctx_destroy(ctx);
}

int main(void)
{
    bench_pairs();
    bench_memory();
    bench_tick();
    return 0;
}
