/* SPDX-License-Identifier: MIT */
/* A hashed timer wheel for hanging detection, owned by the worker. Each
 * in-flight request is in it at most once, at start + threshold; its node is
 * indexed by the request's slot, so adding allocates only when a new chunk of
 * slots is first seen. A poll touches only the buckets of the ticks that have
 * passed (and the current one), never every request. */
#ifndef AL_WHEEL_H
#define AL_WHEEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct al_wheel al_wheel;

typedef void (*al_wheel_fire_fn)(void *ud, uint32_t idx, uint32_t gen, int64_t due_ms);

al_wheel *al_wheel_new(int64_t tick_ms, uint32_t n_buckets_pow2, uint32_t max_chunks);
void al_wheel_free(al_wheel *w);
/* Puts slot idx (generation gen) at due_ms; replaces an older entry of the slot. */
int al_wheel_add(al_wheel *w, uint32_t idx, uint32_t gen, int64_t due_ms);
/* Fires (and removes) every entry with due_ms <= now_ms; returns how many. */
size_t al_wheel_advance(al_wheel *w, int64_t now_ms, al_wheel_fire_fn fn, void *ud);
/* alert_ctx_reconfigure: a copy of w with another tick, every entry moved by shift_ms
 * (the new threshold minus the old); NULL when out of memory (w is left as it was). */
al_wheel *al_wheel_rebuild(const al_wheel *w, int64_t tick_ms, int64_t shift_ms);
size_t al_wheel_count(const al_wheel *w);
int64_t al_wheel_tick(const al_wheel *w);
size_t al_wheel_bytes_per_entry(void);

#endif
