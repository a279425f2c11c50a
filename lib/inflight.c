/* SPDX-License-Identifier: MIT */
/* In-flight request slots and the per-stripe start rings (inflight.h): what the
 * request hooks touch on the host's threads. */
#include "inflight.h"

#include <pthread.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"

#define NIL UINT32_MAX
#define VAR_CLASSES 4
static const size_t var_class_size[VAR_CLASSES] = { 128, 256, 512, 4096 };
#define BLOCKS_PER_GROW 32

/* A start ring entry: reserved under the stripe's lock when the slot is taken, written
 * and made ready (tag gen << 32 | idx, gen != 0) by al_inflight_publish without the
 * lock; the worker sets tag back to 0 when it has read the entry. A request that
 * ends before the worker came to its start marks the entry ENTRY_ENDED: the worker
 * skips it without reading the slot, a line the hooks keep writing. */
typedef struct ring_entry {
    _Atomic uint64_t tag;           /* 0: not ready (reserved, or read already) */
    int64_t start_ms;
} ring_entry;
#define ENTRY_ENDED 1u              /* gen 0: no start's tag */

/* What al_inflight_alloc reserved, kept in the slot's next_free (unused while the slot
 * is taken) until the slot is released: the entry's index in the stripes' rings (one
 * array, so that any stripe finds it), or NOT_QUEUED. */
#define NOT_QUEUED NIL
#define QUEUED_PRESSURE (1u << 31)  /* this start took the ring past 3/4: wake the worker */
#define RING_MAX (1u << 24)         /* entries per stripe's ring at most */
#define RING_GAP 8                  /* entries (128 bytes) between two stripes' rings */
_Static_assert((uint64_t)AL_STRIPES * (RING_MAX + RING_GAP) < QUEUED_PRESSURE,
               "an entry's index leaves QUEUED_PRESSURE free");

/* Data that two cores write stays a cache-line pair apart: the prefetchers move
 * lines in aligned pairs, so 64 bytes of distance still share one. */
#define LINE_PAIR 128

typedef struct stripe {
    /* the producers' (the stripe's threads, under its lock): only they write here */
    _Alignas(LINE_PAIR) atomic_flag lock;
    uint32_t free_head;
    char *free_blocks[VAR_CLASSES];
    /* written under the stripe's lock, read by alert_stats_get without it */
    _Atomic uint64_t started;
    _Atomic uint64_t ended;
    /* start ring: producers reserve under the lock, the worker consumes without it */
    ring_entry *ring;
    uint32_t ring_mask;
    uint32_t ring_base;             /* ring - rings: where the ring starts in the array */
    _Atomic uint32_t ring_tail;     /* next to reserve (producers, under lock) */
    _Atomic uint64_t ring_dropped;
    int pressure_signalled;         /* under lock */
    /* the worker's: written when a drain took entries, read by the producers */
    _Alignas(LINE_PAIR) _Atomic uint32_t ring_head;     /* next to read (worker) */
} stripe;
_Static_assert(offsetof(stripe, ring_head) == LINE_PAIR, "the producers' part fits one line pair");

struct al_inflight {
    stripe stripes[AL_STRIPES];     /* first: the allocation is aligned for them */
    ring_entry *rings;              /* the stripes' rings, one after the other */
    al_slot *_Atomic *chunks;       /* chunk pointers, published with release */
    uint32_t max_chunks;
    uint64_t max_slots;
    pthread_mutex_t grow_lock;
    uint32_t n_chunks;              /* under grow_lock */
    void **blocks_owned;            /* every block group allocated, freed at the end */
    size_t n_blocks_owned, cap_blocks_owned;
    void *mem;                      /* what al_calloc returned (the table is aligned in it) */
};

static _Atomic unsigned next_stripe;
_Thread_local unsigned al_inflight_tls_stripe = UINT32_MAX;

static inline void stripe_lock(stripe *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        __builtin_ia32_pause();
}

static inline void stripe_unlock(stripe *s)
{
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

unsigned al_inflight_stripe_assign(void)
{
    if (al_inflight_tls_stripe == UINT32_MAX)
        al_inflight_tls_stripe = atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) % AL_STRIPES;
    return al_inflight_tls_stripe;
}

size_t al_inflight_var_class_size(int cls)
{
    return var_class_size[cls];
}

