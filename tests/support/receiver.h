/* SPDX-License-Identifier: MIT */
/* A scriptable HTTP/1.1 receiver on 127.0.0.1 for tests, benchmarks and the demo.
 *
 * A real server (POSIX sockets, one thread per connection) that tests start in-process and
 * that build/alert-receiver wraps as a program. It speaks enough HTTP/1.1 for libcurl:
 * keep-alive, Content-Length and chunked request bodies, Expect: 100-continue, pipelined
 * requests, Connection: close. Every function is thread-safe.
 *
 * Answers are scripted: each request that has been read consumes the next pushed answer (the
 * script is popped when the request has been read, not when it arrived); with the script
 * empty the default answer is used (initially 200, body "ok", text/plain - what a Slack
 * incoming webhook answers).
 *
 * Requests the receiver could not parse (bad request line, header block over 64 KB, body over
 * RCV_MAX_BODY, ...) get a 4xx/5xx and a closed connection; they are not recorded and do not
 * consume the script. */
#ifndef RCV_RECEIVER_H
#define RCV_RECEIVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rcv rcv;

/* Pseudo status codes for rcv_push / rcv_set_default. */
#define RCV_HANG  (-1) /* read the whole request, then never answer; the connection is closed
                          (without an answer) by rcv_release_hangs or rcv_stop */
#define RCV_RESET (-2) /* close with a TCP RST (SO_LINGER 0). Taken as soon as the header block
                          has been read if the next answer (scripted, or else the default) is a
                          reset; then part of a Content-Length body is read (half of it, at most
                          64 KB; none when the client waits for 100-continue or sends chunks),
                          so the client sees the reset mid-upload. The request is recorded with
                          what was read and complete = 0 if the body was cut short. */
#define RCV_RAW   (-3) /* read the whole request, write the body verbatim (no status line, no
                          headers: garbage, or an HTTP/0.9 reply) and close the connection */

#define RCV_MAX_HEAD  (64 * 1024)        /* request line + header block; larger gets 431 */
#define RCV_MAX_BODY  (64 * 1024 * 1024) /* larger gets 413 */

/* Listens on 127.0.0.1:port (0 = any free port). NULL on failure (errno is kept). */
rcv *rcv_start(int port);
int rcv_port(const rcv *r);
/* Writes "http://127.0.0.1:<port><path>" into buf (path may be NULL = "") and returns buf. */
const char *rcv_url(const rcv *r, const char *path, char *buf, size_t n);
/* Closes the listener and every connection (hanging ones included), joins every thread and
 * frees everything. NULL is a no-op. */
void rcv_stop(rcv *r);

/* Appends an answer to the script. status: an HTTP status (100..999, anything else answers 500)
 * or RCV_HANG / RCV_RESET / RCV_RAW. extra_headers: NULL or header lines, e.g. "Retry-After: 2\r\n" (a
 * missing final line break and bare "\n" are fixed up); a Content-Type line there replaces the
 * default "Content-Type: text/plain"; "Connection: close" makes the receiver close after the
 * answer. body: NULL = empty. The receiver always adds Content-Length itself (except for
 * 1xx/204/304). Strings are copied. */
void rcv_push(rcv *r, int status, const char *extra_headers, const char *body);
/* The answer used when the script is empty. Same arguments as rcv_push. */
void rcv_set_default(rcv *r, int status, const char *extra_headers, const char *body);
/* Closes (FIN, no answer) every connection hanging at the time of the call. */
void rcv_release_hangs(rcv *r);

/* A recorded request. A request is recorded when it has been read and its answer decided,
 * just before the answer (or the hang, or the reset) goes out: a client that has seen its
 * answer can count on the request being recorded; rcv_wait returning does not mean that the
 * client has already read the answer. */
typedef struct rcv_request {
    char method[16];
    char path[1024];        /* request target as sent, query string included; longer gets 414 */
    char *headers;          /* raw header block as received, without the request line: lines
                               "Name: value" each ending in "\r\n" (or "\n" if so sent) */
    char *body;             /* decoded body (chunked framing removed), NUL-terminated after
                               body_len for convenience, never NULL */
    size_t body_len;
    int answered_status;    /* the HTTP status sent, or RCV_HANG / RCV_RESET / RCV_RAW */
    int complete;           /* 1: the whole body was read; 0: reset before the end of the body */
    long long received_ms;  /* CLOCK_REALTIME, ms, when the request had been read */
} rcv_request;

/* Number of requests recorded (and not cleared or popped). */
size_t rcv_count(rcv *r);
/* Deep copy of the i-th recorded request (0 = oldest) into out; free with rcv_request_free.
 * 0 on success, -1 if i is out of range (out is then zeroed) or on allocation failure. */
int rcv_get(rcv *r, size_t i, rcv_request *out);
/* Removes the oldest recorded request and moves it into out (free with rcv_request_free).
 * 0 on success, -1 if none is recorded. For long-running consumers (alert-receiver). */
int rcv_pop(rcv *r, rcv_request *out);
/* Frees what rcv_get/rcv_pop allocated and zeroes *q. NULL is a no-op. */
void rcv_request_free(rcv_request *q);
/* Value of the first header called name (case-insensitive), surrounding blanks removed,
 * copied (truncated if need be) into buf. Returns buf, or NULL if absent or n == 0. */
const char *rcv_request_header(const rcv_request *q, const char *name, char *buf, size_t n);
/* Blocks until at least n requests are recorded. timeout_ms < 0 waits forever.
 * 0 when reached, -1 on timeout. Real (monotonic) time, never the library's injected clock. */
int rcv_wait(rcv *r, size_t n, int timeout_ms);
/* Forgets the recorded requests (the script and the default answer stay). */
void rcv_clear(rcv *r);

#ifdef __cplusplus
}
#endif

#endif
