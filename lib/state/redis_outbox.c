/* SPDX-License-Identifier: MIT */
/* Fleet mode, deliveries (FLEET.md "What is shared"; libalerting-fleet(7)):
 *
 * - shared rate limits: one token bucket per target in Redis ("rate:<target hash>"),
 *   taken from by one script, and a Retry-After block in the same hash: a 429 seen by one
 *   replica holds every replica until it passes. Redis down: each replica runs its local
 *   bucket at the configured rate divided by the live replicas Redis last reported;
 * - pending deliveries mirrored: each replica keeps its outbox rows (target hash, never
 *   the URL) in "outbox:<instance id>"; "members" lists the replicas that mirror. Every
 *   fleet_sync_interval each replica runs one script that counts the live replicas (a
 *   replica is alive while its heartbeat key exists) and adopts the rows of ONE dead or
 *   departed replica: the rows move to the adopter's own hash (so that they survive the
 *   adopter too) and their idempotency keys are listed in "adopted:<dead id>", which a
 *   stalled replica that comes back reads to drop its own copies.
 *
 * Worker-side only: the done callbacks run on the worker (take_answers), like every
 * caller of these functions. Nothing here waits on Redis. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting.h"
#include "alloc.h"
#include "state/redis_impl.h"

#define ADOPTED_TTL_MS (7LL * 86400000)     /* a stalled replica has this long to come back */

/* KEYS[1] rate:<hash>; ARGV: now (wall ms), rate per ms, burst, want. Refills by the
 * callers' clocks (a clock behind refills nothing), grants up to want whole tokens unless
 * a Retry-After block holds. Returns {granted, blocked_until}. */
static const char lua_rate_take[] =
    "local now, rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local v = redis.call('HMGET', KEYS[1], 't', 'ts', 'b')\n"
    "local tokens, ts, blocked = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]) or 0\n"
    "if not tokens or not ts then tokens, ts = burst, now end\n"
    "if now > ts then\n"
    "  tokens = math.min(burst, tokens + (now - ts) * rate)\n"
    "  ts = now\n"
    "end\n"
    "local n = 0\n"
    "if blocked <= now then\n"
    "  n = math.max(0, math.min(want, math.floor(tokens)))\n"
    "  tokens = tokens - n\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 't', string.format('%.6f', tokens), 'ts', string.format('%d', ts))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 3600000)\n"
    "return {n, string.format('%d', blocked)}\n";

/* KEYS[1] rate:<hash>; ARGV: until (wall ms). The block only ever grows. */
static const char lua_rate_block[] =
    "local b = tonumber(redis.call('HGET', KEYS[1], 'b') or '0') or 0\n"
    "if tonumber(ARGV[1]) > b then redis.call('HSET', KEYS[1], 'b', ARGV[1]) end\n"
    "redis.call('PEXPIRE', KEYS[1], math.max(3600000, tonumber(ARGV[1]) - b))\n"
    "return 1\n";

/* KEYS[1] outbox:<me>; ARGV: adopted:<me>, members, me, idem, row. A row another
 * replica already adopted from this one is not written again. */
static const char lua_mirror_put[] =
    "if redis.call('SISMEMBER', ARGV[1], ARGV[4]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])\n"
    "redis.call('SADD', ARGV[2], ARGV[3])\n"
    "return 1\n";

/* KEYS[1] members; ARGV: me, replica key prefix, outbox key prefix, adopted key prefix,
 * adopted ttl ms. Counts the live replicas, takes the keys adopted from this replica
 * (it was presumed dead), and adopts the rows of one dead replica: they move to this
 * replica's hash, their keys to adopted:<dead>, and the dead replica leaves members; as
 * one script, so that exactly one replica adopts them. Returns {live, dropped, rows}. */
