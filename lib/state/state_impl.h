/* SPDX-License-Identifier: MIT */
/* What a state backend implements (lib/state/ only). state.c holds what every local
 * backend shares: claims built on get and put, batch ids, event windows, and a small
 * string map the memory backend keeps its tables in. */
#ifndef AL_STATE_IMPL_H
#define AL_STATE_IMPL_H

#include "state/state.h"

typedef struct al_state_ops {
    const char *name;
    int durable;
    void (*close)(al_state *s);
    const char *(*last_error)(const al_state *s);
    int (*begin)(al_state *s);
    int (*commit)(al_state *s);
    int (*mark_put)(al_state *s, const char *key, const char *value, int64_t expires_ms);
    int (*mark_get)(al_state *s, const char *key, char **value_out, int64_t now_ms);
    int (*mark_purge)(al_state *s, int64_t now_ms);
    int (*schedule_put)(al_state *s, const char *name, int64_t last);
    int (*schedule_get)(al_state *s, const char *name, int64_t *last);
    int (*counter_add)(al_state *s, int32_t day, int32_t dim, const char *name, double amount);
    int (*counter_get)(al_state *s, int32_t day, int32_t dim, const char *name, double *total);
    int (*counters_load)(al_state *s, int32_t from_day, al_state_cell_cb cb, void *ud);
    int (*counters_prune)(al_state *s, int32_t before_day);
    int (*spool_put)(al_state *s, const al_spool_row *row, int64_t *id_out);
    int (*spool_update)(al_state *s, int64_t id, int32_t attempt, int64_t next_at_ms);
    int (*spool_delete)(al_state *s, int64_t id);
    int (*spool_load)(al_state *s, al_state_row_cb cb, void *ud);
    int64_t (*spool_take_lost)(al_state *s);
    /* fleet mode only (NULL for the local backends) */
    int (*fleet_claim)(al_state *s, const char *fleet_key, int64_t now_ms, al_claim *out);
    int (*fleet_settle)(al_state *s, const char *fleet_key, int sent);
    /* end: 0 at the start of a worker pass, 1 at its end */
    void (*round)(al_state *s, int64_t now_ms, int end);
    int64_t (*round_wait)(al_state *s, int64_t now_ms);
    void (*stats)(al_state *s, al_fleet_stats *out);
    size_t (*pending)(al_state *s);
} al_state_ops;

/* A string-keyed map with chained buckets; values are the caller's. */
typedef struct al_smap_entry {
    struct al_smap_entry *next;
    uint64_t hash;
    void *value;
    char key[];
} al_smap_entry;

typedef struct al_smap {
    al_smap_entry **buckets;
    size_t n_buckets, count;
} al_smap;

/* The entry of key, created (value NULL) when create != 0; NULL when absent or out of
 * memory. */
al_smap_entry *al_smap_find(al_smap *m, const char *key, int create);
/* Removes key; its value goes to *value_out (may be NULL) for the caller to free. */
void al_smap_remove(al_smap *m, const char *key, void **value_out);
/* Frees the map; free_value (may be NULL) is called for each value. */
void al_smap_free(al_smap *m, void (*free_value)(void *));

/* Every backend's struct starts with this. */
struct al_state {
    const al_state_ops *ops;
    int durable;                /* ops->durable, unless the backend says otherwise */
    uint64_t last_batch;        /* the highest counter batch applied */
    al_smap windows;            /* key -> al_window */
};

void al_state_init(al_state *s, const al_state_ops *ops);
/* Frees what state.c keeps (windows); the backend frees the rest. */
void al_state_fini(al_state *s);

/* Fleet deliveries (redis_outbox.c): state.c calls these for a fleet backend only. */
int al_redis_rate_take(al_state *s, const char *bucket, double per_ms, double burst, int want,
                       int64_t now_wall, al_rate_grant *out);
int al_redis_rate_block(al_state *s, const char *bucket, int64_t until_wall);
int al_redis_mirror_put(al_state *s, const al_spool_row *row, int fresh);
int al_redis_mirror_delete(al_state *s, const char *idem);
int al_redis_adopt_take(al_state *s, int64_t now_wall, al_state_row_cb adopt,
                        al_state_idem_cb drop, void *ud);
void al_redis_fleet_leave(al_state *s);
uint64_t al_redis_fleet_adopted(al_state *s);

#endif
