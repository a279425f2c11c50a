/* SPDX-License-Identifier: MIT */
/* Budget alerts (BEHAVIOUR section 3): one threshold state machine per (entity kind,
 * entity id, budget period), the compat texts and webhook JSON, the month-end projection;
 * and small dedup marks with a "pending" state (failed_tracking_spend, user spend events).
 *
 * Worker-only: nothing here locks. Nothing reads a clock: every time is an argument
 * (ms since the Unix epoch; days and months are UTC). Alerts handed out carry
 * a->settle pointing back at the table that raised them, so every alert must be freed
 * (al_alert_free runs the settle) before that table is freed.
 *
 * Mark life: ARMED -> raise -> PENDING -> settle(ok=1) -> SENT
 *                                      -> settle(ok=0) -> ARMED (fires again when reached)
 * A PENDING or SENT mark never raises, so 10 000 observations during a slow delivery
 * raise one alert. */
#ifndef AL_BUDGET_H
#define AL_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "alerting.h"
#include "calendar.h"
#include "marks.h"

/* ---- the threshold table ------------------------------------------------- */
typedef struct al_budgets al_budgets;

/* thresholds: budget_alert_thresholds in percent (default 85, 95), any order; NULL or
 * n == 0 gives the default. threshold_texts: each as written in the config ("85",
 * "70.5"), or NULL to print them with %g. 85 and 95 always use the compat wording
 * ("15% or less of budget remaining", "5% or less of budget remaining"), any other N
 * "N% of budget used". A threshold of 100 is the "crossed" step itself; above 100 ones
 * come after it. Copies everything. NULL on allocation failure or a non-finite or
 * negative threshold. */
al_budgets *al_budgets_new(const double *thresholds, const char *const *threshold_texts, size_t n);
void al_budgets_free(al_budgets *b);            /* NULL: no-op */

/* Optional persistence: get is asked once, when an entity not in memory is about to
 * raise something or is declared; put receives every changed entity at
 * al_budgets_flush. Keys are "budget|<entity>|<id>" (id as normalised: "default_id" for
 * NULL/"", a raw "sk-" key hashed). */
void al_budgets_set_persist(al_budgets *b, al_mark_put_fn put, al_mark_get_fn get, void *ud);

/* The host's figures (alert_on_budget). Appends 0..3 alerts to *out (an al_realloc'd
 * array of *n_out alerts; start with NULL/0; the caller owns the array and the
 * alerts): soft_budget_crossed, then the highest max_budget step reached (a threshold,
 * or budget_crossed at 100 %), ordered by amount; projected_limit_exceeded last.
 * ALERT_ERR_INVALID (nothing recorded) for a NULL, an unknown entity, a non-finite
 * spend, max_budget or soft_budget. A budget < 0 is none; a budget of 0 is crossed by
 * any spend >= 0 (LiteLLM's spend >= max_budget). A change of budget_reset_at_ms or
 * max_budget re-arms every mark of the entity (a new period); a change of soft_budget
 * re-arms the soft and projected marks. Entities are kept from the first alert they
 * raise on (an entity below every step costs nothing). */
int al_budgets_observe(al_budgets *b, const alert_budget *in, int64_t now_ms,
                       al_alert ***out, size_t *n_out);

/* Budgets tracked by the library (alert_set_budget, the budgets: config list):
 * entity, entity_id, max_budget, soft_budget, the labels and alert_emails come from in
 * (its spend is ignored). duration "<N>s|m|h|d|mo" or NULL (one period, never reset);
 * the first period starts at now_ms; s/m/h/d periods are fixed lengths from there,
 * "mo" calendar months (the day of month clamped: Jan 31 -> Feb 28 -> Mar 31).
 * Declaring again with the same duration keeps the period and its spend (config
 * reloads, a restart with persisted state); another duration starts a new period at
 * now_ms with spend 0; the usual re-arm rules apply to budget changes.
 * ALERT_ERR_INVALID: as observe, or a bad duration. */
int al_budgets_declare(al_budgets *b, const alert_budget *in, const char *duration,
                       int64_t now_ms);
/* Stops tracking a declared budget (config reload without it). ALERT_ERR_NOT_FOUND. */
int al_budgets_undeclare(al_budgets *b, int entity, const char *entity_id);
int al_budgets_is_declared(const al_budgets *b, int entity, const char *entity_id);

/* Adds cost to one declared budget (at_ms: when it was spent; the period rolls
 * forward to contain it; a cost from before the current period is ignored) and
 * evaluates it as observe does. Not declared: ALERT_OK, nothing happens.
 * ALERT_ERR_INVALID for a negative or non-finite cost (nothing recorded). */
int al_budgets_add_spend(al_budgets *b, int entity, const char *entity_id, double cost,
                         int64_t at_ms, al_alert ***out, size_t *n_out);
