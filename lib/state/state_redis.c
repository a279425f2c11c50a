/* SPDX-License-Identifier: MIT */
/* Fleet mode (FLEET.md): the state of several replicas shared through Redis. This
 * backend wraps a local one (memory or sqlite), which keeps everything that is this
 * replica's own (its spool, its marks) and decides alone while Redis is away; what
 * must be decided once for the fleet (claims) goes to Redis.
 *
 * One coordinator per context owns the connection (hiredis, synchronous, with socket
 * timeouts): the worker posts operations and takes their answers at the start of its
 * next pass; it never waits on Redis. The coordinator is a thread of its own, or, with
 * worker_threads: 0, a round run inside the pass, bounded by fleet_timeout.
 *
 * Every decision is one Lua script (EVALSHA, reloaded on NOSCRIPT). A claim is held
 * back only on a positive answer ("sent", or "held" by a live replica); no answer
 * within fleet_claim_timeout, or no Redis, means the claim is won: a duplicate is
 * acceptable, a loss is not. Settles are retried until Redis takes them. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "alerting.h"
#include "alloc.h"
#include "buf.h"
#include "sign.h"
#include "state/redis_impl.h"

#define SETTLE_QUEUE_MAX 100000     /* settles kept for a Redis that is away; older ones go */
#define RECONNECT_MIN_MS 250
#define RECONNECT_MAX_MS 5000
#define FINGERPRINT_EVERY 64        /* rounds between two checks of the others' configs */
#define ROUND_RESERVE_US 10000      /* a round's time left to the rest of its worker pass */

/* ---- the scripts ----------------------------------------------------------------- */

/* A once-only mark. KEYS[1] the mark; ARGV: me, ttl ms (0: none), replica key prefix.
 * "s": sent; "p|<holder>": pending. A pending mark of a holder that is gone (its
 * heartbeat key expired) is taken over; one of this replica is won again (a retried
 * claim whose first answer was lost). */
static const char lua_mark_claim[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then\n"
    "  if v == 's' then return 'sent' end\n"
    "  local h = string.sub(v, 3)\n"
    "  if h ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. h) == 1 then return 'held' end\n"
    "end\n"
    "if tonumber(ARGV[2]) > 0 then\n"
    "  redis.call('SET', KEYS[1], 'p|' .. ARGV[1], 'PX', ARGV[2])\n"
    "else\n"
    "  redis.call('SET', KEYS[1], 'p|' .. ARGV[1])\n"
    "end\n"
    "return 'won'\n";

/* KEYS[1] the mark; ARGV: me, sent (1/0), ttl ms. Sent: "s" for its ttl. Released:
 * deleted, if it is still ours (a replica that took it over keeps it). */
static const char lua_mark_settle[] =
    "if ARGV[2] == '1' then\n"
    "  if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], 's', 'PX', ARGV[3])\n"
    "  else redis.call('SET', KEYS[1], 's') end\n"
    "  return 1\n"
    "end\n"
    "if redis.call('GET', KEYS[1]) == 'p|' .. ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/* Ordered steps of one budget period. KEYS[1] the hash (field -> "s" | "p|<holder>");
 * ARGV: me, field, rank ("" for a step of no order), replica key prefix, expiry ms,
 * then the lower steps' fields. A step is free only if no step at or above it is sent
 * or held by a live replica; winning marks the lower steps spent. */
static const char lua_step_claim[] =
    "local me, field, rank = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #all, 2 do\n"
    "  local f, v = all[i], all[i + 1]\n"
    "  local r = tonumber(string.match(f, '^t(.+)$') or 'x')\n"
    "  if f == field or (rank and r and r >= rank) then\n"
    "    if v == 's' then return 'sent' end\n"
    "    local h = string.sub(v, 3)\n"
    "    if h ~= me and redis.call('EXISTS', ARGV[4] .. h) == 1 then return 'held' end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], field, 'p|' .. me)\n"
    "for i = 6, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], 's') end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[5])\n"
    "return 'won'\n";

/* KEYS[1] the hash; ARGV: me, field, sent (1/0), expiry ms. */
static const char lua_step_settle[] =
    "if ARGV[3] == '1' then\n"
    "  redis.call('HSET', KEYS[1], ARGV[2], 's')\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
    "  return 1\n"
    "end\n"
    "if redis.call('HGET', KEYS[1], ARGV[2]) == 'p|' .. ARGV[1] then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n";



/* Config fingerprints of the live replicas. KEYS[1] the hash (instance -> fingerprint);
 * ARGV: me, my fingerprint, replica key prefix. Records mine, forgets replicas whose
 * heartbeat is gone, and returns "<instance>|<fingerprint>" of a live replica whose
 * fingerprint differs, or "". */
static const char lua_fingerprints[] =
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local other = ''\n"
    "for i = 1, #all, 2 do\n"
    "  local who, fp = all[i], all[i + 1]\n"
    "  if who ~= ARGV[1] then\n"
    "    if redis.call('EXISTS', ARGV[3] .. who) == 0 then redis.call('HDEL', KEYS[1], who)\n"
    "    elseif fp ~= ARGV[2] and other == '' then other = who .. '|' .. fp end\n"
    "  end\n"
    "end\n"
    "return other\n";

/* ---- operations between the worker and the coordinator ---------------------------- */

static void rlist_push(rlist *l, rop *o)
{
    o->next = NULL;
    if (l->tail)
        l->tail->next = o;
    else
        l->head = o;
    l->tail = o;
    l->n++;
}

static rop *rlist_take(rlist *l)
{
    rop *o = l->head;
    l->head = l->tail = NULL;
    l->n = 0;
    return o;
}

void al_redis_op_free(rop *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->argc; i++)
        al_free(o->argv[i]);
    al_free(o->argv);
    al_free(o->tag);
    freeReplyObject(o->reply);
    al_free(o);
}

#define rop_free al_redis_op_free

