#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages the build and the tests need, when they are missing.
# As root it runs apt-get; otherwise it says what to install and fails.
set -eu

PKGS="gcc g++ make pkg-config libcurl4-openssl-dev libjansson-dev libyaml-dev \
libcmocka-dev libssl-dev libsqlite3-dev mandoc python3 python3-aiosmtpd curl \
prometheus-alertmanager python3-cffi python3-pip python3-setuptools python3-wheel clang \
libclang-rt-14-dev valgrind libhiredis-dev redis-server prometheus python3-prometheus-client"

# node and npm run the Standard Webhooks cross-check; a machine that has them already
# (from elsewhere than Debian) keeps them
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

node_deps() {
    # A Standard Webhooks verifier that is not ours, for the signing test (npm registry).
    dir=$(dirname "$0")/../tests/node
    if [ -d "$dir/node_modules/standardwebhooks" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "deps.sh: npm not found: the Standard Webhooks cross-check will fail" >&2
        return 0
    fi
    (cd "$dir" && npm install --no-audit --no-fund --silent >/dev/null 2>&1) ||
        echo "deps.sh: npm install in tests/node failed: the cross-check will fail" >&2
}

if [ -z "$missing" ]; then
    node_deps
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing Debian packages:$missing" >&2
    echo "deps.sh: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi

echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
node_deps
