/* SPDX-License-Identifier: MIT */
/* The worker glue of health.c, alone: a real ctx (memory state, worker_threads: 0, an
 * injected clock) whose route tap captures every alert. Outage windows fed by failure
 * events (minor, major, recovered; regions), the daily and fallback reports on their
 * schedule (requests counted through the public hooks) and their settling, and the
 * operations events (db errors, cooldowns, management). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "ctx.h"
#include "health.h"
#include "dest.h"

#include "glue.h"


/* ---- outages ------------------------------------------------------------------------ */

static void fail_at(glue *g, const char *dep_id, const char *deployment, const char *provider,
                    const char *region, int status, int64_t at)
{
    al_event e = { .kind = AL_EV_FAILURE, .status_code = status, .flags = AL_EVF_OUTAGE,
                   .start_ms = at, .end_ms = at };
    e.s[AL_ES_MODEL] = "gpt-4";
    e.s[AL_ES_DEPLOYMENT] = deployment;
    e.s[AL_ES_DEPLOYMENT_ID] = dep_id;
    e.s[AL_ES_PROVIDER] = provider;
    e.s[AL_ES_API_BASE] = "https://eu.example.com";
    e.s[AL_ES_REGION] = region;
    al_health_on_event(g->ctx, &e);
}

#define S 1000LL

static void outage_minor_major_recovered(void **state)
{
    (void)state;
    glue *g = g_new(NULL, "    send_resolved: true\n", NULL);
    for (int i = 1; i <= 4; i++)
        fail_at(g, "dep-1", "azure/gpt-4-eu", "azure", NULL, 500, T0 + i * S);
    assert_int_equal(g->n, 0);
    fail_at(g, "dep-1", "azure/gpt-4-eu", "azure", NULL, 500, T0 + 5 * S);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_OUTAGE_ALERTS);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    assert_int_equal(a->severity_major, 0);
    assert_int_equal(a->resolved, 0);
    assert_int_equal(a->at_ms, T0 + 5 * S);
    has(a->message, "*\xE2\x9A\xA0\xEF\xB8\x8F Minor Service Outage*");
    has(a->message, "\n*Model Name:* `azure/gpt-4-eu`\n*Provider:* `azure`\n"
                    "*API Base:* `https://eu.example.com`\n");
    has(a->message, "API Errors: 5");
    assert_string_equal(a->subject, "deployment dep-1");
    assert_string_equal(a->deployment, "azure/gpt-4-eu");
    assert_null(a->settle_key);
    g_settle(g, 1);
    for (int i = 6; i <= 9; i++)
        fail_at(g, "dep-1", "azure/gpt-4-eu", "azure", NULL, i % 2 ? 408 : 500, T0 + i * S);
    assert_int_equal(g->n, 0);
    fail_at(g, "dep-1", "azure/gpt-4-eu", "azure", NULL, 500, T0 + 10 * S);
    a = g_one(g, AL_T_OUTAGE_ALERTS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->severity_major, 1);
    has(a->message, "*\xE2\x9A\xA0\xEF\xB8\x8F Major Service Outage*");
    has(a->message, "Timeout Errors: 2");
    g_settle(g, 1);
    for (int i = 11; i <= 30; i++)          /* once per episode */
        fail_at(g, "dep-1", "azure/gpt-4-eu", "azure", NULL, 500, T0 + i * S);
    assert_int_equal(g->n, 0);
    /* user errors never count */
    for (int i = 0; i < 10; i++)
        fail_at(g, "dep-2", "d2", "openai", NULL, 200, T0 + 31 * S);
    al_event quiet = { .kind = AL_EV_FAILURE, .status_code = 500, .flags = AL_EVF_EXCEPTION,
                       .end_ms = T0 + 31 * S };
    for (int i = 0; i < 10; i++)
        al_health_on_event(g->ctx, &quiet);  /* not flagged for outages */
    assert_int_equal(g->n, 0);
    /* a quiet minute ends the episode */
    al_health_tick(g->ctx, T0 + 60 * S);
    assert_int_equal(g->n, 0);
    al_health_tick(g->ctx, T0 + 91 * S);
    a = g_one(g, AL_T_OUTAGE_ALERTS);
    assert_int_equal(a->resolved, 1);
    assert_int_equal(a->only, 0);           /* send_resolved: to every destination */
    has(a->message, "*\xE2\x9C\x85 Service Recovered*");
    has(a->message, "No Timeout or API Errors for 60s after a Major Service Outage.");
    assert_string_equal(a->subject, "deployment dep-1");
    g_free(g);
}

