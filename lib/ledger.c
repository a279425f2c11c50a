/* SPDX-License-Identifier: MIT */
/* The spend ledger (ledger.h): cost by UTC day and dimension, the N-day and
 * monthly spend reports, the user spend thresholds and anomalies. */
#include "ledger.h"

#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "fmt.h"
#include "hash.h"
#include "sign.h"
#include "text.h"

/* A cell key: (dim + 1) in the top 4 bits, the name id below; 0 is an empty slot. */
#define ID_BITS 28
#define ID_MAX ((1u << ID_BITS) - 1)
#define CELL_KEY(dim, id) ((uint32_t)((dim) + 1) << ID_BITS | (uint32_t)(id))
#define CELL_DIM(k) ((int)((k) >> ID_BITS) - 1)
#define CELL_ID(k) ((k) & ID_MAX)

typedef struct cell {
    uint32_t key;
    double amount;
} cell;                         /* 16 bytes with padding */

typedef struct dayslot {
    int32_t day;                /* AL_DAY_NONE: empty */
    uint32_t count;
    uint32_t cap;               /* power of two, or 0 */
    cell *cells;
} dayslot;

/* id 0 is None; real names from 1. A free id keeps the next free one in refs. */
typedef struct name {
    char *s;
    uint32_t refs;              /* cells using it */
    uint32_t hash;
} name;

struct al_ledger {
    int days_kept;
    dayslot *days;
    int32_t newest;
    name *names;
    uint32_t names_cap;         /* ids < names_cap */
    uint32_t names_top;         /* ids below were handed out at least once */
    uint32_t free_head;         /* 0: none */
    uint32_t n_names;
    uint32_t *index;            /* open addressing over ids, 0 empty */
    uint32_t index_cap;
    size_t cells;
    size_t string_bytes;
    al_ledger_sink_fn sink;
    void *sink_ud;
};

int al_ledger_days_for(int report_days, int baseline_days)
{
    int window = report_days > 31 ? report_days : 31;
    int need = window + (baseline_days > 0 ? baseline_days : 0) + 1;
    return need > AL_LEDGER_DAYS_DEFAULT ? need : AL_LEDGER_DAYS_DEFAULT;
}

al_ledger *al_ledger_new(int days_kept)
{
    if (days_kept < 1 || days_kept > 100000)
        return NULL;
    al_ledger *l = al_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->days_kept = days_kept;
    l->newest = AL_DAY_NONE;
    l->days = al_calloc((size_t)days_kept, sizeof *l->days);
    l->names_cap = 64;
    l->names = al_calloc(l->names_cap, sizeof *l->names);
    l->names_top = 1;
    l->index_cap = 128;
    l->index = al_calloc(l->index_cap, sizeof *l->index);
    if (!l->days || !l->names || !l->index) {
        al_ledger_free(l);
        return NULL;
    }
    for (int i = 0; i < days_kept; i++)
        l->days[i].day = AL_DAY_NONE;
    return l;
}

void al_ledger_free(al_ledger *l)
{
    if (!l)
        return;
    for (int i = 0; l->days && i < l->days_kept; i++)
        al_free(l->days[i].cells);
    for (uint32_t i = 0; l->names && i < l->names_top; i++)
        al_free(l->names[i].s);
    al_free(l->days);
    al_free(l->names);
    al_free(l->index);
    al_free(l);
}

void al_ledger_set_sink(al_ledger *l, al_ledger_sink_fn fn, void *ud)
{
    l->sink = fn;
    l->sink_ud = ud;
}

/* ---- names ---------------------------------------------------------------------- */

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = (uint32_t)al_hash_bytes(s, len, 0x1ed9e7);
    return h ? h : 1;
}

static uint32_t name_lookup(const al_ledger *l, const char *s, size_t len, uint32_t h)
{
    uint32_t mask = l->index_cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = l->index[i];
        if (!id)
            return 0;
        const name *n = &l->names[id];
        if (n->hash == h && strncmp(n->s, s, len) == 0 && n->s[len] == '\0')
            return id;
    }
}

static void index_place(uint32_t *index, uint32_t cap, const name *names, uint32_t id)
{
    uint32_t mask = cap - 1;
    uint32_t i = names[id].hash & mask;
    while (index[i])
        i = (i + 1) & mask;
    index[i] = id;
}

static int index_grow(al_ledger *l)
{
    uint32_t cap = l->index_cap * 2;
    uint32_t *ni = al_calloc(cap, sizeof *ni);
    if (!ni)
        return -1;
    for (uint32_t i = 0; i < l->index_cap; i++)
        if (l->index[i])
            index_place(ni, cap, l->names, l->index[i]);
    al_free(l->index);
    l->index = ni;
    l->index_cap = cap;
    return 0;
}

/* Linear probing deletion by backward shift: no tombstones. */
static void index_remove(al_ledger *l, uint32_t id)
{
    uint32_t mask = l->index_cap - 1;
    uint32_t i = l->names[id].hash & mask;
    while (l->index[i] != id)
        i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask; l->index[j]; j = (j + 1) & mask) {
        uint32_t home = l->names[l->index[j]].hash & mask;
        /* move j back to i unless its home lies cyclically in (i, j] */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            l->index[i] = l->index[j];
            i = j;
        }
    }
    l->index[i] = 0;
}

