/* SPDX-License-Identifier: MIT */
/* Daily and fallback reports: decisions and compat texts (reports.h). */
#include "reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "buf.h"
#include "fmt.h"
#include "hash.h"
#include "text.h"

int al_schedule_due(int64_t last_ms, int64_t period_ms, int64_t now_ms)
{
    if (now_ms < last_ms)
        return 0;
    return now_ms - last_ms >= period_ms;
}

/* ---- daily report ------------------------------------------------------------ */

double al_latency_per_token(double duration_s, int64_t completion_tokens)
{
    return completion_tokens > 0 ? duration_s / (double)completion_tokens : duration_s;
}

typedef struct ranked {
    const al_deploy_totals *t;
    size_t index;
    double value;
} ranked;

static int cmp_str(const char *a, const char *b)
{
    if (!a || !b)
        return (a != NULL) - (b != NULL);       /* unknown first, like "None" < names */
    return strcmp(a, b);
}

/* LiteLLM names a deployment by its model; the deployment when that is unknown */
static const char *shown_name(const al_deploy_totals *t)
{
    return t->model ? t->model : t->deployment;
}

/* Highest value first; ties by name, API base, then the order given. */
static int cmp_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->value != b->value)
        return a->value > b->value ? -1 : 1;
    int c = cmp_str(shown_name(a->t), shown_name(b->t));
    if (c == 0)
        c = cmp_str(a->t->api_base, b->t->api_base);
    if (c == 0)
        c = a->index < b->index ? -1 : a->index > b->index;
    return c;
}

static double average_latency(const al_deploy_totals *t)
{
    if (t->latency_count == 0 || !isfinite(t->latency_sum_s))
        return 0;
    return t->latency_sum_s / (double)t->latency_count;
}

/* The top 5 with a positive value, best first; returns how many. */
static size_t top5(ranked *all, const al_deploy_totals *v, size_t n, int latency, ranked out[5])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double val = latency ? average_latency(&v[i]) : (double)v[i].failed;
        if (val > 0)
            all[k++] = (ranked){ &v[i], i, val };
    }
    if (k == 0)
        return 0;
    qsort(all, k, sizeof *all, cmp_ranked);
    if (k > 5)
        k = 5;
    memcpy(out, all, k * sizeof *all);
    return k;
}

static void add_epoch(al_text *t, int64_t ms)
{
    char num[64];
    al_fmt_pyfloat(num, sizeof num, (double)ms / 1000.0);
    al_text_lit(t, num);
}

al_alert *al_daily_report(const al_deploy_totals *v, size_t n, int64_t now_ms, double period_s,
                          int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = ALERT_OK;
    if (!v && n)
        return *err = ALERT_ERR_INVALID, NULL;
    ranked failed[5], slow[5];
    ranked *all = n ? al_malloc(n * sizeof *all) : NULL;
    if (n && !all)
        return *err = ALERT_ERR_NOMEM, NULL;
    size_t nf = top5(all, v, n, 0, failed);
    size_t ns = top5(all, v, n, 1, slow);
    al_free(all);
    if (nf == 0 && ns == 0)
        return NULL;

    al_alert *a = al_alert_new(AL_T_DAILY_REPORTS, al_types[AL_T_DAILY_REPORTS].level, now_ms);
    if (!a)
        return *err = ALERT_ERR_NOMEM, NULL;
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, "\n\nTime: `");
    add_epoch(&t, now_ms);
    al_text_lit(&t, "`s\nHere are today's key metrics \xF0\x9F\x93\x88: \n\n");
    al_text_lit(&t, "\n\n*\xE2\x9D\x97\xEF\xB8\x8F Top Deployments with Most Failed Requests:*\n\n");
    if (nf == 0)
        al_text_lit(&t, "\tNone\n");
    for (size_t i = 0; i < nf; i++) {
        al_text_printf(&t, "\t%zu. Deployment: `", i + 1);
        al_text_val(&t, shown_name(failed[i].t));
        al_text_printf(&t, "`, Failed Requests: `%llu`,  API Base: `",
                       (unsigned long long)failed[i].t->failed);
        al_text_val(&t, failed[i].t->api_base);
        al_text_lit(&t, "`\n");
    }
    al_text_lit(&t, "\n\n*\xF0\x9F\x98\x85 Top Slowest Deployments:*\n\n");
    if (ns == 0)
        al_text_lit(&t, "\tNone\n");
    for (size_t i = 0; i < ns; i++) {
        char num[64];
        al_fmt_round(num, sizeof num, slow[i].value, 3);
        al_text_printf(&t, "\t%zu. Deployment: `", i + 1);
        al_text_val(&t, shown_name(slow[i].t));
        al_text_printf(&t, "`, Latency per output token: `%ss/token`,  API Base: `", num);
        al_text_val(&t, slow[i].t->api_base);
        al_text_lit(&t, "`\n\n");
    }
    al_text_lit(&t, "\n\nNext Run is at: `");
    int64_t next = now_ms;
    if (isfinite(period_s) && period_s > 0 && period_s < 1e12)
        next += llround(period_s * 1000.0);
    add_epoch(&t, next);
    al_text_lit(&t, "`s");
    a->subject = al_strdup("daily report");
    if (al_text_finish(&t, a) != ALERT_OK || !a->subject) {
        al_alert_free(a);
        return *err = ALERT_ERR_NOMEM, NULL;
    }
    return a;
}

