/* SPDX-License-Identifier: MIT */
/* Outage windows (outage.c): minor and major per deployment and region, episodes
 * and their end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "alerting.h"
#include "alloc.h"
#include "outage.h"

#define S 1000      /* ms per second */

static al_outage_conf defaults(void)
{
    al_outage_conf c = {
        .ttl_s = 60, .region_ttl_s = 60, .minor = 5, .major = 10, .max_tracked = 10000,
        .send_resolved = 0, .deployments_on = 1, .regions_on = 1,
    };
    return c;
}

static al_outage *make(const al_outage_conf *c)
{
    al_outage *o = NULL;
    assert_int_equal(al_outage_new(c, &o), ALERT_OK);
    assert_non_null(o);
    return o;
}

/* The alerts of one call, kept until the test frees them. */
typedef struct got {
    al_alert *v[64];
    size_t n;
} got;

static void got_add(got *g, al_alert **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(g->n < 64);
        g->v[g->n++] = v[i];
    }
    al_free(v);
}

static void got_free(got *g)
{
    for (size_t i = 0; i < g->n; i++)
        al_alert_free(g->v[i]);
    g->n = 0;
}

static size_t feed(al_outage *o, got *g, const char *dep_id, const char *region, int status,
                   int64_t at_ms)
{
    al_outage_failure f = {
        .model = "gpt-4", .deployment = "azure/gpt-4-eu", .deployment_id = dep_id,
        .provider = "azure", .api_base = "https://eu.example.com", .region = region,
        .status_code = status, .at_ms = at_ms,
    };
    al_alert **v = NULL;
    size_t n = 99;
    assert_int_equal(al_outage_on_failure(o, &f, &v, &n), ALERT_OK);
    if (n == 0)
        assert_null(v);
    got_add(g, v, n);
    return n;
}

static size_t tick(al_outage *o, got *g, int64_t now)
{
    al_alert **v = NULL;
    size_t n = 99;
    assert_int_equal(al_outage_tick(o, now, &v, &n), ALERT_OK);
    got_add(g, v, n);
    return n;
}

#define MINOR_HEAD "\n\n\n*\xE2\x9A\xA0\xEF\xB8\x8F Minor Service Outage*\n\n"
#define MAJOR_HEAD "\n\n\n*\xE2\x9A\xA0\xEF\xB8\x8F Major Service Outage*\n\n"
#define DEP_FIELDS "\n*Model Name:* `azure/gpt-4-eu`\n*Provider:* `azure`\n" \
                   "*API Base:* `https://eu.example.com`\n"

