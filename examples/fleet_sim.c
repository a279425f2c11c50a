/* SPDX-License-Identifier: MIT */
/* fleet_sim: three replicas of a proxy alerting as one through Redis, for `make demo`.
 *
 *   fleet_sim RECEIVER_URL REDIS_PORT REDIS_PID
 *
 * Three contexts of one configuration (three replicas behind a load balancer, here in
 * one process) share the redis-server at 127.0.0.1:REDIS_PORT. Each delivers to the
 * receiver and to a console transport that prints which replica sent the alert.
 *
 * The replicas run without worker threads (worker_threads: 0) on one simulated clock
 * (alert_config_set_clock): the story spans an hour of the proxy's time in a second, and
 * each step runs every replica's passes (alert_poll) until nothing is due, so the output
 * is the same at every run. The acts: a key's budget read from the host's database by
 * every replica (one alert per step); a deployment failing on all three replicas (one
 * outage alert); one daily report with the counts of all three; a budget the library
 * tracks, crossed by the replicas' summed spend; then Redis stopped, and alerts still go
 * out, each replica deciding alone. It ends with each replica's fleet counters. */
#include <alerting.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLICAS 3

static const char *const names[REPLICAS] = { "replica-a", "replica-b", "replica-c" };
static alert_ctx *replica[REPLICAS];
static int64_t now_ms;          /* the simulated clock every replica reads */

static int64_t sim_clock(void *userdata)
{
    (void)userdata;
    return now_ms;
}

static void say(const char *what)
{
    if (isatty(1))
        printf("\n\033[1m▶ %s\033[0m\n", what);
    else
        printf("\n▶ %s\n", what);
    fflush(stdout);
}

/* The line at p, without the markup around it. */
static void print_line(const char *who, const char *prefix, const char *p)
{
    while (*p == '\n' || *p == '\t' || *p == ' ' || *p == '*')
        p++;
    const char *nl = strchr(p, '\n');
    int n = (int)(nl ? nl - p : (long)strlen(p));
    while (n > 0 && (p[n - 1] == '*' || p[n - 1] == ' '))
        n--;
    printf("  [%s] %s%.*s\n", who, prefix, n, p);
}

/* A custom transport: one line per delivery naming the replica that sent it; for a
 * daily report, its per-deployment lines. */
static int console_send(const alert_delivery *d, void *userdata)
{
    const char *who = userdata, *text = d->text ? d->text : "";
    char prefix[96];
    snprintf(prefix, sizeof prefix, "sent %s: ", d->alert_type ? d->alert_type : "alert");
    const char *msg = strstr(text, "Message: ");
    if (msg) {
        print_line(who, prefix, msg + 9);
    } else {
        print_line(who, prefix, "one report for the fleet");
        for (const char *p = strstr(text, "Deployment: "); p; p = strstr(p + 1, "Deployment: "))
            print_line(who, "    ", p);
    }
    fflush(stdout);
    return ALERT_OK;
}

static void on_log(int level, const char *message, void *userdata)
{
    if (level <= ALERT_LOG_WARNING)
        printf("  [%s warning] %s\n", (const char *)userdata, message);
    fflush(stdout);
}

static alert_ctx *start_replica(int i, const char *receiver, int redis_port)
{
    alert_config *cfg;
    alert_error err = ALERT_ERROR_INIT;
    if (alert_config_new(&cfg) != ALERT_OK)
        exit(1);
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = console_send;
    alert_config_add_transport(cfg, "console", &t, (void *)names[i]);
    alert_config_set_log(cfg, on_log, (void *)names[i]);
    alert_config_set_clock(cfg, sim_clock, NULL);
    char yaml[1024];
    /* fleet_sync_interval: a round on every pass, as the clock here jumps by seconds */
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [slack, console]\n"
             "  alert_types: [budget_alerts, outage_alerts, daily_reports]\n"
             "  alerting_args:\n"
             "    worker_threads: 0\n"
             "    slack_webhook_url: \"%s\"\n"
             "    instance_name: %s\n"
             "    redis_url: \"redis://127.0.0.1:%d\"\n"
             "    fleet_name: demo\n"
             "    fleet_sync_interval: 0.001\n"
             "    fleet_timeout: 1\n"
             "    daily_report_frequency: 3600\n"
             "    shutdown_timeout: 1\n",
             receiver, names[i], redis_port);
    alert_ctx *ctx = NULL;
    if (alert_config_load_string(cfg, yaml, strlen(yaml), &err) != ALERT_OK ||
        alert_ctx_create(&ctx, cfg, &err) != ALERT_OK) {
        fprintf(stderr, "fleet_sim: %s\n", err.text);
        exit(1);
    }
    alert_config_free(cfg);
    return ctx;
}

/* The clock moves on by ms; every replica runs its passes until nothing is due, three
 * times over, so that what one asked Redis in a pass is answered in the next. */
static void advance(int64_t ms)
{
    now_ms += ms;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < REPLICAS; i++) {
            alert_poll(replica[i], 0);
            alert_flush(replica[i], 5000);
        }
}

/* Every replica reads the key's spend from the host's database and tells its library. */
static void all_read_budget(const char *key, double spend)
{
    for (int i = 0; i < REPLICAS; i++) {
        alert_budget b;
        alert_budget_init(&b, ALERT_BUDGET_VERSION);
        b.entity = ALERT_ENTITY_KEY;
        b.entity_id = key;
        b.key_alias = key;
        b.spend = spend;
        b.max_budget = 100;
        b.budget_reset_at_ms = now_ms + 30LL * 86400 * 1000;
        alert_on_budget(replica[i], &b);
    }
    advance(1000);
}

