#!/usr/bin/env python3
"""Copies an export folder with each declarations CSV split into one file per Caf.

Usage: decoupe-par-caf.py SOURCE DESTINATION

Each `declarations-*.csv` (in SOURCE and its sub-folders) becomes `declarations-*-caf<CAF>.csv`,
one per prefix of N_DOSSIER (the Caf's département code, as the generator writes it), with the
header and the rows byte for byte, in their order, with the file's own line ends and encoding.
Every other file is copied as is. Used to measure the ingestion of exports sent Caf by Caf
(README, « Un fichier par Caf »).
"""
import os
import shutil
import sys


def split(source, destination):
    os.makedirs(destination, exist_ok=True)
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        target = os.path.join(destination, name)
        if os.path.isdir(path):
            split(path, target)
            continue
        if not (name.startswith("declarations-") and name.endswith(".csv")):
            shutil.copy(path, target)
            continue
        data = open(path, "rb").read()
        eol = b"\r\n" if b"\r\n" in data[:10000] else b"\n"
        lines = data.split(eol)
        header, rows = lines[0], [line for line in lines[1:] if line]
        by_caf = {}
        for row in rows:
            by_caf.setdefault(row.split(b"-", 1)[0], []).append(row)
        for caf, group in by_caf.items():
            with open(os.path.join(destination, f"{name[:-4]}-caf{caf.decode('latin-1')}.csv"), "wb") as out:
                out.write(header + eol + eol.join(group) + eol)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    split(sys.argv[1], sys.argv[2])
