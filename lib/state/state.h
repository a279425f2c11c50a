/* SPDX-License-Identifier: MIT */
/* Shared state: the one interface behind which the library keeps what outlives a
 * worker pass and may be shared by several processes: once-only marks, report
 * schedules, counters (the spend ledger), event windows (outages) and the outbox
 * spool. Callers never learn where it lives; ctx.c opens the backend that the
 * configuration asks for:
 *   memory  (state_mem.c)    no state_path: in this process only, lost at exit;
 *   sqlite  (state_sqlite.c) state_path: one process, durable, over store.c.
 * A networked backend (Redis, fleet mode) fits the same calls: an answer may come on
 * a later worker pass, so claims can answer AL_CLAIM_PENDING ("ask again on the
 * next pass"). The local backends always answer at once.
 *
 * Worker-only, like everything it serves: no function here locks. Times are ctx-clock
 * milliseconds since the Unix epoch, passed in; nothing here reads a clock. Every
 * function returns ALERT_OK or an ALERT_ERR_* code; no error text contains a stored
 * value (targets are secrets). */
#ifndef AL_STATE_H
#define AL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

typedef struct al_state al_state;

/* ---- opening --------------------------------------------------------------- */
int al_state_open_mem(al_state **out);
/* ALERT_ERR_IO or ALERT_ERR_STATE as al_store_open; err names the path. */
int al_state_open_sqlite(al_state **out, const char *path, char *err, size_t err_size);
void al_state_close(al_state *s);                   /* NULL: no-op */
const char *al_state_name(const al_state *s);       /* "memory", "sqlite" */
/* 1 when what is saved here survives a restart of the process. */
int al_state_durable(const al_state *s);
/* The backend's last error message ("" when none); never a stored value. */
const char *al_state_last_error(const al_state *s);

/* Batches: the writes between the outermost begin and its commit are applied together
 * (one transaction for sqlite, one pipeline for a networked backend). Nested pairs
 * only count. */
int al_state_begin(al_state *s);
int al_state_commit(al_state *s);

/* ---- once-only marks --------------------------------------------------------- */
/* The raw key/value layer the detectors' own state machines persist through (budget
 * threshold marks, dedup marks): value NULL deletes; expires_ms 0 is never. get gives
 * an al_malloc'ed copy, or ALERT_ERR_NOT_FOUND (an expired mark is not found). */
int al_state_mark_put(al_state *s, const char *key, const char *value, int64_t expires_ms);
int al_state_mark_get(al_state *s, const char *key, char **value_out, int64_t now_ms);
int al_state_mark_purge(al_state *s, int64_t now_ms);      /* drops expired marks */

/* A claim: who may raise the alert behind key. */
typedef enum al_claim {
    AL_CLAIM_WON,           /* raise it; settle later */
    AL_CLAIM_SENT,          /* already sent (until the mark expires) */
    AL_CLAIM_HELD,          /* pending with a live holder: not ours */
    AL_CLAIM_PENDING        /* no answer yet: ask again on a later pass */
} al_claim;

/* Claims key until expires_ms (0: never) for holder (an instance id). A mark left
 * "pending" by a holder other than this one, in a backend that survives restarts, was
 * the last process's: its alert was replayed with the spool, so it counts as sent. */
int al_state_mark_claim(al_state *s, const char *key, const char *holder, int64_t expires_ms,
                        int64_t now_ms, al_claim *out);
/* The claimed alert's fate: sent (kept until its expiry) or released (deleted: the
 * next claim wins). */
int al_state_mark_settle(al_state *s, const char *key, int sent, int64_t expires_ms);

/* ---- schedules: when a report last went out -------------------------------------- */
int al_state_schedule_get(al_state *s, const char *name, int64_t *last);  /* or NOT_FOUND */
int al_state_schedule_put(al_state *s, const char *name, int64_t last);
/* Claim-and-advance: when the window after *last (period_ms long) is over at now_ms,
 * WON and the schedule moves to now_ms; else SENT (someone already advanced it) with
 * *last the schedule's value. A name never seen starts at now_ms (first period from
 * now) and answers SENT. */