/* Cut at a UTF-8 boundary so that an interned name stays valid text. */
static size_t name_len(const char *s)
{
    return al_utf8_cut_bytes(s, strlen(s), AL_LEDGER_NAME_MAX);
}

/* The id of s, interned when new (refs 0 until a cell uses it); 0 is None; -1 on
 * allocation failure or when the ids ran out. */
static int64_t name_intern(al_ledger *l, const char *s)
{
    if (!s || !*s)
        return 0;
    size_t len = name_len(s);
    uint32_t h = name_hash(s, len);
    uint32_t id = name_lookup(l, s, len, h);
    if (id)
        return id;
    if ((l->n_names + 1) * 2 > l->index_cap && index_grow(l) != 0)
        return -1;
    if (l->free_head) {
        id = l->free_head;
        l->free_head = l->names[id].refs;
    } else {
        if (l->names_top >= ID_MAX)
            return -1;
        if (l->names_top == l->names_cap) {
            uint32_t cap = l->names_cap * 2;
            name *nn = al_realloc(l->names, cap * sizeof *nn);
            if (!nn)
                return -1;
            memset(nn + l->names_cap, 0, (cap - l->names_cap) * sizeof *nn);
            l->names = nn;
            l->names_cap = cap;
        }
        id = l->names_top++;
    }
    char *copy = al_strndup(s, len);
    if (!copy) {
        l->names[id].refs = l->free_head;
        l->free_head = id;
        return -1;
    }
    l->names[id] = (name){ copy, 0, h };
    index_place(l->index, l->index_cap, l->names, id);
    l->n_names++;
    l->string_bytes += len + 1;
    return id;
}

static void name_release(al_ledger *l, uint32_t id)
{
    if (!id || --l->names[id].refs > 0)
        return;
    index_remove(l, id);
    l->string_bytes -= strlen(l->names[id].s) + 1;
    al_free(l->names[id].s);
    l->names[id].s = NULL;
    l->names[id].refs = l->free_head;
    l->free_head = id;
    l->n_names--;
}

/* An interned name with no cell yet (its cell could not be made). */
static void name_drop_unused(al_ledger *l, int64_t id)
{
    if (id > 0 && l->names[id].refs == 0) {
        l->names[id].refs = 1;
        name_release(l, (uint32_t)id);
    }
}

static const char *name_str(const al_ledger *l, uint32_t id)
{
    return id ? l->names[id].s : NULL;
}

static int64_t name_find(const al_ledger *l, const char *s)
{
    if (!s || !*s)
        return 0;
    size_t len = name_len(s);
    uint32_t id = name_lookup(l, s, len, name_hash(s, len));
    return id ? (int64_t)id : -1;
}

/* ---- days ------------------------------------------------------------------------ */

static dayslot *slot_of(const al_ledger *l, int32_t day)
{
    int64_t k = l->days_kept;
    return &l->days[((day % k) + k) % k];
}

static const dayslot *day_get(const al_ledger *l, int32_t day)
{
    const dayslot *ds = slot_of(l, day);
    return ds->day == day ? ds : NULL;
}

static void slot_clear(al_ledger *l, dayslot *ds)
{
    for (uint32_t i = 0; i < ds->cap; i++)
        if (ds->cells[i].key)
            name_release(l, CELL_ID(ds->cells[i].key));
    l->cells -= ds->count;
    al_free(ds->cells);
    ds->cells = NULL;
    ds->cap = ds->count = 0;
    ds->day = AL_DAY_NONE;
}

void al_ledger_advance(al_ledger *l, int32_t today)
{
    if (!l || (l->newest != AL_DAY_NONE && today <= l->newest))
        return;
    l->newest = today;
    for (int i = 0; i < l->days_kept; i++)
        if (l->days[i].day != AL_DAY_NONE && l->days[i].day <= today - l->days_kept)
            slot_clear(l, &l->days[i]);
}

static uint32_t cell_hash(uint32_t key)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32);
}

static cell *cell_find(const dayslot *ds, uint32_t key)
{
    if (!ds || !ds->cap)
        return NULL;
    uint32_t mask = ds->cap - 1;
    for (uint32_t i = cell_hash(key) & mask;; i = (i + 1) & mask) {
        if (ds->cells[i].key == key)
            return &ds->cells[i];
        if (!ds->cells[i].key)
            return NULL;
    }
}

static int slot_grow(dayslot *ds)
{
    uint32_t cap = ds->cap ? ds->cap * 2 : 16;
    cell *nc = al_calloc(cap, sizeof *nc);
    if (!nc)
        return -1;
    for (uint32_t i = 0; i < ds->cap; i++) {
        if (!ds->cells[i].key)
            continue;
        uint32_t j = cell_hash(ds->cells[i].key) & (cap - 1);
        while (nc[j].key)
            j = (j + 1) & (cap - 1);
        nc[j] = ds->cells[i];
    }
    al_free(ds->cells);
    ds->cells = nc;
    ds->cap = cap;
    return 0;
}

