/* SPDX-License-Identifier: MIT */
/* make bench: the cost of the request hooks on the caller's thread, their scaling
 * on two threads, allocations and memory per in-flight request, and the worker's
 * time for one tick with a million requests in flight. Figures, not tests.
 *
 * `bench_hooks count realistic|minimal PAIRS` runs PAIRS start+end pairs and
 * nothing else worth counting: bench/instructions.sh runs it under callgrind,
 * collecting only inside the two hooks, at two lengths, and prints the
 * difference per pair (set-up and the first, cold, calls cancel out). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting.h"
#include "alloc.h"
#include "inflight.h"
#include "wheel.h"
#include "ledger.h"
#include "outage.h"

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

/* The request of a proxy in production: a unique call id, six low-cardinality
 * labels and a key alias; the response carries token counts and cost. */
static void realistic_request(alert_request *r, char *call_id)
{
    alert_request_init(r, ALERT_REQUEST_VERSION);
    r->call_id = call_id;
    r->model = "gpt-4o";
    r->deployment = "azure/gpt-4o-eastus";
    r->api_base = "https://eastus.api.cognitive.example.com";
    r->region = "eastus";
    r->provider = "azure";
    r->key_alias = "prod-search";
    r->team_alias = "search";
}

static void realistic_response(alert_response *resp)
{
    alert_response_init(resp, ALERT_RESPONSE_VERSION);
    resp->prompt_tokens = 1250;
    resp->completion_tokens = 310;
    resp->cost = 0.00625;
}

/* The least a proxy passes: a call id and a model; no response. */
static void minimal_request(alert_request *r, char *call_id)
{
    alert_request_init(r, ALERT_REQUEST_VERSION);
    r->call_id = call_id;
    r->model = "gpt-4o";
}

/* A uuid-shaped call id that differs in every request (and in its first bytes). */
static void next_call_id(char *call_id, unsigned long i)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(call_id, "00000000-6b1e-4d55-9e53-4a7d3b0f9a11", 37);
    for (int k = 7; k >= 0; k--, i >>= 4)
        call_id[k] = hex[i & 15];
}

static int count_pairs(const char *kind, long pairs)
{
    int realistic = strcmp(kind, "realistic") == 0;
    if (!realistic && strcmp(kind, "minimal") != 0)
        return 2;
    /* no worker thread: the start rings are drained by alert_poll between pairs,
     * outside the hooks, so only the hooks are counted */
    alert_ctx *ctx = make_ctx(0, NULL, NULL, "");
    alert_request r;
    alert_response resp;
    char call_id[40];
    if (realistic)
        realistic_request(&r, call_id);
    else
        minimal_request(&r, call_id);
    realistic_response(&resp);
    alert_req_id id;
    int failed = 0;
    for (long i = 0; i < pairs; i++) {
        next_call_id(call_id, (unsigned long)i);
        if (alert_on_request_start(ctx, &r, &id) != ALERT_OK ||
            alert_on_request_end(ctx, id, realistic ? &resp : NULL) != ALERT_OK)
            failed++;
        if ((i & 15) == 15)
            alert_poll(ctx, 0);
    }
    alert_ctx_destroy(ctx);
    if (failed) {
        fprintf(stderr, "bench: %d pairs failed\n", failed);
        return 1;
    }
    return 0;
}

typedef struct run_arg {
    alert_ctx *ctx;
    long pairs;
    int realistic;
    double ns;
    double cpu_ns;      /* this thread's CPU time over the run */
} run_arg;

static void *run_pairs(void *p)
{
    run_arg *a = p;
    alert_request r;
    alert_response resp;
    char call_id[40];
    if (a->realistic)
        realistic_request(&r, call_id);
    else
        minimal_request(&r, call_id);
    realistic_response(&resp);
    alert_req_id id;
    double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < a->pairs; i++) {
        next_call_id(call_id, (unsigned long)i);
        if (alert_on_request_start(a->ctx, &r, &id) == ALERT_OK)
            alert_on_request_end(a->ctx, id, a->realistic ? &resp : NULL);
    }
    a->ns = now_ns(CLOCK_MONOTONIC) - t0;
    a->cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double last_cpu_ns;     /* median_pairs_ns: the median CPU time per pair */

