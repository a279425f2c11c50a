/* SPDX-License-Identifier: MIT */
/* Inside the Redis backend (lib/state/ only): the coordinator's operations, so that
 * each shared kind of state (claims, windows, counters, ...) can live in a file of
 * its own. An operation is one command (usually EVALSHA of a registered script),
 * posted by the worker, sent by the coordinator in the next round's pipeline, and
 * handed back to the worker with its reply at the start of a later pass. */
#ifndef AL_REDIS_IMPL_H
#define AL_REDIS_IMPL_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>

#include "state/state_impl.h"

typedef struct redis_state redis_state;
typedef struct rop rop;

/* Called on the worker with the op's reply (o->reply, NULL when Redis did not answer
 * it); the op is freed afterwards. */
typedef void (*rop_done)(redis_state *r, rop *o);

struct rop {
    rop *next;
    const char *lua;            /* the script (a static string: loaded once per connection,
                                   then EVALSHA), or NULL: a plain command */
    int retry;                  /* 1: kept and sent again until Redis answers (idempotent) */
    int argc;
    char **argv;                /* EVALSHA <sha> <numkeys> keys... args... (sha set by the round) */
    rop_done done;              /* may be NULL */
    char *tag;                  /* the done callback's: what the op answers */
    int64_t i64;                /* the done callback's */
    redisReply *reply;
    void *ud;                   /* the done callback's (fleet health: its al_fleet_client) */
    int wait_reconnect;         /* no connection: kept until the coordinator has really tried
                                   to reconnect, rather than answered at once (a claim asked
                                   again after a lost reply) */
};

typedef struct rlist {
    rop *head, *tail;
    size_t n;
} rlist;


/* A claim the worker waits for (worker-only map: claim key -> pending). */
typedef struct pending {
    int64_t posted_ms;
    int answered;
    int answer;
    int asked_again;            /* the claim was posted again after a failed round */
} pending;

struct redis_state {
    al_state base;
    al_state *local;
    al_fleet_conf conf;         /* strings owned */
    char prefix[192];           /* "{alerting:<name>}:" */
    char replica_prefix[224];   /* prefix "replica:" */
    char heartbeat_key[512];

    /* worker side */
    al_smap claims;             /* claim key -> pending */
    int64_t next_round_ms;      /* poll mode: the next round in real time */
    int64_t next_round_ctx, last_round_ctx;     /* ... and on the worker's clock */
    char epoch_seen[64];

    /* shared with the coordinator, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rlist outq;                 /* posted by the worker */
    rlist doneq;                /* answered, for the worker */
    char *logs[16];             /* messages for the worker to log (the log callback is the worker's) */
    int log_levels[16];
    size_t n_logs;
    int urgent, stopping;
    void (*wake)(void *ud);     /* the worker's wake-up (al_state_fleet_wake) */
    void *wake_ud;
    char epoch[64];             /* the fleet's epoch as last read */

    /* the coordinator */
    int threaded;
    pthread_t thread;
    redisContext *c;
    const char *scripts[32];    /* the scripts seen, their sha, and whether this connection */
    char script_sha[32][41];    /* has loaded them */
    int script_loaded[32];
    size_t n_scripts;
    int64_t reconnect_at_ms, reconnect_wait_ms;
    int said_down;              /* "unreachable" was logged for this outage */
    rlist retry;                /* ops kept until Redis answers them */

    _Atomic int connected;
    _Atomic uint64_t rounds, round_errors, claims_won, claims_lost, claims_unanswered;

    /* fleet money (redis_money.c), worker-only; freed by al_redis_money_free */
    void *money;
    /* fleet deliveries: redis_outbox.c's worker-side state (freed by al_redis_outbox_free) */
    struct redis_delivery *delivery;
    /* ops: observability (alert_stats version 2) and the warnings of FLEET.md */
    _Atomic uint64_t round_longest_us, deliveries_adopted;
    int said_policy;            /* the maxmemory-policy warning, once per connection */
    char fingerprint_differs[128];  /* the replica last warned about for another config */
};

/* EVALSHA of lua (a static string; each feature file keeps its own) with one key
 * (prefixed with the fleet's namespace) and args; NULL when out of memory. */
rop *al_redis_script_op(redis_state *r, const char *lua, const char *key, int nargs,
                        const char *const *args);
/* To the coordinator; urgent: a round now rather than at the next sync interval. */
void al_redis_post(redis_state *r, rop *o, int urgent);
void al_redis_op_free(rop *o);
/* Takes back the posted ops of script lua and tag that no round has sent yet: how many
 * (freed, never sent); *i64_or: their i64 fields or'ed. */
int al_redis_withdraw(redis_state *r, const char *lua, const char *tag, int64_t *i64_or);

/* redis_money.c: frees r->money (red_close calls it). */
void al_redis_money_free(redis_state *r);
/* redis_health.c's scripts by name ("outage_add", "outage_recover", "report_add",
 * "report_claim", "report_settle"), for their unit tests; NULL when unknown. */
const char *al_redis_health_lua(const char *name);
/* Fleet deliveries (redis_outbox.c): frees r->delivery; red_close calls it. */
void al_redis_outbox_free(redis_state *r);

#endif
