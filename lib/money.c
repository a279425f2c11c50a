/* SPDX-License-Identifier: MIT */
/* Budgets and spend on the worker (money.h): budgets, the ledger, spend reports
 * and tracking failures, glued to the router and the state. */
#include "money.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "budget.h"
#include "calendar.h"
#include "ctx.h"
#include "ledger.h"
#include "dest.h"
#include "hash.h"
#include "redact.h"
#include "route.h"
#include "state/state.h"
#include "text.h"

#define ID_MAX 256      /* labels of spend and budget events are cut here */
#define DAY_MS 86400000LL

/* The money calendar (days, months, the ledger's window, report schedules) follows the
 * wall clock, but a glitch must not move it: it never goes back, and a jump of more
 * than CALENDAR_JUMP_DAYS days is followed only once the clock has stayed past it for
 * CALENDAR_CONFIRM_MS of its own time (a host suspended for a week is a real jump; a
 * clock 60 days ahead for one second is not). Event times more than SPEND_FUTURE_MS
 * ahead of the calendar, or older than the ledger's window, are clamped to the
 * calendar's now. All documented in alert_on_spend(3). */
#define CALENDAR_JUMP_DAYS 7
#define CALENDAR_CONFIRM_MS (10 * 60000LL)
#define SPEND_FUTURE_MS (60 * 60000LL)

struct al_money {
    al_budgets *budgets;
    al_ledger *ledger;
    al_marks *marks;
    al_report_state spend_report, monthly_report;
    int32_t spend_saved, monthly_saved;     /* what the store has, to write only changes */
    int64_t next_anomaly_ms;
    int32_t ledger_day;
    int64_t calendar_ms;        /* the calendar's now: the last clock value it followed */
    int64_t jump_since_ms;      /* a far jump first seen at this clock value, or INT64_MIN */
    int64_t window_ms;          /* the ledger's window */
    uint64_t clamped;           /* event times clamped (logged on the first and every 1000th) */
    uint64_t batch;             /* the last counter batch sent to the state */
    /* fleet mode: the fleet ledger (FLEET.md "spend ledger") */
    al_state_cell *fcells;      /* cells of mine not yet posted (names al_malloc'ed) */
    size_t n_fcells, cap_fcells;
    uint32_t *fidx;             /* open addressing over fcells: index + 1, 0 empty */
    size_t fidx_cap;            /* a power of two, at least twice n_fcells */
    uint64_t fseq;              /* the last batch posted */
    al_ledger *others;          /* the other replicas' spend per user (ledger.h) */
    struct {                    /* a report waiting for the fleet's window */
        al_alert *a;
        int32_t from, to;
        int n_days;
        al_ledger *view;
    } parked[2];                /* 0: N-day, 1: monthly */
};

#define FLEET_CELLS_MAX 100000  /* cells of mine kept for Redis; more are not posted */
#define FLEET_MONTH_TTL_MS (62 * DAY_MS)

/* ---- shared state: marks, the ledger, report schedules ------------------------ */

static void mark_put(void *ud, const char *key, const char *value, int64_t expires_ms)
{
    alert_ctx *ctx = ud;
    al_state_mark_put(ctx->state, key, value, expires_ms);
}

static int mark_get(void *ud, const char *key, char **value_out)
{
    alert_ctx *ctx = ud;
    return al_state_mark_get(ctx->state, key, value_out, al_ctx_now(ctx));
}

/* ---- fleet mode: the fleet ledger ------------------------------------------------- */

static uint64_t cell_hash(int32_t day, int32_t dim, const char *name)
{
    return al_hash_bytes(name, strlen(name), ((uint64_t)(uint32_t)day << 8) ^ (uint64_t)dim);
}

/* The slot of (day, dim, name) in the index: its entry, or the empty slot it would take. */
static uint32_t *cell_slot(al_money *m, int32_t day, int32_t dim, const char *name)
{
    size_t mask = m->fidx_cap - 1;
    for (size_t i = cell_hash(day, dim, name) & mask;; i = (i + 1) & mask) {
        uint32_t *slot = &m->fidx[i];
        if (!*slot)
            return slot;
        const al_state_cell *c = &m->fcells[*slot - 1];
        if (c->day == day && c->dim == dim && strcmp(c->name, name) == 0)
            return slot;
    }
}

