#!/usr/bin/env python3
"""Reference for the end-to-end benchmark: DuckDB loads the same CSV exports and ranks one
exercice with a few of the signals ciblage uses (taux de facturation above 117 %, occupation,
cost per hour against the nature's median, hours per place change from N-1, past anomalies).

Usage: duckdb-reference.py EXPORTS_DIR EXERCICE OUTPUT_CSV
Prints the seconds it took. Cleaning is what a quick script would do: decimal commas and
spaces in numbers removed; rows that do not parse are dropped (ciblage rejects and reports them).
"""
import sys
import time
import glob
import os

import duckdb

exports, exercice, output = sys.argv[1], int(sys.argv[2]), sys.argv[3]
start = time.time()
con = duckdb.connect()


import atexit
import shutil
import tempfile

# The transcoded copies (130 MB at ×1) are removed when the script ends: left behind, every run
# of the benchmark added its own under /tmp.
scratch = tempfile.mkdtemp(prefix="duckdb-ref-")
atexit.register(shutil.rmtree, scratch, ignore_errors=True)


def utf8_path(path):
    """DuckDB reads UTF-8 (and strict Latin-1): Windows-1252 exports are transcoded first."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
        return path
    except UnicodeDecodeError:
        target = os.path.join(scratch, os.path.basename(path))
        with open(target, "w", encoding="utf-8") as out:
            out.write(data.decode("cp1252", errors="replace"))
        return target


def load(name, files):
    parts = []
    for i, path in enumerate(sorted(files)):
        view = f"{name}_{i}"
        con.execute(
            f"CREATE TEMP TABLE {view} AS SELECT * FROM read_csv('{utf8_path(path)}', delim=';', header=true, all_varchar=true, "
            f"ignore_errors=true, null_padding=true)")
        parts.append(f"SELECT * FROM {view}")
    con.execute(f"CREATE TEMP TABLE {name} AS " + " UNION ALL BY NAME ".join(parts))


def num(column):
    # '1 234,5' → 1234.5; anything else → NULL.
    return (f"TRY_CAST(replace(replace(replace(replace({column}, ' ', ''), chr(160), ''), chr(8239), ''), ',', '.') AS DOUBLE)")


load("equipements", glob.glob(os.path.join(exports, "equipements*.csv")))
load("declarations", [p for p in glob.glob(os.path.join(exports, "declarations-*.csv"))])
load("controles", glob.glob(os.path.join(exports, "controles*.csv")))

con.execute(f"""
CREATE TEMP TABLE d AS
SELECT upper(trim(N_DOSSIER)) AS dossier, TRY_CAST(EXERCICE AS INTEGER) AS exercice,
       upper(trim(NATURE_DECLARATION)) AS nature_decl, DATE_DEPOT AS depot,
       {num('PLACES')} AS places, {num('HEURES_OUVERTURE')} AS ouverture, {num('HEURES_REALISEES')} AS realisees,
       {num('HEURES_FACTUREES')} AS facturees, {num('TOTAL_CHARGES')} AS charges,
       {num('PRESTATION_CAF')} + coalesce({num('BONUS_CAF')}, 0) AS financement
FROM declarations
WHERE upper(trim(NATURE_DECLARATION)) = 'REEL'
""")
con.execute(f"""
CREATE TEMP TABLE reel AS
SELECT d.*, e.NATURE AS nature, e.CAF AS caf, e.SIREN_GESTIONNAIRE AS siren
FROM (SELECT *, row_number() OVER (PARTITION BY dossier, exercice ORDER BY depot DESC) AS k FROM d) d
JOIN equipements e ON upper(trim(e.N_DOSSIER)) = d.dossier
WHERE k = 1
""")
con.execute(f"""
CREATE TEMP TABLE signaux AS
WITH n AS (SELECT * FROM reel WHERE exercice = {exercice}),
     p AS (SELECT dossier, places AS places_p, realisees AS realisees_p FROM reel WHERE exercice = {exercice - 1}),
     m AS (SELECT nature, median(charges / realisees) AS cout_median FROM n WHERE realisees > 0 GROUP BY nature),
     a AS (SELECT upper(trim(N_DOSSIER)) AS dossier, count(*) AS anomalies FROM controles WHERE upper(RESULTAT) = 'ANOMALIE' GROUP BY 1)
SELECT n.dossier, n.caf, n.nature, n.siren, n.financement,
       CASE WHEN n.realisees > 0 AND n.facturees / n.realisees > 1.17 THEN 1 ELSE 0 END
     + CASE WHEN n.places > 0 AND n.ouverture > 0 AND n.realisees / (n.places * n.ouverture) > 1.0 THEN 1 ELSE 0 END
     + CASE WHEN n.realisees > 0 AND n.charges / n.realisees > 1.3 * m.cout_median THEN 1 ELSE 0 END
     + CASE WHEN p.places_p = n.places AND p.realisees_p > 0 AND n.realisees / p.realisees_p > 1.2 THEN 1 ELSE 0 END
     + CASE WHEN coalesce(a.anomalies, 0) > 0 THEN 1 ELSE 0 END AS points
FROM n LEFT JOIN p USING (dossier) LEFT JOIN m USING (nature) LEFT JOIN a USING (dossier)
""")
con.execute(f"""COPY (SELECT row_number() OVER (ORDER BY points DESC, financement DESC, dossier) AS rang, * FROM signaux
    ORDER BY rang) TO '{output}' (HEADER, DELIMITER ';')""")
rows = con.execute("SELECT count(*) FROM signaux").fetchone()[0]
print(f"{time.time() - start:.3f} {rows}")
