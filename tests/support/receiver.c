/* SPDX-License-Identifier: MIT */
/* The scriptable HTTP/1.1 receiver (see receiver.h).
 *
 * One accept thread polls the listening socket and a wake-up pipe; each connection gets its
 * own thread running a keep-alive loop: read the header block, maybe answer 100-continue, read
 * the body (Content-Length or chunked), pop the script, answer, record. Connection threads
 * that have finished are joined by the accept thread (so a long-running alert-receiver does
 * not accumulate them) and the rest by rcv_stop.
 *
 * A connection's fd is closed only under r->mu, and rcv_stop shuts down (SHUT_RDWR) every fd
 * still open under the same lock, so no thread can be left blocked in recv/send/poll and no fd
 * number can be reused behind rcv_stop's back. */
#include "receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define CONN_BUF_CAP        RCV_MAX_HEAD   /* a head that does not fit is over the limit */
#define CHUNK_LINE_MAX      4096
#define RESET_PARTIAL_MAX   (64 * 1024)
#define LINGER_MS           2000           /* how long a closing connection drains input */
#define LINGER_DISCARD_MAX  (4 * 1024 * 1024)

typedef struct rcv_answer {
    int status;
    char *headers; /* normalized: each line ends in "\r\n"; never NULL */
    char *body;    /* never NULL */
    size_t body_len;
    struct rcv_answer *next;
} rcv_answer;

typedef struct rcv_conn {
    rcv *r;
    int fd;        /* written (to -1, on close) only by the connection thread, under r->mu */
    pthread_t tid;
    int done;      /* the thread is about to return; under r->mu */
    struct rcv_conn *next;
    char *buf;     /* unconsumed input is buf[pos, len) */
    size_t pos, len;
} rcv_conn;

struct rcv {
    int listen_fd;
    int wake[2];
    int port;
    pthread_t accept_tid;
    pthread_mutex_t mu;
    pthread_cond_t recorded_cv; /* CLOCK_MONOTONIC */
    pthread_cond_t hang_cv;
    unsigned long hang_generation;
    int stopping;
    rcv_answer *script_head, *script_tail;
    rcv_answer dflt;
    rcv_request *reqs;
    size_t nreqs, reqs_cap;
    rcv_conn *conns;
};

/* What the parser learnt from a request head. */
typedef struct req_head {
    char method[16];
    char path[1024];
    int minor;                 /* HTTP/1.<minor> */
    long long content_length;  /* -1: none */
    int chunked;
    int expect_continue;
    int close_after;
    const char *hdrs;          /* header lines, inside the connection buffer */
    size_t hdrs_len;
} req_head;

/* ---------------------------------------------------------------- small helpers */

static long long realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *memdup_z(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static int is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return 1;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r'))
        (*n)--;
}

