# SPDX-License-Identifier: MIT
"""Status codes become exceptions: one class per ALERT_ERR_*, with code, name and text."""
import os
import pickle
import tempfile
import unittest

import support
import alerting

# (code, class, the built-in it also is, if any)
TABLE = [
    (-1, alerting.NomemError, MemoryError),
    (-2, alerting.InvalidError, ValueError),
    (-3, alerting.VersionError, None),
    (-4, alerting.ConfigError, ValueError),
    (-5, alerting.IoError, OSError),
    (-6, alerting.TransportError, None),
    (-7, alerting.NotFoundError, LookupError),
    (-8, alerting.FullError, None),
    (-9, alerting.AlertTimeoutError, TimeoutError),
    (-10, alerting.StateError, None),
    (-11, alerting.UnsupportedError, NotImplementedError),
    (-12, alerting.CallbackError, None),
]


class ErrorClasses(unittest.TestCase):
    def test_every_code_has_its_class(self):
        self.assertEqual(len(TABLE), len(alerting.ErrorCode) - 1)
        for code, cls, builtin in TABLE:
            with self.subTest(cls=cls.__name__):
                self.assertIs(alerting.error_class(code), cls)
                self.assertEqual(cls.code, code)
                self.assertEqual(int(alerting.ErrorCode(code)), code)
                err = alerting.errors.from_code(code, None, "alert_x")
                self.assertIs(type(err), cls)
                self.assertIsInstance(err, alerting.AlertingError)
                if builtin:
                    self.assertIsInstance(err, builtin)
                self.assertEqual(err.code, code)
                self.assertEqual(err.name, alerting.err_name(code))
                self.assertTrue(err.name.startswith("ALERT_ERR_"))
                self.assertIn(alerting.strerror(code), str(err))
                self.assertEqual(repr(pickle.loads(pickle.dumps(err))), repr(err))

    def test_names_and_texts_come_from_the_library(self):
        self.assertEqual(alerting.err_name(-4), "ALERT_ERR_CONFIG")
        self.assertEqual(alerting.err_name(0), "ALERT_OK")
        self.assertEqual(alerting.strerror(-9), "timed out")
        self.assertEqual(alerting.strerror(-99), "unknown error")
        self.assertEqual(alerting.err_name(-99), "ALERT_ERR_UNKNOWN")
        for code, _, _ in TABLE:
            self.assertEqual(getattr(alerting, alerting.err_name(code)[len("ALERT_"):]), code)

    def test_unknown_code_is_the_base_class(self):
        err = alerting.errors.from_code(-99, "from the future", "alert_new_thing")
        self.assertIs(type(err), alerting.AlertingError)
        self.assertEqual(err.code, -99)
        self.assertEqual(str(err), "alert_new_thing: unknown error: from the future")

    def test_timeout_error_does_not_shadow_the_builtin(self):
        ns = {}
        exec("from alerting import *", ns)
        self.assertNotIn("TimeoutError", ns)
        self.assertIn("AlertTimeoutError", ns)
        self.assertTrue(issubclass(alerting.AlertTimeoutError, TimeoutError))