/* The cell (day, dim, id), made when missing; NULL when the day is too old or on
 * allocation failure (*err set then). */
static cell *cell_get(al_ledger *l, int32_t day, int dim, uint32_t id, int *err)
{
    *err = 0;
    al_ledger_advance(l, day);
    if (day <= l->newest - l->days_kept)
        return NULL;            /* older than what we keep */
    dayslot *ds = slot_of(l, day);
    if (ds->day != day) {
        if (ds->day != AL_DAY_NONE)
            slot_clear(l, ds);
        ds->day = day;
    }
    uint32_t key = CELL_KEY(dim, id);
    cell *c = cell_find(ds, key);
    if (c)
        return c;
    if ((ds->count + 1) * 4 > ds->cap * 3 && slot_grow(ds) != 0) {
        *err = 1;
        return NULL;
    }
    uint32_t mask = ds->cap - 1;
    uint32_t i = cell_hash(key) & mask;
    while (ds->cells[i].key)
        i = (i + 1) & mask;
    ds->cells[i].key = key;
    ds->cells[i].amount = 0;
    ds->count++;
    l->cells++;
    if (id)
        l->names[id].refs++;
    return &ds->cells[i];
}

static int add_cell(al_ledger *l, int32_t day, int dim, const char *nm, double amount,
                    int to_sink)
{
    if (!l || dim < 0 || dim >= AL_LDIM__COUNT || !isfinite(amount) || amount < 0
        || day == AL_DAY_NONE)
        return ALERT_ERR_INVALID;
    if (amount == 0)
        return ALERT_OK;
    int64_t id = name_intern(l, nm);
    if (id < 0)
        return ALERT_ERR_NOMEM;
    int err;
    cell *c = cell_get(l, day, dim, (uint32_t)id, &err);
    if (!c) {
        name_drop_unused(l, id);
        return err ? ALERT_ERR_NOMEM : ALERT_OK;
    }
    c->amount += amount;
    if (isinf(c->amount))
        c->amount = DBL_MAX;    /* saturates: shown as "> $1e15" */
    if (to_sink && l->sink)
        l->sink(l->sink_ud, day, dim, id ? l->names[id].s : "", amount);
    return ALERT_OK;
}

int al_ledger_add_cell(al_ledger *l, int32_t day, int dim, const char *nm, double amount)
{
    return add_cell(l, day, dim, nm, amount, 1);
}

int al_ledger_load_row(void *ledger, int32_t day, int32_t dim, const char *nm, double amount)
{
    return add_cell(ledger, day, (int)dim, nm, amount, 0);
}

int al_ledger_add(al_ledger *l, const alert_spend *s, int64_t at_ms)
{
    if (!l || !s || !isfinite(s->cost) || s->cost < 0)
        return ALERT_ERR_INVALID;
    if (s->cost == 0)
        return ALERT_OK;
    int32_t day = al_day_from_ms(at_ms);
    int rc = add_cell(l, day, AL_LDIM_TEAM, s->team_alias, s->cost, 1);
    for (uint32_t i = 0; s->tags && i < s->tag_count; i++) {
        const char *t = s->tags[i];
        if (!t || !*t)
            continue;
        int dup = 0;
        for (uint32_t j = 0; j < i && !dup; j++)
            dup = s->tags[j] && strcmp(s->tags[j], t) == 0;
        if (!dup && rc == ALERT_OK)
            rc = add_cell(l, day, AL_LDIM_TAG, t, s->cost, 1);
    }
    if (rc == ALERT_OK && s->user_id && *s->user_id)
        rc = add_cell(l, day, AL_LDIM_USER, s->user_id, s->cost, 1);
    if (rc == ALERT_OK && s->key_hash && *s->key_hash) {
        char hex[65];
        const char *k = s->key_hash;
        if (strncmp(k, "sk-", 3) == 0) {
            if (al_sha256_hex(k, strlen(k), hex) != 0)
                return ALERT_ERR_NOMEM;
            k = hex;
        }
        rc = add_cell(l, day, AL_LDIM_KEY, k, s->cost, 1);
    }
    if (rc == ALERT_OK && s->customer_id && *s->customer_id)
        rc = add_cell(l, day, AL_LDIM_CUSTOMER, s->customer_id, s->cost, 1);
    return rc;
}

int al_ledger_export(al_ledger *l, al_ledger_row_fn row, void *ud)
{
    if (!l || !row)
        return ALERT_ERR_INVALID;
    if (l->newest == AL_DAY_NONE)
        return ALERT_OK;
    for (int32_t day = l->newest - l->days_kept + 1; day <= l->newest; day++) {
        const dayslot *ds = day_get(l, day);
        for (uint32_t i = 0; ds && i < ds->cap; i++) {
            uint32_t key = ds->cells[i].key;
            if (!key)
                continue;
            const char *nm = name_str(l, CELL_ID(key));
            int rc = row(ud, day, CELL_DIM(key), nm ? nm : "", ds->cells[i].amount);
            if (rc)
                return rc;
        }
    }
    return ALERT_OK;
}

