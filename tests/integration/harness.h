/* SPDX-License-Identifier: MIT */
/* Shared pieces of the integration tests: an injected clock, a loopback receiver,
 * a ctx driven by alert_poll, and readers for what the receiver got. */
#ifndef HARNESS_H
#define HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerting.h"
#include "receiver.h"

#define T0 1767225600123LL      /* 2026-01-01 00:00:00.123 UTC: not on a tick boundary */

typedef struct harness {
    int64_t now;
    rcv *rcv;
    alert_config *cfg;
    alert_ctx *ctx;
    char url[256];
    char log[64][512];
    int n_log;
} harness;

static inline int64_t h_clock(void *ud)
{
    return ((harness *)ud)->now;
}

static inline void h_log(int level, const char *msg, void *ud)
{
    harness *h = ud;
    (void)level;
    if (h->n_log < 64)
        snprintf(h->log[h->n_log++], sizeof h->log[0], "%s", msg);
}

/* Clears every inherited delivery target: tests talk only to 127.0.0.1. */
static inline void h_clear_env(void)
{
    extern char **environ;
    static const char *fixed[] = { "SLACK_WEBHOOK_URL", "ALERTING_WEBHOOK_URL", "WEBHOOK_URL",
                                   "ALERTMANAGER_URL", "PROXY_BASE_URL", NULL };
    for (int i = 0; fixed[i]; i++)
        unsetenv(fixed[i]);
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++) {
            const char *eq = strchr(*e, '=');
            size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
            int hit = strncmp(*e, "SMTP_", 5) == 0 || strncmp(*e, "PAGERDUTY_", 10) == 0 ||
                      (n > 12 && strncmp(*e + n - 12, "_WEBHOOK_URL", 12) == 0);
            if (hit) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)n, *e);
                unsetenv(name);
                again = 1;
                break;
            }
        }
    }
}

/* The types the tests send to webhook and email, which by default get budget alerts
 * only (issue 12, item 5): 4 spaces deep, under alerting_args. */
#define H_SCOPE "    webhook_alert_types: [budget_alerts, llm_exceptions, db_exceptions]\n" \
                "    email_alert_types: [budget_alerts, llm_exceptions, db_exceptions]\n"

/* A harness whose ctx has slack at <receiver>/slack plus the extra YAML lines. */
static inline harness *h_new(const char *extra_yaml)
{
    harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->now = T0;
    h->rcv = rcv_start(0);
    assert_non_null(h->rcv);
    rcv_url(h->rcv, "/services/T000/B000/SECRETPATH", h->url, sizeof h->url);
    assert_int_equal(alert_config_new(&h->cfg), ALERT_OK);
    assert_int_equal(alert_config_set_clock(h->cfg, h_clock, h), ALERT_OK);
    assert_int_equal(alert_config_set_log(h->cfg, h_log, h), ALERT_OK);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [slack]\n"
             "  alerting_threshold: 300\n"
             "  alerting_args:\n"
             "    worker_threads: 0\n"
             "    slack_webhook_url: \"%s\"\n"
             "    shutdown_timeout: 0.2\n"
             "    http_timeout: 2\n"
             "%s",
             h->url, extra_yaml ? extra_yaml : "");
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_string(h->cfg, yaml, strlen(yaml), &err);
    if (rc != ALERT_OK)
        fail_msg("config: %s:%d:%d %s", err.source, err.line, err.column, err.text);
    return h;
}

static inline void h_start(harness *h)
{
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_ctx_create(&h->ctx, h->cfg, &err);
    if (rc != ALERT_OK)
        fail_msg("ctx: %s %s", alert_err_name(rc), err.text);
}

static inline void h_free(harness *h)
{
    alert_ctx_destroy(h->ctx);
    alert_config_free(h->cfg);
    rcv_stop(h->rcv);
    free(h);
}