class ErrorsFromCalls(unittest.TestCase):
    """Each code, produced by a real call where one can produce it."""

    def setUp(self):
        self.h = support.Harness()

    def tearDown(self):
        self.h.close()

    def test_config_error_from_a_string_has_line_and_column(self):
        with self.assertRaises(alerting.ConfigError) as cm:
            alerting.Config.from_string("general_settings:\n"
                                        "  alerting: [slack]\n"
                                        "  alerting_threshold: -5\n")
        err = cm.exception
        self.assertEqual(err.code, alerting.ERR_CONFIG)
        self.assertEqual(err.name, "ALERT_ERR_CONFIG")
        self.assertEqual((err.line, err.column), (3, 23))
        self.assertIn("negative", err.text)
        self.assertIn(":3:23: ", str(err))

    def test_config_error_from_a_file_names_the_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "config.yaml")
            with open(path, "w") as f:
                # an unknown alert type is only a warning now (issue 12, item 2)
                f.write("general_settings:\n  alerting_threshold: no_such_number\n")
            with self.assertRaises(alerting.ConfigError) as cm:
                alerting.Config.from_file(path)
        err = cm.exception
        self.assertEqual(err.source, path)
        self.assertEqual(err.line, 2)
        self.assertGreater(err.column, 1)
        self.assertTrue(str(err).startswith(f"{path}:2:{err.column}: "), str(err))
        self.assertIn("alerting_threshold", str(err))

    def test_malformed_yaml(self):
        with self.assertRaises(alerting.ConfigError) as cm:
            alerting.Config.from_string("general_settings:\n  alerting: [slack\n")
        self.assertGreaterEqual(cm.exception.line, 2)
        self.assertGreater(cm.exception.column, 0)

    def test_config_error_from_set_names_the_key(self):
        with alerting.Config() as cfg:
            with self.assertRaises(alerting.ConfigError) as cm:
                cfg.set("alerting_threshold", -3)
        self.assertEqual(cm.exception.source, "alerting_threshold")
        self.assertIn("alerting_threshold", str(cm.exception))

    def test_unknown_destination_fails_at_create(self):
        cfg = alerting.Config().set("alerting", ["slack", "pager"])
        with self.assertRaises(alerting.ConfigError) as cm:
            alerting.Alerting(cfg)
        self.assertIn("pager", str(cm.exception))
        cfg.close()

    def test_missing_file_is_an_io_error(self):
        with self.assertRaises(alerting.IoError) as cm:
            alerting.Config.from_file("/nonexistent/config.yaml")
        self.assertEqual(cm.exception.code, alerting.ERR_IO)
        self.assertIsInstance(cm.exception, OSError)

    def test_not_found(self):
        r = self.h.alerts.request(model="gpt-4")
        r.end()
        with self.assertRaises(alerting.NotFoundError) as cm:
            r.first_token()
        # the library's reason travels with the exception (alert_ctx_last_error)
        self.assertIn(f"request id {r.id} is not in flight", str(cm.exception))
        self.assertIn("alert_on_first_token", cm.exception.detail)

    def test_invalid(self):
        with self.assertRaises(alerting.InvalidError) as cm:
            self.h.alerts.emit("llm_exceptions", 7, "no such level")
        self.assertIn("level 7 is out of range", str(cm.exception))

    def test_state_poll_with_a_worker_thread(self):
        cfg = alerting.Config().set("alerting", []).set("alerting_args.shutdown_timeout", 0.2)
        with alerting.Alerting(cfg) as threaded:
            with self.assertRaises(alerting.StateError) as cm:
                threaded.poll(0)
            self.assertIn("worker thread", str(cm.exception))
        cfg.close()

    def test_state_after_close(self):
        a = alerting.Alerting(self.h.config)
        a.close()
        a.close()               # idempotent
        self.assertTrue(a.closed)
        with self.assertRaises(alerting.StateError):
            a.emit("llm_exceptions", "high", "closed")
        with self.assertRaises(alerting.StateError):
            a.request(model="x")

    def test_timeout_from_flush(self):
        # a receiver that never answers: http_timeout 2 s > the 50 ms flush
        import socket
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        try:
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
            cfg = alerting.Config.from_string(support.base_yaml(url)).set_clock(self.h.clock)
            with alerting.Alerting(cfg) as a:
                a.emit("llm_exceptions", "high", "nobody listens")
                with self.assertRaises(alerting.AlertTimeoutError) as cm:
                    a.flush(50)
                self.assertIsInstance(cm.exception, TimeoutError)
                self.assertEqual(cm.exception.name, "ALERT_ERR_TIMEOUT")
            cfg.close()
        finally:
            silent.close()

    def test_unsupported_functions_raise_unsupported(self):
        """Functions the library does not implement yet answer ALERT_ERR_UNSUPPORTED."""
        a = self.h.alerts
        calls = {
            "on_spend": lambda: a.on_spend(1.5, model="gpt-4", tags=["a", "b"], key_alias="k"),
            "on_budget": lambda: a.on_budget(alerting.Entity.TEAM, "t1", spend=90,
                                             max_budget=100, alert_emails=["x@example.com"]),
            "set_budget": lambda: a.set_budget("user", "u1", max_budget=10,
                                               budget_duration="30d"),
            "on_db_error": lambda: a.on_db_error("connection refused"),
            "on_spend_tracking_failure": lambda: a.on_spend_tracking_failure("gpt-4", "boom"),
            "on_deployment_cooldown": lambda: a.on_deployment_cooldown("azure/gpt-4", "429", 60),
            "on_fallback": lambda: a.on_fallback("gpt-4", "claude", True),
            "on_management_event": lambda: a.on_management_event(
                "new_model_added", {"user_id": "admin"}, {"model": "gpt-5"}),
        }
        for name, call in calls.items():
            with self.subTest(name):
                try:
                    call()
                except alerting.UnsupportedError as err:
                    self.assertEqual(err.code, alerting.ERR_UNSUPPORTED)
                    self.assertIsInstance(err, NotImplementedError)
                # implemented by now: fine, it must simply not raise anything else


if __name__ == "__main__":
    unittest.main()
