/* SPDX-License-Identifier: MIT */
/* The state interface's dispatch, and what the local backends share: claims and
 * schedule claims built on get and put (one process decides alone, so a read then a
 * write is atomic here; a networked backend does each in one script), counter batch
 * ids, event windows kept in memory, and the string map. */
#include "state/state_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "hash.h"

/* ---- the string map ------------------------------------------------------------ */

static int smap_grow(al_smap *m)
{
    size_t n = m->n_buckets ? m->n_buckets * 2 : 64;
    al_smap_entry **b = al_calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->n_buckets; i++) {
        al_smap_entry *e = m->buckets[i];
        while (e) {
            al_smap_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    al_free(m->buckets);
    m->buckets = b;
    m->n_buckets = n;
    return 0;
}

al_smap_entry *al_smap_find(al_smap *m, const char *key, int create)
{
    size_t len = strlen(key);
    uint64_t h = al_hash_bytes(key, len, 0);
    if (m->n_buckets) {
        for (al_smap_entry *e = m->buckets[h & (m->n_buckets - 1)]; e; e = e->next)
            if (e->hash == h && strcmp(e->key, key) == 0)
                return e;
    }
    if (!create)
        return NULL;
    if (m->count >= m->n_buckets && smap_grow(m) != 0)
        return NULL;
    al_smap_entry *e = al_malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, len + 1);
    e->hash = h;
    e->value = NULL;
    e->next = m->buckets[h & (m->n_buckets - 1)];
    m->buckets[h & (m->n_buckets - 1)] = e;
    m->count++;
    return e;
}

void al_smap_remove(al_smap *m, const char *key, void **value_out)
{
    if (value_out)
        *value_out = NULL;
    if (!m->n_buckets)
        return;
    uint64_t h = al_hash_bytes(key, strlen(key), 0);
    for (al_smap_entry **pp = &m->buckets[h & (m->n_buckets - 1)]; *pp; pp = &(*pp)->next) {
        al_smap_entry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            *pp = e->next;
            if (value_out)
                *value_out = e->value;
            al_free(e);
            m->count--;
            return;
        }
    }
}

void al_smap_free(al_smap *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->n_buckets; i++) {
        al_smap_entry *e = m->buckets[i];
        while (e) {
            al_smap_entry *next = e->next;
            if (free_value)
                free_value(e->value);
            al_free(e);
            e = next;
        }
    }
    al_free(m->buckets);
    memset(m, 0, sizeof *m);
}

/* ---- life ---------------------------------------------------------------------- */

void al_state_init(al_state *s, const al_state_ops *ops)
{
    memset(s, 0, sizeof *s);
    s->ops = ops;
    s->durable = ops->durable;
}

void al_state_fini(al_state *s)
{
    al_smap_free(&s->windows, al_free);
}

void al_state_close(al_state *s)
{
    if (s)
        s->ops->close(s);
}

const char *al_state_name(const al_state *s)
{
    return s ? s->ops->name : "none";
}

int al_state_durable(const al_state *s)
{
    return s && s->durable;
}

const char *al_state_last_error(const al_state *s)
{
    return s ? s->ops->last_error(s) : "";
}

int al_state_begin(al_state *s)
{
    return s ? s->ops->begin(s) : ALERT_ERR_INVALID;
}

int al_state_commit(al_state *s)
{
    return s ? s->ops->commit(s) : ALERT_ERR_INVALID;
}

/* ---- marks ----------------------------------------------------------------------- */

int al_state_mark_put(al_state *s, const char *key, const char *value, int64_t expires_ms)
{
    if (!s || !key)
        return ALERT_ERR_INVALID;
    return s->ops->mark_put(s, key, value, expires_ms);
}

int al_state_mark_get(al_state *s, const char *key, char **value_out, int64_t now_ms)
{
    if (value_out)
        *value_out = NULL;
    if (!s || !key)
        return ALERT_ERR_INVALID;
    return s->ops->mark_get(s, key, value_out, now_ms);
}