int al_inflight_var_class(size_t bytes)
{
    for (int c = 0; c < VAR_CLASSES; c++)
        if (bytes <= var_class_size[c])
            return c;
    return -1;
}

al_inflight *al_inflight_new(uint64_t max_slots, uint64_t ring_size)
{
    void *mem = al_calloc(1, sizeof(al_inflight) + LINE_PAIR - 1);
    if (!mem)
        return NULL;
    al_inflight *t = (al_inflight *)(((uintptr_t)mem + LINE_PAIR - 1) & ~(uintptr_t)(LINE_PAIR - 1));
    t->mem = mem;
    t->max_slots = max_slots;
    t->max_chunks = (uint32_t)((max_slots + AL_CHUNK_SLOTS - 1) / AL_CHUNK_SLOTS);
    t->chunks = al_calloc(t->max_chunks ? t->max_chunks : 1, sizeof *t->chunks);
    if (!t->chunks) {
        al_free(mem);
        return NULL;
    }
    pthread_mutex_init(&t->grow_lock, NULL);
    uint32_t per = 64;
    while ((uint64_t)per * AL_STRIPES < ring_size && per < RING_MAX)
        per <<= 1;
    t->rings = al_calloc((size_t)AL_STRIPES * (per + RING_GAP), sizeof *t->rings);
    if (!t->rings) {
        al_inflight_free(t);
        return NULL;
    }
    for (int i = 0; i < AL_STRIPES; i++) {
        stripe *s = &t->stripes[i];
        atomic_flag_clear(&s->lock);
        s->free_head = NIL;
        s->ring_base = (uint32_t)i * (per + RING_GAP);
        s->ring = t->rings + s->ring_base;
        s->ring_mask = per - 1;
    }
    return t;
}

void al_inflight_free(al_inflight *t)
{
    if (!t)
        return;
    for (uint32_t c = 0; c < t->max_chunks; c++) {
        al_slot *chunk = atomic_load_explicit(&t->chunks[c], memory_order_relaxed);
        if (chunk)
            al_free(((void **)(void *)chunk)[-1]);      /* chunk_new keeps it there */
    }
    for (size_t i = 0; i < t->n_blocks_owned; i++)
        al_free(t->blocks_owned[i]);
    al_free(t->rings);
    al_free(t->blocks_owned);
    al_free(t->chunks);
    pthread_mutex_destroy(&t->grow_lock);
    al_free(t->mem);
}

static inline al_slot *slot_at(al_inflight *t, uint32_t idx)
{
    uint32_t c = idx >> AL_CHUNK_SHIFT;
    if (c >= t->max_chunks)
        return NULL;
    al_slot *chunk = atomic_load_explicit(&t->chunks[c], memory_order_acquire);
    return chunk ? &chunk[idx & (AL_CHUNK_SLOTS - 1)] : NULL;
}

/* A slot whose index the caller holds (taken, claimed): its chunk exists. */
static inline al_slot *slot_held(al_inflight *t, uint32_t idx)
{
    al_slot *chunk = atomic_load_explicit(&t->chunks[idx >> AL_CHUNK_SHIFT], memory_order_acquire);
    return &chunk[idx & (AL_CHUNK_SLOTS - 1)];
}

al_slot *al_inflight_slot(al_inflight *t, uint32_t idx)
{
    return slot_at(t, idx);
}

static int own_block(al_inflight *t, void *p)
{
    if (t->n_blocks_owned == t->cap_blocks_owned) {
        size_t cap = t->cap_blocks_owned ? t->cap_blocks_owned * 2 : 64;
        void **n = al_realloc(t->blocks_owned, cap * sizeof *n);
        if (!n)
            return -1;
        t->blocks_owned = n;
        t->cap_blocks_owned = cap;
    }
    t->blocks_owned[t->n_blocks_owned++] = p;
    return 0;
}

/* A chunk of zeroed slots, aligned to a line pair: a slot (128 bytes) is one pair, so
 * two slots never share a line, whichever threads use them (a request may end on
 * another thread than the one that started it, and its slot joins that thread's
 * stripe). What al_calloc returned is kept just before the chunk. */
