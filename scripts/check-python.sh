#!/bin/sh
# check-python.sh: the Python package `alerting` as a user gets it, and its tests.
#
#   sh scripts/check-python.sh [LIBRARY]     # LIBRARY: default $ALERTING_LIBRARY, else
#                                            # build/libalerting.so.0 (run `make` first)
#
# 1. `pip install --no-build-isolation --no-index` of bindings/python into a temporary
#    --target, offline, with the first interpreter that has pip, setuptools and wheel:
#    $PYTHON (default python3), else Debian's /usr/bin/python3 (python3-pip,
#    python3-setuptools, python3-wheel). The package is pure Python, so the copy installed
#    by one interpreter is imported by the other. The source is copied first so that the
#    build leaves no build/ or *.egg-info in the work tree.
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

# --- 1. install offline -------------------------------------------------------------------
installer=
for py in "$PYTHON" /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 &&
        "$py" -c "import setuptools, wheel, pip" >/dev/null 2>&1; then
        installer=$py
        break
    fi
done
SITE=$tmp/site
if [ -z "$installer" ]; then
    bad "pip install --no-build-isolation: neither $PYTHON nor /usr/bin/python3 has pip," \
        "setuptools and wheel (Debian: apt-get install python3-pip python3-setuptools python3-wheel)"
    finish
fi
mkdir -p "$tmp/src"
cp -R "$ROOT/bindings/python" "$tmp/src/"
rm -rf "$tmp/src/python/build" "$tmp/src/python"/*.egg-info
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +
if (cd "$tmp/src" && PIP_NO_INDEX=1 "$installer" -m pip install --no-build-isolation \
        --no-index --no-deps --no-cache-dir --disable-pip-version-check --quiet \
        --target "$SITE" ./python) >"$tmp/pip.log" 2>&1 &&
    [ -f "$SITE/alerting/__init__.py" ] && ls -d "$SITE"/libalerting-*.dist-info >/dev/null 2>&1
then
    ok "pip install --no-build-isolation ./bindings/python (offline, $("$installer" -c \
'import sys, setuptools; print("Python %d.%d, setuptools %s" % (sys.version_info[:2] + (setuptools.__version__,)))'))"
else
    bad "pip install --no-build-isolation ./bindings/python with $installer"
    sed -e 's/^/    /' "$tmp/pip.log" | tail -n 30
    finish
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
