# SPDX-License-Identifier: MIT
"""Config, Alerting and Request: the Python face of libalerting."""
from __future__ import annotations

import atexit
import dataclasses
import enum
import json
import logging
import os
import sys
import threading
import time
import weakref
from ctypes import byref, c_char_p, c_int32, c_size_t, c_uint64, c_void_p, create_string_buffer, string_at
from typing import Any, Callable, Iterable, Mapping, Optional

from . import _native as n
from .errors import AlertingError, GiveUp, StateError, check, from_code


# ---- constants ------------------------------------------------------------------------
class Level(enum.IntEnum):
    """Alert levels (ALERT_LEVEL_*)."""
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class LogLevel(enum.IntEnum):
    """Levels of the log callback (ALERT_LOG_*)."""
    ERROR = 1
    WARNING = 2
    INFO = 3
    DEBUG = 4


class Entity(enum.IntEnum):
    """Budget entities (ALERT_ENTITY_*)."""
    KEY = 1
    USER = 2
    END_USER = 3
    TEAM = 4
    TEAM_MEMBER = 5
    ORGANIZATION = 6
    PROJECT = 7
    PROXY = 8


class ErrorCode(enum.IntEnum):
    """Status codes (ALERT_OK, ALERT_ERR_*), fixed forever."""
    OK = n.ALERT_OK
    NOMEM = n.ALERT_ERR_NOMEM
    INVALID = n.ALERT_ERR_INVALID
    VERSION = n.ALERT_ERR_VERSION
    CONFIG = n.ALERT_ERR_CONFIG
    IO = n.ALERT_ERR_IO
    TRANSPORT = n.ALERT_ERR_TRANSPORT
    NOT_FOUND = n.ALERT_ERR_NOT_FOUND
    FULL = n.ALERT_ERR_FULL
    TIMEOUT = n.ALERT_ERR_TIMEOUT
    STATE = n.ALERT_ERR_STATE
    UNSUPPORTED = n.ALERT_ERR_UNSUPPORTED
    CALLBACK = n.ALERT_ERR_CALLBACK


def _enum(cls: type, value: Any, what: str) -> int:
    """An IntEnum member, its int, or its name in any case ("high", "team")."""
    if isinstance(value, str):
        try:
            return int(cls[value.upper()])
        except KeyError:
            names = ", ".join(m.name.lower() for m in cls)
            raise ValueError(f"unknown {what} {value!r} (one of {names})") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, a {cls.__name__} or a name, "
                        f"not {type(value).__name__}")
    return int(value)


# ---- the module's own state -------------------------------------------------------------
_tls = threading.local()            # .depth > 0 while a callback of ours runs on this thread
_live: "weakref.WeakSet[Alerting]" = weakref.WeakSet()


def _in_callback() -> bool:
    return getattr(_tls, "depth", 0) > 0


class _CallbackScope:
    __slots__ = ()

    def __enter__(self):
        _tls.depth = getattr(_tls, "depth", 0) + 1

    def __exit__(self, *exc):
        _tls.depth -= 1


_callback_scope = _CallbackScope()


def _unraisable(exc: BaseException, message: str, obj: Any) -> None:
    """Reports an exception that cannot propagate (it was raised in a callback that the C
    library called) as Python reports any such exception: through sys.unraisablehook, whose
    default prints it to stderr."""
    try:
        hook = sys.unraisablehook
        if hook is sys.__unraisablehook__:
            # the default hook accepts only the interpreter's own argument type
            import traceback
            sys.stderr.write(f"{message}: {obj!r}\n")
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        else:
            import types
            hook(types.SimpleNamespace(exc_type=type(exc), exc_value=exc,
                                       exc_traceback=exc.__traceback__, err_msg=message,
                                       object=obj))
    except Exception:       # noqa: BLE001 - a broken hook must not break the library
        pass


def _new_error() -> n.alert_error:
    err = n.alert_error()
    check(n.lib().alert_error_init(byref(err), n.ALERT_ERROR_VERSION), "alert_error_init")
    return err


def to_yaml(value: Any) -> str:
    """The YAML text alert_config_set receives for a Python value: a str as it is (it is
    YAML already, as in C: "[slack, webhook]", "300", "https://…"); anything else as JSON,
    which YAML reads as the same value (True -> true, 2.5 -> 2.5, ["a"] -> ["a"],
    {"k": 1} -> {"k": 1}, None -> null)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, os.PathLike):
        return json.dumps(os.fspath(value))
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    try:
        return json.dumps(value, allow_nan=False, ensure_ascii=False,
                          default=lambda o: list(o) if isinstance(o, (tuple, set)) else str(o))
    except ValueError:
        raise ValueError(f"cannot express {value!r} in the configuration "
                         "(infinities and NaN are not allowed)") from None


def _flow_value(text: str) -> Any:
    """alert_config_get's YAML flow text as a Python value: it is JSON but for the keys
    of a mapping (bare words), ".inf" and "auto", which are only outside the strings."""
    import re
    parts = re.split(r'("(?:[^"\\]|\\.)*")', text)
    for i in range(0, len(parts), 2):       # the even parts are outside strings
        p = re.sub(r'([{,]\s*)([A-Za-z_][A-Za-z0-9_]*):', r'\1"\2":', parts[i])
        p = re.sub(r'(-?)\.inf\b', r'\1Infinity', p)
        parts[i] = re.sub(r'\bauto\b', '"auto"', p)
    return json.loads("".join(parts))


def _json_text(value: Any) -> Optional[bytes]:
    """metadata: a dict (or list) becomes JSON text; a str is taken as JSON already."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        return n.text(value)
    return n.utf8(json.dumps(value, ensure_ascii=False, default=str))


