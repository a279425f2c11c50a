/* SPDX-License-Identifier: MIT */
/* The durable store: what is written survives close, reopen and SIGKILL; one
 * opener per path, in this process or another; errors are codes, never crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "alerting.h"
#include "alloc.h"
#include "store.h"

static char tmp_dir[64];

static void path_for(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmp_dir, name);
}

static al_store *open_ok(const char *path)
{
    al_store *s = NULL;
    char err[256];
    int rc = al_store_open(&s, path, err, sizeof err);
    if (rc != ALERT_OK)
        print_error("open %s: %d %s\n", path, rc, err);
    assert_int_equal(rc, ALERT_OK);
    assert_non_null(s);
    return s;
}

static al_spool_row make_row(int i, char *idem, size_t idem_size)
{
    snprintf(idem, idem_size, "msg_%032x", (unsigned)i);
    al_spool_row r = {
        .target_kind = i % 8,
        .level = i % 3,
        .attempt = 0,
        .target = "https://hooks.slack.com/services/T000/B000/secret",
        .alert_type = "llm_exceptions",
        .text = "LLM API call failed",
        .idem = idem,
        .created_ms = 1000 + i,
        .next_at_ms = 2000 + i,
        .deadline_ms = 3000 + i,
    };
    return r;
}

/* ---- collectors -------------------------------------------------------- */

typedef struct spool_seen {
    size_t n;
    int64_t ids[16];
    int32_t attempts[16];
    int64_t next_at[16];
    int64_t last_id;
    int ascending;
    int idem_ok;
    int stop_after;         /* 0: never */
} spool_seen;

static int collect_spool(void *ud, const al_spool_row *row)
{
    spool_seen *seen = ud;
    if (seen->n > 0 && row->id <= seen->last_id)
        seen->ascending = 0;
    seen->last_id = row->id;
    if (seen->n < 16) {
        seen->ids[seen->n] = row->id;
        seen->attempts[seen->n] = row->attempt;
        seen->next_at[seen->n] = row->next_at_ms;
    }
    char want[64];
    snprintf(want, sizeof want, "msg_%032x", (unsigned)(row->created_ms - 1000));
    if (strcmp(row->idem, want) != 0)
        seen->idem_ok = 0;
    seen->n++;
    if (seen->stop_after && (int)seen->n == seen->stop_after)
        return ALERT_ERR_CALLBACK;
    return 0;
}

static spool_seen load_all(al_store *s)
{
    spool_seen seen = { .ascending = 1, .idem_ok = 1 };
    assert_int_equal(al_store_spool_load(s, collect_spool, &seen), ALERT_OK);
    return seen;
}

typedef struct ledger_seen {
    size_t n;
    int32_t day[16];
    int32_t dim[16];
    char name[16][32];
    double amount[16];
} ledger_seen;

static int collect_ledger(void *ud, int32_t day, int32_t dim, const char *name, double amount)
{
    ledger_seen *seen = ud;
    if (seen->n < 16) {
        seen->day[seen->n] = day;
        seen->dim[seen->n] = dim;
        snprintf(seen->name[seen->n], sizeof seen->name[0], "%s", name);
        seen->amount[seen->n] = amount;
    }
    seen->n++;
    return 0;
}

/* ---- tests ------------------------------------------------------------- */