int al_state_mark_purge(al_state *s, int64_t now_ms)
{
    return s ? s->ops->mark_purge(s, now_ms) : ALERT_ERR_INVALID;
}

#define PENDING_PREFIX "pending "

int al_state_mark_claim(al_state *s, const char *key, const char *holder, int64_t expires_ms,
                        int64_t now_ms, al_claim *out)
{
    if (!s || !key || !holder || !out)
        return ALERT_ERR_INVALID;
    char *v = NULL;
    int rc = s->ops->mark_get(s, key, &v, now_ms);
    if (rc == ALERT_OK && v) {
        if (strncmp(v, PENDING_PREFIX, sizeof PENDING_PREFIX - 1) == 0 &&
            strcmp(v + sizeof PENDING_PREFIX - 1, holder) == 0)
            *out = AL_CLAIM_HELD;
        else if (strncmp(v, PENDING_PREFIX, sizeof PENDING_PREFIX - 1) == 0 && !s->durable)
            *out = AL_CLAIM_HELD;       /* memory is this process's: its holder is alive */
        else
            *out = AL_CLAIM_SENT;       /* sent, or pending by a process that is gone */
        al_free(v);
        return ALERT_OK;
    }
    al_free(v);
    if (rc != ALERT_OK && rc != ALERT_ERR_NOT_FOUND)
        return rc;
    size_t n = sizeof PENDING_PREFIX + strlen(holder);
    char *p = al_malloc(n);
    if (!p)
        return ALERT_ERR_NOMEM;
    snprintf(p, n, PENDING_PREFIX "%s", holder);
    rc = s->ops->mark_put(s, key, p, expires_ms);
    al_free(p);
    if (rc == ALERT_OK)
        *out = AL_CLAIM_WON;
    return rc;
}

int al_state_mark_settle(al_state *s, const char *key, int sent, int64_t expires_ms)
{
    if (!s || !key)
        return ALERT_ERR_INVALID;
    return s->ops->mark_put(s, key, sent ? "sent" : NULL, expires_ms);
}

/* ---- schedules ------------------------------------------------------------------- */

int al_state_schedule_get(al_state *s, const char *name, int64_t *last)
{
    if (!s || !name || !last)
        return ALERT_ERR_INVALID;
    return s->ops->schedule_get(s, name, last);
}

int al_state_schedule_put(al_state *s, const char *name, int64_t last)
{
    if (!s || !name)
        return ALERT_ERR_INVALID;
    return s->ops->schedule_put(s, name, last);
}

int al_state_schedule_claim(al_state *s, const char *name, int64_t period_ms, int64_t now_ms,
                            int64_t *last, al_claim *out)
{
    if (!s || !name || !last || !out || period_ms <= 0)
        return ALERT_ERR_INVALID;
    int64_t v;
    int rc = s->ops->schedule_get(s, name, &v);
    if (rc == ALERT_ERR_NOT_FOUND) {
        *last = now_ms;
        *out = AL_CLAIM_SENT;
        return s->ops->schedule_put(s, name, now_ms);
    }
    if (rc != ALERT_OK)
        return rc;
    /* a schedule ahead of the clock (the clock stepped back) is not due */
    if (now_ms - v >= period_ms) {
        rc = s->ops->schedule_put(s, name, now_ms);
        if (rc != ALERT_OK)
            return rc;
        *last = now_ms;
        *out = AL_CLAIM_WON;
        return ALERT_OK;
    }
    *last = v;
    *out = AL_CLAIM_SENT;
    return ALERT_OK;
}

/* ---- counters -------------------------------------------------------------------- */