static int cell_index_grow(al_money *m)
{
    size_t cap = m->fidx_cap ? m->fidx_cap * 2 : 128;
    uint32_t *v = al_calloc(cap, sizeof *v);
    if (!v)
        return ALERT_ERR_NOMEM;
    al_free(m->fidx);
    m->fidx = v;
    m->fidx_cap = cap;
    for (size_t i = 0; i < m->n_fcells; i++)
        *cell_slot(m, m->fcells[i].day, m->fcells[i].dim, m->fcells[i].name) = (uint32_t)(i + 1);
    return ALERT_OK;
}

/* A cell of mine for the next batch: one per (day, dimension, name) and pass, so a
 * request's key and team cells each add to their own (one Redis increment per cell,
 * not per request). */
static int fleet_cell(al_money *m, int32_t day, int32_t dim, const char *name, double amount)
{
    name = name ? name : "";
    if (2 * (m->n_fcells + 1) > m->fidx_cap && cell_index_grow(m) != ALERT_OK)
        return ALERT_ERR_NOMEM;
    uint32_t *slot = cell_slot(m, day, dim, name);
    if (*slot) {
        m->fcells[*slot - 1].amount += amount;
        return 0;
    }
    if (m->n_fcells == FLEET_CELLS_MAX)
        return ALERT_ERR_NOMEM;
    if (m->n_fcells == m->cap_fcells) {
        size_t cap = m->cap_fcells ? m->cap_fcells * 2 : 64;
        al_state_cell *v = al_realloc(m->fcells, cap * sizeof *v);
        if (!v)
            return ALERT_ERR_NOMEM;
        m->fcells = v;
        m->cap_fcells = cap;
    }
    char *copy = al_strdup(name);
    if (!copy)
        return ALERT_ERR_NOMEM;
    m->fcells[m->n_fcells++] = (al_state_cell){ day, dim, copy, amount };
    *slot = (uint32_t)m->n_fcells;
    return 0;
}

static void fleet_cells_clear(al_money *m)
{
    for (size_t i = 0; i < m->n_fcells; i++)
        al_free((char *)m->fcells[i].name);
    if (m->n_fcells && m->fidx)
        memset(m->fidx, 0, m->fidx_cap * sizeof *m->fidx);
    m->n_fcells = 0;
}

static int32_t month_of_day(int32_t day)
{
    int y, mo, d;
    al_civil_from_day(day, &y, &mo, &d);
    return y * 12 + mo - 1;
}

/* One batch per day of the cells gathered since the last pass. */
static void fleet_ledger_post(alert_ctx *ctx)
{
    al_money *m = ctx->money;
    int user_checks = al_type_on(ctx, AL_T_USER_SPEND_THRESHOLDS) &&
                      (ctx->cfg.daily_spend_per_user_threshold >= 0 ||
                       ctx->cfg.monthly_spend_per_user_threshold >= 0);
    size_t done = 0;
    while (done < m->n_fcells) {
        int32_t day = m->fcells[done].day;
        size_t end = done;
        /* the cells of one day are contiguous enough: a pass rarely spans midnight */
        while (end < m->n_fcells && m->fcells[end].day == day)
            end++;
        /* user thresholds are checked as spend is aggregated: a user's cells go at once */
        int urgent = 0;
        for (size_t i = done; i < end && !urgent; i++)
            urgent = m->fcells[i].dim == AL_LDIM_USER && user_checks;
        if (al_state_fleet_ledger_add(ctx->state, ++m->fseq, day, month_of_day(day),
                                      m->fcells + done, end - done, m->window_ms + 7 * DAY_MS,
                                      FLEET_MONTH_TTL_MS, urgent) != ALERT_OK)
            al_ctx_error(ctx, "out of memory: spend not posted to the fleet ledger");
        done = end;
    }
    fleet_cells_clear(m);
}

