import GRDB
import GRDBSQLite

/// A prepared statement bound value by value on its SQLite handle, for hot insert paths where
/// GRDB's `StatementArguments` (which box every value) cost about twice as much.
public struct RawStatement {
    let statement: Statement
    let db: Database
    private var handle: OpaquePointer { statement.sqliteStatement }
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    public init(_ db: Database, sql: String) throws {
        self.db = db
        statement = try db.makeStatement(sql: sql)
    }

    /// The statement from the connection's cache (compiled once per connection). Each use must
    /// run it to its end, or ``reset()`` it, before another use of the same SQL begins.
    public init(cached db: Database, sql: String) throws {
        self.db = db
        statement = try db.cachedStatement(sql: sql)
    }

    public func reset() { sqlite3_reset(handle) }

    public func bind(_ index: Int32, _ value: Int?) {
        if let value { sqlite3_bind_int64(handle, index, Int64(value)) } else { sqlite3_bind_null(handle, index) }
    }

    public func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }

    public func bind(_ index: Int32, _ value: Double?) {
        if let value { sqlite3_bind_double(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    public func bind(_ index: Int32, _ value: Bool) { sqlite3_bind_int64(handle, index, value ? 1 : 0) }

    public func bind(_ index: Int32, _ value: String?) {
        guard var value else {
            sqlite3_bind_null(handle, index)
            return
        }
        value.withUTF8 { utf8 in
            guard let base = utf8.baseAddress, utf8.count > 0 else {
                sqlite3_bind_text(handle, index, "", 0, Self.transient)
                return
            }
            sqlite3_bind_text(
                handle, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(utf8.count),
                Self.transient)
        }
    }

    /// Binds `bytes` as a BLOB (copied by SQLite: the buffer may go once this returns).
    public func bind(_ index: Int32, bytes: UnsafeRawBufferPointer) {
        sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), Self.transient)
    }

    /// Runs the statement to its end (an INSERT or UPDATE).
    public func run() throws {
        let rc = sqlite3_step(handle)
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }

    /// Steps once; `true` when a row is there to read.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        return false
    }

    /// The integer in `column`, `nil` for NULL. NULL reads as 0, so the type is asked only for
    /// a 0: one call into SQLite instead of two for most values (the first score reads 18
    /// columns of 920 000 declarations: its read phase went from 2.59 to 2.41 s).
    public func int(_ column: Int32) -> Int? {
        let value = sqlite3_column_int64(handle, column)
        return value == 0 && sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : Int(value)
    }

    /// The number in `column`, `nil` for NULL (the type asked only for 0, as ``int(_:)``).
    public func double(_ column: Int32) -> Double? {
        let value = sqlite3_column_double(handle, column)
        return value == 0 && sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : value
    }

    /// The bytes of `column`, valid until the statement steps, resets or reads the column
    /// another way; empty for NULL or an empty BLOB.
    public func blob(_ column: Int32) -> UnsafeRawBufferPointer {
        // The pointer first, then the size: SQLite's order for a value it may convert.
        let bytes = sqlite3_column_blob(handle, column)
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, column)))
    }

    public func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Whether the text of `column` is `text`, compared in place (no string made).
    public func textEquals(_ column: Int32, _ text: String) -> Bool {
        guard let bytes = sqlite3_column_text(handle, column) else { return false }
        let stored = UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, column)))
        var text = text
        return text.withUTF8 { $0.elementsEqual(stored) }
    }

    /// Rows changed by the last statement of the connection.
    public var changes: Int32 { sqlite3_changes(db.sqliteConnection) }
}