int al_state_schedule_claim(al_state *s, const char *name, int64_t period_ms, int64_t now_ms,
                            int64_t *last, al_claim *out);

/* ---- counters: amounts by UTC day x dimension x name (the spend ledger) ----------- */
typedef struct al_state_cell {
    int32_t day;                /* days since 1970-01-01 UTC */
    int32_t dim;                /* AL_LDIM_* (ledger.h) */
    const char *name;
    double amount;
} al_state_cell;
/* Adds a batch. batch is an id increasing per process; a batch retried with an id
 * already applied is ignored (a networked write that timed out may have been applied).
 * A non-finite amount is ALERT_ERR_INVALID (nothing of the batch applied). */
int al_state_counters_add(al_state *s, uint64_t batch, const al_state_cell *v, size_t n);
/* Calls cb for every cell with day >= from_day, ordered by day, dim, name; a non-zero
 * return stops the load and is returned. */
typedef int (*al_state_cell_cb)(void *ud, int32_t day, int32_t dim, const char *name, double amount);
int al_state_counters_load(al_state *s, int32_t from_day, al_state_cell_cb cb, void *ud);
/* The total of one cell (0 when none). */
int al_state_counter_get(al_state *s, int32_t day, int32_t dim, const char *name, double *total);
int al_state_counters_prune(al_state *s, int32_t before_day);   /* drops days < before_day */

/* ---- windows: event times per key (failures of a deployment) ---------------------- */
int al_state_window_add(al_state *s, const char *key, int64_t at_ms);
/* How many times of key are >= since_ms; times before since_ms are dropped. */
int al_state_window_count(al_state *s, const char *key, int64_t since_ms, uint64_t *n);

/* ---- the outbox spool: one row per pending delivery ------------------------------- */
/* put sets *id_out (may be NULL) to a positive id, or 0 when the backend keeps no spool
 * (memory): nothing to update or delete then. */
int al_state_spool_put(al_state *s, const al_spool_row *row, int64_t *id_out);
int al_state_spool_update(al_state *s, int64_t id, int32_t attempt, int64_t next_at_ms);
int al_state_spool_delete(al_state *s, int64_t id);
/* Rows a rolled-back batch took with it (a full disk at commit): their ids will be
 * given again. The smallest id lost since the last call (0: none); a caller holding
 * spool ids calls this before each put, update or delete and treats every id it holds
 * >= the answer as not saved. */
int64_t al_state_spool_take_lost(al_state *s);
/* Every row in id order; cb may delete the row it is given. */
typedef int (*al_state_row_cb)(void *ud, const al_spool_row *row);
int al_state_spool_load(al_state *s, al_state_row_cb cb, void *ud);

/* ---- fleet mode: what is decided once for several replicas (state_redis.c) ----------
 * A fleet key names what an alert claims:
 *   "M|<ttl ms>|<mark key>"                        a once-only mark
 *   "S|<group>|<field>|<rank>|<lower,lower,...>"   an ordered step (a budget threshold)
 * The local backends answer every claim WON at once and settle nothing: one process
 * decides alone, with its own marks. */
typedef struct al_fleet_conf {
    char *host;
    int port;
    char *username, *password;  /* NULL: none */
    int db;
    char *name;                 /* fleet_name */
    char *instance;             /* this context's instance id: "<instance_name>#<8 hex>" */
    int64_t sync_ms, timeout_ms, claim_ms, takeover_ms;
    int threaded;               /* a coordinator thread; 0: rounds run in al_state_round */
    void (*log)(void *ud, int level, const char *msg);     /* called on the worker */
    void *log_ud;
    /* ops: a hash of the effective config (16 hex, "" for none), published so that
     * replicas of different configurations are warned about */
    char fingerprint[17];
} al_fleet_conf;

/* Parses "redis://[user:password@]host[:port][/db]" into c's host, port, username,
 * password (al_malloc'ed) and db. ALERT_ERR_CONFIG with *why (never the URL: it may
 * hold a password) when malformed, or for rediss:// (no TLS in this build). */
int al_redis_parse_url(const char *url, al_fleet_conf *c, const char **why);
/* "Sentinel" or "Cluster" when url names one (redis-sentinel://, sentinel://,
 * redis+sentinel://, redis-cluster://, redis+cluster://; any case), else NULL. Fleet
 * mode does not support them yet. */
