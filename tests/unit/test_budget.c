/* SPDX-License-Identifier: MIT */
/* Budget thresholds, soft budgets, projections and declared budgets (budget.c), and
 * the dedup marks: texts, webhook JSON, ordering, settling and persistence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "budget.h"
#include "sign.h"

/* ---- helpers ------------------------------------------------------------------ */

static int64_t at(int y, int m, int d, int hh)
{
    return (int64_t)al_day_from_civil(y, m, d) * 86400000 + (int64_t)hh * 3600000;
}

#define NOW at(2024, 6, 15, 12)

typedef struct got {
    al_alert **a;
    size_t n;
} got;

/* Finishes every alert as the outbox would: ok = delivered. */
static void got_settle(got *g, int ok)
{
    for (size_t i = 0; i < g->n; i++) {
        g->a[i]->delivered_ok = ok;
        al_alert_free(g->a[i]);
    }
    al_free(g->a);
    g->a = NULL;
    g->n = 0;
}

static alert_budget budget(int entity, const char *id, double spend, double max, double soft)
{
    alert_budget b = ALERT_BUDGET_INIT;
    b.entity = entity;
    b.entity_id = id;
    b.spend = spend;
    b.max_budget = max;
    b.soft_budget = soft;
    return b;
}

static alert_budget key_budget(double spend, double max)
{
    return budget(ALERT_ENTITY_KEY, "hash-1", spend, max, -1);
}

static int observe(al_budgets *b, alert_budget in, int64_t now, got *g)
{
    return al_budgets_observe(b, &in, now, &g->a, &g->n);
}

static al_budgets *defaults(void)
{
    al_budgets *b = al_budgets_new(NULL, NULL, 0);
    assert_non_null(b);
    return b;
}

/* ---- thresholds ---------------------------------------------------------------- */

static void test_86_of_100_fifty_times_one_alert(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    /* a slow delivery: the alert is still pending during all 50 */
    for (int i = 0; i < 50; i++)
        assert_int_equal(observe(b, key_budget(86, 100), NOW, &g), ALERT_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain, "Key Budget: 15% or less of budget remaining\n\n"
                                       "*spend:* `86.0`\n*max_budget:* `100.0`\n"
                                       "*event_group:* `key`\n");
    got_settle(&g, 1);
    for (int i = 0; i < 50; i++)
        assert_int_equal(observe(b, key_budget(86, 100), NOW, &g), ALERT_OK);
    assert_int_equal(g.n, 0);
    al_budgets_free(b);
}

static void test_ten_thousand_during_slow_delivery(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    for (int i = 0; i < 10000; i++)
        observe(b, key_budget(50 + i * 0.001, 100), NOW, &g);
    for (int i = 0; i < 10000; i++)
        observe(b, key_budget(86, 100), NOW, &g);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_85_and_95_texts(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget in = key_budget(85, 100);
    in.key_alias = "my-key";
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain, "Key Budget: 15% or less of budget remaining\n\n"
                                       "*spend:* `85.0`\n*max_budget:* `100.0`\n"
                                       "*key_alias:* `my-key`\n*event_group:* `key`\n");
    assert_string_equal(g.a[0]->message, g.a[0]->plain);
    assert_int_equal(g.a[0]->type, AL_T_BUDGET_ALERTS);
    assert_int_equal(g.a[0]->level, ALERT_LEVEL_HIGH);
    assert_int_equal(g.a[0]->entity, ALERT_ENTITY_KEY);
    assert_string_equal(g.a[0]->subject, "key hash-1");
    got_settle(&g, 1);

    in.spend = 95;
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain, "Key Budget: 5% or less of budget remaining\n\n"
                                       "*spend:* `95.0`\n*max_budget:* `100.0`\n"
                                       "*key_alias:* `my-key`\n*event_group:* `key`\n");
    assert_non_null(strstr(g.a[0]->webhook_json, "\"event\":\"threshold_crossed\""));
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_just_below_85_is_nothing(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    observe(b, key_budget(84.99, 100), NOW, &g);
    assert_int_equal(g.n, 0);
    assert_int_equal(al_budgets_count(b), 0);   /* no state for quiet entities */
    al_budgets_free(b);
}

static void test_120_crossed_only(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    observe(b, key_budget(120, 100), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain, "Key Budget: Budget Crossed\n Total Budget:`100.0`\n\n"
                                       "*spend:* `120.0`\n*max_budget:* `100.0`\n"
                                       "*event_group:* `key`\n");
    assert_non_null(strstr(g.a[0]->webhook_json, "\"event\":\"budget_crossed\""));
    got_settle(&g, 1);
    /* the steps below were passed over: never sent later */
    observe(b, key_budget(130, 100), NOW, &g);
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 0);
    al_budgets_free(b);
}

static void test_jump_80_to_101(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    observe(b, key_budget(80, 100), NOW, &g);
    assert_int_equal(g.n, 0);
    observe(b, key_budget(101, 100), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->plain, "Budget Crossed"));
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_85_95_100_three_alerts(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    observe(b, key_budget(85, 100), NOW, &g);
    got_settle(&g, 1);
    observe(b, key_budget(95, 100), NOW, &g);
    got_settle(&g, 1);
    observe(b, key_budget(100, 100), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->plain, "Budget Crossed"));
    got_settle(&g, 1);

    /* the same while every delivery is still pending: three alerts, in order */
    al_budgets *b2 = defaults();
    observe(b2, key_budget(85, 100), NOW, &g);
    observe(b2, key_budget(95, 100), NOW, &g);
    observe(b2, key_budget(100, 100), NOW, &g);
    observe(b2, key_budget(100, 100), NOW, &g);
    assert_int_equal(g.n, 3);
    assert_non_null(strstr(g.a[0]->plain, "15% or less"));
    assert_non_null(strstr(g.a[1]->plain, "5% or less"));
    assert_non_null(strstr(g.a[2]->plain, "Budget Crossed"));
    got_settle(&g, 1);
    al_budgets_free(b2);
    al_budgets_free(b);
}

