/* SPDX-License-Identifier: MIT */
/* The timer wheel: fires each entry once, at or after its due time and within one
 * tick of it when polled every tick; replaced entries never fire twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "wheel.h"

typedef struct fired {
    uint32_t idx[8192];
    uint32_t gen[8192];
    int64_t at[8192];
    size_t n;
    int64_t now;
} fired;

static void on_fire(void *ud, uint32_t idx, uint32_t gen, int64_t due)
{
    fired *f = ud;
    assert_true(due <= f->now);
    f->idx[f->n] = idx;
    f->gen[f->n] = gen;
    f->at[f->n] = f->now;
    f->n++;
}

static void fires_once_on_time(void **state)
{
    (void)state;
    al_wheel *w = al_wheel_new(1000, 64, 4);
    fired *f = calloc(1, sizeof *f);
    f->now = 123;
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(al_wheel_add(w, 7, 1, 300123), 0);
    for (f->now = 1123; f->now < 300123; f->now += 1000) {
        al_wheel_advance(w, f->now, on_fire, f);
        assert_int_equal(f->n, 0);
    }
    f->now = 300122;
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 0);
    f->now = 300123;
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->idx[0], 7);
    assert_int_equal(f->gen[0], 1);
    for (int i = 0; i < 1000; i++) {
        f->now += 1000;
        al_wheel_advance(w, f->now, on_fire, f);
    }
    assert_int_equal(f->n, 1);
    assert_int_equal(al_wheel_count(w), 0);
    free(f);
    al_wheel_free(w);
}

/* issue 12, item 1: entries added before the first advance, already due when it comes
 * (a request started before the host's first alert_poll), fire at that advance; before,
 * the first advance began at its own tick and they waited a whole turn of the wheel. */
static void due_before_the_first_advance(void **state)
{
    (void)state;
    al_wheel *w = al_wheel_new(10, 4096, 4);
    fired *f = calloc(1, sizeof *f);
    assert_int_equal(al_wheel_add(w, 1, 1, 1000), 0);      /* due long before the poll */
    assert_int_equal(al_wheel_add(w, 2, 1, 4990), 0);
    assert_int_equal(al_wheel_add(w, 3, 1, 9000), 0);      /* not due yet */
    f->now = 5000;
    assert_int_equal(al_wheel_advance(w, f->now, on_fire, f), 2);
    assert_int_equal(f->n, 2);
    f->now = 8999;
    assert_int_equal(al_wheel_advance(w, f->now, on_fire, f), 0);
    f->now = 9000;
    assert_int_equal(al_wheel_advance(w, f->now, on_fire, f), 1);
    assert_int_equal(f->idx[2], 3);
    assert_int_equal(al_wheel_count(w), 0);

    /* far behind (more than a turn): still fired at the first advance */
    al_wheel *w2 = al_wheel_new(1, 64, 4);
    f->n = 0;
    assert_int_equal(al_wheel_add(w2, 5, 1, 10), 0);
    f->now = 100000;
    assert_int_equal(al_wheel_advance(w2, f->now, on_fire, f), 1);
    al_wheel_free(w2);
    free(f);
    al_wheel_free(w);
}

static void far_future_survives_many_turns(void **state)
{
    (void)state;
    al_wheel *w = al_wheel_new(10, 16, 4);     /* one turn = 160 ms */
    fired *f = calloc(1, sizeof *f);
    f->now = 0;
    al_wheel_advance(w, 0, on_fire, f);
    al_wheel_add(w, 1, 1, 5000);
    for (f->now = 10; f->now < 5000; f->now += 10)
        al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 0);
    f->now = 5000;
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 1);
    free(f);
    al_wheel_free(w);
}

static void replacing_an_entry_moves_it(void **state)
{
    (void)state;
    al_wheel *w = al_wheel_new(100, 64, 4);
    fired *f = calloc(1, sizeof *f);
    al_wheel_advance(w, 0, on_fire, f);
    al_wheel_add(w, 3, 1, 1000);
    al_wheel_add(w, 3, 2, 2000);    /* the slot was reused: only generation 2 counts */
    f->now = 1500;
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 0);
    f->now = 2000;
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->gen[0], 2);
    free(f);
    al_wheel_free(w);
}

static void late_entries_and_long_pauses(void **state)
{
    (void)state;
    al_wheel *w = al_wheel_new(1000, 64, 4);
    fired *f = calloc(1, sizeof *f);
    f->now = 100000;
    al_wheel_advance(w, f->now, on_fire, f);
    al_wheel_add(w, 1, 1, 5000);        /* already overdue */
    for (uint32_t i = 2; i < 4002; i++)
        al_wheel_add(w, i, 1, 100000 + (int64_t)i * 37);
    f->now = 100001;
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 1);
    f->now = 10000000;                  /* the host did not poll for hours */
    al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 4001);
    /* each fired once */
    char *seen = calloc(4002, 1);
    for (size_t i = 0; i < f->n; i++) {
        assert_int_equal(seen[f->idx[i]], 0);
        seen[f->idx[i]] = 1;
    }
    free(seen);
    free(f);
    al_wheel_free(w);
}

static void within_one_tick_when_polled_each_tick(void **state)
{
    (void)state;
    al_wheel *w = al_wheel_new(1000, 512, 4);
    fired *f = calloc(1, sizeof *f);
    al_wheel_advance(w, 0, on_fire, f);
    for (uint32_t i = 0; i < 5000; i++)
        al_wheel_add(w, i, 1, 300000 + (int64_t)(i * 7919u % 60000u));
    for (f->now = 0; f->now <= 400000; f->now += 1000)
        al_wheel_advance(w, f->now, on_fire, f);
    assert_int_equal(f->n, 5000);
    for (size_t i = 0; i < f->n; i++) {
        int64_t due = 300000 + (int64_t)(f->idx[i] * 7919u % 60000u);
        assert_true(f->at[i] >= due);
        assert_true(f->at[i] < due + 1000);
    }
    free(f);
    al_wheel_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fires_once_on_time),
        cmocka_unit_test(due_before_the_first_advance),
        cmocka_unit_test(far_future_survives_many_turns),
        cmocka_unit_test(replacing_an_entry_moves_it),
        cmocka_unit_test(late_entries_and_long_pauses),
        cmocka_unit_test(within_one_tick_when_polled_each_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
