/* SPDX-License-Identifier: MIT */
/* Fleet mode against a real redis-server: replicas of one config in this process,
 * one injected clock, alert_poll. What one replica alone would double-send is sent
 * once; what Redis cannot answer is sent anyway (a duplicate, never a loss). */

#include <fcntl.h>

#include "fleet.h"

static void observe(alert_ctx *ctx, double spend, double max)
{
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "hashed-key-1";
    b.key_alias = "prod-key";
    b.spend = spend;
    b.max_budget = max;
    b.budget_reset_at_ms = T0 + 30 * 86400000LL;
    assert_int_equal(alert_on_budget(ctx, &b), ALERT_OK);
}

/* Three replicas read the same spend from the host's database: one alert per step. */
static void budget_steps_once_per_fleet(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "budget_alerts", NULL);
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], 86, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "15% or less of budget remaining"), 1);
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], 96, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget: 5% or less of budget remaining"), 1);
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 3; i++)
            observe(f->ctx[i], 120, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    assert_int_equal(rcv_count(f->rcv), 3);
    alert_stats st = ALERT_STATS_INIT;
    uint64_t dedup = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(alert_stats_get(f->ctx[i], &st), ALERT_OK);
        dedup += st.alerts_deduplicated;
    }
    assert_true(dedup >= 6);            /* the other replicas' steps, held back */
    f_free(f);
    redis_stop(r);
}

/* The first delivery is refused: the step is re-armed for the fleet and sent again,
 * once, by whichever replica sees it next. */
static void refused_step_is_rearmed_for_the_fleet(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "budget_alerts", NULL);
    rcv_push(f->rcv, 400, NULL, "invalid_payload");
    observe(f->ctx[0], 120, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);      /* refused */
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], 121, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 2);      /* sent again, once */
    for (int i = 0; i < 3; i++)
        observe(f->ctx[i], 122, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 2);
    f_free(f);
    redis_stop(r);
}

/* Redis is away: each replica decides alone (a duplicate per replica), nothing is
 * lost, one warning each; back, and the fleet decides again. */
static void redis_down_means_single_process(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    int port = r->port;
    fleet *f = f_new(2, port, "budget_alerts", "    fleet_claim_timeout: 1\n");
    redis_stop(r);
    for (int i = 0; i < 2; i++)
        observe(f->ctx[i], 120, 100);
    for (int k = 0; k < 3; k++)
        f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 2);      /* each alone: never lost */
    assert_true(f_logged(f, "fleet: lost Redis") + f_logged(f, "unreachable") >= 2);
    int warnings = f_logged(f, "fleet: lost Redis") + f_logged(f, "unreachable");
    for (int k = 0; k < 5; k++)
        f_advance(f, 1000);
    /* once per state change, never per round */
    assert_int_equal(f_logged(f, "fleet: lost Redis") + f_logged(f, "unreachable"), warnings);
    for (int i = 0; i < f->n; i++)
        assert_null(strstr(f->log[i], "redis://"));
    f_free(f);
}

/* Bad or absent Redis configuration: a clear error naming the key, never the password. */
static void configuration_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        const char *says;
    } cases[] = {
        { "    fleet: true\n", "fleet" },
        { "    redis_url: \"http://user:hunter2@127.0.0.1:1\"\n", "redis_url" },
        { "    redis_url: \"redis://user:hunter2@127.0.0.1:99999\"\n", "redis_url" },
        { "    redis_url: \"rediss://user:hunter2@127.0.0.1:6380\"\n", "TLS" },
    };
    unsetenv("REDIS_URL");
    unsetenv("REDIS_HOST");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alert_config *cfg;
        assert_int_equal(alert_config_new(&cfg), ALERT_OK);
        char yaml[512];
        snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [slack]\n  alerting_args:\n"
                 "    worker_threads: 0\n    slack_webhook_url: \"http://127.0.0.1:9/x\"\n%s",
                 cases[i].args);
        alert_error err = ALERT_ERROR_INIT;
        assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
        alert_ctx *ctx = NULL;
        assert_int_equal(alert_ctx_create(&ctx, cfg, &err), ALERT_ERR_CONFIG);
        assert_null(ctx);
        assert_non_null(strstr(err.text, cases[i].says));
        assert_null(strstr(err.text, "hunter2"));
        alert_config_free(cfg);
    }
    /* an unreachable Redis never fails the start */
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "general_settings:\n  alerting: [slack]\n  alerting_args:\n"
             "    worker_threads: 0\n    slack_webhook_url: \"http://127.0.0.1:9/x\"\n"
             "    fleet: true\n    redis_url: \"redis://:hunter2@127.0.0.1:%d/2\"\n"
             "    fleet_timeout: 0.2\n", h_free_port());
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    alert_ctx *ctx = NULL;
    assert_int_equal(alert_ctx_create(&ctx, cfg, &err), ALERT_OK);
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(budget_steps_once_per_fleet),
        cmocka_unit_test(refused_step_is_rearmed_for_the_fleet),
        cmocka_unit_test(redis_down_means_single_process),
        cmocka_unit_test(configuration_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