/* The others' part (fleet minus mine) of a user's day and month, then the thresholds
 * on the sum: a threshold reached only by several replicas' spend is raised here (and
 * claimed once for the fleet). */
static void fleet_user_others(void *ud, const char *user, int32_t day, int32_t month,
                              int64_t day_others, int64_t month_others)
{
    alert_ctx *ctx = ud;
    al_money *m = ctx->money;
    int32_t first = al_day_from_civil(month / 12, month % 12 + 1, 1);
    double d = (double)(day_others > 0 ? day_others : 0) / 1e9;
    double mo = (double)(month_others > 0 ? month_others : 0) / 1e9;
    /* the ledger adds: set by adding the difference */
    al_ledger_add_cell(m->others, day, AL_LDIM_USER, user,
                       d - al_ledger_get(m->others, AL_LDIM_USER, user, day, day));
    al_ledger_add_cell(m->others, first, AL_LDIM_TAG, user,
                       mo - al_ledger_get(m->others, AL_LDIM_TAG, user, first, first));
    if (!al_type_on(ctx, AL_T_USER_SPEND_THRESHOLDS) || day != al_day_from_ms(m->calendar_ms))
        return;
    al_user_spend_args args = { ctx->cfg.daily_spend_per_user_threshold,
                                ctx->cfg.monthly_spend_per_user_threshold,
                                ctx->cfg.spend_anomaly_multiplier,
                                (int)ctx->cfg.spend_anomaly_baseline_days,
                                ctx->cfg.spend_anomaly_min_spend };
    al_alert *a = NULL;
    if (al_user_spend_thresholds_fleet(m->ledger, m->others, m->marks, &args, user, m->calendar_ms,
                                       &a) == ALERT_OK && a)
        al_route_alert(ctx, a);
}

/* A due report goes out built from the fleet's ledger: parked until the window is
 * read (own ledger's report when Redis does not answer). */
static void fleet_report_park(alert_ctx *ctx, int which, al_alert *a, int32_t from, int32_t to,
                              int n_days)
{
    al_money *m = ctx->money;
    if (m->parked[which].a || !(m->parked[which].view = al_ledger_new(to - from + 2))) {
        al_route_alert(ctx, a);
        return;
    }
    m->parked[which].a = a;
    m->parked[which].from = from;
    m->parked[which].to = to;
    m->parked[which].n_days = n_days;
    fleet_ledger_post(ctx);             /* my last cells first, in the same round */
    if (al_state_fleet_ledger_window(ctx->state, which, from, to) != ALERT_OK) {
        al_ledger_free(m->parked[which].view);
        m->parked[which].view = NULL;
        m->parked[which].a = NULL;
        al_route_alert(ctx, a);
    }
}

static void fleet_ledger_cell(void *ud, int64_t tag, int32_t day, int32_t dim, const char *name,
                              int64_t nano, int ok)
{
    alert_ctx *ctx = ud;
    al_money *m = ctx->money;
    if (tag < 0 || tag > 1 || !m->parked[tag].a)
        return;
    if (name) {
        al_ledger_load_row(m->parked[tag].view, day, dim, name, (double)nano / 1e9);
        return;
    }
    al_alert *a = m->parked[tag].a, *fleet = NULL;
    m->parked[tag].a = NULL;
    if (ok && al_spend_report_build(m->parked[tag].view, m->parked[tag].from, m->parked[tag].to,
                                    m->parked[tag].n_days, a->at_ms, &fleet) == ALERT_OK &&
        fleet) {
        /* the fleet's figures, with the claim and settle of the report that was due */
        fleet->settle = a->settle;
        fleet->settle_ud = a->settle_ud;
        fleet->settle_key = a->settle_key;
        fleet->fleet_key = a->fleet_key;
        a->settle_key = NULL;
        a->fleet_key = NULL;
        al_alert_free(a);
        a = fleet;
    }
    al_ledger_free(m->parked[tag].view);
    m->parked[tag].view = NULL;
    al_route_alert(ctx, a);
}