/* First header `name` in a block of "Name: value" lines; value trimmed. 1 found, 0 not. */
static int find_header(const char *block, size_t block_len, const char *name,
                       const char **val, size_t *val_len)
{
    size_t name_len = strlen(name);
    const char *p = block, *end = block + block_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon && (size_t)(colon - p) == name_len && strncasecmp(p, name, name_len) == 0) {
            const char *v = colon + 1;
            size_t vn = (size_t)(line_end - v);
            trim(&v, &vn);
            *val = v;
            *val_len = vn;
            return 1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* Does a comma-separated header value contain `token` (case-insensitive)? */
static int has_token(const char *v, size_t n, const char *token)
{
    size_t tn = strlen(token);
    const char *end = v + n;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *item = v;
        size_t in = (size_t)((comma ? comma : end) - v);
        trim(&item, &in);
        if (in == tn && strncasecmp(item, token, tn) == 0)
            return 1;
        v = comma ? comma + 1 : end;
    }
    return 0;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* ---------------------------------------------------------------- answers */

/* Extra header lines, each ending in "\r\n"; empty lines dropped (they would end the head). */
static char *normalize_headers(const char *h)
{
    if (!h)
        h = "";
    size_t n = strlen(h);
    char *out = malloc(n * 2 + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    const char *p = h, *end = h + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ln = (size_t)((nl ? nl : end) - p);
        while (ln && p[ln - 1] == '\r')
            ln--;
        if (ln) {
            memcpy(out + o, p, ln);
            o += ln;
            out[o++] = '\r';
            out[o++] = '\n';
        }
        p = nl ? nl + 1 : end;
    }
    out[o] = '\0';
    return out;
}

static int answer_init(rcv_answer *a, int status, const char *extra_headers, const char *body)
{
    memset(a, 0, sizeof *a);
    a->status = status;
    a->headers = normalize_headers(extra_headers);
    a->body_len = body ? strlen(body) : 0;
    a->body = memdup_z(body ? body : "", a->body_len);
    if (!a->headers || !a->body) {
        free(a->headers);
        free(a->body);
        return -1;
    }
    return 0;
}

static void answer_free(rcv_answer *a)
{
    free(a->headers);
    free(a->body);
    a->headers = a->body = NULL;
}

/* Under r->mu: moves the next scripted answer (or a copy of the default) into *out. */
static int take_answer_locked(rcv *r, rcv_answer *out)
{
    rcv_answer *a = r->script_head;
    if (a) {
        r->script_head = a->next;
        if (!r->script_head)
            r->script_tail = NULL;
        *out = *a;
        out->next = NULL;
        free(a);
        return 0;
    }
    *out = r->dflt;
    out->next = NULL;
    out->headers = memdup_z(r->dflt.headers, strlen(r->dflt.headers));
    out->body = memdup_z(r->dflt.body, r->dflt.body_len);
    if (!out->headers || !out->body) {
        answer_free(out);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- socket I/O */

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads more input. 1: got bytes, 0: EOF, -1: error, -2: buffer full of unconsumed input. */
static int conn_fill(rcv_conn *c)
{
    if (c->pos == c->len) {
        c->pos = c->len = 0;
    } else if (c->len == CONN_BUF_CAP && c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->len == CONN_BUF_CAP)
        return -2;
    ssize_t k;
    do {
        k = recv(c->fd, c->buf + c->len, CONN_BUF_CAP - c->len, 0);
    } while (k < 0 && errno == EINTR);
    if (k == 0)
        return 0;
    if (k < 0)
        return -1;
    c->len += (size_t)k;
    return 1;
}

/* Reads up to n bytes (buffered first); returns how many were read before EOF/error. */
static size_t read_upto(rcv_conn *c, char *dst, size_t n)
{
    size_t got = c->len - c->pos;
    if (got > n)
        got = n;
    if (got)
        memcpy(dst, c->buf + c->pos, got);
    c->pos += got;
    while (got < n) {
        ssize_t k = recv(c->fd, dst + got, n - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

/* One line (consumed); *line points into the buffer until the next read. Line ending removed.
 * 0 ok, -1 EOF/error, -2 longer than max. */
static int read_line(rcv_conn *c, size_t max, const char **line, size_t *line_len)
{
    size_t scanned = 0;
    for (;;) {
        const char *p = c->buf + c->pos;
        size_t avail = c->len - c->pos;
        const char *nl = memchr(p + scanned, '\n', avail - scanned);
        if (nl) {
            size_t l = (size_t)(nl - p);
            if (l > max)
                return -2;
            *line = p;
            *line_len = (l > 0 && p[l - 1] == '\r') ? l - 1 : l;
            c->pos += l + 1;
            return 0;
        }
        scanned = avail;
        if (avail > max)
            return -2;
        int f = conn_fill(c);
        if (f == -2)
            return -2;
        if (f <= 0)
            return -1;
    }
}

static void close_fd_locked(rcv_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static void close_with_reset(rcv_conn *c)
{
    struct linger lg = { 1, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    pthread_mutex_lock(&c->r->mu);
    close_fd_locked(c);
    pthread_mutex_unlock(&c->r->mu);
}

/* Send FIN, then drain what the client still sends so that closing does not turn into an RST
 * that could destroy our last answer before the client has read it. */
static void lingering_close(rcv_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    long long deadline = monotonic_ms() + LINGER_MS;
    size_t discarded = 0;
    char sink[4096];
    while (discarded < LINGER_DISCARD_MAX) {
        long long left = deadline - monotonic_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        ssize_t k = recv(c->fd, sink, sizeof sink, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        discarded += (size_t)k;
    }
}

/* ---------------------------------------------------------------- responses */

static int send_response(rcv_conn *c, int status, const char *extra, const char *body,
                         size_t body_len, int head_only, int closing)
{
    int bodiless = (status >= 100 && status < 200) || status == 204 || status == 304;
    const char *dummy;
    size_t dummy_len;
    int has_ctype = find_header(extra, strlen(extra), "Content-Type", &dummy, &dummy_len);
    char head[512];
    int hn = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (!has_ctype && !bodiless)
        hn += snprintf(head + hn, sizeof head - (size_t)hn, "Content-Type: text/plain\r\n");
    if (!bodiless)
        hn += snprintf(head + hn, sizeof head - (size_t)hn, "Content-Length: %zu\r\n",
                       body_len);
    if (closing)
        hn += snprintf(head + hn, sizeof head - (size_t)hn, "Connection: close\r\n");

    size_t extra_len = strlen(extra);
    size_t send_body = (bodiless || head_only) ? 0 : body_len;
    size_t total = (size_t)hn + extra_len + 2 + send_body;
    char *out = malloc(total);
    if (!out)
        return -1;
    /* One buffer, one send: no Nagle/delayed-ACK stall between head and body. */
    memcpy(out, head, (size_t)hn);
    memcpy(out + hn, extra, extra_len);
    memcpy(out + hn + extra_len, "\r\n", 2);
    if (send_body)
        memcpy(out + hn + extra_len + 2, body, send_body);
    int rc = send_all(c->fd, out, total);
    free(out);
    return rc;
}

static void send_error(rcv_conn *c, int status)
{
    char body[128];
    snprintf(body, sizeof body, "%d %s\n", status, reason_phrase(status));
    send_response(c, status, "", body, strlen(body), 0, 1);
}

/* ---------------------------------------------------------------- recording */

/* Takes ownership of headers and body (freed here on failure). hang_generation, if not NULL,
 * receives the generation current when the request became visible, so that a
 * rcv_release_hangs issued by a test that has just seen it cannot be missed. */
static void record(rcv *r, const req_head *h, char *headers, char *body, size_t body_len,
                   int status, int complete, long long received_ms,
                   unsigned long *hang_generation)
{
    rcv_request q;
    memset(&q, 0, sizeof q);
    memcpy(q.method, h->method, sizeof q.method);
    memcpy(q.path, h->path, sizeof q.path);
    q.headers = headers;
    q.body = body;
    q.body_len = body_len;
    q.answered_status = status;
    q.complete = complete;
    q.received_ms = received_ms;

    pthread_mutex_lock(&r->mu);
    if (hang_generation)
        *hang_generation = r->hang_generation;
    if (r->nreqs == r->reqs_cap) {
        size_t ncap = r->reqs_cap ? r->reqs_cap * 2 : 16;
        rcv_request *n = realloc(r->reqs, ncap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&r->mu);
            free(headers);
            free(body);
            return;
        }
        r->reqs = n;
        r->reqs_cap = ncap;
    }
    r->reqs[r->nreqs++] = q;
    pthread_cond_broadcast(&r->recorded_cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- request parsing */

/* Header block length (through the blank line) in buf[pos, len), reading as needed.
 * 0: *head_len set; 1: clean EOF between requests; -1: EOF/error mid-head; -2: over the limit. */
static int read_head(rcv_conn *c, size_t *head_len)
{
    size_t scanned = 0;
    for (;;) {
        /* Tolerate stray line breaks between requests (RFC 9112 2.2). */
        while (c->pos < c->len && (c->buf[c->pos] == '\r' || c->buf[c->pos] == '\n') &&
               scanned == 0)
            c->pos++;
        const char *p = c->buf + c->pos;
        size_t avail = c->len - c->pos;
        for (size_t i = scanned; i < avail; i++) {
            if (p[i] != '\n')
                continue;
            if ((i >= 1 && p[i - 1] == '\n') || (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n')) {
                *head_len = i + 1;
                return 0;
            }
        }
        scanned = avail;
        if (avail >= RCV_MAX_HEAD)
            return -2;
        int f = conn_fill(c);
        if (f == -2)
            return -2;
        if (f == 0)
            return avail == 0 ? 1 : -1;
        if (f < 0)
            return -1;
    }
}

/* 0, or the error status to answer before closing. */
static int parse_head(const char *p, size_t n, req_head *h)
{
    memset(h, 0, sizeof *h);
    h->content_length = -1;

    const char *nl = memchr(p, '\n', n);
    if (!nl)
        return 400;
    size_t first_len = (size_t)(nl - p) + 1;
    size_t ll = (size_t)(nl - p);
    if (ll && p[ll - 1] == '\r')
        ll--;

    const char *sp1 = memchr(p, ' ', ll);
    if (!sp1)
        return 400;
    const char *sp2 = memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - p));
    if (!sp2)
        return 400;
    size_t mlen = (size_t)(sp1 - p);
    size_t tlen = (size_t)(sp2 - sp1 - 1);
    const char *ver = sp2 + 1;
    size_t vlen = ll - (size_t)(ver - p);

    if (mlen == 0)
        return 400;
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)p[i]))
            return 400;
    if (mlen >= sizeof h->method)
        return 501; /* a well-formed method we certainly do not implement */
    if (tlen == 0)
        return 400;
    if (tlen >= sizeof h->path)
        return 414;
    for (size_t i = 0; i < tlen; i++) {
        unsigned char ch = (unsigned char)sp1[1 + i];
        if (ch <= 0x20 || ch == 0x7f)
            return 400;
    }
    if (vlen == 8 && memcmp(ver, "HTTP/1.", 7) == 0 && (ver[7] == '0' || ver[7] == '1'))
        h->minor = ver[7] - '0';
    else if (vlen >= 5 && memcmp(ver, "HTTP/", 5) == 0 && !memchr(ver, ' ', vlen))
        return 505;
    else
        return 400;
    memcpy(h->method, p, mlen);
    memcpy(h->path, sp1 + 1, tlen);

    size_t blank = (n >= 2 && p[n - 2] == '\r') ? 2 : 1;
    h->hdrs = p + first_len;
    h->hdrs_len = n - first_len - blank;

    int keep_alive = 0, te_seen = 0;
    const char *q = h->hdrs, *end = h->hdrs + h->hdrs_len;
    while (q < end) {
        const char *lnl = memchr(q, '\n', (size_t)(end - q));
        const char *line_end = lnl ? lnl : end;
        if (*q == ' ' || *q == '\t')
            return 400; /* obsolete line folding */
        const char *colon = memchr(q, ':', (size_t)(line_end - q));
        if (!colon || colon == q)
            return 400;
        for (const char *k = q; k < colon; k++)
            if (!is_tchar((unsigned char)*k))
                return 400;
        size_t name_len = (size_t)(colon - q);
        const char *v = colon + 1;
        size_t vn = (size_t)(line_end - v);
        trim(&v, &vn);

        if (name_len == 14 && strncasecmp(q, "Content-Length", 14) == 0) {
            if (vn == 0)
                return 400;
            long long cl = 0;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return 400;
                if (cl > (long long)RCV_MAX_BODY)
                    continue; /* saturate: answered 413 below */
                cl = cl * 10 + (v[i] - '0');
            }
            if (h->content_length >= 0 && h->content_length != cl)
                return 400;
            h->content_length = cl;
        } else if (name_len == 17 && strncasecmp(q, "Transfer-Encoding", 17) == 0) {
            te_seen = 1;
            /* chunked must be the final coding; anything else we cannot frame */
            const char *last = v;
            size_t last_len = vn;
            const char *comma;
            while ((comma = memchr(last, ',', last_len)) != NULL) {
                last_len -= (size_t)(comma + 1 - last);
                last = comma + 1;
            }
            trim(&last, &last_len);
            if (last_len == 7 && strncasecmp(last, "chunked", 7) == 0)
                h->chunked = 1;
            else
                return 501;
        } else if (name_len == 10 && strncasecmp(q, "Connection", 10) == 0) {
            if (has_token(v, vn, "close"))
                h->close_after = 1;
            if (has_token(v, vn, "keep-alive"))
                keep_alive = 1;
        } else if (name_len == 6 && strncasecmp(q, "Expect", 6) == 0) {
            if (vn == 12 && strncasecmp(v, "100-continue", 12) == 0)
                h->expect_continue = 1;
        }
        q = lnl ? lnl + 1 : end;
    }
    if (te_seen && h->content_length >= 0) {
        /* RFC 9112 6.3: Transfer-Encoding wins, and the connection must not be reused. */
        h->content_length = -1;
        h->close_after = 1;
    }
    if (h->minor == 0 && !keep_alive)
        h->close_after = 1;
    if (h->minor == 0)
        h->expect_continue = 0;
    if (h->content_length > (long long)RCV_MAX_BODY)
        return 413;
    return 0;
}

/* 0 ok (*body owned by caller), -1 I/O error, or an HTTP status to answer. */
static int read_chunked(rcv_conn *c, char **body, size_t *body_len)
{
    char *b = NULL;
    size_t n = 0, cap = 0;
    const char *line;
    size_t ll;
    int rc;
    for (;;) {
        rc = read_line(c, CHUNK_LINE_MAX, &line, &ll);
        if (rc)
            goto fail;
        size_t size = 0, i = 0;
        for (; i < ll; i++) {
            char ch = line[i];
            int d;
            if (ch >= '0' && ch <= '9')
                d = ch - '0';
            else if (ch >= 'a' && ch <= 'f')
                d = ch - 'a' + 10;
            else if (ch >= 'A' && ch <= 'F')
                d = ch - 'A' + 10;
            else
                break;
            if (size > (size_t)RCV_MAX_BODY) {
                rc = 413;
                goto fail;
            }
            size = size * 16 + (size_t)d;
        }
        if (i == 0 || (i < ll && line[i] != ';' && line[i] != ' ' && line[i] != '\t')) {
            rc = 400;
            goto fail;
        }
        if (size == 0)
            break;
        if (size > (size_t)RCV_MAX_BODY - n) {
            rc = 413;
            goto fail;
        }
        if (n + size + 1 > cap) {
            size_t ncap = cap ? cap : 4096;
            while (ncap < n + size + 1)
                ncap *= 2;
            char *nb = realloc(b, ncap);
            if (!nb) {
                rc = -1;
                goto fail;
            }
            b = nb;
            cap = ncap;
        }
        if (read_upto(c, b + n, size) != size) {
            rc = -1;
            goto fail;
        }
        n += size;
        rc = read_line(c, 2, &line, &ll);
        if (rc == 0 && ll != 0)
            rc = 400;
        if (rc)
            goto fail;
    }
    /* trailer section, discarded */
    size_t trailer = 0;
    for (;;) {
        rc = read_line(c, RCV_MAX_HEAD, &line, &ll);
        if (rc)
            goto fail;
        trailer += ll + 2;
        if (trailer > RCV_MAX_HEAD) {
            rc = 431;
            goto fail;
        }
        if (ll == 0)
            break;
    }
    if (!b) {
        b = malloc(1);
        if (!b)
            return -1;
    }
    b[n] = '\0';
    *body = b;
    *body_len = n;
    return 0;
fail:
    free(b);
    if (rc == -2)
        rc = 400;
    return rc;
}

/* ---------------------------------------------------------------- connection thread */

static void *conn_main(void *arg)
{
    rcv_conn *c = arg;
    rcv *r = c->r;
    int linger = 0;

    for (;;) {
        size_t head_len = 0;
        int rc = read_head(c, &head_len);
        if (rc == 1 || rc == -1)
            break;
        if (rc == -2) {
            send_error(c, 431);
            linger = 1;
            break;
        }
        req_head h;
        int st = parse_head(c->buf + c->pos, head_len, &h);
        if (st) {
            send_error(c, st);
            linger = 1;
            break;
        }
        char *headers = memdup_z(h.hdrs, h.hdrs_len);
        c->pos += head_len; /* h.hdrs is stale from here on */
        h.hdrs = NULL;
        if (!headers)
            break;
        int has_body = h.chunked || h.content_length > 0;

        rcv_answer ans;
        int early = 0;
        pthread_mutex_lock(&r->mu);
        if ((r->script_head ? r->script_head->status : r->dflt.status) == RCV_RESET)
            early = take_answer_locked(r, &ans) == 0;
        pthread_mutex_unlock(&r->mu);
        if (early) {
            answer_free(&ans);
            size_t want = 0;
            if (!h.chunked && !h.expect_continue && h.content_length > 0) {
                want = (size_t)h.content_length / 2;
                if (want > RESET_PARTIAL_MAX)
                    want = RESET_PARTIAL_MAX;
            }
            char *part = malloc(want + 1);
            size_t got = part ? read_upto(c, part, want) : 0;
            if (part)
                part[got] = '\0';
            if (part)
                record(r, &h, headers, part, got, RCV_RESET, !has_body, realtime_ms(), NULL);
            else
                free(headers);
            close_with_reset(c);
            break;
        }

        if (has_body && h.expect_continue && c->pos == c->len) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (send_all(c->fd, cont, sizeof cont - 1)) {
                free(headers);
                break;
            }
        }

        char *body = NULL;
        size_t body_len = 0;
        if (h.chunked) {
            rc = read_chunked(c, &body, &body_len);
        } else {
            body_len = h.content_length > 0 ? (size_t)h.content_length : 0;
            body = malloc(body_len + 1);
            if (!body)
                rc = -1;
            else if (read_upto(c, body, body_len) != body_len)
                rc = -1;
            else {
                body[body_len] = '\0';
                rc = 0;
            }
            if (rc) {
                free(body);
                body = NULL;
            }
        }
        if (rc) {
            free(headers);
            if (rc > 0) {
                send_error(c, rc);
                linger = 1;
            }
            break;
        }
        long long when = realtime_ms();

        pthread_mutex_lock(&r->mu);
        int got_answer = take_answer_locked(r, &ans) == 0;
        int stopping = r->stopping;
        pthread_mutex_unlock(&r->mu);
        if (!got_answer) {
            free(headers);
            free(body);
            send_error(c, 500);
            linger = 1;
            break;
        }

        int status = ans.status;
        if (status == RCV_RESET) {
            answer_free(&ans);
            record(r, &h, headers, body, body_len, RCV_RESET, 1, when, NULL);
            close_with_reset(c);
            break;
        }
        if (status == RCV_HANG) {
            answer_free(&ans);
            unsigned long gen;
            record(r, &h, headers, body, body_len, RCV_HANG, 1, when, &gen);
            pthread_mutex_lock(&r->mu);
            while (!r->stopping && r->hang_generation == gen)
                pthread_cond_wait(&r->hang_cv, &r->mu);
            pthread_mutex_unlock(&r->mu);
            break;
        }
        if (status == RCV_RAW) {
            record(r, &h, headers, body, body_len, RCV_RAW, 1, when, NULL);
            send_all(c->fd, ans.body, ans.body_len);
            answer_free(&ans);
            linger = 1;
            break;
        }
        if (status < 100 || status > 999)
            status = 500;
        const char *cv;
        size_t cvn;
        int script_close = find_header(ans.headers, strlen(ans.headers), "Connection", &cv, &cvn) &&
                           has_token(cv, cvn, "close");
        int closing = h.close_after || stopping || script_close;
        int head_only = strcmp(h.method, "HEAD") == 0;
        /* Recorded before the answer leaves: a client that has its answer can count on it. */
        record(r, &h, headers, body, body_len, status, 1, when, NULL);
        int sent = send_response(c, status, ans.headers, ans.body, ans.body_len, head_only,
                                 closing && !script_close);
        answer_free(&ans);
        if (sent)
            break;
        if (closing) {
            linger = 1;
            break;
        }
    }

    if (linger && c->fd >= 0)
        lingering_close(c);
    free(c->buf);
    c->buf = NULL;
    pthread_mutex_lock(&r->mu);
    close_fd_locked(c);
    c->done = 1;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---------------------------------------------------------------- accept thread */

static void join_and_free(rcv_conn *list)
{
    while (list) {
        rcv_conn *next = list->next;
        pthread_join(list->tid, NULL);
        free(list);
        list = next;
    }
}

static void reap_finished(rcv *r)
{
    rcv_conn *finished = NULL;
    pthread_mutex_lock(&r->mu);
    for (rcv_conn **pp = &r->conns; *pp;) {
        rcv_conn *c = *pp;
        if (c->done) {
            *pp = c->next;
            c->next = finished;
            finished = c;
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&r->mu);
    join_and_free(finished);
}

static void *accept_main(void *arg)
{
    rcv *r = arg;
    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = r->listen_fd, .events = POLLIN },
            { .fd = r->wake[0], .events = POLLIN },
        };
        int pr = poll(pfd, 2, -1);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        if (pfd[1].revents)
            break;
        int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: back off instead of spinning on a readable listener */
                struct pollfd w = { .fd = r->wake[0], .events = POLLIN };
                if (poll(&w, 1, 50) > 0)
                    break;
            }
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        reap_finished(r);

        rcv_conn *c = calloc(1, sizeof *c);
        char *buf = c ? malloc(CONN_BUF_CAP) : NULL;
        if (!buf) {
            free(c);
            close(fd);
            continue;
        }
        c->r = r;
        c->fd = fd;
        c->buf = buf;
        pthread_mutex_lock(&r->mu);
        c->next = r->conns;
        r->conns = c;
        /* Created under the lock so that nobody can see the entry without a valid tid. */
        if (pthread_create(&c->tid, NULL, conn_main, c) != 0) {
            r->conns = c->next;
            pthread_mutex_unlock(&r->mu);
            close(fd);
            free(buf);
            free(c);
            continue;
        }
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

/* ---------------------------------------------------------------- public API */

rcv *rcv_start(int port)
{
    if (port < 0 || port > 65535) {
        errno = EINVAL;
        return NULL;
    }
    rcv *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->listen_fd = -1;
    r->wake[0] = r->wake[1] = -1;
    int saved;
    int mu_ok = 0, rec_ok = 0, hang_ok = 0;

    if (answer_init(&r->dflt, 200, NULL, "ok"))
        goto fail;
    if (pthread_mutex_init(&r->mu, NULL))
        goto fail;
    mu_ok = 1;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca))
        goto fail;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rec_ok = pthread_cond_init(&r->recorded_cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!rec_ok)
        goto fail;
    if (pthread_cond_init(&r->hang_cv, NULL))
        goto fail;
    hang_ok = 1;

    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (r->listen_fd < 0)
        goto fail;
    int one = 1;
    setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        goto fail;
    if (listen(r->listen_fd, 1024) < 0)
        goto fail;
    socklen_t sl = sizeof sa;
    if (getsockname(r->listen_fd, (struct sockaddr *)&sa, &sl) < 0)
        goto fail;
    r->port = ntohs(sa.sin_port);
    if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0)
        goto fail;

    /* Our threads take no signals: they belong to the host's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int cr = pthread_create(&r->accept_tid, NULL, accept_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (cr) {
        errno = cr;
        goto fail;
    }
    return r;

fail:
    saved = errno;
    if (r->listen_fd >= 0)
        close(r->listen_fd);
    if (r->wake[0] >= 0)
        close(r->wake[0]);
    if (r->wake[1] >= 0)
        close(r->wake[1]);
    if (hang_ok)
        pthread_cond_destroy(&r->hang_cv);
    if (rec_ok)
        pthread_cond_destroy(&r->recorded_cv);
    if (mu_ok)
        pthread_mutex_destroy(&r->mu);
    answer_free(&r->dflt);
    free(r);
    errno = saved;
    return NULL;
}

int rcv_port(const rcv *r)
{
    return r ? r->port : -1;
}

const char *rcv_url(const rcv *r, const char *path, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    snprintf(buf, n, "http://127.0.0.1:%d%s", rcv_port(r), path ? path : "");
    return buf;
}

void rcv_stop(rcv *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_broadcast(&r->hang_cv);
    pthread_mutex_unlock(&r->mu);

    ssize_t w;
    do {
        w = write(r->wake[1], "x", 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(r->accept_tid, NULL);

    pthread_mutex_lock(&r->mu);
    for (rcv_conn *c = r->conns; c; c = c->next)
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
    rcv_conn *all = r->conns;
    r->conns = NULL;
    pthread_mutex_unlock(&r->mu);
    join_and_free(all);

    close(r->listen_fd);
    close(r->wake[0]);
    close(r->wake[1]);
    while (r->script_head) {
        rcv_answer *a = r->script_head;
        r->script_head = a->next;
        answer_free(a);
        free(a);
    }
    answer_free(&r->dflt);
    for (size_t i = 0; i < r->nreqs; i++)
        rcv_request_free(&r->reqs[i]);
    free(r->reqs);
    pthread_cond_destroy(&r->hang_cv);
    pthread_cond_destroy(&r->recorded_cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void rcv_push(rcv *r, int status, const char *extra_headers, const char *body)
{
    if (!r)
        return;
    rcv_answer *a = malloc(sizeof *a);
    if (!a || answer_init(a, status, extra_headers, body)) {
        /* A test whose script silently lost a step would go on to lie. */
        fprintf(stderr, "rcv_push: out of memory\n");
        abort();
    }
    pthread_mutex_lock(&r->mu);
    if (r->script_tail)
        r->script_tail->next = a;
    else
        r->script_head = a;
    r->script_tail = a;
    pthread_mutex_unlock(&r->mu);
}

