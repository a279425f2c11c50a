/* SPDX-License-Identifier: MIT */
/* Fleet mode against a real redis-server: replicas of one config in this process,
 * one injected clock, alert_poll. What one replica alone would double-send is sent
 * once; what Redis cannot answer is sent anyway (a duplicate, never a loss). */

#include <fcntl.h>

#include "fleet.h"

static void observe_soft(alert_ctx *ctx, double spend, double soft, double max)
{
    alert_budget b;
    alert_budget_init(&b, ALERT_BUDGET_VERSION);
    b.entity = ALERT_ENTITY_KEY;
    b.entity_id = "hashed-key-1";
    b.key_alias = "prod-key";
    b.spend = spend;
    b.soft_budget = soft;
    b.max_budget = max;
    b.budget_reset_at_ms = T0 + 30 * 86400000LL;
    assert_int_equal(alert_on_budget(ctx, &b), ALERT_OK);
}

static void observe(alert_ctx *ctx, double spend, double max)
{
    observe_soft(ctx, spend, -1, max);      /* no soft budget */
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

#define SOFT_ALONE "Soft Budget Crossed: Total Soft Budget:`50.0`\\n"
#define COMBINED "Soft Budget Crossed: Total Soft Budget:`50.0`Budget Crossed"

/* One observation crosses the soft and the max budget: one combined alert for the
 * fleet, and it spends the soft step too: a replica that sees a spend between the two
 * budgets afterwards sends no separate soft alert. */
static void combined_alert_spends_the_soft_step(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "budget_alerts", NULL);
    observe_soft(f->ctx[0], 120, 50, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, COMBINED), 1);
    for (int i = 1; i < 3; i++)
        observe_soft(f->ctx[i], 60, 50, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, SOFT_ALONE), 0);
    for (int i = 0; i < 3; i++)
        observe_soft(f->ctx[i], 121, 50, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Budget Crossed"), 1);
    assert_int_equal(rcv_count(f->rcv), 1);
    f_free(f);
    redis_stop(r);
}

/* The soft alert went out alone first: a combined one seen later still goes (its max
 * step is new), once; and a combined alert refused re-arms both steps for the fleet:
 * sent again, once, still combined. */
static void combined_alert_after_soft_and_after_refusal(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "budget_alerts", NULL);
    observe_soft(f->ctx[0], 60, 50, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, SOFT_ALONE), 1);
    for (int i = 0; i < 3; i++)
        observe_soft(f->ctx[i], 120, 50, 100);
    f_advance(f, 1000);
    /* replica 0 knows its soft alert went out: the max step alone; the others, which
     * never saw the soft budget crossed, would combine: one of them all, for the fleet */
    assert_int_equal(f_count(f, "Budget Crossed\\n Total Budget:`100.0`"), 1);
    assert_int_equal(rcv_count(f->rcv), 2);
    f_free(f);
    redis_stop(r);

    r = redis_start();
    f = f_new(3, r->port, "budget_alerts", NULL);
    rcv_push(f->rcv, 400, NULL, "invalid_payload");
    observe_soft(f->ctx[0], 120, 50, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, COMBINED), 1);              /* refused */
    for (int i = 0; i < 3; i++)
        observe_soft(f->ctx[i], 121, 50, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, COMBINED), 2);              /* sent again, once */
    for (int i = 0; i < 3; i++)
        observe_soft(f->ctx[i], 70, 50, 100);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, SOFT_ALONE), 0);
    assert_int_equal(rcv_count(f->rcv), 2);
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

typedef struct log_lines {
    char line[8][512];
    int n;
} log_lines;

static void keep_log(int level, const char *msg, void *ud)
{
    log_lines *l = ud;
    (void)level;
    if (l->n < 8)
        snprintf(l->line[l->n++], sizeof l->line[0], "%s", msg);
}

/* Sentinel and Cluster addresses, in every shape LiteLLM reads them: under fleet: auto
 * a start single-process with one warning naming the key; under fleet: true
 * ALERT_ERR_CONFIG naming the key; never the password. */