static void ledger_sink(void *ud, int32_t day, int32_t dim, const char *name, double amount)
{
    alert_ctx *ctx = ud;
    al_state_cell c = { day, dim, name, amount };
    al_state_counters_add(ctx->state, ++ctx->money->batch, &c, 1);
    if (al_state_fleet(ctx->state))
        fleet_cell(ctx->money, day, dim, name, amount);
}

/* ---- fleet mode: tracked budgets on the fleet's spend (budget.h) ------------------ */

static int fleet_post(void *ud, const char *group, int64_t mine, int64_t ttl_ms, int urgent)
{
    alert_ctx *ctx = ud;
    return al_state_fleet_spend(ctx->state, group, mine, ttl_ms, urgent);
}

static void fleet_total(void *ud, const char *group, int64_t mine, int64_t total)
{
    alert_ctx *ctx = ud;
    al_alert **v = NULL;
    size_t n = 0;
    /* tracked budgets only get spend while budget_alerts is on */
    al_budgets_fleet_total(ctx->money->budgets, group, mine, total, ctx->money->calendar_ms, &v, &n);
    al_route_alerts(ctx, v, n);
}

static int reseed_row(void *ud, int32_t day, int32_t dim, const char *name, double amount)
{
    return fleet_cell(ud, day, dim, name, amount);
}

static void fleet_reseed(void *ud)
{
    alert_ctx *ctx = ud;
    al_budgets_fleet_reseed(ctx->money->budgets);
    /* the whole own ledger again (what waited is in it: not twice) */
    fleet_cells_clear(ctx->money);
    if (al_ledger_export(ctx->money->ledger, reseed_row, ctx->money) != ALERT_OK)
        al_ctx_error(ctx, "out of memory: the fleet ledger was not re-seeded whole");
}

static int32_t saved_day(alert_ctx *ctx, const char *name)
{
    int64_t v;
    if (al_state_schedule_get(ctx->state, name, &v) == ALERT_OK)
        return (int32_t)v;
    return AL_DAY_NONE;
}

/* The calendar's now for a clock reading (worker only). */
static int64_t calendar_now(alert_ctx *ctx, int64_t now)
{
    al_money *m = ctx->money;
    int32_t day = al_day_from_ms(now);
    if (now < 0 || day < m->ledger_day)
        return m->calendar_ms;          /* back across midnight: the day stays */
    if (day <= m->ledger_day + CALENDAR_JUMP_DAYS) {
        m->jump_since_ms = INT64_MIN;
        return m->calendar_ms = now;
    }
    if (m->jump_since_ms == INT64_MIN || now < m->jump_since_ms) {
        m->jump_since_ms = now;
        al_ctx_log(ctx, ALERT_LOG_WARNING, "the clock jumped %d days ahead: budgets, the spend "
                   "ledger and spend reports stay on the current day unless it holds for %lld s",
                   (int)(day - m->ledger_day), CALENDAR_CONFIRM_MS / 1000);
        return m->calendar_ms;
    }
    if (now - m->jump_since_ms < CALENDAR_CONFIRM_MS)
        return m->calendar_ms;
    m->jump_since_ms = INT64_MIN;
    al_ctx_log(ctx, ALERT_LOG_WARNING, "the clock stayed %d days ahead: the spend calendar follows it",
               (int)(day - m->ledger_day));
    return m->calendar_ms = now;
}

/* An event's time, clamped to the calendar's now when it is out of range. */
static int64_t event_time(alert_ctx *ctx, int64_t at, const char *what)
{
    al_money *m = ctx->money;
    int64_t now = calendar_now(ctx, al_ctx_now(ctx));
    if (at <= now + SPEND_FUTURE_MS && at > now - m->window_ms)
        return at;
    if (m->clamped++ % 1000 == 0)
        al_ctx_log(ctx, ALERT_LOG_WARNING, "%s: a time more than %lld minutes ahead or older than "
                   "%lld days was replaced by the current time (%llu so far)", what,
                   SPEND_FUTURE_MS / 60000, m->window_ms / DAY_MS, (unsigned long long)m->clamped);
    return now;
}

