# SPDX-License-Identifier: MIT
"""Strings C cannot take as UTF-8 (lone surrogates: os.fsdecode of bad bytes, a JSON
"\\ud83d" escape cut in half) and arguments that cannot be passed at all: the host never
gets an encoding error from an alerting call, and a request always ends, so nothing is
reported hanging later."""
import unittest

import support
from support import T0
import alerting


class Surrogate(Exception):
    status_code = 502


class BrokenStr(Exception):
    def __str__(self):
        raise RuntimeError("__str__ itself fails")


class Unencodable(unittest.TestCase):
    def setUp(self):
        self.deliveries = []
        self.h = support.Harness(transports={"sink": self.deliveries.append},
                                 alerting_list=["slack", "sink"])
        self.a = self.h.alerts

    def tearDown(self):
        self.h.close()

    def assert_ended_and_not_hanging(self):
        self.assertEqual(self.a.stats().requests_inflight, 0)
        before = self.h.receiver.count()
        self.h.advance(400000)                      # past alerting_threshold (300 s)
        self.assertEqual(self.h.receiver.count(), before)
        self.assertEqual(self.h.receiver.find("llm_requests_hanging"), -1)

    def test_lone_surrogate_in_an_exception_message(self):
        with self.assertRaises(Surrogate):          # the caller's own exception, unchanged
            with self.a.request(model="gpt-4o", call_id="c-1") as r:
                raise Surrogate("upstream sent \udcff\udcfe bytes")
        self.assertTrue(r.done)
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 1)
        text = self.h.receiver.texts()[0]
        self.assertIn("LLM API call failed: `upstream sent \ufffd\ufffd bytes`", text)
        self.assert_ended_and_not_hanging()

    def test_split_surrogate_pair_is_repaired(self):
        with self.assertRaises(Surrogate):
            with self.a.request(model="gpt-4o"):
                raise Surrogate("rocket \ud83d\ude80 down")     # two code points, one pair
        self.h.advance(0)
        self.assertIn("rocket \U0001f680 down", self.h.receiver.texts()[0])
        self.assert_ended_and_not_hanging()

    def test_every_string_argument(self):
        r = self.a.request(model="gpt-\udc80", call_id="c-\ud800", key_alias="k\udfff",
                           metadata={"note": "x\udcff"})
        r.failure(message="bad \udcff", deployment="d\udc00", api_base="https://x.example/\udcff",
                  metadata={"k\udcff": "v"})
        self.assertTrue(r.done)
        self.a.failure(Surrogate("no request \udcff"), model="m\udcff")
        self.a.emit("llm_exceptions", "high", "emitted \udcff")
        self.a.on_db_error("db \udcff")
        self.h.advance(0)
        self.assertEqual(self.a.stats().alerts_raised, 4)
        self.assertEqual(len(self.deliveries), 4)
        text = "\n".join(self.h.receiver.texts())     # Slack may pack them into one message
        self.assertIn("LLM API call failed: `bad \ufffd`\nModel: `gpt-\ufffd`\nDeployment: `d\ufffd`",
                      text)
        self.assertIn("note: `x\ufffd`", text)
        self.assertIn("LLM API call failed: `no request \ufffd`\nModel: `m\ufffd`", text)
        self.assertIn("Message: emitted \ufffd", text)
        self.assertIn("DB read/write call failed: db \ufffd", text)
        self.assert_ended_and_not_hanging()

    def test_exception_whose_str_fails(self):
        with self.assertRaises(BrokenStr):
            with self.a.request(model="gpt-4o") as r:
                raise BrokenStr()
        self.assertTrue(r.done)
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 1)
        self.assertIn("BrokenStr", self.h.receiver.texts()[0])
        self.assert_ended_and_not_hanging()

    def test_a_bad_argument_still_ends_the_request(self):
        r = self.a.request(model="gpt-4o")
        with self.assertRaises(TypeError):
            r.failure(Surrogate("boom"), model=object())    # not a str: refused ...
        self.assertTrue(r.done)                             # ... but the request ended
        self.h.advance(0)
        self.assertEqual(self.h.receiver.count(), 1)        # as a failure
        r2 = self.a.request(model="gpt-4o")
        with self.assertRaises(TypeError):
            r2.end(deployment=object())
        self.assertTrue(r2.done)
        self.assert_ended_and_not_hanging()


if __name__ == "__main__":
    unittest.main()