/* ---- queries ---------------------------------------------------------------------- */

size_t al_ledger_cells(const al_ledger *l)
{
    return l ? l->cells : 0;
}

size_t al_ledger_names(const al_ledger *l)
{
    return l ? l->n_names : 0;
}

size_t al_ledger_bytes(const al_ledger *l)
{
    if (!l)
        return 0;
    size_t b = sizeof *l + (size_t)l->days_kept * sizeof *l->days
             + (size_t)l->names_cap * sizeof *l->names + (size_t)l->index_cap * sizeof *l->index
             + l->string_bytes;
    for (int i = 0; i < l->days_kept; i++)
        b += (size_t)l->days[i].cap * sizeof(cell);
    return b;
}

double al_ledger_bytes_per_cell(const al_ledger *l)
{
    return l && l->cells ? (double)al_ledger_bytes(l) / (double)l->cells : 0;
}

double al_ledger_get(const al_ledger *l, int dim, const char *nm, int32_t from_day,
                     int32_t to_day)
{
    if (!l || dim < 0 || dim >= AL_LDIM__COUNT)
        return 0;
    int64_t id = name_find(l, nm);
    if (id < 0 || l->newest == AL_DAY_NONE)
        return 0;
    int32_t lo = l->newest - l->days_kept + 1;
    if (from_day < lo)
        from_day = lo;
    if (to_day > l->newest)
        to_day = l->newest;
    double sum = 0;
    for (int32_t day = from_day; day <= to_day; day++) {
        const cell *c = cell_find(day_get(l, day), CELL_KEY(dim, (uint32_t)id));
        if (c)
            sum += c->amount;
    }
    return sum;
}

static int cmp_sum(const void *pa, const void *pb)
{
    const al_ledger_sum *a = pa, *b = pb;
    if (a->amount != b->amount)
        return a->amount > b->amount ? -1 : 1;
    return strcmp(a->name ? a->name : "None", b->name ? b->name : "None");
}

/* Per-id sums of dim over [from, to] (clamped to the kept days): acc[id], and the ids
 * that have a cell in ids[0..*n_ids). */
static int accumulate(const al_ledger *l, int dim, int32_t from_day, int32_t to_day,
                      double **acc_out, uint32_t **ids_out, size_t *n_ids)
{
    *acc_out = NULL;
    *ids_out = NULL;
    *n_ids = 0;
    double *acc = al_calloc(l->names_top, sizeof *acc);
    uint8_t *seen = al_calloc(l->names_top, 1);
    uint32_t *ids = al_malloc((size_t)l->names_top * sizeof *ids);
    if (!acc || !seen || !ids) {
        al_free(acc);
        al_free(seen);
        al_free(ids);
        return ALERT_ERR_NOMEM;
    }
    size_t n = 0;
    if (l->newest != AL_DAY_NONE) {
        int32_t lo = l->newest - l->days_kept + 1;
        if (from_day < lo)
            from_day = lo;
        if (to_day > l->newest)
            to_day = l->newest;
        for (int32_t day = from_day; day <= to_day; day++) {
            const dayslot *ds = day_get(l, day);
            for (uint32_t i = 0; ds && i < ds->cap; i++) {
                uint32_t key = ds->cells[i].key;
                if (!key || CELL_DIM(key) != dim)
                    continue;
                uint32_t id = CELL_ID(key);
                acc[id] += ds->cells[i].amount;
                if (!seen[id]) {
                    seen[id] = 1;
                    ids[n++] = id;
                }
            }
        }
    }
    al_free(seen);
    *acc_out = acc;
    *ids_out = ids;
    *n_ids = n;
    return ALERT_OK;
}

