/* SPDX-License-Identifier: MIT */
/* Nothing lost: a receiver that is down for a while, and a process killed with
 * deliveries pending and started again on the same state_path. */

#include <sqlite3.h>
#include <sys/mount.h>

#include "harness.h"

static int64_t clock_ms = T0;
static int64_t fixed_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

/* What the library logged, for the tests that read it. */
static char logged[64][256];
static int n_logged;
static alert_ctx *watched;               /* its deliveries_dropped, read when it logs */
static uint64_t dropped_when_logged;
static void collect_log(int level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    if (n_logged < 64)
        snprintf(logged[n_logged++], sizeof logged[0], "%s", msg);
    if (watched && strstr(msg, "were dropped")) {
        alert_stats s = ALERT_STATS_INIT;
        alert_stats_get(watched, &s);
        dropped_when_logged = s.deliveries_dropped;
    }
}

/* The number logged before needle, or -1 when no line has it. */
static long logged_number(const char *needle)
{
    for (int i = 0; i < n_logged; i++)
        if (strstr(logged[i], needle))
            return strtol(logged[i], NULL, 10);
    return -1;
}

static int count_logged(const char *needle)
{
    int n = 0;
    for (int i = 0; i < n_logged; i++)
        n += strstr(logged[i], needle) != NULL;
    return n;
}

static alert_ctx *webhook_ctx_with(int port, const char *state_path, const char *extra,
                                   int *rc_out)
{
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_config_set_clock(cfg, fixed_clock, NULL);
    alert_config_set_log(cfg, collect_log, NULL);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "alerting: [webhook]\n"
             "alerting_args:\n  worker_threads: 0\n  webhook_url: \"http://127.0.0.1:%d/hook\"\n"
             "  state_path: \"%s\"\n  shutdown_timeout: 0.1\n  http_timeout: 2\n"
             "  webhook_alert_types: [budget_alerts, llm_exceptions, db_exceptions]\n%s", port,
             state_path, extra);
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    alert_ctx *ctx = NULL;
    alert_error err = ALERT_ERROR_INIT;
    *rc_out = alert_ctx_create(&ctx, cfg, &err);
    alert_config_free(cfg);
    return ctx;
}

static alert_ctx *webhook_ctx(int port, const char *state_path, int *rc_out)
{
    return webhook_ctx_with(port, state_path, "", rc_out);
}

static void down_for_a_minute_then_back(void **state)
{
    (void)state;
    harness *h = h_new(NULL);
    int port = rcv_port(h->rcv);
    h_start(h);
    rcv_stop(h->rcv);                   /* the receiver goes away */
    h->rcv = NULL;
    for (int i = 0; i < 20; i++) {
        char text[32];
        snprintf(text, sizeof text, "during the outage %d", i);
        assert_int_equal(alert_emit(h->ctx, "db_exceptions", ALERT_LEVEL_HIGH, text, NULL), ALERT_OK);
    }
    for (int s = 0; s < 60; s += 5)
        h_advance(h, 5000);
    alert_stats st;
    h_stats(h, &st);
    assert_int_equal(st.deliveries_ok, 0);
    assert_true(st.deliveries_retried > 0);
    assert_int_equal(st.deliveries_dropped, 0);
    h->rcv = rcv_start(port);           /* back, on the same address */
    assert_non_null(h->rcv);
    for (int i = 0; i < 20 && (h_stats(h, &st), st.queue_depth > 0); i++)
        h_advance(h, 60000);
    h_stats(h, &st);
    assert_int_equal(st.deliveries_ok, 20);
    assert_int_equal(st.queue_depth, 0);
    for (int i = 0; i < 20; i++) {
        char text[32];
        snprintf(text, sizeof text, "during the outage %d", i);
        assert_true(h_find(h, text) >= 0);
    }
    h_free(h);
}

