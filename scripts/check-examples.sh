#!/bin/sh
# SPDX-License-Identifier: MIT
# make check: the C examples run against a loopback receiver and deliver.
# Prints "examples: N passed, N failed".
B=${1:-build}
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; }

unset SLACK_WEBHOOK_URL ALERTING_WEBHOOK_URL WEBHOOK_URL ALERTMANAGER_URL PROXY_BASE_URL
tmp=$(mktemp -d "${TMPDIR:-/tmp}/libalerting-examples.XXXXXX")
trap 'kill "$rpid" 2>/dev/null; rm -rf "$tmp"' EXIT
"$B/alert-receiver" --port 0 --port-file "$tmp/port" >"$tmp/received" 2>&1 &
rpid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$tmp/port")
url="http://127.0.0.1:$port/services/EXAMPLES"

if [ "$(wc -l < examples/minimal.c)" -le 20 ]; then ok "examples/minimal.c is 20 lines or fewer"; else bad "examples/minimal.c is longer than 20 lines"; fi
if SLACK_WEBHOOK_URL="$url/minimal" "$B/examples/minimal" > "$tmp/minimal.out" 2>&1 &&
   grep -q '^delivered$' "$tmp/minimal.out" && grep -q 'Hello from libalerting' "$tmp/received"; then
    ok "examples/minimal delivers one alert"
else
    bad "examples/minimal: $(cat "$tmp/minimal.out")"
fi
if SLACK_WEBHOOK_URL="$url/poll" "$B/examples/poll_loop" > "$tmp/poll.out" 2>&1 &&
   grep -q '^delivered$' "$tmp/poll.out" && grep -q 'Hello from a poll(2) loop' "$tmp/received"; then
    ok "examples/poll_loop delivers from a poll(2) loop without a worker thread"
else
    bad "examples/poll_loop: $(cat "$tmp/poll.out")"
fi
if "$B/examples/proxy_sim" examples/config.yaml "$url/sim" > "$tmp/sim.out" 2>&1 &&
   grep -q 'still queued         0' "$tmp/sim.out"; then
    ok "examples/proxy_sim runs its story and leaves nothing queued"
else
    bad "examples/proxy_sim: $(tail -5 "$tmp/sim.out")"
fi
for t in llm_too_slow llm_requests_hanging llm_exceptions outage_alerts region_outage_alerts budget_alerts db_exceptions; do
    if grep -q "Alert type: \`$t\`" "$tmp/received"; then ok "the receiver got $t"; else bad "the receiver got no $t"; fi
done
if grep -q 'hunter2\|sk-live-4f9a8b7c6d5e4f3a2b1c' "$tmp/received"; then bad "a secret reached the receiver"; else ok "no secret reached the receiver"; fi
echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
