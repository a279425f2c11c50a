/* SPDX-License-Identifier: MIT */
/* Slots for in-flight requests and the per-stripe start rings.
 *
 * A request is a slot (fixed, 128 bytes) plus, when it has high-cardinality
 * strings, one pooled block for them. Slots live in chunks that are allocated
 * once and reused; a handle is (generation << 32) | (index + 1). Each host
 * thread is bound to a stripe, which has its own lock, free lists and start
 * ring, so threads do not share cache lines in steady state.
 *
 * A slot's state and generation share one atomic word, so ending a request
 * is one compare-and-swap that also proves the handle is current. The worker
 * pins an active slot (READING) only to copy it for a hanging alert. */
#ifndef AL_INFLIGHT_H
#define AL_INFLIGHT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define AL_STRIPES 16
#define AL_CHUNK_SHIFT 12
#define AL_CHUNK_SLOTS (1u << AL_CHUNK_SHIFT)

enum { AL_SLOT_FREE = 0, AL_SLOT_ACTIVE = 1, AL_SLOT_READING = 2, AL_SLOT_DONE = 3 };

enum al_label {
    AL_LBL_MODEL, AL_LBL_DEPLOYMENT, AL_LBL_DEPLOYMENT_ID, AL_LBL_PROVIDER,
    AL_LBL_API_BASE, AL_LBL_REGION, AL_LBL_TEAM_ALIAS, AL_LBL__COUNT
};

enum al_var {
    AL_VAR_CALL_ID, AL_VAR_KEY_ALIAS, AL_VAR_USER_ID, AL_VAR_TEAM_ID, AL_VAR_KEY_HASH,
    AL_VAR_CUSTOMER_ID, AL_VAR_MESSAGES, AL_VAR_METADATA, AL_VAR__COUNT
};

/* Bounds of the variable data, per BEHAVIOUR.md section 2 and ARCHITECTURE.md. */
#define AL_ID_MAX 64
#define AL_LABEL_MAX 128
#define AL_PROMPT_CHARS 100
#define AL_METADATA_MAX 1024

typedef struct al_slot {
    _Atomic uint64_t word;                  /* gen << 32 | state */
    _Atomic int64_t first_token_ms;         /* 0: none yet */
    int64_t start_ms;
    const char *label[AL_LBL__COUNT];       /* interned, or inside var; NULL unknown */
    char *var;                              /* pooled block, or NULL */
    uint16_t var_off[AL_VAR__COUNT];
    uint16_t var_len[AL_VAR__COUNT];        /* 0 and off 0: absent */
    uint32_t next_free;
    uint8_t var_class;
    uint8_t stream;
    _Atomic uint8_t hang_alerted;
    uint8_t metadata_bad;
} al_slot;

typedef struct al_start_ev {
    uint32_t idx;
    uint32_t gen;
    int64_t start_ms;
} al_start_ev;

typedef struct al_inflight al_inflight;

/* max_slots: max_inflight; ring_size: event_queue_size (split over the stripes). */
al_inflight *al_inflight_new(uint64_t max_slots, uint64_t ring_size);
void al_inflight_free(al_inflight *t);

/* The calling thread's stripe. Inline: the hooks ask on every call. */
extern _Thread_local unsigned al_inflight_tls_stripe;
unsigned al_inflight_stripe_assign(void);
static inline unsigned al_inflight_stripe(void)
{
    unsigned s = al_inflight_tls_stripe;
    return __builtin_expect(s != UINT32_MAX, 1) ? s : al_inflight_stripe_assign();
}

/* Takes a free slot (growing by one chunk when needed) and a variable block of at
 * least var_bytes (none when 0), and, in the same locked section, reserves the
 * slot's entry in the stripe's start ring. ALERT_OK, ALERT_ERR_FULL or
 * ALERT_ERR_NOMEM. The slot is FREE with its new generation until
 * al_inflight_publish, which must follow: the worker reads the ring in order and
 * waits at an entry reserved but not yet published. */
int al_inflight_alloc(al_inflight *t, unsigned stripe, size_t var_bytes, uint32_t *idx,
                      uint32_t *gen);
/* al_inflight_alloc that also returns the slot (NULL on error, the code in *rc). */
al_slot *al_inflight_take(al_inflight *t, unsigned stripe, size_t var_bytes, uint32_t *idx,
                          uint32_t *gen, int *rc);
al_slot *al_inflight_slot(al_inflight *t, uint32_t idx);  /* NULL when idx is not allocated */
/* Makes the slot ACTIVE and queues its start (slot->start_ms) for the worker in the
 * entry alloc reserved, without a lock; returns 0, -1 when the stripe's ring was
 * full (the request is tracked, but not for hanging), or 1 once per fill when the
 * ring became more than 3/4 full (wake the worker). */
int al_inflight_publish(al_inflight *t, unsigned stripe, uint32_t idx, uint32_t gen);
/* The same for a slot the caller holds (from al_inflight_take): no lookup. */
int al_inflight_publish_at(al_inflight *t, unsigned stripe, al_slot *slot, uint32_t idx, uint32_t gen);
/* Ends the request behind a handle: ACTIVE -> DONE. The slot, if returned, belongs
 * to the caller until al_inflight_release. NULL when the handle is stale. */
al_slot *al_inflight_claim(al_inflight *t, uint64_t id, uint32_t *idx);
/* Frees the claimed slot to stripe's free lists (any stripe, not only the one that
 * took it); a start the worker has not drained yet is marked for it to skip. */
void al_inflight_release(al_inflight *t, unsigned stripe, uint32_t idx);
/* The same for the slot al_inflight_claim returned: no lookup. */
void al_inflight_release_at(al_inflight *t, unsigned stripe, al_slot *slot, uint32_t idx);

/* Worker side. The starts queued so far, in order per stripe, less those whose
 * request ended (or was cancelled) before the drain came to them; a stripe's entries
 * after one reserved but not yet published wait for the next drain. A start taken
 * may still end before the worker looks at its slot. */
size_t al_inflight_drain(al_inflight *t, al_start_ev *out, size_t max);
/* Pins an ACTIVE slot of generation gen for reading; 0 or -1. */
int al_inflight_pin(al_inflight *t, uint32_t idx, uint32_t gen);
void al_inflight_unpin(al_inflight *t, uint32_t idx, uint32_t gen);

/* A string kept in the slot's block (NULL when absent); len in *len. */
const char *al_slot_var(const al_slot *s, int which, size_t *len);

/* Counters. */
uint64_t al_inflight_started(const al_inflight *t);
uint64_t al_inflight_active(const al_inflight *t);
uint64_t al_inflight_dropped_events(const al_inflight *t);
/* Tests: the bytes of stripe si that its host threads write (under its lock) and
 * those the worker writes. */
void al_inflight_stripe_layout(const al_inflight *t, unsigned si, const void **producers,
                               size_t *producers_len, const void **worker, size_t *worker_len);
/* Bytes of pooled variable blocks in each class. */
size_t al_inflight_var_class_size(int cls);
int al_inflight_var_class(size_t bytes);

#endif
