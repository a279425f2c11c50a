#!/bin/sh
# SPDX-License-Identifier: MIT
# Extracts the C examples of the documentation so that they can be compiled:
#   - from an mdoc page, every `.Bd -literal` ... `.Ed` block inside `.Sh EXAMPLES`,
#     with the roff escapes undone (\e, \&, \-, \(aq, \(dq, \(rs);
#   - from a Markdown file, every ```c ... ``` block.
# Usage: scripts/extract-examples.sh OUTDIR FILE...
# Writes OUTDIR/<file name>.<n>.c for the n-th block of each file and prints one
# line per block: "<output file> <source file>:<line of the block>".
# A page with an EXAMPLES section but no literal block prints "<none> <file>".
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 OUTDIR FILE..." >&2
    exit 2
fi
outdir=$1
shift
mkdir -p "$outdir"

for src in "$@"; do
    if [ ! -r "$src" ]; then
        echo "extract-examples: cannot read $src" >&2
        exit 1
    fi
    base=$(basename "$src")
    case "$src" in
    *.md)
        awk -v dir="$outdir" -v base="$base" -v src="$src" '
            /^```c[ \t]*$/ && !inblk {
                inblk = 1; n++
                out = dir "/" base "." n ".c"
                printf "" > out
                print out " " src ":" NR
                next
            }
            inblk && /^```[ \t]*$/ { inblk = 0; close(out); next }
            inblk { print > out }
            END {
                if (inblk) { print "extract-examples: " src ": unterminated ```c block" > "/dev/stderr"; exit 1 }
            }
        ' "$src"
        ;;
    *)
        awk -v dir="$outdir" -v base="$base" -v src="$src" '
            function unescape(s,    bs, parts, k, i, r) {
                bs = sprintf("%c", 92)
                # \e is a backslash; hide it first so that it cannot start another escape
                gsub(/\\e/, "\001", s)
                gsub(/\\&/, "", s)
                gsub(/\\-/, "-", s)
                gsub(/\\\(aq/, "\047", s)
                gsub(/\\\(dq/, "\"", s)
                gsub(/\\\(rs/, "\001", s)
                k = split(s, parts, "\001")
                r = parts[1]
                for (i = 2; i <= k; i++)
                    r = r bs parts[i]
                return r
            }
            /^\.Sh[ \t]/ {
                if (inblk) { print "extract-examples: " src ":" NR ": .Sh inside a literal block" > "/dev/stderr"; exit 1 }
                inex = ($0 ~ /^\.Sh[ \t]+EXAMPLES[ \t]*$/)
                if (inex) sawex = 1
                next
            }
            inex && !inblk && /^\.Bd[ \t]+-literal/ {
                inblk = 1; n++
                out = dir "/" base "." n ".c"
                printf "" > out
                print out " " src ":" NR
                next
            }
            inblk && /^\.Ed([ \t]|$)/ { inblk = 0; close(out); next }
            inblk { print unescape($0) > out }
            END {
                if (inblk) { print "extract-examples: " src ": unterminated literal block" > "/dev/stderr"; exit 1 }
                if (sawex && n == 0) print "<none> " src
            }
        ' "$src"
        ;;
    esac
done
