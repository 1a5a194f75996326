#include <sqlite3.h>

/// sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on): whether SQLite counts its memory, which takes a
/// global mutex on every allocation. Variadic, so not callable from Swift; valid only before
/// SQLite is initialized (SQLITE_MISUSE after).
static inline int ciblage_sqlite3_config_memstatus(int on) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on);
}
