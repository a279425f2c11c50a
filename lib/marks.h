/* SPDX-License-Identifier: MIT */
/* Once-only dedup marks: a set of string keys, each PENDING (raised, delivery not
 * finished) or SENT until its expiry; and the persistence callbacks that budget
 * thresholds and marks share. Pure: times are arguments, state is the caller's
 * callbacks. Worker-only. */
#ifndef AL_MARKS_H
#define AL_MARKS_H

#include <stddef.h>
#include <stdint.h>

/* Persistence through the state's marks (al_state_mark_put / al_state_mark_get).
 * put: value NULL deletes key; expires_ms 0 means never. get: ALERT_OK with an
 * al_malloc'd copy in *value_out, ALERT_ERR_NOT_FOUND, or another error (treated as
 * "not found"). */
typedef void (*al_mark_put_fn)(void *ud, const char *key, const char *value, int64_t expires_ms);
typedef int (*al_mark_get_fn)(void *ud, const char *key, char **value_out);

/* A set of string keys, each PENDING (raised, delivery not finished) or SENT until
 * its expiry. Used for failed_tracking_spend and the user spend events. */
typedef struct al_marks al_marks;

al_marks *al_marks_new(void);
void al_marks_free(al_marks *m);                /* NULL: no-op */
/* Persistence: put is called at once on every change (value "pending" or "sent";
 * NULL when a mark is re-armed); get is asked when a key is not in memory. */
void al_marks_set_persist(al_marks *m, al_mark_put_fn put, al_mark_get_fn get, void *ud);
/* 1: key was free (absent, expired, or re-armed) and is now PENDING until expires_ms;
 * 0: held (pending, or sent and not expired at now_ms); ALERT_ERR_NOMEM. */
int al_marks_claim(al_marks *m, const char *key, int64_t now_ms, int64_t expires_ms);
/* 1 when key is pending or sent and not expired. */
int al_marks_held(al_marks *m, const char *key, int64_t now_ms);
/* alert->settle: key is one mark key or several joined by '\n' (a joined alert).
 * ok: PENDING -> SENT; !ok: PENDING -> removed (re-armed). */
void al_marks_settle(void *m, const char *key, int ok);
/* Drops sent marks expired at now_ms (pending ones stay until settled). */
void al_marks_prune(al_marks *m, int64_t now_ms);
size_t al_marks_count(const al_marks *m);
/* Marks as (key, value, expires_ms) for the store, and back. */
int al_marks_export(al_marks *m, al_mark_put_fn put, void *ud);
int al_marks_import(al_marks *m, const char *key, const char *value, int64_t expires_ms);

/* prefix + value + suffix with '\\' and '\n' of value escaped, so that keys joined
 * by '\n' split back (value NULL: "None"). NULL on allocation failure. */
char *al_mark_key(const char *prefix, const char *value, const char *suffix);

#endif