static void test_minor_then_major_once(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    int64_t t0 = 1700000000000;
    for (int i = 1; i <= 4; i++)
        assert_int_equal(feed(o, &g, "dep-1", NULL, 500, t0 + i * S), 0);
    assert_int_equal(feed(o, &g, "dep-1", NULL, 500, t0 + 5 * S), 1);
    al_alert *a = g.v[0];
    assert_int_equal(a->type, AL_T_OUTAGE_ALERTS);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    assert_int_equal(a->severity_major, 0);
    assert_int_equal(a->resolved, 0);
    assert_int_equal(a->at_ms, t0 + 5 * S);
    assert_string_equal(a->message,
                        MINOR_HEAD DEP_FIELDS "\n\n*Errors:*\n\nAPI Errors: 5\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    assert_string_equal(a->plain, a->message);
    assert_string_equal(a->subject, "deployment dep-1");
    assert_string_equal(a->model, "gpt-4");
    assert_string_equal(a->deployment, "azure/gpt-4-eu");
    assert_string_equal(a->provider, "azure");
    assert_string_equal(a->api_base, "https://eu.example.com");
    assert_null(a->region);
    for (int i = 6; i <= 9; i++)
        assert_int_equal(feed(o, &g, "dep-1", NULL, 500, t0 + i * S), 0);
    assert_int_equal(feed(o, &g, "dep-1", NULL, 500, t0 + 10 * S), 1);
    a = g.v[1];
    assert_int_equal(a->type, AL_T_OUTAGE_ALERTS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->severity_major, 1);
    assert_string_equal(a->message,
                        MAJOR_HEAD DEP_FIELDS "\n\n*Errors:*\n\nAPI Errors: 10\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    assert_string_equal(a->subject, "deployment dep-1");
    for (int i = 11; i <= 50; i++)
        assert_int_equal(feed(o, &g, "dep-1", NULL, 500, t0 + i * S), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(al_outage_tracked(o), 1);
    got_free(&g);
    al_outage_free(o);
}

static void test_61s_apart_never(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 0; i < 30; i++)
        assert_int_equal(feed(o, &g, "dep-1", "eu-west-1", 500, i * 61 * S), 0);
    /* exactly one window apart is outside it too: (now - ttl, now] */
    for (int i = 0; i < 30; i++)
        assert_int_equal(feed(o, &g, "dep-2", NULL, 408, 5000 * S + i * 60 * S), 0);
    assert_int_equal(g.n, 0);
    al_outage_free(o);
}

static void test_real_sliding_window(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    const int64_t at[] = { 0, 10, 20, 30, 65 };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        assert_int_equal(feed(o, &g, "d", NULL, 500, at[i] * S), 0);
    /* (6 s, 66 s] holds 10, 20, 30, 65, 66: five */
    assert_int_equal(feed(o, &g, "d", NULL, 503, 66 * S), 1);
    assert_int_equal(g.v[0]->level, ALERT_LEVEL_MEDIUM);
    got_free(&g);
    al_outage_free(o);
}

static void test_statuses_that_do_not_count(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    const int ignored[] = { 0, 200, 400, 401, 403, 404, 409, 422, 429, 499 };
    for (size_t k = 0; k < sizeof ignored / sizeof ignored[0]; k++)
        for (int i = 0; i < 20; i++)
            assert_int_equal(feed(o, &g, "dep-1", "us-central1", ignored[k], i * S), 0);
    assert_int_equal(al_outage_tracked(o), 0);
    assert_int_equal(al_outage_regions_tracked(o), 0);
    assert_int_equal(al_outage_counted(408), 1);
    assert_int_equal(al_outage_counted(500), 1);
    assert_int_equal(al_outage_counted(599), 1);
    assert_int_equal(al_outage_counted(429), 0);
    /* 408 alone counts, as timeouts */
    for (int i = 1; i <= 5; i++)
        feed(o, &g, "dep-1", NULL, 408, 100 * S + i * S);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0]->message,
                        MINOR_HEAD DEP_FIELDS "\n\n*Errors:*\n\nTimeout Errors: 5\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    got_free(&g);
    al_outage_free(o);
}

static size_t fail_vertex(al_outage *o, got *g, const char *dep, const char *region, int status,
                          int64_t at)
{
    al_outage_failure f = {
        .model = "gemini-pro", .deployment = "vertex_ai/gemini-pro", .deployment_id = dep,
        .provider = "vertex_ai", .api_base = NULL, .region = region, .status_code = status,
        .at_ms = at,
    };
    al_alert **v = NULL;
    size_t n = 0;
    assert_int_equal(al_outage_on_failure(o, &f, &v, &n), ALERT_OK);
    got_add(g, v, n);
    return n;
}

static void test_region_two_deployments(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 0; i < 6; i++)
        fail_vertex(o, &g, i % 2 ? "vertex-b" : "vertex-a", "us-central1", i % 2 ? 408 : 500,
                    i * S);
    assert_int_equal(g.n, 1);
    al_alert *a = g.v[0];
    assert_int_equal(a->type, AL_T_REGION_OUTAGE_ALERTS);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    assert_int_equal(a->severity_major, 0);
    assert_string_equal(a->message,
                        MINOR_HEAD "\n*Region Name:* `us-central1`\n*Provider:* `vertex_ai`\n"
                        "\n\n*Errors:*\n\nTimeout Errors: 2\n\nAPI Errors: 3\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    assert_string_equal(a->subject, "region vertex_ai/us-central1");
    assert_string_equal(a->region, "us-central1");
    assert_string_equal(a->provider, "vertex_ai");
    assert_null(a->api_base);
    assert_int_equal(al_outage_tracked(o), 2);
    assert_int_equal(al_outage_regions_tracked(o), 1);
    /* four more (ten in all) make it Major, once */
    for (int i = 6; i < 20; i++)
        fail_vertex(o, &g, i % 2 ? "vertex-b" : "vertex-a", "us-central1", 500, i * S);
    /* per deployment: ten each by i = 19, so one Minor and one Major each */
    size_t region_major = 0, dep_alerts = 0;
    for (size_t i = 1; i < g.n; i++) {
        if (g.v[i]->type == AL_T_REGION_OUTAGE_ALERTS) {
            assert_int_equal(g.v[i]->severity_major, 1);
            assert_int_equal(g.v[i]->level, ALERT_LEVEL_HIGH);
            region_major++;
        } else {
            dep_alerts++;
        }
    }
    assert_int_equal(region_major, 1);
    assert_int_equal(dep_alerts, 4);
    got_free(&g);
    al_outage_free(o);
}

static void test_region_one_deployment_none(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.deployments_on = 0;
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 0; i < 30; i++)
        fail_vertex(o, &g, "vertex-a", "us-central1", 500, i * S);
    assert_int_equal(g.n, 0);
    assert_int_equal(al_outage_tracked(o), 0);
    /* a second deployment whose failure is outside the window does not count */
    al_outage_free(o);
    o = make(&c);
    fail_vertex(o, &g, "vertex-a", "us-central1", 500, 0);
    const int64_t b_at[] = { 50, 70, 75, 80, 85, 90 };
    for (size_t i = 0; i < 6; i++)
        fail_vertex(o, &g, "vertex-b", "us-central1", 500, b_at[i] * S);
    assert_int_equal(g.n, 0);
    /* now a again: two deployments within (35, 95], seven failures */
    assert_int_equal(fail_vertex(o, &g, "vertex-a", "us-central1", 500, 95 * S), 1);
    assert_int_equal(g.v[0]->type, AL_T_REGION_OUTAGE_ALERTS);
    assert_int_equal(g.v[0]->severity_major, 0);
    got_free(&g);
    al_outage_free(o);
}

