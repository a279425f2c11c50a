/* SPDX-License-Identifier: MIT */
/* make bench: fleet mode's figures against a redis-server this program starts on a
 * loopback port (and stops): the hooks' cost with fleet mode on and off, the commands and
 * rounds per second a replica sends to Redis under load, the longest worker pass while
 * Redis is frozen (SIGSTOP), and the claim latency on loopback. Figures, not tests.
 * Without redis-server installed it says so and exits 0. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerting.h"

#define PAIRS 1000000
#define LOAD_RPS 10000
#define LOAD_SECONDS 5
#define CLAIMS 200

static pid_t redis_pid;
static int redis_port;
static char redis_dir[64];
static _Atomic uint64_t sent;     /* deliveries, for a look at the transport */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static redisReply *redis_cmd(const char *cmd)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    redisReply *rep = redisCommand(c, cmd);
    redisFree(c);
    return rep;
}

static int redis_start(void)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        return -1;
    snprintf(redis_dir, sizeof redis_dir, "/tmp/al-bench-redis-XXXXXX");
    if (!mkdtemp(redis_dir))
        return -1;
    redis_port = free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", redis_dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        redisReply *rep = redis_cmd("PING");
        int ok = rep && rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (ok)
            return 0;
        sleep_ms(10);
    }
    return -1;
}

static void redis_stop(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGCONT);
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", redis_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_fleet: could not remove %s\n", redis_dir);
}

static uint64_t redis_commands(void)
{
    redisReply *rep = redis_cmd("INFO stats");
    uint64_t n = 0;
    if (rep && rep->type == REDIS_REPLY_STRING) {
        const char *p = strstr(rep->str, "total_commands_processed:");
        if (p)
            n = strtoull(p + strlen("total_commands_processed:"), NULL, 10);
    }
    freeReplyObject(rep);
    return n;
}

static int count_send(const alert_delivery *d, void *ud)
{
    (void)d;
    (void)ud;
    atomic_fetch_add(&sent, 1);
    return ALERT_OK;
}

/* A context delivering to a counting transport; fleet mode when fleet is set. */
static alert_ctx *make_ctx(int threads, int fleet, const char *extra)
{
    alert_config *cfg;
    alert_config_new(&cfg);
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = count_send;
    alert_config_add_transport(cfg, "count", &t, NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [count]\n  alerting_threshold: 300\n"
             "  alert_types: [llm_exceptions, llm_too_slow, budget_alerts, outage_alerts, "
             "daily_reports]\n"
             "  alerting_args:\n    worker_threads: %d\n    shutdown_timeout: 0.1\n"
             "    batch_size: 1000000\n    fleet: %s\n    redis_url: \"redis://127.0.0.1:%d\"\n%s",
             threads, fleet ? "true" : "false", redis_port, extra ? extra : "");
    alert_error err = ALERT_ERROR_INIT;
    alert_ctx *ctx = NULL;
    if (alert_config_load_string(cfg, yaml, strlen(yaml), &err) != ALERT_OK ||
        alert_ctx_create(&ctx, cfg, &err) != ALERT_OK) {
        fprintf(stderr, "bench_fleet: %s\n", err.text);
        exit(1);
    }
    alert_config_free(cfg);
    return ctx;
}

static void request_of(alert_request *r, char *call_id)
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

/* ns of a start+end pair over PAIRS / 9 pairs on the caller's thread. */
static double pair_run(alert_ctx *ctx, unsigned long *n)
{
    alert_request r;
    char call_id[40];
    request_of(&r, call_id);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.cost = 0.00625;
    double t0 = now_ns();
    for (int i = 0; i < PAIRS / 9; i++, (*n)++) {
        snprintf(call_id, sizeof call_id, "%08lx-6b1e-4d55-9e53-4a7d3b0f9a11", *n);
        alert_req_id id;
        if (alert_on_request_start(ctx, &r, &id) == ALERT_OK)
            alert_on_request_end(ctx, id, &resp);
    }
    double ns = (now_ns() - t0) / (PAIRS / 9);
    alert_poll(ctx, 0);
    return ns;
}

