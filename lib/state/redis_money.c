/* SPDX-License-Identifier: MIT */
/* Fleet money (FLEET.md "What is shared"): the spend of tracked budgets summed over the
 * replicas. Each replica posts its cumulative spend of a budget period (integer
 * nano-dollars): the script keeps the highest value each replica sent and the sum, so
 * a write retried after a lost answer, or sent again after Redis came back, is applied
 * once. Money never goes through Lua numbers (doubles): HINCRBY does the sums. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "state/redis_impl.h"

/* KEYS[1] the period's hash: "t" the fleet's total, "c:<instance>" each replica's
 * cumulative. ARGV: me, cumulative (a decimal without leading zeros), ttl ms. Returns
 * { the cumulative counted for me, the total }. */
static const char lua_spend_add[] =
    "local f = 'c:' .. ARGV[1]\n"
    "local old = redis.call('HGET', KEYS[1], f) or '0'\n"
    "local new = ARGV[2]\n"
    "if #new > #old or (#new == #old and new > old) then\n"
    "  redis.call('HSET', KEYS[1], f, new)\n"
    "  redis.call('HINCRBY', KEYS[1], 't', new)\n"
    "  if old ~= '0' then redis.call('HINCRBY', KEYS[1], 't', '-' .. old) end\n"
    "  old = new\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
    "return { old, redis.call('HGET', KEYS[1], 't') or '0' }\n";

typedef struct money {
    al_fleet_money_sink sink;
    char epoch[64];
} money;

static money *money_of(al_state *s, int create)
{
    if (!al_state_fleet(s))
        return NULL;
    redis_state *r = (redis_state *)s;
    if (!r->money && create)
        r->money = al_calloc(1, sizeof(money));
    return r->money;
}

void al_redis_money_free(redis_state *r)
{
    al_free(r->money);
    r->money = NULL;
}

void al_state_fleet_money_sink(al_state *s, const al_fleet_money_sink *sink)
{
    money *m = money_of(s, 1);
    if (m)
        m->sink = *sink;
}

static int64_t reply_i64(const redisReply *rep)
{
    if (rep && rep->type == REDIS_REPLY_STRING)
        return strtoll(rep->str, NULL, 10);
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        return rep->integer;
    return -1;
}

static void spend_done(redis_state *r, rop *o)
{
    money *m = r->money;
    if (!m || !m->sink.spend_total)
        return;
    const redisReply *rep = o->reply;
    int64_t mine = o->i64, total = -1;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
        mine = reply_i64(rep->element[0]);
        total = reply_i64(rep->element[1]);
    }
    m->sink.spend_total(m->sink.ud, o->tag, mine, total);
}