static void test_failed_delivery_rearms(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 1);
    got_settle(&g, 0);                      /* every destination failed */
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 1);               /* raised again */
    got_settle(&g, 1);
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 0);

    al_budgets_free(b);

    /* a lower step re-armed by a failure stays quiet once a higher one is sent */
    b = defaults();
    got low = { 0 };
    observe(b, key_budget(86, 100), NOW, &low);     /* 85 % pending */
    observe(b, key_budget(96, 100), NOW, &g);       /* 95 % pending */
    assert_int_equal(low.n, 1);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    got_settle(&low, 0);                            /* 85 % re-armed */
    observe(b, key_budget(96, 100), NOW, &g);
    observe(b, key_budget(86, 100), NOW, &g);       /* a correction downwards */
    assert_int_equal(g.n, 0);
    al_budgets_free(b);
}

static void test_soft_budget_exact_text(void **state)
{
    (void)state;
    /* reference 4.3 step 9, LiteLLM's test_soft_budget_alerts */
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget in = budget(ALERT_ENTITY_KEY, "test_token", 80, -1, 80);
    in.key_hash = "test_token";
    in.user_id = "test@test.com";
    in.user_email = "test@test.com";
    in.key_alias = "test-key";
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain, "Soft Budget Crossed: Total Soft Budget:`80.0`\n"
                                       "\n"
                                       "*spend:* `80.0`\n"
                                       "*soft_budget:* `80.0`\n"
                                       "*user_id:* `test@test.com`\n"
                                       "*user_email:* `test@test.com`\n"
                                       "*key_alias:* `test-key`\n"
                                       "*event_group:* `key`\n");
    assert_string_equal(g.a[0]->webhook_json,
        "{\"spend\":80.0,\"max_budget\":null,\"soft_budget\":80.0,\"token\":\"test_token\","
        "\"customer_id\":null,\"user_id\":\"test@test.com\",\"team_id\":null,\"team_alias\":null,"
        "\"organization_id\":null,\"user_email\":\"test@test.com\",\"key_alias\":\"test-key\","
        "\"projected_exceeded_date\":null,\"projected_spend\":null,\"event_group\":\"key\","
        "\"alert_emails\":null,\"event\":\"soft_budget_crossed\","
        "\"event_message\":\"Soft Budget Crossed: Total Soft Budget:`80.0`\"}");
    assert_int_equal(g.a[0]->emails.n, 1);
    assert_string_equal(g.a[0]->emails.items[0], "test@test.com");
    got_settle(&g, 1);
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 0);
    al_budgets_free(b);
}

static void test_webhook_json_litellm_example(void **state)
{
    (void)state;
    /* reference 4.1: spend 1, max_budget 0, user budget */
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget in = budget(ALERT_ENTITY_USER, "default_user_id", 1, 0, -1);
    in.key_hash = "sk-1234";
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    char tok[65];
    al_sha256_hex("sk-1234", 7, tok);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"spend\":1.0,\"max_budget\":0.0,\"soft_budget\":null,\"token\":\"%s\","
             "\"customer_id\":null,\"user_id\":\"default_user_id\",\"team_id\":null,"
             "\"team_alias\":null,\"organization_id\":null,\"user_email\":null,\"key_alias\":null,"
             "\"projected_exceeded_date\":null,\"projected_spend\":null,\"event_group\":\"user\","
             "\"alert_emails\":null,\"event\":\"budget_crossed\","
             "\"event_message\":\"User Budget: Budget Crossed\\n Total Budget:`0.0`\"}", tok);
    assert_string_equal(g.a[0]->webhook_json, want);
    assert_null(strstr(g.a[0]->plain, "sk-1234"));
    assert_null(strstr(g.a[0]->webhook_json, "sk-1234"));
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_prefixes_per_entity(void **state)
{
    (void)state;
    static const struct { int entity; const char *prefix, *group; } cases[] = {
        { ALERT_ENTITY_KEY, "Key Budget: ", "key" },
        { ALERT_ENTITY_USER, "User Budget: ", "user" },
        { ALERT_ENTITY_END_USER, "Customer Budget: ", "end_user" },
        { ALERT_ENTITY_TEAM, "Team Budget: ", "team" },
        { ALERT_ENTITY_TEAM_MEMBER, "Team Member Budget: ", "team_member" },
        { ALERT_ENTITY_ORGANIZATION, "Organization Budget: ", "organization" },
        { ALERT_ENTITY_PROJECT, "Project Budget: ", "project" },
        { ALERT_ENTITY_PROXY, "Proxy Budget: ", "proxy" },
    };
    al_budgets *b = defaults();
    got g = { 0 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        observe(b, budget(cases[i].entity, NULL, 200, 100, -1), NOW, &g);
        assert_int_equal(g.n, 1);
        char want[256];
        snprintf(want, sizeof want, "%sBudget Crossed\n Total Budget:`100.0`\n\n", cases[i].prefix);
        assert_memory_equal(g.a[0]->plain, want, strlen(want));
        snprintf(want, sizeof want, "\"event_group\":\"%s\"", cases[i].group);
        assert_non_null(strstr(g.a[0]->webhook_json, want));
        snprintf(want, sizeof want, "%s default_id", cases[i].group);
        assert_string_equal(g.a[0]->subject, want);
        got_settle(&g, 1);
    }
    al_budgets_free(b);
}

