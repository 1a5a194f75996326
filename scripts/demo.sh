#!/usr/bin/env bash
# The README's main command: installs what is missing, builds (release, with testing enabled so
# that scripts/test.sh reuses this build), then on sample-data/ (five complete Cafs) runs the
# nightly pipeline, the 2025 national campaign, a quarterly local campaign, the fragility list,
# the backtest of the ranking, the IDA follow-up at the exports' date and the bilan of the past
# campaign 2024-T2; ends with a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release -Xswiftc -enable-testing
bin=.build/release
store="${CIBLAGE_STORE:-data/demo.sqlite}"
rm -f "$store" "$store-journal" "$store.lock"
rm -rf reports/runs
start=$(date +%s)
run_log() { ls -d reports/runs/*-"$1" | tail -n 1; }
echo "== 1. ciblage-run nightly : ingestion de sample-data/exports, score du dernier exercice réel, repères de coûts"
$bin/ciblage-run nightly --store "$store" --depot sample-data/exports --rapports reports
echo "== 2. ciblage-run campagne : campagne nationale 2025-MULTI (plans locaux et multi-départementaux, export de la Caf 75, bilan, dossiers de contrôle)"
$bin/ciblage-run campagne --store "$store" --rapports reports
echo "== 3. ciblage-run nightly une seconde fois : dépôt inchangé, rien à faire"
$bin/ciblage-run nightly --store "$store" --depot sample-data/exports --rapports reports
echo "== 4. ciblage-select : campagne locale du troisième trimestre (pipelines/campagne-locale-2025-T3.toml)"
t3=$($bin/ciblage-select --store "$store" --campagne pipelines/campagne-locale-2025-T3.toml --sortie reports/campagne-2025-T3)
echo "$t3"
echo "== 5. ciblage-reperes --fragilite : équipements à risque de fermeture"
fragiles=$($bin/ciblage-reperes --store "$store" --exercice 2024 --par nature --sortie reports/reperes-nature --fragilite)
echo "$fragiles"
echo "== 6. ciblage-score --evaluer : backtest des classements sur les contrôles du store"
$bin/ciblage-score --store "$store" --exercice 2024 --evaluer --rapports reports > reports/evaluation-2024.txt
echo "== 7. ciblage-ida au 31/12/2024 (date des exports de sample-data) : places décidées et ouvertes, délais, liste de suivi"
ida=$($bin/ciblage-ida --store "$store" --date-reference 31/12/2024 --sortie reports/ida)
echo "$ida"
echo "== 8. ciblage-bilan : bilan de la campagne passée 2024-T2"
t2=$($bin/ciblage-bilan --store "$store" --campagne 2024-T2 --sortie reports/bilan)
echo "$t2"
nightly=$(run_log nightly)
campagne=$(run_log campagne)
echo
echo "Résumé de la démonstration ($(( $(date +%s) - start )) s après la compilation) :"
echo "  Ingestion   : $(grep '^total' "$nightly/01-ciblage-ingest.log")"
echo "                rejets : $nightly/rejets.csv"
echo "  Score       : $(grep '^exercice' "$nightly/02-ciblage-score.log" | sed 's/ ; liste : \(.*\)/ → \1/')"
echo "  Repères     : $(grep '^repères' "$nightly/03-ciblage-reperes.log" | sed 's/ ; fichiers.*//') → reports/reperes/"
echo "  2025-MULTI  : $(grep '^campagne' "$campagne/01-ciblage-select.log" | sed 's/ ; fichiers.*//')"
echo "                plans, campagne.json, campagne.xlsx et synthese.html : reports/campagne-2025-MULTI/ ; export de la Caf 75 : reports/campagne-2025-MULTI/export-75.{csv,xlsx}"
echo "                $(grep '^bilan' "$campagne/04-ciblage-bilan.log" | sed 's/ ; fichiers.*//') (aucun contrôle remonté : la page le dit)"
echo "                $(grep '^campagne' "$campagne/05-ciblage-dossier.log" | sed 's/ ; dossier : .*//') → reports/dossiers-2025-MULTI/<CAF>/index.html"
echo "  2025-T3     : ${t3%% ; fichiers*} → reports/campagne-2025-T3/"
fragiles=${fragiles##*valeurs atypiques ; }
echo "  Fragilité   : ${fragiles%% ; fichiers*} → reports/reperes-nature/fragilite-2024.csv"
echo "  Backtest    : $(sed -n 2p reports/evaluation-2024.txt) → reports/evaluation-2024.{txt,csv,html}"
echo "  Bilan 2024-T2 : ${t2%% ; fichiers*} → reports/bilan/bilan-2024-T2.{csv,html}"
echo "  IDA         : ${ida%% ; dossier*} → reports/ida/{ecart,delais,suivi-ida}-20241231.csv, ida-20241231.html"
echo "  Registre des exécutions : reports/runs/*/manifest.json (entrées, étapes, durées, mémoire, journaux)"
