# SPDX-License-Identifier: MIT
"""Exceptions: AlertingError and one subclass per ALERT_ERR_* code.

Each subclass also derives from the built-in exception closest in meaning, so ordinary
Python handlers work: ``except ValueError`` catches InvalidError and ConfigError,
``except TimeoutError`` catches AlertTimeoutError, ``except NotImplementedError`` catches
UnsupportedError, ``except MemoryError`` catches NomemError, ``except OSError`` catches
IoError.

AlertTimeoutError is not called TimeoutError so that ``from alerting import *`` can never
shadow the built-in one.
"""
from __future__ import annotations

from . import _native as n

# Used when the library cannot be asked (it failed to load): the same strings as
# alert_err_name() and alert_strerror() in lib/api.c.
_FALLBACK = {
    n.ALERT_OK: ("ALERT_OK", "success"),
    n.ALERT_ERR_NOMEM: ("ALERT_ERR_NOMEM", "out of memory"),
    n.ALERT_ERR_INVALID: ("ALERT_ERR_INVALID", "invalid argument"),
    n.ALERT_ERR_VERSION: ("ALERT_ERR_VERSION", "unsupported struct version"),
    n.ALERT_ERR_CONFIG: ("ALERT_ERR_CONFIG", "configuration error"),
    n.ALERT_ERR_IO: ("ALERT_ERR_IO", "input/output error"),
    n.ALERT_ERR_TRANSPORT: ("ALERT_ERR_TRANSPORT", "transport error"),
    n.ALERT_ERR_NOT_FOUND: ("ALERT_ERR_NOT_FOUND", "not found"),
    n.ALERT_ERR_FULL: ("ALERT_ERR_FULL", "capacity exhausted"),
    n.ALERT_ERR_TIMEOUT: ("ALERT_ERR_TIMEOUT", "timed out"),
    n.ALERT_ERR_STATE: ("ALERT_ERR_STATE", "wrong state for this call"),
    n.ALERT_ERR_UNSUPPORTED: ("ALERT_ERR_UNSUPPORTED", "not supported"),
    n.ALERT_ERR_CALLBACK: ("ALERT_ERR_CALLBACK", "callback failed"),
}


def err_name(code: int) -> str:
    """alert_err_name(code): "ALERT_ERR_CONFIG", …"""
    try:
        return n.string(n.lib().alert_err_name(code))
    except OSError:
        return _FALLBACK.get(code, ("ALERT_ERR_UNKNOWN", ""))[0]


def strerror(code: int) -> str:
    """alert_strerror(code): "configuration error", …"""
    try:
        return n.string(n.lib().alert_strerror(code))
    except OSError:
        return _FALLBACK.get(code, ("", "unknown error"))[1]


class AlertingError(Exception):
    """A libalerting call failed.

    ``code`` is the ALERT_ERR_* value, ``name`` its name ("ALERT_ERR_INVALID"), ``function``
    the C function that returned it and ``detail`` the library's own words, when it had any.
    """

    code: int = 0       # the class's code; an instance's may differ for unknown codes

    def __init__(self, code: int | None = None, detail: str | None = None,
                 function: str | None = None):
        self.code = type(self).code if code is None else code
        self.name = err_name(self.code)
        self.detail = detail or None
        self.function = function
        super().__init__(self._message())

    def _message(self) -> str:
        msg = strerror(self.code)
        if self.function:
            msg = f"{self.function}: {msg}"
        if self.detail and self.detail != strerror(self.code):
            msg = f"{msg}: {self.detail}"
        return msg

    def __str__(self) -> str:
        return self._message()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, {self._message()!r})"

    def __reduce__(self):
        return (type(self), (self.code, self.detail, self.function))


class NomemError(AlertingError, MemoryError):
    """ALERT_ERR_NOMEM: the library could not allocate."""
    code = n.ALERT_ERR_NOMEM


class InvalidError(AlertingError, ValueError):
    """ALERT_ERR_INVALID: an argument was refused (NULL, out of range, unknown name)."""
    code = n.ALERT_ERR_INVALID