int al_money_new(alert_ctx *ctx, al_money **out)
{
    const alert_config *c = &ctx->cfg;
    al_money *m = al_calloc(1, sizeof *m);
    if (!(*out = m))
        return ALERT_ERR_NOMEM;
    const char *texts[AL_MAX_THRESHOLDS];
    for (size_t i = 0; i < c->n_budget_alert_thresholds; i++)
        texts[i] = c->budget_alert_threshold_text[i];
    m->budgets = al_budgets_new(c->budget_alert_thresholds, texts, c->n_budget_alert_thresholds);
    m->ledger = al_ledger_new(al_ledger_days_for(c->spend_report_days, (int)c->spend_anomaly_baseline_days));
    m->marks = al_marks_new();
    m->others = al_ledger_new(33);      /* today's and this month's, per user */
    if (!m->budgets || !m->ledger || !m->marks || !m->others)
        return ALERT_ERR_NOMEM;
    al_budgets_set_persist(m->budgets, mark_put, mark_get, ctx);
    if (al_state_fleet(ctx->state)) {
        al_fleet_money_sink sink = { fleet_total, fleet_reseed, ctx, fleet_user_others,
                                     fleet_ledger_cell };
        al_state_fleet_money_sink(ctx->state, &sink);
    }
    al_marks_set_persist(m->marks, mark_put, mark_get, ctx);
    int64_t now = al_ctx_now(ctx);
    m->ledger_day = al_day_from_ms(now);
    m->calendar_ms = now;
    m->jump_since_ms = INT64_MIN;
    m->window_ms = (int64_t)al_ledger_days_for(c->spend_report_days, (int)c->spend_anomaly_baseline_days) * DAY_MS;
    int days = al_ledger_days_for(c->spend_report_days, (int)c->spend_anomaly_baseline_days);
    al_state_counters_load(ctx->state, m->ledger_day - days + 1, al_ledger_load_row, m->ledger);
    al_ledger_set_sink(m->ledger, ledger_sink, ctx);
    m->spend_report.last = m->spend_saved = saved_day(ctx, "spend_report_day");
    m->monthly_report.last = m->monthly_saved = saved_day(ctx, "monthly_report_day");
    if (m->spend_report.last == AL_DAY_NONE) {
        /* the first N-day report is due N days after the very first start */
        m->spend_report.last = m->ledger_day;
        al_state_schedule_put(ctx->state, "spend_report_day", m->spend_report.last);
        m->spend_saved = m->spend_report.last;
    }
    /* the monthly report's last is a month index (year * 12 + month - 1), not a day:
     * left unset, the first check marks the month before the first start as done */
    m->next_anomaly_ms = now + (int64_t)(c->user_spend_check_interval * 1000.0);
    for (size_t i = 0; i < c->n_budgets; i++) {
        const al_budget_decl *d = &c->budgets[i];
        alert_budget b = ALERT_BUDGET_INIT;
        b.entity = d->entity;
        b.entity_id = d->id;
        b.max_budget = d->max_budget;
        b.soft_budget = d->soft_budget;
        if (al_budgets_declare(m->budgets, &b, d->budget_duration, now) != ALERT_OK)
            al_ctx_log(ctx, ALERT_LOG_WARNING, "budgets[%zu]: could not be declared", i);
    }
    return ALERT_OK;
}

void al_money_free(al_money *m)
{
    if (!m)
        return;
    al_budgets_free(m->budgets);
    al_ledger_free(m->ledger);
    al_marks_free(m->marks);
    al_ledger_free(m->others);
    fleet_cells_clear(m);
    al_free(m->fcells);
    al_free(m->fidx);
    for (int i = 0; i < 2; i++) {
        /* a report still waiting for the fleet's window: released, raised again */
        if (m->parked[i].a && m->parked[i].a->settle)
            m->parked[i].a->settle(m->parked[i].a->settle_ud, m->parked[i].a->settle_key, 0);
        al_alert_free(m->parked[i].a);
        al_ledger_free(m->parked[i].view);
    }
    al_free(m);
}