static int check_full_row(void *ud, const al_spool_row *row)
{
    int *n = ud;
    switch ((*n)++) {
    case 0:
        assert_int_equal(row->target_kind, 3);
        assert_string_equal(row->target, "https://example.com/hook?token=s3cret");
        assert_string_equal(row->alert_type, "budget_alerts");
        assert_int_equal(row->level, 2);
        assert_string_equal(row->text, "Budget Crossed\n Total Budget:`100.0`");
        assert_int_equal(row->body_len, 5);
        assert_memory_equal(row->body, "a\0b\0c", 5);
        assert_string_equal(row->extra, "{\"dedup_key\":\"k\"}");
        assert_string_equal(row->idem, "msg_0123456789abcdef0123456789abcdef");
        assert_int_equal(row->attempt, 4);
        assert_int_equal(row->created_ms, INT64_C(1700000000123));
        assert_int_equal(row->next_at_ms, INT64_C(1700000060000));
        assert_int_equal(row->deadline_ms, INT64_MAX);
        break;
    case 1:
        assert_null(row->body);
        assert_int_equal(row->body_len, 0);
        assert_null(row->extra);
        break;
    case 2:
        assert_non_null(row->body);     /* empty, not missing */
        assert_int_equal(row->body_len, 0);
        break;
    default:
        fail();
    }
    return 0;
}

static void reopen_keeps_everything(void **state)
{
    (void)state;
    char path[128];
    path_for(path, sizeof path, "reopen.db");
    al_store *s = open_ok(path);

    al_spool_row r = {
        .target_kind = 3,
        .level = 2,
        .attempt = 4,
        .target = "https://example.com/hook?token=s3cret",
        .alert_type = "budget_alerts",
        .text = "Budget Crossed\n Total Budget:`100.0`",
        .body = "a\0b\0c",
        .body_len = 5,
        .extra = "{\"dedup_key\":\"k\"}",
        .idem = "msg_0123456789abcdef0123456789abcdef",
        .created_ms = INT64_C(1700000000123),
        .next_at_ms = INT64_C(1700000060000),
        .deadline_ms = INT64_MAX,
    };
    int64_t id1 = 0, id2 = 0, id3 = 0;
    assert_int_equal(al_store_spool_put(s, &r, &id1), ALERT_OK);
    r.body = NULL;
    r.extra = NULL;
    assert_int_equal(al_store_spool_put(s, &r, &id2), ALERT_OK);
    r.body = "";
    r.body_len = 0;
    assert_int_equal(al_store_spool_put(s, &r, &id3), ALERT_OK);
    assert_true(id1 < id2 && id2 < id3);

    assert_int_equal(al_store_mark_put(s, "budget:user:u1:85", "sent", 0), ALERT_OK);
    assert_int_equal(al_store_schedule_put(s, "daily_report", INT64_C(1700000000000)), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 19700, AL_LEDGER_TEAM, "team-a", 1.5), ALERT_OK);
    al_store_close(s);

    s = open_ok(path);
    int n = 0;
    assert_int_equal(al_store_spool_load(s, check_full_row, &n), ALERT_OK);
    assert_int_equal(n, 3);
    char *v = NULL;
    assert_int_equal(al_store_mark_get(s, "budget:user:u1:85", &v, INT64_MAX), ALERT_OK);
    assert_string_equal(v, "sent");
    al_free(v);
    int64_t last = 0;
    assert_int_equal(al_store_schedule_get(s, "daily_report", &last), ALERT_OK);
    assert_int_equal(last, INT64_C(1700000000000));
    assert_int_equal(al_store_schedule_get(s, "monthly_report", &last), ALERT_ERR_NOT_FOUND);
    ledger_seen lg = { 0 };
    assert_int_equal(al_store_ledger_load(s, 0, collect_ledger, &lg), ALERT_OK);
    assert_int_equal(lg.n, 1);
    assert_int_equal(lg.day[0], 19700);
    assert_string_equal(lg.name[0], "team-a");
    assert_true(lg.amount[0] == 1.5);
    al_store_close(s);
}

