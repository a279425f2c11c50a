/* SPDX-License-Identifier: MIT */
/* The SQLite store behind state_path (store.h): spool, marks, schedules and the
 * ledger in one WAL database, locked to one process. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerting.h"
#include "alloc.h"

/* Bumped by every schema change; open migrates older files and refuses newer ones. */
#define STORE_SCHEMA_VERSION 1

static const char schema_v1[] =
    "CREATE TABLE spool("
    " id INTEGER PRIMARY KEY,"
    " target_kind INTEGER NOT NULL,"
    " target TEXT NOT NULL,"
    " alert_type TEXT NOT NULL,"
    " level INTEGER NOT NULL,"
    " text TEXT NOT NULL,"
    " body BLOB,"
    " extra TEXT,"
    " idem TEXT NOT NULL,"
    " attempt INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " next_at_ms INTEGER NOT NULL,"
    " deadline_ms INTEGER NOT NULL);"
    "CREATE TABLE marks("
    " key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " expires_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE schedules("
    " name TEXT PRIMARY KEY,"
    " last_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE ledger("
    " day INTEGER NOT NULL,"
    " dim INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " amount REAL NOT NULL,"
    " PRIMARY KEY(day, dim, name)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SPOOL_PUT,
    ST_SPOOL_UPDATE,
    ST_SPOOL_DELETE,
    ST_SPOOL_LOAD,
    ST_SPOOL_GET,
    ST_MARK_PUT,
    ST_MARK_GET,
    ST_MARK_DELETE,
    ST_MARK_PURGE,
    ST_SCHED_PUT,
    ST_SCHED_GET,
    ST_LEDGER_ADD,
    ST_LEDGER_LOAD,
    ST_LEDGER_PRUNE,
    ST__COUNT
};

/* The spool's INTEGER PRIMARY KEY has no AUTOINCREMENT: a new rowid is always
 * max(rowid) + 1, so ids order rows as they were put, which is all replay needs. */
static const char *const statement_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SPOOL_PUT] =
        "INSERT INTO spool(target_kind, target, alert_type, level, text, body, extra,"
        " idem, attempt, created_ms, next_at_ms, deadline_ms)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_SPOOL_UPDATE] = "UPDATE spool SET attempt = ?2, next_at_ms = ?3 WHERE id = ?1",
    [ST_SPOOL_DELETE] = "DELETE FROM spool WHERE id = ?1",
    /* The load walks the ids (keys only: no record is decoded) and reads each row
     * on its own, so that a damaged record is one row skipped, not a failed load. */
    [ST_SPOOL_LOAD] = "SELECT id FROM spool ORDER BY id",
    [ST_SPOOL_GET] =
        "SELECT id, target_kind, target, alert_type, level, text, body, extra, idem,"
        " attempt, created_ms, next_at_ms, deadline_ms FROM spool WHERE id = ?1",
    [ST_MARK_PUT] =
        "INSERT INTO marks(key, value, expires_ms) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
        " expires_ms = excluded.expires_ms",
    [ST_MARK_GET] = "SELECT value FROM marks WHERE key = ?1 AND (expires_ms = 0 OR expires_ms > ?2)",
    [ST_MARK_DELETE] = "DELETE FROM marks WHERE key = ?1",
    [ST_MARK_PURGE] = "DELETE FROM marks WHERE expires_ms <> 0 AND expires_ms <= ?1",
    [ST_SCHED_PUT] =
        "INSERT INTO schedules(name, last_ms) VALUES(?1, ?2)"
        " ON CONFLICT(name) DO UPDATE SET last_ms = excluded.last_ms",
    [ST_SCHED_GET] = "SELECT last_ms FROM schedules WHERE name = ?1",
    [ST_LEDGER_ADD] =
        "INSERT INTO ledger(day, dim, name, amount) VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(day, dim, name) DO UPDATE SET amount = amount + excluded.amount",
    [ST_LEDGER_LOAD] =
        "SELECT day, dim, name, amount FROM ledger WHERE day >= ?1 ORDER BY day, dim, name",
    [ST_LEDGER_PRUNE] = "DELETE FROM ledger WHERE day < ?1",
};

