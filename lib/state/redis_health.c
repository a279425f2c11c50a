/* SPDX-License-Identifier: MIT */
/* Fleet health (FLEET.md "What is shared"): deployment and region outage windows
 * summed over the replicas, and the daily and fallback report windows, each decision
 * one Lua script. The worker posts; the answers come back through the caller's
 * al_fleet_client on a later pass (state.h).
 *
 * Keys (under the fleet's "{alerting:<name>}:" prefix), for an outage key K:
 *   outage:K:win    sorted set: one member per failure ("<instance>|<seq>|<timeout>"),
 *                   scored by its own time, trimmed to the window
 *   outage:K:deps   sorted set: deployment -> its last failure (regions only)
 *   outage:K:ep     hash: last (the episode's last failure), level (0, 1 Minor, 2 Major)
 * and for a report R ("daily", "fallback"):
 *   report:R:anchor the fleet's first claim time: windows are [anchor + g*period, +period)
 *   report:R:cur    the open window's number g
 *   report:R:w:<g>  hash: counters added to window g
 *   report:R:f:<g>  hash: window g frozen by its claimant
 *   report:R:frozen set of frozen windows; report:R:claim hash g -> claimant
 *   report:R:seq    hash instance -> the last counter batch applied (batches apply once) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "state/redis_impl.h"

#define KEEP_MS "2592000000"        /* 30 days: how long an untouched report key lives */

/* KEYS[1] outage:K; ARGV: ttl, minor, major, floor (a level the episode had before
 * Redis lost its data: not claimed again), then one (at, member, dep) triple per
 * failure, in order (dep "" for a deployment's own window). A late failure counts as
 * the latest (as the local windows do). A failure a window after the last one ends the
 * episode first: its level comes back as "ended", for this replica to send "Service
 * Recovered". A region counts only while at least two deployments failed within its
 * window. Each failure is counted as if added alone, so a batch claims what its
 * failures one by one would have (Minor and Major, when both were crossed). An answer
 * says one episode end, before the batch's claims: an end that would follow a claim
 * of this batch stops it there (health.c splits batches at quiet windows; outage_done
 * posts the rest). Returns {ended, level claimed, timeouts, api, in window, 1 when
 * Minor was claimed too, the episode's level, failures applied}. */
static const char lua_outage_add[] =
    "local ttl, minor, major = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local ep, win, deps = KEYS[1] .. ':ep', KEYS[1] .. ':win', KEYS[1] .. ':deps'\n"
    "local last = tonumber(redis.call('HGET', ep, 'last') or '-1')\n"
    "local level = tonumber(redis.call('HGET', ep, 'level') or '0')\n"
    "if tonumber(ARGV[4]) > level then level = tonumber(ARGV[4]) end\n"
    "local ended, claimed, minor_too, n, stop = 0, 0, 0, 0, 0\n"
    /* counted after each failure only while the batch could reach a level */
    "local count = (#ARGV - 4) / 3\n"
    "local function reach(have)\n"
    "  return level < 2 and have + count >= (level < 1 and math.min(minor, major) or major)\n"
    "end\n"
    "local check = reach(redis.call('ZCARD', win))\n"
    "for i = 5, #ARGV - 2, 3 do\n"
    "  local at, dep = tonumber(ARGV[i]), ARGV[i + 2]\n"
    "  if last >= 0 and at < last then at = last end\n"
    "  if last >= 0 and at - last >= ttl and claimed > 0 then stop = i break end\n"
    "  if last >= 0 and at - last >= ttl then\n"
    "    if level > ended then ended = level end\n"
    "    redis.call('DEL', ep, win, deps)\n"
    "    level, claimed, minor_too = 0, 0, 0\n"
    "    check = reach(0)\n"
    "  end\n"
    "  last = at\n"
    "  redis.call('ZADD', win, at, ARGV[i + 1])\n"
    "  if dep ~= '' then\n"
    "    local old = tonumber(redis.call('ZSCORE', deps, dep) or '-1')\n"
    "    if at > old then redis.call('ZADD', deps, at, dep) end\n"
    "  end\n"
    "  if check and level < 2 then\n"
    "    redis.call('ZREMRANGEBYSCORE', win, '-inf', at - ttl)\n"
    "    local counts = true\n"
    "    if dep ~= '' then\n"
    "      redis.call('ZREMRANGEBYSCORE', deps, '-inf', at - ttl)\n"
    "      counts = redis.call('ZCARD', deps) >= 2\n"
    "    end\n"
    "    n = redis.call('ZCARD', win)\n"
    "    if counts and n >= major then\n"
    "      if claimed == 1 then minor_too = 1 end\n"
    "      level, claimed = 2, 2\n"
    "    elseif counts and level < 1 and n >= minor then level, claimed = 1, 1 end\n"
    "  end\n"
    "end\n"
    "local applied = stop > 0 and (stop - 5) / 3 or count\n"
    "if last < 0 then return {0, 0, 0, 0, 0, 0, 0, 0} end\n"
    "redis.call('ZREMRANGEBYSCORE', win, '-inf', last - ttl)\n"
    "n = redis.call('ZCARD', win)\n"
    "redis.call('ZREMRANGEBYSCORE', deps, '-inf', last - ttl)\n"
    "redis.call('HSET', ep, 'last', last, 'level', level)\n"
    "redis.call('PEXPIRE', ep, ttl + 86400000)\n"
    "redis.call('PEXPIRE', win, ttl + 60000)\n"
    "if redis.call('EXISTS', deps) == 1 then redis.call('PEXPIRE', deps, ttl + 60000) end\n"
    "if claimed == 0 then return {ended, 0, 0, 0, n, 0, level, applied} end\n"
    "local t = 0\n"
    "for _, m in ipairs(redis.call('ZRANGE', win, 0, -1)) do\n"
    "  if string.sub(m, -2) == '|1' then t = t + 1 end\n"
    "end\n"
    "return {ended, claimed, t, n - t, n, minor_too, level, applied}\n";

