/* SPDX-License-Identifier: MIT */
/* The worker glue of latency.c, alone: a real ctx (memory state, worker_threads: 0, an
 * injected clock) whose route tap captures every alert, fed with events built here.
 * Slow, hanging (the wheel's due timer), resolved hanging, failed and emitted events,
 * and PagerDuty's two aggregate pages. Nothing is delivered: the tap takes it all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "ctx.h"
#include "latency.h"

#include "glue.h"


static alert_req_id start_request(glue *g, const char *call_id)
{
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gpt-4";
    r.deployment = "azure/gpt-4-eu";
    r.api_base = "https://api.openai.example/v1";
    r.key_alias = "prod-key";
    r.team_alias = "search";
    r.call_id = call_id;
    r.alerting_metadata_json = "{\"runbook\": \"r-7\"}";
    alert_req_id id;
    assert_int_equal(alert_on_request_start(g->ctx, &r, &id), ALERT_OK);
    return id;
}

/* The wheel's view of a handle: (generation << 32) | (index + 1). */
static uint32_t idx_of(alert_req_id id)
{
    return (uint32_t)(id & 0xffffffffu) - 1;
}

static uint32_t gen_of(alert_req_id id)
{
    return (uint32_t)(id >> 32);
}

/* ---- llm_too_slow ------------------------------------------------------------------ */

static void slow_request_alert(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    al_event e = { .kind = AL_EV_SLOW, .start_ms = T0, .end_ms = T0 + 301000 };
    e.s[AL_ES_MODEL] = "gpt-4";
    e.s[AL_ES_DEPLOYMENT] = "azure/gpt-4-eu";
    e.s[AL_ES_API_BASE] = "https://x.example";
    e.s[AL_ES_KEY_ALIAS] = "k1";
    e.s[AL_ES_TEAM_ALIAS] = "t1";
    e.s[AL_ES_CALL_ID] = "call-slow";
    e.s[AL_ES_MESSAGES] = "What is the capital of France?";
    al_latency_on_event(g->ctx, &e);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_LLM_TOO_SLOW);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    assert_int_equal(a->at_ms, T0 + 301000);
    assert_true(a->duration_s == 301.0);
    has(a->message, "`Responses are slow - 301.0s response time > Alerting threshold: 300s`\n\n"
                    "Key Name: `k1`\nTeam: `t1`\nRequest Model: `gpt-4`\n"
                    "API Base: `https://x.example`\nMessages: `What is the capital of France?`");
    assert_string_equal(a->model, "gpt-4");
    assert_string_equal(a->deployment, "azure/gpt-4-eu");
    assert_string_equal(a->call_id, "call-slow");
    assert_null(a->settle_key);             /* nothing waits for its delivery */
    g_settle(g, 1);

    /* a stream: time to first token; no key alias: no key lines */
    al_event s = { .kind = AL_EV_SLOW, .start_ms = T0, .end_ms = T0 + 301250, .stream = 1,
                   .first_token_ms = T0 + 1250 };
    s.s[AL_ES_MODEL] = "claude";
    al_latency_on_event(g->ctx, &s);
    a = g_one(g, AL_T_LLM_TOO_SLOW);
    has(a->message, "301.25s response time");
    has(a->message, "Time to First Token: `1.25s`");
    has(a->message, "Messages: `None`");
    assert_null(strstr(a->message, "Key Name"));
    g_free(g);
}

static void slow_messages_redacted(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, "litellm_settings:\n  redact_messages_in_exceptions: true\n");
    al_event e = { .kind = AL_EV_SLOW, .start_ms = T0, .end_ms = T0 + 400000 };
    e.s[AL_ES_MESSAGES] = "my secret prompt";
    al_latency_on_event(g->ctx, &e);
    al_alert *a = g_one(g, AL_T_LLM_TOO_SLOW);
    has(a->message, "Messages: `Message not logged. litellm.redact_messages_in_exceptions=True`");
    assert_null(strstr(a->message, "secret prompt"));
    g_free(g);
}

/* ---- llm_requests_hanging: the wheel's due timer ---------------------------------- */