static double median_pairs_ns(alert_ctx *ctx, int realistic)
{
    run_arg warm = { ctx, 200000, realistic, 0, 0 };
    run_pairs(&warm);
    double runs[7], cpu[7];
    for (int i = 0; i < 7; i++) {
        run_arg a = { ctx, PAIRS / 4, realistic, 0, 0 };
        run_pairs(&a);
        runs[i] = a.ns / (double)a.pairs;
        cpu[i] = a.cpu_ns / (double)a.pairs;
    }
    qsort(runs, 7, sizeof *runs, cmp_double);
    qsort(cpu, 7, sizeof *cpu, cmp_double);
    last_cpu_ns = cpu[3];
    return runs[3];
}

/* Wall time of PAIRS realistic pairs on each of two threads; *other_cpu: the CPU
 * time the rest of the process (the worker) took meanwhile. */
static double two_threads_cpu_ns;  /* two_threads_ns: the hook threads' CPU time per pair */

static double two_threads_ns(alert_ctx *ctx, double *other_cpu)
{
    run_arg a[2] = { { ctx, PAIRS, 1, 0, 0 }, { ctx, PAIRS, 1, 0, 0 } };
    pthread_t th[2];
    double c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, run_pairs, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double wall = now_ns(CLOCK_MONOTONIC) - t0;
    if (other_cpu)
        *other_cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0 - a[0].cpu_ns - a[1].cpu_ns;
    two_threads_cpu_ns = (a[0].cpu_ns + a[1].cpu_ns) / (2.0 * PAIRS);
    return wall;
}

/* CPU time the whole machine was busy (ns, from /proc/stat; 0 where unreadable):
 * with the process's own CPU time, says how much other programs took meanwhile. */
static double machine_busy_ns(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1e9 / (double)sysconf(_SC_CLK_TCK);
}

/* `bench_hooks scale RUNS`: the 2-thread scaling alone, RUNS times, one line each
 * and the median, with the CPU time the worker took per pair while two threads
 * ran (on two cores, its time is taken from the hooks'). */
static void bench_scale(int runs)
{
    double *x = calloc((size_t)runs, sizeof *x);
    for (int r = 0; r < runs; r++) {
        alert_ctx *ctx = make_ctx(1, NULL, NULL, "");
        double one = median_pairs_ns(ctx, 1), other, one_cpu = last_cpu_ns;
        double busy0 = machine_busy_ns(), own0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        double wall = two_threads_ns(ctx, &other), two = wall / (2.0 * PAIRS);
        double others = machine_busy_ns() - busy0 - (now_ns(CLOCK_PROCESS_CPUTIME_ID) - own0);
        x[r] = one / two;
        printf("run %d: wall 1 thread %.1f ns, 2 threads %.1f ns, scaling %.2f x; CPU per pair: "
               "hooks 1 thread %.1f ns, 2 threads %.1f ns, worker %.1f ns; other programs %.0f%% of a core\n",
               r, one, two, x[r], one_cpu, two_threads_cpu_ns, other / (2.0 * PAIRS),
               others > 0 ? 100.0 * others / wall : 0.0);
        alert_ctx_destroy(ctx);
    }
    qsort(x, (size_t)runs, sizeof *x, cmp_double);
    printf("scaling, median of %d: %.2f x (min %.2f, max %.2f)\n", runs, x[runs / 2], x[0], x[runs - 1]);
    free(x);
}