/* KEYS[1] outage:K; ARGV: now, ttl. The episode is over when its last failure is a
 * window old: the one caller that sees it first deletes it and gets its level.
 * Returns {level, 0} (over: level 0 when it never alerted), {-1, last} (not yet), or
 * {0, 0} (no episode: someone else ended it). */
static const char lua_outage_recover[] =
    "local ep = KEYS[1] .. ':ep'\n"
    "local last = redis.call('HGET', ep, 'last')\n"
    "if not last then return {0, 0} end\n"
    "last = tonumber(last)\n"
    "if tonumber(ARGV[1]) - last < tonumber(ARGV[2]) then return {-1, last} end\n"
    "local level = tonumber(redis.call('HGET', ep, 'level') or '0')\n"
    "redis.call('DEL', ep, KEYS[1] .. ':win', KEYS[1] .. ':deps')\n"
    "return {level, 0}\n";

/* KEYS[1] report:R; ARGV: instance, seq, then field, amount pairs. A batch whose seq
 * this instance already had applied is ignored (a retried write). */
static const char lua_report_add[] =
    "local last = tonumber(redis.call('HGET', KEYS[1] .. ':seq', ARGV[1]) or '0')\n"
    "if tonumber(ARGV[2]) <= last then return 0 end\n"
    "redis.call('HSET', KEYS[1] .. ':seq', ARGV[1], ARGV[2])\n"
    "redis.call('PEXPIRE', KEYS[1] .. ':seq', " KEEP_MS ")\n"
    "local w = KEYS[1] .. ':w:' .. (redis.call('GET', KEYS[1] .. ':cur') or '0')\n"
    "for i = 3, #ARGV, 2 do redis.call('HINCRBY', w, ARGV[i], ARGV[i + 1]) end\n"
    "redis.call('PEXPIRE', w, " KEEP_MS ")\n"
    "return 1\n";

/* KEYS[1] report:R; ARGV: me, now, period, replica key prefix. First a frozen window
 * whose claimant is gone (its heartbeat expired), or that is this replica's own (its
 * first answer was lost): claimed again. Else the open window, once due: frozen
 * (later additions go to the next one) and claimed. Returns
 * {'won', gen, next due, anchor, {field, value, ...}} or {'early', gen, due, anchor}. */