/* ---- fallback report --------------------------------------------------------- */

typedef struct pair {
    char *primary;              /* one allocation: primary \0 fallback \0 */
    const char *fallback;
    uint64_t hash;
    uint64_t ok, failed;
    uint64_t reported_ok, reported_failed;
} pair;

struct al_fallbacks {
    pair *pairs;
    size_t n, cap, max;
    uint32_t *slots;            /* open addressing: pair index + 1, 0 empty */
    size_t nslots;              /* power of two, >= 2 * n */
    uint64_t dropped;
};

al_fallbacks *al_fallbacks_new(size_t max_pairs)
{
    al_fallbacks *t = al_calloc(1, sizeof *t);
    if (t)
        t->max = max_pairs ? max_pairs : 10000;
    return t;
}

void al_fallbacks_free(al_fallbacks *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        al_free(t->pairs[i].primary);
    al_free(t->pairs);
    al_free(t->slots);
    al_free(t);
}

static uint64_t pair_hash(const char *p, size_t pl, const char *f, size_t fl)
{
    return al_hash_bytes(f, fl, al_hash_bytes(p, pl, 0));
}

static int index_rebuild(al_fallbacks *t, size_t nslots)
{
    uint32_t *s = al_calloc(nslots, sizeof *s);
    if (!s)
        return ALERT_ERR_NOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = t->pairs[i].hash & (nslots - 1);
        while (s[j])
            j = (j + 1) & (nslots - 1);
        s[j] = (uint32_t)(i + 1);
    }
    al_free(t->slots);
    t->slots = s;
    t->nslots = nslots;
    return ALERT_OK;
}

/* A power of two with room for n pairs at load <= 1/2. */
static size_t slots_for(size_t n)
{
    size_t s = 32;
    while (s < 2 * n + 2)
        s *= 2;
    return s;
}

static int add_counts(al_fallbacks *t, const char *primary, const char *fallback, uint64_t ok,
                      uint64_t failed);

int al_fallbacks_add(al_fallbacks *t, const char *primary, const char *fallback, int succeeded)
{
    return add_counts(t, primary, fallback, succeeded ? 1 : 0, succeeded ? 0 : 1);
}

int al_fallbacks_add_n(al_fallbacks *t, const char *primary, const char *fallback, uint64_t ok,
                       uint64_t failed)
{
    return add_counts(t, primary, fallback, ok, failed);
}

void al_fallbacks_take(al_fallbacks *t,
                       void (*cb)(void *ud, const char *primary, const char *fallback, uint64_t ok,
                                  uint64_t failed),
                       void *ud)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        pair *p = &t->pairs[i];
        if (p->ok - p->reported_ok || p->failed - p->reported_failed)
            cb(ud, p->primary, p->fallback, p->ok - p->reported_ok, p->failed - p->reported_failed);
        p->reported_ok = p->ok;
        p->reported_failed = p->failed;
    }
    al_fallbacks_commit(t);
}

