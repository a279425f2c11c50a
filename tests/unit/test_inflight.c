/* SPDX-License-Identifier: MIT */
/* In-flight slots under two threads: every handle unique while live, stale handles
 * refused, nothing lost or leaked, and the start rings deliver every start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "inflight.h"
#include "intern.h"

#define PER_THREAD 200000

typedef struct worker_arg {
    al_inflight *t;
    int rounds;
    int failures;
    uint64_t live[64];      /* the requests still in flight at the end */
} worker_arg;

static void *churn(void *p)
{
    worker_arg *a = p;
    unsigned stripe = al_inflight_stripe();
    uint64_t *live = a->live;
    uint32_t idx;
    for (int i = 0; i < a->rounds; i++) {
        uint32_t gen;
        int k = i % 64;
        if (i >= 64) {
            uint32_t got;
            al_slot *s = al_inflight_claim(a->t, live[k], &got);
            if (!s) {
                a->failures++;
                continue;
            }
            /* the slot's block still holds what this thread wrote */
            if (s->var && memcmp(s->var, &live[k], sizeof live[k]) != 0)
                a->failures++;
            al_inflight_release(a->t, stripe, got);
            if (al_inflight_claim(a->t, live[k], &got))     /* stale now */
                a->failures++;
        }
        if (al_inflight_alloc(a->t, stripe, (i & 1) ? 100 : 0, &idx, &gen) != ALERT_OK) {
            a->failures++;
            continue;
        }
        live[k] = (uint64_t)gen << 32 | (idx + 1);
        al_slot *s = al_inflight_slot(a->t, idx);
        if (s->var)
            memcpy(s->var, &live[k], sizeof live[k]);
        al_inflight_publish(a->t, stripe, idx, gen);
    }
    return NULL;
}

static void two_threads_churn(void **state)
{
    (void)state;
    al_inflight *t = al_inflight_new(100000, 1 << 22);
    assert_non_null(t);
    static worker_arg a[2];
    for (int i = 0; i < 2; i++)
        a[i] = (worker_arg){ .t = t, .rounds = PER_THREAD };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, churn, &a[i]);
    /* the worker side drains concurrently; it keeps what it was handed */
    size_t cap = 2 * PER_THREAD + 1024, drained = 0;
    al_start_ev *got = malloc(cap * sizeof *got);
    assert_non_null(got);
    int done = 0;
    while (!done) {
        drained += al_inflight_drain(t, got + drained, 1024);
        done = al_inflight_started(t) == 2 * PER_THREAD;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    size_t n;
    while ((n = al_inflight_drain(t, got + drained, 1024)) > 0)
        drained += n;
    assert_int_equal(a[0].failures, 0);
    assert_int_equal(a[1].failures, 0);
    assert_int_equal(al_inflight_started(t), 2 * PER_THREAD);
    assert_int_equal(al_inflight_active(t), 2 * 64);
    assert_int_equal(al_inflight_dropped_events(t), 0);
    /* each start at most once; the requests still in flight, every one (those that
     * ended first may be skipped) */
    assert_true(drained <= 2 * PER_THREAD);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 64; k++) {
            int seen = 0;
            for (size_t j = 0; j < drained; j++)
                seen += ((uint64_t)got[j].gen << 32 | (got[j].idx + 1)) == a[i].live[k];
            assert_int_equal(seen, 1);
        }
    free(got);
    al_inflight_free(t);
}

static void capacity_is_a_hard_limit(void **state)
{
    (void)state;
    al_inflight *t = al_inflight_new(10, 64);
    uint32_t idx, gen;
    for (int i = 0; i < 10; i++)
        assert_int_equal(al_inflight_alloc(t, 0, 0, &idx, &gen), ALERT_OK);
    assert_int_equal(al_inflight_alloc(t, 0, 0, &idx, &gen), ALERT_ERR_FULL);
    assert_int_equal(al_inflight_alloc(t, 1, 0, &idx, &gen), ALERT_ERR_FULL);
    al_inflight_free(t);
}