static redis_state *rs(al_state *s)
{
    return (redis_state *)s;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* From the coordinator: a message for the worker to log (never a password). */
__attribute__((format(printf, 3, 4)))
static void co_log(redis_state *r, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&r->lock);
    if (r->n_logs < sizeof r->logs / sizeof r->logs[0] && (r->logs[r->n_logs] = al_strdup(msg)))
        r->log_levels[r->n_logs++] = level;
    pthread_mutex_unlock(&r->lock);
}

/* ---- the coordinator: one round ----------------------------------------------------- */

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Deadlines are real microseconds: a frozen Redis costs a round fleet_timeout, not a
 * kernel tick more (a socket's SO_RCVTIMEO is rounded up to the tick, and wakes late
 * on a loaded machine; poll's timer does not). */
static struct timeval tv_of(int64_t us)
{
    if (us < 1000)
        us = 1000;
    struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };
    return tv;
}

static void co_disconnect(redis_state *r, const char *reason)
{
    char why[160];                  /* reason may be r->c's own errstr: copied before the free */
    snprintf(why, sizeof why, "%s", reason && *reason ? reason : "connection closed");
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
    if (atomic_exchange(&r->connected, 0)) {
        co_log(r, ALERT_LOG_WARNING, "fleet: lost Redis at %s:%d (%s); this replica decides alone "
               "until it is back", r->conf.host, r->conf.port, why);
        r->said_down = 1;
    }
}

/* The next reply of the pipeline, waiting for it until deadline (real us) at most: 0,
 * or -1 (no answer in time, or the connection failed: r->c->err says which, when it
 * knows). What was appended goes out first; writes are bounded by the socket's own
 * timeout, set here too. */
static int co_reply(redis_state *r, int64_t deadline, redisReply **out)
{
    redisContext *c = r->c;
    void *rep = NULL;
    *out = NULL;
    if (c->err)
        return -1;
    redisSetTimeout(c, tv_of(deadline - real_us()));
    int done = 0;
    do {
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return -1;
    } while (!done);
    for (;;) {
        if (redisReaderGetReply(c->reader, &rep) != REDIS_OK)
            return -1;
        if (rep) {
            *out = rep;
            return 0;
        }
        int64_t left = deadline - real_us();
        if (left <= 0)
            return -1;
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        struct timespec ts = { (time_t)(left / 1000000), (long)(left % 1000000) * 1000 };
        int n = ppoll(&p, 1, &ts, NULL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || redisBufferRead(c) != REDIS_OK)
            return -1;
    }
}

/* Why the last command failed: the connection's error, else its deadline. */
static const char *co_why(const redis_state *r)
{
    return r->c && r->c->errstr[0] ? r->c->errstr : "no answer in fleet_timeout";
}

/* One command, waiting at most until deadline (real us). The reply, or NULL. */
static redisReply *co_command(redis_state *r, int64_t deadline, int argc, const char **argv)
{
    redisReply *rep = NULL;
    if (redisAppendCommandArgv(r->c, argc, argv, NULL) != REDIS_OK || co_reply(r, deadline, &rep) != 0)
        return NULL;
    return rep;
}

static const char *script_sha(redis_state *r, const char *lua, int64_t deadline);

/* FLEET.md's warnings on what this Redis is and who shares it, checked at connect and
 * now and then; each said once per change, never per round. A Redis that refuses CONFIG
 * (managed services rename it) is taken as it is. */
static void co_check_policy(redis_state *r, int64_t deadline)
{
    const char *argv[3] = { "CONFIG", "GET", "maxmemory-policy" };
    redisReply *rep = co_command(r, deadline, 3, argv);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_STRING) {
        int evicts = strncmp(rep->element[1]->str, "allkeys-", 8) == 0;
        if (evicts && !r->said_policy)
            co_log(r, ALERT_LOG_WARNING, "fleet: Redis at %s:%d has maxmemory-policy %s: it may "
                   "evict the fleet's keys (marks, claims, mirrored deliveries); use noeviction "
                   "or a volatile-* policy", r->conf.host, r->conf.port, rep->element[1]->str);
        r->said_policy = evicts;
    }
    freeReplyObject(rep);
}

static void co_check_fingerprints(redis_state *r, int64_t deadline)
{
    if (!r->conf.fingerprint[0])
        return;
    const char *sha = script_sha(r, lua_fingerprints, deadline);
    if (!sha)
        return;
    char key[256];
    snprintf(key, sizeof key, "%sfingerprints", r->prefix);
    const char *argv[7] = { "EVALSHA", sha, "1", key, r->conf.instance, r->conf.fingerprint,
                            r->replica_prefix };
    redisReply *rep = co_command(r, deadline, 7, argv);
    if (rep && rep->type == REDIS_REPLY_STRING) {
        if (!rep->str[0]) {
            r->fingerprint_differs[0] = '\0';
        } else if (strcmp(rep->str, r->fingerprint_differs) != 0) {
            snprintf(r->fingerprint_differs, sizeof r->fingerprint_differs, "%s", rep->str);
            char *bar = strrchr(rep->str, '|');
            if (bar)
                *bar = '\0';
            co_log(r, ALERT_LOG_WARNING, "fleet: replica %s runs another configuration than "
                   "this one (config fingerprint %s, here %s): the fleet may decide differently "
                   "depending on which replica sees an event", rep->str, bar ? bar + 1 : "?",
                   r->conf.fingerprint);
        }
    }
    freeReplyObject(rep);
}