static void test_no_region_none(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.deployments_on = 0;
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 0; i < 30; i++) {
        fail_vertex(o, &g, i % 2 ? "openai-a" : "openai-b", NULL, 500, i * S);
        fail_vertex(o, &g, i % 2 ? "openai-a" : "openai-b", "", 500, i * S);
    }
    assert_int_equal(g.n, 0);
    assert_int_equal(al_outage_regions_tracked(o), 0);
    al_outage_free(o);
}

static void test_no_deployment_key_ignored(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    al_outage_failure f = { .model = "m", .status_code = 500, .region = "r", .at_ms = 0 };
    for (int i = 0; i < 20; i++) {
        al_alert **v = NULL;
        size_t n = 0;
        f.at_ms = i * S;
        assert_int_equal(al_outage_on_failure(o, &f, &v, &n), ALERT_OK);
        assert_int_equal(n, 0);
    }
    assert_int_equal(al_outage_tracked(o), 0);
    /* deployment name without id: the name identifies it */
    f.deployment = "azure/x";
    got g = { .n = 0 };
    for (int i = 0; i < 5; i++) {
        al_alert **v = NULL;
        size_t n = 0;
        f.at_ms = 100 * S + i * S;
        assert_int_equal(al_outage_on_failure(o, &f, &v, &n), ALERT_OK);
        got_add(&g, v, n);
    }
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0]->subject, "deployment azure/x");
    /* no provider, no api base: None, and no API Base line (LiteLLM) */
    assert_string_equal(g.v[0]->message,
                        MINOR_HEAD "\n*Model Name:* `azure/x`\n*Provider:* `None`\n"
                        "\n\n*Errors:*\n\nAPI Errors: 5\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    got_free(&g);
    al_outage_free(o);
}

static void test_new_episode_after_quiet_window(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 1; i <= 5; i++)
        feed(o, &g, "dep-1", NULL, 500, i * S);
    assert_int_equal(g.n, 1);
    /* quiet for exactly one window after the last failure (5 s): no tick needed */
    for (int i = 0; i < 5; i++)
        feed(o, &g, "dep-1", NULL, 500, 65 * S + i * S);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.v[1]->level, ALERT_LEVEL_MEDIUM);
    /* and with the tick ending it */
    assert_int_equal(tick(o, &g, 129 * S - 1), 0);
    assert_int_equal(al_outage_tracked(o), 1);
    assert_int_equal(tick(o, &g, 129 * S), 0);      /* send_resolved off: ends silently */
    assert_int_equal(al_outage_tracked(o), 0);
    for (int i = 0; i < 5; i++)
        feed(o, &g, "dep-1", NULL, 500, 200 * S + i * S);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.v[2]->level, ALERT_LEVEL_MEDIUM);
    got_free(&g);
    al_outage_free(o);
}