static void hanging_from_due_timer(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    alert_req_id id = start_request(g, "call-1");
    g->now = T0 + 300000;
    al_latency_on_due(g->ctx, idx_of(id), gen_of(id), g->now);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_LLM_REQUESTS_HANGING);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    assert_int_equal(a->at_ms, T0 + 300000);
    assert_true(a->duration_s == 300.0);
    has(a->message, "`Requests are hanging - 300s+ request time`");
    has(a->message, "\nRequest Model: `gpt-4`\nAPI Base: `https://api.openai.example/v1`\n"
                    "Key Alias: `prod-key`\nTeam Alias: `search`\nRequest ID: `call-1`\n"
                    "Elapsed: `300.00s`");
    assert_string_equal(a->model, "gpt-4");
    assert_string_equal(a->deployment, "azure/gpt-4-eu");
    assert_string_equal(a->call_id, "call-1");
    assert_non_null(a->metadata_json);
    has(a->metadata_json, "\"runbook\"");
    /* the slot knows it was alerted (for the resolved alert) and goes on */
    al_slot *s = al_inflight_slot(g->ctx->inflight, idx_of(id));
    assert_int_equal(atomic_load(&s->hang_alerted), 1);
    g_settle(g, 1);

    /* a request that ended before its timer says nothing */
    alert_req_id done = start_request(g, "call-2");
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.end_ms = g->now + 1000;
    assert_int_equal(alert_on_request_end(g->ctx, done, &resp), ALERT_OK);
    al_latency_on_due(g->ctx, idx_of(done), gen_of(done), g->now + 300000);
    assert_int_equal(g->n, 0);
    assert_int_equal(alert_on_request_cancel(g->ctx, id), ALERT_OK);
    g_free(g);
}

static void hanging_off_says_nothing(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, "  alert_types: [llm_exceptions]\n");
    alert_req_id id = start_request(g, "call-1");
    al_latency_on_due(g->ctx, idx_of(id), gen_of(id), T0 + 300000);
    assert_int_equal(g->n, 0);
    assert_int_equal(alert_on_request_cancel(g->ctx, id), ALERT_OK);
    g_free(g);
}

/* Through the wheel for real (alert_poll past the threshold), then the request ends:
 * with send_resolved, the hook's resolved event becomes a Low alert. */
static void hanging_then_resolved(void **state)
{
    (void)state;
    glue *g = g_new(NULL, "    send_resolved: true\n", NULL);
    alert_req_id id = start_request(g, "call-9");
    assert_int_equal(alert_poll(g->ctx, 0), ALERT_OK);     /* the start reaches the wheel */
    g->now = T0 + 299000;
    assert_int_equal(alert_poll(g->ctx, 0), ALERT_OK);
    assert_int_equal(g_count(g, AL_T_LLM_REQUESTS_HANGING), 0);
    g->now = T0 + 300000;
    assert_int_equal(alert_poll(g->ctx, 0), ALERT_OK);
    al_alert *a = g_one(g, AL_T_LLM_REQUESTS_HANGING);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    has(a->message, "Request ID: `call-9`");
    g_settle(g, 1);

    g->now = T0 + 400000;
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    assert_int_equal(alert_on_request_end(g->ctx, id, &resp), ALERT_OK);
    assert_int_equal(alert_poll(g->ctx, 0), ALERT_OK);
    assert_int_equal(g_count(g, AL_T_LLM_TOO_SLOW), 1);    /* 400 s is also slow */
    a = g_one(g, AL_T_LLM_REQUESTS_HANGING);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    has(a->message, "`Resolved: hanging request completed after 400.0s`");
    has(a->message, "\nRequest Model: `gpt-4`\nAPI Base: `https://api.openai.example/v1`\n"
                    "Request ID: `call-9`");
    assert_true(a->duration_s == 400.0);
    g_free(g);
}

static void resolved_event_alone(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    al_event e = { .kind = AL_EV_HANG_RESOLVED, .start_ms = T0, .end_ms = T0 + 312340 };
    e.s[AL_ES_MODEL] = "m";
    e.s[AL_ES_CALL_ID] = "c-1";
    al_latency_on_event(g->ctx, &e);
    al_alert *a = g_one(g, AL_T_LLM_REQUESTS_HANGING);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    assert_int_equal(a->at_ms, T0 + 312340);
    has(a->message, "`Resolved: hanging request completed after 312.34s`");
    has(a->message, "Request ID: `c-1`");
    assert_string_equal(a->call_id, "c-1");
    g_free(g);
}

/* ---- llm_exceptions ---------------------------------------------------------------- */