static void pinned_slot_waits_for_the_worker(void **state)
{
    (void)state;
    al_inflight *t = al_inflight_new(100, 64);
    uint32_t idx, gen, got;
    assert_int_equal(al_inflight_alloc(t, 0, 0, &idx, &gen), ALERT_OK);
    al_inflight_publish(t, 0, idx, gen);
    assert_int_equal(al_inflight_pin(t, idx, gen), 0);
    assert_int_equal(al_inflight_pin(t, idx, gen), -1);        /* not twice */
    al_inflight_unpin(t, idx, gen);
    uint64_t id = (uint64_t)gen << 32 | (idx + 1);
    assert_non_null(al_inflight_claim(t, id, &got));
    assert_int_equal(al_inflight_pin(t, idx, gen), -1);        /* ended: nothing to read */
    al_inflight_release(t, 0, got);
    al_inflight_free(t);
}

static void intern_returns_one_copy(void **state)
{
    (void)state;
    al_intern_table *t = al_intern_new(8);
    const char *a = al_intern(t, "gpt-4", 5);
    const char *b = al_intern(t, "gpt-4o", 5);     /* the first 5 bytes: the same label */
    assert_ptr_equal(a, b);
    assert_string_equal(a, "gpt-4");
    assert_non_null(al_intern(t, "x", 1));
    assert_non_null(al_intern(t, "y", 1));
    assert_non_null(al_intern(t, "z", 1));
    assert_non_null(al_intern(t, "w", 1));
    assert_non_null(al_intern(t, "v", 1));
    assert_null(al_intern(t, "u", 1));             /* bounded: 3/4 of 8 */
    assert_int_equal(al_intern_count(t), 6);
    assert_ptr_equal(al_intern(t, "x", 1), al_intern(t, "x", 1));
    al_intern_free(t);
}

/* The pointer hints: a buffer reused for another string is never taken for the
 * string it held before, and an entry cut from a longer string is not the whole
 * string. */
static void intern_hints_compare_the_bytes(void **state)
{
    (void)state;
    al_intern_table *t = al_intern_new(64);
    char buf[32] = "azure/gpt-4o-eastus";
    const char *in[3] = { buf, NULL, "never-interned" };
    const char *out[3];
    assert_int_equal(al_intern_known(t, in, out, 3), 1u | 4u);     /* nothing interned yet */
    assert_null(out[0]);
    assert_null(out[1]);
    const char *first = al_intern(t, buf, strlen(buf));
    assert_int_equal(al_intern_known(t, in, out, 3), 4u);
    assert_ptr_equal(out[0], first);
    assert_null(out[2]);

    strcpy(buf, "azure/gpt-4o-westus");     /* same pointer, same length, other bytes */
    assert_int_equal(al_intern_known(t, in, out, 1), 1u);
    const char *second = al_intern(t, buf, strlen(buf));
    assert_ptr_not_equal(second, first);
    assert_string_equal(second, "azure/gpt-4o-westus");
    assert_int_equal(al_intern_known(t, in, out, 1), 0u);
    assert_ptr_equal(out[0], second);

    strcpy(buf, "azure/gpt-4o");            /* a prefix of what the hint holds */
    assert_int_equal(al_intern_known(t, in, out, 1), 1u);
    strcpy(buf, "azure/gpt-4o-westus-2");   /* longer than what the hint holds */
    assert_int_equal(al_intern_known(t, in, out, 1), 1u);
    /* an entry interned from a cut: the whole string is not it */
    const char *cut = al_intern(t, buf, 12);
    assert_string_equal(cut, "azure/gpt-4o");
    assert_int_equal(al_intern_known(t, in, out, 1), 1u);
    /* and the hint points at the right entry again from any pointer with those bytes */
    assert_ptr_equal(al_intern(t, "azure/gpt-4o-westus", 19), second);
    assert_int_equal(al_intern_count(t), 3);
    al_intern_free(t);
}

/* The ring's pressure signal comes once when it passes 3/4, and again only after
 * it went below. */