static const char lua_members[] =
    "local me, rp, op, ap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "redis.call('SADD', KEYS[1], me)\n"
    "local dropped = {}\n"
    "if redis.call('EXISTS', ap .. me) == 1 then\n"
    "  dropped = redis.call('SMEMBERS', ap .. me)\n"
    "  redis.call('DEL', ap .. me)\n"
    "end\n"
    "local live, rows, took = 0, {}, false\n"
    "for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  if m == me or redis.call('EXISTS', rp .. m) == 1 then\n"
    "    live = live + 1\n"
    "  elseif not took then\n"
    "    took = true\n"
    "    local all = redis.call('HGETALL', op .. m)\n"
    "    for i = 1, #all, 2 do\n"
    "      redis.call('HSET', op .. me, all[i], all[i + 1])\n"
    "      redis.call('SADD', ap .. m, all[i])\n"
    "      rows[#rows + 1] = all[i + 1]\n"
    "    end\n"
    "    if #all > 0 then redis.call('PEXPIRE', ap .. m, ARGV[5]) end\n"
    "    redis.call('DEL', op .. m)\n"
    "    redis.call('SREM', KEYS[1], m)\n"
    "  end\n"
    "end\n"
    "return {live, dropped, rows}\n";

/* KEYS[1] outbox:<me>; ARGV: members, me, heartbeat key. Leaving: the heartbeat goes, so
 * that the next replica's members script adopts what is left at once; a replica with
 * nothing mirrored leaves members too. */
static const char lua_leave[] =
    "if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', ARGV[1], ARGV[2]) end\n"
    "redis.call('DEL', ARGV[3])\n"
    "return 1\n";

typedef struct bucket {
    int asking;             /* a take is posted and not answered yet */
    int granted;            /* answered tokens not handed to the outbox yet */
    int64_t blocked;        /* the fleet's Retry-After block, wall ms */
} bucket;

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

typedef struct redis_delivery {
    al_smap buckets;        /* target hash -> bucket */
    int live;               /* live replicas when Redis last answered (>= 1) */
    int member_asking;
    int64_t next_member_ms; /* real ms */
    strv rows;              /* adopted rows (JSON), for the worker */
    strv drops;             /* idempotency keys adopted from this replica */
    _Atomic uint64_t adopted;   /* read by alert_stats_get on any thread */
    int left;
    int64_t last_take_ms;   /* real ms of the last pass (al_redis_adopt_take) */
    int64_t hold_since;     /* after a silence: no delivery starts until a check posted
                               since then is answered (0: none held) */
} redis_delivery;

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static redis_delivery *dlv(redis_state *r)
{
    if (!r->delivery && (r->delivery = al_calloc(1, sizeof *r->delivery)))
        r->delivery->live = 1;
    return r->delivery;
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        al_free(s->v[i]);
    al_free(s->v);
    memset(s, 0, sizeof *s);
}

static int strv_push(strv *s, const char *str, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = al_realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = al_strndup(str, len)))
        return -1;
    s->n++;
    return 0;
}

void al_redis_outbox_free(redis_state *r)
{
    redis_delivery *d = r->delivery;
    if (!d)
        return;
    al_smap_free(&d->buckets, al_free);
    strv_free(&d->rows);
    strv_free(&d->drops);
    al_free(d);
    r->delivery = NULL;
}

/* A plain command with the namespace's key: argv[1] is the key. */
static rop *plain_op(redis_state *r, const char *cmd, const char *key, int nargs,
                     const char *const *args)
{
    rop *o = al_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->argc = 2 + nargs;
    o->argv = al_calloc((size_t)o->argc, sizeof *o->argv);
    if (!o->argv) {
        al_free(o);
        return NULL;
    }
    size_t n = strlen(r->prefix) + strlen(key) + 1;
    int ok = (o->argv[0] = al_strdup(cmd)) && (o->argv[1] = al_malloc(n));
    if (ok)
        snprintf(o->argv[1], n, "%s%s", r->prefix, key);
    for (int i = 0; ok && i < nargs; i++)
        ok = (o->argv[2 + i] = al_strdup(args[i])) != NULL;
    if (!ok) {
        al_redis_op_free(o);
        return NULL;
    }
    return o;
}

/* ---- shared rate limits --------------------------------------------------------------- */