static double median9(double *v)
{
    for (int i = 1; i < 9; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[4];
}

/* Off and on interleaved, so that the shared machine's drift hits both alike. */
static void hook_cost(void)
{
    alert_ctx *off = make_ctx(0, 0, NULL);
    alert_ctx *on = make_ctx(0, 1, NULL);
    double a[9], b[9];
    unsigned long n_off = 0, n_on = 0;
    for (int k = 0; k < 9; k++) {
        a[k] = pair_run(off, &n_off);
        b[k] = pair_run(on, &n_on);
    }
    printf("fleet: start+end pair, fleet mode off / on (median of 9 interleaved runs, caller's "
           "thread): %.0f / %.0f ns\n", median9(a), median9(b));
    alert_ctx_destroy(off);
    alert_ctx_destroy(on);
}

/* 10 000 requests/s for LOAD_SECONDS, 1 % failing, alert_on_spend on every request: what
 * one replica sends to Redis (commands counted by Redis itself) now that the fleet shares
 * tracked spend (a budget set with alert_set_budget, far from its steps), the spend
 * ledger (key and team cells), outage windows (the failures of one deployment: 500 in
 * its 5 s window, under the minor threshold, so no alert) and the daily report's
 * counters; with failing 0, no failure at all. */
static void load(int failing)
{
    alert_ctx *ctx = make_ctx(1, 1, "    daily_report_frequency: 86400\n"
                                    "    outage_alert_ttl: 5\n"
                                    "    minor_outage_alert_threshold: 999\n"
                                    "    major_outage_alert_threshold: 1000\n");
    alert_budget bud;
    alert_budget_init(&bud, ALERT_BUDGET_VERSION);
    bud.entity = ALERT_ENTITY_KEY;
    bud.entity_id = "hashed-prod-search";
    bud.key_alias = "prod-search";
    bud.max_budget = 1e9;
    alert_set_budget(ctx, &bud, "30d");
    sleep_ms(300);                          /* connected */
    alert_stats st0 = ALERT_STATS_INIT, st1 = ALERT_STATS_INIT;
    alert_stats_get(ctx, &st0);
    uint64_t c0 = redis_commands();
    alert_request r;
    char call_id[40];
    request_of(&r, call_id);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    alert_failure fl;
    alert_failure_init(&fl, ALERT_FAILURE_VERSION);
    fl.status_code = 503;
    fl.error_class = "ServiceUnavailableError";
    fl.message = "upstream unavailable";
    alert_spend sp;
    alert_spend_init(&sp, ALERT_SPEND_VERSION);
    sp.cost = 0.00625;
    sp.key_hash = "hashed-prod-search";
    sp.key_alias = "prod-search";
    sp.team_alias = "search";
    sp.model = "gpt-4o";
    double t0 = now_ns();
    unsigned long n = 0;
    for (int tick = 0; tick < LOAD_SECONDS * 100; tick++) {     /* 100 batches a second */
        for (int i = 0; i < LOAD_RPS / 100; i++, n++) {
            snprintf(call_id, sizeof call_id, "%08lx-6b1e-4d55-9e53-4a7d3b0f9a11", n);
            alert_req_id id;
            if (alert_on_request_start(ctx, &r, &id) != ALERT_OK)
                continue;
            if (failing && n % 100 == 0)
                alert_on_request_failure(ctx, id, &fl);
            else
                alert_on_request_end(ctx, id, &resp);
            alert_on_spend(ctx, &sp);
        }
        double due = t0 + (tick + 1) * 1e7;
        double wait = due - now_ns();
        if (wait > 0)
            sleep_ms((int)(wait / 1e6));
    }
    double secs = (now_ns() - t0) / 1e9;
    alert_stats_get(ctx, &st1);
    uint64_t c1 = redis_commands();
    double rounds = (double)(st1.fleet_rounds - st0.fleet_rounds);
    printf("fleet: %d requests/s, %s, spend on each (tracked budget, ledger, outage "
           "windows, daily counters shared): %.1f rounds/s, %.0f Redis commands/s (%.0f per "
           "round, the commands inside scripts counted; fleet_sync_interval 1 s), %llu round "
           "errors\n", LOAD_RPS, failing ? "1 % failing" : "none failing", rounds / secs,
           (double)(c1 - c0) / secs, rounds > 0 ? (double)(c1 - c0) / rounds : 0.0,
           (unsigned long long)(st1.fleet_round_errors - st0.fleet_round_errors));
    alert_ctx_destroy(ctx);
}

/* Redis frozen for 3 s under a worker_threads: 0 context: the longest alert_poll. */
static void frozen(void)
{
    alert_ctx *ctx = make_ctx(0, 1, "    fleet_sync_interval: 0.1\n");
    alert_poll(ctx, 0);
    kill(redis_pid, SIGSTOP);
    double longest = 0, t_end = now_ns() + 3e9;
    int i = 0;
    while (now_ns() < t_end) {
        if (i++ % 50 == 0) {                /* claims keep coming */
            alert_budget b;
            alert_budget_init(&b, ALERT_BUDGET_VERSION);
            b.entity = ALERT_ENTITY_KEY;
            char id[32];
            snprintf(id, sizeof id, "frozen-%d", i);
            b.entity_id = id;
            b.key_alias = id;
            b.spend = 120;
            b.max_budget = 100;
            b.budget_reset_at_ms = (int64_t)time(NULL) * 1000 + 30 * 86400000LL;
            alert_on_budget(ctx, &b);
        }
        double t0 = now_ns();
        alert_poll(ctx, 0);
        double took = now_ns() - t0;
        if (took > longest)
            longest = took;
        sleep_ms(5);
    }
    kill(redis_pid, SIGCONT);
    alert_stats st = ALERT_STATS_INIT;
    alert_stats_get(ctx, &st);
    printf("fleet: longest worker pass while Redis is frozen 3 s: %.0f ms (longest round %.0f "
           "ms; fleet_timeout 250 ms)\n", longest / 1e6, (double)st.fleet_round_longest_us / 1e3);
    alert_ctx_destroy(ctx);
}

static uint64_t claims_decided(alert_ctx *ctx)
{
    alert_stats st = ALERT_STATS_INIT;
    alert_stats_get(ctx, &st);
    return st.fleet_claims_won + st.fleet_claims_lost + st.fleet_claims_unanswered;
}

/* From alert_on_budget to its claim decided by Redis on loopback (worker_threads: 0,
 * alert_poll run without pause): what fleet mode adds before an alert is routed. */
static void claim_latency(int threads)
{
    alert_ctx *ctx = make_ctx(threads, 1, NULL);
    if (!threads)
        alert_poll(ctx, 0);
    else
        sleep_ms(300);                      /* connected */
    double lat[CLAIMS];
    int n = 0;
    for (int i = 0; i < CLAIMS; i++) {
        alert_budget b;
        alert_budget_init(&b, ALERT_BUDGET_VERSION);
        b.entity = ALERT_ENTITY_KEY;
        char id[32];
        snprintf(id, sizeof id, "latency-%d", i);
        b.entity_id = id;
        b.key_alias = id;
        b.spend = 120;
        b.max_budget = 100;
        b.budget_reset_at_ms = (int64_t)time(NULL) * 1000 + 30 * 86400000LL;
        uint64_t before = claims_decided(ctx);
        double t0 = now_ns();
        alert_on_budget(ctx, &b);
        while (claims_decided(ctx) == before && now_ns() - t0 < 2e9)
            if (!threads) {
                alert_poll(ctx, 0);
            } else {
                struct timespec ts = { 0, 20000 };      /* the worker and coordinator run */
                nanosleep(&ts, NULL);
            }
        if (claims_decided(ctx) == before) {
            printf("fleet: claim latency: no claim decided in 2 s; skipped\n");
            break;
        }
        lat[n++] = now_ns() - t0;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && lat[j] < lat[j - 1]; j--) {
            double t = lat[j];
            lat[j] = lat[j - 1];
            lat[j - 1] = t;
        }
    alert_stats st = ALERT_STATS_INIT;
    alert_stats_get(ctx, &st);
    if (n)
        printf("fleet: claim latency on loopback, alert_on_budget to claim decided, %s: median "
               "%.0f us, p99 %.0f us (%d claims, %llu won by Redis)%s\n",
               threads ? "worker thread" : "alert_poll", lat[n / 2] / 1e3,
               lat[n * 99 / 100] / 1e3, n, (unsigned long long)st.fleet_claims_won,
               threads ? "; the event waits for the worker's timer (<= 100 ms: the hooks make "
                         "no system call), the answer wakes it" : "");
    alert_ctx_destroy(ctx);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (redis_start() != 0) {
        printf("fleet: redis-server not installed or not starting: fleet figures skipped\n");
        return 0;
    }
    hook_cost();
    claim_latency(0);
    claim_latency(1);
    load(1);
    load(0);
    frozen();
    redis_stop();
    return 0;
}
