/* SPDX-License-Identifier: MIT */
/* alerting-check: checks a libalerting (or LiteLLM) configuration file before it is
 * deployed, prints its effective values, or sends a test alert. See alerting-check(1).
 * Only the public API: the program is also an example of it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"

static const char *file_name;
static int n_warnings;

static void usage(FILE *to)
{
    fprintf(to, "usage: alerting-check [--print] [--send-test DESTINATION] FILE\n"
                "       alerting-check --version\n");
}

/* Warnings as FILE:LINE:COLUMN: key: message. The library's warnings about a key say
 * "unknown key 'K' at FILE:L:C..." or start with "K: ..."; others have no position. */
static void on_log(int level, const char *message, void *userdata)
{
    (void)userdata;
    if (level > ALERT_LOG_WARNING)
        return;
    const char *what = level == ALERT_LOG_ERROR ? "error" : "warning";
    n_warnings += level == ALERT_LOG_WARNING;
    char key[128] = "-";
    long line = 0, column = 0;
    const char *q = strchr(message, '\'');
    const char *q2 = q ? strchr(q + 1, '\'') : NULL;
    if (q && q2 && (size_t)(q2 - q - 1) < sizeof key)
        snprintf(key, sizeof key, "%.*s", (int)(q2 - q - 1), q + 1);
    else {
        size_t n = strcspn(message, ": ");
        if (message[n] == ':' && n < sizeof key)
            snprintf(key, sizeof key, "%.*s", (int)n, message);
    }
    size_t fl = strlen(file_name);
    const char *at = strstr(message, " at ");
    char *rest = NULL;
    if (at && strncmp(at + 4, file_name, fl) == 0 && at[4 + fl] == ':') {
        line = strtol(at + 5 + fl, &rest, 10);
        if (*rest == ':')
            column = strtol(rest + 1, &rest, 10);
    }
    /* the position moves to the front */
    int head = rest ? (int)(at - message) : (int)strlen(message);
    printf("%s:%ld:%ld: %s: %s: %.*s%s\n", file_name, line, column, key, what, head, message,
           rest ? rest : "");
}

static void print_error(const alert_error *err)
{
    /* from loading: source is the file; from the checks: source is the key */
    int from_file = strcmp(err->source, file_name) == 0;
    printf("%s:%d:%d: %s: error: %s\n", file_name, (int)err->line, (int)err->column,
           from_file || !err->source[0] ? "-" : err->source, err->text);
}

/* Prints a flow mapping's top-level entries one a line, indented (the value of a key
 * from alert_config_get is YAML flow text). */
static void print_mapping(const char *flow, int indent)
{
    const char *p = flow;
    if (*p == '{')
        p++;
    while (*p && *p != '}') {
        const char *start = p;
        int depth = 0, quoted = 0;
        for (; *p; p++) {
            if (quoted) {
                if (*p == '\\' && p[1])
                    p++;
                else if (*p == '"')
                    quoted = 0;
                continue;
            }
            if (*p == '"')
                quoted = 1;
            else if (*p == '[' || *p == '{')
                depth++;
            else if ((*p == ']' || *p == '}') && depth-- == 0)
                break;
            else if (*p == ',' && depth == 0)
                break;
        }
        const char *colon = strstr(start, ": ");
        if (colon && colon < p && colon[2] == '{' && strncmp(start, "alerting_args", 13) == 0) {
            printf("%*s%.*s:\n", indent, "", (int)(colon - start), start);
            print_mapping(colon + 2, indent + 2);
        } else {
            printf("%*s%.*s\n", indent, "", (int)(p - start), start);
        }
        if (*p == ',')
            p++;
        while (*p == ' ')
            p++;
    }
}

static int print_config(const alert_config *cfg)
{
    size_t need = 0;
    int rc = alert_config_get(cfg, "general_settings", NULL, 0, &need);
    if (rc != ALERT_ERR_FULL && rc != ALERT_OK)
        return rc;
    char *buf = malloc(need);
    if (!buf)
        return ALERT_ERR_NOMEM;
    rc = alert_config_get(cfg, "general_settings", buf, need, NULL);
    if (rc == ALERT_OK) {
        printf("general_settings:\n");
        print_mapping(buf, 2);
    }
    free(buf);
    return rc;
}

/* As LiteLLM's /health/services: one test alert to one destination, and its outcome.
 * A private context: no state_path (the proxy may hold it, and its spool must not be
 * replayed from here), no fleet, no worker thread. */
static int send_test(alert_config *cfg, const char *destination)
{
    alert_error err = ALERT_ERROR_INIT;
    if (alert_config_set(cfg, "alerting_args.state_path", "null", &err) != ALERT_OK ||
        alert_config_set(cfg, "alerting_args.fleet", "false", &err) != ALERT_OK ||
        alert_config_set(cfg, "alerting_args.worker_threads", "0", &err) != ALERT_OK ||
        alert_config_set(cfg, "alerting_args.shutdown_timeout", "0", &err) != ALERT_OK) {
        print_error(&err);
        return 1;
    }
    alert_ctx *ctx = NULL;
    int rc = alert_ctx_create(&ctx, cfg, &err);
    if (rc != ALERT_OK) {
        print_error(&err);
        return 1;
    }
    rc = alert_send_test(ctx, destination);
    if (rc != ALERT_OK) {
        printf("%s: send-test: %s\n", destination, alert_ctx_last_error(ctx));
        alert_ctx_destroy(ctx);
        return 1;
    }
    /* http_timeout bounds each attempt; a retry later is not waited for */
    rc = alert_flush(ctx, 120000);
    alert_stats st = ALERT_STATS_INIT;
    alert_stats_get(ctx, &st);
    int ok = rc == ALERT_OK && st.deliveries_ok > 0 && st.deliveries_failed == 0 &&
             st.deliveries_retried == 0;
    if (ok)
        printf("%s: send-test: delivered\n", destination);
    else
        printf("%s: send-test: not delivered: %s\n", destination,
               alert_ctx_last_error(ctx)[0] ? alert_ctx_last_error(ctx) : alert_strerror(rc));
    alert_ctx_destroy(ctx);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int print = 0;
    const char *destination = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--print") == 0) {
            print = 1;
        } else if (strcmp(argv[i], "--send-test") == 0 && i + 1 < argc) {
            destination = argv[++i];
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("alerting-check (libalerting) %s\n", alert_version_string());
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (i != argc - 1) {
        usage(stderr);
        return 2;
    }
    file_name = argv[i];
    alert_config *cfg = NULL;
    if (alert_config_new(&cfg) != ALERT_OK) {
        fprintf(stderr, "alerting-check: out of memory\n");
        return 1;
    }
    alert_config_set_log(cfg, on_log, NULL);
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_file(cfg, file_name, &err);
    if (rc == ALERT_OK)
        rc = alert_config_check(cfg, &err);
    if (rc != ALERT_OK) {
        print_error(&err);
        alert_config_free(cfg);
        return 1;
    }
    int status = 0;
    if (print && print_config(cfg) != ALERT_OK) {
        fprintf(stderr, "alerting-check: out of memory\n");
        status = 1;
    }
    if (destination && send_test(cfg, destination) != 0)
        status = 1;
    alert_config_free(cfg);
    return status;
}
