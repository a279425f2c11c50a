#!/bin/sh
# SPDX-License-Identifier: MIT
# check-install.sh: the installed library as a user meets it.
#
#   sh scripts/check-install.sh            # from anywhere; runs make in the repo root
#
# `make install DESTDIR=<tmp> PREFIX=/usr/local`, then checks the installed files (header,
# libalerting.so.MAJOR.MINOR.PATCH and its two symlinks, libalerting.a, libalerting.pc, the
# man pages), builds examples/pkgconfig/hello.c with nothing but the flags that
# `pkg-config --cflags --libs libalerting` gives for that tree, runs it against the
# installed library, links it once more against libalerting.a, and finally checks that
# `make uninstall` leaves no file behind. Ends with "install: N passed, N failed".
#
# Environment: MAKE (default make), CC (default cc), CHECK_INSTALL_PREFIX (default
# /usr/local), KEEP=1 keeps the temporary tree.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAKE_CMD=${MAKE:-make}
CC=${CC:-cc}
PREFIX=${CHECK_INSTALL_PREFIX:-/usr/local}
V=$(sed -n 's/^#define ALERT_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/include/alerting.h")
MAJOR=${V%%.*}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-install.XXXXXX") || exit 1
if [ "${KEEP:-0}" = 1 ]; then
    echo "check-install: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
    trap 'rm -rf "$tmp"; exit 130' INT TERM
fi
DEST=$tmp/root
WORK=$tmp/work
mkdir -p "$WORK"
LIB=$DEST$PREFIX/lib
INC=$DEST$PREFIX/include
MAN=$DEST$PREFIX/share/man
PC=$LIB/pkgconfig/libalerting.pc

passed=0
failed=0
skipped=0

ok()   { passed=$((passed + 1)); echo "ok - $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL - $*"; }
skip() { skipped=$((skipped + 1)); echo "skip - $*"; }

# check DESCRIPTION COMMAND...: runs the command, shows its output only when it fails.
check() {
    desc=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then
        ok "$desc"
    else
        bad "$desc"
        sed -e 's/^/    /' "$WORK/out" | head -n 30
    fi
}

finish() {
    line="install: $passed passed, $failed failed"
    [ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
    echo "$line"
    [ "$failed" -eq 0 ]
    exit
}

# --- install ---------------------------------------------------------------------------
echo "check-install: make install DESTDIR=$DEST PREFIX=$PREFIX"
if "$MAKE_CMD" -C "$ROOT" --no-print-directory install DESTDIR="$DEST" PREFIX="$PREFIX" \
        >"$WORK/install.log" 2>&1; then
    ok "make install DESTDIR=... PREFIX=$PREFIX"
else
    bad "make install DESTDIR=... PREFIX=$PREFIX"
    tail -n 30 "$WORK/install.log" | sed -e 's/^/    /'
    finish
fi

# --- the installed files -----------------------------------------------------------------
check "header $PREFIX/include/alerting.h is include/alerting.h" \
    cmp "$ROOT/include/alerting.h" "$INC/alerting.h"

shared_ok() {
    [ -f "$LIB/libalerting.so.$V" ] && [ ! -L "$LIB/libalerting.so.$V" ] || {
        echo "no regular file $LIB/libalerting.so.$V"; return 1; }
    if command -v readelf >/dev/null 2>&1; then
        readelf -d "$LIB/libalerting.so.$V" | grep -q "Library soname: \[libalerting.so.$MAJOR\]" || {
            echo "SONAME is not libalerting.so.$MAJOR:"; readelf -d "$LIB/libalerting.so.$V"; return 1; }
    fi
}
check "libalerting.so.$V, SONAME libalerting.so.$MAJOR" shared_ok

links_ok() {
    [ -L "$LIB/libalerting.so.$MAJOR" ] && [ "$(readlink "$LIB/libalerting.so.$MAJOR")" = "libalerting.so.$V" ] || {
        echo "libalerting.so.$MAJOR is not a symlink to libalerting.so.$V"; ls -l "$LIB"; return 1; }
    [ -L "$LIB/libalerting.so" ] && [ "$(readlink "$LIB/libalerting.so")" = "libalerting.so.$MAJOR" ] || {
        echo "libalerting.so is not a symlink to libalerting.so.$MAJOR"; ls -l "$LIB"; return 1; }
}
check "symlinks libalerting.so -> libalerting.so.$MAJOR -> libalerting.so.$V" links_ok

static_ok() {
    [ -f "$LIB/libalerting.a" ] || { echo "no $LIB/libalerting.a"; return 1; }
    n=$(ar t "$LIB/libalerting.a" | grep -c '\.o$')
    [ "$n" -gt 0 ] || { echo "libalerting.a holds no object"; return 1; }
}
check "libalerting.a" static_ok

pc_ok() {
    [ -f "$PC" ] || { echo "no $PC"; return 1; }
    grep -q "^Version: $V\$" "$PC" || { echo "Version is not $V:"; cat "$PC"; return 1; }
    grep -q "^prefix=$PREFIX\$" "$PC" || { echo "prefix is not $PREFIX:"; cat "$PC"; return 1; }
    got=$(PKG_CONFIG_PATH=$LIB/pkgconfig pkg-config --modversion libalerting) || return 1
    [ "$got" = "$V" ] || { echo "pkg-config --modversion says $got"; return 1; }
}
check "pkgconfig/libalerting.pc: version $V, prefix $PREFIX" pc_ok

man_ok() {
    n=0
    for page in "$ROOT"/man/man3/*.3 "$ROOT"/man/man5/*.5 "$ROOT"/man/man7/*.7; do
        [ -f "$page" ] || continue
        section=${page##*.}
        [ -f "$MAN/man$section/$(basename "$page")" ] || {
            echo "missing: share/man/man$section/$(basename "$page")"; return 1; }
        n=$((n + 1))
    done
    [ -f "$MAN/man3/libalerting.3" ] && [ -f "$MAN/man5/libalerting-config.5" ] || {
        echo "libalerting(3) or libalerting-config(5) is missing"; return 1; }
    echo "$n pages"
}
check "man pages: every page of man/ under share/man" man_ok

# every function of the header has a page of its own name (a ".so" link for the pages
# that document several), so `man alert_flush` works without mandb
man_names_ok() {
    n=0
    for fn in $(sed -n 's/^ALERT_API [^(]*[ *]\(alert_[a-z0-9_]*\)(.*/\1/p' "$ROOT/include/alerting.h"); do
        [ -f "$MAN/man3/$fn.3" ] || { echo "no share/man/man3/$fn.3"; return 1; }
        n=$((n + 1))
    done
    [ "$n" -gt 40 ] || { echo "only $n functions found in the header"; return 1; }
    if command -v man >/dev/null 2>&1; then
        out=$(MANPATH=$MAN MANWIDTH=80 man 3 alert_flush 2>&1 | col -b 2>/dev/null) || {
            echo "man 3 alert_flush failed: $out"; return 1; }
        echo "$out" | grep -q 'alert_flush' || { echo "man 3 alert_flush: $out"; return 1; }
    fi
    echo "$n functions"
}
check "man pages: one per function name (man alert_flush works)" man_names_ok

tool_ok() {
    [ -x "$DEST$PREFIX/bin/alerting-check" ] || { echo "no $PREFIX/bin/alerting-check"; return 1; }
    [ -f "$MAN/man1/alerting-check.1" ] || { echo "no share/man/man1/alerting-check.1"; return 1; }
    "$DEST$PREFIX/bin/alerting-check" --version | grep -q "libalerting) $V" || return 1
}
check "alerting-check in bin, alerting-check(1)" tool_ok

# --- a program built only through pkg-config -----------------------------------------------
# into_dest FLAGS: the include and library directories are those of the DESTDIR tree
into_dest() {
    case " $1 " in *" -I$INC "*) ;; *) return 1 ;; esac
    case " $1 " in *" -L$LIB "*) ;; *) return 1 ;; esac
    case " $1 " in *" -lalerting "*) ;; *) return 1 ;; esac
}
export PKG_CONFIG_PATH="$LIB/pkgconfig"
flags=$(pkg-config --define-prefix --cflags --libs libalerting 2>"$WORK/pc.err")
if into_dest "$flags"; then
    ok "pkg-config --define-prefix relocates the flags into DESTDIR"
    how="pkg-config --define-prefix"
