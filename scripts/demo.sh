#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, then on sample-data/ runs the
# nightly pipeline (ingestion, score 2024, cost study) and the demo campaign pipeline (plans,
# one Caf's export, bilan), plus the fragility list and the bilan of a historical campaign.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release
bin=.build/release
store="${CIBLAGE_STORE:-data/demo.sqlite}"
rm -f "$store" "$store-journal" "$store.lock"
rm -rf reports/runs
echo "== ciblage-run nightly (dépôt : sample-data/exports, store : $store)"
$bin/ciblage-run nightly --store "$store" --depot sample-data/exports --rapports reports
echo "== ciblage-run campagne (pipelines/campagne-multi-2025.toml)"
$bin/ciblage-run campagne --store "$store" --rapports reports
echo "== ciblage-run nightly une seconde fois : dépôt inchangé, rien à faire"
$bin/ciblage-run nightly --store "$store" --depot sample-data/exports --rapports reports
echo "== ciblage-select pipelines/campagne-locale-2025-T3.toml"
$bin/ciblage-select --store "$store" --campagne pipelines/campagne-locale-2025-T3.toml --sortie reports/campagne-2025-T3
echo "== ciblage-reperes --fragilite (équipements à risque de fermeture)"
$bin/ciblage-reperes --store "$store" --exercice 2024 --par nature --sortie reports/reperes-nature --fragilite
echo "== ciblage-score --evaluer (backtest des classements sur les contrôles du store)"
$bin/ciblage-score --store "$store" --exercice 2024 --evaluer --rapports reports > reports/evaluation-2024.txt
tail -n 4 reports/evaluation-2024.txt
echo "== ciblage-bilan --campagne 2024-T2 (campagne historique des contrôles de sample-data)"
$bin/ciblage-bilan --store "$store" --campagne 2024-T2 --sortie reports/bilan
echo
echo "Rapports :"
echo "  reports/runs/*/manifest.json          registre de chaque exécution (entrées, étapes, durées, journaux)"
echo "  reports/score-2024.csv                liste classée du score (RANG;N_DOSSIER;…;MOTIFS)"
echo "  reports/evaluation-2024.{txt,csv,html}  backtest des classements, calibration, sélection"
echo "  reports/reperes/reperes-2024.{csv,html}  repères de coûts par nature × taille"
echo "  reports/campagne-2025-MULTI/          plans locaux et multi-départementaux, campagne.json, synthese.html"
echo "  reports/campagne-2025-T3/             campagne locale trimestrielle"
echo "  reports/bilan/                        bilans (bilan-<ID>.csv, .html)"
echo "  reports/reperes-nature/fragilite-2024.csv  équipements fragiles (IDA)"
