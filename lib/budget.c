/* SPDX-License-Identifier: MIT */
/* Budget alerts (budget.h): one threshold state machine per entity, id and budget
 * period; LiteLLM's texts and webhook JSON; declared budgets; the month-end projection. */
#include "budget.h"

#include <errno.h>
#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "calendar.h"
#include "buf.h"
#include "fmt.h"
#include "hash.h"
#include "sign.h"
#include "text.h"

static void fmt_date(char out[11], int32_t day)
{
    al_utc_date(out, day);
}

static int32_t month_index(int64_t ms)
{
    int y, m, d;
    al_civil_from_day(al_day_from_ms(ms), &y, &m, &d);
    return y * 12 + (m - 1);
}

/* anchor + k calendar months, the day of month clamped to the target month. */
static int64_t add_months(int64_t anchor_ms, int64_t k)
{
    int32_t day = al_day_from_ms(anchor_ms);
    int64_t tod = anchor_ms - (int64_t)day * 86400000;
    int y, m, d;
    al_civil_from_day(day, &y, &m, &d);
    int64_t total = (int64_t)y * 12 + (m - 1) + k;
    int64_t y2 = total >= 0 ? total / 12 : -((-total + 11) / 12);
    int m2 = (int)(total - y2 * 12) + 1;
    int dim = al_days_in_month((int)y2, m2);
    return (int64_t)al_day_from_civil((int)y2, m2, d < dim ? d : dim) * 86400000 + tod;
}

/* ---- small text and JSON writers ------------------------------------------ */

static void json_str(al_buf *b, const char *s)
{
    if (!s) {
        al_buf_adds(b, "null");
        return;
    }
    char *fixed = al_utf8_repair(s, strlen(s));
    if (!fixed) {
        b->oom = 1;
        return;
    }
    al_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)fixed; *p; p++) {
        switch (*p) {
        case '"': al_buf_adds(b, "\\\""); break;
        case '\\': al_buf_adds(b, "\\\\"); break;
        case '\n': al_buf_adds(b, "\\n"); break;
        case '\r': al_buf_adds(b, "\\r"); break;
        case '\t': al_buf_adds(b, "\\t"); break;
        case '\b': al_buf_adds(b, "\\b"); break;
        case '\f': al_buf_adds(b, "\\f"); break;
        default:
            if (*p < 0x20)
                al_buf_printf(b, "\\u%04x", *p);
            else
                al_buf_addc(b, (char)*p);
        }
    }
    al_buf_addc(b, '"');
    al_free(fixed);
}

/* Python prints floats the same in json.dumps and repr: shortest round-trip. */
static void json_num(al_buf *b, double v)
{
    char tmp[48];
    al_fmt_pyfloat(tmp, sizeof tmp, v);
    al_buf_adds(b, tmp);
}

static void json_key(al_buf *b, const char *k, int first)
{
    if (!first)
        al_buf_addc(b, ',');
    json_str(b, k);
    al_buf_addc(b, ':');
}

/* Python's repr() of a str, on repaired UTF-8. */
static void py_repr_str(al_buf *b, const char *s)
{
    char q = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
    al_buf_addc(b, q);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\')
            al_buf_adds(b, "\\\\");
        else if (*p == (unsigned char)q)
            al_buf_printf(b, "\\%c", q);
        else if (*p == '\n')
            al_buf_adds(b, "\\n");
        else if (*p == '\r')
            al_buf_adds(b, "\\r");
        else if (*p == '\t')
            al_buf_adds(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            al_buf_printf(b, "\\x%02x", *p);
        else
            al_buf_addc(b, (char)*p);
    }
    al_buf_addc(b, q);
}

/* "['a', 'b']" as Python prints a list of str. */
static char *py_list_repr(const char *const *items, size_t n)
{
    al_buf b = AL_BUF_INIT;
    al_buf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        char *fixed = al_utf8_repair(items[i], strlen(items[i]));
        if (!fixed) {
            al_buf_free(&b);
            return NULL;
        }
        if (i)
            al_buf_adds(&b, ", ");
        py_repr_str(&b, fixed);
        al_free(fixed);
    }
    al_buf_addc(&b, ']');
    return al_buf_take(&b);
}

/* ---- entities ---------------------------------------------------------------- */

static const char *const entity_group[] = {
    NULL, "key", "user", "end_user", "team", "team_member", "organization", "project", "proxy",
};
static const char *const entity_prefix[] = {
    NULL, "Key Budget: ", "User Budget: ", "Customer Budget: ", "Team Budget: ",
    "Team Member Budget: ", "Organization Budget: ", "Project Budget: ", "Proxy Budget: ",
};

static int entity_ok(int entity)
{
    return entity >= ALERT_ENTITY_KEY && entity <= ALERT_ENTITY_PROXY;
}

/* A key given raw ("sk-...") is hashed at once: raw keys are never kept or sent. */
static const char *token_of(const char *key, char out[65])
{
    if (!key)
        return NULL;
    if (strncmp(key, "sk-", 3) == 0) {
        if (al_sha256_hex(key, strlen(key), out) != 0)
            return NULL;
        return out;
    }
    return key;
}

/* The id an entity is known by: NULL or "" -> "default_id" (compat), a raw key hashed. */
static const char *normal_id(int entity, const char *id, char buf[65])
{
    if (!id || !*id)
        return "default_id";
    if (entity == ALERT_ENTITY_KEY)
        return token_of(id, buf);
    return id;
}

/* ---- the table ---------------------------------------------------------------- */

enum { MARK_ARMED = 0, MARK_PENDING = 1, MARK_SENT = 2 };

typedef struct mark {
    uint8_t state;
    uint32_t gen;               /* the period generation it was raised in */
} mark;

typedef struct step {
    double pct;
    int crossed;                /* the 100 % step: budget_crossed */
    char text[48];              /* event text of a threshold step */
} step;

typedef struct labels {
    char *key_hash, *key_alias, *user_id, *user_email, *team_id, *team_alias, *customer_id,
         *organization_id;
    char **emails;
    size_t n_emails;
} labels;

typedef struct entry {
    struct entry *next;
    struct entry *dirty_next;
    uint64_t hash;
    int entity;
    int dirty;
    char *id;
    uint32_t gen;               /* bumped at every re-arm; settles of older ones are ignored */
    int64_t reset_at_ms;        /* observed budgets: budget_reset_at_ms of the period */
    double max_budget, soft_budget;
    mark soft, proj;
    int32_t proj_month;         /* month index the projection mark belongs to */
    /* declared budgets */
    int declared;
    int has_period;             /* anchor/period/spend are valid (declared now or before) */
    char *duration;             /* as declared, NULL: one endless period */
    int64_t dur_ms;
    int32_t dur_months;
    int64_t anchor_ms;          /* the first period's start */
    int64_t period;             /* index of the current period from the anchor */
    double spend;
    /* fleet mode: this period's spend of the fleet, in nano-dollars (f_total < 0: no
     * answer yet, the local spend alone decides, as without a fleet) */
    int64_t f_mine;             /* added here this period (or re-seeded from spend) */
    int64_t f_posted;           /* the cumulative last posted */
    int64_t f_total;            /* the fleet's total as last answered */
    int64_t f_acked;            /* our cumulative that f_total includes */
    int f_inflight;
    labels lab;
    size_t n_steps;
    mark steps[];
} entry;

