/* SPDX-License-Identifier: MIT */
/* A TCP proxy on loopback between contexts and a real redis-server, for the fleet
 * degradation tests: it forwards both ways, and on demand delays every byte, black-holes
 * the traffic (accepts, never forwards, never answers) or forwards requests and swallows
 * the replies (the command is applied, its answer is lost). One thread of its own. */
#ifndef FAULT_PROXY_H
#define FAULT_PROXY_H

#include <stdint.h>

typedef struct fproxy fproxy;

typedef enum fproxy_mode {
    FP_PASS = 0,            /* forward both ways */
    FP_DELAY,               /* forward both ways, each chunk delay_ms later */
    FP_BLACKHOLE,           /* accept; read and discard both ways; never connect upstream */
    FP_DROP_REPLIES         /* forward requests upstream; discard what comes back */
} fproxy_mode;

/* Listens on a free 127.0.0.1 port and forwards to 127.0.0.1:upstream_port. NULL on
 * failure. */
fproxy *fproxy_start(int upstream_port);
int fproxy_port(const fproxy *p);
/* Changes the mode for every connection, current and new. A connection whose bytes were
 * discarded cannot carry a protocol any more: it is closed when the mode goes back to
 * FP_PASS or FP_DELAY (as a healed network resets a half-dead connection). */
void fproxy_set(fproxy *p, fproxy_mode mode, int delay_ms);
/* Where new upstream connections go (a Redis restarted on another port). */
void fproxy_set_upstream(fproxy *p, int upstream_port);
/* Replies discarded in FP_DROP_REPLIES (chunks read from upstream and dropped). */
uint64_t fproxy_replies_dropped(fproxy *p);
/* Requests forwarded upstream (chunks), in any mode. */
uint64_t fproxy_requests_forwarded(fproxy *p);
/* Connections accepted so far. */
uint64_t fproxy_accepted(fproxy *p);
void fproxy_stop(fproxy *p);

#endif