static void new_files_are_private(void **state)
{
    (void)state;
    char path[128], lock[160];
    path_for(path, sizeof path, "private.db");
    snprintf(lock, sizeof lock, "%s.lock", path);
    mode_t old = umask(022);
    al_store *s = open_ok(path);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(lock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    al_store_close(s);
}

static void spool_order_update_delete(void **state)
{
    (void)state;
    char path[128];
    path_for(path, sizeof path, "spool.db");
    al_store *s = open_ok(path);
    int64_t ids[5];
    char idem[64];
    for (int i = 0; i < 5; i++) {
        al_spool_row r = make_row(i, idem, sizeof idem);
        assert_int_equal(al_store_spool_put(s, &r, &ids[i]), ALERT_OK);
    }
    assert_int_equal(al_store_spool_update(s, ids[2], 3, 99999), ALERT_OK);
    assert_int_equal(al_store_spool_delete(s, ids[1]), ALERT_OK);
    assert_int_equal(al_store_spool_delete(s, ids[1]), ALERT_OK);
    assert_int_equal(al_store_spool_update(s, ids[1], 1, 1), ALERT_ERR_NOT_FOUND);

    spool_seen seen = load_all(s);
    assert_int_equal(seen.n, 4);
    assert_true(seen.ascending);
    assert_true(seen.idem_ok);
    assert_int_equal(seen.ids[0], ids[0]);
    assert_int_equal(seen.ids[1], ids[2]);
    assert_int_equal(seen.attempts[1], 3);
    assert_int_equal(seen.next_at[1], 99999);
    assert_int_equal(seen.attempts[2], 0);
    assert_int_equal(seen.next_at[2], 2003);

    /* Deleting the newest row must not let a later put sort before older ones. */
    assert_int_equal(al_store_spool_delete(s, ids[4]), ALERT_OK);
    al_spool_row r = make_row(5, idem, sizeof idem);
    int64_t id6;
    assert_int_equal(al_store_spool_put(s, &r, &id6), ALERT_OK);
    seen = load_all(s);
    assert_int_equal(seen.n, 4);
    assert_true(seen.ascending);
    assert_int_equal(seen.ids[3], id6);

    /* A callback's non-zero return stops the load and is returned. */
    spool_seen stop = { .ascending = 1, .idem_ok = 1, .stop_after = 2 };
    assert_int_equal(al_store_spool_load(s, collect_spool, &stop), ALERT_ERR_CALLBACK);
    assert_int_equal(stop.n, 2);
    seen = load_all(s);         /* and the statement is usable again */
    assert_int_equal(seen.n, 4);

    r.target = NULL;
    assert_int_equal(al_store_spool_put(s, &r, NULL), ALERT_ERR_INVALID);
    assert_int_equal(al_store_spool_put(s, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(al_store_spool_load(s, NULL, NULL), ALERT_ERR_INVALID);
    al_store_close(s);
}

static int reload_inside(void *ud, const al_spool_row *row)
{
    al_store *s = ud;
    assert_int_equal(al_store_spool_load(s, reload_inside, s), ALERT_ERR_STATE);
    /* Deleting the row being visited is allowed. */
    assert_int_equal(al_store_spool_delete(s, row->id), ALERT_OK);
    return 0;
}

static void load_is_not_reentrant(void **state)
{
    (void)state;
    char path[128], idem[64];
    path_for(path, sizeof path, "reentrant.db");
    al_store *s = open_ok(path);
    for (int i = 0; i < 3; i++) {
        al_spool_row r = make_row(i, idem, sizeof idem);
        assert_int_equal(al_store_spool_put(s, &r, NULL), ALERT_OK);
    }
    assert_int_equal(al_store_spool_load(s, reload_inside, s), ALERT_OK);
    assert_int_equal(load_all(s).n, 0);
    al_store_close(s);
}

static void marks_expire(void **state)
{
    (void)state;
    char path[128];
    path_for(path, sizeof path, "marks.db");
    al_store *s = open_ok(path);
    char *v = NULL;
    assert_int_equal(al_store_mark_put(s, "dedup:a", "1", 1000), ALERT_OK);
    assert_int_equal(al_store_mark_put(s, "dedup:b", "2", 5000), ALERT_OK);
    assert_int_equal(al_store_mark_put(s, "budget:x", "pending", 0), ALERT_OK);

    assert_int_equal(al_store_mark_get(s, "dedup:a", &v, 999), ALERT_OK);
    assert_string_equal(v, "1");
    al_free(v);
    assert_int_equal(al_store_mark_get(s, "dedup:a", &v, 1000), ALERT_ERR_NOT_FOUND);
    assert_null(v);
    assert_int_equal(al_store_mark_get(s, "budget:x", NULL, INT64_MAX), ALERT_OK);
    assert_int_equal(al_store_mark_get(s, "nope", &v, 0), ALERT_ERR_NOT_FOUND);

    /* Replacing changes value and expiry. */
    assert_int_equal(al_store_mark_put(s, "budget:x", "sent", 2000), ALERT_OK);
    assert_int_equal(al_store_mark_get(s, "budget:x", &v, 1999), ALERT_OK);
    assert_string_equal(v, "sent");
    al_free(v);
    assert_int_equal(al_store_mark_get(s, "budget:x", NULL, 2000), ALERT_ERR_NOT_FOUND);

    /* Purge at 2000 drops a and x but keeps b: asked about at time 0, they differ. */
    assert_int_equal(al_store_mark_purge(s, 2000), ALERT_OK);
    assert_int_equal(al_store_mark_get(s, "dedup:a", NULL, 0), ALERT_ERR_NOT_FOUND);
    assert_int_equal(al_store_mark_get(s, "budget:x", NULL, 0), ALERT_ERR_NOT_FOUND);
    assert_int_equal(al_store_mark_get(s, "dedup:b", NULL, 0), ALERT_OK);

    assert_int_equal(al_store_mark_delete(s, "dedup:b"), ALERT_OK);
    assert_int_equal(al_store_mark_delete(s, "dedup:b"), ALERT_OK);
    assert_int_equal(al_store_mark_get(s, "dedup:b", NULL, 0), ALERT_ERR_NOT_FOUND);

    /* An empty value is a value. */
    assert_int_equal(al_store_mark_put(s, "empty", "", 0), ALERT_OK);
    assert_int_equal(al_store_mark_get(s, "empty", &v, 0), ALERT_OK);
    assert_string_equal(v, "");
    al_free(v);

    assert_int_equal(al_store_mark_put(s, "k", NULL, 0), ALERT_ERR_INVALID);
    assert_int_equal(al_store_mark_put(s, "k", "v", -1), ALERT_ERR_INVALID);
    al_store_close(s);
}

static void ledger_sums_and_prunes(void **state)
{
    (void)state;
    char path[128];
    path_for(path, sizeof path, "ledger.db");
    al_store *s = open_ok(path);
    assert_int_equal(al_store_ledger_add(s, 100, AL_LEDGER_TAG, "prod", 1.25), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 100, AL_LEDGER_TAG, "prod", 2.5), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 100, AL_LEDGER_TAG, "prod", 0.25), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 100, AL_LEDGER_TEAM, "prod", 8), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 99, AL_LEDGER_USER, "u1", 1), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 101, AL_LEDGER_KEY, "k1", 0.5), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 101, AL_LEDGER_CUSTOMER, "c1", 0), ALERT_OK);
    assert_int_equal(al_store_ledger_add(s, 101, AL_LEDGER_TEAM, "x", NAN), ALERT_ERR_INVALID);
    assert_int_equal(al_store_ledger_add(s, 101, AL_LEDGER_TEAM, "x", INFINITY),
                     ALERT_ERR_INVALID);
    assert_int_equal(al_store_ledger_add(s, 101, AL_LEDGER_TEAM, NULL, 1), ALERT_ERR_INVALID);

    ledger_seen lg = { 0 };
    assert_int_equal(al_store_ledger_load(s, 100, collect_ledger, &lg), ALERT_OK);
    assert_int_equal(lg.n, 4);          /* day 99 is before from_day */
    assert_int_equal(lg.day[0], 100);
    assert_int_equal(lg.dim[0], AL_LEDGER_TEAM);
    assert_true(lg.amount[0] == 8.0);
    assert_int_equal(lg.dim[1], AL_LEDGER_TAG);
    assert_string_equal(lg.name[1], "prod");
    assert_true(lg.amount[1] == 4.0);   /* 1.25 + 2.5 + 0.25, exact in binary */
    assert_int_equal(lg.day[2], 101);
    assert_int_equal(lg.dim[2], AL_LEDGER_KEY);
    assert_int_equal(lg.dim[3], AL_LEDGER_CUSTOMER);

    assert_int_equal(al_store_ledger_prune(s, 101), ALERT_OK);
    al_store_close(s);
    s = open_ok(path);
    memset(&lg, 0, sizeof lg);
    assert_int_equal(al_store_ledger_load(s, INT32_MIN, collect_ledger, &lg), ALERT_OK);
    assert_int_equal(lg.n, 2);
    assert_int_equal(lg.day[0], 101);
    assert_int_equal(lg.day[1], 101);
    al_store_close(s);
}