static void test_recovered_message(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.send_resolved = 1;
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 1; i <= 10; i++)
        feed(o, &g, "dep-1", NULL, i % 2 ? 500 : 408, i * S);
    assert_int_equal(g.n, 2);
    assert_int_equal(al_outage_next_due(o), 70 * S);
    assert_int_equal(tick(o, &g, 70 * S - 1), 0);
    assert_int_equal(tick(o, &g, 70 * S), 1);
    al_alert *a = g.v[2];
    assert_int_equal(a->type, AL_T_OUTAGE_ALERTS);
    assert_int_equal(a->resolved, 1);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->severity_major, 1);
    assert_int_equal(a->at_ms, 70 * S);
    assert_string_equal(a->subject, "deployment dep-1");
    assert_string_equal(a->message,
                        "\n\n\n*\xE2\x9C\x85 Service Recovered*\n\n" DEP_FIELDS
                        "\n\nNo Timeout or API Errors for 60s after a Major Service Outage.\n\n\n");
    assert_string_equal(a->api_base, "https://eu.example.com");
    assert_int_equal(al_outage_tracked(o), 0);
    assert_int_equal(al_outage_next_due(o), INT64_MAX);
    assert_int_equal(tick(o, &g, 1000 * S), 0);
    /* an episode without an alert ends silently */
    for (int i = 0; i < 4; i++)
        feed(o, &g, "dep-2", NULL, 500, 2000 * S + i * S);
    assert_int_equal(tick(o, &g, 3000 * S), 0);
    /* Minor only, ended by the next failure rather than a tick */
    for (int i = 0; i < 5; i++)
        feed(o, &g, "dep-3", NULL, 500, 4000 * S + i * S);
    assert_int_equal(g.n, 4);
    assert_int_equal(feed(o, &g, "dep-3", NULL, 500, 4100 * S), 1);
    a = g.v[4];
    assert_int_equal(a->resolved, 1);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    assert_int_equal(a->severity_major, 0);
    assert_non_null(strstr(a->message, "after a Minor Service Outage."));
    got_free(&g);
    al_outage_free(o);
}

static void test_region_recovered(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.send_resolved = 1;
    c.deployments_on = 0;
    c.region_ttl_s = 30.5;
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 0; i < 5; i++)
        fail_vertex(o, &g, i % 2 ? "b" : "a", "europe-west4", 500, i * S);
    assert_int_equal(g.n, 1);
    assert_int_equal(tick(o, &g, 4 * S + 30500), 1);
    assert_string_equal(g.v[1]->message,
                        "\n\n\n*\xE2\x9C\x85 Service Recovered*\n\n"
                        "\n*Region Name:* `europe-west4`\n*Provider:* `vertex_ai`\n"
                        "\n\nNo Timeout or API Errors for 30.5s after a Minor Service Outage.\n\n\n");
    assert_int_equal(g.v[1]->type, AL_T_REGION_OUTAGE_ALERTS);
    assert_string_equal(g.v[1]->subject, "region vertex_ai/europe-west4");
    got_free(&g);
    al_outage_free(o);
}

static void test_lru_eviction(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.max_tracked = 3;
    c.regions_on = 0;
    al_outage *o = make(&c);
    got g = { .n = 0 };
    for (int i = 0; i < 4; i++)
        feed(o, &g, "d2", NULL, 500, i * S);
    feed(o, &g, "d1", NULL, 500, 10 * S);
    feed(o, &g, "d3", NULL, 500, 11 * S);
    assert_int_equal(al_outage_tracked(o), 3);
    assert_int_equal(al_outage_evicted(o), 0);
    feed(o, &g, "d4", NULL, 500, 12 * S);      /* d2 failed least recently */
    assert_int_equal(al_outage_tracked(o), 3);
    assert_int_equal(al_outage_evicted(o), 1);
    /* d2 starts over: its 5th failure is its first again */
    assert_int_equal(feed(o, &g, "d2", NULL, 500, 13 * S), 0);
    assert_int_equal(al_outage_evicted(o), 2); /* d1 went this time */
    feed(o, &g, "d3", NULL, 500, 14 * S);
    feed(o, &g, "d4", NULL, 500, 15 * S);
    assert_int_equal(al_outage_evicted(o), 2);
    assert_int_equal(g.n, 0);
    al_outage_free(o);

    c.max_tracked = 0;                          /* nothing tracked at all */
    o = make(&c);
    for (int i = 0; i < 20; i++)
        feed(o, &g, "d", NULL, 500, i * S);
    assert_int_equal(g.n, 0);
    assert_int_equal(al_outage_tracked(o), 0);
    al_outage_free(o);
}