/* One alert_on_spend against every declared budget it matches: key (key_hash), user
 * (user_id), end_user (customer_id), team (team_id), organization (organization_id),
 * proxy (every spend). team_member and project budgets have no id in alert_spend: feed
 * them with al_budgets_add_spend. The cost is validated once, before anything. */
int al_budgets_add_spend_all(al_budgets *b, const alert_spend *s, int64_t at_ms,
                             al_alert ***out, size_t *n_out);

/* alert->settle of every budget alert: ok marks the pending step sent, !ok re-arms it.
 * A settle for a mark of an older period, or of a forgotten entity, does nothing. */
void al_budgets_settle(void *b, const char *key, int ok);

/* Hands every entity changed since the last flush to put (spend of declared budgets
 * changes on every add: call this once per worker batch, inside the store
 * transaction). ALERT_OK, or ALERT_ERR_NOMEM (the rest stays dirty). */
int al_budgets_flush(al_budgets *b);
/* Every entity, whether changed or not. */
int al_budgets_export(al_budgets *b, al_mark_put_fn put, void *ud);
/* One (key, value) of export/put. A key already in memory is replaced.
 * ALERT_ERR_INVALID for a key or value this module did not write. */
int al_budgets_import(al_budgets *b, const char *key, const char *value);
size_t al_budgets_count(const al_budgets *b);

/* ---- fleet mode: tracked budgets judged on the fleet's spend (FLEET.md) -------------
 * Each declared budget counts, in integer nano-dollars, what this replica added to
 * its current period; post hands the cumulative (a per-replica sequence: applying it
 * again changes nothing) of each budget whose count moved and has no post in flight,
 * with the group naming the period for the fleet and how long the fleet keeps it. An
 * answer gives the fleet's total including `mine` of ours; from then on the budget is
 * judged on max(own spend, total - mine + what it added since), so a crossing made of
 * several replicas' spend is raised (and its step claimed once for the fleet). Without
 * answers nothing changes: the own spend alone decides. A post is urgent (a round
 * now) when none is in flight, so spend is coalesced into at most one post per budget
 * per round; near a step (the judged spend at least half of the lowest armed one) a
 * new post goes even with one in flight. */
typedef int (*al_budgets_fleet_post_fn)(void *ud, const char *group, int64_t mine_nano,
                                        int64_t ttl_ms, int urgent);
int al_budgets_fleet_post(al_budgets *b, al_budgets_fleet_post_fn post, void *ud);
/* The fleet's answer for group (total < 0: none, post again): alerts as add_spend. */
int al_budgets_fleet_total(al_budgets *b, const char *group, int64_t mine_nano,
                           int64_t total_nano, int64_t now_ms, al_alert ***out, size_t *n_out);
/* The fleet lost its totals (a new Redis epoch): every declared budget posts its whole
 * period spend again, from this replica's own records. */
void al_budgets_fleet_reseed(al_budgets *b);

/* ---- pure helpers (exposed for tests) ------------------------------------ */
/* "<N>s|m|h|d|mo", N a positive integer: *len_ms for s/m/h/d, *months for mo (the
 * other one 0). ALERT_OK or ALERT_ERR_INVALID. */
int al_budget_parse_duration(const char *s, int64_t *len_ms, int32_t *months);

/* The month-end projection of section 3 for spend so far this month at now_ms:
 * rate = spend on the 1st, else spend / (day_of_month - 1); projected = spend + rate x
 * days left in the month (0 on the last day). *date ("YYYY-MM-DD") = today when rate
 * <= 0 or spend >= soft, else today + floor((soft - spend) / rate) days. Returns 1
 * when projected > soft_budget (soft_budget >= 0), else 0. */
int al_budget_project(double spend, double soft_budget, int64_t now_ms, double *projected,
                      char date[11]);


/* The customer spend webhook body (section 3, event "spend_tracked", event_group
 * "end_user", "Customer spend tracked. Customer=<id>, spend=<cost>"). max_budget < 0:
 * null. NULL when s has no customer_id, the cost is not finite or on allocation
 * failure. */
char *al_budget_spend_tracked_json(const alert_spend *s, double max_budget);
/* The same as an alert (type budget_alerts, level Low, webhook_json set, message =
 * event_message, entity end_user, subject "end_user <id>") for the webhook
 * destination only. ALERT_ERR_INVALID when s has no customer_id or a bad cost. */
int al_budget_spend_tracked_alert(const alert_spend *s, double max_budget, int64_t now_ms,
                                  al_alert **out);

/* failed_tracking_spend: "Failed Tracking Cost for <error_text>" (error_text already
 * scrubbed by the caller; NULL prints None), type failed_tracking_spend, High, once
 * per model per ttl_ms (budget_alert_ttl) through m (key "failed_tracking|<model>").
 * *out = NULL when held. ALERT_OK, ALERT_ERR_NOMEM. */
int al_tracking_failure_alert(al_marks *m, const char *model, const char *error_text,
                              int64_t ttl_ms, int64_t now_ms, al_alert **out);

#endif
