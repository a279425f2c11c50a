#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""cffi in ABI mode over include/alerting.h: no compiler build step, only the header.

Run by test_cffi.py with whichever Python has cffi (the one running the tests, else
Debian's /usr/bin/python3 with python3-cffi). Exits 0 and prints "cffi smoke: ok".

    ALERTING_LIBRARY=build/libalerting.so.0 python3 tests/python/cffi_smoke.py
"""
import ctypes
import json
import os
import subprocess
import sys

import cffi

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEADER = os.path.join(ROOT, "include", "alerting.h")
LIBRARY = os.environ.get("ALERTING_LIBRARY", os.path.join(ROOT, "build", "libalerting.so.0"))


def cdef_source() -> str:
    """The header as cffi's cdef takes it: without the #includes (cffi knows the fixed-width
    types itself), preprocessed with ALERT_API empty (the header's #ifndef allows it), so
    that only typedefs, structs and prototypes remain."""
    with open(HEADER, encoding="utf-8") as f:
        lines = [line for line in f if not line.lstrip().startswith("#include")]
    cc = os.environ.get("CC", "cc")
    out = subprocess.run([cc, "-E", "-P", "-DALERT_API=", "-x", "c", "-"], input="".join(lines),
                         capture_output=True, text=True, check=True)
    return out.stdout


def main() -> int:
    ffi = cffi.FFI()
    ffi.cdef(cdef_source())
    lib = ffi.dlopen(LIBRARY)

    version = ffi.string(lib.alert_version_string()).decode()
    with open(HEADER, encoding="utf-8") as f:
        want = [l.split('"')[1] for l in f if l.startswith("#define ALERT_VERSION_STRING")][0]
    assert version == want, (version, want)
    assert ffi.string(lib.alert_err_name(-4)) == b"ALERT_ERR_CONFIG"

    # a config, a ctx without a worker thread and a transport written with cffi
    got = []

    @ffi.callback("int(const alert_delivery *, void *)")
    def send(d, userdata):
        got.append((ffi.string(d.destination).decode(), ffi.string(d.alert_type).decode(),
                    d.level, d.attempt, ffi.unpack(d.body, d.body_len).decode()))
        return 0

    cfg_p = ffi.new("alert_config **")
    assert lib.alert_config_new(cfg_p) == 0
    cfg = cfg_p[0]
    err = ffi.new("alert_error *")
    assert lib.alert_error_init(err, 1) == 0
    t = ffi.new("alert_transport *")
    assert lib.alert_transport_init(t, 1) == 0
    t.send = send
    assert lib.alert_config_add_transport(cfg, b"cffi", t, ffi.NULL) == 0
    yaml = b"alerting: [cffi]\nalerting_args:\n  worker_threads: 0\n  shutdown_timeout: 0.2\n"
    rc = lib.alert_config_load_string(cfg, yaml, len(yaml), err)
    assert rc == 0, ffi.string(err.text)
    ctx_p = ffi.new("alert_ctx **")
    rc = lib.alert_ctx_create(ctx_p, cfg, err)
    assert rc == 0, ffi.string(err.text)
    ctx = ctx_p[0]
    lib.alert_config_free(cfg)

    req = ffi.new("alert_request *")
    assert lib.alert_request_init(req, 1) == 0
    model = ffi.new("char[]", b"gpt-4")
    req.model = model
    rid = ffi.new("alert_req_id *")
    assert lib.alert_on_request_start(ctx, req, rid) == 0 and rid[0] != 0
    resp = ffi.new("alert_response *")
    assert lib.alert_response_init(resp, 1) == 0
    assert lib.alert_on_request_end(ctx, rid[0], resp) == 0
    assert lib.alert_emit(ctx, b"llm_exceptions", 3, b"from cffi", ffi.NULL) == 0
    assert lib.alert_flush(ctx, 5000) == 0
    stats = ffi.new("alert_stats *")
    assert lib.alert_stats_init(stats, 1) == 0
    assert lib.alert_stats_get(ctx, stats) == 0
    lib.alert_ctx_destroy(ctx)
    assert len(got) == 1, got
    destination, alert_type, level, attempt, body = got[0]
    assert (destination, alert_type, level, attempt) == ("cffi", "llm_exceptions", 3, 1), got
    assert json.loads(body)["event_message"] == "from cffi"
    assert (stats.requests_started, stats.requests_inflight, stats.deliveries_ok) == (1, 0, 1)

    # the ctypes structs of the Python package have the header's layout exactly
    checked = 0
    try:
        from alerting import _native
    except ImportError:
        print("cffi smoke: the alerting package is not importable; layouts not compared")
    else:
        for struct in _native.STRUCTS:
            name = struct.__name__
            assert ffi.sizeof(name) == ctypes.sizeof(struct), (name, ffi.sizeof(name),
                                                               ctypes.sizeof(struct))
            c_fields = [f for f, _ in ffi.typeof(name).fields]
            py_fields = [f for f, _ in struct._fields_]
            assert c_fields == py_fields, (name, c_fields, py_fields)
            for field, ctype in ffi.typeof(name).fields:
                assert ffi.offsetof(name, field) == getattr(struct, field).offset, (name, field)
                assert ffi.sizeof(ctype.type) == getattr(struct, field).size, (name, field)
            checked += 1
    print(f"cffi smoke: ok (cffi {cffi.__version__}, Python {sys.version.split()[0]}, "
          f"libalerting {version}, {checked} struct layouts equal to the ctypes ones)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
