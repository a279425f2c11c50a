/* SPDX-License-Identifier: MIT */
/* The context's worker clock, its log and its last error (trace.c): what every module
 * needs of the ctx and nothing else. The wall clock, al_ctx_now, is inline in ctx.h:
 * the hooks read it on every call. */
#ifndef AL_TRACE_H
#define AL_TRACE_H

#include <stdint.h>
#include <time.h>

typedef struct alert_ctx alert_ctx;

/* A system clock in ms. */
static inline int64_t al_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a + b, saturated at the int64 range. */
static inline int64_t al_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* The worker's time for durations (timers, backoff, retry times, token buckets,
 * digests, deadlines): on the wall-clock scale at start, so that times kept in the
 * spool stay meaningful across restarts, but it never goes backwards and a step of the
 * wall clock does not move it. The system clock: CLOCK_MONOTONIC_COARSE plus the
 * offset taken at create. An injected clock: its value plus what its backward steps
 * took away (time stands still for the step instant only, then runs on). Worker only. */
int64_t al_ctx_mono(alert_ctx *ctx);
void al_ctx_log(alert_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a local error (alert_ctx_last_error) and logs it at ERROR. */
void al_ctx_error(alert_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the last error without logging it (the caller logs at its own level). */
void al_ctx_note(alert_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