static const char lua_report_claim[] =
    "local b, me, now, period = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "redis.call('SET', b .. ':anchor', now, 'NX')\n"
    "local anchor = tonumber(redis.call('GET', b .. ':anchor'))\n"
    "local cur = tonumber(redis.call('GET', b .. ':cur') or '0')\n"
    "local due = anchor + (cur + 1) * period\n"
    "for _, g in ipairs(redis.call('SMEMBERS', b .. ':frozen')) do\n"
    "  local h = redis.call('HGET', b .. ':claim', g)\n"
    "  if not h or h == me or redis.call('EXISTS', ARGV[4] .. h) == 0 then\n"
    "    redis.call('HSET', b .. ':claim', g, me)\n"
    "    return {'won', tonumber(g), due, anchor, redis.call('HGETALL', b .. ':f:' .. g)}\n"
    "  end\n"
    "end\n"
    "if now < due then return {'early', cur, due, anchor} end\n"
    "local nxt = math.floor((now - anchor) / period)\n"
    "if nxt <= cur then nxt = cur + 1 end\n"
    "redis.call('SET', b .. ':cur', nxt)\n"
    "local w, f = b .. ':w:' .. cur, b .. ':f:' .. cur\n"
    "if redis.call('EXISTS', w) == 1 then redis.call('RENAME', w, f) end\n"
    "redis.call('SADD', b .. ':frozen', cur)\n"
    "redis.call('HSET', b .. ':claim', cur, me)\n"
    "for _, k in ipairs({':anchor', ':cur', ':frozen', ':claim'}) do\n"
    "  redis.call('PEXPIRE', b .. k, " KEEP_MS ")\n"
    "end\n"
    "return {'won', cur, anchor + (nxt + 1) * period, anchor, redis.call('HGETALL', f)}\n";

/* KEYS[1] report:R; ARGV: gen, ok. Delivered: the frozen window goes. Not: its
 * counters merge into the open window first. Applied once (the frozen hash goes). */
static const char lua_report_settle[] =
    "local b, g = KEYS[1], ARGV[1]\n"
    "local f = b .. ':f:' .. g\n"
    "if ARGV[2] ~= '1' then\n"
    "  local w = b .. ':w:' .. (redis.call('GET', b .. ':cur') or '0')\n"
    "  local all = redis.call('HGETALL', f)\n"
    "  for i = 1, #all, 2 do redis.call('HINCRBY', w, all[i], all[i + 1]) end\n"
    "  if #all > 0 then redis.call('PEXPIRE', w, " KEEP_MS ") end\n"
    "end\n"
    "redis.call('DEL', f)\n"
    "redis.call('SREM', b .. ':frozen', g)\n"
    "redis.call('HDEL', b .. ':claim', g)\n"
    "return 1\n";

static redis_state *fleet_of(al_state *s)
{
    return al_state_fleet(s) ? (redis_state *)s : NULL;
}

int al_state_fleet_up(al_state *s)
{
    redis_state *r = fleet_of(s);
    return r && atomic_load(&r->connected);
}

static int64_t reply_int(const redisReply *rep, size_t i)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
        return 0;
    const redisReply *e = rep->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

static void answer(rop *o, al_fleet_answer *a)
{
    al_fleet_client *k = o->ud;
    a->tag = o->tag;
    if (k && k->cb)
        k->cb(k->ud, a);
}

/* The failures of batch o that its script did not apply (an episode end after a claim
 * of the batch), as a new batch after it: at once, it may claim again. 1 when posted. */
static int outage_rest(redis_state *r, rop *o, int64_t applied)
{
    int n = (o->argc - 8) / 3;      /* EVALSHA sha 1 key, 4 args, then n triples */
    size_t plen = strlen(r->prefix);
    if (applied <= 0 || applied >= n || strncmp(o->argv[3], r->prefix, plen) != 0)
        return 0;
    int rest = n - (int)applied;
    const char **args = al_calloc((size_t)(4 + 3 * rest), sizeof *args);
    if (!args)
        return 0;
    for (int i = 0; i < 4; i++)
        args[i] = o->argv[4 + i];
    for (int i = 0; i < 3 * rest; i++)
        args[4 + i] = o->argv[8 + 3 * (int)applied + i];
    rop *next = al_redis_script_op(r, o->lua, o->argv[3] + plen, 4 + 3 * rest, args);
    al_free(args);
    if (!next || (o->tag && !(next->tag = al_strdup(o->tag)))) {
        al_redis_op_free(next);
        return 0;
    }
    next->ud = o->ud;
    next->done = o->done;
    next->i64 = o->i64;
    next->retry = o->retry;
    al_redis_post(r, next, 1);
    return 1;
}