def _str_array(values: Optional[Iterable[str]]):
    """(const char *const *, count) for a list of strings; the array keeps the bytes."""
    if not values:
        return None, 0
    if isinstance(values, (str, bytes)):
        values = [values]
    items = [n.text(v) for v in values]
    return (c_char_p * len(items))(*items), len(items)


# ---- what callbacks see -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Delivery:
    """One delivery handed to a custom transport (struct alert_delivery, copied)."""
    destination: str            # the transport's name
    url: Optional[str]          # None for custom transports
    alert_type: str             # "llm_exceptions", "llm_too_slow", …
    level: int                  # a Level
    content_type: Optional[str]
    body: str                   # the formatted payload (webhook JSON for custom transports)
    text: Optional[str]         # the plain alert text
    idempotency_key: Optional[str]  # the same on every retry of this delivery
    attempt: int                # 1, 2, …

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @classmethod
    def _from_c(cls, d: n.alert_delivery) -> "Delivery":
        body = string_at(d.body, d.body_len) if d.body and d.body_len else b""
        try:
            level = Level(d.level)
        except ValueError:
            level = d.level
        return cls(destination=n.string(d.destination), url=n.string(d.url),
                   alert_type=n.string(d.alert_type), level=level,
                   content_type=n.string(d.content_type),
                   body=body.decode("utf-8", "replace"), text=n.string(d.text),
                   idempotency_key=n.string(d.idempotency_key), attempt=d.attempt)


@dataclasses.dataclass(frozen=True)
class Stats:
    """The counters of alert_stats_get, one field per member of struct alert_stats."""
    requests_started: int = 0
    requests_inflight: int = 0
    alerts_raised: int = 0
    alerts_filtered: int = 0
    alerts_deduplicated: int = 0
    alerts_coalesced: int = 0
    deliveries_ok: int = 0
    deliveries_retried: int = 0
    deliveries_failed: int = 0
    deliveries_dropped: int = 0
    queue_depth: int = 0
    requests_rejected: int = 0
    events_dropped: int = 0
    destinations_dead: int = 0
    fleet_connected: int = 0
    fleet_rounds: int = 0
    fleet_round_errors: int = 0
    fleet_claims_won: int = 0
    fleet_claims_lost: int = 0
    fleet_claims_unanswered: int = 0
    fleet_deliveries_adopted: int = 0
    fleet_round_longest_us: int = 0

    def as_dict(self) -> dict:
        """The counters as a dict, field name to value."""
        return dataclasses.asdict(self)


def _clock_callback(fn: Callable[[], int]):
    def clock(_userdata):
        with _callback_scope:
            try:
                return int(fn())
            except BaseException as exc:    # noqa: BLE001 - must not unwind into C
                _unraisable(exc, "Exception in the alerting clock callback "
                                 "(the wall clock was used instead)", fn)
                return time.time_ns() // 1_000_000
    return n.alert_clock_fn(clock)


def _log_callback(fn: Callable[[int, str], Any]):
    def log(level, message, _userdata):
        with _callback_scope:
            try:
                try:
                    lvl = LogLevel(level)
                except ValueError:
                    lvl = level
                fn(lvl, n.string(message) or "")
            except BaseException as exc:    # noqa: BLE001 - must not unwind into C
                _unraisable(exc, "Exception in the alerting log callback", fn)
    return n.alert_log_fn(log)


logger = logging.getLogger("alerting")
"""The library's diagnostics, unless Config.set_log() sends them elsewhere, and the
tracebacks of exceptions raised inside custom transports."""

_LOG_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}


def _to_logging(level, message, _userdata):
    with _callback_scope:
        try:
            logger.log(_LOG_LEVELS.get(level, logging.WARNING), "%s", n.string(message) or "")
        except BaseException:   # noqa: BLE001 - never unwind into C
            pass


_DEFAULT_LOG = n.alert_log_fn(_to_logging)     # lives as long as the module


def _send_callback(name: str, fn: Callable[[Delivery], Any]):
    def send(delivery, _userdata):
        with _callback_scope:
            try:
                fn(Delivery._from_c(delivery.contents))
            except GiveUp:
                return n.ALERT_ERR_CALLBACK
            except BaseException:   # noqa: BLE001 - "retry later"; never unwind into C
                # a failed attempt (retried), and its traceback where the host looks
                try:
                    logger.error("transport %r raised; the delivery will be retried", name,
                                 exc_info=True)
                except BaseException:   # noqa: BLE001
                    pass
                return n.ALERT_ERR_TRANSPORT
            return n.ALERT_OK
    return n.alert_send_fn(send)


