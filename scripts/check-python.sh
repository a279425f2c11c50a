#!/bin/sh
# SPDX-License-Identifier: MIT
# check-python.sh: the Python package `alerting` as a user gets it, and its tests.
#
#   sh scripts/check-python.sh [LIBRARY]     # LIBRARY: default $ALERTING_LIBRARY, else
#                                            # build/libalerting.so.0 (run `make` first)
#
# 1. the offline install of README.md, run as written ("# python offline install"): a
#    wheel built once by Debian's /usr/bin/python3 (python3-pip, python3-setuptools,
#    python3-wheel), installed with --no-index into a venv of $PYTHON (default python3);
#    then the same wheel into a venv of /usr/bin/python3. The source is copied first so
#    that the build leaves no build/ or *.egg-info in the work tree.
# 2. `$PYTHON -m unittest discover -s tests/python -v` against that installed copy and
#    LIBRARY (a loopback receiver, an injected clock; the cffi test uses whichever Python
#    has cffi, Debian's python3-cffi at least).
# 3. examples/python/gateway.py, the demo story, against build/alert-receiver.
# Ends with "python: N passed, N failed" and exits non-zero if anything failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
LIBRARY=${1:-${ALERTING_LIBRARY:-$ROOT/build/libalerting.so.0}}
case $LIBRARY in /*) ;; *) LIBRARY=$(pwd)/$LIBRARY ;; esac
RECEIVER=$ROOT/build/alert-receiver

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-python.XXXXXX") || exit 1
receiver_pid=
cleanup() {
    [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

passed=0
failed=0
skipped=0
ok()  { passed=$((passed + 1)); echo "ok - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
finish() {
    line="python: $passed passed, $failed failed"
    [ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
    echo "$line"
    [ "$failed" -eq 0 ]
    exit
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    bad "no $PYTHON on PATH"
    finish
fi
if [ ! -e "$LIBRARY" ]; then
    bad "no library at $LIBRARY (run make first)"
    finish
fi
export ALERTING_LIBRARY="$LIBRARY"

# --- 1. install offline: the commands of README.md, as written -----------------------------
# (in a copy of bindings/, so that the build leaves nothing in the work tree; the `make`
# line is the caller's: LIBRARY is built already)
recipe=$(awk '/^# python offline install/ { on = 1; next } on && /^```/ { exit } on { print }' \
    "$ROOT/README.md" | grep -v '^make$')
if [ -z "$recipe" ]; then
    bad "README.md has no '# python offline install' block"
    finish
fi
mkdir -p "$tmp/src"
cp -R "$ROOT/bindings" "$tmp/src/"
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +
rm -rf "$tmp/src/bindings/python/build" "$tmp/src/bindings/python"/*.egg-info
echo "$recipe" | sed 's/^/check-python: README: /'
if (cd "$tmp/src" && PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 sh -e -c "$recipe") \
        >"$tmp/pip.log" 2>&1; then
    ok "README.md's offline install: a wheel built by /usr/bin/python3, installed into a venv of $PYTHON"
else
    bad "README.md's offline install"
    sed -e 's/^/    /' "$tmp/pip.log" | tail -n 30
    finish
fi
SITE=$(ls -d "$tmp"/src/venv/lib/python*/site-packages 2>/dev/null | head -n 1)
if [ -z "$SITE" ] || [ ! -f "$SITE/alerting/__init__.py" ]; then
    bad "the venv has no alerting package"
    finish
fi
# the same wheel, offline, into a venv of Debian's python3
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -m venv "$tmp/debvenv" >"$tmp/debvenv.log" 2>&1 &&
    "$tmp/debvenv/bin/python" -m pip install --no-index --disable-pip-version-check --quiet \
        "$tmp"/src/dist/libalerting-*.whl >>"$tmp/debvenv.log" 2>&1 &&
    "$tmp/debvenv/bin/python" -c "import alerting; alerting.Config().close()" >>"$tmp/debvenv.log" 2>&1
then
    ok "the wheel installs offline into a venv of Debian's /usr/bin/python3 and works"
else
    bad "the wheel in a venv of /usr/bin/python3"
    sed -e 's/^/    /' "$tmp/debvenv.log" | tail -n 20
fi
export PYTHONPATH="$SITE"
where=$("$PYTHON" -c "import alerting; print(alerting.__file__)" 2>&1)
case $where in
    "$SITE"/*) ok "$PYTHON imports the installed package ($where)" ;;
    *) bad "$PYTHON does not import the installed package: $where"; finish ;;
esac

# --- 2. the unit tests ---------------------------------------------------------------------
echo "check-python: $PYTHON -m unittest discover -s tests/python -v" \
     "(ALERTING_LIBRARY=$LIBRARY)"
(cd "$ROOT" && "$PYTHON" -m unittest discover -s tests/python -v) >"$tmp/unittest.log" 2>&1
status=$?
cat "$tmp/unittest.log"
ran=$(sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$tmp/unittest.log" | tail -n 1)
last=$(grep -E '^(OK|FAILED)' "$tmp/unittest.log" | tail -n 1)
count() { echo "$last" | sed -n "s/.*$1=\([0-9][0-9]*\).*/\1/p"; }
t_fail=$(count failures)
t_err=$(count errors)
t_skip=$(count skipped)
t_unexp=$(count "unexpected successes")
t_fail=$(( ${t_fail:-0} + ${t_err:-0} + ${t_unexp:-0} ))
t_skip=${t_skip:-0}
if [ -z "$ran" ] || [ "$ran" -eq 0 ]; then
    bad "unittest ran no test (exit status $status)"
else
    t_pass=$((ran - t_fail - t_skip))
    passed=$((passed + t_pass))
    failed=$((failed + t_fail))
    skipped=$((skipped + t_skip))
    if [ "$status" -ne 0 ] && [ "$t_fail" -eq 0 ]; then
        bad "unittest exited with status $status"
    fi
fi

# --- 3. the example gateway ------------------------------------------------------------------
if [ ! -x "$RECEIVER" ]; then
    bad "examples/python/gateway.py: no $RECEIVER (run make first)"
    finish
fi
"$RECEIVER" --port 0 --port-file "$tmp/port" --quiet &
receiver_pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
if [ ! -s "$tmp/port" ]; then
    bad "examples/python/gateway.py: alert-receiver did not start"
    finish
fi
port=$(cat "$tmp/port")
echo "check-python: examples/python/gateway.py examples/config.yaml http://127.0.0.1:$port/slack"
# Only the loopback receiver: no inherited webhook gets the demo's alerts.
if (cd "$ROOT" && env -u SLACK_WEBHOOK_URL -u ALERTING_WEBHOOK_URL "$PYTHON" \
        examples/python/gateway.py examples/config.yaml "http://127.0.0.1:$port/slack") \
        >"$tmp/gateway.log" 2>&1 &&
    grep -q "llm_exceptions" "$tmp/gateway.log" &&
    grep -q "still queued         0$" "$tmp/gateway.log"
then
    ok "examples/python/gateway.py delivers its story ($(grep -c '\[console\]' "$tmp/gateway.log") console deliveries)"
else
    bad "examples/python/gateway.py"
    sed -e 's/^/    /' "$tmp/gateway.log" | tail -n 40
fi
kill "$receiver_pid" 2>/dev/null
wait "$receiver_pid" 2>/dev/null
receiver_pid=

finish
