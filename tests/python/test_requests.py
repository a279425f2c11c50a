# SPDX-License-Identifier: MIT
"""Hanging, slow and failed requests end to end: Python hooks -> libalerting -> the
loopback receiver, on the injected clock, with poll()/flush() and no sleeping."""
import unittest

import support
from support import T0
import alerting


class UpstreamError(Exception):
    """Like openai.APIStatusError: an HTTP status in `status_code`."""
    status_code = 503


class Requests(unittest.TestCase):
    def setUp(self):
        self.deliveries = []
        self.h = support.Harness(transports={"sink": self.deliveries.append},
                                 alerting_list=["slack", "sink"])
        self.a = self.h.alerts

    def tearDown(self):
        self.h.close()

    def test_hanging_request_alerts_after_300_s(self):
        r = self.a.request(model="gpt-4", call_id="call-1",
                           api_base="https://api.openai.example/v1", key_alias="prod-key",
                           team_alias="search")
        self.h.advance(299000)
        self.assertEqual(self.h.receiver.count(), 0)
        self.h.advance(1000)                                # exactly 300 s
        self.assertEqual(self.h.receiver.count(), 1)
        text = self.h.receiver.texts()[0]
        self.assertIn("Alert type: `llm_requests_hanging`", text)
        self.assertIn("Level: `Medium`", text)
        self.assertIn("Requests are hanging - 300s+ request time", text)
        self.assertIn("Request Model: `gpt-4`", text)
        self.assertIn("Key Alias: `prod-key`", text)
        self.assertIn("Request ID: `call-1`", text)
        self.assertIn("Elapsed: `300.00s`", text)
        self.h.advance(600000)                              # once, not again
        self.assertEqual(self.h.receiver.count(), 1)
        self.assertEqual(self.a.stats().requests_inflight, 1)
        r.cancel()
        self.assertTrue(r.done)
        self.assertEqual(self.a.stats().requests_inflight, 0)

    def test_slow_request(self):
        with self.a.request(model="gpt-4", api_base="https://x.example", key_alias="k1",
                            team_alias="t1", messages="What is the capital of France?",
                            start_ms=T0) as r:
            r.end(completion_tokens=12, end_ms=T0 + 301000)
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 1)
        text = self.h.receiver.texts()[0]
        self.assertIn("Alert type: `llm_too_slow`\nLevel: `Low`", text)
        self.assertIn("Responses are slow - 301.0s response time > Alerting threshold: 300s",
                      text)
        self.assertIn("Messages: `What is the capital of France?`", text)

    def test_slow_request_ended_by_the_context_manager(self):
        with self.a.request(model="gpt-4", start_ms=self.h.clock.now):
            self.h.clock.now += 400000                      # the call takes 400 s
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 1)
        self.assertIn("400.0s response time", self.h.receiver.texts()[0])

    def test_not_slow_at_the_threshold(self):
        with self.a.request(model="gpt-4", start_ms=T0) as r:
            r.end(end_ms=T0 + 300000)
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 0)

    def test_streaming_call_reports_time_to_first_token(self):
        with self.a.request(model="claude", stream=True, start_ms=T0) as r:
            r.first_token(T0 + 1250)
            r.end(end_ms=T0 + 301250, api_base="https://late.example")
        self.h.advance(0)
        text = self.h.receiver.texts()[0]
        self.assertIn("301.25s response time", text)
        self.assertIn("Time to First Token: `1.25s`", text)
        self.assertIn("API Base: `https://late.example`", text)

    def test_exception_in_the_with_block_is_alerted_and_reraised(self):
        with self.assertRaises(UpstreamError):
            with self.a.request(model="gpt-4o", deployment="azure/gpt-4o", call_id="c-9",
                                api_base="https://x.example") as r:
                raise UpstreamError("AzureException - upstream unavailable")
        self.assertTrue(r.done)
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 1)
        text = self.h.receiver.texts()[0]
        self.assertIn("Alert type: `llm_exceptions`\nLevel: `High`", text)
        self.assertIn("LLM API call failed: `AzureException - upstream unavailable`", text)
        self.assertIn("Deployment: `azure/gpt-4o`", text)
        body = self.deliveries[0].json()
        self.assertEqual(body["event"], "llm_exceptions")
        self.assertEqual(body["data"]["status_code"], 503)
        self.assertEqual(body["data"]["call_id"], "c-9")
        s = self.a.stats()
        self.assertEqual((s.requests_started, s.requests_inflight, s.alerts_raised), (1, 0, 1))

    def test_secrets_in_exception_messages_are_scrubbed(self):
        with self.assertRaises(RuntimeError):
            with self.a.request(model="gpt-4o"):
                raise RuntimeError("Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a2b1c")
        self.h.advance(0)
        self.assertNotIn("sk-live-4f9a8b7c6d5e4f3a2b1c", self.h.receiver.texts()[0])

    def test_base_exception_cancels(self):
        with self.assertRaises(KeyboardInterrupt):
            with self.a.request(model="gpt-4o") as r:
                raise KeyboardInterrupt
        self.assertTrue(r.done)
        self.h.advance(400000)
        self.assertEqual(self.h.receiver.count(), 0)
        s = self.a.stats()
        self.assertEqual((s.requests_inflight, s.alerts_raised), (0, 0))

    def test_users_own_error_is_not_alerted(self):
        with self.a.request(model="gpt-4o") as r:
            r.failure(status_code=429, message="Rate limit exceeded", user_error=True)
        self.a.failure(model="gpt-4o", status_code=401, message="bad key", user_error=True)
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 0)

    def test_failure_without_a_request(self):
        self.a.failure(ValueError("upstream said no"), model="gpt-4o", call_id="c-0",
                       status_code=500, metadata={"runbook": "https://wiki/x"})
        self.h.advance(0)
        body = self.deliveries[0].json()
        self.assertEqual(body["data"]["model"], "gpt-4o")
        self.assertEqual(body["data"]["status_code"], 500)
        self.assertEqual(body["alerting_metadata"], {"runbook": "https://wiki/x"})

    def test_first_of_end_failure_cancel_wins(self):
        with self.a.request(model="m") as r:
            r.cancel()
            r.end()                     # no-ops: the request is done
            r.failure(RuntimeError("x"))
        with self.assertRaises(RuntimeError):
            with self.a.request(model="m", start_ms=T0) as r2:
                r2.end(end_ms=T0 + 400000)
                raise RuntimeError("after the end: not a failure of the call")
        self.h.advance(0)
        self.assertEqual([d.alert_type for d in self.deliveries], ["llm_too_slow"])

    def test_request_rejects_unknown_labels(self):
        with self.assertRaises(TypeError):
            self.a.request(model="m", colour="blue")
        self.assertEqual(self.a.stats().requests_started, 0)

    def test_emit_and_metadata(self):
        self.a.emit("db_exceptions", alerting.Level.HIGH, "DB read/write call failed",
                    metadata={"runbook": "https://wiki/db"})
        self.a.emit("llm_exceptions", "medium", "by name")
        self.a.emit("llm_exceptions", alerting.LEVEL_LOW, "by int")
        self.h.advance(0)
        levels = sorted((d.alert_type, d.level) for d in self.deliveries)
        self.assertEqual(levels, [("db_exceptions", alerting.Level.HIGH),
                                  ("llm_exceptions", alerting.Level.LOW),
                                  ("llm_exceptions", alerting.Level.MEDIUM)])
        db = [d for d in self.deliveries if d.alert_type == "db_exceptions"][0]
        self.assertEqual(db.json()["alerting_metadata"], {"runbook": "https://wiki/db"})
        with self.assertRaises(ValueError):
            self.a.emit("llm_exceptions", "urgent", "no such level")

    def test_send_test(self):
        self.a.send_test("slack")
        self.h.advance(0)
        self.assertGreaterEqual(self.h.receiver.count(), 1)
        self.assertIn("test", self.h.receiver.texts()[0].lower())

    def test_stats_is_a_dataclass_with_every_field(self):
        import dataclasses
        s = self.a.stats()
        self.assertTrue(dataclasses.is_dataclass(s))
        names = [f.name for f in dataclasses.fields(s)]
        c_names = [name for name, _ in alerting._native.alert_stats._fields_][1:]
        self.assertEqual(names, c_names)
        self.assertEqual(set(s.as_dict()), set(names))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            s.requests_started = 5
        for i in range(3):
            with self.a.request(model="m"):
                pass
        self.a.request(model="m")
        s = self.a.stats()
        self.assertEqual((s.requests_started, s.requests_inflight), (4, 1))

    def test_last_error(self):
        self.assertIsNone(self.a.last_error)
        self.h.receiver.push(400)                         # given up at once
        self.a.emit("llm_exceptions", "high", "refused")
        self.h.advance(0)
        self.assertIsNotNone(self.a.last_error)
        self.assertNotIn("SECRETPATH", self.a.last_error)  # the webhook URL is a secret
        self.assertEqual(self.a.stats().deliveries_failed, 1)


if __name__ == "__main__":
    unittest.main()