# ---- configuration ------------------------------------------------------------------------
class Config:
    """An alert_config: LiteLLM-style settings plus callbacks and custom transports.

    Build one with Config.from_file(path), Config.from_string(yaml) or Config() and set();
    every method returns the Config so calls chain. An Alerting made from it keeps its own
    copy: the Config may change or be closed afterwards.
    """

    def __init__(self) -> None:
        self._lib = n.lib()
        ptr = c_void_p()
        check(self._lib.alert_config_new(byref(ptr)), "alert_config_new")
        self._ptr: Optional[int] = ptr.value
        # ctypes callback objects: they must outlive every C pointer to them, so the
        # Config and every Alerting made from it hold them.
        self._keep: list = []
        # the library's warnings (unknown keys while loading, …) go to logging by default
        self._lib.alert_config_set_log(self._ptr, _DEFAULT_LOG, None)

    @classmethod
    def from_file(cls, path: "str | os.PathLike[str]") -> "Config":
        """Loads a LiteLLM config.yaml (or a bare one); raises ConfigError with the file,
        line and column, or IoError when the file cannot be read."""
        return cls()._load(lambda c: c.load_file(path))

    @classmethod
    def from_string(cls, yaml: str) -> "Config":
        """Loads YAML text; ConfigError.source is then "<string>" or the like."""
        return cls()._load(lambda c: c.load_string(yaml))

    def _load(self, how: Callable[["Config"], Any]) -> "Config":
        try:
            how(self)
        except BaseException:
            self.close()
            raise
        return self

    def _handle(self) -> int:
        p = self._ptr
        if not p:
            raise StateError(detail="the Config is closed")
        return p

    def load_file(self, path: "str | os.PathLike[str]") -> "Config":
        """alert_config_load_file: merges a YAML file into this Config."""
        err = _new_error()
        rc = self._lib.alert_config_load_file(self._handle(), os.fsencode(path), byref(err))
        check(rc, "alert_config_load_file", err=err)
        return self

    def load_string(self, yaml: "str | bytes") -> "Config":
        """alert_config_load_string: merges YAML text into this Config."""
        data = n.text(yaml) or b""
        err = _new_error()
        rc = self._lib.alert_config_load_string(self._handle(), data, len(data), byref(err))
        check(rc, "alert_config_load_string", err=err)
        return self

    def set(self, key: str, value: Any) -> "Config":
        """Sets one key, by its name or dotted path ("alerting_threshold",
        "alerting_args.flush_interval", "alert_to_webhook_url.llm_exceptions").

        A str is stored as it is (alert_config_set_string): "edge #3", "!prod" or a
        password "p@ss: word" are kept whole; a number, duration or boolean key reads its
        text ("300", "true"). A list, dict, bool, number or None is converted to YAML
        (["slack"], 300, True). To pass YAML text, use set_yaml()."""
        if isinstance(value, str):
            err = _new_error()
            rc = self._lib.alert_config_set_string(self._handle(), n.text(key), n.utf8(value),
                                                   byref(err))
            check(rc, "alert_config_set_string", err=err)
            return self
        return self.set_yaml(key, to_yaml(value))

    def set_yaml(self, key: str, yaml: str) -> "Config":
        """Sets one key from YAML text, as alert_config_set does in C ("[slack, webhook]")."""
        err = _new_error()
        rc = self._lib.alert_config_set(self._handle(), n.text(key), n.utf8(yaml), byref(err))
        check(rc, "alert_config_set", err=err)
        return self

    def get(self, key: str) -> Any:
        """The effective value of a key (alert_config_get), decoded from its YAML flow text:
        str, int, float, bool, None or a list; "general_settings" or "alerting_args" give
        a dict. Secrets are masked ("***", a webhook URL down to its host). Raises
        NotFoundError for an unknown key."""
        lib, h, k = self._lib, self._handle(), n.text(key)
        need = c_size_t(0)
        rc = lib.alert_config_get(h, k, None, 0, byref(need))
        if rc not in (n.ALERT_OK, n.ALERT_ERR_FULL):
            check(rc, "alert_config_get", detail=f"key {key!r}")
        buf = create_string_buffer(need.value)
        check(lib.alert_config_get(h, k, buf, need.value, None), "alert_config_get")
        return _flow_value(buf.value.decode("utf-8", "replace"))

    def check(self) -> "Config":
        """Makes every check Alerting(config) would make, with no side effect
        (alert_config_check): no file, thread or network. Raises ConfigError (or IoError
        for state_path) as Alerting(config) would; warnings go to the log callback."""
        err = _new_error()
        check(self._lib.alert_config_check(self._handle(), byref(err)), "alert_config_check",
              err=err)
        return self

    def set_clock(self, fn: Optional[Callable[[], int]]) -> "Config":
        """Replaces the clock: fn() returns milliseconds since the Unix epoch (an int). It
        may be called from several threads at once. None restores the real clock."""
        cb = _clock_callback(fn) if fn is not None else n.alert_clock_fn()
        check(self._lib.alert_config_set_clock(self._handle(), cb, None),
              "alert_config_set_clock")
        self._keep.append(cb)
        return self

    def set_log(self, fn: Optional[Callable[[LogLevel, str], Any]]) -> "Config":
        """Receives the library's diagnostics: fn(level, message). It runs on the calling
        thread while loading and creating, on the library's worker thread afterwards.
        By default (and after set_log(None)) they go to the logging logger "alerting"."""
        cb = _log_callback(fn) if fn is not None else _DEFAULT_LOG
        check(self._lib.alert_config_set_log(self._handle(), cb, None), "alert_config_set_log")
        self._keep.append(cb)
        return self

    def set_wakeup(self, fn: Optional[Callable[[], Any]]) -> "Config":
        """With worker_threads: 0, fn() is called when a hook queues work for poll(), once
        until the next poll(), on the thread of the hook: make it wake your loop and
        return (``lambda: loop.call_soon_threadsafe(event.set)``). None removes it."""
        if fn is None:
            cb = n.alert_wakeup_fn()
        else:
            def wakeup(_userdata, fn=fn):
                try:
                    fn()
                except BaseException as exc:   # noqa: BLE001 - nothing may unwind into C
                    _unraisable(exc, "Exception in the libalerting wakeup callback", fn)
            cb = n.alert_wakeup_fn(wakeup)
        check(self._lib.alert_config_set_wakeup(self._handle(), cb, None),
              "alert_config_set_wakeup")
        self._keep.append(cb)
        return self

    def add_transport(self, name: str, send: Callable[[Delivery], Any]) -> "Config":
        """Registers a custom destination: list its name in `alerting` and send(delivery)
        is called for every alert routed to it.

        send runs on the library's worker thread (inside poll()/flush() with
        worker_threads: 0), never on the thread that raised the alert. Return normally when
        the delivery is done; raise GiveUp to drop it (counted as failed); any other
        exception means "retry later", with the library's backoff, until delivery_deadline.
        It may call the Alerting's hooks and emit(), but must not close the Alerting."""
        if not callable(send):
            raise TypeError("send must be callable")
        cb = _send_callback(name, send)
        t = n.alert_transport()
        check(self._lib.alert_transport_init(byref(t), n.ALERT_TRANSPORT_VERSION),
              "alert_transport_init")
        t.send = cb
        check(self._lib.alert_config_add_transport(self._handle(), n.text(name), byref(t), None),
              "alert_config_add_transport")
        self._keep.append(cb)
        return self

    def close(self) -> None:
        """Frees the C config (an Alerting made from it is not affected). Idempotent."""
        p, self._ptr = self._ptr, None
        if p:
            self._lib.alert_config_free(p)

    def __enter__(self) -> "Config":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:   # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self) -> str:
        return f"<alerting.Config {'closed' if not self._ptr else 'open'}>"