static void outage_done(redis_state *r, rop *o)
{
    const redisReply *rep = o->reply;
    al_fleet_answer a = { .kind = (al_fleet_answer_kind)o->i64 };
    a.answered = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2;
    if (a.answered && a.kind == AL_FA_OUTAGE) {
        a.ended = (int)reply_int(rep, 0);
        a.level = (int)reply_int(rep, 1);
        a.timeouts = (uint64_t)reply_int(rep, 2);
        a.api = (uint64_t)reply_int(rep, 3);
        a.in_window = (uint64_t)reply_int(rep, 4);
        a.minor_too = (int)reply_int(rep, 5);
        a.ep_level = (int)reply_int(rep, 6);
        a.more = rep->elements >= 8 && outage_rest(r, o, reply_int(rep, 7));
    } else if (a.answered) {
        a.ended = (int)reply_int(rep, 0);
        a.at_ms = reply_int(rep, 1);
    }
    answer(o, &a);
}

/* urgent: a claim (an outage level, a report window) goes in a round at once; counters
 * and settles ride with the next round. */
static int post(redis_state *r, al_fleet_client *k, const char *lua, const char *key, int nargs,
                const char *const *args, rop_done done, int kind, const char *tag, int retry,
                int urgent)
{
    rop *o = al_redis_script_op(r, lua, key, nargs, args);
    if (!o || (tag && !(o->tag = al_strdup(tag)))) {
        al_redis_op_free(o);
        return ALERT_ERR_NOMEM;
    }
    o->ud = k;
    o->done = done;
    o->i64 = kind;
    o->retry = retry;
    al_redis_post(r, o, urgent);
    return ALERT_OK;
}

int al_state_fleet_outage_add(al_state *s, al_fleet_client *k, const char *key,
                              const al_fleet_failure *v, size_t n, int64_t ttl_ms, int minor,
                              int major, int floor, const char *tag, int urgent)
{
    redis_state *r = fleet_of(s);
    if (!r)
        return ALERT_ERR_UNSUPPORTED;
    if (!n || n > AL_FLEET_FAILURES_MAX)
        return ALERT_ERR_INVALID;
    char ttl[24], mi[16], ma[16], fl[16], rkey[1024];
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    snprintf(fl, sizeof fl, "%d", floor);
    snprintf(mi, sizeof mi, "%d", minor);
    snprintf(ma, sizeof ma, "%d", major);
    snprintf(rkey, sizeof rkey, "outage:%s", key);
    const char **args = al_calloc(4 + 3 * n, sizeof *args);
    char (*num)[24] = al_calloc(n, sizeof *num);
    char (*member)[160] = al_calloc(n, sizeof *member);
    int rc = ALERT_ERR_NOMEM;
    if (args && num && member) {
        args[0] = ttl;
        args[1] = mi;
        args[2] = ma;
        args[3] = fl;
        for (size_t i = 0; i < n; i++) {
            snprintf(num[i], sizeof num[i], "%" PRId64, v[i].at_ms);
            /* the member is this failure's own, so a retried batch (or a re-seed) counts
             * it once */
            snprintf(member[i], sizeof member[i], "%s|%" PRIu64 "|%d", r->conf.instance,
                     v[i].seq ? v[i].seq : ++k->seq, v[i].timeout ? 1 : 0);
            args[4 + 3 * i] = num[i];
            args[5 + 3 * i] = member[i];
            args[6 + 3 * i] = v[i].dep ? v[i].dep : "";
        }
        /* retried until taken */
        rc = post(r, k, lua_outage_add, rkey, (int)(4 + 3 * n), args, outage_done, AL_FA_OUTAGE,
                  tag, 1, urgent);
    }
    al_free(args);
    al_free(num);
    al_free(member);
    return rc;
}

int al_state_fleet_outage_recover(al_state *s, al_fleet_client *k, const char *key, int64_t now_ms,
                                  int64_t ttl_ms, const char *tag)
{
    redis_state *r = fleet_of(s);
    if (!r)
        return ALERT_ERR_UNSUPPORTED;
    char now[24], ttl[24], rkey[1024];
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    snprintf(rkey, sizeof rkey, "outage:%s", key);
    const char *args[2] = { now, ttl };
    return post(r, k, lua_outage_recover, rkey, 2, args, outage_done, AL_FA_RECOVER, tag, 0, 1);
}