/* 0 connected, -1 failed, -2 not tried (waiting between attempts) */
static int co_connect(redis_state *r, int64_t deadline)
{
    int64_t now = real_ms();
    if (now < r->reconnect_at_ms)
        return -2;
    r->c = redisConnectWithTimeout(r->conf.host, r->conf.port, tv_of(deadline - real_us()));
    const char *why = NULL;
    if (!r->c || r->c->err) {
        why = r->c ? r->c->errstr : "out of memory";
    } else {
        redisReply *rep = NULL;
        if (r->conf.password) {
            const char *argv[3] = { "AUTH", r->conf.username ? r->conf.username : r->conf.password,
                                    r->conf.password };
            rep = co_command(r, deadline, r->conf.username ? 3 : 2, argv);
            if (!rep || rep->type == REDIS_REPLY_ERROR)
                why = rep ? "authentication refused" : co_why(r);
            freeReplyObject(rep);
        }
        if (!why && r->conf.db) {
            char db[16];
            snprintf(db, sizeof db, "%d", r->conf.db);
            const char *argv[2] = { "SELECT", db };
            rep = co_command(r, deadline, 2, argv);
            if (!rep || rep->type == REDIS_REPLY_ERROR)
                why = rep ? "SELECT refused" : co_why(r);
            freeReplyObject(rep);
        }
        if (!why) {
            /* the epoch: a Redis that lost its data has another one */
            char fresh[33], key[256];
            snprintf(key, sizeof key, "%sepoch", r->prefix);
            if (al_random_hex(fresh, 16) != 0)
                snprintf(fresh, sizeof fresh, "%llx", (unsigned long long)now);
            const char *set[5] = { "SET", key, fresh, "NX" };
            freeReplyObject(co_command(r, deadline, 4, set));
            const char *get[2] = { "GET", key };
            rep = co_command(r, deadline, 2, get);
            if (rep && rep->type == REDIS_REPLY_STRING) {
                pthread_mutex_lock(&r->lock);
                snprintf(r->epoch, sizeof r->epoch, "%s", rep->str);
                pthread_mutex_unlock(&r->lock);
            } else {
                why = rep ? "epoch unreadable" : co_why(r);
            }
            freeReplyObject(rep);
        }
    }
    if (why) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s", why);
        if (r->c) {
            redisFree(r->c);
            r->c = NULL;
        }
        r->reconnect_wait_ms = r->reconnect_wait_ms ? r->reconnect_wait_ms * 2 : RECONNECT_MIN_MS;
        if (r->reconnect_wait_ms > RECONNECT_MAX_MS)
            r->reconnect_wait_ms = RECONNECT_MAX_MS;
        r->reconnect_at_ms = real_ms() + r->reconnect_wait_ms;
        if (!r->said_down) {          /* once per outage, never per round */
            co_log(r, ALERT_LOG_WARNING, "fleet: Redis at %s:%d unreachable (%s); this replica "
                   "decides alone and keeps trying", r->conf.host, r->conf.port, msg);
            r->said_down = 1;
        }
        return -1;
    }
    r->reconnect_wait_ms = 0;
    for (size_t i = 0; i < r->n_scripts; i++)
        r->script_loaded[i] = 0;        /* a new connection loads them again on first use */
    co_check_policy(r, deadline);
    if (!r->c->err) {
        /* the heartbeat first, so that the others see this replica as live */
        char hb[24];
        snprintf(hb, sizeof hb, "%lld", (long long)r->conf.takeover_ms);
        const char *beat[5] = { "SET", r->heartbeat_key, "1", "PX", hb };
        freeReplyObject(co_command(r, deadline, 5, beat));
        co_check_fingerprints(r, deadline);
    }
    atomic_store(&r->connected, 1);
    co_log(r, r->said_down ? ALERT_LOG_WARNING : ALERT_LOG_INFO, "fleet: %s Redis at %s:%d as %s",
           r->said_down ? "back on" : "connected to", r->conf.host, r->conf.port, r->conf.instance);
    r->said_down = 0;
    return 0;
}

static int answer_of(const redisReply *rep)
{
    if (rep && rep->type == REDIS_REPLY_STRING) {
        if (strcmp(rep->str, "won") == 0)
            return AL_CLAIM_WON;
        if (strcmp(rep->str, "sent") == 0)
            return AL_CLAIM_SENT;
        if (strcmp(rep->str, "held") == 0)
            return AL_CLAIM_HELD;
    }
    return -1;
}

/* A script's slot: its sha (SHA-1 of the text, computed here once) and whether this
 * connection has loaded it. -1 when the table is full or the hash fails. */
static int script_slot(redis_state *r, const char *lua)
{
    for (size_t i = 0; i < r->n_scripts; i++)
        if (r->scripts[i] == lua)
            return (int)i;
    if (r->n_scripts == sizeof r->scripts / sizeof r->scripts[0] ||
        al_sha1_hex(lua, strlen(lua), r->script_sha[r->n_scripts]) != 0)
        return -1;
    r->scripts[r->n_scripts] = lua;
    r->script_loaded[r->n_scripts] = 0;
    return (int)r->n_scripts++;
}

/* The sha of a script loaded on this connection, loading it now if need be (one round
 * trip: for the occasional checks, not the rounds); NULL when Redis would not. */
static const char *script_sha(redis_state *r, const char *lua, int64_t deadline)
{
    int i = script_slot(r, lua);
    if (i < 0)
        return NULL;
    if (!r->script_loaded[i]) {
        const char *argv[3] = { "SCRIPT", "LOAD", lua };
        redisReply *rep = co_command(r, deadline, 3, argv);
        r->script_loaded[i] = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
        freeReplyObject(rep);
    }
    return r->script_loaded[i] ? r->script_sha[i] : NULL;
}

/* Sends the posted operations and a heartbeat as one pipeline; answers go to doneq,
 * unanswered settles to retry. Bounded by fleet_timeout of real time. */