struct al_store {
    sqlite3 *db;
    int lock_fd;
    int depth;              /* nesting of al_store_begin */
    int batch_open;         /* the outermost BEGIN succeeded */
    int batch_lost;         /* SQLite rolled the open batch back after an error */
    int64_t batch_first_put;    /* the first spool id put in the open batch, or 0 */
    int64_t lost_from;      /* spool ids from here on were rolled back (0: none) */
    sqlite3_stmt *st[ST__COUNT];
    char last_error[256];
};

static void err_set(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_set(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static int code_of(int sqlite_rc)
{
    return (sqlite_rc & 0xff) == SQLITE_NOMEM ? ALERT_ERR_NOMEM : ALERT_ERR_IO;
}

/* The open batch is gone: the rows it put are not in the file, and since a new
 * id is max(id) + 1 their ids will be given again. */
static void batch_rolled_back(al_store *s)
{
    if (s->batch_first_put && (!s->lost_from || s->batch_first_put < s->lost_from))
        s->lost_from = s->batch_first_put;
    s->batch_first_put = 0;
}

/* Records SQLite's message (it names tables and columns, never bound values) and
 * notices when the error has rolled an open batch back. */
static int store_fail(al_store *s, int sqlite_rc)
{
    snprintf(s->last_error, sizeof s->last_error, "%s",
             sqlite3_errcode(s->db) != SQLITE_OK ? sqlite3_errmsg(s->db)
                                                 : sqlite3_errstr(sqlite_rc));
    if (s->batch_open && sqlite3_get_autocommit(s->db)) {
        s->batch_open = 0;
        s->batch_lost = 1;
        batch_rolled_back(s);
    }
    return code_of(sqlite_rc);
}

static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);     /* frees the SQLITE_TRANSIENT copies now */
}

/* Steps a statement that returns no rows. */
static int run(al_store *s, sqlite3_stmt *st, int bind_rc)
{
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    int out = rc == SQLITE_DONE ? ALERT_OK : store_fail(s, rc);
    stmt_done(st);
    return out;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* ---- open / close ------------------------------------------------------ */

static int exec_pragma_text(sqlite3 *db, const char *sql, char *value, size_t value_size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    value[0] = '\0';
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t)
            snprintf(value, value_size, "%s", (const char *)t);
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

static int read_user_version(sqlite3 *db, int *version)
{
    char v[32];
    int rc = exec_pragma_text(db, "PRAGMA user_version", v, sizeof v);
    if (rc == SQLITE_OK)
        *version = (int)strtol(v, NULL, 10);
    return rc;
}

/* Creates or checks the schema inside one transaction, so a crash in the middle
 * leaves either nothing or all of it. */
static int ensure_schema(al_store *s, const char *path, char *err, size_t err_size)
{
    int version = 0;
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = read_user_version(s->db, &version);
    if (rc == SQLITE_OK && version == 0)
        rc = sqlite3_exec(s->db, schema_v1, NULL, NULL, NULL);
    if (rc == SQLITE_OK && version > STORE_SCHEMA_VERSION) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        err_set(err, err_size,
                "state_path %s: written by a newer libalerting (schema %d, this one knows %d)",
                path, version, STORE_SCHEMA_VERSION);
        return ALERT_ERR_STATE;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        err_set(err, err_size, "state_path %s: cannot set up the schema: %s", path,
                sqlite3_errmsg(s->db));
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return code_of(rc);
    }
    return ALERT_OK;
}

/* One opener per file: an flock on "<resolved path>.lock". flock locks belong to the open
 * file description, so a second open() in this same process conflicts as a
 * second process does (fcntl locks would not: they are per process). */
