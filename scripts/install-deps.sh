#!/usr/bin/env bash
# Installs the system libraries ciblage builds against, when missing (Debian; root or sudo).
set -euo pipefail
missing=""
for pkg in libcsv-dev libxml2-dev libsqlite3-dev libxgboost-dev libxlsxwriter-dev libxxhash-dev zlib1g-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" != "0" ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
