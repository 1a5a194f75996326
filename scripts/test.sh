#!/usr/bin/env bash
# The README's test command: installs the system libraries if missing, then runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
for pkg in libcsv-dev libxml2-dev libsqlite3-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" != "0" ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
swift test
