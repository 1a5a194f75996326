/*
 * The fourteen figures of a declaration packed in one BLOB: the column `chiffres` of the
 * store's tables `declaration` and `declaration_correction` (migration v10-chiffres-compactes).
 * Written once here, in C, for the stages (through the Swift module CiblageStore) and for the
 * SQLite extension that lets `sqlite3` read them (libciblagechiffres).
 *
 * Figures, in order: 0 places, 1 jours d'ouverture, 2 enfants (counts), then 3 heures
 * d'ouverture, 4 heures réalisées, 5 heures facturées, 6 total des charges, 7 charges de
 * personnel, 8 total des produits, 9 participations des familles, 10 prestation Caf, 11 bonus
 * Caf, 12 subventions des collectivités, 13 ETP (amounts in euros, hours, full-time equivalents).
 *
 * Layout, shortest first:
 * - two bytes: which figures are present (bit k for figure k, low byte first);
 * - then each present figure, in order:
 *   - a count: its zigzag LEB128 varint;
 *   - an amount: 2 × zigzag(c) as a varint when the value is exactly c / 100 (the double
 *     (double)c / 100, |c| < 2^50: euros and cents, hours, ETP to the hundredth); otherwise
 *     the byte 01 then the value's 8 bytes (IEEE 754, little-endian): every value comes back
 *     bit for bit.
 * The same figures always give the same bytes; -0.0 is stored as 0.
 */
#ifndef CIBLAGE_PACKED_FIGURES_H
#define CIBLAGE_PACKED_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#define CIBLAGE_FIGURES 14
#define CIBLAGE_COUNT_FIGURES 3
/* Bytes a packed row takes at most: the presence bits, 3 varints of 10 bytes, 11 amounts of 9
 * (an enum rather than a macro: Swift imports it). */
enum { CIBLAGE_PACKED_MAXIMUM = 2 + 3 * 10 + 11 * 9 };

typedef struct {
    /* Bit k set: figure k is present. */
    uint16_t present;
    /* Figures 0–2. */
    int64_t counts[CIBLAGE_COUNT_FIGURES];
    /* Figures 3–13. */
    double amounts[CIBLAGE_FIGURES - CIBLAGE_COUNT_FIGURES];
} ciblage_figures;

/* Packs `figures` at `out` (CIBLAGE_PACKED_MAXIMUM bytes at least); returns the bytes written. */
size_t ciblage_pack_figures(const ciblage_figures *figures, uint8_t *out);

/* Reads the packed row `bytes` (`count` bytes) into `figures`; 0 when the bytes are not a
 * packed row (cut short, longer than their figures, an unknown presence bit, an odd varint
 * where an amount in cents was expected), 1 otherwise. */
int ciblage_unpack_figures(const uint8_t *bytes, size_t count, ciblage_figures *figures);

/* What ciblage_packed_figure found. */
typedef enum {
    CIBLAGE_FIGURE_UNREADABLE = -1, /* not a packed row, or k outside 0–13 */
    CIBLAGE_FIGURE_ABSENT = 0,
    CIBLAGE_FIGURE_COUNT = 1, /* in *count */
    CIBLAGE_FIGURE_AMOUNT = 2, /* in *amount */
} ciblage_figure_kind;

/* Figure `k` of the packed row `bytes`: what SQL's chiffre(chiffres, k) answers, for the stages'
 * connections and for the SQLite extension alike. */
ciblage_figure_kind ciblage_packed_figure(const uint8_t *bytes, size_t count, int64_t k, int64_t *count_value, double *amount);

#endif