static void sentinel_and_cluster_addresses(void **state)
{
    (void)state;
    static const struct {
        const char *args;       /* under alerting_args */
        const char *litellm;    /* litellm_settings.cache_params, or NULL */
        const char *env;        /* environment_variables, or NULL */
        const char *key, *kind;
    } cases[] = {
        { "    redis_url: \"redis-sentinel://:hunter2@127.0.0.1:26379/mymaster\"\n", NULL, NULL,
          "redis_url", "Sentinel" },
        { "    redis_url: \"sentinel://user:hunter2@127.0.0.1:26379\"\n", NULL, NULL, "redis_url",
          "Sentinel" },
        { "    redis_url: \"redis+sentinel://:hunter2@127.0.0.1:26379/mymaster/0\"\n", NULL, NULL,
          "redis_url", "Sentinel" },
        { "    redis_url: \"redis-cluster://:hunter2@127.0.0.1:7000\"\n", NULL, NULL, "redis_url",
          "Cluster" },
        { "    redis_url: \"REDIS+CLUSTER://:hunter2@127.0.0.1:7000\"\n", NULL, NULL, "redis_url",
          "Cluster" },
        { "", "    type: redis\n    service_name: mymaster\n"
              "    sentinel_nodes: [[\"127.0.0.1\", 26379]]\n"
              "    sentinel_password: hunter2\n    password: hunter2\n", NULL,
          "litellm_settings.cache_params.sentinel_nodes", "Sentinel" },
        { "", "    type: redis\n    service_name: mymaster\n    host: 127.0.0.1\n"
              "    password: hunter2\n", NULL, "litellm_settings.cache_params.service_name",
          "Sentinel" },
        { "", "    type: redis\n    redis_startup_nodes: [{\"host\": \"127.0.0.1\", \"port\": \"7001\"}]\n"
              "    password: hunter2\n", NULL, "litellm_settings.cache_params.redis_startup_nodes",
          "Cluster" },
        { "", "    type: redis\n    host: 127.0.0.1\n    port: 7001\n    password: hunter2\n",
          "  REDIS_CLUSTER_NODES: '[{\"host\": \"127.0.0.1\", \"port\": \"7001\"}]'\n",
          "REDIS_CLUSTER_NODES", "Cluster" },
        { "", NULL, "  REDIS_SENTINEL_NODES: '[[\"127.0.0.1\", 26379]]'\n"
                    "  REDIS_SERVICE_NAME: mymaster\n  REDIS_PASSWORD: hunter2\n"
                    "  REDIS_HOST: 127.0.0.1\n",
          "REDIS_SENTINEL_NODES", "Sentinel" },
        { "", NULL, "  REDIS_CLUSTER_NODES: '[{\"host\": \"127.0.0.1\", \"port\": \"7001\"}]'\n"
                    "  REDIS_PASSWORD: hunter2\n",
          "REDIS_CLUSTER_NODES", "Cluster" },
        { "", NULL, "  REDIS_URL: \"redis-sentinel://:hunter2@127.0.0.1:26379/mymaster\"\n",
          "REDIS_URL", "Sentinel" },
    };
    unsetenv("REDIS_URL");
    unsetenv("REDIS_HOST");
    unsetenv("REDIS_CLUSTER_NODES");
    unsetenv("REDIS_SENTINEL_NODES");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int on = 0; on <= 1; on++) {
            log_lines logs = { .n = 0 };
            alert_config *cfg;
            assert_int_equal(alert_config_new(&cfg), ALERT_OK);
            alert_config_set_log(cfg, keep_log, &logs);
            char yaml[2048];
            snprintf(yaml, sizeof yaml, "%s%s%s%s"
                     "general_settings:\n  alerting: [slack]\n  alerting_args:\n"
                     "    worker_threads: 0\n    slack_webhook_url: \"http://127.0.0.1:9/x\"\n%s%s",
                     cases[i].litellm ? "litellm_settings:\n  cache_params:\n" : "",
                     cases[i].litellm ? cases[i].litellm : "",
                     cases[i].env ? "environment_variables:\n" : "", cases[i].env ? cases[i].env : "",
                     cases[i].args, on ? "    fleet: true\n" : "");
            alert_error err = ALERT_ERROR_INIT;
            assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
            /* alert_config_check refuses what alert_ctx_create would */
            alert_error check = ALERT_ERROR_INIT;
            assert_int_equal(alert_config_check(cfg, &check), on ? ALERT_ERR_CONFIG : ALERT_OK);
            if (on)
                assert_non_null(strstr(check.text, cases[i].key));
            int checked = logs.n;   /* under auto, the check says what create will */
            alert_ctx *ctx = NULL;
            int rc = alert_ctx_create(&ctx, cfg, &err);
            if (on) {
                if (rc != ALERT_ERR_CONFIG)
                    fail_msg("case %zu, fleet: true: %s", i, alert_err_name(rc));
                assert_null(ctx);
                if (!strstr(err.text, cases[i].key) || !strstr(err.text, cases[i].kind))
                    fail_msg("case %zu: %s", i, err.text);
                assert_null(strstr(err.text, "hunter2"));
                assert_null(strstr(err.text, "127.0.0.1"));
            } else {
                if (rc != ALERT_OK)
                    fail_msg("case %zu, fleet: auto: %s %s", i, alert_err_name(rc), err.text);
                assert_int_equal(alert_poll(ctx, 0), ALERT_OK);
                alert_stats st = ALERT_STATS_INIT;
                assert_int_equal(alert_stats_get(ctx, &st), ALERT_OK);
                assert_int_equal(st.fleet_connected, 0);
                assert_int_equal(st.fleet_rounds, 0);
                assert_int_equal(st.fleet_round_errors, 0);
                int warned = 0, warned_check = 0;
                for (int j = 0; j < logs.n; j++) {
                    if (strstr(logs.line[j], cases[i].key) && strstr(logs.line[j], cases[i].kind) &&
                        strstr(logs.line[j], "single-process")) {
                        warned++;
                        warned_check += j < checked;
                    }
                    assert_null(strstr(logs.line[j], "hunter2"));
                }
                if (warned != 2 || warned_check != 1)
                    fail_msg("case %zu: %d warnings naming %s (%d by the check)", i, warned,
                             cases[i].key, warned_check);
                alert_ctx_destroy(ctx);
            }
            alert_config_free(cfg);
        }
    }
}

