/* SPDX-License-Identifier: MIT */
/* The unit tests of the worker glue (latency, health, money): a real ctx (memory state,
 * worker_threads: 0, an injected clock) whose route tap captures every routed alert,
 * and the helpers to look at what it caught. Include after cmocka and the module's
 * private headers. */
#ifndef GLUE_H
#define GLUE_H

#define T0 1767225600123LL      /* 2026-01-01 00:00:00.123 UTC */
#define MAX_GOT 64

/* The ctx clock at alert_ctx_create (a test may start elsewhere). */
static int64_t glue_start_at = T0;

/* ---- a ctx whose routed alerts land here --------------------------------------- */

typedef struct glue {
    int64_t now;
    alert_config *cfg;
    alert_ctx *ctx;
    al_alert *got[MAX_GOT];
    size_t n;
} glue;

static int64_t g_clock(void *ud)
{
    return ((glue *)ud)->now;
}

static void g_tap(void *ud, al_alert *a)
{
    glue *g = ud;
    if (g->n == MAX_GOT) {
        al_alert_free(a);
        fail_msg("more than %d alerts captured", MAX_GOT);
    }
    g->got[g->n++] = a;
}

/* At teardown: whatever the last worker pass raises settles at once. */
static void g_drop(void *ud, al_alert *a)
{
    (void)ud;
    al_alert_free(a);
}

/* alerting: [<dests>] with slack on a loopback URL that is never contacted; args are
 * extra lines under alerting_args (4 spaces), general extra lines under
 * general_settings (2 spaces). */
static glue *g_new(const char *dests, const char *args, const char *general)
{
    glue *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->now = glue_start_at;
    assert_int_equal(alert_config_new(&g->cfg), ALERT_OK);
    assert_int_equal(alert_config_set_clock(g->cfg, g_clock, g), ALERT_OK);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "general_settings:\n"
             "  alerting: [%s]\n"
             "  alerting_threshold: 300\n"
             "  alerting_args:\n"
             "    worker_threads: 0\n"
             "    slack_webhook_url: \"http://127.0.0.1:9/services/T000/B000/SECRETPATH\"\n"
             "    shutdown_timeout: 0.1\n"
             "%s%s",
             dests ? dests : "slack", args ? args : "", general ? general : "");
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_string(g->cfg, yaml, strlen(yaml), &err);
    if (rc != ALERT_OK)
        fail_msg("config: %d:%d %s", err.line, err.column, err.text);
    rc = alert_ctx_create(&g->ctx, g->cfg, &err);
    if (rc != ALERT_OK)
        fail_msg("ctx: %s %s", alert_err_name(rc), err.text);
    assert_string_equal(al_state_name(g->ctx->state), "memory");
    g->ctx->route_tap = g_tap;
    g->ctx->route_tap_ud = g;
    return g;
}

/* Finishes every captured alert as the outbox would: ok = a destination accepted it. */
static void g_settle(glue *g, int ok)
{
    for (size_t i = 0; i < g->n; i++) {
        g->got[i]->delivered_ok = ok;
        al_alert_free(g->got[i]);
    }
    g->n = 0;
}

static void g_free(glue *g)
{
    g_settle(g, 1);
    g->ctx->route_tap = g_drop;
    alert_ctx_destroy(g->ctx);
    alert_config_free(g->cfg);
    free(g);
}

static size_t g_count(const glue *g, al_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        n += g->got[i]->type == type;
    return n;
}

/* The one captured alert of this type. */
static al_alert *g_one(const glue *g, al_type type)
{
    assert_int_equal(g_count(g, type), 1);
    for (size_t i = 0; i < g->n; i++)
        if (g->got[i]->type == type)
            return g->got[i];
    return NULL;
}

static void has(const char *text, const char *needle)
{
    if (!text || !strstr(text, needle))
        fail_msg("missing \"%s\" in \"%s\"", needle, text ? text : "(null)");
}

#endif
