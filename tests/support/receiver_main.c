/* SPDX-License-Identifier: MIT */
/* alert-receiver: the test receiver as a program, for `make demo` and for humans.
 *
 *   alert-receiver [--port N] [--port-file PATH] [--fail-first N] [--quiet]
 *
 * Listens on 127.0.0.1:N (0, the default, = any free port), answers 200 "ok" (the first N
 * requests 500 with --fail-first, to show retries), and prints every request it receives:
 * a header line, then the alert - the "text" (Slack) or "content" (Discord) string of a JSON
 * body as-is, other JSON pretty-printed, anything else raw. --port-file gets the port (one
 * line) once the socket is listening. --quiet prints nothing but errors. SIGINT/SIGTERM stop
 * it cleanly (exit status 0). */
#include "receiver.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: alert-receiver [--port N] [--port-file PATH] [--fail-first N] [--quiet]\n"
                "  --port N        listen on 127.0.0.1:N (default 0: any free port)\n"
                "  --port-file P   write the port to P (one line) once listening\n"
                "  --fail-first N  answer the first N requests with 500\n"
                "  --quiet         print nothing but errors\n");
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Written whole, then renamed into place: a script polling for the file never sees half. */
static int write_port_file(const char *path, int port)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%d\n", port) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

static void print_body(const rcv_request *q)
{
    if (q->body_len == 0) {
        fputs("(empty body)\n", stdout);
        return;
    }
    json_t *doc = json_loadb(q->body, q->body_len, 0, NULL);
    if (doc) {
        json_t *text = json_is_object(doc) ? json_object_get(doc, "text") : NULL;
        if (!json_is_string(text))
            text = json_is_object(doc) ? json_object_get(doc, "content") : NULL;
        if (json_is_string(text)) {
            const char *s = json_string_value(text);
            size_t n = json_string_length(text);
            fwrite(s, 1, n, stdout);
            if (n == 0 || s[n - 1] != '\n')
                fputc('\n', stdout);
        } else {
            char *pretty = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            if (pretty) {
                fputs(pretty, stdout);
                fputc('\n', stdout);
                free(pretty);
            }
        }
        json_decref(doc);
        return;
    }
    fwrite(q->body, 1, q->body_len, stdout);
    if (q->body[q->body_len - 1] != '\n')
        fputc('\n', stdout);
}

static void print_request(unsigned long seq, const rcv_request *q)
{
    time_t secs = (time_t)(q->received_ms / 1000);
    struct tm tm;
    char when[16] = "??:??:??";
    if (localtime_r(&secs, &tm))
        strftime(when, sizeof when, "%H:%M:%S", &tm);
    printf("\xe2\x94\x80\xe2\x94\x80 #%lu  %s %s  (%s)", seq, q->method, q->path, when);
    if (q->answered_status < 200 || q->answered_status > 299)
        printf("  \xe2\x86\x92 %d", q->answered_status);
    fputc('\n', stdout);
    print_body(q);
    fputc('\n', stdout);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    long port = 0, fail_first = 0;
    const char *port_file = NULL;
    int quiet = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--port") == 0 && i + 1 < argc) {
            if (parse_int(argv[++i], 0, 65535, &port)) {
                fprintf(stderr, "alert-receiver: bad --port '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (strcmp(a, "--fail-first") == 0 && i + 1 < argc) {
            if (parse_int(argv[++i], 0, 1000000, &fail_first)) {
                fprintf(stderr, "alert-receiver: bad --fail-first '%s'\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "alert-receiver: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rcv *r = rcv_start((int)port);
    if (!r) {
        fprintf(stderr, "alert-receiver: cannot listen on 127.0.0.1:%ld: %s\n", port,
                strerror(errno));
        return 1;
    }
    for (long i = 0; i < fail_first; i++)
        rcv_push(r, 500, NULL, "alert-receiver: failing on purpose (--fail-first)\n");
    if (port_file && write_port_file(port_file, rcv_port(r)) != 0) {
        fprintf(stderr, "alert-receiver: cannot write %s: %s\n", port_file, strerror(errno));
        rcv_stop(r);
        return 1;
    }
    if (!quiet) {
        printf("alert-receiver listening on http://127.0.0.1:%d", rcv_port(r));
        if (fail_first)
            printf(" (failing the first %ld request%s with 500)", fail_first,
                   fail_first == 1 ? "" : "s");
        printf("\n\n");
        fflush(stdout);
    }

    unsigned long seq = 0;
    while (!stop_requested) {
        rcv_request q;
        if (rcv_pop(r, &q) == 0) {
            seq++;
            if (!quiet)
                print_request(seq, &q);
            rcv_request_free(&q);
            continue;
        }
        /* The receiver's threads block every signal, so the handler runs on this thread;
         * a short wait bounds how long a signal can go unnoticed. */
        rcv_wait(r, 1, 200);
    }
    rcv_stop(r);
    if (!quiet) {
        printf("alert-receiver: stopped after %lu request%s\n", seq, seq == 1 ? "" : "s");
        fflush(stdout);
    }
    return 0;
}
