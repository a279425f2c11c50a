/* SPDX-License-Identifier: MIT */
/* Daily deployment report and fallback report (BEHAVIOUR.md section 5): the
 * schedule decision, the fallback counters and the compat texts. Pure worker-side
 * code: the caller owns the clock, the daily counters, the store and the send. */
#ifndef AL_REPORTS_H
#define AL_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* 1 when a report last sent (or first armed) at last_ms is due at now_ms:
 * now - last >= period. A clock that went back (now < last) is not due. */
int al_schedule_due(int64_t last_ms, int64_t period_ms, int64_t now_ms);

/* ---- daily report ---------------------------------------------------------- */

/* One deployment's counters since the last report. */
typedef struct al_deploy_totals {
    const char *deployment;     /* the key; printed when the model is unknown */
    const char *api_base;       /* NULL prints None */
    uint64_t failed;            /* failed requests */
    uint64_t requests;          /* requests ended (informative; not printed) */
    double latency_sum_s;       /* sum of al_latency_per_token() over ended requests */
    uint64_t latency_count;     /* how many were summed */
    const char *model;          /* printed as Deployment, as LiteLLM's (litellm_params.model); NULL unknown */
} al_deploy_totals;

/* The value one ended request adds to latency_sum_s: duration / completion
 * tokens, or the duration when the tokens are unknown (< 0) or 0. */
double al_latency_per_token(double duration_s, int64_t completion_tokens);

/* The daily_reports alert (level Low): top 5 deployments by failed requests and
 * top 5 by AVERAGE latency per output token (latency_sum_s / latency_count),
 * ties broken by deployment name, then API base, then input order. NULL with
 * *err = ALERT_OK when every deployment has no failure and no positive latency
 * (nothing to send); NULL with ALERT_ERR_NOMEM on allocation failure.
 * period_s prints the "Next Run is at" line (now + period). */
al_alert *al_daily_report(const al_deploy_totals *v, size_t n, int64_t now_ms, double period_s,
                          int *err);

/* ---- fallback report ------------------------------------------------------- */

typedef struct al_fallbacks al_fallbacks;

/* max_pairs bounds the distinct (primary, fallback) pairs held (0: 10000). */
al_fallbacks *al_fallbacks_new(size_t max_pairs);
void al_fallbacks_free(al_fallbacks *t);
/* Counts one fallback. ALERT_OK; ALERT_ERR_INVALID (NULL model); ALERT_ERR_FULL
 * when a new pair would exceed max_pairs (not counted, see _dropped);
 * ALERT_ERR_NOMEM. */
int al_fallbacks_add(al_fallbacks *t, const char *primary, const char *fallback, int succeeded);
/* The fallback_reports alert (level Low): "*Fallback Statistics:*" then one line
 * per pair with successes, then one per pair with failures, pairs ordered by
 * (primary, fallback). Remembers the counts it reported for _commit. NULL with
 * *err = ALERT_OK when there is nothing to report. */
al_alert *al_fallbacks_report(al_fallbacks *t, int64_t at_ms, int *err);
/* After the last report was delivered: subtracts the counts it reported (what
 * came in since stays for the next report) and forgets empty pairs. */
void al_fallbacks_commit(al_fallbacks *t);
/* Fleet mode (health.c): counts summed elsewhere, added in one call (as many adds);
 * and every count not yet reported handed to cb, then forgotten (as a delivered
 * report would). */
int al_fallbacks_add_n(al_fallbacks *t, const char *primary, const char *fallback, uint64_t ok,
                       uint64_t failed);
void al_fallbacks_take(al_fallbacks *t,
                       void (*cb)(void *ud, const char *primary, const char *fallback, uint64_t ok,
                                  uint64_t failed),
                       void *ud);
size_t al_fallbacks_pairs(const al_fallbacks *t);
uint64_t al_fallbacks_dropped(const al_fallbacks *t);

#endif
