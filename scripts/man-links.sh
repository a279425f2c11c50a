#!/bin/sh
# SPDX-License-Identifier: MIT
# man-links.sh PAGE...: for each man3 page, the other names of its NAME section, one
# "name page" pair a line (alert_flush alert_poll.3). make install writes name.3 as a
# ".so man3/page" link, so that `man alert_flush` finds a file without mandb.
for p in "$@"; do
    page=$(basename "$p")
    awk -v page="$page" '
        /^\.Sh[ \t]+NAME/ { inname = 1; next }
        /^\.Sh/ { inname = 0 }
        inname && /^\.Nm[ \t]/ {
            name = $2; sub(/,$/, "", name)
            if (name ".3" != page) print name, page
        }' "$p"
done
