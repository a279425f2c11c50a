#!/bin/sh
# make demo: a local receiver stands in for Slack; the simulated proxy runs its
# traffic through libalerting; then what the receiver got is shown.
set -eu
B=build
D=$B/demo
mkdir -p "$D"
rm -f "$D/port" "$D/receiver.log"

"$B/alert-receiver" --port 0 --port-file "$D/port" --fail-first 2 >"$D/receiver.log" 2>&1 &
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
echo " it answers the first 2 posts with HTTP 500, to show retries."
if [ -n "${SLACK_WEBHOOK_URL:-}" ]; then
    echo " SLACK_WEBHOOK_URL is set: the same alerts also go to that channel."
fi
echo "════════════════════════════════════════════════════════════════════════"

status=0
"$B/examples/proxy_sim" examples/config.yaml "$url" || status=$?

kill "$rpid" 2>/dev/null || true
wait "$rpid" 2>/dev/null || true
trap - EXIT INT TERM

echo
echo "════════════════════════════════════════════════════════════════════════"
echo " What the receiver got (as Slack would show it)"
echo "════════════════════════════════════════════════════════════════════════"
cat "$D/receiver.log"
exit "$status"
