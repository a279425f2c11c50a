# SPDX-License-Identifier: MIT
"""libalerting for Python: LiteLLM-style alerting for LLM gateways, over ctypes.

    import alerting

    cfg = alerting.Config.from_file("config.yaml")          # a LiteLLM config.yaml
    with alerting.Alerting(cfg) as alerts:
        with alerts.request(model="gpt-4o", deployment="azure/gpt-4o") as r:
            reply = call_the_model()                        # an exception -> llm_exceptions
            r.end(completion_tokens=reply.tokens)           # slow -> llm_too_slow
        alerts.emit("db_exceptions", alerting.Level.HIGH, "DB down")

The shared library is found through $ALERTING_LIBRARY, then a copy in this package's
directory, then the system loader (libalerting.so.0). Nothing is loaded until first use;
load_library() loads it explicitly. See help(alerting.Alerting) and libalerting(3).
"""
from __future__ import annotations

from . import _native
from ._core import (Alerting, Config, Delivery, Entity, ErrorCode, Level, LogLevel, Request,
                    Stats, to_yaml)
from ._native import LibraryNotFound
from .errors import (AlertingError, AlertTimeoutError, CallbackError, ConfigError, FullError,
                     GiveUp, InvalidError, IoError, NomemError, NotFoundError, StateError,
                     TransportError, UnsupportedError, VersionError, err_name, error_class,
                     strerror)

__version__ = "0.1.0"

# Status codes, levels and entities as plain ints, named as in C without the ALERT_ prefix.
OK = _native.ALERT_OK
ERR_NOMEM = _native.ALERT_ERR_NOMEM
ERR_INVALID = _native.ALERT_ERR_INVALID
ERR_VERSION = _native.ALERT_ERR_VERSION
ERR_CONFIG = _native.ALERT_ERR_CONFIG
ERR_IO = _native.ALERT_ERR_IO
ERR_TRANSPORT = _native.ALERT_ERR_TRANSPORT
ERR_NOT_FOUND = _native.ALERT_ERR_NOT_FOUND
ERR_FULL = _native.ALERT_ERR_FULL
ERR_TIMEOUT = _native.ALERT_ERR_TIMEOUT
ERR_STATE = _native.ALERT_ERR_STATE
ERR_UNSUPPORTED = _native.ALERT_ERR_UNSUPPORTED
ERR_CALLBACK = _native.ALERT_ERR_CALLBACK
METRICS_PROMETHEUS = _native.ALERT_METRICS_PROMETHEUS

LEVEL_LOW = Level.LOW
LEVEL_MEDIUM = Level.MEDIUM
LEVEL_HIGH = Level.HIGH

LOG_ERROR = LogLevel.ERROR
LOG_WARNING = LogLevel.WARNING
LOG_INFO = LogLevel.INFO
LOG_DEBUG = LogLevel.DEBUG

ENTITY_KEY = Entity.KEY
ENTITY_USER = Entity.USER
ENTITY_END_USER = Entity.END_USER
ENTITY_TEAM = Entity.TEAM
ENTITY_TEAM_MEMBER = Entity.TEAM_MEMBER
ENTITY_ORGANIZATION = Entity.ORGANIZATION
ENTITY_PROJECT = Entity.PROJECT
ENTITY_PROXY = Entity.PROXY


def load_library(path: str | None = None) -> str:
    """Loads libalerting now (from path, or as described in the module's docstring) and
    returns the path or name it was loaded from. Raises LibraryNotFound."""
    return _native.load(path).path


def library_path() -> str:
    """Where the loaded libalerting came from (loads it if need be)."""
    return _native.lib().path


def version() -> str:
    """The library's version string, alert_version_string(): "0.1.0"."""
    return _native.string(_native.lib().alert_version_string())


def version_info() -> tuple:
    """The library's version as (major, minor, patch), from alert_version()."""
    v = _native.lib().alert_version()
    return (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF


def global_init() -> None:
    """alert_global_init: set up libcurl's process-wide state now (optional)."""
    from .errors import check
    check(_native.lib().alert_global_init(), "alert_global_init")


def global_cleanup() -> None:
    """alert_global_cleanup: undo one global_init()."""
    _native.lib().alert_global_cleanup()


__all__ = [
    "Alerting", "Config", "Request", "Delivery", "Stats", "Level", "LogLevel", "Entity",
    "ErrorCode", "to_yaml",
    "AlertingError", "NomemError", "InvalidError", "VersionError", "ConfigError", "IoError",
    "TransportError", "NotFoundError", "FullError", "AlertTimeoutError", "StateError",
    "UnsupportedError", "CallbackError", "GiveUp", "LibraryNotFound",
    "err_name", "strerror", "error_class",
    "load_library", "library_path", "version", "version_info", "global_init",
    "global_cleanup",
    "OK", "ERR_NOMEM", "ERR_INVALID", "ERR_VERSION", "ERR_CONFIG", "ERR_IO", "ERR_TRANSPORT",
    "ERR_NOT_FOUND", "ERR_FULL", "ERR_TIMEOUT", "ERR_STATE", "ERR_UNSUPPORTED", "ERR_CALLBACK",
    "METRICS_PROMETHEUS",
    "LEVEL_LOW", "LEVEL_MEDIUM", "LEVEL_HIGH",
    "LOG_ERROR", "LOG_WARNING", "LOG_INFO", "LOG_DEBUG",
    "ENTITY_KEY", "ENTITY_USER", "ENTITY_END_USER", "ENTITY_TEAM", "ENTITY_TEAM_MEMBER",
    "ENTITY_ORGANIZATION", "ENTITY_PROJECT", "ENTITY_PROXY",
]
