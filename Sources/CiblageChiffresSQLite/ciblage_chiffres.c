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
    int64_t count = 0;
    double amount = 0;
    ciblage_figure_kind kind = CIBLAGE_FIGURE_UNREADABLE;
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB && sqlite3_value_type(argv[1]) == SQLITE_INTEGER) {
        const void *bytes = sqlite3_value_blob(argv[0]);
        size_t size = (size_t)sqlite3_value_bytes(argv[0]);
        kind = ciblage_packed_figure(bytes, size, sqlite3_value_int64(argv[1]), &count, &amount);
    }
    switch (kind) {
    case CIBLAGE_FIGURE_ABSENT: sqlite3_result_null(context); break;
    case CIBLAGE_FIGURE_COUNT: sqlite3_result_int64(context, count); break;
    case CIBLAGE_FIGURE_AMOUNT: sqlite3_result_double(context, amount); break;
    default: sqlite3_result_error(context, "chiffres illisibles dans la colonne « chiffres » d'une déclaration du store", -1);
    }
}

/* The entry point `.load …/libciblagechiffres` finds from the file's name. */
int sqlite3_ciblagechiffres_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    (void)error;
    SQLITE_EXTENSION_INIT2(api);
    return sqlite3_create_function(
        db, "chiffre", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, chiffre, NULL, NULL);
}
