# SPDX-License-Identifier: MIT
"""The C side: finding libalerting, its structs and its function prototypes.

Everything here mirrors include/alerting.h one to one. Struct fields keep the header's
order, names and types; nothing outside this module touches ctypes prototypes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int,
                    c_int32, c_int64, c_size_t, c_uint, c_uint8, c_uint32, c_uint64, c_void_p)

# ---- status codes (fixed forever) and struct versions this binding fills --------------
ALERT_OK = 0
ALERT_ERR_NOMEM = -1
ALERT_ERR_INVALID = -2
ALERT_ERR_VERSION = -3
ALERT_ERR_CONFIG = -4
ALERT_ERR_IO = -5
ALERT_ERR_TRANSPORT = -6
ALERT_ERR_NOT_FOUND = -7
ALERT_ERR_FULL = -8
ALERT_ERR_TIMEOUT = -9
ALERT_ERR_STATE = -10
ALERT_ERR_UNSUPPORTED = -11
ALERT_ERR_CALLBACK = -12

ALERT_ERROR_VERSION = 1
ALERT_REQUEST_VERSION = 1
ALERT_RESPONSE_VERSION = 1
ALERT_FAILURE_VERSION = 1
ALERT_SPEND_VERSION = 1
ALERT_BUDGET_VERSION = 1
ALERT_DELIVERY_VERSION = 1
ALERT_TRANSPORT_VERSION = 1
ALERT_STATS_VERSION = 2
ALERT_METRICS_PROMETHEUS = 1

# ---- callbacks -----------------------------------------------------------------------
alert_clock_fn = CFUNCTYPE(c_int64, c_void_p)
alert_log_fn = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
alert_wakeup_fn = CFUNCTYPE(None, c_void_p)


# ---- structs, field for field as in the header ----------------------------------------
class alert_error(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("code", c_int32),
        ("line", c_int32),
        ("column", c_int32),
        ("source", c_char * 128),
        ("text", c_char * 256),
        ("reserved", c_uint8 * 64),
    ]


class alert_request(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("call_id", c_char_p),
        ("model", c_char_p),
        ("deployment", c_char_p),
        ("deployment_id", c_char_p),
        ("provider", c_char_p),
        ("api_base", c_char_p),
        ("region", c_char_p),
        ("key_hash", c_char_p),
        ("key_alias", c_char_p),
        ("user_id", c_char_p),
        ("team_id", c_char_p),
        ("team_alias", c_char_p),
        ("customer_id", c_char_p),
        ("messages", c_char_p),
        ("alerting_metadata_json", c_char_p),
        ("stream", c_int32),
        ("start_ms", c_int64),
    ]


class alert_response(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("deployment", c_char_p),
        ("deployment_id", c_char_p),
        ("provider", c_char_p),
        ("api_base", c_char_p),
        ("region", c_char_p),
        ("prompt_tokens", c_int64),
        ("completion_tokens", c_int64),
        ("cost", c_double),
        ("end_ms", c_int64),
    ]


class alert_failure(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("status_code", c_int32),
        ("error_class", c_char_p),
        ("message", c_char_p),
        ("deployment", c_char_p),
        ("deployment_id", c_char_p),
        ("provider", c_char_p),
        ("api_base", c_char_p),
        ("region", c_char_p),
        ("user_error", c_int32),
        ("end_ms", c_int64),
        ("model", c_char_p),
        ("call_id", c_char_p),
        ("key_alias", c_char_p),
        ("team_alias", c_char_p),
        ("alerting_metadata_json", c_char_p),
    ]


class alert_spend(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("cost", c_double),
        ("key_hash", c_char_p),
        ("key_alias", c_char_p),
        ("user_id", c_char_p),
        ("user_email", c_char_p),
        ("team_id", c_char_p),
        ("team_alias", c_char_p),
        ("customer_id", c_char_p),
        ("organization_id", c_char_p),
        ("model", c_char_p),
        ("deployment", c_char_p),
        ("tags", POINTER(c_char_p)),
        ("tag_count", c_uint32),
        ("at_ms", c_int64),
    ]


class alert_budget(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("entity", c_int32),
        ("entity_id", c_char_p),
        ("spend", c_double),
        ("max_budget", c_double),
        ("soft_budget", c_double),
        ("budget_reset_at_ms", c_int64),
        ("key_hash", c_char_p),
        ("key_alias", c_char_p),
        ("user_id", c_char_p),
        ("user_email", c_char_p),
        ("team_id", c_char_p),
        ("team_alias", c_char_p),
        ("customer_id", c_char_p),
        ("organization_id", c_char_p),
        ("alert_emails", POINTER(c_char_p)),
        ("alert_email_count", c_uint32),
    ]


class alert_delivery(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("destination", c_char_p),
        ("url", c_char_p),
        ("alert_type", c_char_p),
        ("level", c_int32),
        ("content_type", c_char_p),
        ("body", POINTER(c_char)),      # const char *, read with body_len (may hold NULs)
        ("body_len", c_size_t),
        ("text", c_char_p),
        ("idempotency_key", c_char_p),
        ("attempt", c_int32),
    ]


alert_send_fn = CFUNCTYPE(c_int, POINTER(alert_delivery), c_void_p)
alert_destroy_fn = CFUNCTYPE(None, c_void_p)


class alert_transport(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("send", alert_send_fn),
        ("destroy", alert_destroy_fn),
    ]


STATS_FIELDS = (
    "requests_started", "requests_inflight",
    "alerts_raised", "alerts_filtered", "alerts_deduplicated", "alerts_coalesced",
    "deliveries_ok", "deliveries_retried", "deliveries_failed", "deliveries_dropped",
    "queue_depth",
    "requests_rejected",
    "events_dropped",
    "destinations_dead",
    # version 2: fleet mode
    "fleet_connected", "fleet_rounds", "fleet_round_errors",
    "fleet_claims_won", "fleet_claims_lost", "fleet_claims_unanswered",
    "fleet_deliveries_adopted", "fleet_round_longest_us",
)


class alert_stats(Structure):
    _fields_ = [("version", c_uint32)] + [(name, c_uint64) for name in STATS_FIELDS]


STRUCTS = (alert_error, alert_request, alert_response, alert_failure, alert_spend,
           alert_budget, alert_delivery, alert_transport, alert_stats)

# ---- prototypes: name -> (restype, argtypes) ------------------------------------------
_vp = c_void_p          # alert_config * and alert_ctx *: opaque
_pvp = POINTER(c_void_p)
_cp = c_char_p
PROTOTYPES = {
    "alert_version": (c_uint, []),
    "alert_version_string": (_cp, []),
    "alert_strerror": (_cp, [c_int]),
    "alert_err_name": (_cp, [c_int]),
    "alert_error_init": (c_int, [POINTER(alert_error), c_uint]),
    "alert_global_init": (c_int, []),
    "alert_global_cleanup": (None, []),
    "alert_config_new": (c_int, [_pvp]),
    "alert_config_free": (None, [_vp]),
    "alert_config_load_file": (c_int, [_vp, _cp, POINTER(alert_error)]),
    "alert_config_load_string": (c_int, [_vp, _cp, c_size_t, POINTER(alert_error)]),
    "alert_config_set": (c_int, [_vp, _cp, _cp, POINTER(alert_error)]),
    "alert_config_set_string": (c_int, [_vp, _cp, _cp, POINTER(alert_error)]),
    "alert_config_get": (c_int, [_vp, _cp, _cp, c_size_t, POINTER(c_size_t)]),
    "alert_config_check": (c_int, [_vp, POINTER(alert_error)]),
    "alert_config_set_wakeup": (c_int, [_vp, alert_wakeup_fn, _vp]),
    "alert_poll_timeout": (c_int, [_vp, POINTER(c_int32)]),
    "alert_metrics_format": (c_int, [_vp, c_int, _cp, c_size_t, POINTER(c_size_t)]),
    "alert_config_set_clock": (c_int, [_vp, alert_clock_fn, _vp]),
    "alert_config_set_log": (c_int, [_vp, alert_log_fn, _vp]),
    "alert_ctx_create": (c_int, [_pvp, _vp, POINTER(alert_error)]),
    "alert_ctx_reconfigure": (c_int, [_vp, _vp, POINTER(alert_error)]),
    "alert_ctx_destroy": (None, [_vp]),
    "alert_poll": (c_int, [_vp, c_int32]),
    "alert_flush": (c_int, [_vp, c_int32]),
    "alert_ctx_last_error": (_cp, [_vp]),
    "alert_request_init": (c_int, [POINTER(alert_request), c_uint]),
    "alert_on_request_start": (c_int, [_vp, POINTER(alert_request), POINTER(c_uint64)]),
    "alert_on_first_token": (c_int, [_vp, c_uint64, c_int64]),
    "alert_response_init": (c_int, [POINTER(alert_response), c_uint]),
    "alert_on_request_end": (c_int, [_vp, c_uint64, POINTER(alert_response)]),
    "alert_failure_init": (c_int, [POINTER(alert_failure), c_uint]),
    "alert_on_request_failure": (c_int, [_vp, c_uint64, POINTER(alert_failure)]),
    "alert_on_request_cancel": (c_int, [_vp, c_uint64]),
    "alert_spend_init": (c_int, [POINTER(alert_spend), c_uint]),
    "alert_on_spend": (c_int, [_vp, POINTER(alert_spend)]),
    "alert_budget_init": (c_int, [POINTER(alert_budget), c_uint]),
    "alert_on_budget": (c_int, [_vp, POINTER(alert_budget)]),
    "alert_set_budget": (c_int, [_vp, POINTER(alert_budget), _cp]),
    "alert_on_db_error": (c_int, [_vp, _cp]),
    "alert_on_spend_tracking_failure": (c_int, [_vp, _cp, _cp]),
    "alert_on_deployment_cooldown": (c_int, [_vp, _cp, _cp, c_int32]),
    "alert_on_fallback": (c_int, [_vp, _cp, _cp, c_int32]),
    "alert_on_management_event": (c_int, [_vp, _cp, _cp, _cp]),
    "alert_emit": (c_int, [_vp, _cp, c_int32, _cp, _cp]),
    "alert_send_test": (c_int, [_vp, _cp]),
    "alert_transport_init": (c_int, [POINTER(alert_transport), c_uint]),
    "alert_config_add_transport": (c_int, [_vp, _cp, POINTER(alert_transport), _vp]),
    "alert_stats_init": (c_int, [POINTER(alert_stats), c_uint]),
    "alert_stats_get": (c_int, [_vp, POINTER(alert_stats)]),
}

_SYSTEM_NAMES = {
    "darwin": ("libalerting.0.dylib", "libalerting.dylib"),
    "win32": ("alerting.dll", "libalerting.dll"),
}.get(sys.platform, ("libalerting.so.0",))


class LibraryNotFound(OSError):
    """libalerting could not be loaded (ALERTING_LIBRARY, the package, the system)."""


class _Missing:
    """Stands in for a function that the loaded library does not export (an older
    library): calling it answers ALERT_ERR_UNSUPPORTED, like a function not implemented."""

    def __init__(self, name: str):
        self.__name__ = name

    def __call__(self, *args):
        return ALERT_ERR_UNSUPPORTED


class Library:
    """The loaded shared library with every prototype set."""

    def __init__(self, cdll: ctypes.CDLL, path: str):
        self.cdll = cdll
        self.path = path
        self.missing = []
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                fn = getattr(cdll, name)
            except AttributeError:
                self.missing.append(name)
                setattr(self, name, _Missing(name))
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)


def _candidates():
    """(how it was found, what to dlopen), in the documented order."""
    env = os.environ.get("ALERTING_LIBRARY")
    if env:
        # An explicit choice is never second-guessed: no silent fallback to another copy.
        return [("ALERTING_LIBRARY", env)]
    found = []
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _SYSTEM_NAMES + ("libalerting.so",):
        path = os.path.join(here, name)
        if os.path.exists(path):
            found.append(("the package directory", path))
    for name in _SYSTEM_NAMES:
        found.append(("the system loader", name))
    lib = ctypes.util.find_library("alerting")
    if lib:
        found.append(("ctypes.util.find_library", lib))
    return found


_lock = threading.Lock()
_library = None


def load(path: str | None = None) -> Library:
    """Loads libalerting once per process (later calls return the same library)."""
    global _library
    with _lock:
        if _library is not None:
            return _library
        tried = []
        candidates = [("load_library()", path)] if path else _candidates()
        for how, what in candidates:
            try:
                cdll = ctypes.CDLL(what)
            except OSError as exc:
                tried.append(f"{what} ({how}): {exc}")
                continue
            lib = Library(cdll, what)
            major = lib.alert_version() >> 16 if "alert_version" not in lib.missing else -1
            if major != 0:
                tried.append(f"{what} ({how}): library ABI {major} is not 0")
                continue
            _library = lib
            return lib
        raise LibraryNotFound(
            "libalerting could not be loaded; tried:\n  " + "\n  ".join(tried or ["nothing"]) +
            "\nBuild it with `make` and set ALERTING_LIBRARY=/path/to/libalerting.so.0, "
            "install it (`make install`), or copy it into the alerting package directory.")


def lib() -> Library:
    lib_ = _library
    return lib_ if lib_ is not None else load()


def utf8(value: str) -> bytes:
    """A str as UTF-8, never an encoding error: a str may hold lone surrogates (os.fsdecode
    of undecodable bytes, a JSON "\\ud83d\\ude80" escape read as two code points), which
    UTF-8 cannot express. A split pair is joined into its character; what is left alone
    becomes U+FFFD."""
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        repaired = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return repaired.encode("utf-8", "replace")


def text(value) -> bytes | None:
    """Python str (UTF-8) / bytes / None -> what a const char * field takes."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return utf8(value)
    raise TypeError(f"expected str, bytes or None, not {type(value).__name__}")


def string(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")