static void bench_pairs(void)
{
    alert_ctx *ctx = make_ctx(1, NULL, NULL, "");
    printf("start+end pair, minimal request, 1 thread (median): %.1f ns\n", median_pairs_ns(ctx, 0));
    uint64_t allocs0 = al_alloc_count();
    double one = median_pairs_ns(ctx, 1);
    uint64_t allocs = al_alloc_count() - allocs0;
    printf("start+end pair, realistic request, 1 thread (median): %.1f ns\n", one);
    printf("allocations per pair (steady state): %.4f allocs\n", (double)allocs / (7.0 * PAIRS / 4));

    double wall = two_threads_ns(ctx, NULL);
    double tput1 = 1e9 / one;
    double tput2 = 2.0 * PAIRS / (wall / 1e9);
    printf("start+end pair, realistic request, 2 threads: %.1f ns\n", wall / (2.0 * PAIRS));
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
        /* five groups of 1 000 become due one second apart; the rest are younger */
        int group = i % 200 == 0 ? (i / 200) % 5 + 1 : 0;
        r.start_ms = group ? t0 - 300000 + group * 1000 - 500 : t0 - (i % 290) * 1000;
        if (alert_on_request_start(ctx, &r, &id) != ALERT_OK) {
            fprintf(stderr, "bench: start failed at %d\n", i);
            exit(1);
        }
        if (i % 2048 == 0)
            alert_poll(ctx, 0);
    }
    alert_poll(ctx, 0);
    double ms[5];
    alert_stats s = ALERT_STATS_INIT;
    uint64_t raised = 0, most_delivered = 0;
    double flush_ms = 0;
    for (int k = 0; k < 5; k++) {
        alert_stats_get(ctx, &s);
        uint64_t before = s.alerts_raised, delivered = s.deliveries_ok;
        bench_clock_ms = t0 + (k + 1) * 1000;
        double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
        alert_poll(ctx, 0);
        ms[k] = (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e6;
        alert_stats_get(ctx, &s);
        raised = s.alerts_raised - before;
        /* the alerts wait for the flush (flush_interval): one of the ticks delivers
         * all that waited, the median does not show it */
        if (s.deliveries_ok - delivered > most_delivered) {
            most_delivered = s.deliveries_ok - delivered;
            flush_ms = ms[k];
        }
    }
    double first = ms[0];
    qsort(ms, 5, sizeof *ms, cmp_double);
    printf("worker tick, %llu in flight, %llu due (median of 5 ticks): %.2f ms\n",
           (unsigned long long)s.requests_inflight, (unsigned long long)raised, ms[2]);
    printf("worker tick, the first one (cold allocator): %.2f ms\n", first);
    if (most_delivered)
        printf("worker tick with the flush (%llu delivered to a custom transport): %.2f ms\n",
               (unsigned long long)most_delivered, flush_ms);
    alert_ctx_destroy(ctx);
}

static double time_calls(int (*fn)(alert_ctx *, const void *), alert_ctx *ctx, const void *arg, int n)
{
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < n; i++) {
        fn(ctx, arg);
        if ((i & 1023) == 1023)
            alert_poll(ctx, 0);     /* the worker aggregates; its time is not the caller's */
    }
    return now_ns(CLOCK_MONOTONIC) - t0;
}

static int call_spend(alert_ctx *ctx, const void *a)
{
    return alert_on_spend(ctx, a);
}

static int call_budget(alert_ctx *ctx, const void *a)
{
    return alert_on_budget(ctx, a);
}

static int call_failure(alert_ctx *ctx, const void *a)
{
    return alert_on_request_failure(ctx, 0, a);
}

/* The caller's cost: the worker runs in between, but its time (and its allocations)
 * are not counted. */
static uint64_t caller_allocs;
static double caller_ns(int (*fn)(alert_ctx *, const void *), alert_ctx *ctx, const void *arg)
{
    const int n = 1024, rounds = 200;
    double total = 0;
    caller_allocs = 0;
    for (int r = 0; r < rounds; r++) {
        uint64_t a0 = al_alloc_count();
        double t0 = now_ns(CLOCK_MONOTONIC);
        for (int i = 0; i < n; i++)
            fn(ctx, arg);
        total += now_ns(CLOCK_MONOTONIC) - t0;
        if (r > 0)
            caller_allocs += al_alloc_count() - a0;     /* the first round fills the pool */
        alert_poll(ctx, 0);
    }
    return total / (n * rounds);
}