static void sigkill_with_1000_pending_loses_nothing(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/alerting.db", dir);
    int port = h_free_port();             /* nothing listens there yet: the receiver is down */

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int rc;
        alert_ctx *ctx = webhook_ctx(port, path, &rc);
        if (rc != ALERT_OK)
            _exit(10);
        for (int i = 0; i < 1000; i++) {
            char text[32];
            snprintf(text, sizeof text, "pending #%d", i);
            if (alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, text, NULL) != ALERT_OK)
                _exit(11);
        }
        alert_poll(ctx, 0);
        alert_flush(ctx, 10000);        /* every attempt is refused: all wait for a retry */
        alert_stats s = ALERT_STATS_INIT;
        alert_stats_get(ctx, &s);
        if (s.queue_depth != 1000 || s.deliveries_ok != 0)
            _exit(12);
        kill(getpid(), SIGKILL);        /* no destroy, no flush: a crash */
        _exit(13);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    rcv *r = rcv_start(port);           /* the receiver is up now */
    assert_non_null(r);
    clock_ms = T0 + 3600 * 1000;
    int rc;
    alert_ctx *ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    int rc2;
    alert_ctx *second = webhook_ctx(port, path, &rc2);
    assert_int_equal(rc2, ALERT_ERR_STATE);     /* one process per state_path */
    assert_null(second);
    alert_stats s = ALERT_STATS_INIT;
    for (int i = 0; i < 50; i++) {
        clock_ms += 60000;
        alert_poll(ctx, 0);
        alert_flush(ctx, 10000);
        alert_stats_get(ctx, &s);
        if (s.queue_depth == 0)
            break;
    }
    assert_int_equal(s.queue_depth, 0);
    size_t n = rcv_count(r);
    assert_true(n >= 1000);
    char *seen = calloc(1000, 1);
    char (*keys)[40] = calloc(1000, 40);
    for (size_t i = 0; i < n; i++) {
        rcv_request q;
        assert_int_equal(rcv_get(r, i, &q), 0);
        json_error_t jerr;
        json_t *j = json_loads(q.body, 0, &jerr);
        assert_non_null(j);
        int k = -1;
        assert_int_equal(sscanf(json_string_value(json_object_get(j, "event_message")), "pending #%d", &k), 1);
        assert_true(k >= 0 && k < 1000);
        char id[64];
        assert_non_null(rcv_request_header(&q, "webhook-id", id, sizeof id));
        if (seen[k])
            assert_string_equal(keys[k], id);  /* a duplicate carries the same key */
        seen[k] = 1;
        snprintf(keys[k], 40, "%.39s", id);
        json_decref(j);
        rcv_request_free(&q);
    }
    for (int k = 0; k < 1000; k++)
        if (!seen[k])
            fail_msg("alert pending #%d was lost", k);
    free(seen);
    free(keys);
    alert_ctx_destroy(ctx);
    /* delivered means forgotten: a third start has nothing to send */
    ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    alert_stats_get(ctx, &s);
    assert_int_equal(s.queue_depth, 0);
    alert_ctx_destroy(ctx);
    rcv_stop(r);
    h_rmdir(dir);
}

/* Two contexts on one database, the second through a symlink: it is refused,
 * as a second opener of the same name is. */
static void second_ctx_through_a_symlink_is_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], link[128];
    snprintf(path, sizeof path, "%s/alerting.db", dir);
    snprintf(link, sizeof link, "%s/via-link.db", dir);
    assert_int_equal(symlink(path, link), 0);
    int port = h_free_port();
    int rc;
    alert_ctx *ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    int rc2;
    alert_ctx *second = webhook_ctx(port, link, &rc2);
    assert_int_equal(rc2, ALERT_ERR_STATE);
    assert_null(second);
    alert_ctx_destroy(ctx);
    ctx = webhook_ctx(port, link, &rc);     /* one at a time, either name */
    assert_int_equal(rc, ALERT_OK);
    second = webhook_ctx(port, path, &rc2);
    assert_int_equal(rc2, ALERT_ERR_STATE);
    assert_null(second);
    alert_ctx_destroy(ctx);
    h_rmdir(dir);
}