class VersionError(AlertingError):
    """ALERT_ERR_VERSION: a struct version the library does not know."""
    code = n.ALERT_ERR_VERSION


class ConfigError(AlertingError, ValueError):
    """ALERT_ERR_CONFIG: a configuration error.

    ``source`` is the file name (or the key), ``line`` and ``column`` are 1-based (0 when the
    error does not come from a file) and ``text`` is the library's explanation.
    """
    code = n.ALERT_ERR_CONFIG

    def __init__(self, code: int | None = None, detail: str | None = None,
                 function: str | None = None, source: str = "", line: int = 0,
                 column: int = 0):
        self.source = source or ""
        self.line = line
        self.column = column
        self.text = detail or ""
        super().__init__(code, detail, function)

    def _message(self) -> str:
        text = self.text or strerror(self.code)
        if not self.source or text.startswith(self.source + ":"):
            return text     # no file, or a key whose name the text starts with already
        where = f"{self.source}:{self.line}:{self.column}" if self.line else self.source
        return f"{where}: {text}"

    def __reduce__(self):
        return (type(self), (self.code, self.detail, self.function, self.source, self.line,
                             self.column))


class IoError(AlertingError, OSError):
    """ALERT_ERR_IO: a file or the state store could not be read or written."""
    code = n.ALERT_ERR_IO

    def __str__(self) -> str:      # OSError has its own __str__; keep ours
        return self._message()


class TransportError(AlertingError):
    """ALERT_ERR_TRANSPORT: a delivery failed and will be retried."""
    code = n.ALERT_ERR_TRANSPORT


class NotFoundError(AlertingError, LookupError):
    """ALERT_ERR_NOT_FOUND: no such request id (already ended, failed or cancelled)."""
    code = n.ALERT_ERR_NOT_FOUND


class FullError(AlertingError):
    """ALERT_ERR_FULL: max_inflight requests are in flight; the start was refused."""
    code = n.ALERT_ERR_FULL


class AlertTimeoutError(AlertingError, TimeoutError):
    """ALERT_ERR_TIMEOUT: flush() ran out of time with deliveries still due."""
    code = n.ALERT_ERR_TIMEOUT

    def __str__(self) -> str:
        return self._message()


class StateError(AlertingError):
    """ALERT_ERR_STATE: the call is wrong for the current state (poll() with a worker
    thread, a closed Alerting, a state_path already opened by another process)."""
    code = n.ALERT_ERR_STATE


class UnsupportedError(AlertingError, NotImplementedError):
    """ALERT_ERR_UNSUPPORTED: the library does not implement this (yet)."""
    code = n.ALERT_ERR_UNSUPPORTED


class CallbackError(AlertingError):
    """ALERT_ERR_CALLBACK: a callback (a transport) failed for good."""
    code = n.ALERT_ERR_CALLBACK


class GiveUp(Exception):
    """Raise it from a custom transport to give the delivery up (counted as failed, never
    retried). Any other exception from a transport means "retry later"."""


ERRORS = {cls.code: cls for cls in (
    NomemError, InvalidError, VersionError, ConfigError, IoError, TransportError,
    NotFoundError, FullError, AlertTimeoutError, StateError, UnsupportedError, CallbackError)}


def error_class(code: int) -> type:
    """The exception class for an ALERT_ERR_* code (AlertingError for unknown codes)."""
    return ERRORS.get(code, AlertingError)


def from_code(code: int, detail: str | None = None, function: str | None = None,
              err: n.alert_error | None = None) -> AlertingError:
    """The exception for a non-OK status; err, when given, supplies where and why."""
    cls = error_class(code)
    if err is not None and err.code == code:
        text = n.string(err.text) or None
        if cls is ConfigError:
            return ConfigError(code, text or detail, function, n.string(err.source),
                               err.line, err.column)
        detail = text or detail
    return cls(code, detail, function)


def check(code: int, function: str, detail: str | None = None,
          err: n.alert_error | None = None) -> None:
    if code != n.ALERT_OK:
        raise from_code(code, detail, function, err)
