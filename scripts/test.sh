#!/usr/bin/env bash
# The README's test command: installs the system libraries if missing, then builds the tests on
# top of the release build that scripts/demo.sh made (same flags: release, testing enabled, so
# only the test targets compile), and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