/* Without send_resolved, the end of an episode goes to Alertmanager only. */
static void outage_end_to_alertmanager_only(void **state)
{
    (void)state;
    glue *g = g_new("slack, alertmanager", "    alertmanager_url: \"http://127.0.0.1:9\"\n", NULL);
    for (int i = 1; i <= 5; i++)
        fail_at(g, "dep-1", "azure/gpt-4-eu", "azure", NULL, 503, T0 + i * S);
    assert_int_equal(g_count(g, AL_T_OUTAGE_ALERTS), 1);
    g_settle(g, 1);
    al_health_tick(g->ctx, T0 + 70 * S);
    al_alert *a = g_one(g, AL_T_OUTAGE_ALERTS);
    assert_int_equal(a->resolved, 1);
    assert_int_equal(a->only, AL_DEST_BIT(AL_DEST_ALERTMANAGER));
    has(a->message, "after a Minor Service Outage.");
    g_free(g);

    /* neither: no end is raised at all */
    g = g_new(NULL, NULL, NULL);
    for (int i = 1; i <= 5; i++)
        fail_at(g, "dep-1", "azure/gpt-4-eu", "azure", NULL, 503, T0 + i * S);
    g_settle(g, 1);
    al_health_tick(g->ctx, T0 + 70 * S);
    assert_int_equal(g->n, 0);
    g_free(g);
}

static void region_outage(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    for (int i = 1; i <= 6; i++)
        fail_at(g, i % 2 ? "vertex-a" : "vertex-b", i % 2 ? "vertex/gemini-a" : "vertex/gemini-b",
                "vertex_ai", "us-central1", i % 2 ? 500 : 408, T0 + i * S);
    assert_int_equal(g_count(g, AL_T_OUTAGE_ALERTS), 0);   /* three each: no deployment */
    al_alert *a = g_one(g, AL_T_REGION_OUTAGE_ALERTS);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    has(a->message, "Minor Service Outage");
    has(a->message, "\n*Region Name:* `us-central1`\n*Provider:* `vertex_ai`\n");
    assert_string_equal(a->subject, "region vertex_ai/us-central1");
    assert_string_equal(a->region, "us-central1");
    assert_string_equal(a->provider, "vertex_ai");
    g_free(g);

    /* one deployment failing is no region outage */
    g = g_new(NULL, NULL, "  alert_types: [region_outage_alerts]\n");
    for (int i = 1; i <= 12; i++)
        fail_at(g, "vertex-a", "vertex/gemini-a", "vertex_ai", "us-central1", 500, T0 + i * S);
    assert_int_equal(g->n, 0);
    g_free(g);
}

/* ---- the daily report ----------------------------------------------------------------- */

#define HOUR 3600000LL
#define REPORTS "    daily_report_frequency: 3600\n", "  alert_types: [daily_reports, fallback_reports]\n"

/* n failed requests of deployment dep, and one that succeeded, through the hooks; the
 * model is dep too, since the daily report names a deployment by its model. */
static void requests(glue *g, const char *dep, int n_failed)
{
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = dep;
    r.deployment = dep;
    r.api_base = "https://a.example";
    r.start_ms = g->now;
    alert_req_id id;
    for (int i = 0; i < n_failed; i++) {
        assert_int_equal(alert_on_request_start(g->ctx, &r, &id), ALERT_OK);
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = 500;
        f.end_ms = g->now + 1000;
        assert_int_equal(alert_on_request_failure(g->ctx, id, &f), ALERT_OK);
    }
    assert_int_equal(alert_on_request_start(g->ctx, &r, &id), ALERT_OK);
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.end_ms = g->now + 2000;
    resp.completion_tokens = 100;
    assert_int_equal(alert_on_request_end(g->ctx, id, &resp), ALERT_OK);
}

static void failed_line(const al_alert *a, const char *dep, int n)
{
    char want[160];
    snprintf(want, sizeof want, "1. Deployment: `%s`, Failed Requests: `%d`,  API Base: `https://a.example`",
             dep, n);
    has(a->message, want);
}