const char *al_redis_url_topology(const char *url);
/* Wraps local (taken, closed on failure too) with Redis at c. Never fails for an
 * unreachable Redis: it runs single-process and keeps reconnecting. */
int al_state_open_redis(al_state **out, al_state *local, const al_fleet_conf *c);
/* 1 when claims go to a fleet. */
int al_state_fleet(const al_state *s);
/* The claim of fleet_key: WON, SENT, HELD or PENDING (ask again on a later pass with
 * the same key; after fleet_claim_timeout without an answer it is WON). */
int al_state_fleet_claim(al_state *s, const char *fleet_key, int64_t now_ms, al_claim *out);
/* The fate of a won claim: sent, or released for the fleet (a final delivery failure). */
int al_state_fleet_settle(al_state *s, const char *fleet_key, int sent);
/* At the start of every worker pass: the answers of the last rounds (and, in poll mode,
 * a round when urgent work waits). now_ms: the worker's clock. */
void al_state_round(al_state *s, int64_t now_ms);
/* At the end of every worker pass, in poll mode: a round when one is due (urgent work,
 * or fleet_sync_interval gone by on the worker's clock or in real time), so that what
 * the pass posted goes out now and its answers come at the start of the next pass. */
void al_state_round_end(al_state *s, int64_t now_ms);
/* Poll mode: ms until al_state_round or al_state_round_end has work (0: answers wait, or
 * urgent work); INT64_MAX when there is none to come (no fleet, or a coordinator thread). */
int64_t al_state_round_wait(al_state *s, int64_t now_ms);
typedef struct al_fleet_stats {
    int on, connected;
    uint64_t rounds, round_errors, claims_won, claims_lost, claims_unanswered;
    /* ops (alert_stats version 2): the longest round in real time (in poll mode, what
     * Redis cost a worker pass); deliveries adopted (set by the adoption code) */
    uint64_t round_longest_us, deliveries_adopted;
} al_fleet_stats;
void al_state_fleet_stats(al_state *s, al_fleet_stats *out);
/* Claims asked and not yet answered. */
size_t al_state_fleet_pending(al_state *s);

/* ---- fleet money (redis_money.c): spend shared by the replicas ---------------------
 * Amounts are integer nano-dollars. Answers come back through the sink, on the worker,
 * at the start of a later pass. The local backends keep nothing here: every call is
 * ALERT_OK and nothing is ever answered (one process decides alone, as always). */
typedef struct al_fleet_money_sink {
    /* the fleet's total of group, which includes mine (the cumulative posted);
     * total < 0: no answer (post again) */
    void (*spend_total)(void *ud, const char *group, int64_t mine, int64_t total);
    /* Redis lost its data (a new epoch): re-seed what the fleet summed */
    void (*reseed)(void *ud);
    void *ud;
    /* the fleet ledger (below): the others' spend (the fleet's minus mine) of user on
     * day and in month (y * 12 + m - 1), in nano-dollars, after a batch of mine */
    void (*user_others)(void *ud, const char *user, int32_t day, int32_t month,
                        int64_t day_others, int64_t month_others);
    /* one cell of the window asked with tag; then once with name NULL: ok 1 the window
     * is complete, ok 0 no answer (Redis away) */
    void (*ledger_cell)(void *ud, int64_t tag, int32_t day, int32_t dim, const char *name,
                        int64_t nano, int ok);
} al_fleet_money_sink;
void al_state_fleet_money_sink(al_state *s, const al_fleet_money_sink *sink);
/* This replica's cumulative spend in group (a tracked budget's period): applied once
 * per value (a larger one replaces it in the fleet's total), kept ttl_ms. urgent: in
 * the next round now, else at the next fleet_sync_interval. */
int al_state_fleet_spend(al_state *s, const char *group, int64_t mine, int64_t ttl_ms,
                         int urgent);
/* Once per worker pass: notices an epoch change. */
void al_state_fleet_money_tick(al_state *s);
/* The fleet's epoch as the coordinator last read it (at its last connect) into buf
 * ("" before any); 0 without a fleet. Read after al_state_fleet_stats, a round the
 * stats count is never one of an older epoch than this. */