static void test_entity_id_fills_its_field(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    observe(b, budget(ALERT_ENTITY_TEAM, "team-7", 100, 100, -1), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->plain, "*team_id:* `team-7`\n"));
    assert_non_null(strstr(g.a[0]->webhook_json, "\"team_id\":\"team-7\""));
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_next_period_rearms(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget in = key_budget(120, 100);
    in.budget_reset_at_ms = at(2024, 7, 1, 0);
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 0);
    /* the host's new period */
    in.budget_reset_at_ms = at(2024, 8, 1, 0);
    observe(b, in, at(2024, 7, 2, 0), &g);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    /* a new max_budget is a new period too */
    in.max_budget = 110;
    observe(b, in, at(2024, 7, 2, 0), &g);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->plain, "Total Budget:`110.0`"));
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_settle_of_old_period_ignored(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget in = key_budget(90, 100);
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    got old = g;
    memset(&g, 0, sizeof g);
    in.max_budget = 200;                    /* new period: 90 of 200 is nothing */
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 0);
    got_settle(&old, 0);                    /* the old alert fails: no effect now */
    in.spend = 180;
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);               /* the new period's 85 % */
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_configured_thresholds(void **state)
{
    (void)state;
    const double th[] = { 95, 70.5, 50 };
    const char *const texts[] = { "95", "70.5", "50" };
    al_budgets *b = al_budgets_new(th, texts, 3);
    assert_non_null(b);
    got g = { 0 };
    observe(b, key_budget(50, 100), NOW, &g);
    observe(b, key_budget(71, 100), NOW, &g);
    observe(b, key_budget(96, 100), NOW, &g);
    assert_int_equal(g.n, 3);
    assert_memory_equal(g.a[0]->plain, "Key Budget: 50% of budget used\n\n", 32);
    assert_memory_equal(g.a[1]->plain, "Key Budget: 70.5% of budget used\n\n", 34);
    assert_memory_equal(g.a[2]->plain, "Key Budget: 5% or less of budget remaining\n\n", 44);
    got_settle(&g, 1);
    al_budgets_free(b);

    /* 100 is the crossed step itself; above 100 comes after it */
    const double th2[] = { 100, 150 };
    b = al_budgets_new(th2, NULL, 2);
    observe(b, key_budget(100, 100), NOW, &g);
    observe(b, key_budget(151, 100), NOW, &g);
    assert_int_equal(g.n, 2);
    assert_non_null(strstr(g.a[0]->plain, "Budget Crossed"));
    assert_non_null(strstr(g.a[1]->plain, "Key Budget: 150% of budget used"));
    got_settle(&g, 1);
    al_budgets_free(b);

    const double bad[] = { NAN };
    assert_null(al_budgets_new(bad, NULL, 1));
}

static void test_soft_and_max_together(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    /* soft 40 and 86 of 100 at once: both, the smaller amount first */
    observe(b, budget(ALERT_ENTITY_TEAM, "t", 86, 100, 40), NOW, &g);
    assert_int_equal(g.n, 2);
    assert_memory_equal(g.a[0]->plain, "Soft Budget Crossed: Total Soft Budget:`40.0`", 45);
    assert_memory_equal(g.a[1]->plain, "Team Budget: 15% or less", 24);
    got_settle(&g, 1);
    /* a new soft budget re-arms only the soft mark */
    observe(b, budget(ALERT_ENTITY_TEAM, "t", 86, 100, 50), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.a[0]->plain, "Soft Budget Crossed: Total Soft Budget:`50.0`", 45);
    got_settle(&g, 1);
    al_budgets_free(b);
}

/* issue 12, item 6: soft 80 and max 100 crossed by one observation are ONE alert and one
 * budget_crossed event with LiteLLM's combined message; it settles both marks. */
static void test_soft_and_max_crossed_at_once(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget in = budget(ALERT_ENTITY_KEY, "k", 120, 100, 80);
    in.key_hash = "abc";
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain,
                        "Soft Budget Crossed: Total Soft Budget:`80.0`Budget Crossed\n Total Budget:`100.0`\n\n"
                        "*spend:* `120.0`\n*max_budget:* `100.0`\n*soft_budget:* `80.0`\n"
                        "*event_group:* `key`\n");
    assert_non_null(strstr(g.a[0]->webhook_json, "\"event\":\"budget_crossed\",\"event_message\":"
                           "\"Soft Budget Crossed: Total Soft Budget:`80.0`Budget Crossed\\n Total Budget:`100.0`\"}"));
    /* failed: both marks re-armed, one alert again */
    got_settle(&g, 0);
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.a[0]->plain, "Soft Budget Crossed: Total Soft Budget:`80.0`Budget Crossed", 59);
    /* delivered: both marks sent, nothing more */
    got_settle(&g, 1);
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 0);
    /* a new soft budget re-arms the soft mark only: the soft alert alone */
    in.soft_budget = 90;
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.a[0]->plain, "Soft Budget Crossed: Total Soft Budget:`90.0`\n", 46);
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_invalid_inputs(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    assert_int_equal(observe(b, key_budget(NAN, 100), NOW, &g), ALERT_ERR_INVALID);
    assert_int_equal(observe(b, key_budget(INFINITY, 100), NOW, &g), ALERT_ERR_INVALID);
    assert_int_equal(observe(b, key_budget(90, NAN), NOW, &g), ALERT_ERR_INVALID);
    assert_int_equal(observe(b, key_budget(90, INFINITY), NOW, &g), ALERT_ERR_INVALID);
    assert_int_equal(observe(b, budget(ALERT_ENTITY_KEY, "k", 90, 100, -INFINITY), NOW, &g),
                     ALERT_ERR_INVALID);
    assert_int_equal(observe(b, budget(0, "k", 90, 100, -1), NOW, &g), ALERT_ERR_INVALID);
    assert_int_equal(observe(b, budget(9, "k", 90, 100, -1), NOW, &g), ALERT_ERR_INVALID);
    assert_int_equal(al_budgets_observe(b, NULL, NOW, &g.a, &g.n), ALERT_ERR_INVALID);
    assert_int_equal(g.n, 0);
    assert_int_equal(al_budgets_count(b), 0);

    /* declared budgets: bad costs record nothing */
    alert_budget d = budget(ALERT_ENTITY_KEY, "k", 0, 100, -1);
    assert_int_equal(al_budgets_declare(b, &d, "30d", NOW), ALERT_OK);
    assert_int_equal(al_budgets_add_spend(b, ALERT_ENTITY_KEY, "k", -1, NOW, &g.a, &g.n),
                     ALERT_ERR_INVALID);
    assert_int_equal(al_budgets_add_spend(b, ALERT_ENTITY_KEY, "k", NAN, NOW, &g.a, &g.n),
                     ALERT_ERR_INVALID);
    assert_int_equal(al_budgets_add_spend(b, ALERT_ENTITY_KEY, "k", INFINITY, NOW, &g.a, &g.n),
                     ALERT_ERR_INVALID);
    alert_spend s = ALERT_SPEND_INIT;
    s.key_hash = "k";
    s.cost = -0.5;
    assert_int_equal(al_budgets_add_spend_all(b, &s, NOW, &g.a, &g.n), ALERT_ERR_INVALID);
    /* exactly 85 reaches the 85 % step: nothing of the rejected costs counted */
    assert_int_equal(al_budgets_add_spend(b, ALERT_ENTITY_KEY, "k", 84.5, NOW, &g.a, &g.n),
                     ALERT_OK);
    assert_int_equal(g.n, 0);
    assert_int_equal(al_budgets_add_spend(b, ALERT_ENTITY_KEY, "k", 0.5, NOW, &g.a, &g.n),
                     ALERT_OK);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    d.max_budget = NAN;
    assert_int_equal(al_budgets_declare(b, &d, "30d", NOW), ALERT_ERR_INVALID);
    d.max_budget = 1;
    assert_int_equal(al_budgets_declare(b, &d, "30x", NOW), ALERT_ERR_INVALID);
    al_budgets_free(b);
}

