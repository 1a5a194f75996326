import CiblageStore
import Foundation
import GRDB
import XCTest

final class RawStatementTests: XCTestCase {
    /// NULL reads as nil, and only NULL: a stored 0 (which SQLite's readers also give for NULL)
    /// stays 0, for integers and reals alike.
    func testNullIsMissingAndZeroIsZero() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("raw-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        let rows: [(Int?, Double?)] = try store.dbQueue.write { db in
            try db.execute(sql: "CREATE TABLE t (k INTEGER PRIMARY KEY, i INTEGER, r REAL)")
            try db.execute(sql: "INSERT INTO t (k, i, r) VALUES (1, NULL, NULL), (2, 0, 0.0), (3, 0, -0.0), (4, 7, 2.5), (5, -3, NULL), (6, NULL, 0)")
            let statement = try RawStatement(db, sql: "SELECT i, r FROM t ORDER BY k")
            var out: [(Int?, Double?)] = []
            while try statement.step() { out.append((statement.int(0), statement.double(1))) }
            return out
        }
        XCTAssertEqual(rows.map(\.0), [nil, 0, 0, 7, -3, nil])
        XCTAssertEqual(rows.map(\.1), [nil, 0, 0, 2.5, nil, 0])
    }
}