# ---- the engine ---------------------------------------------------------------------------
_WHERE = ("deployment", "deployment_id", "provider", "api_base", "region")
_IDS = ("key_hash", "key_alias", "user_id", "user_email", "team_id", "team_alias",
        "customer_id", "organization_id")


def _exception_fields(exc: Optional[BaseException]):
    """(status, class, message) of an exception; never raises, since it runs while a
    request is being ended (an exception's status_code or __str__ may be any code)."""
    if exc is None:
        return 0, None, None
    name = type(exc).__name__
    try:
        status = getattr(exc, "status_code", None)
        status = int(status) if status is not None else 0
    except Exception:
        status = 0
    try:
        message = str(exc)
    except Exception:
        message = ""
    return status, name, message or name


def _destroy(lib: n.Library, ctx: int, keep: list) -> None:
    lib.alert_ctx_destroy(ctx)
    keep.clear()


class Alerting:
    """An alert_ctx: the engine that watches requests and delivers alerts.

    Use it as a context manager (or call close()): closing delivers what it can within
    shutdown_timeout and stops the worker thread. The hooks (request(), emit(), on_*()) may
    be called from any thread at once; stop calling them before close(). Contexts still
    open when the interpreter exits are closed by an atexit handler.
    """

    def __init__(self, config: "Config | str | os.PathLike[str]") -> None:
        owned = not isinstance(config, Config)
        if owned:
            if not isinstance(config, (str, os.PathLike)):
                raise TypeError("Alerting() takes a Config or the path of a config file")
            config = Config.from_file(config)
        self._lib = n.lib()
        self._ptr: Optional[int] = None
        try:
            err = _new_error()
            ptr = c_void_p()
            rc = self._lib.alert_ctx_create(byref(ptr), config._handle(), byref(err))
            check(rc, "alert_ctx_create", err=err)
            self._keep = list(config._keep)
            self._ptr = ptr.value
        finally:
            if owned:
                config.close()
        _live.add(self)

    # -- lifetime --
    def _ctx(self) -> int:
        p = self._ptr
        if not p:
            raise StateError(detail="the Alerting is closed")
        return p

    @property
    def closed(self) -> bool:
        """True once close() ran."""
        return not self._ptr

    def close(self) -> None:
        """alert_ctx_destroy: delivers what it can within shutdown_timeout, then stops.
        Idempotent. Not allowed from inside a callback of this library (StateError)."""
        if not self._ptr:
            return
        if _in_callback():
            raise StateError(detail="close() called from inside a libalerting callback")
        p, self._ptr = self._ptr, None
        _live.discard(self)
        self._lib.alert_ctx_destroy(p)
        self._keep = []

    async def aflush(self, timeout_ms: int = 10000) -> None:
        """flush() for asyncio: runs in a worker thread of the loop's default executor, so
        the event loop never blocks on it."""
        import asyncio
        await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout_ms)

    async def aclose(self) -> None:
        """close() for asyncio (it waits up to shutdown_timeout for deliveries): in the
        loop's default executor, never blocking the event loop."""
        import asyncio
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    async def __aenter__(self) -> "Alerting":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def __enter__(self) -> "Alerting":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._ptr:
                return
            if _in_callback():
                # Destroying joins the worker, which may be the thread we are on: do it
                # from a thread of its own, which keeps the callbacks alive until then.
                p, keep, lib, self._ptr = self._ptr, self._keep, self._lib, None
                threading.Thread(target=_destroy, args=(lib, p, keep),
                                 name="alerting-close", daemon=True).start()
                return
            self.close()
        except Exception:   # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self) -> str:
        return f"<alerting.Alerting {'closed' if not self._ptr else 'open'}>"

    def reconfigure(self, config: "Config") -> None:
        """Applies config to this running Alerting, all or nothing (alert_ctx_reconfigure):
        requests in flight and pending deliveries survive, hanging deadlines follow the new
        alerting_threshold, a destination whose target changed sends its pending
        deliveries there, a removed destination's are dropped and counted. Raises
        ConfigError (naming the key) for an invalid config or for a key that cannot change
        live (state_path, worker_threads, max_inflight, the fleet keys, the clock, log and
        wakeup callbacks, ...); then nothing changed. To keep the callbacks, change and
        pass the Config this Alerting was made from."""
        if not isinstance(config, Config):
            raise TypeError("reconfigure() takes a Config")
        ctx = self._ctx()
        err = _new_error()
        rc = self._lib.alert_ctx_reconfigure(ctx, config._handle(), byref(err))
        check(rc, "alert_ctx_reconfigure", err=err)
        # the ctx may call the new config's callbacks and keeps the old ones
        known = {id(k) for k in self._keep}
        self._keep.extend(k for k in config._keep if id(k) not in known)

    # -- driving the engine --
    def poll(self, timeout_ms: int = 0) -> None:
        """With worker_threads: 0, runs due timers, detectors and deliveries once.
        Raises StateError when the ctx has its own worker thread."""
        self._check(self._lib.alert_poll(self._ctx(), int(timeout_ms)), "alert_poll")

    def poll_timeout(self) -> int:
        """With worker_threads: 0: how many ms the loop may wait before the next poll()
        (alert_poll_timeout); 0 when work is waiting."""
        t = c_int32(0)
        self._check(self._lib.alert_poll_timeout(self._ctx(), byref(t)), "alert_poll_timeout")
        return t.value

    def flush(self, timeout_ms: int = 10000) -> None:
        """Sends every delivery that is due now and waits up to timeout_ms (real time) for
        them. Raises AlertTimeoutError (a TimeoutError) if some are still due then."""
        ctx = self._ctx()
        rc = self._lib.alert_flush(ctx, int(timeout_ms))
        if rc != n.ALERT_OK:
            raise from_code(rc, self.last_error, "alert_flush")

    def _check(self, rc: int, function: str) -> None:
        """Raises the exception for a failed call on this ctx, with the library's reason
        (alert_ctx_last_error) as its detail."""
        if rc != n.ALERT_OK:
            raise from_code(rc, self.last_error, function)

    @property
    def last_error(self) -> Optional[str]:
        """The ctx's last error text (a failed delivery, …), or None."""
        text = n.string(self._lib.alert_ctx_last_error(self._ctx()))
        return text or None

    def metrics(self) -> str:
        """Every counter as Prometheus text (alert_metrics_format): the totals, alerts by
        type, and per destination target (its URL's scheme and host only) deliveries by
        outcome, retries, last success time, queue depth and whether it is dead."""
        lib, ctx = self._lib, self._ctx()
        need = c_size_t(0)
        rc = lib.alert_metrics_format(ctx, n.ALERT_METRICS_PROMETHEUS, None, 0, byref(need))
        while True:
            if rc not in (n.ALERT_OK, n.ALERT_ERR_FULL):
                self._check(rc, "alert_metrics_format")
            buf = create_string_buffer(need.value + 256)   # room for counters that move
            rc = lib.alert_metrics_format(ctx, n.ALERT_METRICS_PROMETHEUS, buf, len(buf),
                                          byref(need))
            if rc == n.ALERT_OK:
                return buf.value.decode("utf-8", "replace")

    def prometheus_collector(self) -> Any:
        """A prometheus_client collector of metrics(), for
        ``prometheus_client.REGISTRY.register(alerts.prometheus_collector())``. Needs the
        prometheus_client package (Debian: python3-prometheus-client); ImportError
        otherwise. A closed Alerting collects nothing."""
        from prometheus_client.parser import text_string_to_metric_families
        ref = weakref.ref(self)

        class AlertingCollector:
            def collect(self):
                alerts = ref()
                if alerts is None or alerts.closed:
                    return
                yield from text_string_to_metric_families(alerts.metrics())

        return AlertingCollector()

    def stats(self) -> Stats:
        """A snapshot of the counters (alert_stats_get)."""
        s = n.alert_stats()
        check(self._lib.alert_stats_init(byref(s), n.ALERT_STATS_VERSION), "alert_stats_init")
        self._check(self._lib.alert_stats_get(self._ctx(), byref(s)), "alert_stats_get")
        return Stats(**{name: getattr(s, name) for name in n.STATS_FIELDS})

    # -- requests --
    def request(self, model: Optional[str] = None, deployment: Optional[str] = None,
                call_id: Optional[str] = None, *, stream: bool = False, start_ms: int = 0,
                metadata: Any = None, deployment_id: Optional[str] = None,
                provider: Optional[str] = None, api_base: Optional[str] = None,
                region: Optional[str] = None, key_hash: Optional[str] = None,
                key_alias: Optional[str] = None, user_id: Optional[str] = None,
                team_id: Optional[str] = None, team_alias: Optional[str] = None,
                customer_id: Optional[str] = None,
                messages: Optional[str] = None) -> "Request":
        """Starts watching a call (alert_on_request_start) and returns its Request.

        The labels are keyword parameters (a misspelt one is a TypeError, and mypy sees
        it): deployment_id, provider, api_base, region, key_hash (a raw "sk-…" key is
        hashed by the library), key_alias, user_id, team_id, team_alias, customer_id,
        messages (the prompt; the library keeps 100 characters). metadata: a dict (or JSON
        text) shown as alerting_metadata. start_ms: 0 = now, from the ctx clock. The
        model, deployment, key, user, team and customer are kept for end(cost=…).

            with alerts.request(model="gpt-4o", deployment="azure/gpt-4o") as r:
                ...                 # end() on success, failure(exc) on an exception
        """
        lib = self._lib
        req = n.alert_request()
        check(lib.alert_request_init(byref(req), n.ALERT_REQUEST_VERSION), "alert_request_init")
        req.model = n.text(model)
        req.deployment = n.text(deployment)
        req.call_id = n.text(call_id)
        labels = {"deployment_id": deployment_id, "provider": provider, "api_base": api_base,
                  "region": region, "key_hash": key_hash, "key_alias": key_alias,
                  "user_id": user_id, "team_id": team_id, "team_alias": team_alias,
                  "customer_id": customer_id, "messages": messages}
        for key, value in labels.items():
            if value is not None:
                setattr(req, key, n.text(value))
        if metadata is not None:
            req.alerting_metadata_json = _json_text(metadata)
        req.stream = 1 if stream else 0
        req.start_ms = int(start_ms)
        out = c_uint64()
        self._check(lib.alert_on_request_start(self._ctx(), byref(req), byref(out)),
              "alert_on_request_start")
        spend = {"model": model, "deployment": deployment, "key_alias": key_alias,
                 "user_id": user_id, "team_id": team_id, "team_alias": team_alias,
                 "customer_id": customer_id}
        if key_hash is not None and not key_hash.startswith("sk-"):
            spend["key_hash"] = key_hash        # a raw key is never passed on
        return Request(self, out.value, {k: v for k, v in spend.items() if v is not None})

    def _end(self, req_id: int, prompt_tokens, completion_tokens, cost, end_ms, where) -> None:
        lib = self._lib
        resp = n.alert_response()
        check(lib.alert_response_init(byref(resp), n.ALERT_RESPONSE_VERSION),
              "alert_response_init")
        for key, value in where.items():
            if value is not None:
                setattr(resp, key, n.text(value))
        if prompt_tokens is not None:
            resp.prompt_tokens = int(prompt_tokens)
        if completion_tokens is not None:
            resp.completion_tokens = int(completion_tokens)
        if cost is not None:
            resp.cost = float(cost)
        resp.end_ms = int(end_ms)
        self._check(lib.alert_on_request_end(self._ctx(), req_id, byref(resp)), "alert_on_request_end")

    def failure(self, exc: Optional[BaseException] = None, *, status_code: Optional[int] = None,
                error_class: Optional[str] = None, message: Optional[str] = None,
                user_error: bool = False, end_ms: int = 0, model: Optional[str] = None,
                call_id: Optional[str] = None, key_alias: Optional[str] = None,
                team_alias: Optional[str] = None, metadata: Any = None,
                deployment: Optional[str] = None, deployment_id: Optional[str] = None,
                provider: Optional[str] = None, api_base: Optional[str] = None,
                region: Optional[str] = None) -> None:
        """A failed call (alert_on_request_failure). Without a Request (id 0) it describes a
        call that was never started: give model, call_id, … here.

        From exc come the defaults: status_code from its `status_code` attribute, the
        message from str(exc), the error class from its type name. user_error=True marks
        the caller's own fault (bad key, over budget, 4xx): not alerted, as in LiteLLM."""
        self._failure(0, exc, status_code=status_code, error_class=error_class,
                      message=message, user_error=user_error, end_ms=end_ms, model=model,
                      call_id=call_id, key_alias=key_alias, team_alias=team_alias,
                      metadata=metadata, deployment=deployment, deployment_id=deployment_id,
                      provider=provider, api_base=api_base, region=region)

    def _failure(self, req_id: int, exc: Optional[BaseException], *,
                 status_code: Optional[int] = None, error_class: Optional[str] = None,
                 message: Optional[str] = None, user_error: bool = False, end_ms: int = 0,
                 model: Optional[str] = None, call_id: Optional[str] = None,
                 key_alias: Optional[str] = None, team_alias: Optional[str] = None,
                 metadata: Any = None, deployment: Optional[str] = None,
                 deployment_id: Optional[str] = None, provider: Optional[str] = None,
                 api_base: Optional[str] = None, region: Optional[str] = None) -> None:
        lib = self._lib
        f = n.alert_failure()
        check(lib.alert_failure_init(byref(f), n.ALERT_FAILURE_VERSION), "alert_failure_init")
        exc_status, exc_class, exc_message = _exception_fields(exc)
        f.status_code = int(status_code) if status_code is not None else exc_status
        f.error_class = n.text(error_class if error_class is not None else exc_class)
        f.message = n.text(message if message is not None else exc_message)
        f.user_error = 1 if user_error else 0
        f.end_ms = int(end_ms)
        f.deployment = n.text(deployment)
        f.deployment_id = n.text(deployment_id)
        f.provider = n.text(provider)
        f.api_base = n.text(api_base)
        f.region = n.text(region)
        f.model = n.text(model)
        f.call_id = n.text(call_id)
        f.key_alias = n.text(key_alias)
        f.team_alias = n.text(team_alias)
        f.alerting_metadata_json = _json_text(metadata)
        self._check(lib.alert_on_request_failure(self._ctx(), req_id, byref(f)),
              "alert_on_request_failure")

    # -- spend and budgets --
    def on_spend(self, cost: float, *, model: Optional[str] = None,
                 deployment: Optional[str] = None, tags: Optional[Iterable[str]] = None,
                 at_ms: int = 0, **ids: Optional[str]) -> None:
        """alert_on_spend. ids: key_hash, key_alias, user_id, user_email, team_id,
        team_alias, customer_id, organization_id."""
        lib = self._lib
        s = n.alert_spend()
        check(lib.alert_spend_init(byref(s), n.ALERT_SPEND_VERSION), "alert_spend_init")
        s.cost = float(cost)
        self._set_ids(s, ids, "on_spend")
        s.model = n.text(model)
        s.deployment = n.text(deployment)
        arr, count = _str_array(tags)
        if arr is not None:
            s.tags = arr
            s.tag_count = count
        s.at_ms = int(at_ms)
        self._check(lib.alert_on_spend(self._ctx(), byref(s)), "alert_on_spend")

    @staticmethod
    def _set_ids(struct, ids: Mapping[str, Any], fn: str) -> None:
        for key, value in ids.items():
            if key not in _IDS:
                raise TypeError(f"{fn}() got an unexpected keyword argument {key!r}")
            setattr(struct, key, n.text(value))

    def _budget(self, fn: str, entity, entity_id, spend, max_budget, soft_budget,
                budget_reset_at_ms, alert_emails, ids) -> n.alert_budget:
        b = n.alert_budget()
        check(self._lib.alert_budget_init(byref(b), n.ALERT_BUDGET_VERSION), "alert_budget_init")
        b.entity = _enum(Entity, entity, "entity")
        b.entity_id = n.text(entity_id)
        b.spend = float(spend)
        if max_budget is not None:
            b.max_budget = float(max_budget)
        if soft_budget is not None:
            b.soft_budget = float(soft_budget)
        b.budget_reset_at_ms = int(budget_reset_at_ms)
        self._set_ids(b, ids, fn)
        arr, count = _str_array(alert_emails)
        if arr is not None:
            b.alert_emails = arr
            b.alert_email_count = count
        return b

    def on_budget(self, entity: "Entity | int | str", entity_id: Optional[str] = None, *,
                  spend: float = 0.0, max_budget: Optional[float] = None,
                  soft_budget: Optional[float] = None, budget_reset_at_ms: int = 0,
                  alert_emails: Optional[Iterable[str]] = None, **ids: Optional[str]) -> None:
        """alert_on_budget: an entity's spend against its budgets (None: no such budget)."""
        b = self._budget("on_budget", entity, entity_id, spend, max_budget, soft_budget,
                         budget_reset_at_ms, alert_emails, ids)
        self._check(self._lib.alert_on_budget(self._ctx(), byref(b)), "alert_on_budget")

    def set_budget(self, entity: "Entity | int | str", entity_id: Optional[str] = None, *,
                   budget_duration: Optional[str] = None, spend: float = 0.0,
                   max_budget: Optional[float] = None, soft_budget: Optional[float] = None,
                   budget_reset_at_ms: int = 0, alert_emails: Optional[Iterable[str]] = None,
                   **ids: Optional[str]) -> None:
        """alert_set_budget: registers a budget for the library to track ("30d", …)."""
        b = self._budget("set_budget", entity, entity_id, spend, max_budget, soft_budget,
                         budget_reset_at_ms, alert_emails, ids)
        self._check(self._lib.alert_set_budget(self._ctx(), byref(b), n.text(budget_duration)),
              "alert_set_budget")

    # -- other events --
    def on_db_error(self, error_text: str) -> None:
        """alert_on_db_error: the proxy's database failed (db_exceptions)."""
        self._check(self._lib.alert_on_db_error(self._ctx(), n.text(error_text)), "alert_on_db_error")

    def on_spend_tracking_failure(self, model: Optional[str], error_text: str) -> None:
        """alert_on_spend_tracking_failure: a call's spend could not be recorded."""
        self._check(self._lib.alert_on_spend_tracking_failure(self._ctx(), n.text(model),
                                                        n.text(error_text)),
              "alert_on_spend_tracking_failure")

    def on_deployment_cooldown(self, deployment: str, reason: Optional[str] = None,
                               cooldown_seconds: int = 0) -> None:
        """alert_on_deployment_cooldown: the router put a deployment in cooldown."""
        self._check(self._lib.alert_on_deployment_cooldown(self._ctx(), n.text(deployment),
                                                     n.text(reason), int(cooldown_seconds)),
              "alert_on_deployment_cooldown")

    def on_fallback(self, primary_model: str, fallback_model: str,
                    succeeded: bool = True) -> None:
        """alert_on_fallback: a call fell back from one model to another."""
        self._check(self._lib.alert_on_fallback(self._ctx(), n.text(primary_model),
                                          n.text(fallback_model), 1 if succeeded else 0),
              "alert_on_fallback")

    def on_management_event(self, alert_type: str, actor: Any = None,
                            details: Any = None) -> None:
        """new_model_added, new_virtual_key_created, …; actor and details: dicts or JSON."""
        self._check(self._lib.alert_on_management_event(self._ctx(), n.text(alert_type),
                                                  _json_text(actor), _json_text(details)),
              "alert_on_management_event")

    def emit(self, alert_type: str, level: "Level | int | str", message: str,
             metadata: Any = None) -> None:
        """alert_emit: an alert of any enabled type with the host's own text."""
        self._check(self._lib.alert_emit(self._ctx(), n.text(alert_type), _enum(Level, level, "level"),
                                   n.text(message), _json_text(metadata)), "alert_emit")

    def send_test(self, destination: str = "slack") -> None:
        """alert_send_test: a test alert to one destination, like LiteLLM's
        /health/services?service=slack."""
        self._check(self._lib.alert_send_test(self._ctx(), n.text(destination)), "alert_send_test")