static void test_zero_and_negative_budgets(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    /* 0 is a real budget: any spend crosses it (spend >= 0, as LiteLLM) */
    observe(b, budget(ALERT_ENTITY_USER, "u1", 1, 0, -1), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.a[0]->plain, "User Budget: Budget Crossed\n Total Budget:`0.0`", 47);
    got_settle(&g, 1);
    observe(b, budget(ALERT_ENTITY_USER, "u2", 0, 0, -1), NOW, &g);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    /* a soft budget of 0 likewise */
    observe(b, budget(ALERT_ENTITY_USER, "u3", 0, -1, 0), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.a[0]->plain, "Soft Budget Crossed: Total Soft Budget:`0.0`", 44);
    got_settle(&g, 1);
    /* < 0: none */
    observe(b, budget(ALERT_ENTITY_USER, "u4", 1e9, -1, -5), NOW, &g);
    assert_int_equal(g.n, 0);
    al_budgets_free(b);
}

/* ---- projection ------------------------------------------------------------------ */

static void test_projection_math(void **state)
{
    (void)state;
    double p;
    char date[11];
    /* day 1: rate = spend */
    assert_int_equal(al_budget_project(10, 100, at(2024, 6, 1, 9), &p, date), 1);
    assert_true(p == 300);                  /* 10 + 10 x 29 */
    assert_string_equal(date, "2024-06-10");    /* + floor(90 / 10) */
    /* day 15: rate = spend / 14 */
    assert_int_equal(al_budget_project(28, 100, at(2024, 6, 15, 9), &p, date), 0);
    assert_true(p == 58);
    assert_int_equal(al_budget_project(56, 100, at(2024, 6, 15, 9), &p, date), 1);
    assert_true(p == 116);
    assert_string_equal(date, "2024-06-26");
    /* the last day: nothing left to project */
    assert_int_equal(al_budget_project(50, 100, at(2024, 6, 30, 23), &p, date), 0);
    assert_true(p == 50);
    /* February of a leap year */
    assert_int_equal(al_budget_project(28, 40, at(2024, 2, 29, 0), &p, date), 0);
    assert_true(p == 28);
    assert_int_equal(al_budget_project(28, 40, at(2024, 2, 15, 0), &p, date), 1);
    assert_true(p == 28 + 2.0 * 14);
    /* December */
    assert_int_equal(al_budget_project(190, 300, at(2024, 12, 20, 0), &p, date), 0);
    assert_true(p == 300);                  /* not over: > is strict */
    assert_int_equal(al_budget_project(209, 300, at(2024, 12, 20, 0), &p, date), 1);
    assert_true(p == 330);
    assert_string_equal(date, "2024-12-28");
    assert_int_equal(al_budget_project(30, 100, at(2024, 12, 31, 0), &p, date), 0);
    assert_string_equal(date, "2025-03-11");    /* the date runs into the next year */
    /* nothing spent: today */
    assert_int_equal(al_budget_project(0, 100, at(2024, 12, 31, 0), &p, date), 0);
    assert_string_equal(date, "2024-12-31");
}