static al_slot *chunk_new(void)
{
    char *mem = al_calloc(1, AL_CHUNK_SLOTS * sizeof(al_slot) + LINE_PAIR);
    if (!mem)
        return NULL;
    al_slot *chunk = (al_slot *)(void *)(((uintptr_t)mem + LINE_PAIR) & ~(uintptr_t)(LINE_PAIR - 1));
    ((void **)(void *)chunk)[-1] = mem;     /* al_calloc aligns to 16: 16 bytes at least */
    return chunk;
}
_Static_assert(sizeof(al_slot) == LINE_PAIR, "a slot is one line pair");

/* Adds one chunk of slots to stripe s's free list (s is locked by the caller). */
static int grow_slots(al_inflight *t, stripe *s)
{
    pthread_mutex_lock(&t->grow_lock);
    if (t->n_chunks >= t->max_chunks) {
        pthread_mutex_unlock(&t->grow_lock);
        return ALERT_ERR_FULL;
    }
    uint32_t c = t->n_chunks;
    al_slot *chunk = chunk_new();
    if (!chunk) {
        pthread_mutex_unlock(&t->grow_lock);
        return ALERT_ERR_NOMEM;
    }
    uint32_t base = c << AL_CHUNK_SHIFT;
    uint32_t n = AL_CHUNK_SLOTS;
    if ((uint64_t)base + n > t->max_slots)
        n = (uint32_t)(t->max_slots - base);
    for (uint32_t i = 0; i < n; i++)
        chunk[i].next_free = (i + 1 < n) ? base + i + 1 : s->free_head;
    atomic_store_explicit(&t->chunks[c], chunk, memory_order_release);
    t->n_chunks++;
    pthread_mutex_unlock(&t->grow_lock);
    s->free_head = base;
    return ALERT_OK;
}

static int grow_blocks(al_inflight *t, stripe *s, int cls)
{
    size_t sz = var_class_size[cls];
    pthread_mutex_lock(&t->grow_lock);
    /* blocks start on a line pair, as slots do (chunk_new): they follow requests
     * from stripe to stripe too */
    char *mem = al_malloc(sz * BLOCKS_PER_GROW + LINE_PAIR - 1);
    if (!mem || own_block(t, mem) < 0) {
        pthread_mutex_unlock(&t->grow_lock);
        al_free(mem);
        return ALERT_ERR_NOMEM;
    }
    pthread_mutex_unlock(&t->grow_lock);
    char *group = (char *)(((uintptr_t)mem + LINE_PAIR - 1) & ~(uintptr_t)(LINE_PAIR - 1));
    for (int i = 0; i < BLOCKS_PER_GROW; i++) {
        char *b = group + (size_t)i * sz;
        memcpy(b, &s->free_blocks[cls], sizeof(char *));
        s->free_blocks[cls] = b;
    }
    return ALERT_OK;
}

/* Under the stripe's lock: the start ring's next entry for this start, or NOT_QUEUED
 * when the ring is full (counted); QUEUED_PRESSURE once per fill past 3/4. */