int al_state_fleet_epoch(al_state *s, char *buf, size_t n);
/* ---- fleet health (redis_health.c): outage windows and report windows -------------
 * Every request is an op for the coordinator; its answer comes back on a later pass
 * through the client it was posted with (al_fleet_client: the caller's callback and
 * its per-instance batch sequence). On a local backend these calls do nothing and
 * answer ALERT_ERR_UNSUPPORTED: the caller's local logic decides. */
typedef enum al_fleet_answer_kind {
    AL_FA_OUTAGE,               /* a failure added to a window */
    AL_FA_RECOVER,              /* a quiet window checked */
    AL_FA_REPORT                /* a report window claimed */
} al_fleet_answer_kind;

typedef struct al_fleet_answer {
    al_fleet_answer_kind kind;
    int answered;               /* 0: Redis never answered (nothing was decided) */
    const char *tag;            /* the caller's, as posted */
    /* outage: level claimed by this failure (0 none, 1 Minor, 2 Major), and the level of
     * an earlier episode this failure showed had ended (0: none or it never alerted);
     * recover: ended = the level of the episode that ended now, claimed by this replica
     * (0: none, or not over yet: then at_ms is the episode's last failure) */
    int level, ended;
    uint64_t timeouts, api;     /* the window's failures, when level > 0 */
    uint64_t in_window;         /* outage: the failures in the fleet's window after these */
    int minor_too;              /* outage: Major claimed, and Minor too by the same batch */
    int ep_level;               /* outage: the episode's level, whoever claimed it */
    int more;                   /* outage: part of the batch was posted again: another
                                   answer of it comes */
    /* report: won = 1 when this replica claimed window gen (or took it over from a
     * replica that is gone); at_ms the next window's due time; anchor the fleet's */
    int won;
    int64_t gen, at_ms, anchor;
    size_t n;                   /* the frozen window's counters (fields[i] = values[i]) */
    const char *const *fields;
    const int64_t *values;
} al_fleet_answer;

typedef struct al_fleet_client {
    void (*cb)(void *ud, const al_fleet_answer *a);
    void *ud;
    uint64_t seq;               /* the last counter batch's sequence number */
} al_fleet_client;

/* 1 when in fleet mode and Redis answered the last round (the caller's local logic
 * decides otherwise). */
int al_state_fleet_up(al_state *s);
/* A counted failure, for al_state_fleet_outage_add. */
typedef struct al_fleet_failure {
    int64_t at_ms;
    uint64_t seq;               /* its number among this replica's (0: the next one) */
    const char *dep;            /* its deployment, for a region's window; NULL for a deployment's */
    int timeout;                /* a 408 */
} al_fleet_failure;
#define AL_FLEET_FAILURES_MAX 1024      /* per batch */

/* Counted failures v[0..n), in order, into the window of key ("d|<deployment>" or
 * "r|<provider>|<region>"): one batch, each failure counted as if added alone. Retried
 * until Redis takes it (a member unique per failure and seq: each counts once). floor:
 * the episode's level as this replica knew it, for a re-seed after Redis lost its data
 * (not claimed again); 0 otherwise. urgent: in a round now (the batch may claim a
 * level), else with the next round. */
int al_state_fleet_outage_add(al_state *s, al_fleet_client *k, const char *key,
                              const al_fleet_failure *v, size_t n, int64_t ttl_ms, int minor,
                              int major, int floor, const char *tag, int urgent);
/* Whether key's episode is over at now_ms (no failure for ttl_ms): the one replica
 * whose check ends it gets its level. */
int al_state_fleet_outage_recover(al_state *s, al_fleet_client *k, const char *key, int64_t now_ms,
                                  int64_t ttl_ms, const char *tag);
/* Adds counters to report's open window: one batch, retried, applied once. */
int al_state_fleet_report_add(al_state *s, al_fleet_client *k, const char *report,
                              const char *const *fields, const int64_t *values, size_t n);
/* Claims report's window when due (windows of period_ms anchored at the fleet's first
 * claim): answered with won, or the next due time. */