static int take_lock(al_store *s, const char *resolved, const char *path, char *err,
                     size_t err_size)
{
    size_t n = strlen(resolved);
    char *lock_path = al_malloc(n + sizeof ".lock");
    if (!lock_path) {
        err_set(err, err_size, "out of memory");
        return ALERT_ERR_NOMEM;
    }
    memcpy(lock_path, resolved, n);
    memcpy(lock_path + n, ".lock", sizeof ".lock");

    int rc = ALERT_OK;
    /* O_CLOEXEC sets FD_CLOEXEC atomically: a host thread's fork+exec between an
     * open and a later F_SETFD would carry the lock into the new program. */
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        err_set(err, err_size, "state_path %s: cannot open %s: %s", path, lock_path,
                strerror(errno));
        rc = ALERT_ERR_IO;
    } else {
        int r;
        do
            r = flock(s->lock_fd, LOCK_EX | LOCK_NB);
        while (r < 0 && errno == EINTR);
        if (r < 0 && errno == EWOULDBLOCK) {
            err_set(err, err_size,
                    "state_path %s is in use by another process or alert_ctx (%s is locked)",
                    path, lock_path);
            rc = ALERT_ERR_STATE;
        } else if (r < 0) {
            err_set(err, err_size, "state_path %s: cannot lock %s: %s", path, lock_path,
                    strerror(errno));
            rc = ALERT_ERR_IO;
        }
    }
    al_free(lock_path);
    return rc;
}

/* SQLite creates files 0644 less the umask; the spool holds webhook URLs and
 * routing keys, so the database is created 0600 first (SQLite gives its -wal and
 * -shm files the database's mode). An existing file keeps its mode. */
static int create_private(const char *path, char *err, size_t err_size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, err_size, "state_path %s: cannot open: %s", path, strerror(errno));
        return ALERT_ERR_IO;
    }
    close(fd);
    return ALERT_OK;
}

/* resolved is opened; path (as configured) names it in errors. */
static int open_db(al_store *s, const char *resolved, const char *path, char *err,
                   size_t err_size)
{
    int rc = sqlite3_open_v2(resolved, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        err_set(err, err_size, "state_path %s: %s", path,
                s->db ? sqlite3_errmsg(s->db) : "out of memory");
        return code_of(rc);
    }
    /* Nobody else may hold the database (the lock file sees to it), so waiting
     * for a lock would only hide a bug. */
    sqlite3_busy_timeout(s->db, 0);

    char mode[16];
    rc = exec_pragma_text(s->db, "PRAGMA journal_mode=WAL", mode, sizeof mode);
    if (rc != SQLITE_OK) {
        err_set(err, err_size, "state_path %s: %s", path, sqlite3_errmsg(s->db));
        return code_of(rc);
    }
    if (strcmp(mode, "wal") != 0) {
        err_set(err, err_size, "state_path %s: WAL mode unavailable (journal mode %s)", path,
                mode);
        return ALERT_ERR_IO;
    }
    /* In WAL mode NORMAL syncs at checkpoints, not at each commit: a committed
     * batch survives a crash of the process; a power cut may lose the last ones. */
    rc = sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        err_set(err, err_size, "state_path %s: %s", path, sqlite3_errmsg(s->db));
        return code_of(rc);
    }

    int code = ensure_schema(s, path, err, err_size);
    if (code != ALERT_OK)
        return code;

    for (int i = 0; i < ST__COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            err_set(err, err_size, "state_path %s: %s", path, sqlite3_errmsg(s->db));
            return code_of(rc);
        }
    }
    return ALERT_OK;
}

