/* SPDX-License-Identifier: MIT */
/* alert_metrics_format: the counters as Prometheus text (exposition format 0.0.4),
 * with one series per destination target and per alert type. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "buf.h"
#include "ctx.h"
#include "outbox.h"

/* A label value: backslash, double quote and newline escaped. */
static void put_label(al_sink *m, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            al_sink_printf(m, "\\%c", *s);
        else if (*s == '\n')
            al_sink_put(m, "\\n", 2);
        else
            al_sink_put(m, s, 1);
    }
}

static void family(al_sink *m, const char *name, const char *type, const char *help)
{
    al_sink_printf(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(al_sink *m, const char *name, const char *type, const char *help, uint64_t v)
{
    family(m, name, type, help);
    al_sink_printf(m, "%s %" PRIu64 "\n", name, v);
}

static void target_labels(al_sink *m, const char *name, const al_target_stats *t)
{
    al_sink_printf(m, "%s{destination=\"", name);
    put_label(m, t->destination);
    al_sink_put(m, "\",target=\"", 10);
    put_label(m, t->display);
    al_sink_put(m, "\"", 1);
}

int alert_metrics_format(alert_ctx *ctx, int format, char *buf, size_t len, size_t *needed)
{
    if (!ctx || (!buf && len > 0))
        return al_ctx_fail(ctx, ALERT_ERR_INVALID, "alert_metrics_format: %s",
                           ctx ? "buf is NULL with len > 0" : "ctx is NULL");
    if (format != ALERT_METRICS_PROMETHEUS)
        return al_ctx_fail(ctx, ALERT_ERR_UNSUPPORTED, "alert_metrics_format: format %d is not "
                           "ALERT_METRICS_PROMETHEUS (1)", format);
    alert_stats s = ALERT_STATS_INIT;
    int rc = alert_stats_get(ctx, &s);
    if (rc != ALERT_OK)
        return rc;
    al_sink m = { buf, len, 0 };
    scalar(&m, "alerting_requests_started_total", "counter", "Requests started (alert_on_request_start).",
           s.requests_started);
    scalar(&m, "alerting_requests_inflight", "gauge", "Requests being watched now.", s.requests_inflight);
    scalar(&m, "alerting_requests_rejected_total", "counter", "Request starts refused: max_inflight reached.",
           s.requests_rejected);
    scalar(&m, "alerting_events_dropped_total", "counter", "Hook events dropped: event_queue_size reached.",
           s.events_dropped);
    scalar(&m, "alerting_alerts_raised_total", "counter", "Alerts raised, all types.", s.alerts_raised);
    scalar(&m, "alerting_alerts_filtered_total", "counter", "Alerts of a type that is off.", s.alerts_filtered);
    scalar(&m, "alerting_alerts_deduplicated_total", "counter", "Alerts suppressed as duplicates.",
           s.alerts_deduplicated);
    scalar(&m, "alerting_alerts_coalesced_total", "counter", "Alerts merged into a message already queued.",
           s.alerts_coalesced);
    scalar(&m, "alerting_deliveries_ok_total", "counter", "Alerts delivered, all targets.", s.deliveries_ok);
    scalar(&m, "alerting_deliveries_retried_total", "counter", "Failed attempts that will be retried, all targets.",
           s.deliveries_retried);
    scalar(&m, "alerting_deliveries_failed_total", "counter", "Alerts given up, all targets.",
           s.deliveries_failed);
    scalar(&m, "alerting_deliveries_dropped_total", "counter",
           "Alerts dropped: max_queue, delivery_deadline or shutdown.", s.deliveries_dropped);
    scalar(&m, "alerting_queue_depth", "gauge", "Messages queued, all targets.", s.queue_depth);
    scalar(&m, "alerting_destinations_dead", "gauge", "Targets disabled after a permanent refusal.",
           s.destinations_dead);

    family(&m, "alerting_alerts_total", "counter", "Alerts raised, by alert type.");
    for (int t = 0; t < AL_T__COUNT; t++)
        al_sink_printf(&m, "alerting_alerts_total{type=\"%s\"} %" PRIu64 "\n", al_types[t].name,
             atomic_load_explicit(&ctx->n.raised_by_type[t], memory_order_relaxed));

    /* per target: one family at a time, as the format wants */
    static const struct { const char *name, *type, *help; } fams[] = {
        { "alerting_target_deliveries_total", "counter", "Alerts by outcome at one target." },
        { "alerting_target_retries_total", "counter", "Failed attempts that will be retried at one target." },
        { "alerting_target_last_success_timestamp_seconds", "gauge",
          "When the target last accepted a delivery (0: never)." },
        { "alerting_target_queue_depth", "gauge", "Messages queued for one target." },
        { "alerting_target_dead", "gauge", "1 when the target is disabled after a permanent refusal." },
    };
    static const char *const outcomes[] = { "ok", "failed", "dropped" };
    for (size_t f = 0; f < sizeof fams / sizeof *fams; f++) {
        family(&m, fams[f].name, fams[f].type, fams[f].help);
        al_target_stats t;
        for (size_t i = 0; al_outbox_target_stats(ctx->outbox, i, &t); i++) {
            if (f == 0) {
                uint64_t v[3] = { t.ok, t.failed, t.dropped };
                for (int o = 0; o < 3; o++) {
                    target_labels(&m, fams[f].name, &t);
                    al_sink_printf(&m, ",outcome=\"%s\"} %" PRIu64 "\n", outcomes[o], v[o]);
                }
                continue;
            }
            target_labels(&m, fams[f].name, &t);
            if (f == 1)
                al_sink_printf(&m, "} %" PRIu64 "\n", t.retried);
            else if (f == 2)
                al_sink_printf(&m, "} %lld.%03d\n", (long long)(t.last_ok_ms / 1000), (int)(t.last_ok_ms % 1000));
            else if (f == 3)
                al_sink_printf(&m, "} %" PRIu64 "\n", t.queued);
            else
                al_sink_printf(&m, "} %d\n", t.dead ? 1 : 0);
        }
    }
    if (needed)
        *needed = m.pos + 1;
    if (m.pos + 1 > len) {
        if (buf && len)
            buf[len - 1] = '\0';
        return len ? al_ctx_fail(ctx, ALERT_ERR_FULL, "alert_metrics_format: %zu bytes needed, "
                                 "len is %zu", m.pos + 1, len)
                   : ALERT_ERR_FULL;
    }
    buf[m.pos] = '\0';
    return ALERT_OK;
}