int al_state_fleet_spend(al_state *s, const char *group, int64_t mine, int64_t ttl_ms, int urgent)
{
    if (!money_of(s, 0))
        return ALERT_OK;
    redis_state *r = (redis_state *)s;
    char cum[24], ttl[24];
    snprintf(cum, sizeof cum, "%lld", (long long)(mine > 0 ? mine : 0));
    snprintf(ttl, sizeof ttl, "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 1));
    const char *args[3] = { r->conf.instance, cum, ttl };
    rop *o = al_redis_script_op(r, lua_spend_add, group, 3, args);
    if (o && !(o->tag = al_strdup(group))) {
        al_redis_op_free(o);
        o = NULL;
    }
    if (!o)
        return ALERT_ERR_NOMEM;
    o->i64 = mine;
    o->retry = 1;                       /* idempotent: kept until Redis takes it */
    o->done = spend_done;
    al_redis_post(r, o, urgent);
    return ALERT_OK;
}

void al_state_fleet_money_tick(al_state *s)
{
    money *m = money_of(s, 0);
    if (!m)
        return;
    redis_state *r = (redis_state *)s;
    if (!r->epoch_seen[0] || strcmp(r->epoch_seen, m->epoch) == 0)
        return;
    int changed = m->epoch[0] != '\0';
    snprintf(m->epoch, sizeof m->epoch, "%s", r->epoch_seen);
    if (changed && m->sink.reseed)
        m->sink.reseed(m->sink.ud);
}

/* ---- the fleet ledger ------------------------------------------------------------------ */

/* KEYS[1] the day's hash. ARGV: me, seq, the epoch key, the epoch this replica saw ("":
 * none yet), the day's ttl, the month's hash, its ttl, then (dim, name, nano) triples.
 * "s:<me>" keeps the highest seq applied (batches of one replica are sent in order);
 * "i:<me>:<user>" (day) and "i:<me>:<user>" (month) what I added for each user, so the
 * others' part is the total minus mine. Returns "stale" (nothing applied: a batch of
 * an older epoch, which the re-seed covers), or per user { user, day total, mine, month
 * total, mine }: strings, subtracted in C (never Lua numbers for money). The month's
 * key is an argument, not a declared key: it has the same hash tag (one slot). */
static const char lua_ledger_add[] =
    "local ep = redis.call('GET', ARGV[3])\n"
    "if ARGV[4] ~= '' and ep ~= ARGV[4] then return 'stale' end\n"
    "local me = 's:' .. ARGV[1]\n"
    "local fresh = tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], me) or '0')\n"
    "local users, order = {}, {}\n"
    "for i = 8, #ARGV, 3 do\n"
    "  local u = ARGV[i + 1]\n"
    "  if fresh then\n"
    "    redis.call('HINCRBY', KEYS[1], ARGV[i] .. ':' .. u, ARGV[i + 2])\n"
    "    if ARGV[i] == '2' then\n"
    "      redis.call('HINCRBY', KEYS[1], 'i:' .. ARGV[1] .. ':' .. u, ARGV[i + 2])\n"
    "      redis.call('HINCRBY', ARGV[6], 'u:' .. u, ARGV[i + 2])\n"
    "      redis.call('HINCRBY', ARGV[6], 'i:' .. ARGV[1] .. ':' .. u, ARGV[i + 2])\n"
    "    end\n"
    "  end\n"
    "  if ARGV[i] == '2' and not users[u] then users[u] = true; order[#order + 1] = u end\n"
    "end\n"
    "if fresh then redis.call('HSET', KEYS[1], me, ARGV[2]) end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[5])\n"
    "if #order > 0 then redis.call('PEXPIRE', ARGV[6], ARGV[7]) end\n"
    "local out = {}\n"
    "for _, u in ipairs(order) do\n"
    "  out[#out + 1] = u\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[1], '2:' .. u) or '0'\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[1], 'i:' .. ARGV[1] .. ':' .. u) or '0'\n"
    "  out[#out + 1] = redis.call('HGET', ARGV[6], 'u:' .. u) or '0'\n"
    "  out[#out + 1] = redis.call('HGET', ARGV[6], 'i:' .. ARGV[1] .. ':' .. u) or '0'\n"
    "end\n"
    "return out\n";

/* KEYS[1] the first day's hash. ARGV: the days' key prefix, from, to. Returns the
 * cells { day, "<dim>:<name>", nano } of every day (not the "s:" / "i:" fields). */
static const char lua_ledger_window[] =
    "local out = {}\n"
    "for d = tonumber(ARGV[2]), tonumber(ARGV[3]) do\n"
    "  local h = redis.call('HGETALL', ARGV[1] .. d)\n"
    "  for i = 1, #h, 2 do\n"
    "    if string.match(h[i], '^%d:') then\n"
    "      out[#out + 1] = tostring(d)\n"
    "      out[#out + 1] = h[i]\n"
    "      out[#out + 1] = h[i + 1]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

#define LEDGER_WINDOW_MAX_DAYS 62

/* Dollars to nano-dollars, saturating at 2^62 like the tracked budgets (a cell of
 * more than $4.6e9 is cut there: HINCRBY must not overflow). */
static int64_t nano_of(double amount)
{
    double n = amount * 1e9;
    if (!(n > 0))
        return 0;
    return n >= 4.6e18 ? INT64_MAX / 2 : (int64_t)llround(n);
}

static void ledger_add_done(redis_state *r, rop *o)
{
    money *m = r->money;
    const redisReply *rep = o->reply;
    if (!m || !m->sink.user_others || !rep || rep->type != REDIS_REPLY_ARRAY)
        return;                         /* "stale", or no answer */
    int32_t day = (int32_t)o->i64, month = (int32_t)(o->i64 >> 32);
    for (size_t i = 0; i + 5 <= rep->elements; i += 5) {
        const redisReply *u = rep->element[i];
        if (u->type != REDIS_REPLY_STRING)
            continue;
        int64_t dt = reply_i64(rep->element[i + 1]), dm = reply_i64(rep->element[i + 2]);
        int64_t mt = reply_i64(rep->element[i + 3]), mm = reply_i64(rep->element[i + 4]);
        m->sink.user_others(m->sink.ud, u->str, day, month, dt - dm, mt - mm);
    }
}

int al_state_fleet_ledger_add(al_state *s, uint64_t seq, int32_t day, int32_t month,
                              const al_state_cell *v, size_t n, int64_t day_ttl_ms,
                              int64_t month_ttl_ms, int urgent)
{
    if (!money_of(s, 0) || !n)
        return ALERT_OK;
    redis_state *r = (redis_state *)s;
    int nargs = 7 + 3 * (int)n;
    const char **args = al_calloc((size_t)nargs, sizeof *args);
    char *nums = al_malloc(n * 48);
    char seq_s[24], dttl[24], mttl[24], dkey[48], ekey[256], mkey[256];
    if (!args || !nums) {
        al_free(args);
        al_free(nums);
        return ALERT_ERR_NOMEM;
    }
    snprintf(seq_s, sizeof seq_s, "%llu", (unsigned long long)seq);
    snprintf(dttl, sizeof dttl, "%lld", (long long)(day_ttl_ms > 0 ? day_ttl_ms : 1));
    snprintf(mttl, sizeof mttl, "%lld", (long long)(month_ttl_ms > 0 ? month_ttl_ms : 1));
    snprintf(dkey, sizeof dkey, "fledger:d:%" PRId32, day);
    snprintf(ekey, sizeof ekey, "%sepoch", r->prefix);
    snprintf(mkey, sizeof mkey, "%sfledger:m:%" PRId32, r->prefix, month);
    args[0] = r->conf.instance;
    args[1] = seq_s;
    args[2] = ekey;
    args[3] = r->epoch_seen;
    args[4] = dttl;
    args[5] = mkey;
    args[6] = mttl;
    for (size_t i = 0; i < n; i++) {
        char *dim = nums + i * 48, *amt = dim + 8;
        snprintf(dim, 8, "%d", (int)v[i].dim);
        snprintf(amt, 40, "%lld", (long long)nano_of(v[i].amount));
        args[7 + 3 * i] = dim;
        args[8 + 3 * i] = v[i].name ? v[i].name : "";
        args[9 + 3 * i] = amt;
    }
    rop *o = al_redis_script_op(r, lua_ledger_add, dkey, nargs, args);
    al_free(args);
    al_free(nums);
    if (!o)
        return ALERT_ERR_NOMEM;
    o->i64 = (int64_t)(uint32_t)day | (int64_t)((uint64_t)(uint32_t)month << 32);
    o->retry = 1;                       /* applied once per seq: kept until Redis takes it */
    o->done = ledger_add_done;
    al_redis_post(r, o, urgent);
    return ALERT_OK;
}

static void window_done(redis_state *r, rop *o)
{
    money *m = r->money;
    if (!m || !m->sink.ledger_cell)
        return;
    const redisReply *rep = o->reply;
    int ok = rep && rep->type == REDIS_REPLY_ARRAY;
    for (size_t i = 0; ok && i + 3 <= rep->elements; i += 3) {
        const redisReply *f = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING)
            continue;
        char *colon = strchr(f->str, ':');
        if (!colon)
            continue;
        m->sink.ledger_cell(m->sink.ud, o->i64, (int32_t)reply_i64(rep->element[i]),
                            (int32_t)strtol(f->str, NULL, 10), colon + 1,
                            reply_i64(rep->element[i + 2]), 1);
    }
    m->sink.ledger_cell(m->sink.ud, o->i64, 0, 0, NULL, 0, ok);
}

int al_state_fleet_ledger_window(al_state *s, int64_t tag, int32_t from_day, int32_t to_day)
{
    if (!money_of(s, 0))
        return ALERT_OK;
    if (to_day < from_day || to_day - from_day >= LEDGER_WINDOW_MAX_DAYS)
        return ALERT_ERR_INVALID;
    redis_state *r = (redis_state *)s;
    char first[48], prefix[256], from[16], to[16];
    snprintf(first, sizeof first, "fledger:d:%" PRId32, from_day);
    snprintf(prefix, sizeof prefix, "%sfledger:d:", r->prefix);
    snprintf(from, sizeof from, "%" PRId32, from_day);
    snprintf(to, sizeof to, "%" PRId32, to_day);
    const char *args[3] = { prefix, from, to };
    rop *o = al_redis_script_op(r, lua_ledger_window, first, 3, args);
    if (!o)
        return ALERT_ERR_NOMEM;
    o->i64 = tag;
    o->done = window_done;              /* a read: not retried, no answer is answered */
    al_redis_post(r, o, 1);
    return ALERT_OK;
}
