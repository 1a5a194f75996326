#!/usr/bin/env bash
# The README's test command: installs the system libraries if missing, then runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift test