static void bench_money_and_outages(void)
{
    alert_ctx *ctx = make_ctx(0, NULL, NULL, "");
    static const char *tags[] = { "prod", "search", "team-a" };
    alert_spend sp = ALERT_SPEND_INIT;
    sp.cost = 0.0123;
    sp.key_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    sp.user_id = "user-42";
    sp.team_alias = "search";
    sp.team_id = "team-7";
    sp.tags = tags;
    sp.tag_count = 3;
    time_calls(call_spend, ctx, &sp, 10000);
    printf("alert_on_spend, 3 tags (caller's thread): %.1f ns, %.4f allocations per call\n",
           caller_ns(call_spend, ctx, &sp), (double)caller_allocs / (1024.0 * 199));
    alert_budget b = ALERT_BUDGET_INIT;
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "key-1";
    b.spend = 10;
    b.max_budget = 100;
    printf("alert_on_budget (caller's thread): %.1f ns\n", caller_ns(call_budget, ctx, &b));
    alert_failure f = ALERT_FAILURE_INIT;
    f.status_code = 503;
    f.model = "gpt-4o";
    f.deployment = "azure/gpt-4o-eastus";
    f.provider = "azure";
    f.region = "eastus";
    f.message = "Service Unavailable";
    f.user_error = 1;   /* not an llm_exceptions alert: the outage tracking path alone */
    printf("failure hook with outage tracking (caller's thread): %.1f ns, %.4f allocations per call\n",
           caller_ns(call_failure, ctx, &f), (double)caller_allocs / (1024.0 * 199));
    alert_ctx_destroy(ctx);

    al_outage_conf oc = { 60, 60, 5, 10, 10000, 1, 1, 1 };
    al_outage *o;
    al_outage_new(&oc, &o);
    char dep[48];
    for (int i = 0; i < 10000; i++) {
        snprintf(dep, sizeof dep, "azure/deployment-%05d", i);
        al_outage_failure of = { "gpt-4o", dep, NULL, "azure", "https://x.example", "eastus", 500, 1000 + i };
        al_alert **v = NULL;
        size_t n = 0;
        al_outage_on_failure(o, &of, &v, &n);
        for (size_t k = 0; k < n; k++)
            al_alert_free(v[k]);
        al_free(v);
    }
    printf("outage state, %zu deployments tracked: %zu bytes (%.0f bytes per deployment)\n",
           al_outage_tracked(o), al_outage_memory(o), (double)al_outage_memory(o) / (double)al_outage_tracked(o));
    al_outage_free(o);

    al_ledger *l = al_ledger_new(AL_LEDGER_DAYS_DEFAULT);
    char name[32];
    for (int d = 0; d < 45; d++)
        for (int i = 0; i < 500; i++) {
            snprintf(name, sizeof name, "user-%d", i);
            alert_spend s = ALERT_SPEND_INIT;
            s.cost = 0.01;
            s.user_id = name;
            s.team_alias = "search";
            s.tags = tags;
            s.tag_count = 3;
            al_ledger_add(l, &s, 1767225600000LL + (int64_t)d * 86400000);
        }
    printf("ledger memory per (day, name) cell: %.1f bytes (%zu cells)\n", al_ledger_bytes_per_cell(l),
           al_ledger_cells(l));
    al_ledger_free(l);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "count") == 0)
        return count_pairs(argv[2], atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "scale") == 0) {
        bench_scale(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "tick") == 0) {     /* the worker tick alone (profiling) */
        bench_tick();
        return 0;
    }
    bench_pairs();
    bench_memory();
    bench_tick();
    bench_money_and_outages();
    return 0;
}
