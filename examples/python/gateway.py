#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gateway.py: a simulated LLM gateway written in Python, using libalerting through the
`alerting` package the way a real one would. The same story as examples/proxy_sim.c.

    ALERTING_LIBRARY=build/libalerting.so.0 \\
        python3 examples/python/gateway.py examples/config.yaml http://127.0.0.1:PORT/slack

It loads a LiteLLM config.yaml, sends every Slack alert to RECEIVER_URL (and to
$SLACK_WEBHOOK_URL too, when that is set), adds a "console" transport written in Python
that prints a line per delivery, and plays a short story of traffic: normal calls, a slow
call, hanging calls (one of which completes late), upstream failures with secrets in their
messages, a caller's own error, the gateway's own alert. It ends with the counters.
"""
import os
import sys
import time

try:
    import alerting
except ImportError:     # run from a source tree without installing the package
    _ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    sys.path.insert(0, os.path.join(_ROOT, "bindings", "python"))
    if "ALERTING_LIBRARY" not in os.environ and \
            os.path.exists(os.path.join(_ROOT, "build", "libalerting.so.0")):
        os.environ["ALERTING_LIBRARY"] = os.path.join(_ROOT, "build", "libalerting.so.0")
    import alerting


def say(what: str) -> None:
    print(f"\n\033[1m▶ {what}\033[0m" if sys.stdout.isatty() else f"\n▶ {what}", flush=True)


def console(delivery: alerting.Delivery) -> None:
    """A custom transport. It runs on libalerting's worker thread; raising would mean
    "retry later" (alerting.GiveUp: drop it)."""
    print(f"  [console] {delivery.alert_type:<22} {delivery.level.name.title():<6} "
          f"attempt {delivery.attempt}  {delivery.idempotency_key}", flush=True)


def log(level: alerting.LogLevel, message: str) -> None:
    if level <= alerting.LogLevel.WARNING:
        print(f"  [libalerting {level.name.lower()}] {message}", flush=True)


class UpstreamError(Exception):
    """What a provider SDK raises: the HTTP status travels in `status_code`."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code


LABELS = dict(provider="azure", region="eastus", key_alias="search-backend",
              team_alias="search",
              key_hash="sk-demo-not-a-real-key-0000000000",   # hashed by the library at once
              messages="Summarise the attached quarterly report in three bullet points.",
              metadata={"runbook": "https://wiki.example/llm-latency"})


