/* SPDX-License-Identifier: MIT */
/* The memory backend (no state_path): marks, schedules and counters in this process,
 * lost at exit; no spool (a pending delivery lives in the outbox only). Every answer
 * comes at once. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "state/state_impl.h"

typedef struct mem_mark {
    int64_t expires_ms;
    char value[];
} mem_mark;

typedef struct mem_state {
    al_state base;
    al_smap marks;          /* key -> mem_mark */
    al_smap schedules;      /* name -> int64_t */
    al_smap counters;       /* "<day>|<dim>|<name>" -> double */
} mem_state;

static mem_state *mem(al_state *s)
{
    return (mem_state *)s;
}

static void mem_close(al_state *s)
{
    mem_state *m = mem(s);
    al_smap_free(&m->marks, al_free);
    al_smap_free(&m->schedules, al_free);
    al_smap_free(&m->counters, al_free);
    al_state_fini(s);
    al_free(m);
}

static const char *mem_last_error(const al_state *s)
{
    (void)s;
    return "";
}

static int mem_nothing(al_state *s)
{
    (void)s;
    return ALERT_OK;
}

static int live(const mem_mark *k, int64_t now_ms)
{
    return !k->expires_ms || k->expires_ms > now_ms;
}

static int mem_mark_put(al_state *s, const char *key, const char *value, int64_t expires_ms)
{
    mem_state *m = mem(s);
    void *old;
    if (!value) {
        al_smap_remove(&m->marks, key, &old);
        al_free(old);
        return ALERT_OK;
    }
    size_t n = strlen(value) + 1;
    mem_mark *k = al_malloc(sizeof *k + n);
    if (!k)
        return ALERT_ERR_NOMEM;
    k->expires_ms = expires_ms;
    memcpy(k->value, value, n);
    al_smap_entry *e = al_smap_find(&m->marks, key, 1);
    if (!e) {
        al_free(k);
        return ALERT_ERR_NOMEM;
    }
    al_free(e->value);
    e->value = k;
    return ALERT_OK;
}

static int mem_mark_get(al_state *s, const char *key, char **value_out, int64_t now_ms)
{
    al_smap_entry *e = al_smap_find(&mem(s)->marks, key, 0);
    const mem_mark *k = e ? e->value : NULL;
    if (!k || !live(k, now_ms))
        return ALERT_ERR_NOT_FOUND;
    if (value_out && !(*value_out = al_strdup(k->value)))
        return ALERT_ERR_NOMEM;
    return ALERT_OK;
}

