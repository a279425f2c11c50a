/* SPDX-License-Identifier: MIT */
/* The context's clocks, log and last error (trace.h): a leaf every module may call,
 * like curl's curl_trc.c. */
#include "trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "ctx.h"

int64_t al_ctx_mono(alert_ctx *ctx)
{
    if (!ctx->cfg.clock_fn)
        return ctx->mono_base + al_clock_ms(CLOCK_MONOTONIC_COARSE);
    int64_t raw = ctx->cfg.clock_fn(ctx->cfg.clock_ud);
    if (raw < 0) {
        /* no meaning as a time: the worker's time stands still until the clock is sane */
        if (!ctx->clock_bad_logged) {
            ctx->clock_bad_logged = 1;
            al_ctx_error(ctx, "the injected clock returned a negative time (%lld ms); "
                              "time-based rules wait for a valid time", (long long)raw);
        }
        return ctx->mono_last;
    }
    ctx->clock_bad_logged = 0;
    int64_t t = al_sat_add(raw, ctx->step_offset);
    if (t < ctx->mono_last) {
        ctx->step_offset += ctx->mono_last - t;     /* a step back: absorbed */
        t = ctx->mono_last;
    }
    ctx->mono_last = t;
    return t;
}

static void ctx_vlog(alert_ctx *ctx, int level, const char *fmt, va_list ap)
{
    if (!ctx->cfg.log_fn)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    ctx->cfg.log_fn(level, msg, ctx->cfg.log_ud);
}

void al_ctx_log(alert_ctx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vlog(ctx, level, fmt, ap);
    va_end(ap);
}

static void ctx_vnote(alert_ctx *ctx, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&ctx->lock);
    vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
    pthread_mutex_unlock(&ctx->lock);
}

void al_ctx_note(alert_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vnote(ctx, fmt, ap);
    va_end(ap);
}

void al_ctx_error(alert_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vnote(ctx, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    ctx_vlog(ctx, ALERT_LOG_ERROR, fmt, ap);
    va_end(ap);
}
