# SPDX-License-Identifier: MIT
"""The operator's toolkit from Python: metrics as Prometheus text and a prometheus_client
collector (issue 13)."""
import asyncio
import inspect
import logging
import threading
import unittest

import support
import alerting

try:
    import prometheus_client    # Debian: python3-prometheus-client
except ImportError:
    prometheus_client = None


class Metrics(unittest.TestCase):
    def setUp(self):
        self.h = support.Harness()

    def tearDown(self):
        self.h.close()

    def test_metrics_text_counts_per_target_without_the_secret(self):
        self.h.alerts.emit("llm_too_slow", "medium", "slow")
        self.h.advance(1000)
        text = self.h.alerts.metrics()
        self.assertIn('alerting_alerts_total{type="llm_too_slow"} 1\n', text)
        self.assertRegex(text, r'alerting_target_deliveries_total\{destination="slack",'
                               r'target="http://127\.0\.0\.1:\d+",outcome="ok"\} 1\n')
        self.assertNotIn("SECRETPATH", text)

    @unittest.skipIf(prometheus_client is None, "prometheus_client is not installed")
    def test_prometheus_client_collector(self):
        registry = prometheus_client.CollectorRegistry()
        registry.register(self.h.alerts.prometheus_collector())
        self.h.alerts.emit("llm_too_slow", "medium", "slow")
        self.h.advance(1000)
        self.assertEqual(registry.get_sample_value("alerting_deliveries_ok_total"), 1.0)
        self.assertEqual(registry.get_sample_value("alerting_alerts_total",
                                                   {"type": "llm_too_slow"}), 1.0)
        out = prometheus_client.generate_latest(registry).decode()
        self.assertNotIn("SECRETPATH", out)


class PollLoop(unittest.TestCase):
    def test_poll_timeout_and_wakeup(self):
        wakes = []
        h = support.Harness()
        try:
            h.alerts.close()
            h.config.set_wakeup(lambda: wakes.append(1))
            h.alerts = alerting.Alerting(h.config)
            self.assertEqual(h.alerts.poll_timeout(), 1000)
            h.alerts.emit("llm_exceptions", "high", "one")
            h.alerts.emit("llm_exceptions", "high", "two")
            self.assertEqual(len(wakes), 1)
            self.assertEqual(h.alerts.poll_timeout(), 0)
            h.alerts.poll(0)
            h.alerts.emit("llm_exceptions", "high", "three")
            self.assertEqual(len(wakes), 2)
        finally:
            h.close()


class PythonSide(unittest.TestCase):
    def test_library_warnings_go_to_logging_by_default(self):
        with self.assertLogs("alerting", logging.WARNING) as cm:
            alerting.Config.from_string("general_settings:\n  alerting: []\n  alertng_threshold: 5\n")
        self.assertIn("alertng_threshold", "\n".join(cm.output))

    def test_transport_exception_is_logged_with_its_traceback_and_retried(self):
        def broken(delivery):
            raise ZeroDivisionError("the transport's own bug")
        h = support.Harness(transports={"broken": broken}, alerting_list=["broken"])
        try:
            h.alerts.emit("llm_exceptions", "high", "x")
            with self.assertLogs("alerting", logging.ERROR) as cm:
                h.advance(1000)
            text = "\n".join(cm.output)
            self.assertIn("transport 'broken' raised", text)
            self.assertIn("Traceback", text)
            self.assertIn("ZeroDivisionError: the transport's own bug", text)
            self.assertGreaterEqual(h.alerts.stats().deliveries_retried, 1)
        finally:
            h.close()

    def test_request_labels_are_keyword_parameters(self):
        params = inspect.signature(alerting.Alerting.request).parameters
        for name in ("deployment_id", "provider", "api_base", "region", "key_hash",
                     "key_alias", "user_id", "team_id", "team_alias", "customer_id",
                     "messages"):
            self.assertEqual(params[name].kind, inspect.Parameter.KEYWORD_ONLY, name)
        h = support.Harness()
        try:
            with self.assertRaises(TypeError):
                h.alerts.request(model="m", usr_id="typo")     # type: ignore[call-arg]
        finally:
            h.close()

    def test_cost_feeds_spend_tracking(self):
        h = support.Harness("    daily_spend_per_user_threshold: 1\n"
                            "    user_spend_check_interval: 60\n")
        try:
            r = h.alerts.request(model="gpt-4o", user_id="user-42")
            r.end(completion_tokens=10, cost=2.5)
            for _ in range(3):
                h.advance(61 * 1000)
            self.assertGreaterEqual(h.receiver.find("user-42"), 0, h.receiver.texts())
            with self.assertRaises(ValueError):
                h.alerts.request(model="m").end(cost=-1)
        finally:
            h.close()

    def test_aflush_aclose_and_async_with_never_block_the_loop(self):
        released = threading.Event()
        seen = []

        def slow(delivery):
            # the loop must run (and set the event) while this delivery is in progress
            seen.append(released.wait(10))

        cfg = (alerting.Config().set("alerting", ["slow"]).set("alerting_args.worker_threads", 0)
               .set("alerting_args.shutdown_timeout", 5).add_transport("slow", slow))

        async def main():
            async def ticker():
                await asyncio.sleep(0)
                released.set()
            async with alerting.Alerting(cfg) as alerts:
                alerts.emit("llm_exceptions", "high", "x")
                alerts.poll(0)
                await asyncio.gather(alerts.aflush(10000), ticker())
                released.clear()
                alerts.emit("llm_exceptions", "high", "y")
                alerts.poll(0)
                asyncio.get_running_loop().call_soon(released.set)
            return alerts.closed

        self.assertTrue(asyncio.run(main()))
        self.assertEqual(seen, [True, True])
        cfg.close()

    def test_every_public_name_has_a_docstring(self):
        missing = []
        for name in alerting.__all__:
            obj = getattr(alerting, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                if not (obj.__doc__ or "").strip():
                    missing.append(name)
                if inspect.isclass(obj) and not issubclass(obj, (int, BaseException)):
                    for attr, member in vars(obj).items():
                        if attr.startswith("_") or not callable(member) and not isinstance(member, property):
                            continue
                        if not (getattr(member, "__doc__", None) or "").strip():
                            missing.append(f"{name}.{attr}")
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