static void daily_report_on_schedule(void **state)
{
    (void)state;
    glue *g = g_new(NULL, REPORTS);
    requests(g, "d-fast", 3);
    al_health_tick(g->ctx, T0 + HOUR - 1);
    assert_int_equal(g->n, 0);              /* not early */
    g->now = T0 + HOUR;
    al_health_tick(g->ctx, g->now);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_DAILY_REPORTS);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    assert_int_equal(a->at_ms, T0 + HOUR);
    failed_line(a, "d-fast", 3);
    has(a->message, "Top Slowest Deployments");
    assert_non_null(a->settle_key);
    assert_memory_equal(a->settle_key, "health|daily|", 13);
    /* while it is on its way, no second report */
    al_health_tick(g->ctx, T0 + 3 * HOUR);
    assert_int_equal(g->n, 1);
    g_free(g);
}

/* A report that was not delivered is covered again by the next one; one that was
 * delivered is not. Settled as the outbox does: delivered_ok, then the last free. */
static void daily_report_settle(void **state)
{
    (void)state;
    glue *g = g_new(NULL, REPORTS);
    requests(g, "d1", 3);
    g->now = T0 + HOUR;
    al_health_tick(g->ctx, g->now);
    failed_line(g_one(g, AL_T_DAILY_REPORTS), "d1", 3);
    g_settle(g, 0);                         /* every destination failed */

    requests(g, "d1", 2);
    g->now = T0 + 2 * HOUR;
    al_health_tick(g->ctx, g->now);
    failed_line(g_one(g, AL_T_DAILY_REPORTS), "d1", 5);     /* 3 again, and 2 new */
    g_settle(g, 1);                         /* delivered */

    requests(g, "d1", 1);
    g->now = T0 + 3 * HOUR;
    al_health_tick(g->ctx, g->now);
    failed_line(g_one(g, AL_T_DAILY_REPORTS), "d1", 1);     /* only what came since */
    g_settle(g, 1);

    /* through al_health_settle itself: a key of no report in flight changes nothing */
    al_health_settle(g->ctx, "health|daily|12345", 1);
    al_health_settle(g->ctx, "health|daily|12345", 0);
    requests(g, "d1", 2);
    g->now = T0 + 4 * HOUR;
    al_health_tick(g->ctx, g->now);
    al_alert *a = g_one(g, AL_T_DAILY_REPORTS);
    failed_line(a, "d1", 2);
    /* its own key, settled by hand, frees the schedule as the delivery would */
    char *key = a->settle_key;
    a->settle_key = NULL;
    a->settle = NULL;
    a->settle_alert = NULL;             /* settle.c's hook, set by the router */
    g_settle(g, 1);
    al_health_settle(g->ctx, key, 0);
    al_free(key);
    g->now = T0 + 5 * HOUR;
    al_health_tick(g->ctx, g->now);
    failed_line(g_one(g, AL_T_DAILY_REPORTS), "d1", 2);     /* not delivered: again */
    g_free(g);
}

static void idle_day_sends_nothing(void **state)
{
    (void)state;
    glue *g = g_new(NULL, REPORTS);
    g->now = T0 + HOUR;
    al_health_tick(g->ctx, g->now);
    assert_int_equal(g->n, 0);
    g_free(g);
}

/* ---- the fallback report ---------------------------------------------------------------- */

static void fallback(glue *g, const char *primary, const char *fb, int ok)
{
    al_event e = { .kind = AL_EV_FALLBACK, .status_code = ok, .end_ms = g->now };
    e.s[AL_ES_MODEL] = primary;
    e.s[AL_ES_DEPLOYMENT] = fb;
    al_health_on_event(g->ctx, &e);
}

static void fallback_report_and_settle(void **state)
{
    (void)state;
    glue *g = g_new(NULL, REPORTS);
    for (int i = 0; i < 3; i++)
        fallback(g, "gpt-4", "claude-3", 1);
    fallback(g, "gpt-4", "claude-3", 0);
    assert_int_equal(g->n, 0);              /* counted, reported on schedule */
    al_health_tick(g->ctx, T0 + HOUR);
    al_alert *a = g_one(g, AL_T_FALLBACK_REPORTS);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    has(a->message, "`3 successful fallback requests` with primary model=`gpt-4` -> "
                    "fallback model=`claude-3`");
    has(a->message, "`1 failed fallback requests` with primary model=`gpt-4` -> "
                    "fallback model=`claude-3`");
    assert_memory_equal(a->settle_key, "health|fallback|", 16);
    g_settle(g, 0);                         /* not delivered: counted again next time */
    fallback(g, "gpt-4", "claude-3", 1);
    al_health_tick(g->ctx, T0 + 2 * HOUR);
    a = g_one(g, AL_T_FALLBACK_REPORTS);
    has(a->message, "`4 successful fallback requests`");
    g_settle(g, 1);                         /* delivered: what it reported is done */
    fallback(g, "gpt-4", "claude-3", 0);
    al_health_tick(g->ctx, T0 + 3 * HOUR);
    a = g_one(g, AL_T_FALLBACK_REPORTS);
    has(a->message, "`1 failed fallback requests`");
    assert_null(strstr(a->message, "successful"));
    g_free(g);
}