/* Moves the injected clock and runs what is due, then delivers what is due now. */
static inline void h_advance(harness *h, int64_t ms)
{
    h->now += ms;
    assert_int_equal(alert_poll(h->ctx, 0), ALERT_OK);
    assert_int_equal(alert_flush(h->ctx, 5000), ALERT_OK);
}

/* The Slack text of request i (caller frees). */
static inline char *h_text(harness *h, size_t i)
{
    rcv_request q;
    assert_int_equal(rcv_get(h->rcv, i, &q), 0);
    json_error_t jerr;
    json_t *j = json_loads(q.body, 0, &jerr);
    assert_non_null(j);
    const char *t = json_string_value(json_object_get(j, "text"));
    assert_non_null(t);
    char *out = strdup(t);
    json_decref(j);
    rcv_request_free(&q);
    return out;
}

/* The index of the first request whose Slack text contains needle, or -1:
 * concurrent deliveries arrive in any order. */
static inline int h_find(harness *h, const char *needle)
{
    for (size_t i = 0; i < rcv_count(h->rcv); i++) {
        char *t = h_text(h, i);
        int hit = strstr(t, needle) != NULL;
        free(t);
        if (hit)
            return (int)i;
    }
    return -1;
}

/* A harness whose only destination is `dest`, with `key: <receiver>/path`. */
static inline harness *h_dest(const char *dest, const char *key, const char *path, const char *extra)
{
    harness *h = h_new(NULL);
    char url[256], yaml[2048];
    rcv_url(h->rcv, path, url, sizeof url);
    snprintf(yaml, sizeof yaml,
             "general_settings:\n  alerting: [%s]\n  alerting_args:\n    %s: \"%s\"\n" H_SCOPE "%s",
             dest, key, url, extra ? extra : "");
    alert_error err = ALERT_ERROR_INIT;
    if (alert_config_load_string(h->cfg, yaml, strlen(yaml), &err) != ALERT_OK)
        fail_msg("config: %d:%d %s", err.line, err.column, err.text);
    return h;
}

/* Starts a helper process that writes its port to port_file once it listens; returns
 * its pid and the port (waits on the file, up to 10 s of real time, for the start). */
static inline pid_t h_spawn(char *const argv[], const char *port_file, int *port)
{
    unlink(port_file);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", port) == 1;
            fclose(f);
            if (ok)
                return pid;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("%s exited before it listened", argv[0]);
        struct timespec ts = { 0, 10 * 1000000L };  /* waiting for a process to start */
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    fail_msg("%s did not start", argv[0]);
    return -1;
}

static inline void h_kill(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* How often needle appears across every Slack text the receiver got. */
static inline int h_count(harness *h, const char *needle)
{
    int n = 0;
    for (size_t i = 0; i < rcv_count(h->rcv); i++) {
        char *t = h_text(h, i);
        for (char *at = t; (at = strstr(at, needle)); at++)
            n++;
        free(t);
    }
    return n;
}

/* A loopback port that nothing listens on (for a receiver that is down). */
static inline int h_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static inline void h_rmdir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static inline void h_stats(harness *h, alert_stats *s)
{
    assert_int_equal(alert_stats_init(s, ALERT_STATS_VERSION), ALERT_OK);
    assert_int_equal(alert_stats_get(h->ctx, s), ALERT_OK);
}

static inline alert_req_id h_req(harness *h, const char *model, const char *call_id, int64_t start)
{
    alert_request r;
    assert_int_equal(alert_request_init(&r, ALERT_REQUEST_VERSION), ALERT_OK);
    r.model = model;
    r.call_id = call_id;
    r.api_base = "https://api.openai.example/v1";
    r.key_alias = "prod-key";
    r.team_alias = "search";
    r.start_ms = start;
    alert_req_id id = 0;
    assert_int_equal(alert_on_request_start(h->ctx, &r, &id), ALERT_OK);
    assert_true(id != 0);
    return id;
}

#endif