else
    # pkgconf only rewrites ${prefix}: a .pc whose libdir/includedir are written out in
    # full stays pointed at $PREFIX. PKG_CONFIG_SYSROOT_DIR prefixes every path instead.
    skip "pkg-config --define-prefix does not relocate (libdir/includedir in the .pc do not use \${prefix}): $flags"
    flags=$(PKG_CONFIG_SYSROOT_DIR=$DEST pkg-config --cflags --libs libalerting)
    how="PKG_CONFIG_SYSROOT_DIR=\$DESTDIR pkg-config"
fi
echo "check-install: $how --cflags --libs libalerting: $flags"
if into_dest "$flags"; then
    ok "$how points into the DESTDIR tree"
else
    bad "$how does not point into the DESTDIR tree: $flags"
fi

# shellcheck disable=SC2086 # the flags are words
check "hello.c compiles with $how only (-Wall -Wextra -Werror -pedantic)" \
    "$CC" -std=c11 -Wall -Wextra -Werror -pedantic -o "$WORK/hello" \
    "$ROOT/examples/pkgconfig/hello.c" $flags

run_ok() {
    [ -x "$WORK/hello" ] || { echo "not built"; return 1; }
    if command -v ldd >/dev/null 2>&1; then
        LD_LIBRARY_PATH=$LIB ldd "$WORK/hello" | grep -q "libalerting.so.$MAJOR => $LIB/libalerting.so.$MAJOR" || {
            echo "not linked against the installed library:"; LD_LIBRARY_PATH=$LIB ldd "$WORK/hello"; return 1; }
    fi
    out=$(LD_LIBRARY_PATH=$LIB "$WORK/hello") || { echo "$out"; return 1; }
    echo "$out"
    [ "$out" = "libalerting $V: 1 alert delivered" ]
}
check "hello runs against $PREFIX/lib/libalerting.so.$MAJOR and delivers" run_ok

