/*
 * libciblagechiffres: a SQLite extension that gives `sqlite3` the function chiffre(chiffres, k)
 * of ciblage's connections, so that the store's views declaration_chiffres,
 * declaration_correction_chiffres and declaration_courante read there too:
 *
 *     sqlite3 data/ciblage.sqlite -cmd '.load .build/release/libciblagechiffres'
 */
#ifndef CIBLAGE_CHIFFRES_H
#define CIBLAGE_CHIFFRES_H
#endif