static int webhook_listed(const alert_ctx *ctx)
{
    for (size_t i = 0; i < ctx->cfg.alerting.n; i++)
        if (strcmp(ctx->cfg.alerting.items[i], "webhook") == 0)
            return 1;
    return 0;
}

static void on_spend(alert_ctx *ctx, const alert_spend *s, int64_t at)
{
    al_money *m = ctx->money;
    al_alert **v = NULL, *a = NULL;
    size_t n = 0;
    if (al_ledger_add(m->ledger, s, at) == ALERT_ERR_NOMEM)
        al_ctx_error(ctx, "out of memory: spend not recorded in the ledger");
    if (al_type_on(ctx, AL_T_BUDGET_ALERTS)) {
        al_budgets_add_spend_all(m->budgets, s, at, &v, &n);
        al_route_alerts(ctx, v, n);
    }
    if (al_type_on(ctx, AL_T_USER_SPEND_THRESHOLDS) && s->user_id) {
        al_user_spend_args args = { ctx->cfg.daily_spend_per_user_threshold,
                                    ctx->cfg.monthly_spend_per_user_threshold,
                                    ctx->cfg.spend_anomaly_multiplier,
                                    (int)ctx->cfg.spend_anomaly_baseline_days,
                                    ctx->cfg.spend_anomaly_min_spend };
        if (al_user_spend_thresholds_check(m->ledger, m->marks, &args, s->user_id, at, &a) == ALERT_OK && a)
            al_route_alert(ctx, a);
    }
    /* spend_tracked: per end-user request, to the webhook only, gated by budget_alerts */
    if (ctx->cfg.customer_spend_webhook && s->customer_id && webhook_listed(ctx) &&
        al_type_on(ctx, AL_T_BUDGET_ALERTS)) {
        a = NULL;
        if (al_budget_spend_tracked_alert(s, -1, at, &a) == ALERT_OK && a) {
            a->only = AL_DEST_BIT(AL_DEST_WEBHOOK);
            al_route_alert(ctx, a);
        }
    }
}

void al_money_on_event(alert_ctx *ctx, const al_event *e)
{
    al_money *m = ctx->money;
    al_alert **v = NULL, *a = NULL;
    size_t n = 0;
    switch (e->kind) {
    case AL_EV_SPEND:
        on_spend(ctx, e->payload, event_time(ctx, e->end_ms, "alert_on_spend"));
        break;
    case AL_EV_BUDGET:
        if (!al_type_on(ctx, AL_T_BUDGET_ALERTS))
            return;
        al_budgets_observe(m->budgets, e->payload, event_time(ctx, e->end_ms, "alert_on_budget"), &v, &n);
        al_route_alerts(ctx, v, n);
        break;
    case AL_EV_SET_BUDGET:
        if (al_budgets_declare(m->budgets, e->payload, e->s[AL_ES_MESSAGE],
                               event_time(ctx, e->end_ms, "alert_set_budget")) != ALERT_OK)
            al_ctx_error(ctx, "alert_set_budget: the budget could not be declared");
        break;
    case AL_EV_TRACKING_FAILURE: {
        const char *raw = e->s[AL_ES_MESSAGE] ? e->s[AL_ES_MESSAGE] : "";
        char *fixed = al_utf8_repair(raw, strlen(raw));
        char *clean = (fixed && !ctx->cfg.disable_secret_redaction) ? al_scrub_secrets(fixed) : NULL;
        const char *text = clean ? clean : fixed;
        if (text && al_tracking_failure_alert(m->marks, e->s[AL_ES_MODEL], text,
                                              (int64_t)(ctx->cfg.budget_alert_ttl * 1000.0),
                                              event_time(ctx, e->end_ms, "alert_on_spend_tracking_failure"),
                                              &a) == ALERT_OK && a)
            al_route_alert(ctx, a);
        else if (text)
            atomic_fetch_add(&ctx->n.alerts_deduplicated, 1);
        al_free(clean);
        al_free(fixed);
        break;
    }
    default:
        break;
    }
}

