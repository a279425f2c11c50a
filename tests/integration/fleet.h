/* SPDX-License-Identifier: MIT */
/* Fleet-mode test pieces: a real redis-server that the test starts on a loopback port
 * and stops by pid, and N replicas (contexts) of one config in this process sharing
 * one injected clock and one loopback receiver. */
#ifndef FLEET_H
#define FLEET_H

#include <fcntl.h>
#include <hiredis/hiredis.h>

#include "harness.h"

typedef struct redis_proc {
    pid_t pid;
    int port;
    char dir[64];
} redis_proc;

/* Starts redis-server on r->port and r->dir, without persistence, and waits until it
 * answers PING: 0, or -1 when it exited first (its port was taken). */
static inline int redis_spawn(redis_proc *r)
{
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", r->dir, "--daemonize", "no",
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        struct timeval tv = { 0, 200000 };
        redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
        int ok = 0;
        if (c && !c->err) {
            redisReply *rep = redisCommand(c, "PING");
            ok = rep && rep->type == REDIS_REPLY_STATUS;
            freeReplyObject(rep);
        }
        if (c)
            redisFree(c);
        if (ok)
            return 0;
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid)
            return -1;
        struct timespec ts = { 0, 10 * 1000000L };     /* waiting for a process to start */
        nanosleep(&ts, NULL);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    return -1;
}

/* Starts redis-server on a free loopback port, without persistence; waits until it
 * answers PING. Skips the test when redis-server is not installed. */
static inline redis_proc *redis_start(void)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        print_message("redis-server is not installed: skipped (scripts/deps.sh installs it)\n");
        skip();
    }
    redis_proc *r = calloc(1, sizeof *r);
    assert_non_null(r);
    snprintf(r->dir, sizeof r->dir, "/tmp/al-redis-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = h_free_port();
        if (redis_spawn(r) == 0)
            return r;
    }
    fail_msg("redis-server did not start");
    return NULL;
}

static inline void redis_stop(redis_proc *r)
{
    if (!r)
        return;
    if (r->pid > 0) {
        kill(r->pid, SIGCONT);
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    if (system(cmd) != 0)
        print_message("could not remove %s\n", r->dir);
    free(r);
}

/* Stops r's redis-server; keep: SHUTDOWN SAVE writes its data to r->dir, where
 * redis_restart finds it (Redis down, then back); else it comes back empty (a new
 * epoch). */
static inline void redis_down(redis_proc *r, int keep);
/* Starts redis-server again on r's port and directory. */
static inline void redis_up(redis_proc *r)
{
    if (redis_spawn(r) != 0)
        fail_msg("redis-server did not start again");
}

/* A command on a connection of the test's own (inspection, FLUSHALL). */
static inline redisReply *redis_do(const redis_proc *r, const char *fmt, ...)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return rep;
}

static inline void redis_down(redis_proc *r, int keep)
{
    freeReplyObject(redis_do(r, keep ? "SHUTDOWN SAVE" : "SHUTDOWN NOSAVE"));
    assert_int_equal(waitpid(r->pid, NULL, 0), r->pid);
    r->pid = 0;
}

#define MAX_REPLICAS 4

typedef struct fleet {
    int64_t now;
    rcv *rcv;
    char url[256];
    int n;
    alert_ctx *ctx[MAX_REPLICAS];
    char log[128][512];
    int n_log;
} fleet;

static inline int64_t f_clock(void *ud)
{
    return ((fleet *)ud)->now;
}

static inline void f_log(int level, const char *msg, void *ud)
{
    fleet *f = ud;
    (void)level;
    if (f->n_log < 128)
        snprintf(f->log[f->n_log++], sizeof f->log[0], "%s", msg);
}

/* One replica: slack to the fleet's receiver, Redis at port, plus extra YAML lines
 * under alerting_args. */
