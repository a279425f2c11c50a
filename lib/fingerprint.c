/* SPDX-License-Identifier: MIT */
/* The configuration fingerprint (fingerprint.h). What decides which alerts a replica
 * raises and when: destinations by name, alert types, thresholds, windows, budgets and
 * the fleet's own timings. Not the instance name (it differs per replica by design),
 * nor any URL, key or password (a hash of a secret is not published). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "fingerprint.h"
#include "sign.h"

static void add_list(al_buf *b, const char *name, const al_strlist *l)
{
    al_buf_printf(b, "%s=", name);
    for (size_t i = 0; i < l->n; i++)
        al_buf_printf(b, "%s,", l->items[i]);
    al_buf_addc(b, ';');
}

void al_config_fingerprint(const alert_config *c, char out[17])
{
    al_buf b = AL_BUF_INIT;
    add_list(&b, "alerting", &c->alerting);
    al_buf_printf(&b, "types=%u;threshold=%.17g;daily=%.17g;check=%.17g;budget_ttl=%.17g;"
                  "outage_ttl=%.17g;region_ttl=%.17g;minor=%lld;major=%lld;",
                  (unsigned)c->alert_types, c->alerting_threshold, c->daily_report_frequency,
                  c->report_check_interval, c->budget_alert_ttl, c->outage_alert_ttl,
                  c->region_outage_alert_ttl, (long long)c->minor_outage_alert_threshold,
                  (long long)c->major_outage_alert_threshold);
    al_buf_adds(&b, "budget_thresholds=");
    for (size_t i = 0; i < c->n_budget_alert_thresholds; i++)
        al_buf_printf(&b, "%.17g,", c->budget_alert_thresholds[i]);
    al_buf_printf(&b, ";user_day=%.17g;user_month=%.17g;anomaly=%.17g/%lld/%.17g;"
                  "failures=%lld/%.17g;hanging=%.17g/%lld/%.17g;spend_days=%d;",
                  c->daily_spend_per_user_threshold, c->monthly_spend_per_user_threshold,
                  c->spend_anomaly_multiplier, (long long)c->spend_anomaly_baseline_days,
                  c->spend_anomaly_min_spend, (long long)c->failure_threshold,
                  c->failure_threshold_window_seconds, c->hanging_threshold_seconds,
                  (long long)c->hanging_threshold_fails, c->hanging_threshold_window_seconds,
                  c->spend_report_days);
    for (size_t i = 0; i < c->n_budgets; i++)
        al_buf_printf(&b, "budget=%s/%s;", c->budgets[i].id ? c->budgets[i].id : "",
                      c->budgets[i].budget_duration ? c->budgets[i].budget_duration : "");
    for (size_t i = 0; i < c->n_rate_limits; i++)
        al_buf_printf(&b, "rate=%s/%s;", c->rate_limits[i].destination, c->rate_limits[i].spec);
    al_buf_printf(&b, "fleet=%s/%.17g/%.17g/%.17g/%.17g/%.17g/%d;",
                  c->fleet_name ? c->fleet_name : "default", c->fleet_sync_interval,
                  c->fleet_timeout, c->fleet_claim_timeout, c->fleet_takeover_after,
                  c->fleet_report_grace, c->fleet_rate_limits);
    char *text = al_buf_take(&b);
    char hex[65];
    if (text && al_sha256_hex(text, strlen(text), hex) == 0)
        snprintf(out, 17, "%.16s", hex);
    else
        snprintf(out, 17, "%016d", 0);
    al_free(text);
}
