#!/bin/sh
# SPDX-License-Identifier: MIT
# make meta: checks that hold the public surface, the documentation and the
# examples to the header include/alerting.h.
#
#   (a)  the shared library exports exactly the functions the header declares,
#        all named alert_*, and no data
#   (b)  every global symbol defined in the static library is alert_* or al_*
#   (c)  every header function is in the NAME section (.Nm) of exactly one
#        man/man3 page
#   (c+) and that page's SYNOPSIS (.Ft/.Fn) matches the header declaration
#   (d)  mandoc -Tlint -W warning is clean on every page
#   (e)  every ALERT_OK/ALERT_ERR_* code is in libalerting-errors(3), with its value
#   (f)  every configuration key of BEHAVIOUR.md section 9 is in libalerting-config(5)
#   (g)  the header compiles alone as C99 and C++11 (and with ALERT_API empty, as cffi does)
#   (h)  every EXAMPLES block of the man3 pages and every ```c block of README.md
#        compiles with cc -std=c11 -Wall -Wextra -Werror -Iinclude -c
#
# Usage: sh scripts/check-meta.sh SHLIB STLIB   (from `make meta`, at the repo root)
# Prints one line per check and "meta: N passed, N failed"; exits 1 on any failure.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 SHLIB STLIB" >&2
    echo "  SHLIB: the built shared library (build/libalerting.so.X.Y.Z)" >&2
    echo "  STLIB: the built static library (build/libalerting.a)" >&2
    exit 2
fi

abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}
SHLIB=$(abspath "$1")
STLIB=$(abspath "$2")

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

HEADER=include/alerting.h
ERRPAGE=man/man3/libalerting-errors.3
CFGPAGE=man/man5/libalerting-config.5
README=README.md
BEHAVIOUR=../shared/design/BEHAVIOUR.md
CC=${CC:-cc}
CXX=${CXX:-c++}

if [ ! -f "$HEADER" ]; then
    echo "meta: $HEADER not found under $root" >&2
    exit 2
fi

mkdir -p build/meta || exit 2
tmp=$(mktemp -d build/meta/run.XXXXXX) || { echo "meta: mktemp failed" >&2; exit 2; }
trap 'rm -rf "$tmp"' INT TERM HUP

passed=0
failed=0
# A check writes its details to $tmp/details, then calls ok or fail.
ok() {
    passed=$((passed + 1))
    echo "meta: ok   $*"
    : > "$tmp/details"
}
fail() {
    failed=$((failed + 1))
    echo "meta: FAIL $*"
    if [ -s "$tmp/details" ]; then
        sed 's/^/      /' "$tmp/details"
    fi
    : > "$tmp/details"
}
detail() {
    printf '%s\n' "$*" >> "$tmp/details"
}
have() {
    command -v "$1" >/dev/null 2>&1
}
: > "$tmp/details"

# The function names the header declares: `ALERT_API <type> <name>(`.
sed -n 's/^ALERT_API[^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$HEADER" | sort -u \
    > "$tmp/header.funcs"
nfuncs=$(wc -l < "$tmp/header.funcs" | tr -d ' ')
if [ "$nfuncs" -eq 0 ]; then
    echo "meta: no 'ALERT_API <type> <name>(' declaration found in $HEADER" >&2
    exit 2
fi