static void test_projection_alert(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget in = budget(ALERT_ENTITY_KEY, "h", 56, 1000, 100);
    in.key_alias = "k";
    observe(b, in, at(2024, 6, 15, 9), &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain, "Key Budget: Projected Limit Exceeded\n\n"
                                       "*spend:* `56.0`\n*max_budget:* `100.0`\n"
                                       "*soft_budget:* `100.0`\n*key_alias:* `k`\n"
                                       "*projected_exceeded_date:* `2024-06-26`\n"
                                       "*projected_spend:* `116.0`\n*event_group:* `key`\n");
    assert_non_null(strstr(g.a[0]->webhook_json,
                           "\"projected_exceeded_date\":\"2024-06-26\",\"projected_spend\":116.0,"));
    /* issue 12, item 6: LiteLLM's fields, max_budget = the soft budget */
    assert_non_null(strstr(g.a[0]->webhook_json, "{\"spend\":56.0,\"max_budget\":100.0,"
                                                 "\"soft_budget\":100.0,"));
    assert_non_null(strstr(g.a[0]->webhook_json, "\"event\":\"projected_limit_exceeded\","
                           "\"event_message\":\"Key Budget: Projected Limit Exceeded\"}"));
    got_settle(&g, 1);
    observe(b, in, at(2024, 6, 16, 9), &g);
    assert_int_equal(g.n, 0);               /* once per period */
    /* a new month's projection is a new warning */
    in.spend = 10;
    observe(b, in, at(2024, 7, 1, 9), &g);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->plain, "Projected Limit Exceeded"));
    got_settle(&g, 1);
    /* December, for a customer */
    observe(b, budget(ALERT_ENTITY_END_USER, "c", 209, -1, 300), at(2024, 12, 20, 0), &g);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.a[0]->plain, "Customer Budget: Projected Limit Exceeded", 41);
    assert_non_null(strstr(g.a[0]->plain, "*projected_exceeded_date:* `2024-12-28`\n"));
    got_settle(&g, 1);
    /* once the soft budget is reached the soft alert speaks, not the projection */
    observe(b, budget(ALERT_ENTITY_END_USER, "d", 300, -1, 300), at(2024, 12, 2, 0), &g);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->webhook_json, "soft_budget_crossed"));
    got_settle(&g, 1);
    al_budgets_free(b);
}

/* ---- escaping, e-mails, keys ------------------------------------------------------ */

static void test_escaping_and_emails(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    const char *const emails[] = { "a@x.com", "o'b@x.com", "u@x.com" };
    alert_budget in = budget(ALERT_ENTITY_TEAM, "t1", 100, 100, -1);
    in.team_alias = "<!channel> & co";
    in.user_email = "u@x.com";
    in.alert_emails = emails;
    in.alert_email_count = 3;
    observe(b, in, NOW, &g);
    assert_int_equal(g.n, 1);
    al_alert *a = g.a[0];
    assert_non_null(strstr(a->plain, "*team_alias:* `<!channel> & co`\n"));
    assert_non_null(strstr(a->message, "*team_alias:* `&lt;!channel&gt; &amp; co`\n"));
    assert_non_null(strstr(a->plain, "*alert_emails:* `['a@x.com', \"o'b@x.com\", 'u@x.com']`\n"));
    assert_non_null(strstr(a->webhook_json, "\"team_alias\":\"<!channel> & co\""));
    assert_non_null(strstr(a->webhook_json,
                           "\"alert_emails\":[\"a@x.com\",\"o'b@x.com\",\"u@x.com\"]"));
    assert_int_equal(a->emails.n, 3);       /* user_email already among them */
    got_settle(&g, 1);
    al_budgets_free(b);
}

static void test_raw_key_is_hashed(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    char tok[65];
    al_sha256_hex("sk-secret", 9, tok);
    observe(b, budget(ALERT_ENTITY_KEY, "sk-secret", 100, 100, -1), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_null(strstr(g.a[0]->webhook_json, "sk-secret"));
    assert_non_null(strstr(g.a[0]->webhook_json, tok));
    assert_null(strstr(g.a[0]->settle_key, "sk-secret"));
    got_settle(&g, 1);
    /* the same key by its hash is the same entity */
    observe(b, budget(ALERT_ENTITY_KEY, tok, 100, 100, -1), NOW, &g);
    assert_int_equal(g.n, 0);
    al_budgets_free(b);
}

/* ---- declared budgets -------------------------------------------------------------- */

static void test_parse_duration(void **state)
{
    (void)state;
    int64_t ms;
    int32_t mo;
    assert_int_equal(al_budget_parse_duration("30s", &ms, &mo), ALERT_OK);
    assert_true(ms == 30000 && mo == 0);
    assert_int_equal(al_budget_parse_duration("5m", &ms, &mo), ALERT_OK);
    assert_true(ms == 300000);
    assert_int_equal(al_budget_parse_duration("2h", &ms, &mo), ALERT_OK);
    assert_true(ms == 7200000);
    assert_int_equal(al_budget_parse_duration("7d", &ms, &mo), ALERT_OK);
    assert_true(ms == 7 * 86400000LL);
    assert_int_equal(al_budget_parse_duration("1mo", &ms, &mo), ALERT_OK);
    assert_true(ms == 0 && mo == 1);
    const char *bad[] = { "", "d", "0d", "-1d", "1.5d", "1 d", "1dd", "1y", "mo", "99999999d" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(al_budget_parse_duration(bad[i], &ms, &mo), ALERT_ERR_INVALID);
}

static void test_declared_daily_period(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget d = budget(ALERT_ENTITY_USER, "alice", 999 /* ignored */, 10, -1);
    d.user_email = "alice@x.com";
    int64_t t0 = at(2024, 6, 15, 10);
    assert_int_equal(al_budgets_declare(b, &d, "1d", t0), ALERT_OK);
    assert_true(al_budgets_is_declared(b, ALERT_ENTITY_USER, "alice"));
    alert_spend s = ALERT_SPEND_INIT;
    s.user_id = "alice";
    s.cost = 4;
    al_budgets_add_spend_all(b, &s, t0 + 1000, &g.a, &g.n);
    al_budgets_add_spend_all(b, &s, t0 + 2000, &g.a, &g.n);
    assert_int_equal(g.n, 0);
    al_budgets_add_spend_all(b, &s, t0 + 3000, &g.a, &g.n);     /* 12 of 10 */
    assert_int_equal(g.n, 1);
    assert_string_equal(g.a[0]->plain, "User Budget: Budget Crossed\n Total Budget:`10.0`\n\n"
                                       "*spend:* `12.0`\n*max_budget:* `10.0`\n"
                                       "*user_id:* `alice`\n*user_email:* `alice@x.com`\n"
                                       "*event_group:* `user`\n");
    got_settle(&g, 1);
    al_budgets_add_spend_all(b, &s, t0 + 4000, &g.a, &g.n);
    assert_int_equal(g.n, 0);
    /* the next day (from 10:00) is a new period, armed again, spend from 0 */
    al_budgets_add_spend_all(b, &s, t0 + 86400000 - 1, &g.a, &g.n);
    assert_int_equal(g.n, 0);
    s.cost = 8.5;
    al_budgets_add_spend_all(b, &s, t0 + 86400000, &g.a, &g.n);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->plain, "15% or less"));
    assert_non_null(strstr(g.a[0]->plain, "*spend:* `8.5`"));
    got_settle(&g, 1);
    /* a cost from the period before is not counted now */
    s.cost = 100;
    al_budgets_add_spend_all(b, &s, t0 + 5000, &g.a, &g.n);
    assert_int_equal(g.n, 0);
    /* re-declared with the same duration: the period and its spend stay */
    assert_int_equal(al_budgets_declare(b, &d, "1d", t0 + 86400000 + 10), ALERT_OK);
    s.cost = 1;
    al_budgets_add_spend_all(b, &s, t0 + 86400000 + 20, &g.a, &g.n);   /* 9.5 of 10 */
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(g.a[0]->plain, "5% or less"));
    got_settle(&g, 1);
    /* undeclared: spend is not tracked */
    assert_int_equal(al_budgets_undeclare(b, ALERT_ENTITY_USER, "alice"), ALERT_OK);
    al_budgets_add_spend_all(b, &s, t0 + 86400000 + 30, &g.a, &g.n);
    assert_int_equal(g.n, 0);
    assert_int_equal(al_budgets_undeclare(b, ALERT_ENTITY_USER, "bob"), ALERT_ERR_NOT_FOUND);
    al_budgets_free(b);
}

