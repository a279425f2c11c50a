/* SPDX-License-Identifier: MIT */
/* proxy_sim: a simulated LLM proxy that uses libalerting the way a real one does,
 * for `make demo`.
 *
 *   proxy_sim CONFIG.yaml RECEIVER_URL
 *
 * It loads a LiteLLM config.yaml, sends every Slack alert to RECEIVER_URL (and to
 * $SLACK_WEBHOOK_URL too, when that is set), adds a "console" transport that prints
 * a line per delivery, and plays a short story of traffic: normal calls, a slow
 * call, hanging calls (one of which completes late), failures with secrets in their
 * messages, a caller's own error, a region going down, a budget climbing, a DB error. It ends with the library's counters. */
#include <alerting.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void say(const char *what)
{
    if (isatty(1))
        printf("\n\033[1m▶ %s\033[0m\n", what);
    else
        printf("\n▶ %s\n", what);
    fflush(stdout);
}

/* A custom transport: runs on the library's worker thread. */
static int console_send(const alert_delivery *d, void *userdata)
{
    (void)userdata;
    const char *level = d->level == ALERT_LEVEL_HIGH ? "High" :
                        d->level == ALERT_LEVEL_MEDIUM ? "Medium" : "Low";
    printf("  [console] %-22s %-6s attempt %d  %s\n", d->alert_type, level, d->attempt,
           d->idempotency_key);
    fflush(stdout);
    return ALERT_OK;
}

static void on_log(int level, const char *message, void *userdata)
{
    (void)userdata;
    if (level <= ALERT_LOG_WARNING)
        printf("  [libalerting %s] %s\n", level == ALERT_LOG_ERROR ? "error" : "warning", message);
}

static void check(int rc, const char *what)
{
    if (rc != ALERT_OK) {
        fprintf(stderr, "proxy_sim: %s: %s\n", what, alert_strerror(rc));
        exit(1);
    }
}

static alert_req_id start(alert_ctx *ctx, const char *model, const char *deployment,
                          const char *api_base, const char *call_id, int64_t start_ms)
{
    alert_request req;
    alert_request_init(&req, ALERT_REQUEST_VERSION);
    req.call_id = call_id;
    req.model = model;
    req.deployment = deployment;
    req.api_base = api_base;
    req.provider = "azure";
    req.region = "eastus";
    req.key_alias = "search-backend";
    req.team_alias = "search";
    req.key_hash = "sk-demo-not-a-real-key-0000000000";   /* hashed by the library at once */
    req.messages = "Summarise the attached quarterly report in three bullet points.";
    req.alerting_metadata_json = "{\"runbook\": \"https://wiki.example/llm-latency\"}";
    req.start_ms = start_ms;
    alert_req_id id = 0;
    check(alert_on_request_start(ctx, &req, &id), "alert_on_request_start");
    return id;
}