static void batch_of_ten_thousand(void **state)
{
    (void)state;
    char path[128], idem[64];
    path_for(path, sizeof path, "batch.db");
    al_store *s = open_ok(path);
    assert_int_equal(al_store_commit(s), ALERT_ERR_STATE);      /* unbalanced */
    assert_int_equal(al_store_begin(s), ALERT_OK);
    for (int i = 0; i < 10000; i++) {
        if (i % 1000 == 0)
            assert_int_equal(al_store_begin(s), ALERT_OK);      /* nested: counted only */
        al_spool_row r = make_row(i, idem, sizeof idem);
        assert_int_equal(al_store_spool_put(s, &r, NULL), ALERT_OK);
        if (i % 1000 == 999)
            assert_int_equal(al_store_commit(s), ALERT_OK);
    }
    assert_int_equal(al_store_mark_put(s, "m", "v", 0), ALERT_OK);
    assert_int_equal(al_store_commit(s), ALERT_OK);
    al_store_close(s);

    s = open_ok(path);
    spool_seen seen = load_all(s);
    assert_int_equal(seen.n, 10000);
    assert_true(seen.ascending);
    assert_true(seen.idem_ok);
    assert_int_equal(al_store_mark_get(s, "m", NULL, 0), ALERT_OK);
    al_store_close(s);
}

