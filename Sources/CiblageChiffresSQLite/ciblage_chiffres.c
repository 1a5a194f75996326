#include "ciblage_chiffres.h"

#include <sqlite3ext.h>

#include "packed_figures.h"

SQLITE_EXTENSION_INIT1

/* chiffre(chiffres, k): figure k (0 places … 13 ETP) of a packed row, NULL when absent. */
static void chiffre(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(context);
        return;
    }
    ciblage_figures figures;
    sqlite3_int64 k = sqlite3_value_int64(argv[1]);
    const void *bytes = sqlite3_value_blob(argv[0]);
    int count = sqlite3_value_bytes(argv[0]);
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || sqlite3_value_type(argv[1]) != SQLITE_INTEGER || k < 0
        || k >= CIBLAGE_FIGURES || !ciblage_unpack_figures(bytes, (size_t)count, &figures)) {
        sqlite3_result_error(context, "chiffres illisibles dans la colonne « chiffres » d'une déclaration du store", -1);
        return;
    }
    if (!(figures.present & (1u << k))) {
        sqlite3_result_null(context);
    } else if (k < CIBLAGE_COUNT_FIGURES) {
        sqlite3_result_int64(context, figures.counts[k]);
    } else {
        sqlite3_result_double(context, figures.amounts[k - CIBLAGE_COUNT_FIGURES]);
    }
}

/* The entry point `.load …/libciblagechiffres` finds from the file's name. */
int sqlite3_ciblagechiffres_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    (void)error;
    SQLITE_EXTENSION_INIT2(api);
    return sqlite3_create_function(
        db, "chiffre", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, chiffre, NULL, NULL);
}
