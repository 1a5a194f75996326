import GRDB

/// Rows written by ``rowsPerStatement`` in one multi-row `INSERT … VALUES (…), (…), …`, for the
/// stages' bulk writes: one statement's fixed cost (its run, its statement journal) is shared by
/// its rows, about a third of the time per row of a national declarations file.
///
/// Rows are queued by ``append(_:)`` and written when a statement is full or on ``flush()``;
/// the caller flushes before anything that must see them (a read, an undo, the commit).
public final class BatchInsert<Row> {
    /// Rows per statement (128 × 28 parameters stays far below SQLite's limit of 32 766).
    public static var rowsPerStatement: Int { 128 }

    private let db: Database
    private let head: String
    private let tail: String
    private let columns: Int
    private let bind: (RawStatement, Int32, Row) -> Void
    /// Used by one thread (the store's): without the dynamic exclusivity check a class's
    /// property pays at each access, once per row appended.
    @exclusivity(unchecked) private var pending: [Row] = []
    private var statements: [Int: RawStatement] = [:]

    /// `head` is the statement up to `VALUES` excluded, `tail` what follows the rows (an
    /// `ON CONFLICT` clause, or nothing); `bind` binds one row's `columns` values from parameter
    /// `offset + 1` on.
    public init(
        _ db: Database, head: String, columns: Int, tail: String = "",
        bind: @escaping (_ statement: RawStatement, _ offset: Int32, _ row: Row) -> Void
    ) {
        self.db = db
        self.head = head
        self.tail = tail
        self.columns = columns
        self.bind = bind
    }

    /// The statement's SQL for `rows` rows.
    public func sql(rows: Int) -> String {
        let tuple = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return "\(head) VALUES \(Array(repeating: tuple, count: rows).joined(separator: ", ")) \(tail)"
    }

    /// Queues `row`; writes the queue once it fills a statement.
    public func append(_ row: Row) throws {
        pending.append(row)
        if pending.count == Self.rowsPerStatement { try flush() }
    }

    /// Writes the queued rows. A full queue goes in one statement; a partial one (a flush
    /// before a read, an undo or the commit) goes in chunks of 64, 32, … 1 rows, so that a
    /// connection compiles at most eight statements of this SQL whatever the sizes flushed.
    /// Compiling a 128-row statement takes about a millisecond: when every partial size had its
    /// own statement, the national ingest spent 0.15 s of its storing thread compiling them.
    public func flush() throws {
        var start = 0
        var chunk = Self.rowsPerStatement
        while start < pending.count {
            while chunk > pending.count - start { chunk /= 2 }
            let s = try statement(rows: chunk)
            s.reset()
            for k in 0..<chunk { bind(s, Int32(k * columns), pending[start + k]) }
            try s.run()
            start += chunk
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// The statement for `rows` rows, from the connection's statement cache: writers of later
    /// files of one ingest share what the first compiled.
    private func statement(rows: Int) throws -> RawStatement {
        if let cached = statements[rows] { return cached }
        let s = try RawStatement(cached: db, sql: sql(rows: rows))
        statements[rows] = s
        return s
    }
}