def main(argv) -> int:
    if len(argv) != 3:
        print("usage: gateway.py CONFIG.yaml RECEIVER_URL", file=sys.stderr)
        return 2
    config_path, receiver = argv[1], argv[2]
    try:
        cfg = alerting.Config().set_log(log).load_file(config_path)
    except alerting.ConfigError as err:     # "file:line:column: what is wrong"
        print(f"gateway.py: {err}", file=sys.stderr)
        return 1
    # every Slack alert to the local receiver, and to a real channel when one is set
    cfg.set("alerting_args.slack_webhook_url", receiver)
    if os.environ.get("SLACK_WEBHOOK_URL"):
        for alert_type in ("llm_exceptions", "llm_too_slow", "llm_requests_hanging", "db_exceptions",
                           "budget_alerts", "outage_alerts", "region_outage_alerts"):
            cfg.set(f"alert_to_webhook_url.{alert_type}", [receiver, os.environ["SLACK_WEBHOOK_URL"]])
    cfg.add_transport("console", console)
    cfg.set("alerting", ["slack", "console"])

    with cfg, alerting.Alerting(cfg) as alerts:     # the Alerting keeps its own copy
        print(f"libalerting {alerting.version()} from Python — simulated gateway, "
              "alerting threshold 2 s, batches every 1 s", flush=True)

        say("200 normal calls on two deployments (no alert expected)")
        for i in range(200):
            deployment = "azure/gpt-4o-eastus" if i % 2 else "openai/gpt-4o"
            with alerts.request(model="gpt-4o", deployment=deployment,
                                call_id=f"chatcmpl-{i:04d}",
                                api_base="https://eastus.openai.example", **LABELS) as r:
                r.end(prompt_tokens=350, completion_tokens=120, cost=0.0021)

        say("a slow call: 3.4 s against a 2 s threshold → llm_too_slow")
        started = time.time_ns() // 1_000_000 - 3400
        with alerts.request(model="gpt-4o", deployment="azure/gpt-4o-eastus",
                            call_id="chatcmpl-slow", api_base="https://eastus.openai.example",
                            start_ms=started, **LABELS) as r:
            r.end(completion_tokens=800)

        say("three calls that hang; one finishes after 3 s (send_resolved) → llm_requests_hanging")
        hanging = [alerts.request(model="claude-3-5-sonnet", deployment="bedrock/claude-3-5-sonnet",
                                  call_id=f"chatcmpl-hang-{i}", **LABELS) for i in range(3)]
        time.sleep(3)
        hanging[0].end(completion_tokens=50)

        say("failures: upstream 500s whose messages carry secrets (scrubbed), "
            "and a caller's 429 (not alerted)")
        for _ in range(2):
            try:
                with alerts.request(model="gpt-4o", deployment="azure/gpt-4o-eastus",
                                    call_id="chatcmpl-fail",
                                    api_base="https://eastus.openai.example", **LABELS):
                    raise UpstreamError(500, "AzureException - Internal server error (request "
                                             "with Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a2b1c)")
            except UpstreamError as err:    # the gateway answers its client; alerting is done
                print(f"  gateway → client: {err.status_code} (alerted as llm_exceptions)")
        alerts.failure(model="gpt-4o", status_code=429, user_error=True,
                       message="Rate limit exceeded for key search-backend")

        say("a region goes down: two Vertex deployments in us-central1 fail → outage alerts")
        for i in range(6):
            alerts.failure(model="gemini-1.5-pro", provider="vertex_ai", region="us-central1",
                           deployment=f"vertex_ai/gemini-1.5-pro-{'ab'[i % 2]}",
                           status_code=500 if i % 2 else 408, user_error=True,
                           message="VertexAIException - upstream error")

        say("a team's budget climbs to $104 of $100 → one alert per threshold, then crossed")
        for spend in (40, 55, 90, 97, 104, 110):
            alerts.on_budget("team", "team-search", spend=spend, max_budget=100,
                             team_id="team-search", team_alias="search")

        say("the gateway's own alerts: on_db_error() and emit()")
        alerts.on_db_error("connection to postgres://app:hunter2@db:5432 refused")
        alerts.emit("db_exceptions", alerting.Level.HIGH,
                    "spend log writes are 40 s behind (the gateway's own check)")

        say("delivering everything (flush)…")
        # flush() sends what is due now; a Slack post held back by the rate limit (1/s) comes
        # due a moment later, so keep flushing until the queue is empty (15 s at most).
        deadline = time.monotonic() + 15
        flushed = False
        while not flushed and time.monotonic() < deadline:
            try:
                alerts.flush(int(max(0.0, deadline - time.monotonic()) * 1000))
            except alerting.AlertTimeoutError as err:
                print(f"  {err}")
                break
            flushed = alerts.stats().queue_depth == 0
            if not flushed:
                time.sleep(0.2)
        for r in hanging[1:]:
            r.cancel()

        s = alerts.stats()
        say("what libalerting counted")
        print(f"  requests started     {s.requests_started}")
        print(f"  alerts raised        {s.alerts_raised} (filtered {s.alerts_filtered}, "
              f"coalesced {s.alerts_coalesced})")
        print(f"  deliveries           {s.deliveries_ok} ok, {s.deliveries_retried} retried, "
              f"{s.deliveries_failed} failed, {s.deliveries_dropped} dropped")
        print(f"  still queued         {s.queue_depth}{'' if flushed else ' (flush timed out)'}",
              flush=True)
    return 0 if flushed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