static void rate_done(redis_state *r, rop *o)
{
    redis_delivery *d = r->delivery;
    al_smap_entry *e = d ? al_smap_find(&d->buckets, o->tag, 0) : NULL;
    bucket *b = e ? e->value : NULL;
    if (!b)
        return;
    b->asking = 0;
    const redisReply *rep = o->reply;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER || rep->element[1]->type != REDIS_REPLY_STRING)
        return;                             /* no answer: nothing granted */
    b->granted += (int)rep->element[0]->integer;
    long long blocked = strtoll(rep->element[1]->str, NULL, 10);
    if (blocked > b->blocked)
        b->blocked = blocked;
}

static bucket *bucket_of(redis_delivery *d, const char *name)
{
    al_smap_entry *e = al_smap_find(&d->buckets, name, 1);
    if (e && !e->value)
        e->value = al_calloc(1, sizeof(bucket));
    return e ? e->value : NULL;
}

int al_redis_rate_take(al_state *s, const char *name, double per_ms, double burst, int want,
                       int64_t now_wall, al_rate_grant *out)
{
    redis_state *r = (redis_state *)s;
    redis_delivery *d = dlv(r);
    if (!d)
        return ALERT_ERR_NOMEM;             /* out stays local, alone */
    out->divisor = d->live;
    if (!atomic_load(&r->connected))
        return ALERT_OK;                    /* Redis away: rate / live replicas, locally */
    bucket *b = bucket_of(d, name);
    if (!b)
        return ALERT_ERR_NOMEM;
    out->local = 0;
    out->granted = b->granted;
    out->blocked_until = b->blocked;
    b->granted = 0;
    if (b->asking || want <= 0 || b->blocked > now_wall || !(per_ms > 0))
        return ALERT_OK;
    char now_s[24], rate_s[40], burst_s[40], want_s[16];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_wall);
    snprintf(rate_s, sizeof rate_s, "%.17g", per_ms);
    snprintf(burst_s, sizeof burst_s, "%.17g", burst);
    snprintf(want_s, sizeof want_s, "%d", want);
    char key[128];
    snprintf(key, sizeof key, "rate:%s", name);
    const char *args[4] = { now_s, rate_s, burst_s, want_s };
    rop *o = al_redis_script_op(r, lua_rate_take, key, 4, args);
    if (!o || !(o->tag = al_strdup(name))) {
        al_redis_op_free(o);
        return ALERT_ERR_NOMEM;
    }
    o->done = rate_done;
    b->asking = 1;
    al_redis_post(r, o, 1);                 /* a delivery waits for it */
    return ALERT_OK;
}

int al_redis_rate_block(al_state *s, const char *name, int64_t until_wall)
{
    redis_state *r = (redis_state *)s;
    redis_delivery *d = dlv(r);
    bucket *b = d ? bucket_of(d, name) : NULL;
    if (!b)
        return ALERT_ERR_NOMEM;
    if (until_wall > b->blocked)
        b->blocked = until_wall;
    char until_s[24], key[128];
    snprintf(until_s, sizeof until_s, "%lld", (long long)until_wall);
    snprintf(key, sizeof key, "rate:%s", name);
    const char *args[1] = { until_s };
    rop *o = al_redis_script_op(r, lua_rate_block, key, 1, args);
    if (!o)
        return ALERT_ERR_NOMEM;
    al_redis_post(r, o, 1);
    return ALERT_OK;
}

/* ---- the mirror ------------------------------------------------------------------------- */

