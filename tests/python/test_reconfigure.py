"""Alerting.reconfigure: a new configuration on a running Alerting, all or nothing
(alert_ctx_reconfigure, issue 13 item 4)."""
import unittest

import support
import alerting


class Reconfigure(unittest.TestCase):
    def setUp(self):
        self.h = support.Harness()

    def tearDown(self):
        self.h.close()

    def test_hanging_follows_the_new_threshold(self):
        r = self.h.alerts.request(model="gpt-4o", call_id="c1")
        self.h.advance(10000)
        self.assertEqual(self.h.receiver.count(), 0)
        self.h.config.set("alerting_threshold", 5)
        self.h.alerts.reconfigure(self.h.config)
        self.h.advance(100)
        self.assertGreaterEqual(self.h.receiver.find("Requests are hanging"), 0)
        r.end()

    def test_changed_target_gets_the_pending_delivery(self):
        self.h.config.set("alerting_args.flush_interval", 60)
        self.h.alerts.reconfigure(self.h.config)
        self.h.alerts.emit("llm_exceptions", "high", "pending")
        self.h.alerts.poll(0)
        self.h.config.set("alerting_args.slack_webhook_url", self.h.receiver.url("/moved/SECRET2"))
        self.h.alerts.reconfigure(self.h.config)
        self.h.advance(61000)
        self.assertEqual([q.path for q in self.h.receiver.requests], ["/moved/SECRET2"])

    def test_invalid_or_fixed_key_changes_nothing(self):
        self.h.config.set("alerting", ["slack", "carrier_pigeon"])
        with self.assertRaises(alerting.ConfigError) as cm:
            self.h.alerts.reconfigure(self.h.config)
        self.assertIn("carrier_pigeon", str(cm.exception))
        self.h.config.set("alerting", ["slack"])
        self.h.config.set("alerting_args.max_inflight", 7)
        with self.assertRaises(alerting.ConfigError) as cm:
            self.h.alerts.reconfigure(self.h.config)
        self.assertIn("max_inflight", str(cm.exception))
        with self.assertRaises(TypeError):
            self.h.alerts.reconfigure("config.yaml")


if __name__ == "__main__":
    unittest.main()