/* ---- a spool damaged behind the library's back ---------------------------- */

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The good row (id 1) again, with one column changed. */
#define COPY_ROW(kind, target, text, extra, idem)                                           \
    "INSERT INTO spool(target_kind, target, alert_type, level, text, body, extra, idem,"    \
    " attempt, created_ms, next_at_ms, deadline_ms) SELECT " kind ", " target ", alert_type," \
    " level, " text ", body, " extra ", " idem ", attempt, created_ms, next_at_ms, deadline_ms" \
    " FROM spool WHERE id = 1"

/* Patches the record header of the row COPY_ROW(..."'corrupt'"...) wrote so that it
 * claims more bytes than it has: SQLite answers SQLITE_CORRUPT when it is read. The
 * header is known: every value is chosen (schema format 4: 0 and 1 take no bytes). */
static void corrupt_record(const char *path)
{
    static const unsigned char record[] = {
        14, 0, 1, 29, 39, 1, 27, 0, 15, 37, 8, 1, 1, 1,
        3, 'h', 't', 't', 'p', ':', '/', '/', 'x',
    };
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    unsigned char *all = malloc((size_t)size);
    assert_non_null(all);
    rewind(f);
    assert_int_equal(fread(all, 1, (size_t)size, f), (size_t)size);
    int patched = 0;
    for (long i = 0; i + (long)sizeof record <= size; i++) {
        if (memcmp(all + i, record, sizeof record) != 0)
            continue;
        assert_int_equal(fseek(f, i + 6, SEEK_SET), 0);    /* text: 7 bytes -> 57 */
        assert_int_equal(fputc(127, f), 127);
        patched++;
    }
    fclose(f);
    free(all);
    assert_true(patched >= 1);
}

/* One good pending delivery and six that cannot be restored, each damaged its own
 * way: the start goes on, each bad one is dropped, counted and logged alike, and
 * the good one is delivered. */
static void damaged_spool_rows_do_not_block_the_start(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/alerting.db", dir);
    int port = h_free_port();           /* down: the alert stays pending */
    clock_ms = T0;
    int rc;
    alert_ctx *ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    assert_int_equal(alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, "the good one", NULL), ALERT_OK);
    alert_poll(ctx, 0);
    alert_flush(ctx, 5000);
    alert_ctx_destroy(ctx);

    sql_exec(path, COPY_ROW("target_kind", "target", "text", "'not json'", "'i2'"));
    sql_exec(path, COPY_ROW("99", "target", "text", "extra", "'i3'"));          /* unknown kind */
    sql_exec(path, COPY_ROW("7", "'gone'", "text", "extra", "'i4'"));           /* no such transport */
    sql_exec(path, COPY_ROW("target_kind", "target", "text", "'{\"type\": \"x\"}'", "'i5'"));
    sql_exec(path, "PRAGMA writable_schema=ON;"
                   "UPDATE sqlite_schema SET sql = replace(sql, ' text TEXT NOT NULL', ' text TEXT')"
                   " WHERE name = 'spool';");
    sql_exec(path, COPY_ROW("target_kind", "target", "NULL", "extra", "'i6'"));    /* no text */
    sql_exec(path, COPY_ROW("3", "'http://x'", "'corrupt'", "'x'", "'corrupt-idem'"));
    sql_exec(path, "UPDATE spool SET alert_type = 'db_exceptions', level = 2, attempt = 0,"
                   " created_ms = 5, next_at_ms = 5, deadline_ms = 5, body = NULL"
                   " WHERE idem = 'corrupt-idem'");
    corrupt_record(path);

    rcv *r = rcv_start(port);
    assert_non_null(r);
    clock_ms = T0 + 600000;             /* past the refused attempt's backoff */
    n_logged = 0;
    ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    alert_stats s = ALERT_STATS_INIT;
    alert_stats_get(ctx, &s);
    assert_int_equal(s.deliveries_dropped, 6);
    assert_int_equal(s.queue_depth, 1);
    assert_int_equal(count_logged("could not be restored and is dropped"), 6);
    for (int id = 2; id <= 7; id++) {
        char line[96];
        snprintf(line, sizeof line, "state_path: pending delivery #%d could not be restored", id);
        assert_int_equal(count_logged(line), 1);
    }
    assert_int_equal(count_logged("http://127.0.0.1"), 0);
    alert_poll(ctx, 0);
    assert_int_equal(alert_flush(ctx, 10000), ALERT_OK);
    assert_int_equal(rcv_count(r), 1);
    alert_ctx_destroy(ctx);

    n_logged = 0;                       /* dropped means deleted: nothing the next time */
    ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    alert_stats_get(ctx, &s);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(s.deliveries_dropped, 0);
    alert_ctx_destroy(ctx);
    rcv_stop(r);
    h_rmdir(dir);
}