struct al_budgets {
    step *steps;
    size_t n_steps;
    entry **buckets;
    size_t n_buckets;           /* power of two */
    size_t count;
    entry *dirty;
    al_mark_put_fn put;
    al_mark_get_fn get;
    void *ud;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

al_budgets *al_budgets_new(const double *thresholds, const char *const *threshold_texts, size_t n)
{
    static const double defaults[] = { 85, 95 };
    if (!thresholds || n == 0) {
        thresholds = defaults;
        threshold_texts = NULL;
        n = 2;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(thresholds[i]) || thresholds[i] < 0)
            return NULL;
    al_budgets *b = al_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->steps = al_calloc(n + 1, sizeof *b->steps);
    b->n_buckets = 64;
    b->buckets = al_calloc(b->n_buckets, sizeof *b->buckets);
    double *sorted = al_malloc((n + 1) * sizeof *sorted);
    if (!b->steps || !b->buckets || !sorted) {
        al_free(sorted);
        al_budgets_free(b);
        return NULL;
    }
    memcpy(sorted, thresholds, n * sizeof *sorted);
    sorted[n] = 100;
    qsort(sorted, n + 1, sizeof *sorted, cmp_double);
    for (size_t i = 0; i <= n; i++) {
        if (b->n_steps && b->steps[b->n_steps - 1].pct == sorted[i])
            continue;           /* a configured 100 is the crossed step itself */
        step *s = &b->steps[b->n_steps++];
        s->pct = sorted[i];
        s->crossed = sorted[i] == 100;
        if (s->crossed)
            continue;
        if (s->pct == 85) {
            strcpy(s->text, "15% or less of budget remaining");
        } else if (s->pct == 95) {
            strcpy(s->text, "5% or less of budget remaining");
        } else {
            const char *written = NULL;
            for (size_t j = 0; threshold_texts && j < n; j++)
                if (thresholds[j] == s->pct && threshold_texts[j] && *threshold_texts[j]
                    && strlen(threshold_texts[j]) < 24)
                    written = threshold_texts[j];
            if (written)
                snprintf(s->text, sizeof s->text, "%s%% of budget used", written);
            else
                snprintf(s->text, sizeof s->text, "%.15g%% of budget used", s->pct);
        }
    }
    al_free(sorted);
    return b;
}

static void labels_free(labels *l)
{
    al_free(l->key_hash);
    al_free(l->key_alias);
    al_free(l->user_id);
    al_free(l->user_email);
    al_free(l->team_id);
    al_free(l->team_alias);
    al_free(l->customer_id);
    al_free(l->organization_id);
    for (size_t i = 0; i < l->n_emails; i++)
        al_free(l->emails[i]);
    al_free(l->emails);
    memset(l, 0, sizeof *l);
}

static void entry_free(entry *e)
{
    labels_free(&e->lab);
    al_free(e->duration);
    al_free(e->id);
    al_free(e);
}

void al_budgets_free(al_budgets *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->buckets && i < b->n_buckets; i++) {
        entry *e = b->buckets[i];
        while (e) {
            entry *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    al_free(b->buckets);
    al_free(b->steps);
    al_free(b);
}

void al_budgets_set_persist(al_budgets *b, al_mark_put_fn put, al_mark_get_fn get, void *ud)
{
    b->put = put;
    b->get = get;
    b->ud = ud;
}

size_t al_budgets_count(const al_budgets *b)
{
    return b ? b->count : 0;
}

static uint64_t entry_hash(int entity, const char *id)
{
    return al_hash_bytes(id, strlen(id), (uint64_t)entity);
}

static entry *find(const al_budgets *b, int entity, const char *id)
{
    uint64_t h = entry_hash(entity, id);
    for (entry *e = b->buckets[h & (b->n_buckets - 1)]; e; e = e->next)
        if (e->hash == h && e->entity == entity && strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static void mark_dirty(al_budgets *b, entry *e)
{
    if (e->dirty)
        return;
    e->dirty = 1;
    e->dirty_next = b->dirty;
    b->dirty = e;
}

static void grow(al_budgets *b)
{
    size_t n = b->n_buckets * 2;
    entry **nb = al_calloc(n, sizeof *nb);
    if (!nb)
        return;                 /* longer chains, still correct */
    for (size_t i = 0; i < b->n_buckets; i++) {
        entry *e = b->buckets[i];
        while (e) {
            entry *next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    al_free(b->buckets);
    b->buckets = nb;
    b->n_buckets = n;
}

static entry *create(al_budgets *b, int entity, const char *id)
{
    entry *e = al_calloc(1, sizeof *e + b->n_steps * sizeof(mark));
    if (!e)
        return NULL;
    e->id = al_strdup(id);
    if (!e->id) {
        al_free(e);
        return NULL;
    }
    e->entity = entity;
    e->hash = entry_hash(entity, id);
    e->n_steps = b->n_steps;
    e->max_budget = -1;
    e->soft_budget = -1;
    e->proj_month = -1;
    e->f_total = -1;
    if (b->count >= b->n_buckets)
        grow(b);
    e->next = b->buckets[e->hash & (b->n_buckets - 1)];
    b->buckets[e->hash & (b->n_buckets - 1)] = e;
    b->count++;
    return e;
}

static void rearm_all(entry *e)
{
    e->gen++;
    for (size_t i = 0; i < e->n_steps; i++)
        e->steps[i].state = MARK_ARMED;
    e->soft.state = MARK_ARMED;
    e->proj.state = MARK_ARMED;
}

/* A new period: nothing of the fleet's is known for it yet. */
static void fleet_reset(entry *e)
{
    e->f_mine = e->f_posted = e->f_acked = 0;
    e->f_total = -1;
}

static void rearm_soft(entry *e)
{
    e->gen++;
    e->soft.state = MARK_ARMED;
    e->proj.state = MARK_ARMED;
}

/* ---- persistence format ------------------------------------------------------
 * key   "budget|<entity>|<id>"
 * value "v1 <gen> <reset_at> <max> <soft> <soft st>:<gen> <proj st>:<gen> <proj month>
 *        <has_period> <anchor> <period> <spend> <duration or -> <n> <pct>:<st>:<gen>..."
 * Steps are matched by percent on import, so a changed threshold list keeps what it can. */

static char *entry_key(int entity, const char *id)
{
    al_buf k = AL_BUF_INIT;
    al_buf_printf(&k, "budget|%d|%s", entity, id);
    return al_buf_take(&k);
}

static char *entry_value(const al_budgets *b, const entry *e)
{
    al_buf v = AL_BUF_INIT;
    al_buf_printf(&v, "v1 %" PRIu32 " %" PRId64 " %.17g %.17g %d:%" PRIu32 " %d:%" PRIu32
                  " %" PRId32 " %d %" PRId64 " %" PRId64 " %.17g %s %zu",
                  e->gen, e->reset_at_ms, e->max_budget, e->soft_budget, e->soft.state,
                  e->soft.gen, e->proj.state, e->proj.gen, e->proj_month, e->has_period,
                  e->anchor_ms, e->period, e->spend, e->duration ? e->duration : "-",
                  e->n_steps);
    for (size_t i = 0; i < e->n_steps; i++)
        al_buf_printf(&v, " %.17g:%d:%" PRIu32, b->steps[i].pct, e->steps[i].state,
                      e->steps[i].gen);
    return al_buf_take(&v);
}

static int put_entry(const al_budgets *b, const entry *e, al_mark_put_fn put, void *ud)
{
    char *k = entry_key(e->entity, e->id);
    char *v = entry_value(b, e);
    if (!k || !v) {
        al_free(k);
        al_free(v);
        return ALERT_ERR_NOMEM;
    }
    put(ud, k, v, 0);
    al_free(k);
    al_free(v);
    return ALERT_OK;
}

int al_budgets_flush(al_budgets *b)
{
    while (b->dirty) {
        entry *e = b->dirty;
        if (b->put && put_entry(b, e, b->put, b->ud) != ALERT_OK)
            return ALERT_ERR_NOMEM;
        b->dirty = e->dirty_next;
        e->dirty_next = NULL;
        e->dirty = 0;
    }
    return ALERT_OK;
}

int al_budgets_export(al_budgets *b, al_mark_put_fn put, void *ud)
{
    if (!b || !put)
        return ALERT_ERR_INVALID;
    for (size_t i = 0; i < b->n_buckets; i++)
        for (entry *e = b->buckets[i]; e; e = e->next)
            if (put_entry(b, e, put, ud) != ALERT_OK)
                return ALERT_ERR_NOMEM;
    return ALERT_OK;
}

static int parse_state(const char **p, uint8_t *state, uint32_t *gen)
{
    char *end;
    long st = strtol(*p, &end, 10);
    if (end == *p || *end != ':' || st < MARK_ARMED || st > MARK_SENT)
        return -1;
    const char *q = end + 1;
    errno = 0;
    unsigned long g = strtoul(q, &end, 10);
    if (end == q || errno || g > UINT32_MAX)
        return -1;
    *state = (uint8_t)st;
    *gen = (uint32_t)g;
    *p = end;
    return 0;
}

static int parse_i64(const char **p, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(*p, &end, 10);
    if (end == *p || errno)
        return -1;
    *out = v;
    *p = end;
    return 0;
}

static int parse_dbl(const char **p, double *out)
{
    char *end;
    double v = strtod(*p, &end);
    if (end == *p || !isfinite(v))
        return -1;
    *out = v;
    *p = end;
    return 0;
}

static int parse_word(const char **p, char *out, size_t n)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    size_t len = strcspn(s, " ");
    if (len == 0 || len >= n)
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    *p = s + len;
    return 0;
}

/* Decoded value, before it touches an entry. */
typedef struct saved {
    uint32_t gen;
    int64_t reset_at_ms, proj_month, has_period, anchor_ms, period;
    double max_budget, soft_budget, spend;
    mark soft, proj;
    char duration[32];
    int has_duration;
    int64_t dur_ms;
    int32_t dur_months;
    size_t n;
    double pct[64];
    mark st[64];
} saved;

static int decode_value(const char *value, saved *s)
{
    memset(s, 0, sizeof *s);
    const char *p = value;
    if (strncmp(p, "v1 ", 3) != 0)
        return -1;
    p += 3;
    int64_t gen;
    if (parse_i64(&p, &gen) || gen < 0 || gen > UINT32_MAX)
        return -1;
    s->gen = (uint32_t)gen;
    if (parse_i64(&p, &s->reset_at_ms) || parse_dbl(&p, &s->max_budget)
        || parse_dbl(&p, &s->soft_budget))
        return -1;
    while (*p == ' ')
        p++;
    if (parse_state(&p, &s->soft.state, &s->soft.gen))
        return -1;
    while (*p == ' ')
        p++;
    if (parse_state(&p, &s->proj.state, &s->proj.gen))
        return -1;
    if (parse_i64(&p, &s->proj_month) || parse_i64(&p, &s->has_period)
        || parse_i64(&p, &s->anchor_ms) || parse_i64(&p, &s->period)
        || parse_dbl(&p, &s->spend))
        return -1;
    if (parse_word(&p, s->duration, sizeof s->duration))
        return -1;
    s->has_duration = strcmp(s->duration, "-") != 0;
    if (s->has_duration
        && al_budget_parse_duration(s->duration, &s->dur_ms, &s->dur_months) != ALERT_OK)
        return -1;
    int64_t n;
    if (parse_i64(&p, &n) || n < 0 || n > 64)
        return -1;
    s->n = (size_t)n;
    for (size_t i = 0; i < s->n; i++) {
        while (*p == ' ')
            p++;
        char *end;
        s->pct[i] = strtod(p, &end);
        if (end == p || *end != ':')
            return -1;
        p = end + 1;
        if (parse_state(&p, &s->st[i].state, &s->st[i].gen))
            return -1;
    }
    while (*p == ' ')
        p++;
    return *p ? -1 : 0;
}

static void apply_saved(const al_budgets *b, entry *e, const saved *s)
{
    e->gen = s->gen;
    e->reset_at_ms = s->reset_at_ms;
    e->max_budget = s->max_budget;
    e->soft_budget = s->soft_budget;
    e->soft = s->soft;
    e->proj = s->proj;
    e->proj_month = (int32_t)s->proj_month;
    e->has_period = s->has_period != 0;
    e->anchor_ms = s->anchor_ms;
    e->period = s->period;
    e->spend = s->spend;
    for (size_t i = 0; i < e->n_steps; i++) {
        e->steps[i].state = MARK_ARMED;
        for (size_t j = 0; j < s->n; j++)
            if (s->pct[j] == b->steps[i].pct)
                e->steps[i] = s->st[j];
    }
}

static int set_duration(entry *e, const char *duration)
{
    char *copy = NULL;
    if (duration) {
        copy = al_strdup(duration);
        if (!copy)
            return ALERT_ERR_NOMEM;
    }
    al_free(e->duration);
    e->duration = copy;
    e->dur_ms = 0;
    e->dur_months = 0;
    if (duration)
        al_budget_parse_duration(duration, &e->dur_ms, &e->dur_months);
    return ALERT_OK;
}

static int parse_key(const char *key, int *entity, const char **id)
{
    if (strncmp(key, "budget|", 7) != 0)
        return -1;
    char *end;
    long ent = strtol(key + 7, &end, 10);
    if (end == key + 7 || *end != '|' || !entity_ok((int)ent) || !end[1])
        return -1;
    *entity = (int)ent;
    *id = end + 1;
    return 0;
}

int al_budgets_import(al_budgets *b, const char *key, const char *value)
{
    if (!b || !key || !value)
        return ALERT_ERR_INVALID;
    int entity;
    const char *id;
    saved s;
    if (parse_key(key, &entity, &id) || decode_value(value, &s))
        return ALERT_ERR_INVALID;
    entry *e = find(b, entity, id);
    if (!e && !(e = create(b, entity, id)))
        return ALERT_ERR_NOMEM;
    if (!e->declared && s.has_duration && set_duration(e, s.duration) != ALERT_OK)
        return ALERT_ERR_NOMEM;
    apply_saved(b, e, &s);
    return ALERT_OK;
}

/* The entity from memory, else from the store, else new (*fresh = 1). */
static entry *obtain(al_budgets *b, int entity, const char *id, int *fresh)
{
    *fresh = 0;
    entry *e = find(b, entity, id);
    if (e)
        return e;
    if (b->get) {
        char *key = entry_key(entity, id);
        char *value = NULL;
        if (!key)
            return NULL;
        int rc = b->get(b->ud, key, &value);
        if (rc == ALERT_OK && value)
            al_budgets_import(b, key, value);
        al_free(value);
        al_free(key);
        if ((e = find(b, entity, id)))
            return e;
    }
    *fresh = 1;
    return create(b, entity, id);
}

/* ---- evaluation ------------------------------------------------------------------ */

typedef struct view {
    int entity;
    const char *id;
    double spend, max_budget, soft_budget;
    const char *token, *customer_id, *user_id, *team_id, *team_alias, *organization_id,
               *user_email, *key_alias;
    const char *const *emails;
    size_t n_emails;
} view;

/* K_BOTH: the soft budget and the max budget crossed by one observation, one alert
 * (LiteLLM's combined text) that settles both marks */
enum { K_STEP, K_SOFT, K_PROJ, K_BOTH };

typedef struct decision {
    int step;                   /* index into steps, -1: none */
    int soft;
    int proj;
    double projected;
    char date[11];
} decision;

static int highest_step(const al_budgets *b, double spend, double max)
{
    if (max < 0)
        return -1;
    int h = -1;
    for (size_t i = 0; i < b->n_steps; i++) {
        if (max == 0) {
            /* a zero budget: any spend crosses it, and nothing lies beyond */
            if (b->steps[i].crossed && spend >= 0)
                h = (int)i;
        } else if (spend * 100.0 >= b->steps[i].pct * max) {
            h = (int)i;
        }
    }
    return h;
}

/* What the figures reach; e == NULL: as if every mark were armed. */
static void decide(const al_budgets *b, const entry *e, const view *v, int64_t now_ms,
                   decision *d)
{
    memset(d, 0, sizeof *d);
    d->step = highest_step(b, v->spend, v->max_budget);
    for (size_t i = d->step < 0 ? b->n_steps : (size_t)d->step; e && i < b->n_steps; i++)
        if (e->steps[i].state != MARK_ARMED) {
            d->step = -1;       /* this step or a higher one is already raised */
            break;
        }
    if (v->soft_budget >= 0 && v->spend >= v->soft_budget)
        d->soft = !e || e->soft.state == MARK_ARMED;
    /* The projection warns before the soft budget is reached; once it is, the soft
     * alert says more. */
    if (v->soft_budget >= 0 && v->spend < v->soft_budget && (!e || e->proj.state == MARK_ARMED))
        d->proj = al_budget_project(v->spend, v->soft_budget, now_ms, &d->projected, d->date);
}

static void line_str(al_text *t, const char *name, const char *v)
{
    if (!v)
        return;
    al_text_lit(t, "*");
    al_text_lit(t, name);
    al_text_lit(t, ":* `");
    al_text_val(t, v);
    al_text_lit(t, "`\n");
}

static void line_num(al_text *t, const char *name, double v)
{
    char num[48];
    al_fmt_pyfloat(num, sizeof num, v);
    al_text_printf(t, "*%s:* `%s`\n", name, num);
}

static int add_email(al_strlist *l, const char *s)
{
    if (!s || !*s)
        return ALERT_OK;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return ALERT_OK;
    char **items = al_realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items)
        return ALERT_ERR_NOMEM;
    l->items = items;
    if (!(items[l->n] = al_strdup(s)))
        return ALERT_ERR_NOMEM;
    l->n++;
    return ALERT_OK;
}

/* The section 3 webhook body. projected < 0 / date NULL: null. */
static char *budget_json(const view *v, const char *event, const char *event_message,
                         double projected, const char *date)
{
    al_buf j = AL_BUF_INIT;
    al_buf_addc(&j, '{');
    json_key(&j, "spend", 1);
    json_num(&j, v->spend);
    json_key(&j, "max_budget", 0);
    if (v->max_budget >= 0)
        json_num(&j, v->max_budget);
    else
        al_buf_adds(&j, "null");
    json_key(&j, "soft_budget", 0);
    if (v->soft_budget >= 0)
        json_num(&j, v->soft_budget);
    else
        al_buf_adds(&j, "null");
    json_key(&j, "token", 0);
    json_str(&j, v->token);
    json_key(&j, "customer_id", 0);
    json_str(&j, v->customer_id);
    json_key(&j, "user_id", 0);
    json_str(&j, v->user_id);
    json_key(&j, "team_id", 0);
    json_str(&j, v->team_id);
    json_key(&j, "team_alias", 0);
    json_str(&j, v->team_alias);
    json_key(&j, "organization_id", 0);
    json_str(&j, v->organization_id);
    json_key(&j, "user_email", 0);
    json_str(&j, v->user_email);
    json_key(&j, "key_alias", 0);
    json_str(&j, v->key_alias);
    json_key(&j, "projected_exceeded_date", 0);
    json_str(&j, date);
    json_key(&j, "projected_spend", 0);
    if (projected >= 0)
        json_num(&j, projected);
    else
        al_buf_adds(&j, "null");
    json_key(&j, "event_group", 0);
    json_str(&j, entity_group[v->entity]);
    json_key(&j, "alert_emails", 0);
    if (v->n_emails) {
        al_buf_addc(&j, '[');
        for (size_t i = 0; i < v->n_emails; i++) {
            if (i)
                al_buf_addc(&j, ',');
            json_str(&j, v->emails[i]);
        }
        al_buf_addc(&j, ']');
    } else {
        al_buf_adds(&j, "null");
    }
    json_key(&j, "event", 0);
    json_str(&j, event);
    json_key(&j, "event_message", 0);
    json_str(&j, event_message);
    al_buf_addc(&j, '}');
    return al_buf_take(&j);
}

/* What the alert claims for a fleet of replicas (state.h's "S|..." key): one hash per
 * entity, id and budget period (the id hashed: it may hold any byte), a field per step,
 * ranked by percent, with the lower steps that winning marks spent. A period is the
 * reset time and max budget of an observed budget, or the declared period's index;
 * the soft budget and the projection have a period of their own. A combined alert
 * (K_BOTH) claims the max step, then, '\n'-joined, the soft step it sends too
 * (gate.h): sent, no replica sends the soft alert of that period alone. */
static char *fleet_key(const al_budgets *b, const entry *e, int kind, double pct)
{
    char id[65];
    if (al_sha256_hex(e->id, strlen(e->id), id) != 0)
        return NULL;
    id[32] = '\0';
    al_buf k = AL_BUF_INIT;
    al_buf_printf(&k, "S|budget:%d:%s:", e->entity, id);
    if (kind == K_PROJ) {
        al_buf_printf(&k, "proj:%" PRId32 ":%.17g|p||", e->proj_month, e->soft_budget);
    } else if (kind != K_SOFT) {
        al_buf_printf(&k, "max:%" PRId64 ":%.17g:%" PRId64 "|t%.17g|%.17g|", e->reset_at_ms,
                      e->max_budget, e->declared ? e->period : (int64_t)0, pct, pct);
        int first = 1;
        for (size_t i = 0; i < b->n_steps; i++)
            if (b->steps[i].pct < pct) {
                al_buf_printf(&k, "%st%.17g", first ? "" : ",", b->steps[i].pct);
                first = 0;
            }
        if (kind == K_BOTH)
            al_buf_printf(&k, "\nS|budget:%d:%s:", e->entity, id);
    }
    if (kind == K_SOFT || kind == K_BOTH)
        al_buf_printf(&k, "soft:%" PRId64 ":%.17g:%" PRId64 "|s||", e->reset_at_ms, e->soft_budget,
                      e->declared ? e->period : (int64_t)0);
    return al_buf_take(&k);
}

static char *settle_key(const entry *e, int kind, double pct)
{
    al_buf k = AL_BUF_INIT;
    al_buf_printf(&k, "budget|%d|%" PRIu32 "|", e->entity, e->gen);
    if (kind == K_SOFT)
        al_buf_adds(&k, "s");
    else if (kind == K_PROJ)
        al_buf_adds(&k, "p");
    else if (kind == K_BOTH)
        al_buf_printf(&k, "c%.17g", pct);   /* the soft mark and the step of pct */
    else
        al_buf_printf(&k, "t%.17g", pct);
    al_buf_printf(&k, "|%s", e->id);
    return al_buf_take(&k);
}

static al_alert *budget_alert(al_budgets *b, const entry *e, const view *v, int kind,
                              const step *st, const decision *d, int64_t now_ms)
{
    /* LiteLLM's projected event carries the soft budget as its max_budget (the limit
     * the projection exceeds), in the text and in the webhook JSON */
    view projected_view;
    if (kind == K_PROJ) {
        projected_view = *v;
        projected_view.max_budget = v->soft_budget;
        v = &projected_view;
    }
    char num[48];
    al_buf ev = AL_BUF_INIT;
    const char *event;
    if (kind == K_SOFT) {
        event = "soft_budget_crossed";
        al_fmt_pyfloat(num, sizeof num, v->soft_budget);
        al_buf_printf(&ev, "Soft Budget Crossed: Total Soft Budget:`%s`", num);
    } else if (kind == K_PROJ) {
        event = "projected_limit_exceeded";
        al_buf_printf(&ev, "%sProjected Limit Exceeded", entity_prefix[v->entity]);
    } else if (kind == K_BOTH) {
        /* LiteLLM appends the max check's text to the soft one, without a separator,
         * and the max check's event wins */
        char max_num[48];
        event = "budget_crossed";
        al_fmt_pyfloat(num, sizeof num, v->soft_budget);
        al_fmt_pyfloat(max_num, sizeof max_num, v->max_budget);
        al_buf_printf(&ev, "Soft Budget Crossed: Total Soft Budget:`%s`Budget Crossed\n Total Budget:`%s`",
                      num, max_num);
    } else if (st->crossed) {
        event = "budget_crossed";
        al_fmt_pyfloat(num, sizeof num, v->max_budget);
        al_buf_printf(&ev, "%sBudget Crossed\n Total Budget:`%s`", entity_prefix[v->entity], num);
    } else {
        event = "threshold_crossed";
        al_buf_printf(&ev, "%s%s", entity_prefix[v->entity], st->text);
    }
    char *event_message = al_buf_take(&ev);
    const char *date = kind == K_PROJ ? d->date : NULL;
    double projected = kind == K_PROJ ? d->projected : -1;

    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, event_message);
    al_text_lit(&t, "\n\n");
    line_num(&t, "spend", v->spend);
    if (v->max_budget >= 0)
        line_num(&t, "max_budget", v->max_budget);
    if (v->soft_budget >= 0)
        line_num(&t, "soft_budget", v->soft_budget);
    line_str(&t, "customer_id", v->customer_id);
    line_str(&t, "user_id", v->user_id);
    line_str(&t, "team_id", v->team_id);
    line_str(&t, "team_alias", v->team_alias);
    line_str(&t, "organization_id", v->organization_id);
    line_str(&t, "user_email", v->user_email);
    line_str(&t, "key_alias", v->key_alias);
    line_str(&t, "projected_exceeded_date", date);
    if (projected >= 0)
        line_num(&t, "projected_spend", projected);
    line_str(&t, "event_group", entity_group[v->entity]);
    if (v->n_emails) {
        char *list = py_list_repr(v->emails, v->n_emails);
        if (!list)
            t.esc.oom = 1;
        line_str(&t, "alert_emails", list);
        al_free(list);
    }

    al_alert *a = al_alert_new(AL_T_BUDGET_ALERTS, ALERT_LEVEL_HIGH, now_ms);
    int ok = a && event_message;
    if (ok)
        ok = al_text_finish(&t, a) == ALERT_OK;
    else
        al_text_free(&t);
    if (ok) {
        a->entity = v->entity;
        if ((kind == K_STEP && st->crossed) || kind == K_BOTH)
            a->page = AL_PAGE_ALSO;         /* PagerDuty gets a budget crossed */
        a->webhook_json = budget_json(v, event, event_message, projected, date);
        al_buf s = AL_BUF_INIT;
        al_buf_printf(&s, "%s %s", entity_group[v->entity], v->id);
        a->subject = al_buf_take(&s);
        ok = a->webhook_json && a->subject;
        for (size_t i = 0; ok && i < v->n_emails; i++)
            ok = add_email(&a->emails, v->emails[i]) == ALERT_OK;
        if (ok)
            ok = add_email(&a->emails, v->user_email) == ALERT_OK;
    }
    char *key = ok ? settle_key(e, kind, st ? st->pct : 0) : NULL;
    al_free(event_message);
    if (!key) {
        al_alert_free(a);
        return NULL;
    }
    a->fleet_key = fleet_key(b, e, kind, st ? st->pct : 0);
    if (!a->fleet_key) {
        al_free(key);
        al_alert_free(a);
        return NULL;
    }
    /* last: freeing a half-built alert must not settle anything */
    a->settle = al_budgets_settle;
    a->settle_ud = b;
    a->settle_key = key;
    return a;
}

static int push(al_alert ***out, size_t *n_out, al_alert *a)
{
    al_alert **arr = al_realloc(*out, (*n_out + 1) * sizeof *arr);
    if (!arr)
        return ALERT_ERR_NOMEM;
    arr[(*n_out)++] = a;
    *out = arr;
    return ALERT_OK;
}

/* Raises what d says on e, in amount order: soft or the max step first, projection last.
 * The soft budget and the max budget crossed at once are one alert, as LiteLLM's. */
static int raise_marks(al_budgets *b, entry *e, const view *v, const decision *d,
                       int64_t now_ms, al_alert ***out, size_t *n_out)
{
    int order[3], n = 0;
    double step_amount = d->step >= 0 ? b->steps[d->step].pct / 100.0 * v->max_budget : 0;
    if (d->soft && d->step >= 0 && b->steps[d->step].crossed) {
        order[n++] = K_BOTH;
    } else if (d->soft && d->step >= 0 && v->soft_budget > step_amount) {
        order[n++] = K_STEP;
        order[n++] = K_SOFT;
    } else {
        if (d->soft)
            order[n++] = K_SOFT;
        if (d->step >= 0)
            order[n++] = K_STEP;
    }
    if (d->proj)
        order[n++] = K_PROJ;

    int rc = ALERT_OK;
    for (int i = 0; i < n && rc == ALERT_OK; i++) {
        const step *st = order[i] == K_STEP || order[i] == K_BOTH ? &b->steps[d->step] : NULL;
        al_alert *a = budget_alert(b, e, v, order[i], st, d, now_ms);
        if (!a) {
            rc = ALERT_ERR_NOMEM;
            break;
        }
        if (push(out, n_out, a) != ALERT_OK) {
            a->settle = NULL;
            al_alert_free(a);
            rc = ALERT_ERR_NOMEM;
            break;
        }
        mark raised = { MARK_PENDING, e->gen };
        if (order[i] == K_SOFT || order[i] == K_BOTH)
            e->soft = raised;
        if (order[i] == K_PROJ) {
            e->proj = raised;
            e->proj_month = month_index(now_ms);
        } else if (order[i] == K_STEP || order[i] == K_BOTH) {
            e->steps[d->step] = raised;
            /* a jump fires only the highest step: the ones below are spent */
            for (int j = 0; j < d->step; j++)
                if (e->steps[j].state == MARK_ARMED)
                    e->steps[j] = (mark){ MARK_SENT, e->gen };
        }
        mark_dirty(b, e);
    }
    return rc;
}

/* A new figure set for e: the re-arm rules of section 3. */
static void sync_figures(al_budgets *b, entry *e, double max, double soft, int64_t now_ms)
{
    if (max != e->max_budget) {
        rearm_all(e);
        mark_dirty(b, e);
    } else if (soft != e->soft_budget) {
        rearm_soft(e);
        mark_dirty(b, e);
    }
    e->max_budget = max;
    e->soft_budget = soft;
    /* a month-end projection belongs to its month */
    if (e->proj.state == MARK_SENT && e->proj_month != month_index(now_ms)) {
        e->proj.state = MARK_ARMED;
        mark_dirty(b, e);
    }
}

static int valid_figures(const alert_budget *in)
{
    return in && entity_ok(in->entity) && isfinite(in->max_budget) && isfinite(in->soft_budget);
}

static void view_from(view *v, const alert_budget *in, const char *id, const char *token)
{
    memset(v, 0, sizeof *v);
    v->entity = in->entity;
    v->id = id;
    v->spend = in->spend;
    v->max_budget = signbit(in->max_budget) ? -1 : in->max_budget;   /* -0.0: none */
    v->soft_budget = signbit(in->soft_budget) ? -1 : in->soft_budget;
    v->token = token;
    v->customer_id = in->customer_id;
    v->user_id = in->user_id;
    v->team_id = in->team_id;
    v->team_alias = in->team_alias;
    v->organization_id = in->organization_id;
    v->user_email = in->user_email;
    v->key_alias = in->key_alias;
    v->emails = in->alert_emails;
    v->n_emails = in->alert_emails ? in->alert_email_count : 0;
    for (size_t i = 0; i < v->n_emails; i++)
        if (!v->emails[i]) {
            v->n_emails = i;    /* a NULL ends the list */
            break;
        }
}

/* The entity's own field carries its id when the caller did not fill it. */
static void view_fill_id(view *v)
{
    if (strcmp(v->id, "default_id") == 0)
        return;
    switch (v->entity) {
    case ALERT_ENTITY_KEY: if (!v->token) v->token = v->id; break;
    case ALERT_ENTITY_USER: if (!v->user_id) v->user_id = v->id; break;
    case ALERT_ENTITY_END_USER: if (!v->customer_id) v->customer_id = v->id; break;
    case ALERT_ENTITY_TEAM: if (!v->team_id) v->team_id = v->id; break;
    case ALERT_ENTITY_ORGANIZATION: if (!v->organization_id) v->organization_id = v->id; break;
    default: break;
    }
}

int al_budgets_observe(al_budgets *b, const alert_budget *in, int64_t now_ms,
                       al_alert ***out, size_t *n_out)
{
    if (!b || !out || !n_out || !valid_figures(in) || !isfinite(in->spend))
        return ALERT_ERR_INVALID;
    char idbuf[65], tokbuf[65];
    const char *id = normal_id(in->entity, in->entity_id, idbuf);
    if (!id)
        return ALERT_ERR_NOMEM;
    view v;
    view_from(&v, in, id, token_of(in->key_hash, tokbuf));
    view_fill_id(&v);

    entry *e = find(b, in->entity, id);
    if (!e) {
        decision d;
        decide(b, NULL, &v, now_ms, &d);
        if (d.step < 0 && !d.soft && !d.proj)
            return ALERT_OK;    /* nothing to raise: no state needed */
        int fresh;
        if (!(e = obtain(b, in->entity, id, &fresh)))
            return ALERT_ERR_NOMEM;
        if (fresh) {
            e->reset_at_ms = in->budget_reset_at_ms;
            e->max_budget = v.max_budget;
            e->soft_budget = v.soft_budget;
        }
    }
    if (in->budget_reset_at_ms != e->reset_at_ms) {
        rearm_all(e);
        e->reset_at_ms = in->budget_reset_at_ms;
        mark_dirty(b, e);
    }
    sync_figures(b, e, v.max_budget, v.soft_budget, now_ms);
    decision d;
    decide(b, e, &v, now_ms, &d);
    return raise_marks(b, e, &v, &d, now_ms, out, n_out);
}

/* ---- declared budgets ------------------------------------------------------------ */

int al_budget_parse_duration(const char *s, int64_t *len_ms, int32_t *months)
{
    if (!s || !len_ms || !months)
        return ALERT_ERR_INVALID;
    *len_ms = 0;
    *months = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return ALERT_ERR_INVALID;
    int64_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > 1000000)
            return ALERT_ERR_INVALID;
    }
    if (n <= 0)
        return ALERT_ERR_INVALID;
    if (strcmp(p, "mo") == 0) {
        *months = (int32_t)n;
        return ALERT_OK;
    }
    int64_t unit = strcmp(p, "s") == 0 ? 1000
                 : strcmp(p, "m") == 0 ? 60000
                 : strcmp(p, "h") == 0 ? 3600000
                 : strcmp(p, "d") == 0 ? 86400000 : 0;
    if (!unit)
        return ALERT_ERR_INVALID;
    *len_ms = n * unit;
    return ALERT_OK;
}

static int64_t period_start(const entry *e, int64_t k)
{
    if (e->dur_ms)
        return e->anchor_ms + k * e->dur_ms;
    if (e->dur_months)
        return add_months(e->anchor_ms, k * e->dur_months);
    return e->anchor_ms;
}

/* The index of the period that contains t (t >= anchor). */
static int64_t period_of(const entry *e, int64_t t)
{
    if (t < e->anchor_ms || (!e->dur_ms && !e->dur_months))
        return 0;
    if (e->dur_ms)
        return (t - e->anchor_ms) / e->dur_ms;
    int64_t k = (int64_t)(month_index(t) - month_index(e->anchor_ms)) / e->dur_months;
    while (k > 0 && period_start(e, k) > t)
        k--;
    while (period_start(e, k + 1) <= t)
        k++;
    return k;
}

static int copy_labels(labels *l, const alert_budget *in, const char *token)
{
    labels n;
    memset(&n, 0, sizeof n);
    int ok = 1;
#define COPY(f, src) if ((src) && !(n.f = al_strdup(src))) ok = 0
    COPY(key_hash, token);
    COPY(key_alias, in->key_alias);
    COPY(user_id, in->user_id);
    COPY(user_email, in->user_email);
    COPY(team_id, in->team_id);
    COPY(team_alias, in->team_alias);
    COPY(customer_id, in->customer_id);
    COPY(organization_id, in->organization_id);
#undef COPY
    size_t count = in->alert_emails ? in->alert_email_count : 0;
    for (size_t i = 0; i < count; i++)
        if (!in->alert_emails[i]) {
            count = i;
            break;
        }
    if (ok && count) {
        n.emails = al_calloc(count, sizeof *n.emails);
        ok = n.emails != NULL;
        for (size_t i = 0; ok && i < count; i++, n.n_emails++)
            ok = (n.emails[i] = al_strdup(in->alert_emails[i])) != NULL;
    }
    if (!ok) {
        labels_free(&n);
        return ALERT_ERR_NOMEM;
    }
    labels_free(l);
    *l = n;
    return ALERT_OK;
}

int al_budgets_declare(al_budgets *b, const alert_budget *in, const char *duration,
                       int64_t now_ms)
{
    int64_t dur_ms;
    int32_t dur_months;
    if (!b || !valid_figures(in))
        return ALERT_ERR_INVALID;
    if (duration && al_budget_parse_duration(duration, &dur_ms, &dur_months) != ALERT_OK)
        return ALERT_ERR_INVALID;
    char idbuf[65], tokbuf[65];
    const char *id = normal_id(in->entity, in->entity_id, idbuf);
    if (!id)
        return ALERT_ERR_NOMEM;
    const char *token = token_of(in->key_hash, tokbuf);
    if (in->key_hash && !token)
        return ALERT_ERR_NOMEM;
    int fresh;
    entry *e = obtain(b, in->entity, id, &fresh);
    if (!e || copy_labels(&e->lab, in, token) != ALERT_OK)
        return ALERT_ERR_NOMEM;
    int same = e->has_period
            && ((!duration && !e->duration)
                || (duration && e->duration && strcmp(duration, e->duration) == 0));
    if (!same) {
        if (set_duration(e, duration) != ALERT_OK)
            return ALERT_ERR_NOMEM;
        e->anchor_ms = now_ms;
        e->period = 0;
        e->spend = 0;
        fleet_reset(e);
        if (e->has_period)
            rearm_all(e);
        e->has_period = 1;
    }
    e->declared = 1;
    double max = signbit(in->max_budget) ? -1 : in->max_budget;      /* -0.0: none */
    double soft = signbit(in->soft_budget) ? -1 : in->soft_budget;
    if (fresh) {
        e->max_budget = max;    /* nothing to re-arm */
        e->soft_budget = soft;
    }
    sync_figures(b, e, max, soft, now_ms);
    mark_dirty(b, e);
    return ALERT_OK;
}

int al_budgets_undeclare(al_budgets *b, int entity, const char *entity_id)
{
    if (!b || !entity_ok(entity))
        return ALERT_ERR_INVALID;
    char idbuf[65];
    const char *id = normal_id(entity, entity_id, idbuf);
    entry *e = id ? find(b, entity, id) : NULL;
    if (!e || !e->declared)
        return ALERT_ERR_NOT_FOUND;
    e->declared = 0;
    labels_free(&e->lab);
    mark_dirty(b, e);
    return ALERT_OK;
}

int al_budgets_is_declared(const al_budgets *b, int entity, const char *entity_id)
{
    char idbuf[65];
    const char *id = b && entity_ok(entity) ? normal_id(entity, entity_id, idbuf) : NULL;
    const entry *e = id ? find(b, entity, id) : NULL;
    return e && e->declared;
}

/* The spend a tracked budget is judged on: its own, or the fleet's total plus what it
 * added since that total was answered, whichever is higher. */
static double judged_spend(const entry *e)
{
    if (e->f_total < 0)
        return e->spend;
    double fleet = (double)(e->f_total - e->f_acked + e->f_mine) / 1e9;
    return fleet > e->spend ? fleet : e->spend;
}

static int evaluate(al_budgets *b, entry *e, int64_t at_ms, al_alert ***out, size_t *n_out)
{
    view v;
    memset(&v, 0, sizeof v);
    v.entity = e->entity;
    v.id = e->id;
    v.spend = judged_spend(e);
    v.max_budget = e->max_budget;
    v.soft_budget = e->soft_budget;
    v.token = e->lab.key_hash;
    v.customer_id = e->lab.customer_id;
    v.user_id = e->lab.user_id;
    v.team_id = e->lab.team_id;
    v.team_alias = e->lab.team_alias;
    v.organization_id = e->lab.organization_id;
    v.user_email = e->lab.user_email;
    v.key_alias = e->lab.key_alias;
    v.emails = (const char *const *)e->lab.emails;
    v.n_emails = e->lab.n_emails;
    view_fill_id(&v);
    if (e->proj.state == MARK_SENT && e->proj_month != month_index(at_ms))
        e->proj.state = MARK_ARMED;
    decision d;
    decide(b, e, &v, at_ms, &d);
    return raise_marks(b, e, &v, &d, at_ms, out, n_out);
}

/* Money for the fleet: integer nano-dollars, saturating (exact sums in any order). */
static int64_t to_nano(double cost)
{
    double n = cost * 1e9;
    if (!(n > 0))
        return 0;
    return n >= 4e18 ? INT64_MAX / 2 : (int64_t)llround(n);
}

static int spend_one(al_budgets *b, entry *e, double cost, int64_t at_ms, al_alert ***out,
                     size_t *n_out)
{
    int64_t k = period_of(e, at_ms);
    if (at_ms < period_start(e, e->period))
        return ALERT_OK;        /* late: its period is over */
    if (k > e->period) {
        e->period = k;
        e->spend = 0;
        fleet_reset(e);
        rearm_all(e);
    }
    e->spend += cost;
    if (isinf(e->spend))
        e->spend = DBL_MAX;     /* saturates, like the ledger */
    int64_t nano = to_nano(cost);
    e->f_mine = e->f_mine > INT64_MAX / 2 - nano ? INT64_MAX / 2 : e->f_mine + nano;
    mark_dirty(b, e);
    return evaluate(b, e, at_ms, out, n_out);
}

int al_budgets_add_spend(al_budgets *b, int entity, const char *entity_id, double cost,
                         int64_t at_ms, al_alert ***out, size_t *n_out)
{
    if (!b || !out || !n_out || !entity_ok(entity) || !isfinite(cost) || cost < 0)
        return ALERT_ERR_INVALID;
    char idbuf[65];
    const char *id = normal_id(entity, entity_id, idbuf);
    if (!id)
        return ALERT_ERR_NOMEM;
    entry *e = find(b, entity, id);
    if (!e || !e->declared)
        return ALERT_OK;
    return spend_one(b, e, cost, at_ms, out, n_out);
}

int al_budgets_add_spend_all(al_budgets *b, const alert_spend *s, int64_t at_ms,
                             al_alert ***out, size_t *n_out)
{
    if (!b || !s || !out || !n_out || !isfinite(s->cost) || s->cost < 0)
        return ALERT_ERR_INVALID;
    const struct { int entity; const char *id; } match[] = {
        { ALERT_ENTITY_KEY, s->key_hash },
        { ALERT_ENTITY_USER, s->user_id },
        { ALERT_ENTITY_END_USER, s->customer_id },
        { ALERT_ENTITY_TEAM, s->team_id },
        { ALERT_ENTITY_ORGANIZATION, s->organization_id },
        { ALERT_ENTITY_PROXY, "default_id" },
    };
    int rc = ALERT_OK;
    for (size_t i = 0; i < sizeof match / sizeof match[0]; i++) {
        if (!match[i].id || !*match[i].id)
            continue;
        int r = al_budgets_add_spend(b, match[i].entity, match[i].id, s->cost, at_ms, out, n_out);
        if (r != ALERT_OK)
            rc = r;
    }
    return rc;
}

void al_budgets_settle(void *ud, const char *key, int ok)
{
    al_budgets *b = ud;
    if (!b || !key || strncmp(key, "budget|", 7) != 0)
        return;
    const char *p = key + 7;
    char *end;
    long entity = strtol(p, &end, 10);
    if (end == p || *end != '|' || !entity_ok((int)entity))
        return;
    p = end + 1;
    unsigned long gen = strtoul(p, &end, 10);
    if (end == p || *end != '|')
        return;
    p = end + 1;
    const char *bar = strchr(p, '|');
    if (!bar)
        return;
    entry *e = find(b, (int)entity, bar + 1);
    if (!e && b->get) {
        /* a delivery replayed after a restart settles a mark this process has not
         * loaded yet: load it (never create it) */
        char *ekey = entry_key((int)entity, bar + 1);
        char *value = NULL;
        if (ekey && b->get(b->ud, ekey, &value) == ALERT_OK && value)
            al_budgets_import(b, ekey, value);
        al_free(value);
        al_free(ekey);
        e = find(b, (int)entity, bar + 1);
    }
    if (!e)
        return;
    mark *m[2] = { NULL, NULL };
    if (*p == 's' || *p == 'c') {
        m[0] = &e->soft;
    } else if (*p == 'p') {
        m[0] = &e->proj;
    }
    if (*p == 't' || *p == 'c') {
        double pct = strtod(p + 1, NULL);
        for (size_t i = 0; i < e->n_steps; i++)
            if (b->steps[i].pct == pct)
                m[1] = &e->steps[i];
    }
    for (int i = 0; i < 2; i++) {
        if (!m[i] || m[i]->state != MARK_PENDING || m[i]->gen != (uint32_t)gen)
            continue;           /* re-armed (new period) or settled meanwhile */
        m[i]->state = ok ? MARK_SENT : MARK_ARMED;
        mark_dirty(b, e);
    }
}

/* ---- projection ------------------------------------------------------------------- */

int al_budget_project(double spend, double soft_budget, int64_t now_ms, double *projected,
                      char date[11])
{
    int32_t today = al_day_from_ms(now_ms);
    int y, m, d;
    al_civil_from_day(today, &y, &m, &d);
    double rate = d == 1 ? spend : spend / (d - 1);
    int left = al_days_in_month(y, m) - d;
    double p = spend + rate * left;
    int32_t when = today;
    if (rate > 0 && soft_budget - spend > 0) {
        double k = floor((soft_budget - spend) / rate);
        when = today + (int32_t)(k < 3650000 ? k : 3650000);
    }
    if (projected)
        *projected = p;
    if (date)
        fmt_date(date, when);
    return soft_budget >= 0 && p > soft_budget;
}

/* ---- spend_tracked --------------------------------------------------------------- */

static char *spend_tracked_message(const alert_spend *s)
{
    char num[48];
    al_fmt_pyfloat(num, sizeof num, s->cost);
    al_buf m = AL_BUF_INIT;
    al_buf_printf(&m, "Customer spend tracked. Customer=%s, spend=%s", s->customer_id, num);
    return al_buf_take(&m);
}

char *al_budget_spend_tracked_json(const alert_spend *s, double max_budget)
{
    if (!s || !s->customer_id || !isfinite(s->cost) || !isfinite(max_budget))
        return NULL;
    char tokbuf[65];
    view v;
    memset(&v, 0, sizeof v);
    v.entity = ALERT_ENTITY_END_USER;
    v.spend = s->cost;
    v.max_budget = signbit(max_budget) ? -1 : max_budget;
    v.soft_budget = -1;
    v.token = token_of(s->key_hash, tokbuf);
    v.customer_id = s->customer_id;
    v.key_alias = s->key_alias;
    if (s->key_hash && !v.token)
        return NULL;
    char *msg = spend_tracked_message(s);
    char *json = msg ? budget_json(&v, "spend_tracked", msg, -1, NULL) : NULL;
    al_free(msg);
    return json;
}

int al_budget_spend_tracked_alert(const alert_spend *s, double max_budget, int64_t now_ms,
                                  al_alert **out)
{
    if (!out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    if (!s || !s->customer_id || !*s->customer_id || !isfinite(s->cost) || s->cost < 0
        || !isfinite(max_budget))
        return ALERT_ERR_INVALID;
    al_alert *a = al_alert_new(AL_T_BUDGET_ALERTS, ALERT_LEVEL_LOW, now_ms);
    if (!a)
        return ALERT_ERR_NOMEM;
    char num[48];
    al_fmt_pyfloat(num, sizeof num, s->cost);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, "Customer spend tracked. Customer=");
    al_text_val(&t, s->customer_id);
    al_text_printf(&t, ", spend=%s", num);
    int ok = al_text_finish(&t, a) == ALERT_OK;
    if (ok) {
        a->entity = ALERT_ENTITY_END_USER;
        a->webhook_json = al_budget_spend_tracked_json(s, max_budget);
        al_buf sub = AL_BUF_INIT;
        al_buf_printf(&sub, "end_user %s", s->customer_id);
        a->subject = al_buf_take(&sub);
        ok = a->webhook_json && a->subject;
    }
    if (!ok) {
        al_alert_free(a);
        return ALERT_ERR_NOMEM;
    }
    *out = a;
    return ALERT_OK;
}

/* ---- fleet mode: tracked budgets on the fleet's spend ------------------------------ */

/* "fspend:<entity>:<id hash>:<duration>:<period>": one fleet total per period. */
static char *spend_group(const entry *e)
{
    char id[65];
    if (al_sha256_hex(e->id, strlen(e->id), id) != 0)
        return NULL;
    id[32] = '\0';
    al_buf k = AL_BUF_INIT;
    al_buf_printf(&k, "fspend:%d:%s:%s:%" PRId64, e->entity, id, e->duration ? e->duration : "-",
                  e->period);
    return al_buf_take(&k);
}

/* How long the fleet keeps a period's total: the period and a week (no duration: 400
 * days from the last spend). */
static int64_t spend_ttl(const entry *e)
{
    int64_t week = 7 * 86400000LL;
    if (e->dur_ms)
        return e->dur_ms + week;
    if (e->dur_months)
        return (int64_t)e->dur_months * 31 * 86400000LL + week;
    return 400 * 86400000LL;
}

int al_budgets_fleet_post(al_budgets *b, al_budgets_fleet_post_fn post, void *ud)
{
    if (!b || !post)
        return ALERT_ERR_INVALID;
    for (size_t i = 0; i < b->n_buckets; i++)
        for (entry *e = b->buckets[i]; e; e = e->next) {
            if (!e->declared || e->f_mine == e->f_posted)
                continue;
            /* one post in flight per budget, riding the next round (FLEET.md: counters
             * once a round). Never urgent: this replica's own spend is judged at once
             * (fleet total + its unflushed spend); what a post adds is the others'
             * spend, which the fleet promises within about a round. */
            if (e->f_inflight)
                continue;
            char *g = spend_group(e);
            if (!g)
                return ALERT_ERR_NOMEM;
            if (post(ud, g, e->f_mine, spend_ttl(e), 0) == ALERT_OK) {
                e->f_posted = e->f_mine;
                e->f_inflight = 1;
            }
            al_free(g);
        }
    return ALERT_OK;
}

int al_budgets_fleet_total(al_budgets *b, const char *group, int64_t mine, int64_t total,
                           int64_t now_ms, al_alert ***out, size_t *n_out)
{
    if (!b || !group || !out || !n_out)
        return ALERT_ERR_INVALID;
    for (size_t i = 0; i < b->n_buckets; i++)
        for (entry *e = b->buckets[i]; e; e = e->next) {
            if (!e->declared)
                continue;
            char *g = spend_group(e);
            if (!g)
                return ALERT_ERR_NOMEM;
            int same = strcmp(g, group) == 0;
            al_free(g);
            if (!same)
                continue;
            e->f_inflight = 0;
            if (total < 0 || mine < e->f_acked)
                return ALERT_OK;            /* no answer, or an older one */
            e->f_total = total;
            e->f_acked = mine;
            return evaluate(b, e, now_ms, out, n_out);
        }
    return ALERT_OK;                        /* a period that is over, or a forgotten budget */
}

void al_budgets_fleet_reseed(al_budgets *b)
{
    for (size_t i = 0; b && i < b->n_buckets; i++)
        for (entry *e = b->buckets[i]; e; e = e->next) {
            if (!e->declared)
                continue;
            int64_t own = to_nano(e->spend);
            if (own > e->f_mine)
                e->f_mine = own;
            e->f_posted = -1;               /* posted again, whole */
            e->f_acked = 0;
            e->f_total = -1;
        }
}

/* ---- failed_tracking_spend -------------------------------------------------------- */

int al_tracking_failure_alert(al_marks *m, const char *model, const char *error_text,
                              int64_t ttl_ms, int64_t now_ms, al_alert **out)
{
    if (!m || !out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    char *key = al_mark_key("failed_tracking|", model, "");
    if (!key)
        return ALERT_ERR_NOMEM;
    al_alert *a = al_alert_new(AL_T_FAILED_TRACKING_SPEND, ALERT_LEVEL_HIGH, now_ms);
    if (!a) {
        al_free(key);
        return ALERT_ERR_NOMEM;
    }
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, "Failed Tracking Cost for ");
    al_text_val(&t, error_text);
    int ok = al_text_finish(&t, a) == ALERT_OK;
    if (ok && model) {
        a->model = al_utf8_repair(model, strlen(model));
        ok = a->model != NULL;
    }
    if (ok) {
        al_buf sub = AL_BUF_INIT;
        al_buf_adds(&sub, "model ");
        al_buf_adds(&sub, a->model ? a->model : "None");
        ok = (a->subject = al_buf_take(&sub)) != NULL;
    }
    if (!ok) {
        al_text_free(&t);
        al_alert_free(a);
        al_free(key);
        return ALERT_ERR_NOMEM;
    }
    int claimed = al_marks_claim(m, key, now_ms, now_ms + ttl_ms);
    if (claimed != 1) {
        al_alert_free(a);
        al_free(key);
        return claimed < 0 ? claimed : ALERT_OK;
    }
    size_t n = strlen(key) + 1;
    char *joined = al_malloc(5 + n);                    /* "mark|": the settle owner */
    if (!joined) {
        al_marks_settle(m, key, 0);
        al_alert_free(a);
        al_free(key);
        return ALERT_ERR_NOMEM;
    }
    memcpy(joined, "mark|", 5);
    memcpy(joined + 5, key, n);
    /* fleet mode: once per model per ttl for the fleet */
    al_buf f = AL_BUF_INIT;
    al_buf_printf(&f, "M|%lld|%s", (long long)ttl_ms, key);
    al_free(key);
    if (!(a->fleet_key = al_buf_take(&f))) {
        al_marks_settle(m, joined + 5, 0);
        al_free(joined);
        al_alert_free(a);
        return ALERT_ERR_NOMEM;
    }
    a->settle = al_marks_settle;
    a->settle_ud = m;
    a->settle_key = joined;
    *out = a;
    return ALERT_OK;
}
