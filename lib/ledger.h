/* SPDX-License-Identifier: MIT */
/* The spend ledger: cost aggregated by UTC day x (team alias, tag, user, key, customer),
 * for the spend reports (BEHAVIOUR section 5) and the user spend checks (section 1).
 * Bounded: only the last days_kept days are kept (a ring of per-day tables); names are
 * interned once per ledger and freed when no day uses them any more. A cell (day, name)
 * is 16 bytes in an open-addressing table of its day (al_ledger_bytes_per_cell()
 * measures the whole, names included).
 *
 * Worker-only, no locks, no clock reads: days come from the ms arguments (UTC). */
#ifndef AL_LEDGER_H
#define AL_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "alerting.h"
#include "budget.h"

/* Dimensions; the numbers are the store's AL_LEDGER_* (store.h). */
enum {
    AL_LDIM_TEAM = 0,           /* team alias; none -> "None" (compat) */
    AL_LDIM_TAG = 1,
    AL_LDIM_USER = 2,
    AL_LDIM_KEY = 3,            /* key hash (a raw "sk-" key is hashed) */
    AL_LDIM_CUSTOMER = 4,
    AL_LDIM__COUNT
};

#define AL_LEDGER_DAYS_DEFAULT 45
#define AL_DAY_NONE INT32_MIN
#define AL_LEDGER_NAME_MAX 256  /* longer names are cut (UTF-8 boundary) */
/* Money in texts: amounts from here up print "> $1e15" (cells saturate at DBL_MAX). */
#define AL_MONEY_SHOWN_MAX 1e15

typedef struct al_ledger al_ledger;

/* Days to keep for a report window of report_days and an anomaly baseline of
 * baseline_days: max(45, max(report_days, 31 for the monthly report) + baseline + 1). */
int al_ledger_days_for(int report_days, int baseline_days);

al_ledger *al_ledger_new(int days_kept);        /* NULL: days_kept < 1 or no memory */
void al_ledger_free(al_ledger *l);              /* NULL: no-op */

/* Called for every cell increment made by al_ledger_add (not by load_row), so the
 * state can mirror it (al_state_counters_add). name is "" for the "None" team. */
typedef void (*al_ledger_sink_fn)(void *ud, int32_t day, int32_t dim, const char *name,
                                  double amount);
void al_ledger_set_sink(al_ledger *l, al_ledger_sink_fn fn, void *ud);

/* One alert_on_spend: s->cost goes to the day of at_ms for the team alias (None when
 * s has no team_alias), each distinct tag, the user, the key and the customer (those
 * present). ALERT_ERR_INVALID (nothing recorded) for NULL, a non-finite or negative
 * cost. A zero cost records nothing. A day older than the kept window is dropped. */
int al_ledger_add(al_ledger *l, const alert_spend *s, int64_t at_ms);
/* One cell; name NULL or "" is None (meaningful for the team dimension). */
int al_ledger_add_cell(al_ledger *l, int32_t day, int dim, const char *name, double amount);
/* al_ledger_add_cell without the sink, with the signature of the store's
 * al_state_cell_cb, to pass straight to al_state_counters_load(s, from_day, cb, ledger).
 * Returns 0, or the ALERT_ERR_* code (which stops the load). */
int al_ledger_load_row(void *ledger, int32_t day, int32_t dim, const char *name, double amount);
/* Every cell, day by day (oldest first); name "" for None. A non-zero return of row
 * stops and is returned. */
typedef int (*al_ledger_row_fn)(void *ud, int32_t day, int32_t dim, const char *name,
                                double amount);
int al_ledger_export(al_ledger *l, al_ledger_row_fn row, void *ud);

/* Drops days older than today - days_kept + 1 (also done by add as days advance). */
void al_ledger_advance(al_ledger *l, int32_t today);

/* Sums per name of dim over the days [from_day, to_day], descending by amount, ties
 * by name (None sorts as "None"). *out is al_malloc'd (al_free it); names are
 * borrowed (NULL for None) and live until the next change of the ledger. */
typedef struct al_ledger_sum {
    const char *name;
    double amount;
} al_ledger_sum;
int al_ledger_top(al_ledger *l, int dim, int32_t from_day, int32_t to_day, al_ledger_sum **out,
                  size_t *n_out);
/* The sum of one name (NULL: None) over [from_day, to_day]; 0 when unknown. */
double al_ledger_get(const al_ledger *l, int dim, const char *name, int32_t from_day,
                     int32_t to_day);