int al_state_fleet_report_add(al_state *s, al_fleet_client *k, const char *report,
                              const char *const *fields, const int64_t *values, size_t n)
{
    redis_state *r = fleet_of(s);
    if (!r)
        return ALERT_ERR_UNSUPPORTED;
    if (n > 100000)
        return ALERT_ERR_INVALID;
    const char **args = al_calloc(2 + 2 * n, sizeof *args);
    char (*num)[24] = al_calloc(n + 1, sizeof *num);
    int rc = ALERT_ERR_NOMEM;
    if (args && num) {
        args[0] = r->conf.instance;
        snprintf(num[n], sizeof num[n], "%" PRIu64, ++k->seq);
        args[1] = num[n];
        for (size_t i = 0; i < n; i++) {
            snprintf(num[i], sizeof num[i], "%" PRId64, values[i]);
            args[2 + 2 * i] = fields[i];
            args[3 + 2 * i] = num[i];
        }
        char rkey[256];
        snprintf(rkey, sizeof rkey, "report:%s", report);
        /* no answer needed; kept until Redis takes it, applied once by its seq */
        rc = post(r, NULL, lua_report_add, rkey, (int)(2 + 2 * n), args, NULL, AL_FA_REPORT, NULL, 1, 0);
    }
    al_free(args);
    al_free(num);
    return rc;
}

static void report_done(redis_state *r, rop *o)
{
    (void)r;
    const redisReply *rep = o->reply;
    al_fleet_answer a = { .kind = AL_FA_REPORT };
    a.answered = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 4 &&
                 rep->element[0]->type == REDIS_REPLY_STRING;
    const char **fields = NULL;
    int64_t *values = NULL;
    if (a.answered) {
        a.won = strcmp(rep->element[0]->str, "won") == 0;
        a.gen = reply_int(rep, 1);
        a.at_ms = reply_int(rep, 2);
        a.anchor = reply_int(rep, 3);
        const redisReply *c = a.won && rep->elements >= 5 ? rep->element[4] : NULL;
        size_t n = c && c->type == REDIS_REPLY_ARRAY ? c->elements / 2 : 0;
        if (n) {
            fields = al_calloc(n, sizeof *fields);
            values = al_calloc(n, sizeof *values);
            if (!fields || !values) {
                /* no memory for the counters: not taken, so not sent; the claimant
                 * comes back for its own frozen window on its next claim */
                a.won = 0;
                n = 0;
            }
            for (size_t i = 0; i < n; i++) {
                fields[i] = c->element[2 * i]->type == REDIS_REPLY_STRING ? c->element[2 * i]->str : "";
                values[i] = c->element[2 * i + 1]->type == REDIS_REPLY_STRING
                                ? strtoll(c->element[2 * i + 1]->str, NULL, 10) : 0;
            }
        }
        a.n = n;
        a.fields = fields;
        a.values = values;
    }
    answer(o, &a);
    al_free(fields);
    al_free(values);
}

int al_state_fleet_report_claim(al_state *s, al_fleet_client *k, const char *report,
                                int64_t now_ms, int64_t period_ms)
{
    redis_state *r = fleet_of(s);
    if (!r)
        return ALERT_ERR_UNSUPPORTED;
    char now[24], period[24], rkey[256];
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(period, sizeof period, "%" PRId64, period_ms > 0 ? period_ms : 1);
    snprintf(rkey, sizeof rkey, "report:%s", report);
    const char *args[4] = { r->conf.instance, now, period, r->replica_prefix };
    return post(r, k, lua_report_claim, rkey, 4, args, report_done, AL_FA_REPORT, report, 0, 1);
}

int al_state_fleet_report_settle(al_state *s, const char *report, int64_t gen, int ok)
{
    redis_state *r = fleet_of(s);
    if (!r)
        return ALERT_ERR_UNSUPPORTED;
    char g[24], rkey[256];
    snprintf(g, sizeof g, "%" PRId64, gen);
    snprintf(rkey, sizeof rkey, "report:%s", report);
    const char *args[2] = { g, ok ? "1" : "0" };
    return post(r, NULL, lua_report_settle, rkey, 2, args, NULL, AL_FA_REPORT, NULL, 1, 0);
}

const char *al_redis_health_lua(const char *name)
{
    static const struct {
        const char *name, *lua;
    } scripts[] = {
        { "outage_add", lua_outage_add },       { "outage_recover", lua_outage_recover },
        { "report_add", lua_report_add },       { "report_claim", lua_report_claim },
        { "report_settle", lua_report_settle },
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++)
        if (strcmp(scripts[i].name, name) == 0)
            return scripts[i].lua;
    return NULL;
}
