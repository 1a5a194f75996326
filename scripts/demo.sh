#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the pipeline on
# sample-data/: ingestion (one summary line per file), the risk score of the last exercice, and a
# demo campaign (local plans, multi-departmental plans, one Caf's export).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product ciblage-ingest
swift build -c release --product ciblage-score
swift build -c release --product ciblage-select
swift build -c release --product ciblage-export
swift build -c release --product ciblage-reperes
swift build -c release --product ciblage-bilan
store="${CIBLAGE_STORE:-data/demo.sqlite}"
rm -f "$store" "$store-wal" "$store-shm"
echo "== ciblage-ingest sample-data/exports (store : $store)"
status=0
.build/release/ciblage-ingest --store "$store" --rejets reports/rejets/rejets-demo.csv sample-data/exports || status=$?
echo "== rejets : reports/rejets/rejets-demo.csv ($(($(wc -l < reports/rejets/rejets-demo.csv) - 1)) lignes)"
[ "$status" -eq 0 ] || exit $status
echo "== ciblage-score --exercice 2024"
.build/release/ciblage-score --store "$store" --exercice 2024 --sortie reports/score-2024.csv
echo "== liste classée : reports/score-2024.csv (5 premières lignes)"
head -6 reports/score-2024.csv
echo "== ciblage-select --campagne pipelines/campagne-locale-2025-T3.toml"
.build/release/ciblage-select --store "$store" --campagne pipelines/campagne-locale-2025-T3.toml --sortie reports/campagne-2025-T3
echo "== ciblage-select --campagne pipelines/campagne-multi-2025.toml"
.build/release/ciblage-select --store "$store" --campagne pipelines/campagne-multi-2025.toml --sortie reports/campagne-2025-MULTI
.build/release/ciblage-export --store "$store" --campagne 2025-MULTI --caf 75 --sortie reports/export-2025-MULTI-75.csv
echo "== ciblage-reperes --exercice 2024 --par nature --fragilite"
.build/release/ciblage-reperes --store "$store" --exercice 2024 --par nature --sortie reports/reperes --fragilite
echo "== ciblage-bilan --campagne 2024-T2 (campagne historique des contrôles de sample-data)"
.build/release/ciblage-bilan --store "$store" --campagne 2024-T2 --sortie reports/bilan
echo "== rapports : reports/score-2024.csv, reports/campagne-2025-T3/ et reports/campagne-2025-MULTI/ (plans, campagne.json, synthese.html), reports/export-2025-MULTI-75.csv, reports/reperes/ (reperes-2024.csv, .html, fragilite-2024.csv), reports/bilan/ (bilan-2024-T2.csv, .html)"