static void publish_signals_pressure_once_per_fill(void **state)
{
    (void)state;
    al_inflight *t = al_inflight_new(1000, 64);     /* 64 entries per stripe's ring */
    uint32_t idx, gen;
    int signals = 0, full = 0;
    for (int i = 0; i < 70; i++) {
        assert_int_equal(al_inflight_alloc(t, 0, 0, &idx, &gen), ALERT_OK);
        int rc = al_inflight_publish(t, 0, idx, gen);
        if (rc == 1) {
            signals++;
            assert_int_equal(i, 45);        /* the 46th start: more than 45 (3/4 of 63) queued */
        }
        if (rc < 0)
            full++;
    }
    assert_int_equal(signals, 1);
    assert_int_equal(full, 6);
    assert_int_equal(al_inflight_dropped_events(t), 6);
    al_start_ev ev[64];
    assert_int_equal(al_inflight_drain(t, ev, 64), 64);
    assert_int_equal(al_inflight_alloc(t, 0, 0, &idx, &gen), ALERT_OK);
    assert_int_equal(al_inflight_publish(t, 0, idx, gen), 0);     /* re-armed, not signalled */
    for (int i = 0; i < 48; i++) {
        assert_int_equal(al_inflight_alloc(t, 0, 0, &idx, &gen), ALERT_OK);
        assert_int_equal(al_inflight_publish(t, 0, idx, gen), i == 44 ? 1 : 0);
    }
    al_inflight_free(t);
}

/* A start's ring entry is reserved when its slot is taken and filled when it is
 * published, without the lock: the worker reads the ring in order and stops at an
 * entry not yet published, so it never reads a half-written start, and it takes
 * that start and the ones queued behind it at the next drain. */
static void drain_waits_for_an_unpublished_start(void **state)
{
    (void)state;
    al_inflight *t = al_inflight_new(1000, 64);     /* 64 entries per stripe's ring */
    al_start_ev ev[64];
    for (int round = 0; round < 40; round++) {      /* 40 x 3 starts: the ring wraps */
        uint32_t idx[3], gen[3];
        for (int k = 0; k < 3; k++) {
            assert_int_equal(al_inflight_alloc(t, 0, 0, &idx[k], &gen[k]), ALERT_OK);
            al_inflight_slot(t, idx[k])->start_ms = 1000 * round + k;
        }
        assert_int_equal(al_inflight_publish(t, 0, idx[1], gen[1]), 0);
        assert_int_equal(al_inflight_publish(t, 0, idx[2], gen[2]), 0);
        assert_int_equal(al_inflight_drain(t, ev, 64), 0);     /* the first is not ready */
        assert_int_equal(al_inflight_publish(t, 0, idx[0], gen[0]), 0);
        assert_int_equal(al_inflight_drain(t, ev, 64), 3);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(ev[k].idx, idx[k]);
            assert_int_equal(ev[k].gen, gen[k]);
            assert_int_equal(ev[k].start_ms, 1000 * round + k);
        }
        assert_int_equal(al_inflight_drain(t, ev, 64), 0);     /* each start once */
        for (int k = 0; k < 3; k++) {
            uint32_t got;
            assert_non_null(al_inflight_claim(t, (uint64_t)gen[k] << 32 | (idx[k] + 1), &got));
            al_inflight_release(t, 0, got);
        }
    }
    assert_int_equal(al_inflight_dropped_events(t), 0);
    al_inflight_free(t);
}

/* A request that ended before the worker drained its start is skipped: the worker
 * need not read its slot, which the hooks keep writing. Also when another stripe
 * released it, and never a later start that took the entry's position after the
 * drain: the mark compares the whole tag (generation and index), and a fresh slot of
 * another index has the same generation. */