# Each declaration on one line, without ALERT_API, then without any whitespace:
# "name<TAB>constchar*alert_strerror(intcode)".
awk '
    /^ALERT_API/ { decl = $0; collecting = 1 }
    collecting && !/^ALERT_API/ { decl = decl " " $0 }
    collecting && /;/ {
        collecting = 0
        sub(/^ALERT_API[ \t]+/, "", decl)
        sub(/;.*$/, "", decl)
        sig = decl
        gsub(/[ \t]+/, "", sig)
        name = decl
        sub(/\(.*$/, "", name)
        sub(/^.*[ \t*]/, "", name)
        print name "\t" sig
    }
' "$HEADER" | sort > "$tmp/header.sigs"

MAN3=$(ls man/man3/*.3 2>/dev/null)
MAN5=$(ls man/man5/*.5 2>/dev/null)
MAN7=$(ls man/man7/*.7 2>/dev/null)

# ---------------------------------------------------------------------------
# (a) exports of the shared library
check_exports() {
    if ! have nm; then
        detail "nm not found (install binutils)"
        fail "(a) exports of $1"
        return
    fi
    if [ ! -f "$1" ]; then
        detail "no shared library at $1 (run make first)"
        fail "(a) exports of $1"
        return
    fi
    if ! nm -D --defined-only "$1" > "$tmp/nm.dyn" 2> "$tmp/nm.err"; then
        cat "$tmp/nm.err" >> "$tmp/details"
        fail "(a) nm -D --defined-only $1"
        return
    fi
    # "addr T name@@VERSION"; the version node itself is an absolute (A) symbol.
    awk 'NF >= 3 && $2 != "A" { n = $3; sub(/@.*/, "", n); print $2 " " n }' \
        "$tmp/nm.dyn" | sort -u > "$tmp/exports.all"
    awk '$1 ~ /^[TWi]$/ { print $2 }' "$tmp/exports.all" | sort -u > "$tmp/exports.funcs"
    bad=0
    awk '$2 !~ /^alert_/ { print "exported symbol without the alert_ prefix: " $2 }' \
        "$tmp/exports.all" >> "$tmp/details"
    if awk '$2 !~ /^alert_/ { found = 1 } END { exit !found }' "$tmp/exports.all"; then
        bad=1
    fi
    awk '$1 !~ /^[TWi]$/ { print "exported data symbol (type " $1 "): " $2 }' \
        "$tmp/exports.all" >> "$tmp/details"
    if awk '$1 !~ /^[TWi]$/ { found = 1 } END { exit !found }' "$tmp/exports.all"; then
        bad=1
    fi
    for s in $(comm -13 "$tmp/header.funcs" "$tmp/exports.funcs"); do
        detail "exported but not declared in $HEADER: $s"
        bad=1
    done
    for s in $(comm -23 "$tmp/header.funcs" "$tmp/exports.funcs"); do
        detail "declared in $HEADER but not exported: $s"
        bad=1
    done
    n=$(wc -l < "$tmp/exports.funcs" | tr -d ' ')
    if [ "$bad" -eq 0 ]; then
        ok "(a) $n exported functions == the $nfuncs declared in the header, all alert_*"
    else
        fail "(a) exports of $(basename "$1") differ from the header"
    fi
}

# ---------------------------------------------------------------------------
# (b) global symbols of the static library
check_static() {
    if ! have nm; then
        detail "nm not found (install binutils)"
        fail "(b) global symbols of $1"
        return
    fi
    if [ ! -f "$1" ]; then
        detail "no static library at $1 (run make first)"
        fail "(b) global symbols of $1"
        return
    fi
    if ! nm --defined-only -g "$1" > "$tmp/nm.st" 2> "$tmp/nm.err"; then
        cat "$tmp/nm.err" >> "$tmp/details"
        fail "(b) nm --defined-only -g $1"
        return
    fi
    awk '
        /:$/ { obj = $0; sub(/:$/, "", obj); next }
        NF >= 3 {
            if ($3 !~ /^(alert_|al_)/)
                print obj ": " $2 " " $3
            else
                count++
        }
        END { print count + 0 > "/dev/stderr" }
    ' "$tmp/nm.st" > "$tmp/st.bad" 2> "$tmp/st.count"
    if [ -s "$tmp/st.bad" ]; then
        sed 's/^/global symbol without the alert_ or al_ prefix: /' "$tmp/st.bad" \
            >> "$tmp/details"
        fail "(b) global symbols of $(basename "$1")"
    else
        ok "(b) $(cat "$tmp/st.count") global symbols of $(basename "$1") are alert_* or al_*"
    fi
}

