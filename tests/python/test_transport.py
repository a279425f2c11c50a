# SPDX-License-Identifier: MIT
"""Custom transports written in Python: what they receive, retry, give-up, threads."""
import threading
import unittest

import support
import alerting


class Transports(unittest.TestCase):
    def make(self, send, extra_yaml=""):
        self.h = support.Harness(extra_yaml, transports={"pager": send}, alerting_list=["pager"])
        self.addCleanup(self.h.close)
        return self.h.alerts

    def test_delivery_fields(self):
        got = []
        a = self.make(got.append)
        a.emit("llm_exceptions", "high", "to the pager", {"runbook": "https://wiki/x"})
        self.h.advance(0)
        self.assertEqual(len(got), 1)
        d = got[0]
        self.assertIsInstance(d, alerting.Delivery)
        self.assertEqual(d.destination, "pager")
        self.assertIsNone(d.url)
        self.assertEqual(d.alert_type, "llm_exceptions")
        self.assertIs(d.level, alerting.Level.HIGH)
        self.assertEqual(d.attempt, 1)
        self.assertTrue(d.idempotency_key.startswith("msg_"))
        self.assertEqual(len(d.idempotency_key), 4 + 32)
        self.assertIn("Message: to the pager", d.text)
        self.assertEqual(d.content_type, "application/json")
        body = d.json()
        self.assertEqual(body["event"], "llm_exceptions")
        self.assertEqual(body["level"], "High")
        self.assertEqual(body["event_message"], "to the pager")
        self.assertEqual(body["alerting_metadata"], {"runbook": "https://wiki/x"})
        self.assertEqual(self.h.receiver.count(), 0)     # slack is not in `alerting`

    def test_an_exception_means_retry_later(self):
        calls = []

        def flaky(d):
            calls.append(d)
            if len(calls) == 1:
                raise ConnectionError("pager is down")

        a = self.make(flaky)
        a.emit("llm_exceptions", "high", "retry me")
        self.h.advance(0)
        self.assertEqual(len(calls), 1)
        self.assertEqual(a.stats().deliveries_retried, 1)
        self.h.advance(60000)                               # past the backoff
        self.assertEqual([d.attempt for d in calls], [1, 2])
        self.assertEqual(calls[0].idempotency_key, calls[1].idempotency_key)
        s = a.stats()
        self.assertEqual((s.deliveries_ok, s.deliveries_failed, s.queue_depth), (1, 0, 0))

    def test_give_up(self):
        calls = []

        def refuse(d):
            calls.append(d)
            raise alerting.GiveUp("the pager rejected it")

        a = self.make(refuse)
        a.emit("llm_exceptions", "high", "give up")
        self.h.advance(0)
        self.h.advance(600000)
        self.assertEqual(len(calls), 1)
        s = a.stats()
        self.assertEqual((s.deliveries_ok, s.deliveries_failed, s.queue_depth), (0, 1, 0))
        self.assertIn("ALERT_ERR_CALLBACK", a.last_error or "")

    def test_transport_may_call_hooks(self):
        seen = []

        def send(d):
            seen.append(d.alert_type)
            if d.alert_type == "llm_exceptions":
                self.h.alerts.emit("db_exceptions", "low", "raised from a transport")

        a = self.make(send)
        a.emit("llm_exceptions", "high", "first")
        self.h.advance(0)
        self.h.advance(0)
        self.assertEqual(seen, ["llm_exceptions", "db_exceptions"])

    def test_close_inside_a_transport_is_refused(self):
        errors = []

        def send(d):
            try:
                self.h.alerts.close()
            except alerting.StateError as err:
                errors.append(err)

        a = self.make(send)
        a.emit("llm_exceptions", "high", "x")
        self.h.advance(0)
        self.assertEqual(len(errors), 1)
        self.assertFalse(a.closed)

    def test_runs_on_the_worker_thread(self):
        threads = []
        done = threading.Event()

        def send(d):
            threads.append(threading.current_thread())
            done.set()

        cfg = (alerting.Config().set("alerting", ["pager"]).add_transport("pager", send)
               .set("alerting_args.shutdown_timeout", 1))
        with alerting.Alerting(cfg) as a:
            del cfg                                         # the Alerting keeps the callback
            a.emit("llm_exceptions", "high", "from the worker")
            a.flush(5000)
            self.assertTrue(done.is_set())
        self.assertEqual(len(threads), 1)
        self.assertIsNot(threads[0], threading.main_thread())

    def test_clock_and_log_callbacks(self):
        logs = []
        clock = support.Clock()
        cfg = (alerting.Config().set_clock(clock).set_log(lambda lvl, msg: logs.append((lvl, msg)))
               .set("no_such_key", 1).set("alerting", ["pager"])
               .set("alerting_args.worker_threads", 0)
               .add_transport("pager", lambda d: None))
        with alerting.Alerting(cfg) as a:
            a.emit("llm_exceptions", "high", "x")
            a.flush(1000)
        cfg.close()
        self.assertTrue(any("no_such_key" in msg for _, msg in logs), logs)
        self.assertTrue(all(isinstance(lvl, alerting.LogLevel) for lvl, _ in logs))

    def test_a_broken_clock_falls_back_to_the_wall_clock(self):
        import sys
        import time
        reported = []
        old_hook = sys.unraisablehook
        sys.unraisablehook = reported.append
        try:
            def clock():
                raise RuntimeError("broken clock")
            got = []
            cfg = (alerting.Config().set_clock(clock).set("alerting", ["pager"])
                   .set("alerting_args.worker_threads", 0).add_transport("pager", got.append))
            with alerting.Alerting(cfg) as a:
                a.emit("llm_exceptions", "high", "x")
                a.flush(1000)
            cfg.close()
        finally:
            sys.unraisablehook = old_hook
        self.assertTrue(reported)
        self.assertIsInstance(reported[0].exc_value, RuntimeError)
        year = time.gmtime().tm_year
        self.assertTrue(got[0].json()["timestamp"].startswith(str(year)))


if __name__ == "__main__":
    unittest.main()