static void co_round_once(redis_state *r)
{
    /* the round ends a little before fleet_timeout (ROUND_RESERVE_US, or a tenth of
     * it), leaving the rest of a poll-mode worker pass inside fleet_timeout */
    int64_t budget = r->conf.timeout_ms * 1000;
    budget -= budget / 10 < ROUND_RESERVE_US ? budget / 10 : ROUND_RESERVE_US;
    int64_t deadline = real_us() + budget;
    pthread_mutex_lock(&r->lock);
    rop *ops = rlist_take(&r->outq);
    r->urgent = 0;
    pthread_mutex_unlock(&r->lock);
    /* settles that waited come first, in order */
    if (r->retry.head) {
        r->retry.tail->next = ops;
        ops = rlist_take(&r->retry);
    }
    atomic_fetch_add(&r->rounds, 1);
    int connect_rc = r->c ? 0 : co_connect(r, deadline);
    if (connect_rc != 0) {
        /* no Redis: claims are answered "won" by the worker at once; settles wait */
        for (rop *o = ops, *next; o; o = next) {
            next = o->next;
            if (o->retry && r->retry.n < SETTLE_QUEUE_MAX) {
                rlist_push(&r->retry, o);
            } else if (o->wait_reconnect && connect_rc == -2) {
                pthread_mutex_lock(&r->lock);
                rlist_push(&r->outq, o);        /* for the next attempt */
                pthread_mutex_unlock(&r->lock);
            } else {
                pthread_mutex_lock(&r->lock);
                rlist_push(&r->doneq, o);
                pthread_mutex_unlock(&r->lock);
            }
        }
        return;
    }
    if (atomic_load(&r->rounds) % FINGERPRINT_EVERY == 0) {
        co_check_policy(r, deadline);
        co_check_fingerprints(r, deadline);
    }
    char hb[24];
    snprintf(hb, sizeof hb, "%lld", (long long)r->conf.takeover_ms);
    const char *beat[5] = { "SET", r->heartbeat_key, "1", "PX", hb };
    size_t n = 0;
    int failed = 0;
    /* one round trip: the scripts this connection has not loaded yet (SCRIPT LOAD), the
     * heartbeat and every op (EVALSHA of the sha computed here) in one pipeline */
    int loads[32];
    size_t n_loads = 0;
    for (rop *o = ops; o && !failed; o = o->next) {
        if (!o->lua)
            continue;
        int i = script_slot(r, o->lua);
        if (i < 0) {
            failed = 1;
            break;
        }
        al_free(o->argv[1]);
        if (!(o->argv[1] = al_strdup(r->script_sha[i]))) {
            failed = 1;
            break;
        }
        if (!r->script_loaded[i]) {
            const char *argv[3] = { "SCRIPT", "LOAD", o->lua };
            r->script_loaded[i] = 1;        /* settled by the reply below */
            loads[n_loads++] = i;
            if (redisAppendCommandArgv(r->c, 3, argv, NULL) != REDIS_OK)
                failed = 1;
        }
    }
    if (!failed)
        failed = redisAppendCommandArgv(r->c, 5, beat, NULL) != REDIS_OK;
    for (rop *o = ops; o && !failed; o = o->next, n++) {
        if (!o->argv[1] ||
            redisAppendCommandArgv(r->c, o->argc, (const char **)o->argv, NULL) != REDIS_OK)
            failed = 1;
    }
    redisReply *rep = NULL;
    for (size_t k = 0; k < n_loads; k++) {
        rep = NULL;
        if (!failed && co_reply(r, deadline, &rep) != 0)
            failed = 1;
        if (!rep || rep->type != REDIS_REPLY_STRING || rep->len != 40)
            r->script_loaded[loads[k]] = 0;     /* its EVALSHA answers NOSCRIPT: loaded again */
        freeReplyObject(rep);
    }
    rep = NULL;
    if (!failed && co_reply(r, deadline, &rep) != 0)
        failed = 1;
    freeReplyObject(rep);
    int noscript = 0;
    rop *o = ops;
    while (o) {
        rop *next = o->next;
        rep = NULL;
        if (!failed && co_reply(r, deadline, &rep) != 0)
            failed = 1;
        if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0)
            noscript = 1;
        int ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (!ok && o->retry) {
            if (r->retry.n < SETTLE_QUEUE_MAX)
                rlist_push(&r->retry, o);       /* applied once Redis takes it (idempotent) */
            else
                rop_free(o);
        } else {
            o->reply = ok ? rep : NULL;
            if (ok)
                rep = NULL;
            pthread_mutex_lock(&r->lock);
            rlist_push(&r->doneq, o);
            pthread_mutex_unlock(&r->lock);
        }
        freeReplyObject(rep);
        o = next;
    }
    if (failed) {
        atomic_fetch_add(&r->round_errors, 1);
        co_disconnect(r, co_why(r));
    } else if (noscript) {
        co_disconnect(r, "scripts flushed");    /* reconnecting loads them again */
        r->reconnect_at_ms = 0;
    }
}

/* A round, timed: its longest duration is what a frozen Redis can cost a worker pass in
 * poll mode (FLEET.md: never more than fleet_timeout). */
static void co_round(redis_state *r)
{
    int64_t start = real_us();
    co_round_once(r);
    pthread_mutex_lock(&r->lock);
    if (r->wake && r->doneq.n)
        r->wake(r->wake_ud);            /* answers wait: the worker takes them now */
    pthread_mutex_unlock(&r->lock);
    uint64_t took = (uint64_t)(real_us() - start);
    uint64_t longest = atomic_load(&r->round_longest_us);
    while (took > longest && !atomic_compare_exchange_weak(&r->round_longest_us, &longest, took))
        ;
}

