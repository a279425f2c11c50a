/* SPDX-License-Identifier: MIT */
/* The state interface, the same assertions on every backend (memory, sqlite): claims
 * and their settling, schedule claims, counter batches applied once, windows, the
 * spool; and what differs: only sqlite survives a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting.h"
#include "alloc.h"
#include "state/state.h"
#include "store.h"

static char tmp_dir[64];
static int db_seq;

typedef struct backend {
    const char *name;
    char path[128];             /* sqlite only */
} backend;

static al_state *open_backend(backend *b, int fresh)
{
    al_state *s = NULL;
    if (strcmp(b->name, "memory") == 0) {
        assert_int_equal(al_state_open_mem(&s), ALERT_OK);
    } else {
        if (fresh)
            snprintf(b->path, sizeof b->path, "%s/state-%d.db", tmp_dir, ++db_seq);
        char err[256] = "";
        int rc = al_state_open_sqlite(&s, b->path, err, sizeof err);
        if (rc != ALERT_OK)
            print_error("open %s: %d %s\n", b->path, rc, err);
        assert_int_equal(rc, ALERT_OK);
    }
    assert_non_null(s);
    assert_string_equal(al_state_name(s), b->name);
    return s;
}

static void claims_and_settle(void **state)
{
    backend *b = *state;
    al_state *s = open_backend(b, 1);
    al_claim c;
    /* first claim wins; the same holder then finds it held, another holder too */
    assert_int_equal(al_state_mark_claim(s, "k1", "me#1", 5000, 1000, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_WON);
    assert_int_equal(al_state_mark_claim(s, "k1", "me#1", 5000, 1001, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_HELD);
    /* released: the next claim wins again */
    assert_int_equal(al_state_mark_settle(s, "k1", 0, 0), ALERT_OK);
    assert_int_equal(al_state_mark_claim(s, "k1", "me#1", 5000, 1002, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_WON);
    /* sent: held back until it expires */
    assert_int_equal(al_state_mark_settle(s, "k1", 1, 5000), ALERT_OK);
    assert_int_equal(al_state_mark_claim(s, "k1", "me#1", 9000, 4999, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_SENT);
    assert_int_equal(al_state_mark_claim(s, "k1", "me#1", 9000, 5000, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_WON);
    /* raw marks: put, get, delete, expiry and purge */
    char *v = NULL;
    assert_int_equal(al_state_mark_put(s, "raw", "value", 2000), ALERT_OK);
    assert_int_equal(al_state_mark_get(s, "raw", &v, 1999), ALERT_OK);
    assert_string_equal(v, "value");
    al_free(v);
    assert_int_equal(al_state_mark_get(s, "raw", &v, 2000), ALERT_ERR_NOT_FOUND);
    assert_null(v);
    assert_int_equal(al_state_mark_put(s, "raw", "again", 0), ALERT_OK);
    assert_int_equal(al_state_mark_purge(s, INT64_MAX / 2), ALERT_OK);
    assert_int_equal(al_state_mark_get(s, "raw", NULL, INT64_MAX / 2), ALERT_OK);   /* 0: never */
    assert_int_equal(al_state_mark_put(s, "raw", NULL, 0), ALERT_OK);
    assert_int_equal(al_state_mark_get(s, "raw", NULL, 0), ALERT_ERR_NOT_FOUND);
    assert_int_equal(al_state_mark_claim(s, NULL, "me", 0, 0, &c), ALERT_ERR_INVALID);
    al_state_close(s);
}

static void pending_of_a_gone_process(void **state)
{
    backend *b = *state;
    al_state *s = open_backend(b, 1);
    al_claim c;
    assert_int_equal(al_state_mark_claim(s, "once", "old#1", 0, 1000, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_WON);
    if (!al_state_durable(s)) {
        /* memory is one process: any holder is alive */
        assert_int_equal(al_state_mark_claim(s, "once", "other#2", 0, 1001, &c), ALERT_OK);
        assert_int_equal(c, AL_CLAIM_HELD);
        al_state_close(s);
        return;
    }
    al_state_close(s);
    s = open_backend(b, 0);
    /* the old process's pending claim was replayed with its spool: it counts as sent */
    assert_int_equal(al_state_mark_claim(s, "once", "new#2", 0, 1001, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_SENT);
    al_state_close(s);
}

static void schedules(void **state)
{
    backend *b = *state;
    al_state *s = open_backend(b, 1);
    int64_t last = 0;
    al_claim c;
    assert_int_equal(al_state_schedule_get(s, "daily", &last), ALERT_ERR_NOT_FOUND);
    /* a name never seen starts now: the first window is one period away */
    assert_int_equal(al_state_schedule_claim(s, "daily", 1000, 5000, &last, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_SENT);
    assert_int_equal(last, 5000);
    assert_int_equal(al_state_schedule_claim(s, "daily", 1000, 5999, &last, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_SENT);
    assert_int_equal(al_state_schedule_claim(s, "daily", 1000, 6000, &last, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_WON);
    assert_int_equal(last, 6000);
    /* the same window is claimed once */
    assert_int_equal(al_state_schedule_claim(s, "daily", 1000, 6000, &last, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_SENT);
    /* a clock stepped back is not due */
    assert_int_equal(al_state_schedule_claim(s, "daily", 1000, 100, &last, &c), ALERT_OK);
    assert_int_equal(c, AL_CLAIM_SENT);
    assert_int_equal(al_state_schedule_put(s, "daily", 42), ALERT_OK);
    assert_int_equal(al_state_schedule_get(s, "daily", &last), ALERT_OK);
    assert_int_equal(last, 42);
    assert_int_equal(al_state_schedule_claim(s, "daily", 0, 6000, &last, &c), ALERT_ERR_INVALID);
    al_state_close(s);
}

typedef struct seen {
    int n;
    int32_t day[8], dim[8];
    char name[8][16];
    double amount[8];
} seen;

static int collect(void *ud, int32_t day, int32_t dim, const char *name, double amount)
{
    seen *v = ud;
    if (v->n < 8) {
        v->day[v->n] = day;
        v->dim[v->n] = dim;
        snprintf(v->name[v->n], sizeof v->name[0], "%s", name);
        v->amount[v->n] = amount;
    }
    v->n++;
    return 0;
}

static void counters(void **state)
{
    backend *b = *state;
    al_state *s = open_backend(b, 1);
    al_state_cell batch1[] = { { 20000, AL_LEDGER_TEAM, "t1", 1.5 }, { 20001, AL_LEDGER_USER, "u1", 2 } };
    al_state_cell batch2[] = { { 20000, AL_LEDGER_TEAM, "t1", 0.25 } };
    assert_int_equal(al_state_counters_add(s, 1, batch1, 2), ALERT_OK);
    assert_int_equal(al_state_counters_add(s, 2, batch2, 1), ALERT_OK);
    /* batch 2 again (a retried write): applied once */
    assert_int_equal(al_state_counters_add(s, 2, batch2, 1), ALERT_OK);
    assert_int_equal(al_state_counters_add(s, 1, batch1, 2), ALERT_OK);
    double t = 0;
    assert_int_equal(al_state_counter_get(s, 20000, AL_LEDGER_TEAM, "t1", &t), ALERT_OK);
    assert_true(t == 1.75);
    assert_int_equal(al_state_counter_get(s, 20000, AL_LEDGER_USER, "t1", &t), ALERT_OK);
    assert_true(t == 0);
    /* a non-finite amount refuses the whole batch */
    al_state_cell bad[] = { { 20002, AL_LEDGER_TAG, "x", 1 }, { 20002, AL_LEDGER_TAG, "y", NAN } };
    assert_int_equal(al_state_counters_add(s, 3, bad, 2), ALERT_ERR_INVALID);
    assert_int_equal(al_state_counter_get(s, 20002, AL_LEDGER_TAG, "x", &t), ALERT_OK);
    assert_true(t == 0);
    seen v = { 0 };
    assert_int_equal(al_state_counters_load(s, 20000, collect, &v), ALERT_OK);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.day[0], 20000);
    assert_string_equal(v.name[0], "t1");
    assert_true(v.amount[0] == 1.75);
    assert_int_equal(v.day[1], 20001);
    assert_int_equal(al_state_counters_prune(s, 20001), ALERT_OK);
    memset(&v, 0, sizeof v);
    assert_int_equal(al_state_counters_load(s, 0, collect, &v), ALERT_OK);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.name[0], "u1");
    al_state_close(s);
}

static void windows(void **state)
{
    backend *b = *state;
    al_state *s = open_backend(b, 1);
    uint64_t n = 99;
    assert_int_equal(al_state_window_count(s, "dep", 0, &n), ALERT_OK);
    assert_int_equal(n, 0);
    int64_t times[] = { 100, 300, 200, 400, 50 };       /* not quite in order */
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(al_state_window_add(s, "dep", times[i]), ALERT_OK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(al_state_window_add(s, "other", i), ALERT_OK);
    assert_int_equal(al_state_window_count(s, "dep", 0, &n), ALERT_OK);
    assert_int_equal(n, 5);
    assert_int_equal(al_state_window_count(s, "dep", 200, &n), ALERT_OK);
    assert_int_equal(n, 3);
    /* what is older than a count's start is gone */
    assert_int_equal(al_state_window_count(s, "dep", 0, &n), ALERT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(al_state_window_count(s, "dep", 401, &n), ALERT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(al_state_window_count(s, "other", 10, &n), ALERT_OK);
    assert_int_equal(n, 10);
    al_state_close(s);
}

static int count_rows(void *ud, const al_spool_row *row)
{
    int *n = ud;
    assert_string_equal(row->alert_type, "llm_exceptions");
    (*n)++;
    return 0;
}

static void spool_and_reopen(void **state)
{
    backend *b = *state;
    al_state *s = open_backend(b, 1);
    al_spool_row row = { .target_kind = 0, .target = "https://hooks.slack.com/services/secret",
                         .alert_type = "llm_exceptions", .text = "x", .idem = "msg_1" };
    int64_t id = -1, id2 = -1;
    assert_int_equal(al_state_begin(s), ALERT_OK);
    assert_int_equal(al_state_spool_put(s, &row, &id), ALERT_OK);
    assert_int_equal(al_state_spool_put(s, &row, &id2), ALERT_OK);
    assert_int_equal(al_state_spool_update(s, id, 2, 5000), ALERT_OK);
    assert_int_equal(al_state_spool_delete(s, id2), ALERT_OK);
    assert_int_equal(al_state_mark_put(s, "m", "sent", 0), ALERT_OK);
    assert_int_equal(al_state_schedule_put(s, "daily", 7), ALERT_OK);
    al_state_cell c = { 1, AL_LEDGER_KEY, "k", 3 };
    assert_int_equal(al_state_counters_add(s, 1, &c, 1), ALERT_OK);
    assert_int_equal(al_state_commit(s), ALERT_OK);
    int rows = 0;
    assert_int_equal(al_state_spool_load(s, count_rows, &rows), ALERT_OK);
    if (!al_state_durable(s)) {
        /* memory keeps no spool: the outbox is the only copy */
        assert_int_equal(id, 0);
        assert_int_equal(rows, 0);
        al_state_close(s);
        return;
    }
    assert_true(id > 0 && id2 > id);
    assert_int_equal(rows, 1);
    al_state_close(s);
    s = open_backend(b, 0);
    rows = 0;
    assert_int_equal(al_state_spool_load(s, count_rows, &rows), ALERT_OK);
    assert_int_equal(rows, 1);
    int64_t last = 0;
    assert_int_equal(al_state_schedule_get(s, "daily", &last), ALERT_OK);
    assert_int_equal(last, 7);
    assert_int_equal(al_state_mark_get(s, "m", NULL, 0), ALERT_OK);
    double t = 0;
    assert_int_equal(al_state_counter_get(s, 1, AL_LEDGER_KEY, "k", &t), ALERT_OK);
    assert_true(t == 3);
    al_state_close(s);
}

/* Every operation under allocation failure: a code, never a crash or a leak (the
 * sanitizer build checks the leaks). */
static void allocation_failures(void **state)
{
    backend *b = *state;
    for (long k = 0; k < 40; k++) {
        al_state *s = NULL;
        al_alloc_fail_after(k);
        int rc = strcmp(b->name, "memory") == 0 ? al_state_open_mem(&s) : ALERT_OK;
        if (strcmp(b->name, "memory") != 0) {
            al_alloc_fail_after(-1);
            s = open_backend(b, 1);
            al_alloc_fail_after(k);
        }
        if (rc == ALERT_OK) {
            al_claim c;
            al_state_cell cell = { 1, AL_LEDGER_TEAM, "t", 1 };
            rc = al_state_mark_claim(s, "k", "me", 0, 0, &c);
            assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM || rc == ALERT_ERR_IO);
            rc = al_state_counters_add(s, 1, &cell, 1);
            assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM || rc == ALERT_ERR_IO);
            rc = al_state_window_add(s, "w", 1);
            assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
            rc = al_state_schedule_put(s, "s", 1);
            assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM || rc == ALERT_ERR_IO);
        } else {
            assert_int_equal(rc, ALERT_ERR_NOMEM);
        }
        al_alloc_fail_after(-1);
        al_state_close(s);
    }
}

static int make_tmp(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/al-state-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_tmp(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static backend mem_b = { "memory", "" };
static backend sql_b = { "sqlite", "" };

#define BOTH(fn) cmocka_unit_test_prestate(fn, &mem_b), cmocka_unit_test_prestate(fn, &sql_b)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(claims_and_settle),
        BOTH(pending_of_a_gone_process),
        BOTH(schedules),
        BOTH(counters),
        BOTH(windows),
        BOTH(spool_and_reopen),
        BOTH(allocation_failures),
    };
    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
