/* SPDX-License-Identifier: MIT */
/* The hashed timer wheel of hanging detection (wheel.h). */
#include "wheel.h"

#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "inflight.h"

#define NIL UINT32_MAX

typedef struct wnode {
    uint32_t next, prev;
    uint32_t bucket;        /* NIL: not linked */
    uint32_t gen;
    int64_t due_ms;
} wnode;

struct al_wheel {
    int64_t tick_ms;
    uint32_t mask;
    uint32_t *heads;
    wnode **chunks;
    uint32_t max_chunks;
    int64_t done_tick;      /* every bucket up to this tick has been emptied of due entries */
    int started;
    int64_t first_tick;     /* before the first advance: the earliest tick of an entry */
    size_t count;
};

al_wheel *al_wheel_new(int64_t tick_ms, uint32_t n_buckets, uint32_t max_chunks)
{
    al_wheel *w = al_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->tick_ms = tick_ms > 0 ? tick_ms : 1;
    w->mask = n_buckets - 1;
    w->heads = al_malloc(n_buckets * sizeof *w->heads);
    w->chunks = al_calloc(max_chunks ? max_chunks : 1, sizeof *w->chunks);
    if (!w->heads || !w->chunks) {
        al_wheel_free(w);
        return NULL;
    }
    memset(w->heads, 0xff, n_buckets * sizeof *w->heads);
    w->first_tick = INT64_MAX;
    w->max_chunks = max_chunks;
    return w;
}

void al_wheel_free(al_wheel *w)
{
    if (!w)
        return;
    if (w->chunks)
        for (uint32_t i = 0; i < w->max_chunks; i++)
            al_free(w->chunks[i]);
    al_free(w->chunks);
    al_free(w->heads);
    al_free(w);
}

static wnode *node_of(al_wheel *w, uint32_t idx, int create)
{
    uint32_t c = idx >> AL_CHUNK_SHIFT;
    if (c >= w->max_chunks)
        return NULL;
    if (!w->chunks[c]) {
        if (!create)
            return NULL;
        wnode *chunk = al_malloc(AL_CHUNK_SLOTS * sizeof *chunk);
        if (!chunk)
            return NULL;
        for (uint32_t i = 0; i < AL_CHUNK_SLOTS; i++)
            chunk[i].bucket = NIL;
        w->chunks[c] = chunk;
    }
    return &w->chunks[c][idx & (AL_CHUNK_SLOTS - 1)];
}

static void unlink_node(al_wheel *w, uint32_t idx, wnode *n)
{
    if (n->prev != NIL)
        node_of(w, n->prev, 0)->next = n->next;
    else
        w->heads[n->bucket] = n->next;
    if (n->next != NIL)
        node_of(w, n->next, 0)->prev = n->prev;
    n->bucket = NIL;
    w->count--;
    (void)idx;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int al_wheel_add(al_wheel *w, uint32_t idx, uint32_t gen, int64_t due_ms)
{
    wnode *n = node_of(w, idx, 1);
    if (!n)
        return ALERT_ERR_NOMEM;
    if (n->bucket != NIL)
        unlink_node(w, idx, n);
    int64_t tick = floor_div(due_ms, w->tick_ms);
    if (w->started && tick <= w->done_tick)
        tick = w->done_tick + 1;    /* already late: the next poll fires it */
    else if (!w->started && tick < w->first_tick)
        w->first_tick = tick;       /* the first advance starts there, not at its own tick */
    uint32_t b = (uint32_t)((uint64_t)tick & w->mask);
    n->gen = gen;
    n->due_ms = due_ms;
    n->bucket = b;
    n->prev = NIL;
    n->next = w->heads[b];
    if (n->next != NIL)
        node_of(w, n->next, 0)->prev = idx;
    w->heads[b] = idx;
    w->count++;
    return ALERT_OK;
}

static size_t fire_bucket(al_wheel *w, uint32_t b, int64_t now_ms, al_wheel_fire_fn fn, void *ud)
{
    size_t fired = 0;
    uint32_t i = w->heads[b];
    while (i != NIL) {
        wnode *n = node_of(w, i, 0);
        uint32_t next = n->next;
        if (n->due_ms <= now_ms) {
            uint32_t gen = n->gen;
            int64_t due = n->due_ms;
            unlink_node(w, i, n);
            fn(ud, i, gen, due);
            fired++;
        }
        i = next;
    }
    return fired;
}

size_t al_wheel_advance(al_wheel *w, int64_t now_ms, al_wheel_fire_fn fn, void *ud)
{
    int64_t now_tick = floor_div(now_ms, w->tick_ms);
    if (!w->started) {
        /* Entries added before the first advance may be due already (a request that
         * started before the host's first alert_poll): their buckets are visited too. */
        w->started = 1;
        w->done_tick = now_tick - 1;
        if (w->first_tick <= w->done_tick)
            w->done_tick = w->first_tick - 1;
    }
    size_t fired = 0;
    /* Whole ticks that passed: every due entry there fires. After one full turn the
     * remaining buckets were already visited, so a long pause costs one turn. */
    int64_t from = w->done_tick + 1;
    if (now_tick - from > (int64_t)w->mask)
        from = now_tick - (int64_t)w->mask;
    for (int64_t t = from; t <= now_tick; t++)
        fired += fire_bucket(w, (uint32_t)((uint64_t)t & w->mask), now_ms, fn, ud);
    /* The current tick is only partly over: it is looked at again next time. */
    w->done_tick = now_tick - 1;
    return fired;
}

al_wheel *al_wheel_rebuild(const al_wheel *w, int64_t tick_ms, int64_t shift_ms)
{
    al_wheel *n = al_wheel_new(tick_ms, w->mask + 1, w->max_chunks);
    if (!n)
        return NULL;
    if (w->started) {   /* what was done stays done: no entry fires twice, none is skipped */
        n->started = 1;
        n->done_tick = floor_div((w->done_tick + 1) * w->tick_ms, n->tick_ms) - 1;
    }
    for (uint32_t c = 0; c < w->max_chunks; c++) {
        if (!w->chunks[c])
            continue;
        for (uint32_t i = 0; i < AL_CHUNK_SLOTS; i++) {
            const wnode *e = &w->chunks[c][i];
            if (e->bucket == NIL)
                continue;
            int64_t due = shift_ms > 0 && e->due_ms > INT64_MAX - shift_ms ? INT64_MAX
                        : shift_ms < 0 && e->due_ms < INT64_MIN - shift_ms ? INT64_MIN
                        : e->due_ms + shift_ms;
            if (al_wheel_add(n, c << AL_CHUNK_SHIFT | i, e->gen, due) != ALERT_OK) {
                al_wheel_free(n);
                return NULL;
            }
        }
    }
    return n;
}

size_t al_wheel_count(const al_wheel *w)
{
    return w->count;
}

int64_t al_wheel_tick(const al_wheel *w)
{
    return w->tick_ms;
}

size_t al_wheel_bytes_per_entry(void)
{
    return sizeof(wnode);
}