# ---------------------------------------------------------------------------
# (c) NAME sections, (c+) SYNOPSIS signatures
check_names() {
    if [ -z "$MAN3" ]; then
        detail "no man/man3/*.3 page"
        fail "(c) every header function in one page's NAME section"
        return
    fi
    # "name<TAB>page" for every .Nm inside the NAME section
    for p in $MAN3; do
        awk -v page="$p" '
            /^\.Sh[ \t]/ { inname = ($0 ~ /^\.Sh[ \t]+NAME[ \t]*$/); next }
            inname && /^\.Nm[ \t]/ {
                n = $2
                if (n != "" && n != ",") print n "\t" page
            }
        ' "$p"
    done | sort > "$tmp/man.names"
    bad=0
    while read -r fn; do
        n=$(awk -F '\t' -v f="$fn" '$1 == f' "$tmp/man.names" | wc -l | tr -d ' ')
        if [ "$n" -eq 0 ]; then
            detail "$fn: in no .Nm line of a man/man3 NAME section"
            bad=1
        elif [ "$n" -gt 1 ]; then
            detail "$fn: in the NAME section of $n pages: $(awk -F '\t' -v f="$fn" \
                '$1 == f { printf "%s ", $2 }' "$tmp/man.names")"
            bad=1
        fi
    done < "$tmp/header.funcs"
    # a documented alert_* name that the header no longer declares
    awk -F '\t' '$1 ~ /^alert_/ { print $1 }' "$tmp/man.names" | sort -u > "$tmp/man.funcs"
    for s in $(comm -23 "$tmp/man.funcs" "$tmp/header.funcs"); do
        detail "$s: documented in $(awk -F '\t' -v f="$s" '$1 == f { print $2 }' \
            "$tmp/man.names" | head -n 1) but not declared in $HEADER"
        bad=1
    done
    if [ "$bad" -eq 0 ]; then
        ok "(c) each of the $nfuncs header functions is in the NAME section of one man page"
    else
        fail "(c) every header function in exactly one page's NAME section"
    fi
}