static int mem_mark_purge(al_state *s, int64_t now_ms)
{
    al_smap *map = &mem(s)->marks;
    for (size_t i = 0; i < map->n_buckets; i++) {
        al_smap_entry **pp = &map->buckets[i];
        while (*pp) {
            al_smap_entry *e = *pp;
            if (!live(e->value, now_ms)) {
                *pp = e->next;
                al_free(e->value);
                al_free(e);
                map->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    return ALERT_OK;
}

static int mem_schedule_put(al_state *s, const char *name, int64_t last)
{
    al_smap_entry *e = al_smap_find(&mem(s)->schedules, name, 1);
    if (!e || (!e->value && !(e->value = al_malloc(sizeof(int64_t)))))
        return ALERT_ERR_NOMEM;
    *(int64_t *)e->value = last;
    return ALERT_OK;
}

static int mem_schedule_get(al_state *s, const char *name, int64_t *last)
{
    al_smap_entry *e = al_smap_find(&mem(s)->schedules, name, 0);
    if (!e || !e->value)
        return ALERT_ERR_NOT_FOUND;
    *last = *(int64_t *)e->value;
    return ALERT_OK;
}

/* ---- counters: one map entry per cell ------------------------------------------- */

static char *cell_key(int32_t day, int32_t dim, const char *name)
{
    size_t n = strlen(name) + 32;
    char *k = al_malloc(n);
    if (k)
        snprintf(k, n, "%d|%d|%s", (int)day, (int)dim, name);
    return k;
}

static int mem_counter_add(al_state *s, int32_t day, int32_t dim, const char *name, double amount)
{
    char *k = cell_key(day, dim, name);
    al_smap_entry *e = k ? al_smap_find(&mem(s)->counters, k, 1) : NULL;
    al_free(k);
    if (!e || (!e->value && !(e->value = al_calloc(1, sizeof(double)))))
        return ALERT_ERR_NOMEM;
    *(double *)e->value += amount;
    return ALERT_OK;
}

static int mem_counter_get(al_state *s, int32_t day, int32_t dim, const char *name, double *total)
{
    char *k = cell_key(day, dim, name);
    if (!k)
        return ALERT_ERR_NOMEM;
    al_smap_entry *e = al_smap_find(&mem(s)->counters, k, 0);
    al_free(k);
    *total = e && e->value ? *(double *)e->value : 0;
    return ALERT_OK;
}

typedef struct cell {
    int32_t day, dim;
    const char *name;
    double amount;
} cell;

static int cell_cmp(const void *pa, const void *pb)
{
    const cell *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    if (a->dim != b->dim)
        return a->dim < b->dim ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Splits "<day>|<dim>|<name>"; 0 when the key is not one. */
static int cell_parse(const char *key, cell *c)
{
    char *end;
    c->day = (int32_t)strtol(key, &end, 10);
    if (*end != '|')
        return 0;
    c->dim = (int32_t)strtol(end + 1, &end, 10);
    if (*end != '|')
        return 0;
    c->name = end + 1;
    return 1;
}

static int mem_counters_load(al_state *s, int32_t from_day, al_state_cell_cb cb, void *ud)
{
    al_smap *map = &mem(s)->counters;
    cell *v = map->count ? al_malloc(map->count * sizeof *v) : NULL;
    if (map->count && !v)
        return ALERT_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < map->n_buckets; i++)
        for (al_smap_entry *e = map->buckets[i]; e; e = e->next)
            if (cell_parse(e->key, &v[n]) && v[n].day >= from_day) {
                v[n].amount = *(double *)e->value;
                n++;
            }
    if (n)
        qsort(v, n, sizeof *v, cell_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = cb(ud, v[i].day, v[i].dim, v[i].name, v[i].amount);
    al_free(v);
    return rc;
}

static int mem_counters_prune(al_state *s, int32_t before_day)
{
    al_smap *map = &mem(s)->counters;
    for (size_t i = 0; i < map->n_buckets; i++) {
        al_smap_entry **pp = &map->buckets[i];
        while (*pp) {
            al_smap_entry *e = *pp;
            cell c;
            if (cell_parse(e->key, &c) && c.day < before_day) {
                *pp = e->next;
                al_free(e->value);
                al_free(e);
                map->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    return ALERT_OK;
}

/* ---- no spool: the outbox is the only copy ---------------------------------------- */

static int mem_spool_put(al_state *s, const al_spool_row *row, int64_t *id_out)
{
    (void)s;
    (void)row;
    if (id_out)
        *id_out = 0;
    return ALERT_OK;
}

static int mem_spool_update(al_state *s, int64_t id, int32_t attempt, int64_t next_at_ms)
{
    (void)s;
    (void)id;
    (void)attempt;
    (void)next_at_ms;
    return ALERT_OK;
}

static int mem_spool_delete(al_state *s, int64_t id)
{
    (void)s;
    (void)id;
    return ALERT_OK;
}

static int mem_spool_load(al_state *s, al_state_row_cb cb, void *ud)
{
    (void)s;
    (void)cb;
    (void)ud;
    return ALERT_OK;
}

static const al_state_ops mem_ops = {
    .name = "memory",
    .durable = 0,
    .close = mem_close,
    .last_error = mem_last_error,
    .begin = mem_nothing,
    .commit = mem_nothing,
    .mark_put = mem_mark_put,
    .mark_get = mem_mark_get,
    .mark_purge = mem_mark_purge,
    .schedule_put = mem_schedule_put,
    .schedule_get = mem_schedule_get,
    .counter_add = mem_counter_add,
    .counter_get = mem_counter_get,
    .counters_load = mem_counters_load,
    .counters_prune = mem_counters_prune,
    .spool_put = mem_spool_put,
    .spool_update = mem_spool_update,
    .spool_delete = mem_spool_delete,
    .spool_load = mem_spool_load,
};

int al_state_open_mem(al_state **out)
{
    if (!out)
        return ALERT_ERR_INVALID;
    mem_state *m = al_calloc(1, sizeof *m);
    if (!(*out = (al_state *)m))
        return ALERT_ERR_NOMEM;
    al_state_init(&m->base, &mem_ops);
    return ALERT_OK;
}