void rcv_set_default(rcv *r, int status, const char *extra_headers, const char *body)
{
    if (!r)
        return;
    rcv_answer a;
    if (answer_init(&a, status, extra_headers, body)) {
        fprintf(stderr, "rcv_set_default: out of memory\n");
        abort();
    }
    pthread_mutex_lock(&r->mu);
    rcv_answer old = r->dflt;
    r->dflt = a;
    pthread_mutex_unlock(&r->mu);
    answer_free(&old);
}

void rcv_release_hangs(rcv *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->hang_generation++;
    pthread_cond_broadcast(&r->hang_cv);
    pthread_mutex_unlock(&r->mu);
}

size_t rcv_count(rcv *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = r->nreqs;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int rcv_get(rcv *r, size_t i, rcv_request *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!r)
        return -1;
    pthread_mutex_lock(&r->mu);
    if (i >= r->nreqs) {
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    const rcv_request *src = &r->reqs[i];
    *out = *src;
    out->headers = memdup_z(src->headers, strlen(src->headers));
    out->body = memdup_z(src->body, src->body_len);
    pthread_mutex_unlock(&r->mu);
    if (!out->headers || !out->body) {
        rcv_request_free(out);
        return -1;
    }
    return 0;
}

int rcv_pop(rcv *r, rcv_request *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!r)
        return -1;
    pthread_mutex_lock(&r->mu);
    if (r->nreqs == 0) {
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    *out = r->reqs[0];
    memmove(r->reqs, r->reqs + 1, (r->nreqs - 1) * sizeof *r->reqs);
    r->nreqs--;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void rcv_request_free(rcv_request *q)
{
    if (!q)
        return;
    free(q->headers);
    free(q->body);
    memset(q, 0, sizeof *q);
}

const char *rcv_request_header(const rcv_request *q, const char *name, char *buf, size_t n)
{
    if (!q || !q->headers || !name || !buf || n == 0)
        return NULL;
    const char *v;
    size_t vn;
    if (!find_header(q->headers, strlen(q->headers), name, &v, &vn))
        return NULL;
    if (vn >= n)
        vn = n - 1;
    memcpy(buf, v, vn);
    buf[vn] = '\0';
    return buf;
}

int rcv_wait(rcv *r, size_t n, int timeout_ms)
{
    if (!r)
        return -1;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&r->mu);
    while (r->nreqs < n) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&r->recorded_cv, &r->mu)
                                : pthread_cond_timedwait(&r->recorded_cv, &r->mu, &dl);
        if (rc == ETIMEDOUT)
            break;
    }
    int ok = r->nreqs >= n;
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : -1;
}

void rcv_clear(rcv *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nreqs; i++)
        rcv_request_free(&r->reqs[i]);
    r->nreqs = 0;
    pthread_mutex_unlock(&r->mu);
}