int al_state_counters_add(al_state *s, uint64_t batch, const al_state_cell *v, size_t n)
{
    if (!s || (n && !v))
        return ALERT_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!v[i].name || !isfinite(v[i].amount))
            return ALERT_ERR_INVALID;
    if (batch && batch <= s->last_batch)
        return ALERT_OK;                    /* applied already */
    int rc = ALERT_OK;
    for (size_t i = 0; i < n && rc == ALERT_OK; i++)
        rc = s->ops->counter_add(s, v[i].day, v[i].dim, v[i].name, v[i].amount);
    if (rc == ALERT_OK && batch)
        s->last_batch = batch;
    return rc;
}

int al_state_counters_load(al_state *s, int32_t from_day, al_state_cell_cb cb, void *ud)
{
    if (!s || !cb)
        return ALERT_ERR_INVALID;
    return s->ops->counters_load(s, from_day, cb, ud);
}

int al_state_counter_get(al_state *s, int32_t day, int32_t dim, const char *name, double *total)
{
    if (!s || !name || !total)
        return ALERT_ERR_INVALID;
    *total = 0;
    return s->ops->counter_get(s, day, dim, name, total);
}

int al_state_counters_prune(al_state *s, int32_t before_day)
{
    return s ? s->ops->counters_prune(s, before_day) : ALERT_ERR_INVALID;
}

/* ---- windows: a sorted array of times per key ------------------------------------ */

typedef struct al_window {
    size_t n, cap;
    int64_t t[];
} al_window;

int al_state_window_add(al_state *s, const char *key, int64_t at_ms)
{
    if (!s || !key)
        return ALERT_ERR_INVALID;
    al_smap_entry *e = al_smap_find(&s->windows, key, 1);
    if (!e)
        return ALERT_ERR_NOMEM;
    al_window *w = e->value;
    if (!w || w->n == w->cap) {
        size_t cap = w ? w->cap * 2 : 8;
        al_window *g = al_realloc(w, sizeof *g + cap * sizeof g->t[0]);
        if (!g)
            return ALERT_ERR_NOMEM;
        if (!w)
            g->n = 0;
        g->cap = cap;
        e->value = w = g;
    }
    size_t i = w->n;                        /* times come mostly in order */
    while (i > 0 && w->t[i - 1] > at_ms) {
        w->t[i] = w->t[i - 1];
        i--;
    }
    w->t[i] = at_ms;
    w->n++;
    return ALERT_OK;
}

int al_state_window_count(al_state *s, const char *key, int64_t since_ms, uint64_t *n)
{
    if (!s || !key || !n)
        return ALERT_ERR_INVALID;
    *n = 0;
    al_smap_entry *e = al_smap_find(&s->windows, key, 0);
    al_window *w = e ? e->value : NULL;
    if (!w)
        return ALERT_OK;
    size_t drop = 0;
    while (drop < w->n && w->t[drop] < since_ms)
        drop++;
    memmove(w->t, w->t + drop, (w->n - drop) * sizeof w->t[0]);
    w->n -= drop;
    *n = w->n;
    if (!w->n) {
        void *v;
        al_smap_remove(&s->windows, key, &v);
        al_free(v);
    }
    return ALERT_OK;
}

/* ---- the spool ------------------------------------------------------------------- */

int al_state_spool_put(al_state *s, const al_spool_row *row, int64_t *id_out)
{
    if (id_out)
        *id_out = 0;
    if (!s || !row)
        return ALERT_ERR_INVALID;
    return s->ops->spool_put(s, row, id_out);
}

int al_state_spool_update(al_state *s, int64_t id, int32_t attempt, int64_t next_at_ms)
{
    if (!s)
        return ALERT_ERR_INVALID;
    return id ? s->ops->spool_update(s, id, attempt, next_at_ms) : ALERT_OK;
}

int al_state_spool_delete(al_state *s, int64_t id)
{
    if (!s)
        return ALERT_ERR_INVALID;
    return id ? s->ops->spool_delete(s, id) : ALERT_OK;
}

int al_state_spool_load(al_state *s, al_state_row_cb cb, void *ud)
{
    if (!s || !cb)
        return ALERT_ERR_INVALID;
    return s->ops->spool_load(s, cb, ud);
}

