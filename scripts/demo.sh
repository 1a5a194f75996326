#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the pipeline on
# sample-data/ (for now: ingestion, printing one summary line per file).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product ciblage-ingest
store="${CIBLAGE_STORE:-data/demo.sqlite}"
rm -f "$store" "$store-wal" "$store-shm"
echo "== ciblage-ingest sample-data/exports (store : $store)"
status=0
.build/release/ciblage-ingest --store "$store" --rejets reports/rejets/rejets-demo.csv sample-data/exports || status=$?
echo "== rejets : reports/rejets/rejets-demo.csv ($(($(wc -l < reports/rejets/rejets-demo.csv) - 1)) lignes)"
exit $status