static void test_memory_10000_deployments(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    assert_true(al_outage_bytes_per_deployment(&c) <= 1024);
    char id[64];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 10000; i++) {
            snprintf(id, sizeof id, "deployment-%05d", i);
            feed(o, &g, id, "us-east-1", 500, k * 10 * S + i);
        }
    }
    assert_int_equal(al_outage_tracked(o), 10000);
    assert_int_equal(al_outage_evicted(o), 0);
    /* three failures per deployment: none alerts; the one region: a Minor, a Major */
    assert_int_equal(g.n, 2);
    assert_int_equal(g.v[0]->type, AL_T_REGION_OUTAGE_ALERTS);
    size_t per = al_outage_memory(o) / 10000;
    assert_true(per <= 1024);
    snprintf(id, sizeof id, "deployment-x");
    feed(o, &g, id, NULL, 500, 30 * S);
    assert_int_equal(al_outage_tracked(o), 10000);
    assert_int_equal(al_outage_evicted(o), 1);
    assert_int_equal(tick(o, &g, 1000 * S), 0);
    assert_int_equal(al_outage_tracked(o), 0);
    assert_int_equal(al_outage_regions_tracked(o), 0);
    got_free(&g);
    al_outage_free(o);
}

static void test_region_alerts_in_big_fleet(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.deployments_on = 0;
    al_outage *o = make(&c);
    got g = { .n = 0 };
    char id[32];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "d%d", i);
        feed(o, &g, id, "us-east-1", 500, i);
    }
    assert_int_equal(g.n, 2);
    assert_int_equal(g.v[0]->severity_major, 0);
    assert_int_equal(g.v[1]->severity_major, 1);
    assert_int_equal(al_outage_tracked(o), 0);
    assert_int_equal(al_outage_regions_tracked(o), 1);
    got_free(&g);
    al_outage_free(o);
}