static void test_declared_monthly_period(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    alert_budget d = budget(ALERT_ENTITY_PROXY, NULL, 0, 100, -1);
    int64_t t0 = at(2024, 1, 31, 8);        /* periods: Jan 31, Feb 29, Mar 31, Apr 30 */
    assert_int_equal(al_budgets_declare(b, &d, "1mo", t0), ALERT_OK);
    alert_spend s = ALERT_SPEND_INIT;
    s.cost = 100;
    al_budgets_add_spend_all(b, &s, at(2024, 2, 29, 7), &g.a, &g.n);   /* still January's */
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.a[0]->plain, "Proxy Budget: Budget Crossed", 28);
    got_settle(&g, 1);
    al_budgets_add_spend_all(b, &s, at(2024, 2, 29, 8), &g.a, &g.n);   /* February's */
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    al_budgets_add_spend_all(b, &s, at(2024, 3, 30, 23), &g.a, &g.n);
    assert_int_equal(g.n, 0);
    al_budgets_add_spend_all(b, &s, at(2024, 3, 31, 8), &g.a, &g.n);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    al_budgets_add_spend_all(b, &s, at(2024, 4, 30, 8), &g.a, &g.n);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    al_budgets_free(b);
}

/* ---- persistence ----------------------------------------------------------------- */

#define KV_MAX 64
typedef struct kv {
    char *key[KV_MAX];
    char *value[KV_MAX];
    int64_t expires[KV_MAX];
    size_t n;
    int puts, gets;
} kv;

static void kv_put(void *ud, const char *key, const char *value, int64_t expires_ms)
{
    kv *s = ud;
    s->puts++;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->key[i], key) == 0) {
            al_free(s->value[i]);
            s->value[i] = value ? al_strdup(value) : NULL;
            s->expires[i] = expires_ms;
            return;
        }
    assert_true(s->n < KV_MAX);
    s->key[s->n] = al_strdup(key);
    s->value[s->n] = value ? al_strdup(value) : NULL;
    s->expires[s->n] = expires_ms;
    s->n++;
}

static int kv_get(void *ud, const char *key, char **value_out)
{
    kv *s = ud;
    s->gets++;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->key[i], key) == 0 && s->value[i]) {
            *value_out = al_strdup(s->value[i]);
            return ALERT_OK;
        }
    return ALERT_ERR_NOT_FOUND;
}

static void kv_free(kv *s)
{
    for (size_t i = 0; i < s->n; i++) {
        al_free(s->key[i]);
        al_free(s->value[i]);
    }
    memset(s, 0, sizeof *s);
}

static void test_export_import_no_double_fire(void **state)
{
    (void)state;
    al_budgets *b = defaults();
    got g = { 0 };
    observe(b, key_budget(90, 100), NOW, &g);                       /* 85 % sent */
    got_settle(&g, 1);
    observe(b, budget(ALERT_ENTITY_TEAM, "t", 50, -1, 40), NOW, &g); /* soft sent */
    got_settle(&g, 1);
    alert_budget d = budget(ALERT_ENTITY_USER, "u", 0, 10, -1);
    al_budgets_declare(b, &d, "30d", NOW);
    alert_spend s = ALERT_SPEND_INIT;
    s.user_id = "u";
    s.cost = 9;
    al_budgets_add_spend_all(b, &s, NOW, &g.a, &g.n);              /* 85 % sent, spend 9 */
    got_settle(&g, 1);

    kv store = { 0 };
    assert_int_equal(al_budgets_export(b, kv_put, &store), ALERT_OK);
    assert_int_equal(store.n, 3);
    al_budgets_free(b);

    /* a restart */
    b = defaults();
    for (size_t i = 0; i < store.n; i++)
        assert_int_equal(al_budgets_import(b, store.key[i], store.value[i]), ALERT_OK);
    assert_int_equal(al_budgets_count(b), 3);
    observe(b, key_budget(90, 100), NOW, &g);
    observe(b, budget(ALERT_ENTITY_TEAM, "t", 50, -1, 40), NOW, &g);
    assert_int_equal(g.n, 0);
    observe(b, key_budget(96, 100), NOW, &g);                       /* the next step still fires */
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    /* the declared budget kept its period and spend */
    al_budgets_declare(b, &d, "30d", NOW + 1000);
    s.cost = 0.4;
    al_budgets_add_spend_all(b, &s, NOW + 2000, &g.a, &g.n);       /* 9.4: nothing new */
    assert_int_equal(g.n, 0);
    s.cost = 0.2;
    al_budgets_add_spend_all(b, &s, NOW + 3000, &g.a, &g.n);       /* 9.6: the 95 % step */
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);

    assert_int_equal(al_budgets_import(b, "budget|1|x", "garbage"), ALERT_ERR_INVALID);
    assert_int_equal(al_budgets_import(b, "nope", "v1"), ALERT_ERR_INVALID);
    al_budgets_free(b);
    kv_free(&store);
}