/* 2000 deliveries pending on a 1 MB filesystem (a real tmpfs: needs root, as in
 * CI; skipped otherwise). The shutdown says truthfully what was kept and what was
 * dropped, counts the dropped ones, and the next start restores what was kept. */
static char full_dir[64];               /* mounted; the teardown unmounts it even on failure */

static int unmount_full_disk(void **state)
{
    (void)state;
    if (full_dir[0]) {
        umount(full_dir);
        h_rmdir(full_dir);
        full_dir[0] = '\0';
    }
    return 0;
}

static void full_disk_is_reported_truthfully(void **state)
{
    (void)state;
    char dir[] = "/tmp/libalerting-full-XXXXXX";
    assert_non_null(mkdtemp(dir));
    if (geteuid() != 0 || mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        print_message("skipped: mounting a 1 MB tmpfs needs root (CI runs as root)\n");
        rmdir(dir);
        skip();
    }
    snprintf(full_dir, sizeof full_dir, "%s", dir);
    char path[128];
    snprintf(path, sizeof path, "%s/alerting.db", dir);
    int port = h_free_port();           /* down: everything stays pending */
    clock_ms = T0;
    int rc;
    alert_ctx *ctx = webhook_ctx_with(port, path, "  max_queue: 10000\n", &rc);
    assert_int_equal(rc, ALERT_OK);
    char text[400];
    for (int i = 0; i < 2000; i++) {
        snprintf(text, sizeof text, "pending #%d %0300d", i, i);
        assert_int_equal(alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, text, NULL), ALERT_OK);
        if (i % 50 == 49)
            alert_poll(ctx, 0);
    }
    alert_poll(ctx, 0);
    alert_flush(ctx, 5000);             /* refused: all wait for a retry */
    alert_stats s = ALERT_STATS_INIT;
    alert_stats_get(ctx, &s);
    assert_int_equal(s.queue_depth, 2000);
    assert_int_equal(s.deliveries_dropped, 0);

    n_logged = 0;
    watched = ctx;
    dropped_when_logged = 0;
    alert_ctx_destroy(ctx);
    watched = NULL;
    long kept = logged_number("kept in state_path");
    long dropped = logged_number("could not be saved in state_path");
    if (kept < 0)
        kept = 0;
    assert_true(dropped > 0);           /* 1 MB does not hold 2000 of them */
    assert_int_equal(kept + dropped, 2000);
    assert_int_equal(dropped_when_logged, (uint64_t)dropped);

    /* space again: the next start restores exactly what was said to be kept */
    assert_int_equal(mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=16m,mode=0700"), 0);
    n_logged = 0;
    ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    alert_stats_get(ctx, &s);
    assert_int_equal(s.queue_depth, (uint64_t)kept);
    assert_int_equal(s.deliveries_dropped, 0);
    alert_ctx_destroy(ctx);
    assert_int_equal(umount(dir), 0);
    assert_int_equal(rmdir(dir), 0);
    full_dir[0] = '\0';
}