check_synopsis() {
    [ -n "$MAN3" ] || { detail "no man/man3/*.3 page"; fail "(c+) SYNOPSIS"; return; }
    # "name<TAB>signature-without-spaces<TAB>page" from each SYNOPSIS .Ft/.Fn pair
    for p in $MAN3; do
        awk -v page="$p" '
            function args(s,    out, tok, inq, i, c, n) {
                out = ""; tok = ""; inq = 0; n = 0
                for (i = 1; i <= length(s); i++) {
                    c = substr(s, i, 1)
                    if (c == "\"") { inq = !inq; continue }
                    if (!inq && (c == " " || c == "\t")) {
                        if (tok != "") { parts[++n] = tok; tok = "" }
                        continue
                    }
                    tok = tok c
                }
                if (tok != "") parts[++n] = tok
                return n
            }
            /^\.Sh[ \t]/ { insyn = ($0 ~ /^\.Sh[ \t]+SYNOPSIS[ \t]*$/); ft = ""; next }
            !insyn { next }
            /^\.Ft[ \t]/ { ft = $0; sub(/^\.Ft[ \t]+/, "", ft); gsub(/"/, "", ft); next }
            /^\.Fn[ \t]/ {
                line = $0; sub(/^\.Fn[ \t]+/, "", line)
                n = args(line)
                sig = ft parts[1] "("
                for (i = 2; i <= n; i++) sig = sig (i > 2 ? "," : "") parts[i]
                sig = sig ")"
                gsub(/[ \t]+/, "", sig)
                print parts[1] "\t" sig "\t" page
                ft = ""
            }
        ' "$p"
    done | sort > "$tmp/man.sigs"
    bad=0
    while IFS="$(printf '\t')" read -r fn hsig; do
        page=$(awk -F '\t' -v f="$fn" '$1 == f { print $2; exit }' "$tmp/man.names")
        [ -n "$page" ] || continue      # reported by (c)
        msig=$(awk -F '\t' -v f="$fn" -v p="$page" '$1 == f && $3 == p { print $2; exit }' \
            "$tmp/man.sigs")
        if [ -z "$msig" ]; then
            detail "$page: no .Ft/.Fn for $fn in SYNOPSIS"
            bad=1
        elif [ "$msig" != "$hsig" ]; then
            detail "$page: SYNOPSIS of $fn does not match the header"
            detail "  header: $(grep "^ALERT_API.*[ *]$fn(" "$HEADER" | head -n 1)"
            detail "  page:   $msig"
            bad=1
        fi
    done < "$tmp/header.sigs"
    if [ "$bad" -eq 0 ]; then
        ok "(c+) every SYNOPSIS .Ft/.Fn matches its header declaration"
    else
        fail "(c+) SYNOPSIS signatures differ from the header"
    fi
}

# ---------------------------------------------------------------------------
# (d) mandoc lint
check_lint() {
    if ! have mandoc; then
        detail "mandoc not found (scripts/deps.sh installs it)"
        fail "(d) mandoc -Tlint -W warning"
        return
    fi
    if [ -z "$MAN3$MAN5" ]; then
        detail "no man page found"
        fail "(d) mandoc -Tlint -W warning"
        return
    fi
    if [ ! -f "$CFGPAGE" ]; then
        detail "$CFGPAGE is missing"
    fi
    bad=0
    n=0
    for p in $MAN3 $MAN5 $MAN7; do
        n=$((n + 1))
        out=$(mandoc -Tlint -W warning "$p" 2>&1)
        rc=$?
        if [ $rc -ne 0 ] || [ -n "$out" ]; then
            detail "$p (exit $rc):"
            printf '%s\n' "$out" | sed 's/^/  /' >> "$tmp/details"
            bad=1
        fi
    done
    for p in man/man3/libalerting.3 man/man3/libalerting-thread.3 "$ERRPAGE" "$CFGPAGE"; do
        if [ ! -f "$p" ]; then
            detail "$p is missing"
            bad=1
        fi
    done
    if [ "$bad" -eq 0 ]; then
        ok "(d) mandoc -Tlint -W warning is clean on $n pages"
    else
        fail "(d) mandoc -Tlint -W warning"
    fi
}

# ---------------------------------------------------------------------------
# (e) status codes in libalerting-errors(3)
check_errors() {
    if [ ! -f "$ERRPAGE" ]; then
        detail "$ERRPAGE is missing"
        fail "(e) status codes in $ERRPAGE"
        return
    fi
    sed -n \
        -e 's/^#define[[:blank:]]\{1,\}\(ALERT_OK\)[[:blank:]]\{1,\}\([-0-9]\{1,\}\).*/\1 \2/p' \
        -e 's/^#define[[:blank:]]\{1,\}\(ALERT_ERR_[A-Z0-9_]*\)[[:blank:]]\{1,\}\([-0-9]\{1,\}\).*/\1 \2/p' \
        "$HEADER" > "$tmp/codes"
    if [ ! -s "$tmp/codes" ]; then
        detail "no ALERT_OK / ALERT_ERR_* macro found in $HEADER"
        fail "(e) status codes"
        return
    fi
    bad=0
    while read -r name value; do
        # documented at all
        if ! grep -Eq "(^|[^A-Z0-9_])$name([^A-Z0-9_]|\$)" "$ERRPAGE"; then
            detail "$name is not in $ERRPAGE"
            bad=1
            continue
        fi
        # and with the header's value in the SYNOPSIS (.Fd #define NAME VALUE)
        if ! grep -Eq "^\\.Fd[[:blank:]]+#define[[:blank:]]+${name}[[:blank:]]+${value}[[:blank:]]*\$" "$ERRPAGE"; then
            detail "$ERRPAGE: no '.Fd #define $name $value' line (the value in $HEADER is $value)"
            bad=1
        fi
    done < "$tmp/codes"
    n=$(wc -l < "$tmp/codes" | tr -d ' ')
    if [ "$bad" -eq 0 ]; then
        ok "(e) the $n status codes are documented in $(basename "$ERRPAGE") with their values"
    else
        fail "(e) status codes in $(basename "$ERRPAGE")"
    fi
}

# ---------------------------------------------------------------------------
# (f) configuration keys in libalerting-config(5)
# The keys of BEHAVIOUR.md section 9 (and the targets of section 6 that it names
# as smtp_*), kept here so that the check also runs without shared/design.
CONFIG_KEYS="
general_settings litellm_settings
alerting alerting_threshold alert_types alert_to_webhook_url alerting_args
alert_type_config digest digest_interval spend_report_frequency
budgets entity id max_budget soft_budget budget_duration
redact_messages_in_exceptions
daily_report_frequency report_check_interval budget_alert_ttl outage_alert_ttl
region_outage_alert_ttl minor_outage_alert_threshold major_outage_alert_threshold
max_outage_alert_list_size log_to_console budget_alert_thresholds
daily_spend_per_user_threshold monthly_spend_per_user_threshold
spend_anomaly_multiplier spend_anomaly_baseline_days spend_anomaly_min_spend
user_spend_check_interval failure_threshold failure_threshold_window_seconds
hanging_threshold_seconds hanging_threshold_fails hanging_threshold_window_seconds
flush_interval batch_size send_resolved delivery_deadline max_queue http_timeout
shutdown_timeout worker_threads state_path instance_name max_inflight
event_queue_size max_tracked_deployments rate_limits webhook_secret
email_recipients customer_spend_webhook disable_secret_redaction ca_bundle proxy
insecure_skip_verify alertmanager_resolve_after
slack_webhook_url discord_webhook_url ms_teams_webhook_url webhook_url
alertmanager_url pagerduty_api_key pagerduty_url
smtp_host smtp_port smtp_tls smtp_username smtp_password smtp_sender_email
proxy_base_url webhook_alert_types email_alert_types
"
# Words of section 9 in backticks that are not keys (function names alert_* are
# skipped as well); they are still looked for in the page.
NOT_KEYS="config yaml model_list router_settings llm_exceptions os environ"
check_config_keys() {
    if [ ! -f "$CFGPAGE" ]; then
        detail "$CFGPAGE is missing"
        fail "(f) configuration keys in $CFGPAGE"
        return
    fi
    for k in $CONFIG_KEYS; do
        echo "$k"
    done > "$tmp/keys.builtin"
    note=""
    if [ -f "$BEHAVIOUR" ]; then
        # the `backticked` words of section 9, split at dots, that look like keys
        awk '
            /^## 9\./ { in9 = 1; next }
            /^## / { in9 = 0 }
            in9 {
                n = split($0, f, "`")
                for (i = 2; i <= n; i += 2) {
                    m = split(f[i], w, ".")
                    for (j = 1; j <= m; j++)
                        if (w[j] ~ /^[a-z][a-z0-9_]*$/) print w[j]
                }
            }
        ' "$BEHAVIOUR" | sort -u > "$tmp/keys.doc"
        if [ ! -s "$tmp/keys.doc" ]; then
            detail "no key found in section 9 of $BEHAVIOUR (has its layout changed?)"
            fail "(f) configuration keys from $BEHAVIOUR"
            return
        fi
        # keys the design names that the list above lacks: worth adding to it
        sort -u "$tmp/keys.builtin" > "$tmp/keys.builtin.s"
        for k in $NOT_KEYS; do
            echo "$k"
        done | sort -u > "$tmp/keys.notkeys"
        missing_here=$(comm -13 "$tmp/keys.builtin.s" "$tmp/keys.doc" |
            comm -23 - "$tmp/keys.notkeys" | grep -v '^alert_' | tr '\n' ' ')
        if [ -n "$missing_here" ]; then
            note="; not in this script's list (add them): $missing_here"
        fi
    else
        : > "$tmp/keys.doc"
        note="; $BEHAVIOUR not found, checked this script's list only"
    fi
    sort -u "$tmp/keys.builtin" "$tmp/keys.doc" > "$tmp/keys.all"
    bad=0
    while read -r k; do
        if ! grep -Eq "(^|[^A-Za-z0-9_])$k([^A-Za-z0-9_]|\$)" "$CFGPAGE"; then
            detail "$k is not in $CFGPAGE"
            bad=1
        fi
    done < "$tmp/keys.all"
    n=$(wc -l < "$tmp/keys.all" | tr -d ' ')
    if [ "$bad" -eq 0 ]; then
        ok "(f) the $n configuration keys are in $(basename "$CFGPAGE")$note"
    else
        [ -n "$note" ] && detail "note$note"
        fail "(f) configuration keys in $(basename "$CFGPAGE")"
    fi
}

# ---------------------------------------------------------------------------
# (g) the header alone, as C99 and C++11
check_header() {
    src="$tmp/header_alone.c"
    {
        echo "#include <alerting.h>"
        echo "#include <alerting.h>   /* twice: the include guard */"
        echo "int meta_header_check(void);"
        echo "int meta_header_check(void)"
        echo "{"
        echo "    unsigned long sum = ALERT_VERSION_NUM;"
        # one variable per initialiser macro: ALERT_FOO_BAR_INIT fills alert_foo_bar
        sed -n 's/^#define[[:blank:]]\{1,\}ALERT_\([A-Z0-9_]*\)_INIT[[:blank:]].*/\1/p' "$HEADER" |
            while read -r m; do
                t=$(echo "$m" | tr '[:upper:]' '[:lower:]')
                echo "    alert_$t v_$t = ALERT_${m}_INIT;"
                echo "    sum += v_$t.version;"
            done
        echo "    return (int)(sum & 0x7f);"
        echo "}"
    } > "$src"
    if ! have "$CC"; then
        detail "$CC not found"
        fail "(g) header as C99"
    elif "$CC" -std=c99 -pedantic -Wall -Wextra -Werror -Wstrict-prototypes -Iinclude \
            -c "$src" -o "$tmp/header_c99.o" > "$tmp/cc.out" 2>&1 &&
        "$CC" -std=c99 -pedantic -Wall -Wextra -Werror -DALERT_API= -Iinclude \
            -c "$src" -o "$tmp/header_c99b.o" >> "$tmp/cc.out" 2>&1; then
        ok "(g) $HEADER compiles alone as C99 -pedantic -Werror (also with ALERT_API empty)"
    else
        cat "$tmp/cc.out" >> "$tmp/details"
        fail "(g) $HEADER as C99 (-std=c99 -pedantic -Wall -Wextra -Werror)"
    fi
    if ! have "$CXX"; then
        detail "$CXX not found (scripts/deps.sh installs g++)"
        fail "(g) header as C++11"
    elif "$CXX" -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -x c++ \
            -c "$src" -o "$tmp/header_cxx.o" > "$tmp/cxx.out" 2>&1; then
        ok "(g) $HEADER compiles alone as C++11 -pedantic -Werror"
    else
        cat "$tmp/cxx.out" >> "$tmp/details"
        fail "(g) $HEADER as C++11 (-std=c++11 -pedantic -Wall -Wextra -Werror)"
    fi
}

# ---------------------------------------------------------------------------
# (h) examples of the man pages and of README.md
check_examples() {
    exdir="$tmp/examples"
    srcs="$MAN3"
    [ -f "$README" ] && srcs="$srcs $README"
    if [ -z "$srcs" ]; then
        detail "no man/man3 page and no $README"
        fail "(h) examples compile"
        return
    fi
    # shellcheck disable=SC2086
    if ! sh scripts/extract-examples.sh "$exdir" $srcs > "$tmp/examples.list" \
            2> "$tmp/extract.err"; then
        cat "$tmp/extract.err" >> "$tmp/details"
        fail "(h) extracting the examples"
        return
    fi
    bad=0
    n=0
    while read -r out where; do
        if [ "$out" = "<none>" ]; then
            detail "$where: EXAMPLES has no .Bd -literal block"
            bad=1
            continue
        fi
        n=$((n + 1))
        if ! "$CC" -std=c11 -Wall -Wextra -Werror -Iinclude -c "$out" -o "$out.o" \
                > "$out.log" 2>&1; then
            detail "$where: the example does not compile (extracted to $out):"
            sed 's/^/  /' "$out.log" >> "$tmp/details"
            bad=1
        fi
    done < "$tmp/examples.list"
    # every man3 page has an example; README.md has at least one
    for p in $MAN3; do
        if ! grep -q " $p:" "$tmp/examples.list"; then
            detail "$p: no EXAMPLES section with a C program"
            bad=1
        fi
    done
    if [ -f "$README" ] && ! grep -q " $README:" "$tmp/examples.list"; then
        detail "$README: no \`\`\`c block"
        bad=1
    fi
    if [ "$bad" -eq 0 ]; then
        ok "(h) $n examples from the man pages and $README compile with -Wall -Wextra -Werror"
    else
        fail "(h) documentation examples"
    fi
}

check_exports "$SHLIB"
check_static "$STLIB"
check_names
check_synopsis
check_lint
check_errors
check_config_keys
check_header
check_examples

echo "meta: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    echo "meta: work files kept in $tmp"
    exit 1
fi
rm -rf "$tmp"
exit 0
