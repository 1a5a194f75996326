#!/usr/bin/env bash
# Backtest and ground-truth check of the ranked list on generated worlds whose mechanisms differ
# (ciblage-generate --profil). Nothing here tunes anything: it reports.
# Usage: scripts/profils.sh [EQUIPEMENTS] [GRAINE]   (release binaries, from the project root)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
seed="${2:-7}"
bin=.build/release
work=".build/profils"
mkdir -p "$work"
for profil in standard indus-independants paje peu-aleatoires sans-trace; do
    dir="$work/$profil-$n-$seed"
    if [ ! -d "$dir/exports" ]; then
        "$bin/ciblage-generate" --sortie "$dir" --equipements "$n" --graine "$seed" --profil "$profil" > /dev/null
    fi
    rm -f "$dir/store.sqlite"
    "$bin/ciblage-ingest" --quiet --store "$dir/store.sqlite" --rejets "$dir/rejets.csv" "$dir/exports"
    echo "=== profil $profil ($n équipements, graine $seed)"
    "$bin/ciblage-score" --store "$dir/store.sqlite" --exercice 2024 --evaluer --verite "$dir/verite" --rapports "$dir" --quiet \
        | grep -E "^Modèle|^Vérité|^PRIORITE|^SCORE|^Référence|^Indu attendu|^Ancienne" | head -16
done