static void observe_crossed(alert_ctx *ctx)
{
    alert_budget b = ALERT_BUDGET_INIT;
    b.entity = ALERT_ENTITY_TEAM;
    b.entity_id = "team-a";
    b.spend = 150;
    b.max_budget = 100;
    assert_int_equal(alert_on_budget(ctx, &b), ALERT_OK);
}

/* A budget alert pending at a crash is replayed; its delivery settles the threshold
 * in the new process, so the threshold neither fires twice nor stays held. */
static void budget_mark_settles_after_a_crash(void **state)
{
    int refused = *(int *)*state;       /* 1: the replayed delivery is refused for good */
    char dir[] = "/tmp/libalerting-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/alerting.db", dir);
    int port = h_free_port();
    clock_ms = T0;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int rc;
        alert_ctx *ctx = webhook_ctx(port, path, &rc);
        if (rc != ALERT_OK)
            _exit(10);
        observe_crossed(ctx);
        alert_poll(ctx, 0);
        alert_flush(ctx, 5000);         /* refused: waits for a retry */
        alert_stats s = ALERT_STATS_INIT;
        alert_stats_get(ctx, &s);
        if (s.alerts_raised != 1 || s.queue_depth != 1)
            _exit(12);
        kill(getpid(), SIGKILL);
        _exit(13);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    rcv *r = rcv_start(port);
    assert_non_null(r);
    if (refused)
        rcv_push(r, 400, NULL, "no");
    clock_ms = T0 + 600000;
    int rc;
    alert_ctx *ctx = webhook_ctx(port, path, &rc);
    assert_int_equal(rc, ALERT_OK);
    observe_crossed(ctx);               /* held: its alert is on its way again */
    alert_poll(ctx, 0);
    assert_int_equal(alert_flush(ctx, 10000), ALERT_OK);
    assert_int_equal(rcv_count(r), 1);
    if (refused) {
        /* given up, so re-armed in this process: raised and delivered again */
        observe_crossed(ctx);
        alert_poll(ctx, 0);
        assert_int_equal(alert_flush(ctx, 10000), ALERT_OK);
        assert_int_equal(rcv_count(r), 2);
    }
    size_t delivered = rcv_count(r);
    observe_crossed(ctx);               /* delivered, so sent: not again */
    alert_poll(ctx, 0);
    alert_flush(ctx, 10000);
    alert_stats s = ALERT_STATS_INIT;
    alert_stats_get(ctx, &s);
    assert_int_equal(s.alerts_raised, (uint64_t)refused);
    assert_int_equal(rcv_count(r), delivered);
    alert_ctx_destroy(ctx);
    ctx = webhook_ctx(port, path, &rc);     /* and after another restart, still sent */
    assert_int_equal(rc, ALERT_OK);
    observe_crossed(ctx);
    alert_poll(ctx, 0);
    alert_flush(ctx, 10000);
    assert_int_equal(rcv_count(r), delivered);
    alert_ctx_destroy(ctx);
    rcv_stop(r);
    h_rmdir(dir);
}

static int delivered_case = 0, refused_case = 1;

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(down_for_a_minute_then_back),
        cmocka_unit_test(sigkill_with_1000_pending_loses_nothing),
        cmocka_unit_test(second_ctx_through_a_symlink_is_refused),
        cmocka_unit_test(damaged_spool_rows_do_not_block_the_start),
        cmocka_unit_test_teardown(full_disk_is_reported_truthfully, unmount_full_disk),
        cmocka_unit_test_prestate(budget_mark_settles_after_a_crash, &delivered_case),
        cmocka_unit_test_prestate(budget_mark_settles_after_a_crash, &refused_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