static inline alert_ctx *f_replica(fleet *f, int port, const char *types, const char *extra_args)
{
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_config_set_clock(cfg, f_clock, f);
    alert_config_set_log(cfg, f_log, f);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [slack]\n"
             "  alert_types: [%s]\n"
             "  alerting_args:\n"
             "    worker_threads: 0\n"
             "    slack_webhook_url: \"%s\"\n"
             "    shutdown_timeout: 0.2\n"
             "    http_timeout: 2\n"
             "    instance_name: replica-%d\n"
             "    redis_url: \"redis://127.0.0.1:%d\"\n"
             "    fleet_timeout: 2\n"
             "%s",
             types, f->url, f->n, port, extra_args ? extra_args : "");
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_string(cfg, yaml, strlen(yaml), &err);
    if (rc != ALERT_OK)
        fail_msg("config: %s:%d:%d %s", err.source, err.line, err.column, err.text);
    alert_ctx *ctx = NULL;
    rc = alert_ctx_create(&ctx, cfg, &err);
    if (rc != ALERT_OK)
        fail_msg("ctx: %s %s", alert_err_name(rc), err.text);
    alert_config_free(cfg);
    return ctx;
}

static inline fleet *f_new(int n, int redis_port, const char *types, const char *extra_args)
{
    fleet *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->now = T0;
    f->rcv = rcv_start(0);
    assert_non_null(f->rcv);
    rcv_url(f->rcv, "/services/T000/B000/FLEET", f->url, sizeof f->url);
    for (int i = 0; i < n; i++) {
        f->ctx[i] = f_replica(f, redis_port, types, extra_args);
        f->n++;
    }
    return f;
}

/* Every replica runs its passes until nothing is due; twice, so claims asked in the
 * first are answered in the second. */
static inline void f_advance(fleet *f, int64_t ms)
{
    f->now += ms;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < f->n; i++) {
            assert_int_equal(alert_poll(f->ctx[i], 0), ALERT_OK);
            assert_int_equal(alert_flush(f->ctx[i], 5000), ALERT_OK);
        }
}

/* Every replica tracks a budget of max_budget for the key "hashed-key-1" (alias
 * prod-key), over a 30-day period (alert_set_budget). */
static inline void f_track_budget(fleet *f, double max_budget)
{
    for (int i = 0; i < f->n; i++) {
        alert_budget b;
        alert_budget_init(&b, ALERT_BUDGET_VERSION);
        b.entity = ALERT_ENTITY_KEY;
        b.entity_id = "hashed-key-1";
        b.key_alias = "prod-key";
        b.max_budget = max_budget;
        assert_int_equal(alert_set_budget(f->ctx[i], &b, "30d"), ALERT_OK);
    }
    f_advance(f, 0);
}

static inline void f_free(fleet *f)
{
    for (int i = 0; i < f->n; i++)
        alert_ctx_destroy(f->ctx[i]);
    rcv_stop(f->rcv);
    free(f);
}

/* How many requests the receiver got whose body holds needle. */
static inline int f_count(fleet *f, const char *needle)
{
    int n = 0;
    for (size_t i = 0; i < rcv_count(f->rcv); i++) {
        rcv_request q;
        assert_int_equal(rcv_get(f->rcv, i, &q), 0);
        if (strstr(q.body, needle))
            n++;
        rcv_request_free(&q);
    }
    return n;
}

static inline int f_logged(fleet *f, const char *needle)
{
    int n = 0;
    for (int i = 0; i < f->n_log; i++)
        if (strstr(f->log[i], needle))
            n++;
    return n;
}

/* Polls every replica until each has logged that it is back on Redis (the coordinator
 * reconnects on its real-time back-off, not on the injected clock), bounded by about
 * 10 s of real time, like redis_spawn waits for a process to start. back_before: the
 * count of "back on Redis" lines before this outage. */
static inline void f_wait_back(fleet *f, int back_before)
{
    for (int i = 0; i < 1000; i++) {
        for (int k = 0; k < f->n; k++)
            assert_int_equal(alert_poll(f->ctx[k], 0), ALERT_OK);
        if (f_logged(f, "back on Redis") >= back_before + f->n)
            return;
        struct timespec ts = { 0, 10 * 1000000L };     /* waiting for a reconnect */
        nanosleep(&ts, NULL);
    }
    fail_msg("the replicas did not reconnect to Redis");
}

#endif