static void unfinished_batch_rolls_back_on_close(void **state)
{
    (void)state;
    char path[128], idem[64];
    path_for(path, sizeof path, "rollback.db");
    al_store *s = open_ok(path);
    al_spool_row r = make_row(0, idem, sizeof idem);
    assert_int_equal(al_store_spool_put(s, &r, NULL), ALERT_OK);
    assert_int_equal(al_store_begin(s), ALERT_OK);
    assert_int_equal(al_store_spool_put(s, &r, NULL), ALERT_OK);
    al_store_close(s);
    s = open_ok(path);
    assert_int_equal(load_all(s).n, 1);
    al_store_close(s);
}

static void second_open_in_process(void **state)
{
    (void)state;
    char path[128], err[256];
    path_for(path, sizeof path, "twice.db");
    al_store *s = open_ok(path);
    al_store *t = (al_store *)1;
    assert_int_equal(al_store_open(&t, path, err, sizeof err), ALERT_ERR_STATE);
    assert_null(t);
    assert_non_null(strstr(err, path));

    /* The reason it works: flock on a second open file description of the same
     * file conflicts even within one process. */
    char lock[160];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    close(fd);

    al_store_close(s);
    s = open_ok(path);          /* released on close */
    al_store_close(s);
}

/* The lock belongs to the file: a symlink to it, a dangling symlink that
 * creates it, or "dir/../name" find the lock the first opener holds. */
