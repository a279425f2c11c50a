#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per start+end pair on the caller's thread, counted by callgrind only
# inside alert_on_request_start and alert_on_request_end (callees included), for
# the realistic and the minimal request. Two run lengths: their difference per
# pair leaves out set-up and the cold first calls.
set -eu
bin=${1:-build/bench/bench_hooks}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "instructions per pair: valgrind not installed (make deps installs it)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SHORT=20000
LONG=60000

count() {   # kind pairs -> instructions collected inside the hooks
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" \
        --toggle-collect=alert_on_request_start --toggle-collect=alert_on_request_end \
        "$bin" count "$1" "$2" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$tmp/err"
}

for kind in realistic minimal; do
    a=$(count "$kind" $SHORT)
    b=$(count "$kind" $LONG)
    awk -v a="$a" -v b="$b" -v n=$((LONG - SHORT)) -v k="$kind" \
        'BEGIN { printf "instructions per start+end pair, %s request (callgrind, in the hooks): %.0f\n", k, (b - a) / n }'
done