static void test_persist_lazy_and_pending(void **state)
{
    (void)state;
    kv store = { 0 };
    al_budgets *b = defaults();
    al_budgets_set_persist(b, kv_put, kv_get, &store);
    got g = { 0 };
    for (int i = 0; i < 100; i++)
        observe(b, key_budget(50, 100), NOW, &g);
    assert_int_equal(store.gets, 0);        /* nothing reachable: no store lookups */
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(store.gets, 1);
    assert_int_equal(al_budgets_flush(b), ALERT_OK);
    assert_int_equal(store.n, 1);
    assert_string_equal(store.key[0], "budget|1|hash-1");
    /* a crash while the alert is pending: the pending mark survives */
    char *pending_key = al_strdup(g.a[0]->settle_key);
    g.a[0]->settle = NULL;                  /* the old process is gone */
    got_settle(&g, 0);
    al_budgets_free(b);

    b = defaults();
    al_budgets_set_persist(b, kv_put, kv_get, &store);
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 0);               /* loaded on demand: pending, not raised again */
    /* the outbox restored the alert and its settle key: a final failure re-arms */
    al_budgets_settle(b, pending_key, 0);
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 1);
    got_settle(&g, 1);
    assert_int_equal(al_budgets_flush(b), ALERT_OK);
    al_free(pending_key);
    al_budgets_free(b);

    b = defaults();
    al_budgets_set_persist(b, kv_put, kv_get, &store);
    observe(b, key_budget(90, 100), NOW, &g);
    assert_int_equal(g.n, 0);               /* sent before the restart */
    al_budgets_free(b);
    kv_free(&store);
}

/* ---- spend_tracked, failed tracking, marks ------------------------------------------ */

static void test_spend_tracked(void **state)
{
    (void)state;
    alert_spend s = ALERT_SPEND_INIT;
    s.cost = 0.0025;
    s.customer_id = "cust-1";
    s.key_hash = "abc";
    s.key_alias = "k";
    char *j = al_budget_spend_tracked_json(&s, -1);
    assert_string_equal(j,
        "{\"spend\":0.0025,\"max_budget\":null,\"soft_budget\":null,\"token\":\"abc\","
        "\"customer_id\":\"cust-1\",\"user_id\":null,\"team_id\":null,\"team_alias\":null,"
        "\"organization_id\":null,\"user_email\":null,\"key_alias\":\"k\","
        "\"projected_exceeded_date\":null,\"projected_spend\":null,\"event_group\":\"end_user\","
        "\"alert_emails\":null,\"event\":\"spend_tracked\","
        "\"event_message\":\"Customer spend tracked. Customer=cust-1, spend=0.0025\"}");
    al_free(j);
    al_alert *a;
    s.customer_id = "<c>";
    assert_int_equal(al_budget_spend_tracked_alert(&s, 5, NOW, &a), ALERT_OK);
    assert_string_equal(a->plain, "Customer spend tracked. Customer=<c>, spend=0.0025");
    assert_string_equal(a->message, "Customer spend tracked. Customer=&lt;c&gt;, spend=0.0025");
    assert_non_null(strstr(a->webhook_json, "\"max_budget\":5.0,"));
    assert_int_equal(a->entity, ALERT_ENTITY_END_USER);
    al_alert_free(a);
    s.customer_id = NULL;
    assert_null(al_budget_spend_tracked_json(&s, -1));
    assert_int_equal(al_budget_spend_tracked_alert(&s, -1, NOW, &a), ALERT_ERR_INVALID);
}

static void test_tracking_failure_once_per_model_per_ttl(void **state)
{
    (void)state;
    al_marks *m = al_marks_new();
    al_alert *a, *b2;
    int64_t ttl = 86400000;
    assert_int_equal(al_tracking_failure_alert(m, "gpt-4", "boom <x>", ttl, NOW, &a), ALERT_OK);
    assert_non_null(a);
    assert_string_equal(a->plain, "Failed Tracking Cost for boom <x>");
    assert_string_equal(a->message, "Failed Tracking Cost for boom &lt;x&gt;");
    assert_int_equal(a->type, AL_T_FAILED_TRACKING_SPEND);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_string_equal(a->model, "gpt-4");
    /* pending: held */
    assert_int_equal(al_tracking_failure_alert(m, "gpt-4", "again", ttl, NOW + 1, &b2), ALERT_OK);
    assert_null(b2);
    /* another model is its own */
    assert_int_equal(al_tracking_failure_alert(m, "claude", "x", ttl, NOW + 1, &b2), ALERT_OK);
    assert_non_null(b2);
    b2->delivered_ok = 0;
    al_alert_free(b2);                      /* failed: re-armed */
    assert_int_equal(al_tracking_failure_alert(m, "claude", "x", ttl, NOW + 2, &b2), ALERT_OK);
    assert_non_null(b2);
    b2->delivered_ok = 1;
    al_alert_free(b2);
    a->delivered_ok = 1;
    al_alert_free(a);
    assert_int_equal(al_tracking_failure_alert(m, "gpt-4", "x", ttl, NOW + ttl - 1, &a), ALERT_OK);
    assert_null(a);
    assert_int_equal(al_tracking_failure_alert(m, "gpt-4", "x", ttl, NOW + ttl, &a), ALERT_OK);
    assert_non_null(a);
    a->delivered_ok = 1;
    al_alert_free(a);
    al_marks_prune(m, NOW + 3 * ttl);
    assert_int_equal(al_marks_count(m), 0);
    al_marks_free(m);
}

