import CiblageStore
import Foundation
import GRDB
import GRDBSQLite
import XCTest

/// `libciblagechiffres`, the SQLite extension that lets an analyst's `sqlite3` read the packed
/// figures of the declarations, loaded into a plain SQLite connection as `.load` does.
final class SQLiteExtensionTests: XCTestCase {
    /// Without the extension, the views that read the packed figures fail in a plain
    /// connection; with it, they give the rows a stage's connection gives, value for value.
    func testTheExtensionGivesSqlite3TheFiguresTheStagesRead() throws {
        let library = RunnerProcessTests.products.appendingPathComponent("libciblagechiffres.so")
        XCTAssertTrue(FileManager.default.fileExists(atPath: library.path), "built with the package: \(library.path)")
        let store = FailurePathTests.world.appendingPathComponent("base.sqlite").path
        let query = """
            SELECT * FROM declaration_chiffres WHERE exercice = 2024 ORDER BY equipement_id, nature, date_depot;
            """
        let expected = try Store(path: store).dbQueue.read { db in try Row.fetchAll(db, sql: query).map(\.description) }
        XCTAssertGreaterThan(expected.count, 1000)
        XCTAssertTrue(expected.contains { $0.contains("heures_realisees:") && !$0.contains("heures_realisees:NULL") })

        let plain = try DatabaseQueue(path: store, configuration: { var c = Configuration(); c.readonly = true; return c }())
        try plain.read { db in
            XCTAssertThrowsError(try Row.fetchAll(db, sql: query)) { error in
                XCTAssertTrue("\(error)".contains("no such function: chiffre"), "\(error)")
            }
        }
        let read = try plain.read { db -> [String] in
            XCTAssertEqual(sqlite3_enable_load_extension(db.sqliteConnection, 1), SQLITE_OK)
            try db.execute(sql: "SELECT load_extension(?)", arguments: [library.path])
            return try Row.fetchAll(db, sql: query).map(\.description)
        }
        XCTAssertEqual(read, expected)
        // The same error as the stages' function for bytes that are not packed figures.
        try plain.read { db in
            XCTAssertThrowsError(try Int.fetchOne(db, sql: "SELECT chiffre(x'0100', 0)")) { error in
                XCTAssertTrue("\(error)".contains("chiffres illisibles"), "\(error)")
            }
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT chiffre(x'010002', 0)"), 1, "places 1, a zigzag varint")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT chiffre(x'010001', 0)"), -1)
            XCTAssertNil(try Int.fetchOne(db, sql: "SELECT chiffre(x'0000', 5)"))
        }
    }
}
