# SPDX-License-Identifier: MIT
"""Shared pieces of the Python tests: the library under test, a clean environment, an
injected clock and a loopback HTTP receiver that records what it is sent.

The tests use the `alerting` package found on sys.path (scripts/check-python.sh puts an
installed copy there); run by hand, they fall back to bindings/python. The library is
$ALERTING_LIBRARY, by default build/libalerting.so.0.
"""
from __future__ import annotations

import http.server
import json
import os
import socketserver
import sys
import threading

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEADER = os.path.join(ROOT, "include", "alerting.h")

os.environ.setdefault("ALERTING_LIBRARY", os.path.join(ROOT, "build", "libalerting.so.0"))
LIBRARY = os.environ["ALERTING_LIBRARY"]

try:
    import alerting  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import alerting  # noqa: F401,E402

T0 = 1767225600123      # 2026-01-01 00:00:00.123 UTC, not on a tick boundary (as in C)


def clear_env() -> None:
    """Every inherited delivery target goes: tests talk only to 127.0.0.1."""
    for name in list(os.environ):
        if (name in ("SLACK_WEBHOOK_URL", "ALERTING_WEBHOOK_URL", "WEBHOOK_URL",
                     "ALERTMANAGER_URL", "PROXY_BASE_URL")
                or name.endswith("_WEBHOOK_URL") or name.startswith(("SMTP_", "PAGERDUTY_"))):
            del os.environ[name]


clear_env()


def header_version() -> str:
    with open(HEADER, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#define ALERT_VERSION_STRING"):
                return line.split('"')[1]
    raise AssertionError("no ALERT_VERSION_STRING in include/alerting.h")


class Clock:
    """The injected clock: ms since the epoch, moved only by the test."""

    def __init__(self, now: int = T0):
        self.now = now

    def __call__(self) -> int:
        return self.now


class Received:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The Slack message text."""
        return self.json()["text"]


class Receiver:
    """A loopback HTTP/1.1 server in a thread that records every request before it answers
    (so a delivery that alert_flush saw answered is already recorded). Answers 200 "ok",
    or the statuses pushed with push()."""

    def __init__(self):
        self.requests: list[Received] = []
        self.script: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Received(self.command, self.path,
                                                      dict(self.headers.items()),
                                                      body.decode("utf-8", "replace")))
                    status = receiver.script.pop(0) if receiver.script else 200
                payload = b"ok" if status < 300 else b"failing on purpose"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       name="receiver", daemon=True)
        self.thread.start()

    def url(self, path: str = "/services/T000/B000/SECRETPATH") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def push(self, *statuses: int) -> None:
        with self.lock:
            self.script.extend(statuses)

    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def texts(self) -> list:
        with self.lock:
            return [r.text for r in self.requests]

    def find(self, needle: str) -> int:
        """Index of the first Slack text containing needle, or -1."""
        for i, text in enumerate(self.texts()):
            if needle in text:
                return i
        return -1

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def base_yaml(url: str, extra: str = "") -> str:
    """What tests/integration/harness.h configures: Slack to the receiver, a 300 s
    threshold, no worker thread, short real-time limits."""
    return ("general_settings:\n"
            "  alerting: [slack]\n"
            "  alerting_threshold: 300\n"
            "  alerting_args:\n"
            "    worker_threads: 0\n"
            f"    slack_webhook_url: \"{url}\"\n"
            "    shutdown_timeout: 0.2\n"
            "    http_timeout: 2\n" + extra)


class Harness:
    """A receiver, an injected clock and an Alerting driven by poll()/flush()."""

    def __init__(self, extra_yaml: str = "", transports: dict | None = None,
                 alerting_list: list | None = None):
        self.receiver = Receiver()
        self.clock = Clock()
        self.log: list = []
        self.config = alerting.Config.from_string(base_yaml(self.receiver.url(), extra_yaml))
        self.config.set_clock(self.clock)
        self.config.set_log(lambda level, message: self.log.append((level, message)))
        for name, fn in (transports or {}).items():
            self.config.add_transport(name, fn)
        if alerting_list is not None:
            self.config.set("alerting", alerting_list)
        self.alerts = alerting.Alerting(self.config)

    def advance(self, ms: int) -> None:
        """Moves the injected clock, runs what is due and delivers it."""
        self.clock.now += ms
        self.alerts.poll(0)
        self.alerts.flush(5000)

    def close(self) -> None:
        self.alerts.close()
        self.config.close()
        self.receiver.stop()
