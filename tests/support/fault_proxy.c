/* SPDX-License-Identifier: MIT */
/* The fault proxy (fault_proxy.h): one thread, poll(), up to MAX_PAIRS connections. */
#include "fault_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 32
#define CHUNK 16384

typedef struct chunk {
    struct chunk *next;
    int64_t release_ms;         /* FP_DELAY: not written before */
    size_t len, off;
    char data[];
} chunk;

typedef struct pipe_dir {
    chunk *head, *tail;         /* read from one side, waiting to be written to the other */
} pipe_dir;

typedef struct pair {
    int client, upstream;       /* -1: none */
    int poisoned;               /* bytes were discarded: the protocol is broken */
    pipe_dir up, down;          /* client -> upstream, upstream -> client */
} pair;

struct fproxy {
    int listen_fd, port, upstream_port;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t lock;
    fproxy_mode mode;
    int delay_ms;
    int stopping;
    pair pairs[MAX_PAIRS];
    _Atomic uint64_t replies_dropped, requests_forwarded, accepted;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dir_clear(pipe_dir *d)
{
    for (chunk *c = d->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    d->head = d->tail = NULL;
}

static void pair_close(pair *p)
{
    if (p->client >= 0)
        close(p->client);
    if (p->upstream >= 0)
        close(p->upstream);
    p->client = p->upstream = -1;
    p->poisoned = 0;
    dir_clear(&p->up);
    dir_clear(&p->down);
}

static int connect_upstream(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void dir_push(pipe_dir *d, const char *buf, size_t len, int64_t release_ms)
{
    chunk *c = malloc(sizeof *c + len);
    if (!c)
        return;
    c->next = NULL;
    c->release_ms = release_ms;
    c->len = len;
    c->off = 0;
    memcpy(c->data, buf, len);
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
}

/* Writes what is due; -1 when the peer is gone. */
static int dir_flush(pipe_dir *d, int fd, int64_t now)
{
    while (d->head && d->head->release_ms <= now) {
        chunk *c = d->head;
        ssize_t w = send(fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->off += (size_t)w;
        if (c->off < c->len)
            return 0;
        d->head = c->next;
        if (!d->head)
            d->tail = NULL;
        free(c);
    }
    return 0;
}

static void *proxy_main(void *arg)
{
    fproxy *p = arg;
    char buf[CHUNK];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int stopping = p->stopping;
        fproxy_mode mode = p->mode;
        int delay = p->delay_ms;
        int upstream_port = p->upstream_port;
        pthread_mutex_unlock(&p->lock);
        if (stopping)
            break;
        int64_t now = now_ms();
        struct pollfd fds[2 + 2 * MAX_PAIRS];
        int who[2 + 2 * MAX_PAIRS];     /* pair index * 2 + side (0 client, 1 upstream) */
        int n = 0;
        fds[n].fd = p->listen_fd;
        fds[n].events = POLLIN;
        who[n++] = -1;
        fds[n].fd = p->wake[0];
        fds[n].events = POLLIN;
        who[n++] = -2;
        int timeout = -1;
        for (int i = 0; i < MAX_PAIRS; i++) {
            pair *q = &p->pairs[i];
            if (q->client < 0)
                continue;
            if (q->poisoned && (mode == FP_PASS || mode == FP_DELAY)) {
                pair_close(q);          /* healed: a broken stream is reset */
                continue;
            }
            if (q->upstream < 0 && mode != FP_BLACKHOLE) {
                q->upstream = connect_upstream(upstream_port);
                if (q->upstream < 0) {
                    pair_close(q);      /* upstream down: refused, as Redis itself would be */
                    continue;
                }
            }
            if (dir_flush(&q->up, q->upstream, now) < 0 ||
                dir_flush(&q->down, q->client, now) < 0) {
                pair_close(q);
                continue;
            }
            for (pipe_dir *d = &q->up; d; d = d == &q->up ? &q->down : NULL)
                if (d->head) {
                    int64_t wait = d->head->release_ms - now;
                    int t = wait < 1 ? 1 : (int)wait;
                    if (timeout < 0 || t < timeout)
                        timeout = t;
                }
            fds[n].fd = q->client;
            fds[n].events = POLLIN;
            who[n++] = i * 2;
            if (q->upstream >= 0) {
                fds[n].fd = q->upstream;
                fds[n].events = POLLIN;
                who[n++] = i * 2 + 1;
            }
        }
        if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
            break;
        now = now_ms();
        for (int k = 0; k < n; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (who[k] == -2) {
                char c[64];
                if (read(p->wake[0], c, sizeof c) < 0)
                    continue;
                continue;
            }
            if (who[k] == -1) {
                int fd = accept(p->listen_fd, NULL, NULL);
                if (fd < 0)
                    continue;
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                int slot = -1;
                for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
                    if (p->pairs[i].client < 0)
                        slot = i;
                if (slot < 0) {
                    close(fd);
                    continue;
                }
                atomic_fetch_add(&p->accepted, 1);
                p->pairs[slot].client = fd;
                p->pairs[slot].upstream = -1;   /* connected next turn, unless black-holed */
                continue;
            }
            pair *q = &p->pairs[who[k] / 2];
            int from_upstream = who[k] % 2;
            int fd = from_upstream ? q->upstream : q->client;
            if (fd < 0)
                continue;
            ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                pair_close(q);
                continue;
            }
            if (got < 0)
                continue;
            if (mode == FP_BLACKHOLE) {
                q->poisoned = 1;
                continue;
            }
            if (from_upstream) {
                if (mode == FP_DROP_REPLIES) {
                    q->poisoned = 1;
                    atomic_fetch_add(&p->replies_dropped, 1);
                    continue;
                }
                dir_push(&q->down, buf, (size_t)got, now + (mode == FP_DELAY ? delay : 0));
            } else {
                atomic_fetch_add(&p->requests_forwarded, 1);
                dir_push(&q->up, buf, (size_t)got, now + (mode == FP_DELAY ? delay : 0));
            }
        }
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        pair_close(&p->pairs[i]);
    return NULL;
}

fproxy *fproxy_start(int upstream_port)
{
    fproxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    for (int i = 0; i < MAX_PAIRS; i++)
        p->pairs[i].client = p->pairs[i].upstream = -1;
    p->upstream_port = upstream_port;
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(p->listen_fd, 16) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&a, &len) != 0 ||
        pipe(p->wake) != 0) {
        if (p->listen_fd >= 0)
            close(p->listen_fd);
        free(p);
        return NULL;
    }
    p->port = ntohs(a.sin_port);
    pthread_mutex_init(&p->lock, NULL);
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0) {
        close(p->listen_fd);
        close(p->wake[0]);
        close(p->wake[1]);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

int fproxy_port(const fproxy *p)
{
    return p->port;
}

static void wake(fproxy *p)
{
    if (write(p->wake[1], "x", 1) < 0) {
        /* the pipe is full: the thread is awake anyway */
    }
}

void fproxy_set(fproxy *p, fproxy_mode mode, int delay_ms)
{
    pthread_mutex_lock(&p->lock);
    p->mode = mode;
    p->delay_ms = delay_ms;
    pthread_mutex_unlock(&p->lock);
    wake(p);
}

void fproxy_set_upstream(fproxy *p, int upstream_port)
{
    pthread_mutex_lock(&p->lock);
    p->upstream_port = upstream_port;
    pthread_mutex_unlock(&p->lock);
    wake(p);
}

uint64_t fproxy_replies_dropped(fproxy *p)
{
    return atomic_load(&p->replies_dropped);
}

uint64_t fproxy_requests_forwarded(fproxy *p)
{
    return atomic_load(&p->requests_forwarded);
}

uint64_t fproxy_accepted(fproxy *p)
{
    return atomic_load(&p->accepted);
}

void fproxy_stop(fproxy *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_mutex_unlock(&p->lock);
    wake(p);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