static void failure_becomes_exception(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    al_event e = { .kind = AL_EV_FAILURE, .status_code = 500, .flags = AL_EVF_EXCEPTION,
                   .start_ms = T0, .end_ms = T0 + 2500 };
    e.s[AL_ES_MODEL] = "gpt-4";
    e.s[AL_ES_DEPLOYMENT] = "azure/gpt-4-eu";
    e.s[AL_ES_API_BASE] = "https://api.openai.example/v1";
    e.s[AL_ES_ERROR_CLASS] = "APIError";
    e.s[AL_ES_MESSAGE] = "upstream said: Incorrect API key sk-proj-abcdefghijklmnop1234 <@U123>";
    e.s[AL_ES_METADATA] = "{\"team\": \"search\", \"token\": \"api_key=hunter2hunter2\"}";
    al_latency_on_event(g->ctx, &e);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_LLM_EXCEPTIONS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->status_code, 500);
    assert_int_equal(a->at_ms, T0 + 2500);
    assert_true(a->duration_s == 2.5);
    has(a->message, "LLM API call failed: `upstream said: Incorrect API key REDACTED &lt;@U123&gt;`");
    has(a->plain, "LLM API call failed: `upstream said: Incorrect API key REDACTED <@U123>`");
    has(a->message, "\nModel: `gpt-4`\nDeployment: `azure/gpt-4-eu`\n"
                    "API Base: `https://api.openai.example/v1`");
    assert_null(strstr(a->message, "abcdefghijklmnop1234"));
    has(a->metadata_json, "\"team\"");
    assert_null(strstr(a->metadata_json, "hunter2"));      /* scrubbed too */
    assert_null(a->settle_key);
    g_settle(g, 1);

    /* no message: the error class; neither: "Unknown error" */
    al_event c = { .kind = AL_EV_FAILURE, .status_code = 503, .flags = AL_EVF_EXCEPTION,
                   .start_ms = T0, .end_ms = T0 };
    c.s[AL_ES_ERROR_CLASS] = "ServiceUnavailable";
    al_latency_on_event(g->ctx, &c);
    c.s[AL_ES_ERROR_CLASS] = NULL;
    al_latency_on_event(g->ctx, &c);
    assert_int_equal(g_count(g, AL_T_LLM_EXCEPTIONS), 2);
    has(g->got[0]->message, "LLM API call failed: `ServiceUnavailable`\nModel: `None`");
    has(g->got[1]->message, "LLM API call failed: `Unknown error`");
    assert_true(g->got[1]->duration_s < 0);                 /* no duration known */
    g_settle(g, 1);

    /* a failure only for the outages (a user error, say) is not an exception */
    al_event o = { .kind = AL_EV_FAILURE, .status_code = 500, .flags = AL_EVF_OUTAGE,
                   .end_ms = T0 };
    al_latency_on_event(g->ctx, &o);
    assert_int_equal(g->n, 0);
    /* bad metadata: dropped and counted, the alert still goes */
    al_event m = { .kind = AL_EV_FAILURE, .status_code = 500, .flags = AL_EVF_EXCEPTION,
                   .end_ms = T0 };
    m.s[AL_ES_METADATA] = "[1, 2]";
    al_latency_on_event(g->ctx, &m);
    a = g_one(g, AL_T_LLM_EXCEPTIONS);
    assert_null(a->metadata_json);
    assert_int_equal(atomic_load(&g->ctx->n.metadata_dropped), 1);
    g_free(g);
}

/* ---- alert_emit --------------------------------------------------------------------- */

static void emitted_event(void **state)
{
    (void)state;
    glue *g = g_new(NULL, NULL, NULL);
    al_event e = { .kind = AL_EV_EMIT, .level = ALERT_LEVEL_MEDIUM, .end_ms = T0 + 5 };
    e.s[AL_ES_ALERT_TYPE] = "db_exceptions";
    e.s[AL_ES_MESSAGE] = "replica lag > 30s; password=hunter22 & <b>";
    e.s[AL_ES_METADATA] = "{\"replica\": \"db-2\"}";
    al_latency_on_event(g->ctx, &e);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_DB_EXCEPTIONS);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);        /* the host's level, not the type's */
    assert_int_equal(a->at_ms, T0 + 5);
    has(a->plain, "replica lag > 30s; password=REDACTED & <b>");
    has(a->message, "replica lag &gt; 30s; password=REDACTED &amp; &lt;b&gt;");
    assert_null(strstr(a->plain, "hunter22"));
    has(a->metadata_json, "\"replica\":\"db-2\"");
    assert_null(a->model);
    g_settle(g, 1);

    /* an unknown type raises nothing */
    e.s[AL_ES_ALERT_TYPE] = "no_such_type";
    al_latency_on_event(g->ctx, &e);
    assert_int_equal(g->n, 0);
    /* events of other modules are not latency's */
    al_event db = { .kind = AL_EV_DB_ERROR, .end_ms = T0 };
    db.s[AL_ES_MESSAGE] = "x";
    al_latency_on_event(g->ctx, &db);
    assert_int_equal(g->n, 0);
    g_free(g);
}

/* ---- PagerDuty's aggregates --------------------------------------------------------- */

#define PD_ARGS "    pagerduty_api_key: \"R0UTINGKEY0123456789abcdefabcdef\"\n" \
                "    pagerduty_url: \"http://127.0.0.1:9/v2/enqueue\"\n" \
                "    failure_threshold: 3\n    failure_threshold_window_seconds: 60\n" \
                "    hanging_threshold_seconds: 60\n    hanging_threshold_fails: 2\n" \
                "    hanging_threshold_window_seconds: 600\n"