class Request:
    """One watched call, as returned by Alerting.request().

    As a context manager: a normal exit ends it (end() with what is known), an Exception
    reports it with failure(exc) and propagates, and any other BaseException (the client
    went away: KeyboardInterrupt, asyncio.CancelledError, GeneratorExit) cancels it.
    Whatever is called first of end(), failure() and cancel() wins; the rest are no-ops.
    """

    __slots__ = ("_alerting", "id", "_done", "_spend")

    def __init__(self, alerting: Alerting, req_id: int,
                 spend: Optional[Mapping[str, str]] = None) -> None:
        self._alerting = alerting
        self.id = req_id
        self._done = False
        self._spend = dict(spend or {})

    @property
    def done(self) -> bool:
        """True once end(), failure() or cancel() ran."""
        return self._done

    def first_token(self, at_ms: int = 0) -> None:
        """alert_on_first_token: a streaming call's first token (0 = now)."""
        a = self._alerting
        a._check(a._lib.alert_on_first_token(a._ctx(), self.id, int(at_ms)), "alert_on_first_token")

    def end(self, prompt_tokens: Optional[int] = None, completion_tokens: Optional[int] = None,
            cost: Optional[float] = None, *, deployment: Optional[str] = None,
            deployment_id: Optional[str] = None, provider: Optional[str] = None,
            api_base: Optional[str] = None, region: Optional[str] = None,
            end_ms: int = 0) -> None:
        """alert_on_request_end: the call succeeded (the deployment etc. may be known only
        now). A no-op once the request is done.

        cost (USD) feeds spend tracking: it is recorded with Alerting.on_spend() under the
        request's model, deployment, key, user, team and customer, as LiteLLM records a
        call's response_cost (spend reports, per-user thresholds, anomalies)."""
        if self._done:
            return
        self._done = True
        if cost is not None:
            cost = float(cost)
            if not (cost >= 0 and cost != float("inf")):
                raise ValueError(f"cost must be a finite amount >= 0, not {cost!r}")
        try:
            self._alerting._end(self.id, prompt_tokens, completion_tokens, cost, end_ms,
                                {"deployment": deployment, "deployment_id": deployment_id,
                                 "provider": provider, "api_base": api_base, "region": region})
        except AlertingError:
            raise
        except Exception:
            # an argument could not be passed: the call still ends, without them, so
            # that it is never reported hanging; then the caller learns of the mistake
            self._alerting._end(self.id, None, None, None, 0, {})
            raise
        if cost:
            spend = dict(self._spend)
            if deployment is not None:
                spend["deployment"] = deployment
            self._alerting.on_spend(cost, at_ms=end_ms, **spend)

    def failure(self, exc: Optional[BaseException] = None, **fields: Any) -> None:
        """alert_on_request_failure; fields as for Alerting.failure(). A no-op once done."""
        if self._done:
            return
        self._done = True
        try:
            self._alerting._failure(self.id, exc, **fields)
        except AlertingError:
            raise
        except Exception:
            # as in end(): the failure is still reported, with what is sure to pass
            self._alerting._failure(self.id, exc)
            raise

    def cancel(self) -> None:
        """alert_on_request_cancel: forget the call without an alert. A no-op once done."""
        if self._done:
            return
        self._done = True
        a = self._alerting
        a._check(a._lib.alert_on_request_cancel(a._ctx(), self.id), "alert_on_request_cancel")

    def __enter__(self) -> "Request":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._done:
            return False
        if exc_type is None:
            self.end()
            return False
        # The caller's exception is what matters: a failure to report it must not hide it.
        try:
            if isinstance(exc, Exception):
                self.failure(exc)
            else:
                self.cancel()
        except Exception:
            pass
        return False

    def __repr__(self) -> str:
        return f"<alerting.Request id={self.id}{' done' if self._done else ''}>"


@atexit.register
def _close_all() -> None:
    """Closes every Alerting still open, so that no worker thread calls into Python while
    the interpreter is finalizing."""
    for alerting in list(_live):
        try:
            alerting.close()
        except Exception:   # noqa: BLE001
            pass