static void *co_main(void *arg)
{
    redis_state *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        if (!r->urgent) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = ts.tv_nsec + (r->conf.sync_ms % 1000) * 1000000;
            ts.tv_sec += r->conf.sync_ms / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
            if (r->stopping)
                break;
        }
        pthread_mutex_unlock(&r->lock);
        co_round(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- the worker side ------------------------------------------------------------------ */

void al_redis_post(redis_state *r, rop *o, int urgent)
{
    pthread_mutex_lock(&r->lock);
    rlist_push(&r->outq, o);
    if (urgent) {
        r->urgent = 1;
        pthread_cond_signal(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
}

int al_redis_withdraw(redis_state *r, const char *lua, const char *tag, int64_t *i64_or)
{
    rop *found = NULL;
    int n = 0;
    *i64_or = 0;
    pthread_mutex_lock(&r->lock);
    rop **p = &r->outq.head, *prev = NULL;
    while (*p) {
        rop *o = *p;
        if (o->lua == lua && o->tag && strcmp(o->tag, tag) == 0) {
            *p = o->next;
            r->outq.n--;
            o->next = found;
            found = o;
            *i64_or |= o->i64;
            n++;
        } else {
            prev = o;
            p = &o->next;
        }
    }
    r->outq.tail = prev;
    pthread_mutex_unlock(&r->lock);
    while (found) {
        rop *next = found->next;
        rop_free(found);
        found = next;
    }
    return n;
}

/* EVALSHA <sha> 1 <key> args...; the sha is filled in by the round. */
rop *al_redis_script_op(redis_state *r, const char *lua, const char *key, int nargs,
                        const char *const *args)
{
    rop *o = al_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->lua = lua;
    o->argc = 4 + nargs;
    o->argv = al_calloc((size_t)o->argc, sizeof *o->argv);
    if (!o->argv) {
        al_free(o);
        return NULL;
    }
    int ok = (o->argv[0] = al_strdup("EVALSHA")) && (o->argv[2] = al_strdup("1"));
    size_t n = strlen(r->prefix) + strlen(key) + 1;
    if (ok && (o->argv[3] = al_malloc(n)))
        snprintf(o->argv[3], n, "%s%s", r->prefix, key);
    else
        ok = 0;
    for (int i = 0; ok && i < nargs; i++)
        ok = (o->argv[4 + i] = al_strdup(args[i])) != NULL;
    if (!ok) {
        rop_free(o);
        return NULL;
    }
    return o;
}

/* Takes the answers of the last rounds into the claims map, and logs for the
 * coordinator. In poll mode, runs a round first when one is due. */
static void take_answers(redis_state *r)
{
    pthread_mutex_lock(&r->lock);
    rop *o = rlist_take(&r->doneq);
    char *logs[16];
    int levels[16];
    size_t n_logs = r->n_logs;
    memcpy(logs, r->logs, n_logs * sizeof logs[0]);
    memcpy(levels, r->log_levels, n_logs * sizeof levels[0]);
    r->n_logs = 0;
    char epoch[64];
    snprintf(epoch, sizeof epoch, "%s", r->epoch);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < n_logs; i++) {
        if (r->conf.log)
            r->conf.log(r->conf.log_ud, levels[i], logs[i]);
        al_free(logs[i]);
    }
    if (epoch[0] && strcmp(epoch, r->epoch_seen) != 0) {
        if (r->epoch_seen[0] && r->conf.log)
            r->conf.log(r->conf.log_ud, ALERT_LOG_WARNING,
                        "fleet: Redis lost its data (a new epoch): the fleet's marks start again "
                        "from what each replica holds");
        snprintf(r->epoch_seen, sizeof r->epoch_seen, "%s", epoch);
    }
    while (o) {
        rop *next = o->next;
        if (o->done)
            o->done(r, o);
        rop_free(o);
        o = next;
    }
}

/* Poll mode: a round is due for urgent work (a claim), or once fleet_sync_interval went
 * by, on the worker's clock (an injected one: tests advance it) or in real time. */
static int round_due(redis_state *r, int64_t now, int64_t real)
{
    pthread_mutex_lock(&r->lock);
    int urgent = r->urgent;
    pthread_mutex_unlock(&r->lock);
    return urgent || now >= r->next_round_ctx || now < r->last_round_ctx || real >= r->next_round_ms;
}

/* ---- the backend's operations: local ones go to the local backend ---------------------- */

static void red_close(al_state *s)
{
    redis_state *r = rs(s);
    if (r->threaded) {
        pthread_mutex_lock(&r->lock);
        r->stopping = 1;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
    }
    if (r->c) {
        /* a last chance for settles that wait, within fleet_timeout */
        co_round(r);
        redisFree(r->c);
    }
    for (rop *o = rlist_take(&r->outq), *n; o; o = n) {
        n = o->next;
        rop_free(o);
    }
    for (rop *o = rlist_take(&r->doneq), *n; o; o = n) {
        n = o->next;
        rop_free(o);
    }
    for (rop *o = rlist_take(&r->retry), *n; o; o = n) {
        n = o->next;
        rop_free(o);
    }
    for (size_t i = 0; i < r->n_logs; i++)
        al_free(r->logs[i]);
    al_smap_free(&r->claims, al_free);
    al_redis_money_free(r);
    al_redis_outbox_free(r);
    al_state_close(r->local);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    al_free(r->conf.host);
    al_free(r->conf.username);
    al_free(r->conf.password);
    al_free(r->conf.name);
    al_free(r->conf.instance);
    al_state_fini(s);
    al_free(r);
}

#define LOCAL(r) (rs(r)->local)

static const char *red_last_error(const al_state *s)
{
    return al_state_last_error(((const redis_state *)s)->local);
}
static int red_begin(al_state *s) { return al_state_begin(LOCAL(s)); }
static int red_commit(al_state *s) { return al_state_commit(LOCAL(s)); }
static int red_mark_put(al_state *s, const char *k, const char *v, int64_t x)
{
    return al_state_mark_put(LOCAL(s), k, v, x);
}
static int red_mark_get(al_state *s, const char *k, char **v, int64_t now)
{
    return al_state_mark_get(LOCAL(s), k, v, now);
}
static int red_mark_purge(al_state *s, int64_t now) { return al_state_mark_purge(LOCAL(s), now); }
static int red_schedule_put(al_state *s, const char *n, int64_t l)
{
    return al_state_schedule_put(LOCAL(s), n, l);
}
static int red_schedule_get(al_state *s, const char *n, int64_t *l)
{
    return al_state_schedule_get(LOCAL(s), n, l);
}
static int red_counter_add(al_state *s, int32_t d, int32_t m, const char *n, double a)
{
    al_state_cell c = { d, m, n, a };
    return al_state_counters_add(LOCAL(s), 0, &c, 1);
}
static int red_counter_get(al_state *s, int32_t d, int32_t m, const char *n, double *t)
{
    return al_state_counter_get(LOCAL(s), d, m, n, t);
}
static int red_counters_load(al_state *s, int32_t f, al_state_cell_cb cb, void *ud)
{
    return al_state_counters_load(LOCAL(s), f, cb, ud);
}
static int red_counters_prune(al_state *s, int32_t b) { return al_state_counters_prune(LOCAL(s), b); }
static int red_spool_put(al_state *s, const al_spool_row *row, int64_t *id)
{
    return al_state_spool_put(LOCAL(s), row, id);
}
static int red_spool_update(al_state *s, int64_t id, int32_t a, int64_t n)
{
    return al_state_spool_update(LOCAL(s), id, a, n);
}
static int red_spool_delete(al_state *s, int64_t id) { return al_state_spool_delete(LOCAL(s), id); }
static int red_spool_load(al_state *s, al_state_row_cb cb, void *ud)
{
    return al_state_spool_load(LOCAL(s), cb, ud);
}
static int64_t red_spool_take_lost(al_state *s) { return al_state_spool_take_lost(LOCAL(s)); }

/* The answer of a claim, into the map the worker asks. */
static void claim_done(redis_state *r, rop *o)
{
    al_smap_entry *e = al_smap_find(&r->claims, o->tag, 0);
    pending *p = e ? e->value : NULL;
    if (!p || p->answered)
        return;                         /* given up on (won after fleet_claim_timeout) */
    p->answered = 1;
    p->answer = answer_of(o->reply);        /* -1: no answer (an error, or no Redis) */
}

/* A claim: posted once, then answered on a later pass; unanswered past
 * fleet_claim_timeout, or with no Redis, it is won. */
static int red_claim(al_state *s, const char *claim, int64_t now_ms, rop *(*make)(redis_state *, void *),
                     void *ud, al_claim *out)
{
    redis_state *r = rs(s);
    al_smap_entry *e = al_smap_find(&r->claims, claim, 0);
    if (!e) {
        if (!atomic_load(&r->connected)) {
            /* no Redis: this replica decides alone (the claim is recorded by its settle) */
            atomic_fetch_add(&r->claims_unanswered, 1);
            *out = AL_CLAIM_WON;
            return ALERT_OK;
        }
        pending *p = al_calloc(1, sizeof *p);
        rop *o = p ? make(r, ud) : NULL;
        if (o && !(o->tag = al_strdup(claim))) {
            rop_free(o);
            o = NULL;
        }
        if (!o || !(e = al_smap_find(&r->claims, claim, 1))) {
            al_free(p);
            rop_free(o);
            *out = AL_CLAIM_WON;        /* no memory to ask: never lose the alert */
            return ALERT_OK;
        }
        p->posted_ms = now_ms;
        e->value = p;
        o->done = claim_done;
        al_redis_post(r, o, 1);
        *out = AL_CLAIM_PENDING;
        return ALERT_OK;
    }
    pending *p = e->value;
    if (p->answered && p->answer < 0 && !p->asked_again &&
        now_ms - p->posted_ms < r->conf.claim_ms) {
        /* The round failed: Redis slow, gone, or its reply lost after the script ran.
         * Ask once more, on the next connection (the coordinator's first reconnect
         * attempt): a claim this replica already holds is answered "won" by the script,
         * so a lost reply is neither a loss nor a duplicate. Failing again, it is won. */
        rop *o = make(r, ud);
        if (o && (o->tag = al_strdup(claim))) {
            p->answered = 0;
            p->asked_again = 1;
            o->done = claim_done;
            o->wait_reconnect = 1;
            al_redis_post(r, o, atomic_load(&r->connected));
            *out = AL_CLAIM_PENDING;
            return ALERT_OK;
        }
        rop_free(o);                    /* no memory to ask again: won, below */
    }
    if (p->answered && p->answer >= 0) {
        *out = p->answer;
        atomic_fetch_add(*out == AL_CLAIM_WON ? &r->claims_won : &r->claims_lost, 1);
    } else if (p->answered || now_ms - p->posted_ms >= r->conf.claim_ms) {
        *out = AL_CLAIM_WON;            /* no answer: send (a duplicate, never a loss) */
        atomic_fetch_add(&r->claims_unanswered, 1);
    } else {
        *out = AL_CLAIM_PENDING;
        return ALERT_OK;
    }
    void *v;
    al_smap_remove(&r->claims, claim, &v);
    al_free(v);
    return ALERT_OK;
}

typedef struct mark_args {
    const char *key;
    int64_t ttl_ms;
} mark_args;

static rop *make_mark_claim(redis_state *r, void *ud)
{
    const mark_args *m = ud;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(m->ttl_ms > 0 ? m->ttl_ms : 0));
    char key[1024];
    snprintf(key, sizeof key, "mark:%s", m->key);
    const char *args[3] = { r->conf.instance, ttl, r->replica_prefix };
    return al_redis_script_op(r, lua_mark_claim, key, 3, args);
}

typedef struct step_args {
    const char *group, *field, *rank;
    const char *const *lower;
    size_t n_lower;
} step_args;

static rop *make_step_claim(redis_state *r, void *ud)
{
    const step_args *a = ud;
    const char *args[64];
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", 45LL * 86400000);
    args[0] = r->conf.instance;
    args[1] = a->field;
    args[2] = a->rank;
    args[3] = r->replica_prefix;
    args[4] = exp;
    size_t n = 5;
    for (size_t i = 0; i < a->n_lower && n < 64; i++)
        args[n++] = a->lower[i];
    char key[1024];
    snprintf(key, sizeof key, "step:%s", a->group);
    return al_redis_script_op(r, lua_step_claim, key, (int)n, args);
}

/* ---- the fleet key: what an alert claims ------------------------------------------------
 * "M|<ttl ms>|<mark key>"                           a once-only mark
 * "S|<group>|<field>|<rank>|<lower,lower,...>"      a budget step          */

static int parse_step(char *k, step_args *a, const char **lower, size_t max)
{
    char *f[5];
    for (int i = 0; i < 5; i++) {
        f[i] = k;
        char *bar = i < 4 ? strchr(k, '|') : NULL;
        if (i < 4 && !bar)
            return -1;
        if (bar) {
            *bar = '\0';
            k = bar + 1;
        }
    }
    a->group = f[1];
    a->field = f[2];
    a->rank = f[3];
    a->n_lower = 0;
    for (char *p = f[4]; *p && a->n_lower < max;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        lower[a->n_lower++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    a->lower = lower;
    return 0;
}

static int red_fleet_claim(al_state *s, const char *fleet_key, int64_t now_ms, al_claim *out)
{
    char *k = al_strdup(fleet_key);
    if (!k) {
        *out = AL_CLAIM_WON;
        return ALERT_ERR_NOMEM;
    }
    int rc = ALERT_ERR_INVALID;
    if (k[0] == 'M' && k[1] == '|') {
        char *end;
        mark_args m = { NULL, strtoll(k + 2, &end, 10) };
        if (*end == '|') {
            m.key = end + 1;
            rc = red_claim(s, fleet_key, now_ms, make_mark_claim, &m, out);
        }
    } else if (k[0] == 'S' && k[1] == '|') {
        step_args a;
        const char *lower[32];
        if (parse_step(k, &a, lower, 32) == 0)
            rc = red_claim(s, fleet_key, now_ms, make_step_claim, &a, out);
    }
    if (rc == ALERT_ERR_INVALID)
        *out = AL_CLAIM_WON;
    al_free(k);
    return rc;
}

static int red_fleet_settle(al_state *s, const char *fleet_key, int sent)
{
    redis_state *r = rs(s);
    char *k = al_strdup(fleet_key);
    if (!k)
        return ALERT_ERR_NOMEM;
    rop *o = NULL;
    const char *flag = sent ? "1" : "0";
    if (k[0] == 'M' && k[1] == '|') {
        char *end;
        long long ttl = strtoll(k + 2, &end, 10);
        if (*end == '|') {
            char ttl_s[24], key[1024];
            snprintf(ttl_s, sizeof ttl_s, "%lld", ttl > 0 ? ttl : 0);
            snprintf(key, sizeof key, "mark:%s", end + 1);
            const char *args[3] = { r->conf.instance, flag, ttl_s };
            o = al_redis_script_op(r, lua_mark_settle, key, 3, args);
        }
    } else if (k[0] == 'S' && k[1] == '|') {
        step_args a;
        const char *lower[32];
        if (parse_step(k, &a, lower, 32) == 0) {
            char exp[24], key[1024];
            snprintf(exp, sizeof exp, "%lld", 45LL * 86400000);
            snprintf(key, sizeof key, "step:%s", a.group);
            const char *args[4] = { r->conf.instance, a.field, flag, exp };
            o = al_redis_script_op(r, lua_step_settle, key, 4, args);
        }
    }
    al_free(k);
    if (!o)
        return ALERT_ERR_NOMEM;
    o->retry = 1;                       /* recorded once Redis takes it */
    al_redis_post(r, o, 0);
    return ALERT_OK;
}

static void poll_round(redis_state *r, int64_t now_ms)
{
    int64_t t = real_ms();
    co_round(r);
    r->next_round_ms = t + r->conf.sync_ms;
    r->last_round_ctx = now_ms;
    r->next_round_ctx = now_ms + r->conf.sync_ms;
}

/* Start of a pass: the answers (after a round, when urgent work waits in poll mode);
 * end of a pass, in poll mode: the round of what the pass posted, when due. */
static void red_round(al_state *s, int64_t now_ms, int end)
{
    redis_state *r = rs(s);
    if (end) {
        if (!r->threaded && round_due(r, now_ms, real_ms()))
            poll_round(r, now_ms);
        return;
    }
    if (!r->threaded) {
        pthread_mutex_lock(&r->lock);
        int urgent = r->urgent;
        pthread_mutex_unlock(&r->lock);
        if (urgent)
            poll_round(r, now_ms);
    }
    take_answers(r);
}

static int64_t red_round_wait(al_state *s, int64_t now_ms)
{
    redis_state *r = rs(s);
    pthread_mutex_lock(&r->lock);
    int ready = r->urgent || r->doneq.n || r->n_logs;
    pthread_mutex_unlock(&r->lock);
    if (ready)
        return 0;
    if (r->threaded)
        return INT64_MAX;
    int64_t ctx_left = r->next_round_ctx - now_ms, real_left = r->next_round_ms - real_ms();
    int64_t left = ctx_left < real_left ? ctx_left : real_left;
    return left < 0 ? 0 : left;
}

static void red_stats(al_state *s, al_fleet_stats *out)
{
    redis_state *r = rs(s);
    out->connected = atomic_load(&r->connected);
    out->rounds = atomic_load(&r->rounds);
    out->round_errors = atomic_load(&r->round_errors);
    out->claims_won = atomic_load(&r->claims_won);
    out->claims_lost = atomic_load(&r->claims_lost);
    out->claims_unanswered = atomic_load(&r->claims_unanswered);
    out->round_longest_us = atomic_load(&r->round_longest_us);
    out->deliveries_adopted = atomic_load(&r->deliveries_adopted) + al_redis_fleet_adopted(s);
}

int al_state_fleet_epoch(al_state *s, char *buf, size_t n)
{
    if (!al_state_fleet(s) || !buf || !n)
        return 0;
    redis_state *r = (redis_state *)s;
    pthread_mutex_lock(&r->lock);
    snprintf(buf, n, "%s", r->epoch);
    pthread_mutex_unlock(&r->lock);
    return 1;
}

void al_state_fleet_wake(al_state *s, void (*fn)(void *ud), void *ud)
{
    if (!al_state_fleet(s))
        return;
    redis_state *r = rs(s);
    pthread_mutex_lock(&r->lock);
    r->wake = fn;
    r->wake_ud = ud;
    pthread_mutex_unlock(&r->lock);
}

static size_t red_pending(al_state *s)
{
    return rs(s)->claims.count;
}

static const al_state_ops red_ops = {
    .name = "redis",
    .durable = 0,               /* the wrapped local backend's, set at open (base.durable) */
    .close = red_close,
    .last_error = red_last_error,
    .begin = red_begin,
    .commit = red_commit,
    .mark_put = red_mark_put,
    .mark_get = red_mark_get,
    .mark_purge = red_mark_purge,
    .schedule_put = red_schedule_put,
    .schedule_get = red_schedule_get,
    .counter_add = red_counter_add,
    .counter_get = red_counter_get,
    .counters_load = red_counters_load,
    .counters_prune = red_counters_prune,
    .spool_put = red_spool_put,
    .spool_update = red_spool_update,
    .spool_delete = red_spool_delete,
    .spool_load = red_spool_load,
    .spool_take_lost = red_spool_take_lost,
    .fleet_claim = red_fleet_claim,
    .fleet_settle = red_fleet_settle,
    .round = red_round,
    .round_wait = red_round_wait,
    .stats = red_stats,
    .pending = red_pending,
};


int al_state_open_redis(al_state **out, al_state *local, const al_fleet_conf *c)
{
    if (!out || !local || !c || !c->host || !c->instance) {
        al_state_close(local);
        return ALERT_ERR_INVALID;
    }
    *out = NULL;
    redis_state *r = al_calloc(1, sizeof *r);
    if (!r) {
        al_state_close(local);
        return ALERT_ERR_NOMEM;
    }
    al_state_init(&r->base, &red_ops);
    r->base.durable = al_state_durable(local);     /* its spool is the local one's */
    r->local = local;
    r->conf = *c;
    r->conf.host = al_strdup(c->host);
    r->conf.username = c->username ? al_strdup(c->username) : NULL;
    r->conf.password = c->password ? al_strdup(c->password) : NULL;
    r->conf.name = al_strdup(c->name ? c->name : "default");
    r->conf.instance = al_strdup(c->instance);
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!r->conf.host || !r->conf.name || !r->conf.instance ||
        (c->username && !r->conf.username) || (c->password && !r->conf.password)) {
        red_close(&r->base);
        return ALERT_ERR_NOMEM;
    }
    snprintf(r->prefix, sizeof r->prefix, "{alerting:%s}:", r->conf.name);
    snprintf(r->replica_prefix, sizeof r->replica_prefix, "%sreplica:", r->prefix);
    snprintf(r->heartbeat_key, sizeof r->heartbeat_key, "%s%s", r->replica_prefix, r->conf.instance);
    if (c->threaded) {
        if (pthread_create(&r->thread, NULL, co_main, r) != 0) {
            red_close(&r->base);
            return ALERT_ERR_NOMEM;
        }
        r->threaded = 1;
        /* the first round at once: connect while the host starts */
        pthread_mutex_lock(&r->lock);
        r->urgent = 1;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
    } else {
        co_round(r);            /* connect now, bounded by fleet_timeout */
        r->next_round_ms = real_ms() + r->conf.sync_ms;
        r->next_round_ctx = 0;  /* the worker's clock is not known yet: due at the first pass */
    }
    *out = &r->base;
    return ALERT_OK;
}

/* ---- addresses ------------------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    return al_strndup(s, n);
}

/* "%41" and the like in a user or password */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '%' && s[1] && s[2]) {
            char hex[3] = { s[1], s[2], 0 };
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0') {
                *o++ = (char)v;
                s += 2;
                continue;
            }
        }
        *o++ = *s;
    }
    *o = '\0';
}