static void drain_skips_requests_that_ended(void **state)
{
    (void)state;
    al_inflight *t = al_inflight_new(1000, 64);     /* 64 entries per stripe's ring */
    al_start_ev ev[128];
    uint32_t idx, gen, got;
    for (unsigned releaser = 0; releaser < 2; releaser++) {    /* the same stripe, another */
        assert_int_equal(al_inflight_alloc(t, 0, 0, &idx, &gen), ALERT_OK);
        assert_int_equal(al_inflight_publish(t, 0, idx, gen), 0);
        assert_non_null(al_inflight_claim(t, (uint64_t)gen << 32 | (idx + 1), &got));
        al_inflight_release(t, releaser, got);
        assert_int_equal(al_inflight_drain(t, ev, 128), 0);
    }
    /* a start drained, its position taken again a lap later by another slot */
    uint32_t a_idx, a_gen;
    assert_int_equal(al_inflight_alloc(t, 0, 0, &a_idx, &a_gen), ALERT_OK);
    assert_int_equal(al_inflight_publish(t, 0, a_idx, a_gen), 0);
    assert_int_equal(al_inflight_drain(t, ev, 128), 1);
    uint32_t last_idx = 0, last_gen = 0;
    for (int i = 0; i < 64; i++) {
        assert_int_equal(al_inflight_alloc(t, 0, 0, &last_idx, &last_gen), ALERT_OK);
        assert_true(al_inflight_publish(t, 0, last_idx, last_gen) >= 0);
    }
    assert_int_equal(last_gen, a_gen);      /* a fresh slot: same generation, another index */
    assert_non_null(al_inflight_claim(t, (uint64_t)a_gen << 32 | (a_idx + 1), &got));
    al_inflight_release(t, 0, got);
    assert_int_equal(al_inflight_drain(t, ev, 128), 64);
    assert_int_equal(ev[63].idx, last_idx);
    assert_int_equal(al_inflight_dropped_events(t), 0);
    al_inflight_free(t);
}

/* What two cores write stays a cache-line pair (128 bytes, aligned) apart: one
 * stripe's producers from another's, and each from the worker, which moves a
 * stripe's ring head on every drain; and one slot from another. A shared pair costs a transfer between the
 * cores per write (the prefetchers fetch lines by pairs), and the hooks write their
 * stripe several times per request. */
static void stripes_do_not_share_cache_line_pairs(void **state)
{
    (void)state;
    al_inflight *t = al_inflight_new(4 * AL_CHUNK_SLOTS, 64);
    /* slots and their blocks too, whose lines follow a request to the stripe of the
     * thread that ends it */
    for (unsigned i = 0; i < 4; i++) {
        uint32_t idx, gen;
        assert_int_equal(al_inflight_alloc(t, i, 100 + 200 * i, &idx, &gen), ALERT_OK);
        assert_int_equal((uintptr_t)al_inflight_slot(t, idx) % 128, 0);
        assert_int_equal((uintptr_t)al_inflight_slot(t, idx)->var % 128, 0);   /* its block */
        assert_int_equal(sizeof(al_slot), 128);
    }
    for (unsigned i = 0; i < AL_STRIPES; i++) {
        const void *p, *w;
        size_t plen, wlen;
        al_inflight_stripe_layout(t, i, &p, &plen, &w, &wlen);
        uintptr_t p_first = (uintptr_t)p / 128, p_last = ((uintptr_t)p + plen - 1) / 128;
        for (unsigned j = 0; j < AL_STRIPES; j++) {
            const void *q, *v;
            size_t qlen, vlen;
            al_inflight_stripe_layout(t, j, &q, &qlen, &v, &vlen);
            uintptr_t v_first = (uintptr_t)v / 128, v_last = ((uintptr_t)v + vlen - 1) / 128;
            assert_true(v_last < p_first || v_first > p_last);     /* from every worker part */
            if (j == i)
                continue;
            uintptr_t q_first = (uintptr_t)q / 128, q_last = ((uintptr_t)q + qlen - 1) / 128;
            assert_true(q_last < p_first || q_first > p_last);     /* from the other producers */
        }
    }
    al_inflight_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_threads_churn),
        cmocka_unit_test(capacity_is_a_hard_limit),
        cmocka_unit_test(pinned_slot_waits_for_the_worker),
        cmocka_unit_test(intern_returns_one_copy),
        cmocka_unit_test(intern_hints_compare_the_bytes),
        cmocka_unit_test(publish_signals_pressure_once_per_fill),
        cmocka_unit_test(drain_waits_for_an_unpublished_start),
        cmocka_unit_test(stripes_do_not_share_cache_line_pairs),
        cmocka_unit_test(drain_skips_requests_that_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
