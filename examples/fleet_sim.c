/* fleet_sim: three replicas of a proxy alerting as one through Redis, for `make demo`.
 *
 *   fleet_sim RECEIVER_URL REDIS_PORT REDIS_PID
 *
 * Three contexts of one configuration (three replicas behind a load balancer, here in
 * one process) share the redis-server at 127.0.0.1:REDIS_PORT. Each delivers to the
 * receiver and to a console transport that prints which replica sent the alert. The
 * story: a key's budget climbs and every replica reads the same spend from the host's
 * database; then Redis is stopped (REDIS_PID) and alerts still go out, each replica
 * deciding alone. It ends with each replica's fleet counters.
 *
 * More fleet acts (outages summed over replicas, one daily report with summed counts,
 * tracked spend crossing a budget) fit as more act_*() functions below. */
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

static void say(const char *what)
{
    if (isatty(1))
        printf("\n\033[1m▶ %s\033[0m\n", what);
    else
        printf("\n▶ %s\n", what);
    fflush(stdout);
}

/* A custom transport: one line per delivery, naming the replica that sent it. */
static int console_send(const alert_delivery *d, void *userdata)
{
    const char *text = d->text ? d->text : "";
    const char *line = strstr(text, "Budget");     /* the line that says which step */
    while (line && line > text && line[-1] != '\n')
        line--;
    if (!line)
        line = text;
    const char *nl = strchr(line, '\n');
    printf("  [%s] sent: %.*s\n", (const char *)userdata,
           (int)(nl ? nl - line : (long)strlen(line)), line);
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
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [slack, console]\n"
             "  alert_types: [budget_alerts]\n"
             "  alerting_args:\n"
             "    slack_webhook_url: \"%s\"\n"
             "    instance_name: %s\n"
             "    redis_url: \"redis://127.0.0.1:%d\"\n"
             "    fleet_name: demo\n"
             "    fleet_claim_timeout: 1\n"
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

static uint64_t decided(void)
{
    uint64_t n = 0;
    for (int i = 0; i < REPLICAS; i++) {
        alert_stats st = ALERT_STATS_INIT;
        alert_stats_get(replica[i], &st);
        n += st.fleet_claims_won + st.fleet_claims_lost + st.fleet_claims_unanswered;
    }
    return n;
}

/* Until n more claims are decided (each replica raises the step and claims it), and
 * what won is delivered: a flush wakes each worker for a pass. */
static void wait_decided(uint64_t n)
{
    static uint64_t seen;
    for (int k = 0; k < 250 && decided() < seen + n; k++) {     /* 5 s at most */
        for (int i = 0; i < REPLICAS; i++)
            alert_flush(replica[i], 50);
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    seen = decided();
    for (int i = 0; i < REPLICAS; i++)
        alert_flush(replica[i], 5000);
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
        b.budget_reset_at_ms = ((int64_t)time(NULL) + 30 * 86400) * 1000;
        alert_on_budget(replica[i], &b);
    }
    wait_decided(REPLICAS);
}

static void act_budget(void)
{
    say("A key's budget climbs; the three replicas read the same spend from the database");
    printf("  alone, each replica would alert: 3 alerts per step; as a fleet: one.\n");
    all_read_budget("sk-prod-search", 87);
    all_read_budget("sk-prod-search", 96);
    all_read_budget("sk-prod-search", 104);
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
    all_read_budget("sk-batch-jobs", 120);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fleet_sim RECEIVER_URL REDIS_PORT REDIS_PID\n");
        return 2;
    }
    redis_port = atoi(argv[2]);
    pid_t redis_pid = (pid_t)atoi(argv[3]);
    say("Three replicas start, sharing Redis at 127.0.0.1");
    for (int i = 0; i < REPLICAS; i++)
        replica[i] = start_replica(i, argv[1], redis_port);
    struct timespec ts = { 0, 300 * 1000000L };     /* their coordinators connect */
    nanosleep(&ts, NULL);

    act_budget();
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