/* ---- operations ---------------------------------------------------------------------- */

static void db_error_alert(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    al_event e = { .kind = AL_EV_DB_ERROR, .end_ms = T0 + 7 };
    e.s[AL_ES_MESSAGE] = "connection to postgres://app:hunter2@db/x failed <@U1>";
    al_health_on_event(g->ctx, &e);
    al_alert *a = g_one(g, AL_T_DB_EXCEPTIONS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->at_ms, T0 + 7);
    has(a->plain, "DB read/write call failed: connection to postgres://app:REDACTED@db/x failed <@U1>");
    has(a->message, "&lt;@U1&gt;");
    assert_null(strstr(a->plain, "hunter2"));
    g_free(g);
}

static void cooldown_once_per_cooldown(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    al_event e = { .kind = AL_EV_COOLDOWN, .status_code = 60, .end_ms = T0 };
    e.s[AL_ES_DEPLOYMENT] = "azure/gpt-4-eu";
    e.s[AL_ES_MESSAGE] = "429 rate limited";
    al_health_on_event(g->ctx, &e);
    e.end_ms = T0 + 30 * S;
    al_health_on_event(g->ctx, &e);         /* the same cooldown */
    al_alert *a = g_one(g, AL_T_COOLDOWN_DEPLOYMENT);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    assert_string_equal(a->message, "Deployment cooled down: `azure/gpt-4-eu`\n"
                                    "Reason: `429 rate limited`\nCooldown: `60s`");
    assert_string_equal(a->subject, "deployment azure/gpt-4-eu");
    assert_int_equal(atomic_load(&g->ctx->n.alerts_deduplicated), 1);
    g_settle(g, 1);
    e.end_ms = T0 + 61 * S;                 /* over: a new cooldown */
    al_health_on_event(g->ctx, &e);
    assert_int_equal(g_count(g, AL_T_COOLDOWN_DEPLOYMENT), 1);
    g_free(g);
}

static void management_event(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, "  alert_types: [new_virtual_key_created]\n");
    al_event e = { .kind = AL_EV_MGMT, .end_ms = T0 + 9 };
    e.s[AL_ES_ALERT_TYPE] = "new_virtual_key_created";
    e.s[AL_ES_MESSAGE] = "{\"created_by_user_id\": \"admin\"}";
    e.s[AL_ES_METADATA] = "{\"key_alias\": \"<team-a>\", \"api_key\": \"sk-abcdefghijklmnop\"}";
    al_health_on_event(g->ctx, &e);
    al_alert *a = g_one(g, AL_T_NEW_VIRTUAL_KEY_CREATED);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->at_ms, T0 + 9);
    has(a->message, "`New Virtual Key Created`\n*Action Done by:*\ncreated_by_user_id: `admin`\n");
    has(a->message, "key_alias: `&lt;team-a&gt;`");
    has(a->message, "api_key: `REDACTED`");
    assert_null(strstr(a->message, "abcdefghijklmnop"));
    g_settle(g, 1);
    /* one that cannot be built is an error, not an alert */
    e.s[AL_ES_MESSAGE] = "[1]";
    al_health_on_event(g->ctx, &e);
    assert_int_equal(g->n, 0);
    has(alert_ctx_last_error(g->ctx), "an operations alert could not be built");
    g_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outage_minor_major_recovered),
        cmocka_unit_test(outage_end_to_alertmanager_only),
        cmocka_unit_test(region_outage),
        cmocka_unit_test(daily_report_on_schedule),
        cmocka_unit_test(daily_report_settle),
        cmocka_unit_test(idle_day_sends_nothing),
        cmocka_unit_test(fallback_report_and_settle),
        cmocka_unit_test(db_error_alert),
        cmocka_unit_test(cooldown_once_per_cooldown),
        cmocka_unit_test(management_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
