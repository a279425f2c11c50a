#include "money.h"

#include <string.h>

#include "alloc.h"
#include "budget.h"
#include "ctx.h"
#include "ledger.h"
#include "dest.h"
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
};

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

static void ledger_sink(void *ud, int32_t day, int32_t dim, const char *name, double amount)
{
    alert_ctx *ctx = ud;
    al_state_cell c = { day, dim, name, amount };
    al_state_counters_add(ctx->state, ++ctx->money->batch, &c, 1);
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

static void fleet_reseed(void *ud)
{
    alert_ctx *ctx = ud;
    al_budgets_fleet_reseed(ctx->money->budgets);
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
    if (!m->budgets || !m->ledger || !m->marks)
        return ALERT_ERR_NOMEM;
    al_budgets_set_persist(m->budgets, mark_put, mark_get, ctx);
    if (al_state_fleet(ctx->state)) {
        al_fleet_money_sink sink = { fleet_total, fleet_reseed, ctx };
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
        if (al_spend_report_due(m->ledger, &m->spend_report, ctx->cfg.spend_report_days, now, &a) == ALERT_OK && a)
            al_route_alert(ctx, a);
        a = NULL;
        if (al_monthly_report_due(m->ledger, &m->monthly_report, now, &a) == ALERT_OK && a)
            al_route_alert(ctx, a);
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
    }
    al_budgets_flush(m->budgets);
}
