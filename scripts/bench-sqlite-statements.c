/* Measures SQLite's cost for the ways the ingest can write declarations, outside ciblage
 * (issue 13): 931 000 declaration-like rows with the store's settings (16 KiB pages, 64 MiB cache,
 * DELETE journal, synchronous FULL, one transaction and a savepoint, as the ingest has them).
 *
 *   gcc -O2 scripts/bench-sqlite-statements.c -lsqlite3 -o /tmp/statements
 *   /tmp/statements MODE ORDER /tmp/statements.db
 *
 * MODE 0: 128 rows per statement, with the writer's ON CONFLICT … DO UPDATE clause (an upsert
 *         can stop halfway: SQLite keeps a statement journal);
 *      1: one row per statement, same clause (a single-row statement needs no statement journal);
 *      2: 128 rows per statement, INSERT OR FAIL without the clause (what a fresh exercice uses);
 *      3: 128 rows per statement, INSERT OR FAIL with the clause.
 * ORDER 0: keys in the store's order (a file that follows it); 1: keys shuffled within windows of
 *          16 384 rows (each statement then touches pages all over the tree).
 * Prints the insert's wall and processor seconds.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s 0|1|2|3 0|1 FILE.db\n", argv[0]);
        return 2;
    }
    int mode = atoi(argv[1]), shuffled = atoi(argv[2]);
    const char *path = argv[3];
    const int n = 931000, perStatement = mode == 1 ? 1 : 128, columns = 20;
    remove(path);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA page_size=16384; PRAGMA cache_size=-65536; PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL", 0, 0, 0);
    sqlite3_exec(db,
                 "CREATE TABLE d(ex INT NOT NULL, eq INT NOT NULL, na INT NOT NULL, dd INT NOT NULL, c1 INT, c2 INT, c3 INT,"
                 " c4 REAL, c5 REAL, c6 REAL, c7 REAL, c8 REAL, c9 REAL, c10 REAL, c11 REAL, c12 REAL, c13 REAL, c14 REAL,"
                 " fid INT NOT NULL, li INT NOT NULL, PRIMARY KEY(ex, eq, na, dd)) WITHOUT ROWID",
                 0, 0, 0);
    char *sql = malloc(400000);
    strcpy(sql, mode >= 2 ? "INSERT OR FAIL INTO d VALUES " : "INSERT INTO d VALUES ");
    for (int r = 0; r < perStatement; r++) {
        strcat(sql, r ? ",(" : "(");
        for (int c = 0; c < columns; c++) strcat(sql, c ? ",?" : "?");
        strcat(sql, ")");
    }
    if (mode != 2)
        strcat(sql, " ON CONFLICT(ex, eq, na, dd) DO UPDATE SET c1=excluded.c1, c2=excluded.c2, c3=excluded.c3,"
                    " c4=excluded.c4, c5=excluded.c5, c6=excluded.c6, c7=excluded.c7, c8=excluded.c8, c9=excluded.c9,"
                    " c10=excluded.c10, c11=excluded.c11, c12=excluded.c12, c13=excluded.c13, c14=excluded.c14,"
                    " fid=excluded.fid, li=excluded.li WHERE d.fid <> excluded.fid");
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, 0)) {
        printf("%s\n", sqlite3_errmsg(db));
        return 1;
    }
    double t0 = now();
    clock_t c0 = clock();
    sqlite3_exec(db, "BEGIN; SAVEPOINT lecture_stockage", 0, 0, 0);
    int row = 0;
    for (int b = 0; b < n / perStatement; b++) {
        sqlite3_reset(s);
        int p = 1;
        for (int r = 0; r < perStatement; r++, row++) {
            /* Shuffled: a permutation of each window of 16 384 rows (7919 is prime to 16 384). */
            int k = shuffled ? (row / 16384) * 16384 + (int)(((long)(row % 16384) * 7919) % 16384) : row;
            int ex = 2021 + k / 240000, eq = (k % 240000) / 4, na = 1 + k % 3, dd = 20240101 + k % 4;
            sqlite3_bind_int(s, p++, ex);
            sqlite3_bind_int(s, p++, eq);
            sqlite3_bind_int(s, p++, na);
            sqlite3_bind_int(s, p++, dd);
            for (int f = 0; f < 3; f++) sqlite3_bind_int(s, p++, k % 97 + f);
            for (int f = 3; f < 14; f++) sqlite3_bind_double(s, p++, (k % 1000) * 1.25 + f * 1000.5);
            sqlite3_bind_int(s, p++, 1);
            sqlite3_bind_int(s, p++, k);
        }
        if (sqlite3_step(s) != SQLITE_DONE) {
            printf("%s\n", sqlite3_errmsg(db));
            return 1;
        }
    }
    sqlite3_exec(db, "RELEASE lecture_stockage; COMMIT", 0, 0, 0);
    printf("mode %d, %s keys: insert %.3f s, processor %.3f s\n", mode, shuffled ? "shuffled" : "ordered", now() - t0,
           (double)(clock() - c0) / CLOCKS_PER_SEC);
    return 0;
}
