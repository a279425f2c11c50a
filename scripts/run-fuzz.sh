#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs each fuzzer for N seconds from its seeds (tests/data) into a scratch corpus.
# Prints "fuzz: N passed, N failed"; a crash leaves its input under build/fuzz/.
secs=$1; shift
pass=0; fail=0
for f in "$@"; do
    name=$(basename "$f")
    corpus="build/fuzz/corpus-$name"
    mkdir -p "$corpus"
    case "$name" in
        fuzz_config) seeds="tests/data/config examples" ;;
        fuzz_email_address) seeds="tests/data/emails" ;;
        *) seeds="tests/data/payloads" ;;
    esac
    if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="build/fuzz/$name-" \
        -print_final_stats=1 "$corpus" $seeds >"build/fuzz/$name.log" 2>&1; then
        pass=$((pass + 1)); echo "  ok    fuzz/$name ($(grep -o 'stat::number_of_executed_units: [0-9]*' "build/fuzz/$name.log" | grep -o '[0-9]*$' || echo '?') runs)"
    else
        fail=$((fail + 1)); echo "  FAIL  fuzz/$name"; tail -n 30 "build/fuzz/$name.log" | sed 's/^/        /'
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