int al_state_fleet_report_claim(al_state *s, al_fleet_client *k, const char *report,
                                int64_t now_ms, int64_t period_ms);
/* The won window's fate: ok drops it; else its counters merge into the open window. */
int al_state_fleet_report_settle(al_state *s, const char *report, int64_t gen, int ok);
/* ---- fleet mode: deliveries (redis_outbox.c; libalerting-fleet(7)) ----------------
 * Shared rate limits: bucket names a target by a hash (never its URL). Asks the fleet
 * for up to want tokens of the bucket (per_ms, burst) on the next round; out->granted
 * gives the tokens answered since the last call (spend them now or lose them), and
 * out->blocked_until the fleet's Retry-After block (wall ms, 0: none). out->local = 1:
 * the local bucket decides, at the rate divided by out->divisor (the live replicas when
 * Redis last answered; 1 without a fleet). Times are wall-clock ms (shared). */
typedef struct al_rate_grant {
    int local, divisor, granted;
    int64_t blocked_until;
} al_rate_grant;
int al_state_rate_take(al_state *s, const char *bucket, double per_ms, double burst, int want,
                       int64_t now_wall, al_rate_grant *out);
/* A 429 seen here: every replica holds the bucket until until_wall. */
int al_state_rate_block(al_state *s, const char *bucket, int64_t until_wall);
/* This replica's pending deliveries, mirrored to a hash of its own: row->target is the
 * target's hash, row times are wall ms, row->id is ignored. put replaces the row of the
 * same idem; fresh: no row of this idem is mirrored now (a new message, or one whose
 * row was deleted), so a delete before the next round sends neither. No-ops without a
 * fleet. */
int al_state_mirror_put(al_state *s, const al_spool_row *row, int fresh);
int al_state_mirror_delete(al_state *s, const char *idem);
/* Each pass: adopt gets the rows this replica adopted from one that died or left (its
 * target is a hash; id 0), drop the idempotency keys of rows that another replica adopted
 * from this one while it was stalled (it sends them: this copy goes). */
typedef void (*al_state_idem_cb)(void *ud, const char *idem);
int al_state_adopt_take(al_state *s, int64_t now_wall, al_state_row_cb adopt,
                        al_state_idem_cb drop, void *ud);
/* Leaving cleanly (alert_ctx_destroy): the fleet adopts what is still mirrored at once. */
void al_state_fleet_leave(al_state *s);
/* 1 while this replica, back from a silence long enough for its heartbeat to expire,
 * waits for the fleet to say which of its deliveries were adopted meanwhile: no delivery
 * starts (at most fleet_claim_timeout). */
int al_state_fleet_hold(al_state *s);
/* A worker thread's wake-up: called from the coordinator thread when answers wait for
 * the worker (under a lock: once this returns with fn NULL, it is never called again).
 * No-op without a fleet. */
void al_state_fleet_wake(al_state *s, void (*fn)(void *ud), void *ud);
/* Deliveries adopted from other replicas, ever. */
uint64_t al_state_fleet_adopted(al_state *s);

/* The fleet ledger: a hash per UTC day ("fledger:d:<day>", fields "<dim>:<name>") and,
 * for users, per month ("fledger:m:<month>", fields "u:<user>"), summed over the
 * replicas in nano-dollars. One batch: this replica's cells of day (names as the ledger
 * gives them, "" for the None team), applied once per seq (increasing per replica) and
 * refused when Redis is in another epoch than this replica last saw (the re-seed posts
 * the whole own ledger then, so nothing counts twice). Answers: sink->user_others for
 * each user of the batch. Kept day_ttl_ms / month_ttl_ms after the last batch.
 * urgent: in a round now, else at the next fleet_sync_interval. */
int al_state_fleet_ledger_add(al_state *s, uint64_t seq, int32_t day, int32_t month,
                              const al_state_cell *v, size_t n, int64_t day_ttl_ms,
                              int64_t month_ttl_ms, int urgent);
/* The fleet's cells of the days [from_day, to_day] (at most 62), through
 * sink->ledger_cell with tag, in an urgent round. */
int al_state_fleet_ledger_window(al_state *s, int64_t tag, int32_t from_day, int32_t to_day);

#endif