static void pd_failure(glue *g, int64_t at)
{
    al_event e = { .kind = AL_EV_FAILURE, .status_code = 500, .flags = AL_EVF_PAGERDUTY,
                   .start_ms = at, .end_ms = at };
    e.s[AL_ES_MODEL] = "gpt-4";
    al_latency_on_event(g->ctx, &e);
}

static void pagerduty_failure_rate_page(void **state)
{
    (void)state;
    glue *g = g_new("slack, pagerduty", PD_ARGS, NULL);
    assert_int_equal(g->ctx->pagerduty_on, 1);
    pd_failure(g, T0);
    pd_failure(g, T0 + 1000);
    assert_int_equal(g->n, 0);              /* a failure alone is no page (nor an exception) */
    pd_failure(g, T0 + 2000);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_LLM_EXCEPTIONS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_true(a->page != 0);
    assert_int_equal(a->at_ms, T0 + 2000);
    assert_string_equal(a->message, "High LLM API Failure Rate: 3 in the last 60 seconds.");
    assert_string_equal(a->plain, a->message);
    assert_string_equal(a->subject, "High LLM API Failure Rate");
    g_settle(g, 1);
    /* the window starts over; failures wider apart than it never page */
    for (int i = 1; i <= 5; i++)
        pd_failure(g, T0 + 2000 + i * 61000LL);
    assert_int_equal(g->n, 0);
    /* with an exception flag too: the exception alert and, on the third, the page */
    for (int i = 0; i < 3; i++) {
        al_event e = { .kind = AL_EV_FAILURE, .status_code = 500,
                       .flags = AL_EVF_PAGERDUTY | AL_EVF_EXCEPTION, .end_ms = T0 + 900000 + i };
        e.s[AL_ES_MESSAGE] = "boom";
        al_latency_on_event(g->ctx, &e);
    }
    assert_int_equal(g->n, 4);
    size_t pages = 0;
    for (size_t i = 0; i < g->n; i++)
        pages += g->got[i]->page != 0;
    assert_int_equal(pages, 1);
    g_free(g);
}

static void pagerduty_page_off_is_filtered(void **state)
{
    (void)state;
    glue *g = g_new("slack, pagerduty", PD_ARGS, "  alert_types: [outage_alerts]\n");
    for (int i = 0; i < 3; i++)
        pd_failure(g, T0 + i);
    assert_int_equal(g->n, 0);
    assert_int_equal(atomic_load(&g->ctx->n.alerts_filtered), 1);
    g_free(g);
}

static void pagerduty_hanging_page(void **state)
{
    (void)state;
    glue *g = g_new("slack, pagerduty", PD_ARGS, NULL);
    alert_req_id ended = start_request(g, "c0");
    alert_req_id a1 = start_request(g, "c1");
    alert_req_id a2 = start_request(g, "c2");
    assert_int_equal(alert_on_request_cancel(g->ctx, ended), ALERT_OK);
    int64_t due = T0 + 60000;
    al_latency_on_pd_due(g->ctx, idx_of(ended), gen_of(ended), due);   /* finished in time */
    al_latency_on_pd_due(g->ctx, idx_of(a1), gen_of(a1), due);
    assert_int_equal(g->n, 0);              /* one hanging: not two */
    al_latency_on_pd_due(g->ctx, idx_of(a2), gen_of(a2), due + 1);
    assert_int_equal(g->n, 1);
    al_alert *a = g_one(g, AL_T_LLM_REQUESTS_HANGING);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_true(a->page != 0);
    assert_int_equal(a->at_ms, due + 1);
    assert_string_equal(a->message, "High Number of Hanging LLM Requests: 2 in the last 600 seconds.");
    assert_string_equal(a->subject, "High Number of Hanging LLM Requests");
    assert_int_equal(alert_on_request_cancel(g->ctx, a1), ALERT_OK);
    assert_int_equal(alert_on_request_cancel(g->ctx, a2), ALERT_OK);
    g_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slow_request_alert),
        cmocka_unit_test(slow_messages_redacted),
        cmocka_unit_test(hanging_from_due_timer),
        cmocka_unit_test(hanging_off_says_nothing),
        cmocka_unit_test(hanging_then_resolved),
        cmocka_unit_test(resolved_event_alone),
        cmocka_unit_test(failure_becomes_exception),
        cmocka_unit_test(emitted_event),
        cmocka_unit_test(pagerduty_failure_rate_page),
        cmocka_unit_test(pagerduty_page_off_is_filtered),
        cmocka_unit_test(pagerduty_hanging_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