static int add_counts(al_fallbacks *t, const char *primary, const char *fallback, uint64_t ok,
                      uint64_t failed)
{
    if (!t || !primary || !fallback)
        return ALERT_ERR_INVALID;
    if (t->n && !t->nslots && index_rebuild(t, slots_for(t->n)) != ALERT_OK)
        return ALERT_ERR_NOMEM;         /* commit could not rebuild it */
    size_t pl = strlen(primary), fl = strlen(fallback);
    uint64_t h = pair_hash(primary, pl, fallback, fl);
    size_t j = 0;
    if (t->nslots) {
        for (j = h & (t->nslots - 1); t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
            pair *p = &t->pairs[t->slots[j] - 1];
            if (p->hash == h && strcmp(p->primary, primary) == 0 &&
                strcmp(p->fallback, fallback) == 0) {
                p->ok += ok;
                p->failed += failed;
                return ALERT_OK;
            }
        }
    }
    if (t->n >= t->max) {
        t->dropped++;
        return ALERT_ERR_FULL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        pair *v = al_realloc(t->pairs, cap * sizeof *v);
        if (!v)
            return ALERT_ERR_NOMEM;
        t->pairs = v;
        t->cap = cap;
    }
    char *key = al_malloc(pl + fl + 2);
    if (!key)
        return ALERT_ERR_NOMEM;
    memcpy(key, primary, pl + 1);
    memcpy(key + pl + 1, fallback, fl + 1);
    t->pairs[t->n] = (pair){ key, key + pl + 1, h, ok, failed, 0, 0 };
    t->n++;
    if (2 * t->n > t->nslots) {
        if (index_rebuild(t, t->nslots ? t->nslots * 2 : 32) != ALERT_OK) {
            t->n--;
            al_free(key);
            return ALERT_ERR_NOMEM;
        }
    } else {
        while (t->slots[j])
            j = (j + 1) & (t->nslots - 1);
        t->slots[j] = (uint32_t)t->n;
    }
    return ALERT_OK;
}

static int cmp_pair(const void *pa, const void *pb)
{
    const pair *a = *(const pair *const *)pa, *b = *(const pair *const *)pb;
    int c = strcmp(a->primary, b->primary);
    return c ? c : strcmp(a->fallback, b->fallback);
}

static void fallback_line(al_text *t, uint64_t count, const char *what, const pair *p)
{
    al_text_printf(t, "`%llu %s fallback requests` with primary model=`", (unsigned long long)count,
                   what);
    al_text_val(t, p->primary);
    al_text_lit(t, "` -> fallback model=`");
    al_text_val(t, p->fallback);
    al_text_lit(t, "`\n");
}

al_alert *al_fallbacks_report(al_fallbacks *t, int64_t at_ms, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = ALERT_OK;
    if (!t)
        return *err = ALERT_ERR_INVALID, NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        t->pairs[i].reported_ok = t->pairs[i].reported_failed = 0;
        if (t->pairs[i].ok || t->pairs[i].failed)
            k++;
    }
    if (k == 0)
        return NULL;
    pair **order = al_malloc(k * sizeof *order);
    al_alert *a = order ? al_alert_new(AL_T_FALLBACK_REPORTS, al_types[AL_T_FALLBACK_REPORTS].level,
                                       at_ms)
                        : NULL;
    if (!a) {
        al_free(order);
        return *err = ALERT_ERR_NOMEM, NULL;
    }
    k = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->pairs[i].ok || t->pairs[i].failed)
            order[k++] = &t->pairs[i];
    qsort(order, k, sizeof *order, cmp_pair);
    al_text txt = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&txt, "*Fallback Statistics:*\n");
    /* successes then failures, as LiteLLM's two Prometheus series (which labelled
     * both "successful") */
    for (size_t i = 0; i < k; i++)
        if (order[i]->ok)
            fallback_line(&txt, order[i]->ok, "successful", order[i]);
    for (size_t i = 0; i < k; i++)
        if (order[i]->failed)
            fallback_line(&txt, order[i]->failed, "failed", order[i]);
    al_free(order);
    a->subject = al_strdup("fallback report");
    if (al_text_finish(&txt, a) != ALERT_OK || !a->subject) {
        al_alert_free(a);
        return *err = ALERT_ERR_NOMEM, NULL;
    }
    for (size_t i = 0; i < t->n; i++) {
        t->pairs[i].reported_ok = t->pairs[i].ok;
        t->pairs[i].reported_failed = t->pairs[i].failed;
    }
    return a;
}

void al_fallbacks_commit(al_fallbacks *t)
{
    if (!t)
        return;
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        pair p = t->pairs[i];
        p.ok -= p.reported_ok;
        p.failed -= p.reported_failed;
        p.reported_ok = p.reported_failed = 0;
        if (p.ok || p.failed)
            t->pairs[k++] = p;
        else
            al_free(p.primary);
    }
    if (k == t->n)
        return;
    t->n = k;
    /* the index is rebuilt in place of the old one; if that allocation fails,
     * drop the index and let the next add rebuild it */
    if (index_rebuild(t, slots_for(k)) != ALERT_OK) {
        al_free(t->slots);
        t->slots = NULL;
        t->nslots = 0;
    }
}

size_t al_fallbacks_pairs(const al_fallbacks *t)
{
    return t ? t->n : 0;
}

uint64_t al_fallbacks_dropped(const al_fallbacks *t)
{
    return t ? t->dropped : 0;
}