int64_t al_state_spool_take_lost(al_state *s)
{
    return s && s->ops->spool_take_lost ? s->ops->spool_take_lost(s) : 0;
}

/* ---- fleet mode: the local backends decide alone ------------------------------------ */

int al_state_fleet(const al_state *s)
{
    return s && s->ops->fleet_claim != NULL;
}

int al_state_fleet_claim(al_state *s, const char *fleet_key, int64_t now_ms, al_claim *out)
{
    if (!out)
        return ALERT_ERR_INVALID;
    *out = AL_CLAIM_WON;
    if (!s || !fleet_key)
        return ALERT_ERR_INVALID;
    return s->ops->fleet_claim ? s->ops->fleet_claim(s, fleet_key, now_ms, out) : ALERT_OK;
}

int al_state_fleet_settle(al_state *s, const char *fleet_key, int sent)
{
    if (!s || !fleet_key)
        return ALERT_ERR_INVALID;
    return s->ops->fleet_settle ? s->ops->fleet_settle(s, fleet_key, sent) : ALERT_OK;
}

void al_state_round(al_state *s, int64_t now_ms)
{
    if (s && s->ops->round)
        s->ops->round(s, now_ms, 0);
}

void al_state_round_end(al_state *s, int64_t now_ms)
{
    if (s && s->ops->round)
        s->ops->round(s, now_ms, 1);
}

int64_t al_state_round_wait(al_state *s, int64_t now_ms)
{
    return s && s->ops->round_wait ? s->ops->round_wait(s, now_ms) : INT64_MAX;
}

void al_state_fleet_stats(al_state *s, al_fleet_stats *out)
{
    memset(out, 0, sizeof *out);
    if (s && s->ops->stats) {
        s->ops->stats(s, out);
        out->on = 1;
    }
}

size_t al_state_fleet_pending(al_state *s)
{
    return s && s->ops->pending ? s->ops->pending(s) : 0;
}

/* ---- fleet mode: deliveries (the local backends: each replica alone, as before) ------ */

int al_state_rate_take(al_state *s, const char *bucket, double per_ms, double burst, int want,
                       int64_t now_wall, al_rate_grant *out)
{
    if (!out)
        return ALERT_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->local = 1;
    out->divisor = 1;
    if (!s || !bucket)
        return ALERT_ERR_INVALID;
    return al_state_fleet(s) ? al_redis_rate_take(s, bucket, per_ms, burst, want, now_wall, out)
                             : ALERT_OK;
}

int al_state_rate_block(al_state *s, const char *bucket, int64_t until_wall)
{
    if (!s || !bucket)
        return ALERT_ERR_INVALID;
    return al_state_fleet(s) ? al_redis_rate_block(s, bucket, until_wall) : ALERT_OK;
}

int al_state_mirror_put(al_state *s, const al_spool_row *row, int fresh)
{
    if (!s || !row || !row->idem)
        return ALERT_ERR_INVALID;
    return al_state_fleet(s) ? al_redis_mirror_put(s, row, fresh) : ALERT_OK;
}

int al_state_mirror_delete(al_state *s, const char *idem)
{
    if (!s || !idem)
        return ALERT_ERR_INVALID;
    return al_state_fleet(s) ? al_redis_mirror_delete(s, idem) : ALERT_OK;
}

int al_state_adopt_take(al_state *s, int64_t now_wall, al_state_row_cb adopt,
                        al_state_idem_cb drop, void *ud)
{
    if (!s || !adopt || !drop)
        return ALERT_ERR_INVALID;
    return al_state_fleet(s) ? al_redis_adopt_take(s, now_wall, adopt, drop, ud) : ALERT_OK;
}

void al_state_fleet_leave(al_state *s)
{
    if (al_state_fleet(s))
        al_redis_fleet_leave(s);
}

uint64_t al_state_fleet_adopted(al_state *s)
{
    return al_state_fleet(s) ? al_redis_fleet_adopted(s) : 0;
}