static void act_budget(void)
{
    say("A key's budget climbs; the three replicas read the same spend from the database");
    printf("  alone, each replica would alert: 3 alerts per step; as a fleet: one.\n");
    all_read_budget("sk-prod-search", 87);
    all_read_budget("sk-prod-search", 96);
    all_read_budget("sk-prod-search", 104);
}

/* One request through a replica: failed with status, or answered in latency_ms. */
static void request(alert_ctx *ctx, const char *deployment, int status, int64_t latency_ms)
{
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gemini-pro";
    r.deployment = deployment;
    r.provider = "vertex_ai";
    r.api_base = "https://vertex.example";
    r.start_ms = now_ms;
    alert_req_id id;
    if (alert_on_request_start(ctx, &r, &id) != ALERT_OK)
        return;
    if (status) {
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = status;
        f.message = "upstream error";
        alert_on_request_failure(ctx, id, &f);
    } else {
        alert_response resp;
        alert_response_init(&resp, ALERT_RESPONSE_VERSION);
        resp.end_ms = now_ms + latency_ms;
        resp.completion_tokens = 100;
        alert_on_request_end(ctx, id, &resp);
    }
}

static void act_outage(void)
{
    say("A deployment fails on all three replicas: 2 + 2 + 1 failures in a minute");
    printf("  alone, none reaches the minor-outage threshold of 5; the fleet counts 5:\n"
           "  one outage alert.\n");
    static const int spread[REPLICAS] = { 2, 2, 1 };
    for (int i = 0; i < REPLICAS; i++)
        for (int k = 0; k < spread[i]; k++)
            request(replica[i], "vertex/gemini-eu", k % 2 ? 408 : 500, 0);
    advance(1000);
}

static void act_daily_report(void)
{
    say("The hour's daily report (daily_report_frequency: 1 h here)");
    printf("  the 5 failures above came 2 + 2 + 1 from three replicas, and each served a slow\n"
           "  request: one report, with the fleet's counts.\n");
    for (int i = 0; i < REPLICAS; i++)
        request(replica[i], "openai/gpt-4o-slow", 0, 12000);
    /* the window ends an hour after the fleet anchored it; the report is claimed a sync
     * interval later, by one replica */
    for (int step = 0; step < 60; step++)
        advance(60000);
}

static void act_tracked_budget(void)
{
    say("A $100 budget the library tracks (alert_set_budget + alert_on_spend)");
    printf("  $35 of spend on each replica: none crosses $100 alone; their sum, $105, does:\n"
           "  one \"Budget Crossed\" for the fleet (with its 85 %% and 95 %% steps before it).\n");
    for (int i = 0; i < REPLICAS; i++) {
        alert_budget b;
        alert_budget_init(&b, ALERT_BUDGET_VERSION);
        b.entity = ALERT_ENTITY_TEAM;
        b.entity_id = "team-research";
        b.team_alias = "research";
        b.max_budget = 100;
        alert_set_budget(replica[i], &b, "30d");
    }
    advance(1000);
    for (int dollars = 0; dollars < 35; dollars++) {
        for (int i = 0; i < REPLICAS; i++) {
            alert_spend s = ALERT_SPEND_INIT;
            s.cost = 1.0;
            s.team_id = "team-research";
            s.team_alias = "research";
            alert_on_spend(replica[i], &s);
        }
        advance(100);
    }
    advance(1000);
}

static int redis_port;

/* 1 while something accepts connections on Redis's port. */
static int redis_answers(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)redis_port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int up = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return up;
}

static void act_redis_stopped(pid_t redis_pid)
{
    say("Redis is stopped; another key crosses its budget on every replica");
    printf("  each replica decides alone: the alert is never lost (a duplicate per replica,\n"
           "  counted), and the fleet takes over again when Redis is back.\n");
    kill(redis_pid, SIGTERM);
    for (int i = 0; i < 100 && redis_answers(); i++) {     /* until it is gone */
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
    advance(1000);          /* each replica's round fails: it goes single-process */
    all_read_budget("sk-batch-jobs", 120);
    advance(3000);          /* past fleet_claim_timeout, should a claim still wait */
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fleet_sim RECEIVER_URL REDIS_PORT REDIS_PID\n");
        return 2;
    }
    redis_port = atoi(argv[2]);
    pid_t redis_pid = (pid_t)atoi(argv[3]);
    now_ms = (int64_t)time(NULL) * 1000;
    say("Three replicas start, sharing Redis at 127.0.0.1");
    for (int i = 0; i < REPLICAS; i++)
        replica[i] = start_replica(i, argv[1], redis_port);
    advance(0);             /* they connect and anchor the fleet's report windows */

    act_budget();
    act_outage();
    act_daily_report();
    act_tracked_budget();
    act_redis_stopped(redis_pid);

    say("What each replica counted");
    for (int i = 0; i < REPLICAS; i++) {
        alert_stats st = ALERT_STATS_INIT;
        alert_flush(replica[i], 5000);
        alert_stats_get(replica[i], &st);
        printf("  %s: deliveries %llu (Slack and console), claims won %llu, lost %llu (held "
               "back: another replica sent it), unanswered %llu (sent alone)\n", names[i],
               (unsigned long long)st.deliveries_ok, (unsigned long long)st.fleet_claims_won,
               (unsigned long long)st.fleet_claims_lost,
               (unsigned long long)st.fleet_claims_unanswered);
    }
    for (int i = 0; i < REPLICAS; i++)
        alert_ctx_destroy(replica[i]);
    return 0;
}
