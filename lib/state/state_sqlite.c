/* SPDX-License-Identifier: MIT */
/* The SQLite backend (state_path): one process, durable, over store.c. Marks,
 * schedules, the ledger and the spool are tables of the store; event windows stay in
 * memory (state.c), as outage windows never outlived a process. */
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "ledger.h"
#include "state/state_impl.h"
#include "store.h"

/* The counters' dimensions are the ledger's, stored by number. */
_Static_assert((int)AL_LDIM_TEAM == (int)AL_LEDGER_TEAM && (int)AL_LDIM_TAG == (int)AL_LEDGER_TAG &&
               (int)AL_LDIM_USER == (int)AL_LEDGER_USER && (int)AL_LDIM_KEY == (int)AL_LEDGER_KEY &&
               (int)AL_LDIM_CUSTOMER == (int)AL_LEDGER_CUSTOMER &&
               (int)AL_LDIM__COUNT == (int)AL_LEDGER_CUSTOMER + 1,
               "the ledger's dimensions and the store's must agree");

typedef struct sql_state {
    al_state base;
    al_store *store;
} sql_state;

static al_store *st(const al_state *s)
{
    return ((const sql_state *)s)->store;
}

static void sql_close(al_state *s)
{
    al_store_close(st(s));
    al_state_fini(s);
    al_free(s);
}

static const char *sql_last_error(const al_state *s)
{
    return al_store_last_error(st(s));
}

static int sql_begin(al_state *s)
{
    return al_store_begin(st(s));
}

static int sql_commit(al_state *s)
{
    return al_store_commit(st(s));
}

static int sql_mark_put(al_state *s, const char *key, const char *value, int64_t expires_ms)
{
    if (!value)
        return al_store_mark_delete(st(s), key);
    return al_store_mark_put(st(s), key, value, expires_ms);
}

static int sql_mark_get(al_state *s, const char *key, char **value_out, int64_t now_ms)
{
    return al_store_mark_get(st(s), key, value_out, now_ms);
}

static int sql_mark_purge(al_state *s, int64_t now_ms)
{
    return al_store_mark_purge(st(s), now_ms);
}

static int sql_schedule_put(al_state *s, const char *name, int64_t last)
{
    return al_store_schedule_put(st(s), name, last);
}

static int sql_schedule_get(al_state *s, const char *name, int64_t *last)
{
    return al_store_schedule_get(st(s), name, last);
}

static int sql_counter_add(al_state *s, int32_t day, int32_t dim, const char *name, double amount)
{
    return al_store_ledger_add(st(s), day, dim, name, amount);
}

typedef struct one_cell {
    int32_t day, dim;
    const char *name;
    double total;
} one_cell;

static int pick_cell(void *ud, int32_t day, int32_t dim, const char *name, double amount)
{
    one_cell *c = ud;
    if (day > c->day)
        return 1;                   /* ordered by day: nothing further matches */
    if (day == c->day && dim == c->dim && strcmp(name, c->name) == 0)
        c->total += amount;
    return 0;
}

static int sql_counter_get(al_state *s, int32_t day, int32_t dim, const char *name, double *total)
{
    one_cell c = { day, dim, name, 0 };
    int rc = al_store_ledger_load(st(s), day, pick_cell, &c);
    *total = c.total;
    return rc == 1 ? ALERT_OK : rc;
}

static int sql_counters_load(al_state *s, int32_t from_day, al_state_cell_cb cb, void *ud)
{
    return al_store_ledger_load(st(s), from_day, cb, ud);
}

static int sql_counters_prune(al_state *s, int32_t before_day)
{
    return al_store_ledger_prune(st(s), before_day);
}

static int sql_spool_put(al_state *s, const al_spool_row *row, int64_t *id_out)
{
    return al_store_spool_put(st(s), row, id_out);
}

static int sql_spool_update(al_state *s, int64_t id, int32_t attempt, int64_t next_at_ms)
{
    return al_store_spool_update(st(s), id, attempt, next_at_ms);
}

static int sql_spool_delete(al_state *s, int64_t id)
{
    return al_store_spool_delete(st(s), id);
}

static int sql_spool_load(al_state *s, al_state_row_cb cb, void *ud)
{
    return al_store_spool_load(st(s), cb, ud);
}

static int64_t sql_spool_take_lost(al_state *s)
{
    return al_store_spool_take_lost(st(s));
}

static const al_state_ops sql_ops = {
    .name = "sqlite",
    .durable = 1,
    .close = sql_close,
    .last_error = sql_last_error,
    .begin = sql_begin,
    .commit = sql_commit,
    .mark_put = sql_mark_put,
    .mark_get = sql_mark_get,
    .mark_purge = sql_mark_purge,
    .schedule_put = sql_schedule_put,
    .schedule_get = sql_schedule_get,
    .counter_add = sql_counter_add,
    .counter_get = sql_counter_get,
    .counters_load = sql_counters_load,
    .counters_prune = sql_counters_prune,
    .spool_put = sql_spool_put,
    .spool_update = sql_spool_update,
    .spool_delete = sql_spool_delete,
    .spool_load = sql_spool_load,
    .spool_take_lost = sql_spool_take_lost,
};

int al_state_open_sqlite(al_state **out, const char *path, char *err, size_t err_size)
{
    if (!out || !path)
        return ALERT_ERR_INVALID;
    *out = NULL;
    sql_state *q = al_calloc(1, sizeof *q);
    if (!q)
        return ALERT_ERR_NOMEM;
    al_state_init(&q->base, &sql_ops);
    int rc = al_store_open(&q->store, path, err, err_size);
    if (rc != ALERT_OK) {
        /* the store's message goes into err when the store could say one */
        if (q->store && err && err_size)
            snprintf(err, err_size, "%s", al_store_last_error(q->store));
        al_store_close(q->store);
        al_state_fini(&q->base);
        al_free(q);
        return rc;
    }
    *out = &q->base;
    return ALERT_OK;
}
