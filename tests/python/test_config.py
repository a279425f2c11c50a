# SPDX-License-Identifier: MIT
"""Config: loading, key by key, Python values as YAML, the package's surface."""
import os
import subprocess
import sys
import unittest

import support
import alerting


class Values(unittest.TestCase):
    def test_to_yaml(self):
        y = alerting.to_yaml
        self.assertEqual(y("[slack, webhook]"), "[slack, webhook]")   # str: YAML already
        self.assertEqual(y(["slack", "webhook"]), '["slack", "webhook"]')
        self.assertEqual(y(("slack",)), '["slack"]')
        self.assertEqual(y(True), "true")
        self.assertEqual(y(False), "false")
        self.assertEqual(y(300), "300")
        self.assertEqual(y(0.5), "0.5")
        self.assertEqual(y(None), "null")
        self.assertEqual(y({"slack": "1/s"}), '{"slack": "1/s"}')
        with self.assertRaises(ValueError):
            y(float("inf"))

    def test_set_takes_python_values(self):
        logs = []
        r = support.Receiver()
        try:
            cfg = (alerting.Config().set_log(lambda lvl, msg: logs.append(msg))
                   .set("alerting", ["slack"])
                   .set("alerting_threshold", 300)
                   .set("alert_types", ["llm_too_slow"])
                   .set("alerting_args.worker_threads", 0)
                   .set("alerting_args.send_resolved", True)
                   .set("alerting_args.shutdown_timeout", 0.2)
                   .set("alerting_args.slack_webhook_url", r.url()))
            clock = support.Clock()
            cfg.set_clock(clock)
            with alerting.Alerting(cfg) as a:
                a.emit("llm_exceptions", "high", "filtered: not in alert_types")
                with a.request(model="m", start_ms=clock.now - 301000):
                    pass
                a.poll(0)
                a.flush(5000)
                self.assertEqual(r.count(), 1)
                self.assertIn("llm_too_slow", r.texts()[0])
                self.assertEqual(a.stats().alerts_filtered, 1)
            cfg.close()
        finally:
            r.stop()

    def test_set_stores_a_str_literally_and_get_reads_it_back(self):
        with alerting.Config() as cfg:
            for value in ("edge #3", "!prod", "[my-secret", "p@ss: word", 'say "hi"'):
                cfg.set("instance_name", value)
                self.assertEqual(cfg.get("alerting_args.instance_name"), value)
            cfg.set("alerting_threshold", "12.5")       # a number key reads its text
            self.assertEqual(cfg.get("alerting_threshold"), 12.5)
            cfg.set_yaml("alerting", "[slack, webhook]")
            self.assertEqual(cfg.get("alerting"), ["slack", "webhook"])
            cfg.set("smtp_password", "p@ss: word")
            self.assertEqual(cfg.get("smtp_password"), "***")
            cfg.set("slack_webhook_url", "https://hooks.slack.com/services/T/B/SECRET")
            self.assertEqual(cfg.get("slack_webhook_url"), "https://hooks.slack.com/***")
            everything = cfg.get("general_settings")
            self.assertEqual(everything["alerting_args"]["batch_size"], 512)
            self.assertEqual(everything["alerting_args"]["fleet"], "auto")
            self.assertNotIn("SECRET", repr(everything))
            with self.assertRaises(alerting.NotFoundError):
                cfg.get("no_such_key")

    def test_check_has_the_errors_of_create(self):
        with alerting.Config() as cfg:
            cfg.set("alerting", ["slack", "nosuch"])
            with self.assertRaises(alerting.ConfigError) as cm:
                cfg.check()
            self.assertIn("unknown destination 'nosuch'", str(cm.exception))
            cfg.set("alerting", []).check()

    def test_example_config_loads(self):
        path = os.path.join(support.ROOT, "examples", "config.yaml")
        with alerting.Config.from_file(path) as cfg:
            cfg.set("alerting_args.worker_threads", 0).set("alerting_args.shutdown_timeout", 0.1)
            with alerting.Alerting(cfg):
                pass

    def test_alerting_from_a_path(self):
        path = os.path.join(support.ROOT, "examples", "config.yaml")
        with alerting.Alerting(path) as a:
            self.assertFalse(a.closed)
        with self.assertRaises(TypeError):
            alerting.Alerting(42)

    def test_closed_config(self):
        cfg = alerting.Config()
        cfg.close()
        cfg.close()
        with self.assertRaises(alerting.StateError):
            cfg.set("alerting", ["slack"])
        with self.assertRaises(alerting.StateError):
            alerting.Alerting(cfg)

    def test_config_may_go_before_the_alerting(self):
        got = []
        cfg = (alerting.Config().set("alerting", ["sink"]).set("alerting_args.worker_threads", 0)
               .add_transport("sink", lambda d: got.append(d.alert_type)))
        a = alerting.Alerting(cfg)
        cfg.close()
        del cfg
        import gc
        gc.collect()
        a.emit("llm_exceptions", "high", "after the config is gone")
        a.flush(1000)
        a.close()
        self.assertEqual(got, ["llm_exceptions"])