/* settle.c: the fate of a delivery whose key money owns ("budget|", "mark|",
 * "report|spend|", "report|monthly|"), live or restored after a restart. */
void al_money_settle(alert_ctx *ctx, const char *key, int ok)
{
    al_money *m = ctx->money;
    if (!m)
        return;
    if (strncmp(key, "budget|", 7) == 0)
        al_budgets_settle(m->budgets, key, ok);
    else if (strncmp(key, "mark|", 5) == 0)
        al_marks_settle(m->marks, key, ok);
    else if (strncmp(key, "report|spend|", 13) == 0)
        al_report_settle(&m->spend_report, key, ok);
    else if (strncmp(key, "report|monthly|", 15) == 0)
        al_report_settle(&m->monthly_report, key, ok);
}

void al_money_tick(alert_ctx *ctx, int64_t now)
{
    al_money *m = ctx->money;
    al_alert *a = NULL;
    now = calendar_now(ctx, now);
    int32_t today = al_day_from_ms(now);
    if (today > m->ledger_day) {
        m->ledger_day = today;
        al_ledger_advance(m->ledger, today);
        al_marks_prune(m->marks, now);
        int days = al_ledger_days_for(ctx->cfg.spend_report_days, (int)ctx->cfg.spend_anomaly_baseline_days);
        al_state_counters_prune(ctx->state, today - days + 1);
        al_state_mark_purge(ctx->state, now);
    }
    if (al_type_on(ctx, AL_T_SPEND_REPORTS)) {
        int fleet = al_state_fleet(ctx->state);
        if (al_spend_report_due(m->ledger, &m->spend_report, ctx->cfg.spend_report_days, now, &a) == ALERT_OK && a) {
            if (fleet)
                fleet_report_park(ctx, 0, a, today - ctx->cfg.spend_report_days, today - 1,
                                  ctx->cfg.spend_report_days);
            else
                al_route_alert(ctx, a);
        }
        a = NULL;
        if (al_monthly_report_due(m->ledger, &m->monthly_report, now, &a) == ALERT_OK && a) {
            int32_t prev = month_of_day(today) - 1;
            int32_t from = al_day_from_civil(prev / 12, prev % 12 + 1, 1);
            if (fleet)
                fleet_report_park(ctx, 1, a, from,
                                  from + al_days_in_month(prev / 12, prev % 12 + 1) - 1, 0);
            else
                al_route_alert(ctx, a);
        }
        if (m->spend_report.last != m->spend_saved) {
            al_state_schedule_put(ctx->state, "spend_report_day", m->spend_report.last);
            m->spend_saved = m->spend_report.last;
        }
        if (m->monthly_report.last != m->monthly_saved) {
            al_state_schedule_put(ctx->state, "monthly_report_day", m->monthly_report.last);
            m->monthly_saved = m->monthly_report.last;
        }
    }
    if (al_type_on(ctx, AL_T_USER_SPEND_ANOMALIES) && now >= m->next_anomaly_ms) {
        m->next_anomaly_ms = now + (int64_t)(ctx->cfg.user_spend_check_interval * 1000.0);
        al_user_spend_args args = { ctx->cfg.daily_spend_per_user_threshold,
                                    ctx->cfg.monthly_spend_per_user_threshold,
                                    ctx->cfg.spend_anomaly_multiplier,
                                    (int)ctx->cfg.spend_anomaly_baseline_days,
                                    ctx->cfg.spend_anomaly_min_spend };
        a = NULL;
        if (al_user_spend_anomalies_check(m->ledger, m->marks, &args, now, &a) == ALERT_OK && a)
            al_route_alert(ctx, a);
    }
    if (al_state_fleet(ctx->state)) {
        al_state_fleet_money_tick(ctx->state);
        al_budgets_fleet_post(m->budgets, fleet_post, ctx);
        fleet_ledger_post(ctx);
    }
    al_budgets_flush(m->budgets);
}