int al_store_open(al_store **out, const char *path, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    if (!out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    if (!path || !path[0]) {
        err_set(err, err_size, "state_path is empty");
        return ALERT_ERR_INVALID;
    }
    al_store *s = al_calloc(1, sizeof *s);
    if (!s) {
        err_set(err, err_size, "out of memory");
        return ALERT_ERR_NOMEM;
    }
    s->lock_fd = -1;

    /* Refused before the lock file is made, so that a mistyped directory does
     * not leave a stray "<dir>.lock" beside it. */
    struct stat st;
    int rc = ALERT_OK;
    int exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        err_set(err, err_size, "state_path %s is not a regular file", path);
        al_free(s);
        return ALERT_ERR_IO;
    } else if (!exists && errno == ENOENT) {
        /* created first, so that it has a resolved name; nobody can hold a
         * file that did not exist */
        rc = create_private(path, err, err_size);
    }
    /* The lock belongs to the file, not to the name it was reached by: through
     * a symlink or "dir/../x" a second opener must find the same lock. */
    char resolved[PATH_MAX];
    if (rc == ALERT_OK && !realpath(path, resolved)) {
        err_set(err, err_size, "state_path %s: cannot resolve: %s", path, strerror(errno));
        rc = ALERT_ERR_IO;
    }
    if (rc == ALERT_OK)
        rc = take_lock(s, resolved, path, err, err_size);
    if (rc == ALERT_OK)
        rc = create_private(path, err, err_size);
    if (rc == ALERT_OK)
        rc = open_db(s, resolved, path, err, err_size);
    if (rc != ALERT_OK) {
        al_store_close(s);
        return rc;
    }
    *out = s;
    return ALERT_OK;
}

void al_store_close(al_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    /* The database is closed (and checkpointed) before the lock is released, so
     * the next opener never sees it half shut. */
    sqlite3_close_v2(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    al_free(s);
}

const char *al_store_last_error(const al_store *s)
{
    return s ? s->last_error : "";
}

/* ---- batches ----------------------------------------------------------- */

int al_store_begin(al_store *s)
{
    if (!s)
        return ALERT_ERR_INVALID;
    /* The depth counts even when BEGIN fails, so that begin and commit always
     * pair; the writes of such a pass are then committed one by one. */
    if (s->depth++ > 0)
        return ALERT_OK;
    s->batch_lost = 0;
    s->batch_first_put = 0;
    int rc = run(s, s->st[ST_BEGIN], SQLITE_OK);
    s->batch_open = rc == ALERT_OK;
    return rc;
}

int al_store_commit(al_store *s)
{
    if (!s)
        return ALERT_ERR_INVALID;
    if (s->depth == 0)
        return ALERT_ERR_STATE;
    if (--s->depth > 0)
        return ALERT_OK;
    int was_open = s->batch_open;
    s->batch_open = 0;
    if (s->batch_lost) {
        s->batch_lost = 0;
        snprintf(s->last_error, sizeof s->last_error,
                 "the batch was rolled back after an error");
        return ALERT_ERR_IO;
    }
    if (!was_open)
        return ALERT_OK;        /* BEGIN failed; the writes are already committed */
    int rc = run(s, s->st[ST_COMMIT], SQLITE_OK);
    if (rc != ALERT_OK && !sqlite3_get_autocommit(s->db)) {
        /* SQLite keeps the transaction open after a failed COMMIT (SQLITE_BUSY);
         * the contract is all-or-nothing, so drop it. */
        sqlite3_step(s->st[ST_ROLLBACK]);
        stmt_done(s->st[ST_ROLLBACK]);
    }
    if (rc != ALERT_OK)
        batch_rolled_back(s);
    s->batch_first_put = 0;
    return rc;
}

/* ---- spool --------------------------------------------------------------- */

int al_store_spool_put(al_store *s, const al_spool_row *row, int64_t *id_out)
{
    if (!s || !row || !row->target || !row->alert_type || !row->text || !row->idem)
        return ALERT_ERR_INVALID;
    if (row->body_len > INT32_MAX)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_SPOOL_PUT];
    int rc = sqlite3_bind_int(st, 1, row->target_kind);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, row->target);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 3, row->alert_type);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 4, row->level);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 5, row->text);
    if (rc == SQLITE_OK)
        rc = row->body ? sqlite3_bind_blob(st, 6, row->body, (int)row->body_len, SQLITE_TRANSIENT)
                       : sqlite3_bind_null(st, 6);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 7, row->extra);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 8, row->idem);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 9, row->attempt);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 10, row->created_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 11, row->next_at_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 12, row->deadline_ms);
    int out = run(s, st, rc);
    int64_t id = out == ALERT_OK ? sqlite3_last_insert_rowid(s->db) : 0;
    if (id && s->batch_open && !s->batch_first_put)
        s->batch_first_put = id;
    if (out == ALERT_OK && id_out)
        *id_out = id;
    return out;
}