static void second_open_through_another_name(void **state)
{
    (void)state;
    char path[128], link[128], dangling[128], dotdot[192], err[256];
    path_for(path, sizeof path, "real.db");
    path_for(link, sizeof link, "link.db");
    path_for(dangling, sizeof dangling, "dangling.db");
    snprintf(dotdot, sizeof dotdot, "%s/../%s/real.db", tmp_dir, strrchr(tmp_dir, '/') + 1);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(symlink(path, dangling), 0);

    al_store *t = (al_store *)1;
    assert_int_equal(al_store_open(&t, dangling, err, sizeof err), ALERT_OK);   /* creates real.db */
    assert_non_null(t);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    const char *others[] = { path, link, dotdot };
    for (int i = 0; i < 3; i++) {
        al_store *u = (al_store *)1;
        assert_int_equal(al_store_open(&u, others[i], err, sizeof err), ALERT_ERR_STATE);
        assert_null(u);
        assert_non_null(strstr(err, others[i]));
    }
    char idem[64];
    al_spool_row r = make_row(1, idem, sizeof idem);
    assert_int_equal(al_store_spool_put(t, &r, NULL), ALERT_OK);
    al_store_close(t);

    al_store *s = open_ok(link);        /* released on close; the same database */
    assert_int_equal(load_all(s).n, 1);
    al_store_close(s);
}

static void second_open_from_child(void **state)
{
    (void)state;
    char path[128];
    path_for(path, sizeof path, "child.db");
    al_store *s = open_ok(path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        al_store *t = NULL;
        int rc = al_store_open(&t, path, NULL, 0);
        _exit(rc < 0 ? -rc : 100);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), -ALERT_ERR_STATE);
    al_store_close(s);

    /* With the parent's store closed, the child can open it. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        al_store *t = NULL;
        int rc = al_store_open(&t, path, NULL, 0);
        al_store_close(t);
        _exit(rc < 0 ? -rc : 0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void bad_paths(void **state)
{
    (void)state;
    char err[256];
    al_store *s = NULL;
    assert_int_equal(al_store_open(&s, "/proc/nonexistent/x.db", err, sizeof err), ALERT_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, "/proc/nonexistent/x.db"));

    assert_int_equal(al_store_open(&s, "", err, sizeof err), ALERT_ERR_INVALID);
    assert_int_equal(al_store_open(&s, NULL, NULL, 0), ALERT_ERR_INVALID);
    assert_int_equal(al_store_open(NULL, "x", NULL, 0), ALERT_ERR_INVALID);

    /* A directory. */
    char path[128];
    path_for(path, sizeof path, "a_directory");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(al_store_open(&s, path, err, sizeof err), ALERT_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, path));
    char lock[160];
    snprintf(lock, sizeof lock, "%s.lock", path);
    assert_int_equal(access(lock, F_OK), -1);      /* no stray lock file beside it */

    /* A file that is not a database. */
    path_for(path, sizeof path, "garbage.db");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not an SQLite database. ", f);
    fclose(f);
    assert_int_equal(al_store_open(&s, path, err, sizeof err), ALERT_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, path));
    /* ... and the failed open released its lock: the same error again, not STATE. */
    assert_int_equal(al_store_open(&s, path, err, sizeof err), ALERT_ERR_IO);
}

static void newer_schema_is_refused(void **state)
{
    (void)state;
    char path[128], err[256];
    path_for(path, sizeof path, "future.db");
    al_store *s = open_ok(path);
    al_store_close(s);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = (al_store *)1;
    assert_int_equal(al_store_open(&s, path, err, sizeof err), ALERT_ERR_STATE);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));
}