/* Schemes of the Sentinel and Cluster URLs that redis-py, LiteLLM and the common Redis
 * clients accept. */
static const struct {
    const char *scheme;
    const char *kind;
} topologies[] = {
    { "redis-sentinel://", "Sentinel" },
    { "redis+sentinel://", "Sentinel" },
    { "sentinel://", "Sentinel" },
    { "redis-cluster://", "Cluster" },
    { "redis+cluster://", "Cluster" },
};

const char *al_redis_url_topology(const char *url)
{
    for (size_t i = 0; url && i < sizeof topologies / sizeof topologies[0]; i++)
        if (strncasecmp(url, topologies[i].scheme, strlen(topologies[i].scheme)) == 0)
            return topologies[i].kind;
    return NULL;
}

int al_redis_parse_url(const char *url, al_fleet_conf *c, const char **why)
{
    *why = NULL;
    if (strncmp(url, "rediss://", 9) == 0) {
        *why = "rediss:// (TLS) needs hiredis with TLS, which this build does not have";
        return ALERT_ERR_CONFIG;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        *why = "must start with redis://";
        return ALERT_ERR_CONFIG;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    const char *slash = strchr(at ? at : p, '/');
    if (at && slash && slash < at)
        at = NULL;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (colon > p)
                c->username = dup_n(p, (size_t)(colon - p));
            c->password = dup_n(colon + 1, (size_t)(at - colon - 1));
        } else {
            c->password = dup_n(p, (size_t)(at - p));       /* redis://secret@host */
        }
        if (c->username)
            unescape(c->username);
        if (c->password)
            unescape(c->password);
        p = at + 1;
    }
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') {                                        /* [::1]:6379 */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) {
            *why = "has an unclosed [ in its host";
            return ALERT_ERR_CONFIG;
        }
        c->host = dup_n(p + 1, (size_t)(close - p - 1));
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        c->host = dup_n(p, (size_t)((colon ? colon : end) - p));
    }
    if (!c->host || !*c->host) {
        *why = "has no host";
        return ALERT_ERR_CONFIG;
    }
    c->port = 6379;
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port < 1 || port > 65535) {
            *why = "has a port that is not a number from 1 to 65535";
            return ALERT_ERR_CONFIG;
        }
        c->port = (int)port;
    }
    c->db = 0;
    if (slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || db < 0 || db > 1000000) {
            *why = "has a database that is not a number";
            return ALERT_ERR_CONFIG;
        }
        c->db = (int)db;
    }
    return ALERT_OK;
}