int al_redis_mirror_put(al_state *s, const al_spool_row *row, int fresh)
{
    redis_state *r = (redis_state *)s;
    json_t *j = json_pack("{s:i, s:s?, s:i, s:i, s:s?, s:s?, s:s?, s:s, s:I, s:I, s:I}",
                          "k", (int)row->target_kind, "h", row->target, "l", (int)row->level,
                          "a", (int)row->attempt, "y", row->alert_type, "x", row->text,
                          "e", row->extra, "i", row->idem, "c", (json_int_t)row->created_ms,
                          "n", (json_int_t)row->next_at_ms, "d", (json_int_t)row->deadline_ms);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return ALERT_ERR_NOMEM;
    char key[300], adopted[512], members[256];
    snprintf(key, sizeof key, "outbox:%s", r->conf.instance);
    snprintf(adopted, sizeof adopted, "%sadopted:%s", r->prefix, r->conf.instance);
    snprintf(members, sizeof members, "%smembers", r->prefix);
    const char *args[5] = { adopted, members, r->conf.instance, row->idem, text };
    rop *o = al_redis_script_op(r, lua_mirror_put, key, 5, args);
    free(text);                             /* jansson's allocation */
    if (!o || !(o->tag = al_strdup(row->idem))) {
        al_redis_op_free(o);
        return ALERT_ERR_NOMEM;
    }
    o->retry = 1;                           /* idempotent: kept until Redis takes it */
    o->i64 = fresh ? 1 : 0;
    /* only the row's last state matters: an older put still waiting goes */
    int64_t was_fresh;
    if (al_redis_withdraw(r, lua_mirror_put, row->idem, &was_fresh))
        o->i64 |= was_fresh;
    al_redis_post(r, o, 0);
    return ALERT_OK;
}

int al_redis_mirror_delete(al_state *s, const char *idem)
{
    redis_state *r = (redis_state *)s;
    /* delivered before its mirror went out: neither goes (a round carries only what
     * is still pending at its time). Only when the put withdrawn was fresh: a row put
     * by an earlier round is deleted. */
    int64_t fresh;
    if (al_redis_withdraw(r, lua_mirror_put, idem, &fresh) && fresh)
        return ALERT_OK;
    char key[300];
    snprintf(key, sizeof key, "outbox:%s", r->conf.instance);
    const char *args[1] = { idem };
    rop *o = plain_op(r, "HDEL", key, 1, args);
    if (!o)
        return ALERT_ERR_NOMEM;
    o->retry = 1;
    al_redis_post(r, o, 0);
    return ALERT_OK;
}

/* ---- membership and adoption ------------------------------------------------------------ */

static void members_done(redis_state *r, rop *o)
{
    redis_delivery *d = r->delivery;
    if (!d)
        return;
    d->member_asking = 0;
    if (d->hold_since && o->i64 >= d->hold_since)
        d->hold_since = 0;      /* answered (its drops are taken this pass), or no Redis */
    const redisReply *rep = o->reply;
    if (d->left || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER)
        return;
    d->live = rep->element[0]->integer > 0 ? (int)rep->element[0]->integer : 1;
    for (int k = 1; k <= 2; k++) {
        const redisReply *a = rep->element[k];
        if (a->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t i = 0; i < a->elements; i++)
            if (a->element[i]->type == REDIS_REPLY_STRING)
                strv_push(k == 1 ? &d->drops : &d->rows, a->element[i]->str, a->element[i]->len);
    }
}

static const char *jstr(json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

/* A mirrored row back into the spool row the outbox restores from. */
static int row_of(const char *text, al_state_row_cb adopt, void *ud)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        return 0;                           /* not ours: nothing to send */
    al_spool_row row;
    memset(&row, 0, sizeof row);
    row.target_kind = (int32_t)json_integer_value(json_object_get(j, "k"));
    row.target = jstr(j, "h");
    row.level = (int32_t)json_integer_value(json_object_get(j, "l"));
    row.attempt = (int32_t)json_integer_value(json_object_get(j, "a"));
    row.alert_type = jstr(j, "y");
    row.text = jstr(j, "x");
    row.extra = jstr(j, "e");
    row.idem = jstr(j, "i");
    row.created_ms = (int64_t)json_integer_value(json_object_get(j, "c"));
    row.next_at_ms = (int64_t)json_integer_value(json_object_get(j, "n"));
    row.deadline_ms = (int64_t)json_integer_value(json_object_get(j, "d"));
    int rc = adopt(ud, &row);
    json_decref(j);
    return rc;
}

