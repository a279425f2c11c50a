#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs test binaries, prints one line per binary and a closing "N passed, N failed".
# Tests talk only to loopback: inherited delivery targets are cleared first.
suite=$1; shift
unset SLACK_WEBHOOK_URL ALERTING_WEBHOOK_URL DISCORD_WEBHOOK_URL MS_TEAMS_WEBHOOK_URL \
      WEBHOOK_URL ALERTMANAGER_URL PROXY_BASE_URL
for v in $(env | sed -n 's/^\(SMTP_[A-Za-z0-9_]*\)=.*/\1/p; s/^\(PAGERDUTY_[A-Za-z0-9_]*\)=.*/\1/p; s/^\([A-Za-z0-9_]*_WEBHOOK_URL\)=.*/\1/p'); do
    unset "$v"
done
pass=0; fail=0; failed=""
for t in "$@"; do
    log="$t.log"
    if "$t" >"$log" 2>&1; then
        pass=$((pass + 1)); echo "  ok    $suite/$(basename "$t")"
    else
        fail=$((fail + 1)); failed="$failed $t"; echo "  FAIL  $suite/$(basename "$t")"
        tail -n 40 "$log" | sed 's/^/        /'
    fi
done
echo "$suite: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