int64_t al_store_spool_take_lost(al_store *s)
{
    if (!s)
        return 0;
    int64_t from = s->lost_from;
    s->lost_from = 0;
    return from;
}

int al_store_spool_update(al_store *s, int64_t id, int32_t attempt, int64_t next_at_ms)
{
    if (!s)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_SPOOL_UPDATE];
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, attempt);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, next_at_ms);
    int out = run(s, st, rc);
    if (out == ALERT_OK && sqlite3_changes(s->db) == 0)
        return ALERT_ERR_NOT_FOUND;
    return out;
}

int al_store_spool_delete(al_store *s, int64_t id)
{
    if (!s)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_SPOOL_DELETE];
    return run(s, st, sqlite3_bind_int64(st, 1, id));
}

/* A column's text; NULL from SQLite for a non-NULL value means it ran out of memory. */
static int column_text(sqlite3_stmt *st, int i, const char **out)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        *out = NULL;
        return SQLITE_OK;
    }
    *out = (const char *)sqlite3_column_text(st, i);
    return *out ? SQLITE_OK : SQLITE_NOMEM;
}

static int read_spool_row(sqlite3_stmt *st, al_spool_row *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->target_kind = sqlite3_column_int(st, 1);
    r->level = sqlite3_column_int(st, 4);
    r->attempt = sqlite3_column_int(st, 9);
    r->created_ms = sqlite3_column_int64(st, 10);
    r->next_at_ms = sqlite3_column_int64(st, 11);
    r->deadline_ms = sqlite3_column_int64(st, 12);
    int rc = column_text(st, 2, &r->target);
    if (rc == SQLITE_OK)
        rc = column_text(st, 3, &r->alert_type);
    if (rc == SQLITE_OK)
        rc = column_text(st, 5, &r->text);
    if (rc == SQLITE_OK)
        rc = column_text(st, 7, &r->extra);
    if (rc == SQLITE_OK)
        rc = column_text(st, 8, &r->idem);
    if (rc == SQLITE_OK && sqlite3_column_type(st, 6) != SQLITE_NULL) {
        r->body = sqlite3_column_blob(st, 6);
        r->body_len = (size_t)sqlite3_column_bytes(st, 6);
        if (!r->body && r->body_len == 0)
            r->body = "";           /* an empty body, not a missing one */
        else if (!r->body)
            rc = SQLITE_NOMEM;
    }
    if (rc == SQLITE_OK && (!r->target || !r->alert_type || !r->text || !r->idem))
        rc = SQLITE_CORRUPT;        /* NOT NULL columns: only a damaged file does this */
    return rc;
}

/* Reads row id into *row. SQLITE_DONE: it went (the callback deleted it);
 * SQLITE_CORRUPT: the row is damaged and *row has only its id. */
static int get_spool_row(al_store *s, int64_t id, al_spool_row *row)
{
    sqlite3_stmt *st = s->st[ST_SPOOL_GET];
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = read_spool_row(st, row);
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_MISMATCH) {
        memset(row, 0, sizeof *row);
        row->id = id;
        rc = SQLITE_CORRUPT;
    }
    return rc;
}

int al_store_spool_load(al_store *s, al_spool_cb cb, void *ud)
{
    if (!s || !cb)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *ids = s->st[ST_SPOOL_LOAD];
    sqlite3_stmt *get = s->st[ST_SPOOL_GET];
    if (sqlite3_stmt_busy(ids))
        return ALERT_ERR_STATE;
    int out = ALERT_OK;
    for (;;) {
        int rc = sqlite3_step(ids);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            out = store_fail(s, rc);
            break;
        }
        al_spool_row row;
        rc = get_spool_row(s, sqlite3_column_int64(ids, 0), &row);
        if (rc == SQLITE_OK || rc == SQLITE_CORRUPT) {
            /* the row's strings stay valid until the statement is reset */
            out = cb(ud, &row);
            stmt_done(get);
            if (out != 0)
                break;
        } else if (rc == SQLITE_DONE) {
            stmt_done(get);
        } else {
            out = store_fail(s, rc);
            stmt_done(get);
            break;
        }
    }
    stmt_done(ids);
    return out;
}