int al_redis_adopt_take(al_state *s, int64_t now_wall, al_state_row_cb adopt,
                        al_state_idem_cb drop, void *ud)
{
    (void)now_wall;
    redis_state *r = (redis_state *)s;
    redis_delivery *d = dlv(r);
    if (!d)
        return ALERT_ERR_NOMEM;
    int64_t now = real_ms();
    /* A silence of half fleet_takeover_after (a stalled or frozen process: its heartbeat
     * may have expired, and another replica adopted its rows): no delivery starts until
     * a check posted from now on is answered (al_state_fleet_hold), at once, so that the
     * rows adopted meanwhile are dropped here rather than sent twice. Not past
     * fleet_claim_timeout (no answer: send; a duplicate, not a loss). */
    int silent = d->last_take_ms && now - d->last_take_ms >= r->conf.takeover_ms / 2;
    d->last_take_ms = now;
    if (silent && !d->left && atomic_load(&r->connected)) {
        d->hold_since = now;
        d->member_asking = 0;   /* the check in flight was posted before the silence */
        d->next_member_ms = 0;  /* ... and this one goes at once */
    } else if (d->hold_since && now - d->hold_since > r->conf.claim_ms) {
        d->hold_since = 0;
    }
    /* the next check is queued as soon as the last is answered (one per round) */
    if (!d->left && !d->member_asking && atomic_load(&r->connected)) {
        char ttl[24], outbox[256], adopted[256];
        snprintf(ttl, sizeof ttl, "%lld", ADOPTED_TTL_MS);
        snprintf(outbox, sizeof outbox, "%soutbox:", r->prefix);
        snprintf(adopted, sizeof adopted, "%sadopted:", r->prefix);
        const char *args[5] = { r->conf.instance, r->replica_prefix, outbox, adopted, ttl };
        rop *o = al_redis_script_op(r, lua_members, "members", 5, args);
        if (o) {
            o->done = members_done;
            o->i64 = now;
            d->member_asking = 1;
            /* the first at once: a replica that starts adopts what one that left handed over */
            al_redis_post(r, o, d->next_member_ms == 0);
            d->next_member_ms = now + r->conf.sync_ms;
        }
    }
    if (d->drops.n && r->conf.log) {
        char msg[200];
        snprintf(msg, sizeof msg, "fleet: %zu pending deliveries of this replica were adopted by "
                 "another while it was silent; its own copies are dropped", d->drops.n);
        r->conf.log(r->conf.log_ud, ALERT_LOG_WARNING, msg);
    }
    for (size_t i = 0; i < d->drops.n; i++)
        drop(ud, d->drops.v[i]);
    strv_free(&d->drops);
    int rc = ALERT_OK;
    for (size_t i = 0; i < d->rows.n; i++) {
        atomic_fetch_add(&d->adopted, 1);
        int c = row_of(d->rows.v[i], adopt, ud);
        if (c && rc == ALERT_OK)
            rc = c;
    }
    strv_free(&d->rows);
    return rc;
}

void al_redis_fleet_leave(al_state *s)
{
    redis_state *r = (redis_state *)s;
    redis_delivery *d = dlv(r);
    if (d)
        d->left = 1;
    char key[300], members[256];
    snprintf(key, sizeof key, "outbox:%s", r->conf.instance);
    snprintf(members, sizeof members, "%smembers", r->prefix);
    const char *args[3] = { members, r->conf.instance, r->heartbeat_key };
    rop *o = al_redis_script_op(r, lua_leave, key, 3, args);
    if (o) {
        o->retry = 1;
        al_redis_post(r, o, 1);
    }
}

uint64_t al_redis_fleet_adopted(al_state *s)
{
    redis_state *r = (redis_state *)s;
    return r->delivery ? atomic_load(&r->delivery->adopted) : 0;
}

int al_state_fleet_hold(al_state *s)
{
    if (!al_state_fleet(s))
        return 0;
    redis_delivery *d = ((redis_state *)s)->delivery;
    return d && d->hold_since != 0;
}
