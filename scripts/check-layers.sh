#!/bin/sh
# SPDX-License-Identifier: MIT
# The layers of lib/ (ARCHITECTURE.md, "lib/ — one module per concern"), checked on the
# #include lines and on calls into the store:
#   L0 utilities   include only L0 headers (and the public header)
#   L2 pure logic  never include ctx.h, state/state.h, outbox.h or route.h
#   outbox         includes no detector's header (delivery outcomes go back through settle)
#   hooks          include no route, outbox or formatter
#   store          reached only by ctx.c and lib/state/
#   OpenSSL        included only by sign.c
# Usage: sh scripts/check-layers.sh   (from `make meta`, at the repo root)
# Prints one line per rule and "layers: N passed, N failed"; exits 1 on any failure.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

L0="alloc buf hash text intern yamltree sign calendar"
L2="budget marks ledger reports outage ops redact fmt_text fmt_dest pdagg spool"
DETECTORS="latency health money budget marks ledger reports outage ops pdagg"

pass=0
failed=0
ok() { pass=$((pass + 1)); echo "layers: ok   $1"; }
bad() { failed=$((failed + 1)); echo "layers: FAIL $1"; }

# the quoted includes of a module (its .c and .h), one header name a line
includes() {
    for f in "lib/$1.c" "lib/$1.h"; do
        [ -f "$f" ] && sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"
    done
}

# rule 1: L0 includes only L0 (and alerting.h)
msg=""
for m in $L0; do
    [ -f "lib/$m.c" ] || [ -f "lib/$m.h" ] || { msg="$msg lib/$m is missing;"; continue; }
    for h in $(includes "$m"); do
        base=${h%.h}
        case " $L0 alerting " in
        *" $base "*) ;;
        *) msg="$msg $m includes $h;" ;;
        esac
    done
done
if [ -z "$msg" ]; then ok "L0 utilities include only L0"; else bad "L0 utilities include only L0:$msg"; fi

# rule 2: L2 never includes ctx.h, state/state.h, outbox.h, route.h
msg=""
for m in $L2; do
    [ -f "lib/$m.c" ] || [ -f "lib/$m.h" ] || { msg="$msg lib/$m is missing;"; continue; }
    for h in $(includes "$m"); do
        case "$h" in
        ctx.h | state/state.h | state.h | outbox.h | route.h) msg="$msg $m includes $h;" ;;
        esac
    done
done
if [ -z "$msg" ]; then ok "L2 pure modules include no ctx, state, outbox or route"; else bad "L2 pure modules include no ctx, state, outbox or route:$msg"; fi

# rule 3: the outbox includes no detector
msg=""
for h in $(includes outbox); do
    base=${h%.h}
    case " $DETECTORS " in
    *" $base "*) msg="$msg outbox includes $h;" ;;
    esac
done
if [ -z "$msg" ]; then ok "the outbox includes no detector"; else bad "the outbox includes no detector:$msg"; fi

# rule 4: the hooks include no route, outbox or formatter
msg=""
for h in $(includes hooks); do
    case "$h" in
    route.h | outbox.h | fmt.h | fmt_dest.h | fmt_text.h) msg="$msg hooks includes $h;" ;;
    esac
done
if [ -z "$msg" ]; then ok "the hooks include no route, outbox or formatter"; else bad "the hooks include no route, outbox or formatter:$msg"; fi

# rule 5: only ctx.c and lib/state/ reach the store
msg=""
for f in lib/*.c lib/*.h; do
    case "$f" in
    lib/ctx.c | lib/store.c | lib/store.h) continue ;;
    esac
    if grep -q '^#include "store.h"' "$f" || grep -q 'al_store_[a-z_]*(' "$f"; then
        msg="$msg $f;"
    fi
done
if [ -z "$msg" ]; then ok "only ctx.c and lib/state/ reach the store"; else bad "only ctx.c and lib/state/ reach the store:$msg"; fi

# rule 6: OpenSSL only in sign.c
msg=""
for f in lib/*.c lib/*.h lib/state/*.c lib/state/*.h; do
    [ "$f" = lib/sign.c ] && continue
    grep -q '^#include <openssl/' "$f" && msg="$msg $f;"
done
if [ -z "$msg" ]; then ok "OpenSSL only in sign.c"; else bad "OpenSSL only in sign.c:$msg"; fi

echo "layers: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