static void test_marks_joined_settle_and_persist(void **state)
{
    (void)state;
    kv store = { 0 };
    al_marks *m = al_marks_new();
    al_marks_set_persist(m, kv_put, kv_get, &store);
    char *k1 = al_mark_key("a_", "x\ny", "_1");
    char *k2 = al_mark_key("a_", "z\\", "_1");
    assert_string_equal(k1, "a_x\\ny_1");
    assert_string_equal(k2, "a_z\\\\_1");
    assert_int_equal(al_marks_claim(m, k1, 0, 1000), 1);
    assert_int_equal(al_marks_claim(m, k2, 0, 1000), 1);
    assert_int_equal(al_marks_claim(m, k2, 0, 1000), 0);
    char joined[64];
    snprintf(joined, sizeof joined, "%s\n%s", k1, k2);
    al_marks_settle(m, joined, 0);
    assert_int_equal(al_marks_count(m), 0);
    assert_int_equal(al_marks_claim(m, k1, 0, 1000), 1);
    al_marks_settle(m, k1, 1);
    assert_true(al_marks_held(m, k1, 999));
    assert_false(al_marks_held(m, k1, 1000));
    al_marks_free(m);

    /* a restart: the sent mark comes back from the store on demand */
    m = al_marks_new();
    al_marks_set_persist(m, kv_put, kv_get, &store);
    assert_int_equal(al_marks_claim(m, k1, 10, 1000), 0);
    al_marks_free(m);
    al_free(k1);
    al_free(k2);
    kv_free(&store);
}

/* ---- allocation failures ------------------------------------------------------------ */

static void test_allocation_failures(void **state)
{
    (void)state;
    long fails = 0;
    for (long n = 0; n < 400; n++) {
        al_budgets *b = al_budgets_new(NULL, NULL, 0);
        if (!b)
            continue;
        got g = { 0 };
        const char *const emails[] = { "a@x.com" };
        alert_budget in = budget(ALERT_ENTITY_KEY, "sk-abc", 99, 100, 50);
        in.alert_emails = emails;
        in.alert_email_count = 1;
        in.user_email = "u@x.com";
        alert_budget d = budget(ALERT_ENTITY_USER, "u", 0, 1, -1);
        alert_spend s = ALERT_SPEND_INIT;
        s.user_id = "u";
        s.cost = 2;
        al_alloc_fail_after(n);
        int rc1 = al_budgets_observe(b, &in, NOW, &g.a, &g.n);
        int rc2 = al_budgets_declare(b, &d, "1mo", NOW);
        int rc3 = al_budgets_add_spend_all(b, &s, NOW, &g.a, &g.n);
        al_alloc_fail_after(-1);
        assert_true(rc1 == ALERT_OK || rc1 == ALERT_ERR_NOMEM);
        assert_true(rc2 == ALERT_OK || rc2 == ALERT_ERR_NOMEM);
        assert_true(rc3 == ALERT_OK || rc3 == ALERT_ERR_NOMEM);
        fails += rc1 != ALERT_OK || rc2 != ALERT_OK || rc3 != ALERT_OK;
        if (n == 399)
            assert_int_equal(g.n, 3);       /* the loop went past every allocation */
        got_settle(&g, n % 2);
        al_budgets_free(b);
    }
    assert_true(fails > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_86_of_100_fifty_times_one_alert),
        cmocka_unit_test(test_ten_thousand_during_slow_delivery),
        cmocka_unit_test(test_85_and_95_texts),
        cmocka_unit_test(test_just_below_85_is_nothing),
        cmocka_unit_test(test_120_crossed_only),
        cmocka_unit_test(test_jump_80_to_101),
        cmocka_unit_test(test_85_95_100_three_alerts),
        cmocka_unit_test(test_failed_delivery_rearms),
        cmocka_unit_test(test_soft_budget_exact_text),
        cmocka_unit_test(test_webhook_json_litellm_example),
        cmocka_unit_test(test_prefixes_per_entity),
        cmocka_unit_test(test_entity_id_fills_its_field),
        cmocka_unit_test(test_next_period_rearms),
        cmocka_unit_test(test_settle_of_old_period_ignored),
        cmocka_unit_test(test_configured_thresholds),
        cmocka_unit_test(test_soft_and_max_together),
        cmocka_unit_test(test_soft_and_max_crossed_at_once),
        cmocka_unit_test(test_invalid_inputs),
        cmocka_unit_test(test_zero_and_negative_budgets),
        cmocka_unit_test(test_projection_math),
        cmocka_unit_test(test_projection_alert),
        cmocka_unit_test(test_escaping_and_emails),
        cmocka_unit_test(test_raw_key_is_hashed),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_declared_daily_period),
        cmocka_unit_test(test_declared_monthly_period),
        cmocka_unit_test(test_export_import_no_double_fire),
        cmocka_unit_test(test_persist_lazy_and_pending),
        cmocka_unit_test(test_spend_tracked),
        cmocka_unit_test(test_tracking_failure_once_per_model_per_ttl),
        cmocka_unit_test(test_marks_joined_settle_and_persist),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
