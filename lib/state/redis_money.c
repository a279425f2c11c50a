/* SPDX-License-Identifier: MIT */
/* Fleet money (FLEET.md "What is shared"): the spend of tracked budgets summed over the
 * replicas. Each replica posts its cumulative spend of a budget period (integer
 * nano-dollars): the script keeps the highest value each replica sent and the sum, so
 * a write retried after a lost answer, or sent again after Redis came back, is applied
 * once. Money never goes through Lua numbers (doubles): HINCRBY does the sums. */
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
