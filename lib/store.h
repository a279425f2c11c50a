/* SPDX-License-Identifier: MIT */
/* Durable state (state_path): the outbox spool, threshold and dedup marks, report
 * schedules and the spend ledger, in one SQLite database in WAL mode. Worker-owned:
 * one thread uses a store at a time, so the connection is opened NOMUTEX and the
 * store itself has no lock. One store per path and per machine: a second opener,
 * in this process or another, gets ALERT_ERR_STATE.
 *
 * Every function returns ALERT_OK or an ALERT_ERR_* code; SQLite failures are
 * ALERT_ERR_IO (ALERT_ERR_NOMEM when SQLite ran out of memory), with SQLite's
 * message in al_store_last_error(). No error text ever contains a stored value
 * (targets are secrets). */
#ifndef AL_STORE_H
#define AL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

typedef struct al_store al_store;

/* Opens or creates the database at path (a new file is created 0600: it holds
 * target URLs) and its schema. The lock is "<resolved path>.lock" (realpath), so
 * a symlink to a held database, or another spelling of its name, is refused too.
 * ALERT_ERR_IO when the file or its lock sidecar cannot be created or is not a
 * database, ALERT_ERR_STATE when another store holds the file or the schema is
 * newer than this library; err (may be
 * NULL) gets a text naming the path. The lock file is left in place on close:
 * removing it would let two openers lock two different inodes. */
int al_store_open(al_store **out, const char *path, char *err, size_t err_size);
/* Closes s (NULL: no-op). An unfinished batch is rolled back, as SQLite does. */
void al_store_close(al_store *s);
/* The last SQLite error message ("" when none); valid until the next call. */
const char *al_store_last_error(const al_store *s);

/* Batches: the writes between the outermost begin and its commit are one
 * transaction (one WAL sync). Nested pairs only count. When commit fails the
 * whole batch is rolled back and ALERT_ERR_IO returned: nothing of it is durable. */
int al_store_begin(al_store *s);
int al_store_commit(al_store *s);

/* ---- outbox spool: one row per pending delivery ------------------------ */

/* Adds row; its id (increasing: later puts get larger ids) goes to *id_out (may
 * be NULL). target, alert_type, text and idem are required (ALERT_ERR_INVALID). */
int al_store_spool_put(al_store *s, const al_spool_row *row, int64_t *id_out);
/* ALERT_ERR_NOT_FOUND when no row has that id. */
int al_store_spool_update(al_store *s, int64_t id, int32_t attempt, int64_t next_at_ms);
int al_store_spool_delete(al_store *s, int64_t id);          /* a missing id is OK */

/* Calls cb for every row in id order. The row and its strings are borrowed for
 * the call. A damaged row (a record SQLite cannot decode, or a required field
 * missing) does not stop the load: cb gets it with only its id set and target,
 * alert_type, text and idem NULL, and decides (the outbox drops it). cb returns
 * 0 to go on; anything else stops the load, which returns that value. cb may
 * put, update and delete (rows it adds or changes during the load may or may
 * not be seen) but not load again (ALERT_ERR_STATE). */
typedef int (*al_spool_cb)(void *ud, const al_spool_row *row);
int al_store_spool_load(al_store *s, al_spool_cb cb, void *ud);

/* A batch that is rolled back (its commit failed, or an error inside it made
 * SQLite drop it: a full disk) takes its puts with it, and their ids will be
 * given again. Returns the smallest id lost since the last call (0: none) and
 * forgets it; a caller holding spool ids calls this before each put, update or
 * delete and treats every id it holds >= the answer as not saved. */
int64_t al_store_spool_take_lost(al_store *s);

/* ---- marks: budget thresholds, dedup ----------------------------------- */
/* Sets key to value (replacing); expires_ms is a ctx-clock time, 0 for never. */
int al_store_mark_put(al_store *s, const char *key, const char *value, int64_t expires_ms);
/* *value_out (may be NULL) gets a copy to al_free. A mark whose expiry is at or
 * before now_ms is ALERT_ERR_NOT_FOUND. */
int al_store_mark_get(al_store *s, const char *key, char **value_out, int64_t now_ms);
int al_store_mark_delete(al_store *s, const char *key);      /* a missing key is OK */
int al_store_mark_purge(al_store *s, int64_t now_ms);         /* drops expired marks */

/* ---- report schedules --------------------------------------------------- */
int al_store_schedule_put(al_store *s, const char *name, int64_t last_ms);
int al_store_schedule_get(al_store *s, const char *name, int64_t *last_ms);  /* or NOT_FOUND */

/* ---- spend ledger: amounts by UTC day x dimension x name ---------------- */
enum {
    AL_LEDGER_TEAM,
    AL_LEDGER_TAG,
    AL_LEDGER_USER,
    AL_LEDGER_KEY,
    AL_LEDGER_CUSTOMER
};

/* Adds amount to the cell (day = days since 1970-01-01 UTC); a non-finite
 * amount is ALERT_ERR_INVALID. */
int al_store_ledger_add(al_store *s, int32_t day, int32_t dim, const char *name, double amount);
/* Calls cb for every cell with day >= from_day, ordered by day, dim, name; name
 * is borrowed for the call; a non-zero return stops the load and is returned. */
typedef int (*al_ledger_cb)(void *ud, int32_t day, int32_t dim, const char *name, double amount);
int al_store_ledger_load(al_store *s, int32_t from_day, al_ledger_cb cb, void *ud);
int al_store_ledger_prune(al_store *s, int32_t before_day);  /* drops days < before_day */

#endif