static void committed_batch_survives_sigkill(void **state)
{
    (void)state;
    char path[128];
    path_for(path, sizeof path, "crash.db");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        al_store *s = NULL;
        char idem[64];
        if (al_store_open(&s, path, NULL, 0) != ALERT_OK || al_store_begin(s) != ALERT_OK)
            _exit(1);
        for (int i = 0; i < 1000; i++) {
            al_spool_row r = make_row(i, idem, sizeof idem);
            if (al_store_spool_put(s, &r, NULL) != ALERT_OK)
                _exit(2);
        }
        if (al_store_commit(s) != ALERT_OK)
            _exit(3);
        /* Rows put after the commit and never committed must not appear. */
        if (al_store_begin(s) != ALERT_OK)
            _exit(4);
        al_spool_row r = make_row(5000, idem, sizeof idem);
        if (al_store_spool_put(s, &r, NULL) != ALERT_OK)
            _exit(5);
        kill(getpid(), SIGKILL);
        _exit(6);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status))
        print_error("child exited with %d\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    al_store *s = open_ok(path);
    spool_seen seen = load_all(s);
    assert_int_equal(seen.n, 1000);
    assert_true(seen.ascending);
    assert_true(seen.idem_ok);
    al_store_close(s);
}

/* ---- damaged rows ---------------------------------------------------------- */

/* SQL run behind the store's back, as another tool or a damaged disk would. */
static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* A row whose record header claims a text longer than the record: SQLite
 * reports SQLITE_CORRUPT when the row is read. Its header is known because
 * every value is chosen: 14 header bytes (schema format 4), then the values. */
static const char corrupt_row_sql[] =
    "INSERT INTO spool(target_kind, target, alert_type, level, text, body, extra, idem,"
    " attempt, created_ms, next_at_ms, deadline_ms) VALUES(3, 'http://x', 'db_exceptions',"
    " 2, 'XXXXXXXXXXXXXXXXXXXX', NULL, 'x', 'corrupt-idem', 0, 5, 5, 5)";

static void corrupt_that_row(const char *path)
{
    static const unsigned char record[] = {
        14, 0, 1, 29, 39, 1, 53, 0, 15, 37, 8, 1, 1, 1,
        3, 'h', 't', 't', 'p', ':', '/', '/', 'x',
    };
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    unsigned char *all = malloc((size_t)size);
    assert_non_null(all);
    rewind(f);
    assert_int_equal(fread(all, 1, (size_t)size, f), (size_t)size);
    int patched = 0;
    for (long i = 0; i + (long)sizeof record <= size; i++) {
        if (memcmp(all + i, record, sizeof record) != 0)
            continue;
        assert_int_equal(fseek(f, i + 6, SEEK_SET), 0);    /* text: 20 bytes -> 57 */
        assert_int_equal(fputc(127, f), 127);
        patched++;
    }
    fclose(f);
    free(all);
    assert_true(patched >= 1);
}

/* A database whose spool holds, in this order: a good row, a row without a
 * target (NOT NULL lifted, as an old or foreign writer could leave it), a
 * row SQLite cannot decode, a good row. */
static void write_damaged_spool(const char *path)
{
    char idem[64];
    al_store *s = open_ok(path);
    al_spool_row r = make_row(1, idem, sizeof idem);
    assert_int_equal(al_store_spool_put(s, &r, NULL), ALERT_OK);
    al_store_close(s);
    sql_exec(path, "PRAGMA writable_schema=ON;"
                   "UPDATE sqlite_schema SET sql = replace(sql, 'target TEXT NOT NULL', 'target TEXT')"
                   " WHERE name = 'spool';");
    sql_exec(path, "INSERT INTO spool(target_kind, target, alert_type, level, text, idem, attempt,"
                   " created_ms, next_at_ms, deadline_ms) VALUES(3, NULL, 'db_exceptions', 2,"
                   " 'no target', 'null-idem', 0, 5, 5, 5)");
    sql_exec(path, corrupt_row_sql);
    s = open_ok(path);
    r = make_row(4, idem, sizeof idem);
    assert_int_equal(al_store_spool_put(s, &r, NULL), ALERT_OK);
    al_store_close(s);          /* checkpointed: every row is in the main file */
    corrupt_that_row(path);
}

typedef struct damaged_seen {
    int n, good, damaged;
    int64_t ids[8];
} damaged_seen;