size_t al_ledger_cells(const al_ledger *l);
size_t al_ledger_names(const al_ledger *l);
/* Bytes the ledger asked al_malloc for (tables, names, strings; not the allocator's
 * own headers), and that divided by the cells. */
size_t al_ledger_bytes(const al_ledger *l);
double al_ledger_bytes_per_cell(const al_ledger *l);

/* ---- spend reports (type spend_reports, Low) ------------------------------- */
/* The report over [from_day, to_day]: the N-day title when n_days > 0, the monthly one
 * when n_days == 0. *out = NULL (ALERT_OK) when the window has no spend. */
int al_spend_report_build(al_ledger *l, int32_t from_day, int32_t to_day, int n_days,
                          int64_t now_ms, al_alert **out);

/* Schedule state of one report. last: the day (N-day report) or the month index
 * (y * 12 + m - 1, monthly report) of the last one raised, AL_DAY_NONE before the
 * first check. Persist it (the state's schedules) after every due call and settle. */
typedef struct al_report_state {
    int32_t last;
} al_report_state;
#define AL_REPORT_STATE_INIT { AL_DAY_NONE }

/* The N-day report when due at now_ms: the first check only records today (the first
 * report comes n_days later); due when today >= last + n_days; covers the n_days whole
 * days before today. When due, last = today at once (so a restart does not send it
 * twice); *out gets the alert, or NULL when the window is empty. The alert settles
 * through al_report_settle: a final delivery failure puts last back, so the next
 * check raises it again. ALERT_ERR_INVALID for n_days < 1. */
int al_spend_report_due(al_ledger *l, al_report_state *st, int n_days, int64_t now_ms,
                        al_alert **out);
/* The monthly report: the calendar month before now_ms's, once (the first check
 * records the previous month as done). Due from the first check in a new month (the
 * first poll on the 1st; later in the month if the 1st was missed). */
int al_monthly_report_due(al_ledger *l, al_report_state *st, int64_t now_ms, al_alert **out);
/* alert->settle of the reports above (ud: the al_report_state); the key is
 * "report|spend|<raised>|<before>" or "report|monthly|<raised>|<before>". */
void al_report_settle(void *st, const char *key, int ok);

/* ---- user spend (BEHAVIOUR section 1, reference section 1.3) --------------- */
typedef struct al_user_spend_args {
    double daily_threshold;     /* daily_spend_per_user_threshold, < 0: none */
    double monthly_threshold;   /* monthly_spend_per_user_threshold, < 0: none */
    double anomaly_multiplier;  /* spend_anomaly_multiplier, 3.0 */
    int baseline_days;          /* spend_anomaly_baseline_days, 7 */
    double anomaly_min_spend;   /* spend_anomaly_min_spend, 10.0 */
} al_user_spend_args;

/* user_spend_thresholds for one user (user_id, after each al_ledger_add: "as spend is
 * aggregated") or every user (NULL). Users with spend this month; each event once per
 * user per day / month through the marks m (keys "user_spend_alert_daily_<user>_
 * <YYYY-MM-DD>", "user_spend_alert_monthly_<user>_<YYYY-MM>"). All new events are
 * joined by blank lines into one alert (*out, NULL when none; its settle marks them
 * all). */
int al_user_spend_thresholds_check(al_ledger *l, al_marks *m, const al_user_spend_args *a,
                                   const char *user_id, int64_t now_ms, al_alert **out);
/* The same on this ledger's spend plus the other replicas' (fleet mode; others NULL:
 * none): a user's day d in others' dim AL_LDIM_USER, its month in dim AL_LDIM_TAG on
 * the month's first day. (Anomalies use this ledger alone.) */
int al_user_spend_thresholds_fleet(al_ledger *l, const al_ledger *others, al_marks *m,
                                   const al_user_spend_args *a, const char *user_id,
                                   int64_t now_ms, al_alert **out);
/* user_spend_anomalies for every user, every user_spend_check_interval: today >= the
 * minimum and (no spend in the baseline days before today, or today > multiplier x
 * (baseline sum / baseline_days)). Once per user per day (key
 * "user_spend_alert_anomaly_<user>_<YYYY-MM-DD>"). */
int al_user_spend_anomalies_check(al_ledger *l, al_marks *m, const al_user_spend_args *a,
                                  int64_t now_ms, al_alert **out);

#endif