int al_ledger_top(al_ledger *l, int dim, int32_t from_day, int32_t to_day, al_ledger_sum **out,
                  size_t *n_out)
{
    if (!l || !out || !n_out || dim < 0 || dim >= AL_LDIM__COUNT)
        return ALERT_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    double *acc;
    uint32_t *ids;
    size_t n;
    if (accumulate(l, dim, from_day, to_day, &acc, &ids, &n) != ALERT_OK)
        return ALERT_ERR_NOMEM;
    al_ledger_sum *sums = al_malloc((n ? n : 1) * sizeof *sums);
    if (!sums) {
        al_free(acc);
        al_free(ids);
        return ALERT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        sums[i] = (al_ledger_sum){ name_str(l, ids[i]), acc[ids[i]] };
    al_free(acc);
    al_free(ids);
    qsort(sums, n, sizeof *sums, cmp_sum);
    *out = sums;
    *n_out = n;
    return ALERT_OK;
}

/* ---- spend reports ------------------------------------------------------------------- */

static void fmt_mdy(char out[16], int32_t day)
{
    int y, m, d;
    al_civil_from_day(day, &y, &m, &d);
    snprintf(out, 16, "%02d-%02d-%04d", m % 100, d % 100, ((y % 10000) + 10000) % 10000);
}

/* "$" and the figure: round(v, decimals) as Python prints it, or "%.2f" when decimals
 * < 0. Amounts from AL_MONEY_SHOWN_MAX up (a DBL_MAX cost, a sum that overflowed) print
 * the saturated "> $1e15": never "$inf", nor a 309-digit figure. */
static void fmt_money(char out[48], double v, int decimals)
{
    if (!(v < AL_MONEY_SHOWN_MAX)) {
        snprintf(out, 48, "> $1e15");
        return;
    }
    char num[40];
    if (decimals >= 0)
        al_fmt_round(num, sizeof num, v, decimals);
    else
        snprintf(num, sizeof num, "%.2f", v);
    snprintf(out, 48, "$%s", num);
}

static void report_lines(al_text *t, const char *label, const al_ledger_sum *s, size_t n)
{
    char money[48];
    for (size_t i = 0; i < n; i++) {
        fmt_money(money, s[i].amount, 4);
        al_text_lit(t, label);
        al_text_lit(t, ": `");
        al_text_val(t, s[i].name);   /* NULL prints None (compat) */
        al_text_printf(t, "` | Spend: `%s`\n", money);
    }
}

int al_spend_report_build(al_ledger *l, int32_t from_day, int32_t to_day, int n_days,
                          int64_t now_ms, al_alert **out)
{
    if (!l || !out || n_days < 0)
        return ALERT_ERR_INVALID;
    *out = NULL;
    al_ledger_sum *teams = NULL, *tags = NULL;
    size_t n_teams = 0, n_tags = 0;
    int rc = al_ledger_top(l, AL_LDIM_TEAM, from_day, to_day, &teams, &n_teams);
    if (rc == ALERT_OK)
        rc = al_ledger_top(l, AL_LDIM_TAG, from_day, to_day, &tags, &n_tags);
    if (rc != ALERT_OK || (!n_teams && !n_tags)) {
        al_free(teams);
        al_free(tags);
        return rc;
    }
    char from[16], to[16];
    fmt_mdy(from, from_day);
    /* LiteLLM's N-day range is [today - N days, today]: its title ends on the day the
     * report is sent, the day after the last whole day it covers */
    fmt_mdy(to, n_days > 0 ? to_day + 1 : to_day);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    if (n_days > 0)
        al_text_printf(&t, "*\xF0\x9F\x92\xB8 Spend Report for `%s - %s` (%d days)*\n", from, to,
                       n_days);
    else
        al_text_printf(&t, "*\xF0\x9F\x92\xB8 Monthly Spend Report for `%s - %s` *\n", from, to);
    al_text_lit(&t, "\n*Team Spend Report:*\n");
    report_lines(&t, "Team", teams, n_teams);
    al_text_lit(&t, "\n*Tag Spend Report:*\n");
    report_lines(&t, "Tag", tags, n_tags);
    al_free(teams);
    al_free(tags);

    al_alert *a = al_alert_new(AL_T_SPEND_REPORTS, ALERT_LEVEL_LOW, now_ms);
    if (!a || al_text_finish(&t, a) != ALERT_OK) {
        al_text_free(&t);
        al_alert_free(a);
        return ALERT_ERR_NOMEM;
    }
    al_buf sub = AL_BUF_INIT;
    if (n_days > 0)
        al_buf_printf(&sub, "spend_report %dd %s", n_days, from);
    else
        al_buf_printf(&sub, "spend_report monthly %s", from);
    if (!(a->subject = al_buf_take(&sub))) {
        al_alert_free(a);
        return ALERT_ERR_NOMEM;
    }
    *out = a;
    return ALERT_OK;
}

/* The settle key says which report, what was raised and what to restore:
 * "report|<which>|<raised>|<before>" (which: "spend" or "monthly"). */
static int arm_settle(al_alert *a, al_report_state *st, const char *which, int32_t raised,
                      int32_t before)
{
    al_buf k = AL_BUF_INIT;
    al_buf_printf(&k, "report|%s|%" PRId32 "|%" PRId32, which, raised, before);
    char *key = al_buf_take(&k);
    if (!key)
        return ALERT_ERR_NOMEM;
    /* fleet mode: one report per window for the fleet (a mark kept 45 days) */
    al_buf f = AL_BUF_INIT;
    al_buf_printf(&f, "M|%lld|report:%s:%" PRId32, 45LL * 86400000, which, raised);
    if (!(a->fleet_key = al_buf_take(&f))) {
        al_free(key);
        return ALERT_ERR_NOMEM;
    }
    a->settle = al_report_settle;
    a->settle_ud = st;
    a->settle_key = key;
    return ALERT_OK;
}

void al_report_settle(void *ud, const char *key, int ok)
{
    al_report_state *st = ud;
    if (!st || !key || ok || strncmp(key, "report|", 7) != 0)
        return;
    const char *p = strchr(key + 7, '|');
    if (!p)
        return;
    char *end;
    long long raised = strtoll(p + 1, &end, 10);
    if (end == p + 1 || *end != '|')
        return;
    long long before = strtoll(end + 1, NULL, 10);
    if (st->last == raised)
        st->last = (int32_t)before;     /* raised again at the next check */
}

static int raise_report(al_ledger *l, al_report_state *st, int32_t from_day, int32_t to_day,
                        int n_days, int32_t raised, int64_t now_ms, al_alert **out)
{
    int32_t before = st->last;
    al_alert *a = NULL;
    int rc = al_spend_report_build(l, from_day, to_day, n_days, now_ms, &a);
    if (rc != ALERT_OK)
        return rc;              /* last unchanged: tried again at the next check */
    st->last = raised;          /* an empty window is done too */
    if (a && arm_settle(a, st, n_days > 0 ? "spend" : "monthly", raised, before) != ALERT_OK) {
        st->last = before;
        al_alert_free(a);
        return ALERT_ERR_NOMEM;
    }
    *out = a;
    return ALERT_OK;
}

int al_spend_report_due(al_ledger *l, al_report_state *st, int n_days, int64_t now_ms,
                        al_alert **out)
{
    if (!l || !st || !out || n_days < 1)
        return ALERT_ERR_INVALID;
    *out = NULL;
    int32_t today = al_day_from_ms(now_ms);
    al_ledger_advance(l, today);
    if (st->last == AL_DAY_NONE) {
        st->last = today;
        return ALERT_OK;
    }
    if ((int64_t)today < (int64_t)st->last + n_days)
        return ALERT_OK;
    return raise_report(l, st, today - n_days, today - 1, n_days, today, now_ms, out);
}

int al_monthly_report_due(al_ledger *l, al_report_state *st, int64_t now_ms, al_alert **out)
{
    if (!l || !st || !out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    int32_t today = al_day_from_ms(now_ms);
    al_ledger_advance(l, today);
    int y, m, d;
    al_civil_from_day(today, &y, &m, &d);
    int32_t prev = y * 12 + (m - 1) - 1;
    if (st->last == AL_DAY_NONE) {
        st->last = prev;
        return ALERT_OK;
    }
    if (prev <= st->last)
        return ALERT_OK;
    int py = prev / 12, pm = prev % 12 + 1;
    int32_t from = al_day_from_civil(py, pm, 1);
    int32_t to = from + al_days_in_month(py, pm) - 1;
    return raise_report(l, st, from, to, 0, prev, now_ms, out);
}

/* ---- user spend --------------------------------------------------------------------- */

typedef struct user_row {
    const char *user;
    double today, month, baseline;
} user_row;

static int cmp_user(const void *pa, const void *pb)
{
    return strcmp(((const user_row *)pa)->user, ((const user_row *)pb)->user);
}

/* Today's, this month's and the baseline's spend of one user or of every user with
 * spend this month, sorted by user. */
static int user_rows(const al_ledger *l, const char *user_id, int32_t today, int baseline_days,
                     const al_ledger *others, user_row **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    int y, m, d;
    al_civil_from_day(today, &y, &m, &d);
    int32_t month_start = al_day_from_civil(y, m, 1);
    int32_t base_from = today - (baseline_days > 0 ? baseline_days : 0);
    if (user_id) {
        int64_t id = *user_id ? name_find(l, user_id) : -1;
        if (id <= 0)
            return ALERT_OK;
        user_row r = { name_str(l, (uint32_t)id), 0, 0, 0 };
        r.today = al_ledger_get(l, AL_LDIM_USER, user_id, today, today);
        r.month = al_ledger_get(l, AL_LDIM_USER, user_id, month_start, today);
        if (others) {
            r.today += al_ledger_get(others, AL_LDIM_USER, user_id, today, today);
            r.month += al_ledger_get(others, AL_LDIM_TAG, user_id, month_start, month_start);
        }
        if (baseline_days > 0)
            r.baseline = al_ledger_get(l, AL_LDIM_USER, user_id, base_from, today - 1);
        if (!(r.month > 0))
            return ALERT_OK;
        user_row *one = al_malloc(sizeof *one);
        if (!one)
            return ALERT_ERR_NOMEM;
        *one = r;
        *out = one;
        *n_out = 1;
        return ALERT_OK;
    }
    double *t_acc, *m_acc, *b_acc = NULL;
    uint32_t *t_ids, *m_ids, *b_ids = NULL;
    size_t t_n, m_n, b_n = 0;
    int rc = accumulate(l, AL_LDIM_USER, today, today, &t_acc, &t_ids, &t_n);
    if (rc != ALERT_OK)
        return rc;
    rc = accumulate(l, AL_LDIM_USER, month_start, today, &m_acc, &m_ids, &m_n);
    if (rc == ALERT_OK && baseline_days > 0)
        rc = accumulate(l, AL_LDIM_USER, base_from, today - 1, &b_acc, &b_ids, &b_n);
    user_row *rows = rc == ALERT_OK ? al_malloc((m_n ? m_n : 1) * sizeof *rows) : NULL;
    size_t n = 0;
    if (rows) {
        for (size_t i = 0; i < m_n; i++) {
            uint32_t id = m_ids[i];
            if (!(m_acc[id] > 0) || !id)
                continue;
            rows[n++] = (user_row){ name_str(l, id), t_acc[id], m_acc[id], b_acc ? b_acc[id] : 0 };
            if (others) {
                user_row *r = &rows[n - 1];
                r->today += al_ledger_get(others, AL_LDIM_USER, r->user, today, today);
                r->month += al_ledger_get(others, AL_LDIM_TAG, r->user, month_start, month_start);
            }
        }
        qsort(rows, n, sizeof *rows, cmp_user);
    } else {
        rc = ALERT_ERR_NOMEM;
    }
    al_free(t_acc);
    al_free(t_ids);
    al_free(m_acc);
    al_free(m_ids);
    al_free(b_acc);
    al_free(b_ids);
    *out = rows;
    *n_out = n;
    return rc;
}

static void fmt_money2(char out[48], double v)
{
    fmt_money(out, v, -1);
}

/* Claims key and appends its event text; the joined settle keys grow in keys. */
typedef struct joined {
    al_text text;
    al_buf keys;
    size_t n;
    const char *single_user;
    int many_users;
    int64_t expires_ms;         /* the latest expiry of the marks claimed */
} joined;

static int join_claim(joined *j, al_marks *m, const char *prefix, const char *user,
                      const char *suffix, int64_t now_ms, int64_t expires_ms)
{
    char *key = al_mark_key(prefix, user, suffix);
    if (!key)
        return ALERT_ERR_NOMEM;
    int c = al_marks_claim(m, key, now_ms, expires_ms);
    if (c == 1) {
        if (expires_ms > j->expires_ms)
            j->expires_ms = expires_ms;
        if (j->n) {
            al_buf_addc(&j->keys, '\n');
            al_text_lit(&j->text, "\n\n");
        }
        if (!j->n)
            al_buf_adds(&j->keys, "mark|");     /* the settle owner (settle.h) */
        al_buf_adds(&j->keys, key);
        if (j->single_user && strcmp(j->single_user, user) != 0)
            j->many_users = 1;
        j->single_user = user;
        j->n++;
    }
    al_free(key);
    return c;
}

static int join_finish(joined *j, al_marks *m, al_type type, int64_t now_ms, al_alert **out)
{
    if (!j->n) {
        al_text_free(&j->text);
        al_buf_free(&j->keys);
        return ALERT_OK;
    }
    char *keys = al_buf_take(&j->keys);
    al_alert *a = al_alert_new(type, ALERT_LEVEL_HIGH, now_ms);
    int ok = keys && a && al_text_finish(&j->text, a) == ALERT_OK;
    if (ok) {
        al_buf sub = AL_BUF_INIT;
        if (j->many_users)
            al_buf_adds(&sub, "users");
        else
            al_buf_printf(&sub, "user %s", j->single_user);
        ok = (a->subject = al_buf_take(&sub)) != NULL;
    }
    if (ok) {
        /* fleet mode: the same marks are claimed once for the fleet */
        al_buf f = AL_BUF_INIT;
        al_buf_printf(&f, "M|%lld|%s", (long long)(j->expires_ms - now_ms), keys + 5);
        ok = (a->fleet_key = al_buf_take(&f)) != NULL;
    }
    if (!ok) {
        al_text_free(&j->text);
        al_alert_free(a);
        if (keys)
            al_marks_settle(m, keys, 0);    /* nothing was raised: re-arm */
        al_free(keys);
        return ALERT_ERR_NOMEM;
    }
    a->settle = al_marks_settle;
    a->settle_ud = m;
    a->settle_key = keys;
    *out = a;
    return ALERT_OK;
}

static int64_t day_ms(int32_t day)
{
    return (int64_t)day * 86400000;
}

/* After the per-user loop: on failure the claims made so far are released. */
static int join_end(joined *j, al_marks *m, int rc, al_type type, int64_t now_ms, al_alert **out)
{
    if (rc == ALERT_OK)
        return join_finish(j, m, type, now_ms, out);
    char *keys = al_buf_take(&j->keys);
    if (keys)
        al_marks_settle(m, keys, 0);
    al_free(keys);
    al_text_free(&j->text);
    return rc;
}

int al_user_spend_thresholds_check(al_ledger *l, al_marks *m, const al_user_spend_args *a,
                                   const char *user_id, int64_t now_ms, al_alert **out)
{
    return al_user_spend_thresholds_fleet(l, NULL, m, a, user_id, now_ms, out);
}

int al_user_spend_thresholds_fleet(al_ledger *l, const al_ledger *others, al_marks *m,
                                   const al_user_spend_args *a, const char *user_id,
                                   int64_t now_ms, al_alert **out)
{
    if (!l || !m || !a || !out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    if (a->daily_threshold < 0 && a->monthly_threshold < 0)
        return ALERT_OK;
    int32_t today = al_day_from_ms(now_ms);
    int y, mo, d;
    al_civil_from_day(today, &y, &mo, &d);
    char day_sfx[16], month_sfx[16];
    snprintf(day_sfx, sizeof day_sfx, "_%04d-%02d-%02d", y % 10000, mo % 100, d % 100);
    snprintf(month_sfx, sizeof month_sfx, "_%04d-%02d", y % 10000, mo % 100);
    int64_t day_expiry = day_ms(today + 2);
    int64_t month_expiry = day_ms(al_day_from_civil(y, mo, 1) + al_days_in_month(y, mo) + 1);

    /* one user after each spend: skip the sums when both marks are already held */
    if (user_id) {
        char *dk = al_mark_key("user_spend_alert_daily_", user_id, day_sfx);
        char *mk = al_mark_key("user_spend_alert_monthly_", user_id, month_sfx);
        int held = dk && mk && (a->daily_threshold < 0 || al_marks_held(m, dk, now_ms))
                && (a->monthly_threshold < 0 || al_marks_held(m, mk, now_ms));
        al_free(dk);
        al_free(mk);
        if (held)
            return ALERT_OK;
    }

    user_row *rows;
    size_t n;
    int rc = user_rows(l, user_id, today, 0, others, &rows, &n);
    if (rc != ALERT_OK)
        return rc;
    joined j = { { AL_BUF_INIT, AL_BUF_INIT }, AL_BUF_INIT, 0, NULL, 0, 0 };
    char spend[48], limit[48];
    for (size_t i = 0; i < n && rc == ALERT_OK; i++) {
        const user_row *r = &rows[i];
        if (a->daily_threshold >= 0 && r->today >= a->daily_threshold) {
            rc = join_claim(&j, m, "user_spend_alert_daily_", r->user, day_sfx, now_ms, day_expiry);
            if (rc == 1) {
                fmt_money2(spend, r->today);
                fmt_money2(limit, a->daily_threshold);
                al_text_lit(&j.text, "User Daily Spend Threshold Crossed:\nUser: `");
                al_text_val(&j.text, r->user);
                al_text_printf(&j.text, "`\nSpend Today: `%s`\nDaily Threshold: `%s`", spend,
                               limit);
            }
            rc = rc < 0 ? rc : ALERT_OK;
        }
        if (rc == ALERT_OK && a->monthly_threshold >= 0 && r->month >= a->monthly_threshold) {
            rc = join_claim(&j, m, "user_spend_alert_monthly_", r->user, month_sfx, now_ms,
                            month_expiry);
            if (rc == 1) {
                fmt_money2(spend, r->month);
                fmt_money2(limit, a->monthly_threshold);
                al_text_lit(&j.text, "User Monthly Spend Threshold Crossed:\nUser: `");
                al_text_val(&j.text, r->user);
                al_text_printf(&j.text, "`\nSpend This Month: `%s`\nMonthly Threshold: `%s`",
                               spend, limit);
            }
            rc = rc < 0 ? rc : ALERT_OK;
        }
    }
    al_free(rows);
    return join_end(&j, m, rc, AL_T_USER_SPEND_THRESHOLDS, now_ms, out);
}

int al_user_spend_anomalies_check(al_ledger *l, al_marks *m, const al_user_spend_args *a,
                                  int64_t now_ms, al_alert **out)
{
    if (!l || !m || !a || !out || a->baseline_days < 0)
        return ALERT_ERR_INVALID;
    *out = NULL;
    int32_t today = al_day_from_ms(now_ms);
    int y, mo, d;
    al_civil_from_day(today, &y, &mo, &d);
    char day_sfx[16];
    snprintf(day_sfx, sizeof day_sfx, "_%04d-%02d-%02d", y % 10000, mo % 100, d % 100);
    user_row *rows;
    size_t n;
    int rc = user_rows(l, NULL, today, a->baseline_days, NULL, &rows, &n);
    if (rc != ALERT_OK)
        return rc;
    joined j = { { AL_BUF_INIT, AL_BUF_INIT }, AL_BUF_INIT, 0, NULL, 0, 0 };
    char spend[48], avg_s[48], min_s[48], mult[48];
    al_fmt_pyfloat(mult, sizeof mult, a->anomaly_multiplier);
    fmt_money2(min_s, a->anomaly_min_spend);
    for (size_t i = 0; i < n && rc == ALERT_OK; i++) {
        const user_row *r = &rows[i];
        if (r->today < a->anomaly_min_spend)
            continue;
        double avg = a->baseline_days > 0 ? r->baseline / a->baseline_days : 0;
        if (r->baseline > 0 && r->today <= a->anomaly_multiplier * avg)
            continue;
        rc = join_claim(&j, m, "user_spend_alert_anomaly_", r->user, day_sfx, now_ms,
                        day_ms(today + 2));
        if (rc == 1) {
            fmt_money2(spend, r->today);
            fmt_money2(avg_s, avg);
            al_text_lit(&j.text, "User Spend Anomaly Detected:\nUser: `");
            al_text_val(&j.text, r->user);
            al_text_printf(&j.text,
                           "`\nSpend Today: `%s`\nDaily Average (last %d days): `%s`\n"
                           "Trigger: spend above `%sx` the daily average (minimum `%s`)",
                           spend, a->baseline_days, avg_s, mult, min_s);
        }
        rc = rc < 0 ? rc : ALERT_OK;
    }
    al_free(rows);
    return join_end(&j, m, rc, AL_T_USER_SPEND_ANOMALIES, now_ms, out);
}