class Package(unittest.TestCase):
    def test_versions_match_the_header(self):
        self.assertEqual(alerting.version(), support.header_version())
        self.assertEqual(".".join(map(str, alerting.version_info())), support.header_version())
        self.assertEqual(alerting.__version__, support.header_version())

    def test_constants(self):
        self.assertEqual((alerting.LEVEL_LOW, alerting.LEVEL_MEDIUM, alerting.LEVEL_HIGH), (1, 2, 3))
        self.assertEqual(alerting.Level.HIGH, 3)
        self.assertEqual((alerting.LOG_ERROR, alerting.LOG_DEBUG), (1, 4))
        self.assertEqual([int(e) for e in alerting.Entity], list(range(1, 9)))
        self.assertEqual(alerting.ENTITY_PROXY, 8)
        self.assertEqual(alerting.OK, 0)
        self.assertEqual(alerting.ERR_CALLBACK, -12)
        with open(support.HEADER) as f:
            header = f.read()
        import re
        for name, value in re.findall(r"#define ALERT_((?:ERR|LEVEL|LOG|ENTITY)_\w+)\s+(-?\d+)",
                                      header):
            self.assertEqual(getattr(alerting, name), int(value), name)

    def test_every_function_of_the_header_is_bound(self):
        import re
        with open(support.HEADER) as f:
            header = f.read()
        declared = set(re.findall(r"ALERT_API\s+[^;(]*?\b(alert_\w+)\s*\(", header))
        self.assertGreater(len(declared), 40)
        self.assertEqual(declared, set(alerting._native.PROTOTYPES))
        self.assertEqual(alerting._native.lib().missing, [])
        structs = set(re.findall(r"typedef struct (alert_\w+) \{", header))
        self.assertEqual(structs, {s.__name__ for s in alerting._native.STRUCTS})

    def test_library_is_found_through_alerting_library(self):
        self.assertEqual(alerting.library_path(), support.LIBRARY)

    def _python(self, code, env):
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=60)

    def test_a_bad_alerting_library_is_not_second_guessed(self):
        env = dict(os.environ, ALERTING_LIBRARY="/nonexistent/libalerting.so.0",
                   PYTHONPATH=os.path.dirname(os.path.dirname(alerting.__file__)))
        p = self._python("import alerting\n"
                         "print(alerting.LEVEL_HIGH)\n"          # importing needs no library
                         "try:\n"
                         "    alerting.Config()\n"
                         "except alerting.LibraryNotFound as e:\n"
                         "    print('not found:', e)\n", env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("3\nnot found:", p.stdout)
        self.assertIn("/nonexistent/libalerting.so.0 (ALERTING_LIBRARY)", p.stdout)

    def test_a_copy_in_the_package_directory_is_found(self):
        import shutil
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.dirname(alerting.__file__), os.path.join(tmp, "alerting"),
                            ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
            shutil.copy(os.path.realpath(support.LIBRARY),
                        os.path.join(tmp, "alerting", "libalerting.so.0"))
            env = {k: v for k, v in os.environ.items() if k != "ALERTING_LIBRARY"}
            env["PYTHONPATH"] = tmp
            p = self._python("import alerting; print(alerting.library_path()); "
                             "print(alerting.version())", env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split("\n")[:2],
                         [os.path.join(tmp, "alerting", "libalerting.so.0"),
                          support.header_version()])

    def test_ctypes_structs_are_filled_by_the_init_functions(self):
        from ctypes import byref
        n = alerting._native
        lib = n.lib()
        for struct, init, version in [
                (n.alert_request, lib.alert_request_init, n.ALERT_REQUEST_VERSION),
                (n.alert_response, lib.alert_response_init, n.ALERT_RESPONSE_VERSION),
                (n.alert_failure, lib.alert_failure_init, n.ALERT_FAILURE_VERSION),
                (n.alert_budget, lib.alert_budget_init, n.ALERT_BUDGET_VERSION),
                (n.alert_stats, lib.alert_stats_init, n.ALERT_STATS_VERSION)]:
            s = struct()
            self.assertEqual(init(byref(s), version), alerting.OK)
            self.assertEqual(s.version, version)
        r = n.alert_response()
        lib.alert_response_init(byref(r), n.ALERT_RESPONSE_VERSION)
        self.assertEqual((r.prompt_tokens, r.completion_tokens, r.cost), (-1, -1, -1.0))
        b = n.alert_budget()
        lib.alert_budget_init(byref(b), n.ALERT_BUDGET_VERSION)
        self.assertEqual((b.max_budget, b.soft_budget), (-1.0, -1.0))
        s = n.alert_stats()
        self.assertEqual(lib.alert_stats_init(byref(s), 0), alerting.ERR_VERSION)


if __name__ == "__main__":
    unittest.main()