static int collect_damaged(void *ud, const al_spool_row *row)
{
    damaged_seen *seen = ud;
    if (seen->n < 8)
        seen->ids[seen->n] = row->id;
    seen->n++;
    if (row->target && row->alert_type && row->text && row->idem)
        seen->good++;
    else if (!row->target && !row->alert_type && !row->text && !row->idem)
        seen->damaged++;
    return 0;
}

/* Every damaged row is handed over alike (id only) and the load goes on. */
static void damaged_rows_do_not_stop_the_load(void **state)
{
    (void)state;
    char path[128];
    path_for(path, sizeof path, "damaged.db");
    write_damaged_spool(path);
    al_store *s = open_ok(path);
    damaged_seen seen = { 0 };
    assert_int_equal(al_store_spool_load(s, collect_damaged, &seen), ALERT_OK);
    assert_int_equal(seen.n, 4);
    assert_int_equal(seen.good, 2);
    assert_int_equal(seen.damaged, 2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seen.ids[i], i + 1);
    /* a damaged row can be deleted: the next load has only the good ones */
    assert_int_equal(al_store_spool_delete(s, 2), ALERT_OK);
    assert_int_equal(al_store_spool_delete(s, 3), ALERT_OK);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(al_store_spool_load(s, collect_damaged, &seen), ALERT_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.good, 2);
    al_store_close(s);
}

static int count_rows(void *ud, const al_spool_row *row)
{
    (void)row;
    (*(int *)ud)++;
    return 0;
}

static void allocation_failures(void **state)
{
    (void)state;
    char path[128], idem[64], err[256];
    path_for(path, sizeof path, "alloc.db");
    int opened = 0;
    for (long n = 0; n <= 40; n++) {
        al_alloc_fail_after(n);
        al_store *s = NULL;
        int rc = al_store_open(&s, path, err, sizeof err);
        if (rc != ALERT_OK) {
            al_alloc_fail_after(-1);
            assert_int_equal(rc, ALERT_ERR_NOMEM);
            assert_null(s);
            continue;
        }
        opened++;
        al_spool_row r = make_row((int)n, idem, sizeof idem);
        rc = al_store_spool_put(s, &r, NULL);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        rc = al_store_mark_put(s, "k", "value", 0);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        char *v = NULL;
        rc = al_store_mark_get(s, "k", &v, 0);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        assert_true((rc == ALERT_OK) == (v != NULL));
        al_free(v);
        int rows = 0;
        rc = al_store_spool_load(s, count_rows, &rows);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        al_store_close(s);
        al_alloc_fail_after(-1);
    }
    al_alloc_fail_after(-1);
    assert_true(opened > 30);
    al_store *s = open_ok(path);    /* the file is intact */
    int rows = 0;
    assert_int_equal(al_store_spool_load(s, count_rows, &rows), ALERT_OK);
    assert_int_equal(rows, opened);
    al_store_close(s);
}

/* ---- fixture ------------------------------------------------------------- */

static int make_tmp(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_store.XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_tmp(void **state)
{
    (void)state;
    DIR *d = opendir(tmp_dir);
    if (!d)
        return -1;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    return rmdir(tmp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reopen_keeps_everything),
        cmocka_unit_test(new_files_are_private),
        cmocka_unit_test(spool_order_update_delete),
        cmocka_unit_test(load_is_not_reentrant),
        cmocka_unit_test(marks_expire),
        cmocka_unit_test(ledger_sums_and_prunes),
        cmocka_unit_test(batch_of_ten_thousand),
        cmocka_unit_test(unfinished_batch_rolls_back_on_close),
        cmocka_unit_test(second_open_in_process),
        cmocka_unit_test(second_open_through_another_name),
        cmocka_unit_test(second_open_from_child),
        cmocka_unit_test(bad_paths),
        cmocka_unit_test(newer_schema_is_refused),
        cmocka_unit_test(committed_batch_survives_sigkill),
        cmocka_unit_test(damaged_rows_do_not_stop_the_load),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
