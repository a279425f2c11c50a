"""The operator's toolkit from Python: metrics as Prometheus text and a prometheus_client
collector (issue 13)."""
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


if __name__ == "__main__":
    unittest.main()