/* Three replicas' routers cool down the same deployment: one alert for the fleet while
 * the cooldown lasts; another deployment has its own. */
static void cooldown_once_per_fleet(void **state)
{
    (void)state;
    redis_proc *r = redis_start();
    fleet *f = f_new(3, r->port, "cooldown_deployment", NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_deployment_cooldown(f->ctx[i], "azure/gpt-4o-eu",
                                                      "429 rate limited", 60), ALERT_OK);
    f_advance(f, 1000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(alert_on_deployment_cooldown(f->ctx[i], "azure/gpt-4o-us",
                                                      "429 rate limited", 60), ALERT_OK);
    f_advance(f, 1000);
    assert_int_equal(f_count(f, "Deployment cooled down: `azure/gpt-4o-eu`"), 1);
    assert_int_equal(f_count(f, "Deployment cooled down: `azure/gpt-4o-us`"), 1);
    alert_stats st = ALERT_STATS_INIT;
    uint64_t dedup = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(alert_stats_get(f->ctx[i], &st), ALERT_OK);
        dedup += st.alerts_deduplicated;
    }
    assert_int_equal(dedup, 4);
    f_free(f);
    redis_stop(r);
}

int main(void)
{
    h_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(budget_steps_once_per_fleet),
        cmocka_unit_test(cooldown_once_per_fleet),
        cmocka_unit_test(refused_step_is_rearmed_for_the_fleet),
        cmocka_unit_test(combined_alert_spends_the_soft_step),
        cmocka_unit_test(combined_alert_after_soft_and_after_refusal),
        cmocka_unit_test(redis_down_means_single_process),
        cmocka_unit_test(configuration_errors),
        cmocka_unit_test(sentinel_and_cluster_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
