#include "packed_figures.h"

#include <math.h>
#include <string.h>

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static size_t put_varint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)v | 0x80;
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* `value` in hundredths when (double)c / 100 gives it back exactly. The nearest integer is
   taken by adding a half and truncating, not by `round` (a call into libm for every amount of
   every declaration stored: 14 a row): both give the same integer whenever it passes the check,
   the only integer that can, since a passing `whole` lies within a quarter of `value * 100`
   below 2^50. */
static int exact_cents(double value, int64_t *cents) {
    double c = value * 100;
    if (!(fabs(c) < 0x1p50)) return 0;
    int64_t whole = (int64_t)(c >= 0 ? c + 0.5 : c - 0.5);
    if ((double)whole / 100 != value) return 0;
    *cents = whole;
    return 1;
}

size_t ciblage_pack_figures(const ciblage_figures *f, uint8_t *out) {
    size_t n = 2;
    uint16_t present = f->present & ((1u << CIBLAGE_FIGURES) - 1);
    for (int k = 0; k < CIBLAGE_FIGURES; k++) {
        if (!(present & (1u << k))) continue;
        if (k < CIBLAGE_COUNT_FIGURES) {
            n += put_varint(out + n, zigzag(f->counts[k]));
            continue;
        }
        double value = f->amounts[k - CIBLAGE_COUNT_FIGURES];
        int64_t cents;
        if (exact_cents(value, &cents)) {
            n += put_varint(out + n, zigzag(cents) << 1);
        } else {
            uint64_t bits;
            memcpy(&bits, &value, 8);
            out[n++] = 1;
            for (int i = 0; i < 8; i++) out[n++] = (uint8_t)(bits >> (8 * i));
        }
    }
    out[0] = (uint8_t)present;
    out[1] = (uint8_t)(present >> 8);
    return n;
}

/* Reads a varint at `*n`; 0 when cut short or longer than ten bytes. Inlined, with the one-byte
   case first (most counts and many amounts): a call per figure was a third of the score's
   reading of the declarations. */
static inline __attribute__((always_inline)) int get_varint(const uint8_t *bytes, size_t count, size_t *n, uint64_t *value) {
    if (*n < count && bytes[*n] < 0x80) {
        *value = bytes[(*n)++];
        return 1;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *n < count; shift += 7) {
        uint8_t b = bytes[(*n)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) {
            *value = v;
            return 1;
        }
    }
    return 0;
}

int ciblage_unpack_figures(const uint8_t *bytes, size_t count, ciblage_figures *f) {
    if (count < 2) return 0;
    uint16_t present = (uint16_t)(bytes[0] | bytes[1] << 8);
    if (present >> CIBLAGE_FIGURES) return 0;
    memset(f, 0, sizeof *f);
    f->present = present;
    size_t n = 2;
    for (int k = 0; k < CIBLAGE_FIGURES; k++) {
        if (!(present & (1u << k))) continue;
        uint64_t v;
        if (k < CIBLAGE_COUNT_FIGURES) {
            if (!get_varint(bytes, count, &n, &v)) return 0;
            f->counts[k] = unzigzag(v);
        } else if (n < count && bytes[n] == 1) {
            if (count - n < 9) return 0;
            uint64_t bits = 0;
            for (int i = 8; i >= 1; i--) bits = bits << 8 | bytes[n + i];
            n += 9;
            memcpy(&f->amounts[k - CIBLAGE_COUNT_FIGURES], &bits, 8);
        } else {
            if (!get_varint(bytes, count, &n, &v) || (v & 1)) return 0;
            f->amounts[k - CIBLAGE_COUNT_FIGURES] = (double)unzigzag(v >> 1) / 100;
        }
    }
    return n == count;
}

ciblage_figure_kind ciblage_packed_figure(const uint8_t *bytes, size_t count, int64_t k, int64_t *count_value, double *amount) {
    ciblage_figures figures;
    if (k < 0 || k >= CIBLAGE_FIGURES || !ciblage_unpack_figures(bytes, count, &figures)) return CIBLAGE_FIGURE_UNREADABLE;
    if (!(figures.present & (1u << k))) return CIBLAGE_FIGURE_ABSENT;
    if (k < CIBLAGE_COUNT_FIGURES) {
        *count_value = figures.counts[k];
        return CIBLAGE_FIGURE_COUNT;
    }
    *amount = figures.amounts[k - CIBLAGE_COUNT_FIGURES];
    return CIBLAGE_FIGURE_AMOUNT;
}