static void end(alert_ctx *ctx, alert_req_id id, int64_t tokens)
{
    alert_response resp;
    alert_response_init(&resp, ALERT_RESPONSE_VERSION);
    resp.completion_tokens = tokens;
    check(alert_on_request_end(ctx, id, &resp), "alert_on_request_end");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: proxy_sim CONFIG.yaml RECEIVER_URL\n");
        return 2;
    }
    alert_config *cfg;
    alert_error err = ALERT_ERROR_INIT;
    check(alert_config_new(&cfg), "alert_config_new");
    check(alert_config_set_log(cfg, on_log, NULL), "alert_config_set_log");
    if (alert_config_load_file(cfg, argv[1], &err) != ALERT_OK) {
        fprintf(stderr, "proxy_sim: %s:%d:%d: %s\n", err.source, err.line, err.column, err.text);
        return 1;
    }
    /* every Slack alert to the local receiver, and to a real channel when one is set */
    char quoted[1024];
    snprintf(quoted, sizeof quoted, "\"%s\"", argv[2]);
    check(alert_config_set(cfg, "alerting_args.slack_webhook_url", quoted, &err), "slack_webhook_url");
    const char *real = getenv("SLACK_WEBHOOK_URL");
    if (real && *real) {
        char urls[2048];
        snprintf(urls, sizeof urls, "[\"%s\", \"%s\"]", argv[2], real);
        const char *types[] = { "llm_exceptions", "llm_too_slow", "llm_requests_hanging",
                                "budget_alerts", "db_exceptions", "outage_alerts",
                                "region_outage_alerts", "daily_reports", "spend_reports" };
        for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
            char key[96];
            snprintf(key, sizeof key, "alert_to_webhook_url.%s", types[i]);
            check(alert_config_set(cfg, key, urls, &err), key);
        }
    }
    alert_transport console = ALERT_TRANSPORT_INIT;
    console.send = console_send;
    check(alert_config_add_transport(cfg, "console", &console, NULL), "add_transport");
    check(alert_config_set(cfg, "alerting", "[slack, console]", &err), "alerting");

    alert_ctx *ctx;
    if (alert_ctx_create(&ctx, cfg, &err) != ALERT_OK) {
        fprintf(stderr, "proxy_sim: %s\n", err.text);
        return 1;
    }
    alert_config_free(cfg);     /* the ctx keeps its own copy */
    printf("libalerting %s — simulated proxy, alerting threshold 2 s, batches every 1 s\n",
           alert_version_string());

    say("200 normal calls on two deployments (no alert expected)");
    char call_id[64];
    for (int i = 0; i < 200; i++) {
        snprintf(call_id, sizeof call_id, "chatcmpl-%04d", i);
        alert_req_id id = start(ctx, "gpt-4o", i % 2 ? "azure/gpt-4o-eastus" : "openai/gpt-4o",
                                "https://eastus.openai.example", call_id, 0);
        end(ctx, id, 120);
    }

    say("a slow call: 3.4 s against a 2 s threshold → llm_too_slow");
    alert_req_id slow = start(ctx, "gpt-4o", "azure/gpt-4o-eastus", "https://eastus.openai.example",
                              "chatcmpl-slow", now_ms() - 3400);
    end(ctx, slow, 800);

    say("three calls that hang; one finishes after 3 s (send_resolved) → llm_requests_hanging");
    alert_req_id hang[3];
    for (int i = 0; i < 3; i++) {
        snprintf(call_id, sizeof call_id, "chatcmpl-hang-%d", i);
        hang[i] = start(ctx, "claude-3-5-sonnet", "bedrock/claude-3-5-sonnet", NULL, call_id, 0);
    }
    pause_ms(3000);
    end(ctx, hang[0], 50);

    say("failures: upstream 500s whose messages carry secrets (scrubbed), and a caller's 429 (not alerted)");
    for (int i = 0; i < 2; i++) {
        alert_req_id id = start(ctx, "gpt-4o", "azure/gpt-4o-eastus", "https://eastus.openai.example",
                                "chatcmpl-fail", 0);
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = 500;
        f.error_class = "APIError";
        f.message = "AzureException - Internal server error (request with "
                    "Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a2b1c)";
        check(alert_on_request_failure(ctx, id, &f), "alert_on_request_failure");
    }
    alert_failure user;
    alert_failure_init(&user, ALERT_FAILURE_VERSION);
    user.status_code = 429;
    user.user_error = 1;
    user.model = "gpt-4o";
    user.message = "Rate limit exceeded for key search-backend";
    check(alert_on_request_failure(ctx, 0, &user), "alert_on_request_failure");

    say("a region goes down: two Vertex deployments in us-central1 fail (500, 408) → outage_alerts, region_outage_alerts");
    for (int i = 0; i < 6; i++) {
        alert_request req;
        alert_request_init(&req, ALERT_REQUEST_VERSION);
        req.model = "gemini-1.5-pro";
        req.deployment = i % 2 ? "vertex_ai/gemini-1.5-pro-a" : "vertex_ai/gemini-1.5-pro-b";
        req.provider = "vertex_ai";
        req.region = "us-central1";
        req.api_base = "https://us-central1-aiplatform.googleapis.com";
        alert_req_id id;
        check(alert_on_request_start(ctx, &req, &id), "alert_on_request_start");
        alert_failure f;
        alert_failure_init(&f, ALERT_FAILURE_VERSION);
        f.status_code = i % 2 ? 500 : 408;
        f.error_class = i % 2 ? "APIError" : "Timeout";
        f.message = i % 2 ? "VertexAIException - Internal error" : "VertexAIException - Request timed out";
        f.user_error = 1;   /* counted for outages; the per-call exception alerts are not the point here */
        check(alert_on_request_failure(ctx, id, &f), "alert_on_request_failure");
    }

    say("a team's budget climbs: 40, 55, 90, 97, 104 of $100 → one alert per threshold (50, 85, 95, crossed)");
    const double spend[] = { 40, 55, 55, 90, 97, 97, 104, 110 };
    for (size_t i = 0; i < sizeof spend / sizeof *spend; i++) {
        alert_budget b;
        alert_budget_init(&b, ALERT_BUDGET_VERSION);
        b.entity = ALERT_ENTITY_TEAM;
        b.entity_id = "team-search";
        b.team_id = "team-search";
        b.team_alias = "search";
        b.spend = spend[i];
        b.max_budget = 100;
        check(alert_on_budget(ctx, &b), "alert_on_budget");
    }

    say("the host's own alerts: alert_on_db_error → db_exceptions (the password is scrubbed)");
    check(alert_on_db_error(ctx, "connection to "
                                 "postgres://app:hunter2@db:5432 refused"), "alert_on_db_error");

    say("delivering everything: Slack takes about one post a second, so waiting alerts are packed");
    int rc = ALERT_OK;
    for (int i = 0; i < 30; i++) {
        rc = alert_flush(ctx, 15000);
        alert_stats q;
        alert_stats_init(&q, ALERT_STATS_VERSION);
        alert_stats_get(ctx, &q);
        if (q.queue_depth == 0)
            break;
        pause_ms(500);
    }
    alert_on_request_cancel(ctx, hang[1]);
    alert_on_request_cancel(ctx, hang[2]);

    alert_stats s;
    alert_stats_init(&s, ALERT_STATS_VERSION);
    alert_stats_get(ctx, &s);
    say("what libalerting counted");
    printf("  requests started     %llu\n", (unsigned long long)s.requests_started);
    printf("  alerts raised        %llu (filtered %llu, coalesced %llu)\n",
           (unsigned long long)s.alerts_raised, (unsigned long long)s.alerts_filtered,
           (unsigned long long)s.alerts_coalesced);
    printf("  deliveries           %llu ok, %llu retried, %llu failed, %llu dropped\n",
           (unsigned long long)s.deliveries_ok, (unsigned long long)s.deliveries_retried,
           (unsigned long long)s.deliveries_failed, (unsigned long long)s.deliveries_dropped);
    printf("  still queued         %llu%s\n", (unsigned long long)s.queue_depth,
           rc == ALERT_OK ? "" : " (flush timed out)");
    alert_ctx_destroy(ctx);
    return rc == ALERT_OK ? 0 : 1;
}
