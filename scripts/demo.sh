#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: a local receiver stands in for Slack; the simulated proxy runs its
# traffic through libalerting; then what the receiver got is shown.
set -eu
B=build
D=$B/demo
mkdir -p "$D"
rm -f "$D/port" "$D/receiver.log"

"$B/alert-receiver" --port 0 --port-file "$D/port" --fail-first 3 >"$D/receiver.log" 2>&1 &
rpid=$!
trap 'kill "$rpid" 2>/dev/null || true' EXIT INT TERM
i=0
while [ ! -s "$D/port" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$rpid" 2>/dev/null; then
        echo "demo: the receiver did not start:" >&2
        cat "$D/receiver.log" >&2
        exit 1
    fi
    sleep 0.05
done
port=$(cat "$D/port")
url="http://127.0.0.1:$port/services/DEMO/slack"

echo "════════════════════════════════════════════════════════════════════════"
echo " libalerting demo: a local receiver on 127.0.0.1:$port stands in for Slack;"
echo " it answers the first 3 posts with HTTP 500 (a short outage), to show retries."
if [ -n "${SLACK_WEBHOOK_URL:-}" ]; then
    echo " SLACK_WEBHOOK_URL is set: the same alerts also go to that channel."
fi
echo "════════════════════════════════════════════════════════════════════════"

# shown as it happens, and kept for the summary at the end
{ "$B/examples/proxy_sim" examples/config.yaml "$url" 2>&1; echo $? > "$D/status"; } | tee "$D/proxy.log"
status=$(cat "$D/status")

kill "$rpid" 2>/dev/null || true
wait "$rpid" 2>/dev/null || true
trap - EXIT INT TERM

echo
echo "════════════════════════════════════════════════════════════════════════"
echo " What the receiver got (as Slack would show it)"
echo "════════════════════════════════════════════════════════════════════════"
cat "$D/receiver.log"

echo
echo "════════════════════════════════════════════════════════════════════════"
posts=$(grep -c '^── #' "$D/receiver.log" || true)
failed=$(grep -c '^── #.*→ 5' "$D/receiver.log" || true)
echo " In short: the receiver got $posts posts ($failed of them answered 500 and retried);"
echo " the alerts delivered, by type (posts answered 500 not counted):"
awk '/^── #/ { failed = ($0 ~ /→ 5/) } \
     !failed && match($0, /Alert type: `[a-z_]*`/) { print substr($0, RSTART + 13, RLENGTH - 14) }' \
    "$D/receiver.log" | sort | uniq -c | sort -rn | sed 's/^/   /'
echo " libalerting's own counters:"
sed -n '/what libalerting counted/,$p' "$D/proxy.log" | tail -n +2
echo "════════════════════════════════════════════════════════════════════════"
[ "$status" -eq 0 ] || exit "$status"

# --- act 2: a fleet of three replicas sharing a redis-server on loopback -------------------
if ! command -v redis-server >/dev/null 2>&1; then
    echo
    echo " (fleet act skipped: redis-server is not installed; scripts/deps.sh installs it)"
    exit 0
fi
rm -f "$D/port" "$D/fleet-receiver.log"
"$B/alert-receiver" --port 0 --port-file "$D/port" >"$D/fleet-receiver.log" 2>&1 &
rpid=$!
rdir=$(mktemp -d /tmp/al-demo-redis-XXXXXX)
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$rdir" \
    >"$D/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$rpid" "$redis_pid" 2>/dev/null || true; rm -rf "$rdir"' EXIT INT TERM
i=0
while [ ! -s "$D/port" ] || ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 200 ]; then
        echo "demo: the receiver or redis-server did not start" >&2
        exit 1
    fi
    sleep 0.05
done
url="http://127.0.0.1:$(cat "$D/port")/services/DEMO/fleet"

echo
echo "════════════════════════════════════════════════════════════════════════"
echo " Act 2: three replicas of the proxy, one alerting, through a redis-server"
echo " started on 127.0.0.1:$redis_port (fleet mode, libalerting-fleet(7))."
echo "════════════════════════════════════════════════════════════════════════"
# fleet_sim stops Redis itself mid-story (SIGTERM to redis_pid)
{ "$B/examples/fleet_sim" "$url" "$redis_port" "$redis_pid" 2>&1; echo $? > "$D/fstatus"; } | tee "$D/fleet.log"
fstatus=$(cat "$D/fstatus")
kill "$rpid" 2>/dev/null || true
wait "$rpid" 2>/dev/null || true
posts=$(grep -c '^── #' "$D/fleet-receiver.log" || true)
echo
echo " In short: the receiver got $posts posts from three replicas: while Redis was up, one per"
echo " budget step, one outage, one daily report; once it was stopped, one per replica"
echo " (duplicates, never a loss)."
echo "════════════════════════════════════════════════════════════════════════"
exit "$fstatus"