static void test_thresholds_and_conf(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.minor = 1;
    c.major = 2;
    al_outage *o = make(&c);
    got g = { .n = 0 };
    assert_int_equal(feed(o, &g, "d", NULL, 500, 0), 1);  /* better than LiteLLM: the first counts */
    assert_int_equal(g.v[0]->severity_major, 0);
    assert_int_equal(feed(o, &g, "d", NULL, 500, 1), 1);
    assert_int_equal(g.v[1]->severity_major, 1);
    got_free(&g);
    al_outage_free(o);

    /* equal thresholds: only the Major */
    c.minor = 3;
    c.major = 3;
    o = make(&c);
    feed(o, &g, "d", NULL, 500, 0);
    feed(o, &g, "d", NULL, 500, 1);
    assert_int_equal(feed(o, &g, "d", NULL, 500, 2), 1);
    assert_int_equal(g.v[0]->severity_major, 1);
    for (int i = 3; i < 20; i++)
        assert_int_equal(feed(o, &g, "d", NULL, 500, i), 0);
    got_free(&g);
    al_outage_free(o);

    /* a major below the minor: Major at the major, never a Minor after it */
    c.minor = 8;
    c.major = 4;
    o = make(&c);
    for (int i = 0; i < 20; i++)
        feed(o, &g, "d", NULL, 500, i);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.v[0]->severity_major, 1);
    got_free(&g);
    al_outage_free(o);

    al_outage *bad = NULL;
    c = defaults();
    c.major = AL_OUTAGE_MAX_THRESHOLD + 1;
    assert_int_equal(al_outage_new(&c, &bad), ALERT_ERR_INVALID);
    assert_null(bad);
    c = defaults();
    c.ttl_s = -1;
    assert_int_equal(al_outage_new(&c, &bad), ALERT_ERR_INVALID);
    c = defaults();
    c.region_ttl_s = INFINITY;
    assert_int_equal(al_outage_new(&c, &bad), ALERT_ERR_INVALID);
    c = defaults();
    c.max_tracked = -1;
    assert_int_equal(al_outage_new(&c, &bad), ALERT_ERR_INVALID);
    assert_int_equal(al_outage_new(NULL, &bad), ALERT_ERR_INVALID);
    c = defaults();
    c.major = AL_OUTAGE_MAX_THRESHOLD;
    o = make(&c);
    al_outage_free(o);
    al_outage_free(NULL);
    assert_int_equal(al_outage_on_failure(NULL, NULL, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(al_outage_tick(NULL, 0, NULL, NULL), ALERT_ERR_INVALID);
    assert_int_equal(al_outage_next_due(NULL), INT64_MAX);
}

static void test_escaping_and_late_events(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    al_outage *o = make(&c);
    got g = { .n = 0 };
    al_outage_failure f = {
        .model = "m", .deployment = "<!channel> & co", .deployment_id = "id-1",
        .provider = "p>", .api_base = "http://h/?a=1&b=2", .status_code = 502, .at_ms = 10 * S,
    };
    for (int i = 0; i < 5; i++) {
        al_alert **v = NULL;
        size_t n = 0;
        /* the last four arrive out of order: they count as the latest */
        f.at_ms = i == 0 ? 10 * S : 9 * S - i;
        assert_int_equal(al_outage_on_failure(o, &f, &v, &n), ALERT_OK);
        got_add(&g, v, n);
    }
    assert_int_equal(g.n, 1);
    assert_string_equal(g.v[0]->message,
                        MINOR_HEAD "\n*Model Name:* `&lt;!channel&gt; &amp; co`\n*Provider:* `p&gt;`\n"
                        "*API Base:* `http://h/?a=1&amp;b=2`\n\n\n*Errors:*\n\nAPI Errors: 5\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    assert_string_equal(g.v[0]->plain,
                        MINOR_HEAD "\n*Model Name:* `<!channel> & co`\n*Provider:* `p>`\n"
                        "*API Base:* `http://h/?a=1&b=2`\n\n\n*Errors:*\n\nAPI Errors: 5\n\n\n*Last Check:* `0.0s ago`\n\n\n");
    assert_int_equal(g.v[0]->at_ms, 10 * S);
    got_free(&g);
    al_outage_free(o);
}

/* Every allocation failing in turn: no leak, no crash, never a duplicate alert. */
static void test_allocation_failures(void **state)
{
    (void)state;
    al_outage_conf c = defaults();
    c.send_resolved = 1;
    for (long n = 0; n < 400; n++) {
        al_outage *o = make(&c);
        size_t minors = 0, majors = 0;
        al_alloc_fail_after(n);
        for (int i = 0; i < 12; i++) {
            al_outage_failure f = {
                .model = "m", .deployment_id = i % 2 ? "a" : "b", .provider = "p",
                .region = "r", .status_code = 500, .at_ms = i,
            };
            al_alert **v = NULL;
            size_t k = 0;
            int rc = al_outage_on_failure(o, &f, &v, &k);
            assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
            for (size_t j = 0; j < k; j++) {
                if (v[j]->severity_major)
                    majors++;
                else
                    minors++;
                al_alert_free(v[j]);
            }
            al_free(v);
        }
        al_alert **v = NULL;
        size_t k = 0;
        int rc = al_outage_tick(o, 1000 * S, &v, &k);
        assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        for (size_t j = 0; j < k; j++)
            al_alert_free(v[j]);
        al_free(v);
        al_alloc_fail_after(-1);
        assert_true(minors <= 3 && majors <= 1);
        al_outage_free(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minor_then_major_once),
        cmocka_unit_test(test_61s_apart_never),
        cmocka_unit_test(test_real_sliding_window),
        cmocka_unit_test(test_statuses_that_do_not_count),
        cmocka_unit_test(test_region_two_deployments),
        cmocka_unit_test(test_region_one_deployment_none),
        cmocka_unit_test(test_no_region_none),
        cmocka_unit_test(test_no_deployment_key_ignored),
        cmocka_unit_test(test_new_episode_after_quiet_window),
        cmocka_unit_test(test_recovered_message),
        cmocka_unit_test(test_region_recovered),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_memory_10000_deployments),
        cmocka_unit_test(test_region_alerts_in_big_fleet),
        cmocka_unit_test(test_thresholds_and_conf),
        cmocka_unit_test(test_escaping_and_late_events),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
