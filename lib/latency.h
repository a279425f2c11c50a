/* SPDX-License-Identifier: MIT */
/* Request latency on the worker: slow and hanging requests, failed calls, the events
 * the host emits, and PagerDuty's hanging aggregate, turned into alerts. */
#ifndef AL_LATENCY_H
#define AL_LATENCY_H

#include <stdint.h>

#include "events.h"

typedef struct alert_ctx alert_ctx;

/* Due timers of the hanging wheel (ctx passed as void * for the wheel). */
void al_latency_on_due(void *ctx, uint32_t idx, uint32_t gen, int64_t due_ms);
/* Slow, failed (llm_exceptions), resolved hanging and emitted events. */
void al_latency_on_event(alert_ctx *ctx, const al_event *e);
void al_latency_on_pd_due(void *ctx, uint32_t idx, uint32_t gen, int64_t due_ms);
/* "%.2fs" of ms / 1000.0, the bytes printf writes, without printf for 0 <= ms < 2^50
 * (the Elapsed line of every hanging alert). */
void al_fmt_elapsed(char out[32], int64_t ms);

#endif