/* ---- marks ------------------------------------------------------------- */

int al_store_mark_put(al_store *s, const char *key, const char *value, int64_t expires_ms)
{
    if (!s || !key || !value || expires_ms < 0)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_MARK_PUT];
    int rc = bind_text(st, 1, key);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, value);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, expires_ms);
    return run(s, st, rc);
}

int al_store_mark_get(al_store *s, const char *key, char **value_out, int64_t now_ms)
{
    if (value_out)
        *value_out = NULL;
    if (!s || !key)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_MARK_GET];
    int rc = bind_text(st, 1, key);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, now_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int out;
    if (rc == SQLITE_DONE) {
        out = ALERT_ERR_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        out = ALERT_OK;
        if (value_out) {
            const char *v;
            if (column_text(st, 0, &v) != SQLITE_OK)
                out = ALERT_ERR_NOMEM;
            else if (!(*value_out = al_strndup(v ? v : "",
                                               (size_t)sqlite3_column_bytes(st, 0))))
                out = ALERT_ERR_NOMEM;
        }
    } else {
        out = store_fail(s, rc);
    }
    stmt_done(st);
    return out;
}

int al_store_mark_delete(al_store *s, const char *key)
{
    if (!s || !key)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_MARK_DELETE];
    return run(s, st, bind_text(st, 1, key));
}

int al_store_mark_purge(al_store *s, int64_t now_ms)
{
    if (!s)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_MARK_PURGE];
    return run(s, st, sqlite3_bind_int64(st, 1, now_ms));
}

/* ---- schedules ----------------------------------------------------------- */

int al_store_schedule_put(al_store *s, const char *name, int64_t last_ms)
{
    if (!s || !name)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_SCHED_PUT];
    int rc = bind_text(st, 1, name);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, last_ms);
    return run(s, st, rc);
}

int al_store_schedule_get(al_store *s, const char *name, int64_t *last_ms)
{
    if (!s || !name || !last_ms)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_SCHED_GET];
    int rc = bind_text(st, 1, name);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int out;
    if (rc == SQLITE_ROW) {
        *last_ms = sqlite3_column_int64(st, 0);
        out = ALERT_OK;
    } else if (rc == SQLITE_DONE) {
        out = ALERT_ERR_NOT_FOUND;
    } else {
        out = store_fail(s, rc);
    }
    stmt_done(st);
    return out;
}

/* ---- ledger ------------------------------------------------------------ */

int al_store_ledger_add(al_store *s, int32_t day, int32_t dim, const char *name, double amount)
{
    if (!s || !name || !isfinite(amount))
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_LEDGER_ADD];
    int rc = sqlite3_bind_int(st, 1, day);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, dim);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 3, name);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(st, 4, amount);
    return run(s, st, rc);
}

int al_store_ledger_load(al_store *s, int32_t from_day, al_ledger_cb cb, void *ud)
{
    if (!s || !cb)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_LEDGER_LOAD];
    if (sqlite3_stmt_busy(st))
        return ALERT_ERR_STATE;
    int rc = sqlite3_bind_int(st, 1, from_day);
    int out = ALERT_OK;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            break;
        const char *name;
        rc = column_text(st, 2, &name);
        if (rc != SQLITE_OK)
            break;
        out = cb(ud, sqlite3_column_int(st, 0), sqlite3_column_int(st, 1), name ? name : "",
                 sqlite3_column_double(st, 3));
        if (out != 0)
            break;
    }
    if (out == ALERT_OK && rc != SQLITE_DONE && rc != SQLITE_OK)
        out = store_fail(s, rc);
    stmt_done(st);
    return out;
}

int al_store_ledger_prune(al_store *s, int32_t before_day)
{
    if (!s)
        return ALERT_ERR_INVALID;
    sqlite3_stmt *st = s->st[ST_LEDGER_PRUNE];
    return run(s, st, sqlite3_bind_int(st, 1, before_day));
}