# The same program against libalerting.a: the .pc's private requirements must be enough.
# (Not `pkg-config --static`: that also asks for libcurl's own private libraries, whose -dev
# packages Debian does not install with libcurl4-openssl-dev.)
static_link_ok() {
    sysroot=
    [ "$how" = "pkg-config --define-prefix" ] || sysroot=$DEST
    pc() { PKG_CONFIG_SYSROOT_DIR=$sysroot pkg-config --define-prefix "$@"; }
    requires=$(pc --print-requires-private libalerting | awk '{print $1}')
    # shellcheck disable=SC2046,SC2086
    "$CC" -std=c11 -Wall -Wextra -Werror -o "$WORK/hello-static" \
        "$ROOT/examples/pkgconfig/hello.c" $(pc --cflags libalerting) \
        $(pc --libs libalerting | sed 's/-lalerting\b/-l:libalerting.a/') \
        $(pc --libs $requires) $(sed -n 's/^Libs.private: *//p' "$PC") || return 1
    if command -v readelf >/dev/null 2>&1 && readelf -d "$WORK/hello-static" | grep -q 'libalerting'; then
        echo "still needs the shared library"; return 1
    fi
    out=$("$WORK/hello-static") || { echo "$out"; return 1; }
    [ "$out" = "libalerting $V: 1 alert delivered" ] || { echo "$out"; return 1; }
}
check "hello links against libalerting.a with the .pc's private requirements, and runs" \
    static_link_ok

# The --static recipe of README.md, run as it is written (pkg-config pointed at the DESTDIR
# tree by a wrapper, myproxy.c being examples/pkgconfig/hello.c).
readme_static_ok() {
    recipe=$(awk '/^# static link/ { on = 1; next } on && /^```/ { exit } on { print }' "$ROOT/README.md")
    [ -n "$recipe" ] || { echo "no '# static link' recipe in README.md"; return 1; }
    mkdir -p "$WORK/bin" "$WORK/static" || return 1
    sysroot=
    [ "$how" = "pkg-config --define-prefix" ] || sysroot=$DEST
    real=$(command -v pkg-config)
    printf '#!/bin/sh\nPKG_CONFIG_SYSROOT_DIR=%s exec %s --define-prefix "$@"\n' "$sysroot" "$real" \
        > "$WORK/bin/pkg-config" && chmod +x "$WORK/bin/pkg-config" || return 1
    cp "$ROOT/examples/pkgconfig/hello.c" "$WORK/static/myproxy.c" || return 1
    echo "$recipe"
    (cd "$WORK/static" && PATH="$WORK/bin:$PATH" CC="$CC" sh -e -c "$recipe") || return 1
    if command -v readelf >/dev/null 2>&1 && readelf -d "$WORK/static/myproxy" | grep -q 'libalerting'; then
        echo "still needs the shared library"; return 1
    fi
    out=$("$WORK/static/myproxy") || { echo "$out"; return 1; }
    [ "$out" = "libalerting $V: 1 alert delivered" ] || { echo "$out"; return 1; }
}
check "the README's --static recipe links libalerting.a and runs" readme_static_ok

# make install without DESTDIR into a directory the loader does not know says so
ldconfig_hint_ok() {
    p=$tmp/plain
    "$MAKE_CMD" -C "$ROOT" --no-print-directory install PREFIX="$p" > "$WORK/plain.log" 2>&1 || {
        cat "$WORK/plain.log"; return 1; }
    grep -q "run 'ldconfig' as root" "$WORK/plain.log" || { cat "$WORK/plain.log"; return 1; }
    "$MAKE_CMD" -C "$ROOT" --no-print-directory uninstall PREFIX="$p" >/dev/null 2>&1
}
check "make install into a directory the loader does not search prints the ldconfig hint" \
    ldconfig_hint_ok

# --- uninstall ---------------------------------------------------------------------------
check "make uninstall DESTDIR=... PREFIX=$PREFIX" \
    "$MAKE_CMD" -C "$ROOT" --no-print-directory uninstall DESTDIR="$DEST" PREFIX="$PREFIX"
left_ok() {
    left=$(find "$DEST" \( -type f -o -type l \) -print)
    [ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
}
check "make uninstall leaves no file behind" left_ok

finish