static inline uint32_t reserve_start(stripe *s)
{
    uint32_t tail = atomic_load_explicit(&s->ring_tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&s->ring_head, memory_order_acquire);
    if (tail - head > s->ring_mask) {
        atomic_store_explicit(&s->ring_dropped,
                              atomic_load_explicit(&s->ring_dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        s->pressure_signalled = 1;
        return NOT_QUEUED;
    }
    atomic_store_explicit(&s->ring_tail, tail + 1, memory_order_relaxed);
    uint32_t pos = (tail & s->ring_mask) + s->ring_base;
    /* pressure: signalled once when the ring passes 3/4, re-armed below it */
    if (tail + 1 - head > s->ring_mask / 4 * 3) {
        if (!s->pressure_signalled) {
            s->pressure_signalled = 1;
            pos |= QUEUED_PRESSURE;
        }
    } else {
        s->pressure_signalled = 0;
    }
    return pos;
}

al_slot *al_inflight_take(al_inflight *t, unsigned si, size_t var_bytes, uint32_t *idx, uint32_t *gen,
                          int *rc)
{
    stripe *s = &t->stripes[si];
    int cls = -1;
    if (var_bytes) {
        cls = al_inflight_var_class(var_bytes);
        if (cls < 0) {
            *rc = ALERT_ERR_INVALID;
            return NULL;
        }
    }
    stripe_lock(s);
    if (__builtin_expect(s->free_head == NIL, 0)) {
        int r = grow_slots(t, s);
        if (r != ALERT_OK) {
            stripe_unlock(s);
            *rc = r;
            return NULL;
        }
    }
    char *block = NULL;
    if (cls >= 0) {
        if (__builtin_expect(!s->free_blocks[cls], 0) && grow_blocks(t, s, cls) != ALERT_OK) {
            stripe_unlock(s);
            *rc = ALERT_ERR_NOMEM;
            return NULL;
        }
        block = s->free_blocks[cls];
        memcpy(&s->free_blocks[cls], block, sizeof(char *));
    }
    uint32_t i = s->free_head;
    al_slot *slot = slot_held(t, i);
    s->free_head = slot->next_free;
    /* one writer (under the lock): no read-modify-write needed */
    atomic_store_explicit(&s->started, atomic_load_explicit(&s->started, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    uint32_t queued = reserve_start(s);
    stripe_unlock(s);

    /* the slot stays FREE (of the old generation: FREE is FREE) until published */
    uint64_t w = atomic_load_explicit(&slot->word, memory_order_relaxed);
    uint32_t g = (uint32_t)(w >> 32) + 1;
    if (g == 0)
        g = 1;
    slot->var = block;
    slot->var_class = (uint8_t)(cls >= 0 ? cls : 0);
    slot->next_free = queued;
    *idx = i;
    *gen = g;
    *rc = ALERT_OK;
    return slot;
}

int al_inflight_alloc(al_inflight *t, unsigned si, size_t var_bytes, uint32_t *idx,
                      uint32_t *gen)
{
    int rc;
    al_inflight_take(t, si, var_bytes, idx, gen, &rc);
    return rc;
}

int al_inflight_publish(al_inflight *t, unsigned si, uint32_t idx, uint32_t gen)
{
    return al_inflight_publish_at(t, si, slot_held(t, idx), idx, gen);
}

int al_inflight_publish_at(al_inflight *t, unsigned si, al_slot *slot, uint32_t idx, uint32_t gen)
{
    atomic_store_explicit(&slot->word, (uint64_t)gen << 32 | AL_SLOT_ACTIVE, memory_order_release);
    uint32_t queued = slot->next_free;
    if (queued == NOT_QUEUED)
        return -1;
    ring_entry *e = &t->rings[queued & ~QUEUED_PRESSURE];
    e->start_ms = slot->start_ms;
    atomic_store_explicit(&e->tag, (uint64_t)gen << 32 | idx, memory_order_release);
    return (queued & QUEUED_PRESSURE) ? 1 : 0;
}

al_slot *al_inflight_claim(al_inflight *t, uint64_t id, uint32_t *idx_out)
{
    uint32_t lo = (uint32_t)id;
    uint32_t gen = (uint32_t)(id >> 32);
    if (lo == 0 || gen == 0)
        return NULL;
    uint32_t idx = lo - 1;
    al_slot *slot = slot_at(t, idx);
    if (!slot)
        return NULL;
    uint64_t want = (uint64_t)gen << 32 | AL_SLOT_ACTIVE;
    uint64_t done = (uint64_t)gen << 32 | AL_SLOT_DONE;
    for (;;) {
        uint64_t cur = want;
        if (atomic_compare_exchange_weak_explicit(&slot->word, &cur, done, memory_order_acquire,
                                                  memory_order_relaxed))
            break;
        if (cur == ((uint64_t)gen << 32 | AL_SLOT_READING)) {
            __builtin_ia32_pause();     /* the worker is copying it: a few hundred ns */
            continue;
        }
        if (cur != want)
            return NULL;
    }
    *idx_out = idx;
    return slot;
}

void al_inflight_release(al_inflight *t, unsigned si, uint32_t idx)
{
    al_inflight_release_at(t, si, slot_held(t, idx), idx);
}

void al_inflight_release_at(al_inflight *t, unsigned si, al_slot *slot, uint32_t idx)
{
    stripe *s = &t->stripes[si];
    uint64_t gen = atomic_load_explicit(&slot->word, memory_order_relaxed) & ~0xffffffffull;
    uint32_t queued = slot->next_free;
    if (queued != NOT_QUEUED) {
        /* the worker has not read the start yet (nearly always: it drains by the
         * thousand): it skips the entry. The tag, not a bare compare: the worker may
         * have read it, and another start taken the position, since. */
        ring_entry *e = &t->rings[queued & ~QUEUED_PRESSURE];
        uint64_t tag = gen | idx;
        atomic_compare_exchange_strong_explicit(&e->tag, &tag, ENTRY_ENDED, memory_order_relaxed,
                                                memory_order_relaxed);
    }
    atomic_store_explicit(&slot->word, gen | AL_SLOT_FREE, memory_order_release);
    atomic_store_explicit(&slot->first_token_ms, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->hang_alerted, 0, memory_order_relaxed);
    char *block = slot->var;      /* al_inflight_take sets it again */
    stripe_lock(s);
    if (block) {
        char **free_blocks = &s->free_blocks[slot->var_class];
        memcpy(block, free_blocks, sizeof(char *));
        *free_blocks = block;
    }
    slot->next_free = s->free_head;
    s->free_head = idx;
    atomic_store_explicit(&s->ended, atomic_load_explicit(&s->ended, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    stripe_unlock(s);
}

size_t al_inflight_drain(al_inflight *t, al_start_ev *out, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < AL_STRIPES && n < max; i++) {
        stripe *s = &t->stripes[i];
        uint32_t head = atomic_load_explicit(&s->ring_head, memory_order_relaxed);
        uint32_t tail = atomic_load_explicit(&s->ring_tail, memory_order_acquire);
        while (head != tail && n < max) {
            ring_entry *e = &s->ring[head & s->ring_mask];
            uint64_t tag = atomic_load_explicit(&e->tag, memory_order_acquire);
            if (!tag)
                break;      /* reserved, not yet published: the next drain takes it */
            if (tag != ENTRY_ENDED) {
                out[n].idx = (uint32_t)tag;
                out[n].gen = (uint32_t)(tag >> 32);
                out[n].start_ms = e->start_ms;
                n++;
            }
            atomic_store_explicit(&e->tag, 0, memory_order_relaxed);
            head++;
        }
        atomic_store_explicit(&s->ring_head, head, memory_order_release);
    }
    return n;
}

int al_inflight_pin(al_inflight *t, uint32_t idx, uint32_t gen)
{
    al_slot *slot = slot_at(t, idx);
    if (!slot)
        return -1;
    uint64_t cur = (uint64_t)gen << 32 | AL_SLOT_ACTIVE;
    return atomic_compare_exchange_strong_explicit(&slot->word, &cur,
                                                   (uint64_t)gen << 32 | AL_SLOT_READING,
                                                   memory_order_acquire, memory_order_relaxed)
               ? 0 : -1;
}

void al_inflight_unpin(al_inflight *t, uint32_t idx, uint32_t gen)
{
    al_slot *slot = slot_at(t, idx);
    atomic_store_explicit(&slot->word, (uint64_t)gen << 32 | AL_SLOT_ACTIVE, memory_order_release);
}

const char *al_slot_var(const al_slot *s, int which, size_t *len)
{
    if (!s->var || (s->var_len[which] == 0 && s->var_off[which] == 0)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = s->var_len[which];
    return s->var + s->var_off[which];
}

static uint64_t sum_field(const al_inflight *t, size_t off)
{
    uint64_t n = 0;
    for (int i = 0; i < AL_STRIPES; i++)
        n += atomic_load_explicit((_Atomic uint64_t *)((char *)&t->stripes[i] + off),
                                  memory_order_relaxed);
    return n;
}

uint64_t al_inflight_started(const al_inflight *t)
{
    return sum_field(t, offsetof(stripe, started));
}

uint64_t al_inflight_active(const al_inflight *t)
{
    uint64_t s = sum_field(t, offsetof(stripe, started));
    uint64_t e = sum_field(t, offsetof(stripe, ended));
    return s > e ? s - e : 0;
}

void al_inflight_stripe_layout(const al_inflight *t, unsigned si, const void **producers,
                               size_t *producers_len, const void **worker, size_t *worker_len)
{
    const stripe *s = &t->stripes[si];
    *producers = s;
    *producers_len = offsetof(stripe, pressure_signalled) + sizeof s->pressure_signalled;
    *worker = &s->ring_head;
    *worker_len = sizeof s->ring_head;
}

uint64_t al_inflight_dropped_events(const al_inflight *t)
{
    return sum_field(t, offsetof(stripe, ring_dropped));
}
