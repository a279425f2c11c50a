# SPDX-License-Identifier: MIT
"""8 Python threads x 10 000 requests through one Alerting with its worker thread on and
the real clock: no crash, every request accounted for, no alert lost."""
import gc
import threading
import time
import unittest

import support  # noqa: F401 - environment and library
import alerting

THREADS = 8
PER_THREAD = 10_000
SLOW_EVERY = 1_000          # 10 slow requests per thread: 80 llm_too_slow alerts


class Threads(unittest.TestCase):
    def test_8_threads_x_10000_requests(self):
        lock = threading.Lock()
        slow_models = []
        every = []

        def sink(d):
            with lock:
                every.append((d.alert_type, d.text[:300]))
            if d.alert_type == "llm_too_slow":
                model = d.json()["data"]["model"]
                with lock:
                    slow_models.append(model)

        cfg = (alerting.Config()
               .set("alerting", ["sink"])
               .set("alerting_threshold", 300)
               .set("alert_types", ["llm_exceptions", "llm_too_slow", "llm_requests_hanging"])
               .set("alerting_args.shutdown_timeout", 5)
               # room for every start and end event: this test is about the binding, not
               # about how fast one core's worker drains a storm
               .set("alerting_args.event_queue_size", 262144)
               .add_transport("sink", sink))
        errors = []
        barrier = threading.Barrier(THREADS)

        def client(t):
            try:
                barrier.wait()
                for i in range(PER_THREAD):
                    if i % SLOW_EVERY == 0:
                        # 400 s long by the timestamps given. (Not started 400 s ago: the
                        # worker could then see it hanging before its end arrives.)
                        start = time.time_ns() // 1_000_000
                        with alerts.request(model=f"slow-{t}-{i}", call_id=f"{t}-{i}",
                                            start_ms=start) as r:
                            r.end(end_ms=start + 400_000)
                    else:
                        with alerts.request(model="gpt-4o", deployment="azure/gpt-4o",
                                            call_id=f"{t}-{i}") as r:
                            r.end(prompt_tokens=10, completion_tokens=20, cost=0.0001)
            except BaseException as exc:    # noqa: BLE001 - reported below
                errors.append(exc)

        with alerting.Alerting(cfg) as alerts:
            cfg.close()
            threads = [threading.Thread(target=client, args=(t,), name=f"client-{t}")
                       for t in range(THREADS)]
            gc.collect()
            objects_before = len(gc.get_objects())
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            self.assertEqual(errors, [])
            alerts.flush(30000)
            s = alerts.stats()
            del threads, th
            gc.collect()
            # no Request, struct or callback object survives its request
            self.assertLess(len(gc.get_objects()) - objects_before, 1000)
        self.assertEqual(s.requests_started, THREADS * PER_THREAD)
        self.assertEqual(s.requests_inflight, 0)
        self.assertEqual(s.requests_rejected, 0)
        self.assertEqual(s.events_dropped, 0)
        want = sorted(f"slow-{t}-{i}" for t in range(THREADS)
                      for i in range(0, PER_THREAD, SLOW_EVERY))
        self.assertEqual(len(want), THREADS * PER_THREAD // SLOW_EVERY)
        self.assertEqual(sorted(slow_models), want)
        self.assertEqual(s.alerts_raised, len(want), [e for e in every if e[0] != "llm_too_slow"])
        self.assertEqual((s.deliveries_ok, s.deliveries_failed, s.queue_depth),
                         (len(want), 0, 0))


if __name__ == "__main__":
    unittest.main()
