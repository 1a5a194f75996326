import CiblageStore
import Foundation
import GRDB
import GRDBSQLite
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

    /// Bytes bound from a buffer are stored as a BLOB of those bytes, an empty buffer as an empty
    /// BLOB (not NULL), and the buffer may be reused at once.
    func testBytesAreStoredAsTheBlobOfThoseBytes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blob-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        let payloads: [[UInt8]] = [[1, 2, 3, 0, 255], [], Array(0...200).map(UInt8.init)]
        let rows = try store.dbQueue.write { db -> [Row] in
            try db.execute(sql: "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB NOT NULL)")
            let statement = try RawStatement(db, sql: "INSERT INTO t (k, b) VALUES (?, ?)")
            var buffer = [UInt8](repeating: 0, count: 256)
            for (k, payload) in payloads.enumerated() {
                statement.reset()
                for (i, byte) in payload.enumerated() { buffer[i] = byte }
                buffer.withUnsafeBytes { statement.bind(2, bytes: UnsafeRawBufferPointer(rebasing: $0[..<payload.count])) }
                // The buffer is overwritten before the row is written.
                for i in buffer.indices { buffer[i] = 0xEE }
                statement.bind(1, Int64(k))
                try statement.run()
            }
            return try Row.fetchAll(db, sql: "SELECT typeof(b), b FROM t ORDER BY k")
        }
        XCTAssertEqual(rows.map { $0[0] as String }, ["blob", "blob", "blob"])
        XCTAssertEqual(rows.map { [UInt8]($0[1] as Data) }, payloads)
    }

    /// Whatever the sizes it is flushed at, a batch writes every queued row once, in order: a
    /// partial flush goes in chunks of 64, 32, … 1 rows, and two batches of the same SQL on one
    /// connection share the statements the first compiled.
    func testBatchWritesEveryRowOnceWhateverTheFlushSizes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        // Flush points chosen to hit every chunk size, a full statement, and empty flushes.
        let flushes = [0, 1, 2, 5, 127, 128, 129, 200, 255, 256, 383, 500, 640, 641, 777]
        let (rows, compiled): ([[Int64]], Int) = try store.dbQueue.write { db in
            try db.execute(sql: "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER, w INTEGER)")
            var next: Int64 = 0
            var compiled = 0
            for writer in 0..<2 {
                let batch = BatchInsert<Int64>(db, head: "INSERT INTO t (k, v, w)", columns: 3) { s, o, k in
                    s.bind(o + 1, k)
                    s.bind(o + 2, k * 7 + Int64(writer))
                    s.bind(o + 3, k % 5 == 0 ? nil : Int(k))
                }
                var flushAt = flushes.makeIterator()
                var target = flushAt.next()
                for i in 0...800 {
                    while let t = target, t == i {
                        try batch.flush()
                        target = flushAt.next()
                    }
                    try batch.append(next)
                    next += 1
                }
                try batch.flush()
                // The connection's prepared statements of this SQL while the batch lives: one
                // per chunk size at most, the second batch reusing the first one's.
                var count = 0
                var statement = sqlite3_next_stmt(db.sqliteConnection, nil)
                while let s = statement {
                    if String(cString: sqlite3_sql(s)).hasPrefix("INSERT INTO t ") { count += 1 }
                    statement = sqlite3_next_stmt(db.sqliteConnection, s)
                }
                compiled = max(compiled, count)
            }
            let rows = try Row.fetchAll(db, sql: "SELECT k, v, w FROM t ORDER BY rowid").map { row -> [Int64] in
                [row[0], row[1], (row[2] as Int64?) ?? -1]
            }
            return (rows, compiled)
        }
        XCTAssertLessThanOrEqual(compiled, 8)
        XCTAssertGreaterThanOrEqual(compiled, 7)
        XCTAssertEqual(rows.count, 1602)
        for (i, row) in rows.enumerated() {
            let k = Int64(i)
            let writer: Int64 = i < 801 ? 0 : 1
            XCTAssertEqual(row, [k, k * 7 + writer, k % 5 == 0 ? -1 : k], "ligne \(i)")
        }
    }
}
