import CiblageModel
import GRDB
import GRDBSQLite

/// One stored declaration, as the stages that read figures see it.
public struct StoredDeclaration: Sendable {
    public var exercice: Int
    public var equipementId: Int64
    public var nature: NatureDeclaration
    public var dateDepot: CalendarDate
    public var figures: DeclarationFigures
}

/// Which of the stored declarations of an equipment and exercice a scan hands over.
public enum DeclarationSelection: Sendable {
    /// The current declaration (the latest filed) of each nature: what the
    /// `declaration_courante` view gives.
    case current
    /// The current réel, else the current actualisé (the most advanced declaration, which
    /// indicators come from), and the current prévisionnel (forecast against actual): an
    /// actualisé is passed over when the réel is there (a third of the current national rows).
    case advancedAndForecast
}

extension Store {
    /// Calls `body` with the declarations `selection` keeps of every equipment and exercice of
    /// `exercices`, in key order: by exercice, then equipment, then nature.
    ///
    /// Reads columns straight from SQLite's statement: on a national store this is the
    /// stages' largest read (about a million rows), and GRDB's `Row` costs twice as much per row.
    /// Each exercice is read by ranges of equipment ids, each range backwards (réel first,
    /// latest filed first) and handed over forwards: a declaration filed again later (a quarter
    /// of the national rows), or one `selection` leaves out, is passed over on its key, its
    /// figures never read.
    /// `only`: one nature of declaration (SQLite skips the others before any column is read).
    /// The filter is written `+nature = ?`: as a plain `nature = ?`, SQLite 3.40 takes it as a
    /// key constraint and then sorts the rows again in a temporary b-tree (« USE TEMP B-TREE
    /// FOR RIGHT PART OF ORDER BY »), which made the repères' read of N-1 and N 0.5 s slower.
    public static func scanDeclarations(
        _ db: Database, exercices: ClosedRange<Int>, only: NatureDeclaration? = nil, selection: DeclarationSelection = .current,
        _ body: (StoredDeclaration) throws -> Void
    ) throws {
        try scanDeclarations(db, exercices: exercices, only: only, selection: selection, chunk: 1024, body)
    }

    /// ``scanDeclarations(_:exercices:only:selection:_:)`` by ranges of `chunk` equipment ids;
    /// returns how many ranges it read. Each range starts at the first id with a declaration
    /// after the range before: ids far apart cost a range each, not the ranges between them.
    /// `filtering`: whether SQLite leaves out the rows `selection` passes over
    /// (``LatestRowFilter``; the tests compare with the rows read in full).
    @discardableResult
    static func scanDeclarations(
        _ db: Database, exercices: ClosedRange<Int>, only: NatureDeclaration?, selection: DeclarationSelection, chunk: Int64,
        filtering: Bool = true, _ body: (StoredDeclaration) throws -> Void
    ) throws -> Int {
        precondition(chunk > 0)
        // One exercice at a time: the exercice is then known, not read from every row (one
        // column in eighteen of the stages' largest read).
        // The rows `selection` passes over are left out by SQLite itself, on their key, before
        // it reads their figures (``LatestRowFilter``); read in full, when the filter cannot be
        // installed or the plan would not visit the rows in key order.
        let filter = LatestRowFilter(skipsActualise: selection == .advancedAndForecast, only: only)
        let filtered = try filtering && filter.install(on: db, for: rangeSQL(only: only, filtered: true))
        defer { if filtered { filter.uninstall(from: db) } }
        let statement = try RawStatement(db, sql: rangeSQL(only: only, filtered: filtered))
        defer { statement.reset() }
        // Two statements: SQLite answers a lone min() or max() from the key's first entry, but
        // scans the exercice for both in one.
        let next = try RawStatement(db, sql: "SELECT min(equipement_id) FROM declaration WHERE exercice = ? AND equipement_id > ?")
        let highest = try RawStatement(db, sql: "SELECT max(equipement_id) FROM declaration WHERE exercice = ?")
        var range: [StoredDeclaration] = []
        var ranges = 0
        for exercice in exercices {
            func id(_ s: RawStatement, after: Int64? = nil) throws -> Int64? {
                s.reset()
                s.bind(1, exercice)
                if let after { s.bind(2, after) }
                defer { s.reset() }
                return try s.step() ? s.int(0).map(Int64.init) : nil
            }
            guard let last = try id(highest) else { continue }
            var low = try id(next, after: Int64.min)
            while let start = low {
                let high = start <= last - chunk ? start + chunk - 1 : last
                statement.reset()
                filter.reset()
                statement.bind(1, exercice)
                statement.bind(2, start)
                statement.bind(3, high)
                if let only { statement.bind(4, only.rawValue) }
                try readBackwards(statement, exercice: exercice, selection: selection, through: &range, body)
                ranges += 1
                low = high < last ? try id(next, after: high) : nil
            }
        }
        return ranges
    }

    /// The statement that reads one range of equipment ids of an exercice (bound in that order,
    /// then `only`'s nature), backwards; `filtered`: with ``LatestRowFilter``'s call.
    static func rangeSQL(only: NatureDeclaration?, filtered: Bool) -> String {
        """
        SELECT \(declarationColumns)
        FROM declaration WHERE exercice = ? AND equipement_id BETWEEN ? AND ?\(only == nil ? "" : " AND +nature = ?")\(
            filtered ? " AND \(LatestRowFilter.call)" : "")
        ORDER BY equipement_id DESC, nature DESC, date_depot DESC
        """
    }

    /// Calls `body` with the declarations `selection` keeps of the equipments `ids` for
    /// `exercices`, as ``scanDeclarations(_:exercices:only:selection:_:)`` does: a few lookups by
    /// key per equipment rather than a scan of the exercices (what changed since a stage last
    /// ran).
    public static func scanDeclarations(
        _ db: Database, exercices: ClosedRange<Int>, equipments ids: [Int64], selection: DeclarationSelection = .current,
        _ body: (StoredDeclaration) throws -> Void
    ) throws {
        let sorted = Array(Set(ids)).sorted()
        guard !sorted.isEmpty else { return }
        let statement = try RawStatement(
            db,
            sql: """
                SELECT \(declarationColumns) FROM declaration
                WHERE exercice = ? AND equipement_id IN (SELECT value FROM json_each(?))
                ORDER BY equipement_id DESC, nature DESC, date_depot DESC
                """)
        defer { statement.reset() }
        // A few hundred equipments at a time, read backwards and handed over forwards; the same
        // lists for every exercice.
        let lists = stride(from: 0, to: sorted.count, by: 256).map { start in
            "[" + sorted[start..<min(start + 256, sorted.count)].map(String.init).joined(separator: ",") + "]"
        }
        var group: [StoredDeclaration] = []
        for exercice in exercices {
            for list in lists {
                statement.reset()
                statement.bind(1, exercice)
                statement.bind(2, list)
                try readBackwards(statement, exercice: exercice, selection: selection, through: &group, body)
            }
        }
    }

    /// The columns ``readBackwards(_:exercice:selection:through:_:)`` reads, in its order (the exercice
    /// is the statement's).
    static let declarationColumns = "equipement_id, nature, date_depot, chiffres"

    /// Steps `statement` (selecting ``declarationColumns`` of `exercice`, by equipment, nature
    /// and date de dépôt, all three descending) to its end, keeping in `buffer` one declaration
    /// for each row `selection` keeps (the other rows' figures are not read), then calls `body`
    /// with them in key order. `buffer` is the caller's, reused from one statement to the next.
    private static func readBackwards(
        _ statement: RawStatement, exercice: Int, selection: DeclarationSelection, through buffer: inout [StoredDeclaration],
        _ body: (StoredDeclaration) throws -> Void
    ) throws {
        buffer.removeAll(keepingCapacity: true)
        // The rows of the SQL filter (``LatestRowFilter``) are kept by the same rule again.
        var rule = LatestRowRule(skipsActualise: selection == .advancedAndForecast, only: nil)
        while try statement.step() {
            guard let id = statement.int(0), let code = statement.int(1),
                let kept = rule.keep(id: Int64(id), nature: Int64(code), date: statement.int(2).map(Int64.init))
            else { continue }
            buffer.append(try declaration(statement, exercice: exercice, id: id, kept))
        }
        for d in buffer.reversed() { try body(d) }
    }

    /// The declaration of the row `statement` stands on (its figures; the equipment, nature and
    /// date de dépôt already read).
    @inline(__always)
    private static func declaration(_ statement: RawStatement, exercice: Int, id: Int, _ kept: LatestRowRule.Kept) throws -> StoredDeclaration {
        StoredDeclaration(
            exercice: exercice, equipementId: Int64(id), nature: kept.nature, dateDepot: kept.dateDepot, figures: try statement.figures(at: 3))
    }

    /// As ``scanDeclarations(_:exercices:only:selection:_:)``, with `body` run on a second thread while
    /// this one (the store's) reads on: SQLite's reading and the caller's assembling of the
    /// rows overlap on the two cores, and no more than a few batches of rows are held between
    /// them. `body` must not use `db`; its state may be read once this returns. An error of
    /// `body` stops the read and is rethrown here, as is an error of the read.
    public static func scanDeclarationsOverlapped(
        _ db: Database, exercices: ClosedRange<Int>, only: NatureDeclaration? = nil, selection: DeclarationSelection = .current,
        _ body: @escaping (StoredDeclaration) throws -> Void
    ) throws {
        let channel = BatchChannel<StoredDeclaration>(capacity: 8)
        // The reader never touches the consumer's state, and reads its outcome after `join`.
        let consume = LockedBox { while let batch = try channel.receive() { for d in batch { try body(d) } } }
        let outcome = LockedBox<(any Error)?>(nil)
        let consumer = ProducerThread {
            do { try consume.value() } catch {
                outcome.lock.withLock { outcome.value = error }
                channel.cancel()
            }
        }
        var batch: [StoredDeclaration] = []
        batch.reserveCapacity(overlapBatchSize)
        do {
            try scanDeclarations(db, exercices: exercices, only: only, selection: selection) { d in
                batch.append(d)
                if batch.count == overlapBatchSize {
                    guard channel.send(batch) else { throw CancellationError() }
                    batch.removeAll(keepingCapacity: true)
                }
            }
            _ = channel.send(batch)
            channel.finish()
        } catch {
            channel.finish(error)
        }
        consumer.join()
        if let error = outcome.value { throw error }
    }

    /// Declarations per hand-over between the reading and the consuming thread.
    static let overlapBatchSize = 2048
}

extension RawStatement {
    /// The figures of a declaration row, from its packed column `column` (``PackedFigures``).
    /// Throws ``PackedFiguresError`` for bytes that are not a packed row.
    @inline(__always)
    func figures(at column: Int32) throws -> DeclarationFigures {
        guard let figures = PackedFigures.unpack(blob(column)) else { throw PackedFiguresError() }
        return figures
    }
}

/// Which rows of a declaration read backwards (by equipment, nature and date de dépôt, all three
/// descending) a scan keeps: the first row of each equipment and nature (the latest filed),
/// unless an actualisé after its equipment's réel when `skipsActualise`; a row whose nature or
/// date does not read is passed over without counting as its key's row (the one filed before it
/// stands). ``Store/readBackwards(_:exercice:selection:through:_:)`` applies it to the rows it
/// reads, ``LatestRowFilter`` inside SQLite's `WHERE`.
struct LatestRowRule {
    let skipsActualise: Bool
    /// The one nature kept, if any.
    let only: Int64?
    /// The key of the last row counted, and the equipment of the last réel kept (plain fields:
    /// an optional tuple had its type's metadata looked up at run time, call after call).
    private var previousId: Int64 = 0
    private var previousNature: Int64 = 0
    private var hasPrevious = false
    private var withReel: Int64 = 0
    private var hasReel = false

    init(skipsActualise: Bool, only: NatureDeclaration?) {
        self.skipsActualise = skipsActualise
        self.only = only.map { Int64($0.rawValue) }
    }

    /// Forgets the rows visited: before each run of a statement.
    mutating func reset() {
        hasPrevious = false
        hasReel = false
    }

    /// The nature and date de dépôt of the row of these key values if it is kept, else `nil`.
    @inline(__always)
    mutating func keep(id: Int64, nature code: Int64, date: Int64?) -> Kept? {
        if let only, code != only { return nil }
        if hasPrevious && id == previousId && code == previousNature { return nil }
        if skipsActualise && code == Int64(NatureDeclaration.actualise.rawValue) && hasReel && id == withReel {
            (previousId, previousNature, hasPrevious) = (id, code, true)
            return nil
        }
        guard let n = Int(exactly: code), let nature = NatureDeclaration(rawValue: n), let date, let day = Int(exactly: date),
            let dateDepot = CalendarDate(yyyymmdd: day)
        else { return nil }
        (previousId, previousNature, hasPrevious) = (id, code, true)
        if nature == .reel { (withReel, hasReel) = (id, true) }
        return Kept(nature: nature, dateDepot: dateDepot)
    }

    /// What a kept row's key columns read as.
    struct Kept {
        var nature: NatureDeclaration
        var dateDepot: CalendarDate
    }
}

/// The rows of a declaration scan that ``Store/readBackwards(_:exercice:selection:through:_:)``
/// would keep, told apart by SQLite while it visits them: an SQL function of the key columns,
/// evaluated in the statement's `WHERE`, so that SQLite reads the figures of the rows kept
/// only. A declaration filed again later (a quarter of the national rows) and an actualisé
/// whose réel is there (a third of the others) are otherwise read column by column for
/// nothing, on the thread the first score waits for.
///
/// The function decides a row from the rows visited before it in the same statement (its
/// state, a ``LatestRowRule``), so it is used only where SQLite visits the rows in the order
/// they are returned: the plan is checked when installed (one search of the primary key, no
/// sorting). ``Store/readBackwards(_:exercice:selection:through:_:)`` applies the same rule to
/// the rows it gets; it keeps them all.
final class LatestRowFilter {
    /// The call the statement's `WHERE` adds.
    static let call = "ciblage_derniere_declaration(equipement_id, nature, date_depot)"
    private static let name = "ciblage_derniere_declaration"

    /// `only`: the nature the statement keeps alone (its rows of other natures are never handed
    /// over, whichever of the two conditions SQLite evaluates first). Used by the one thread that
    /// steps the statement: without the dynamic exclusivity check of a class's property, paid at
    /// every row otherwise.
    @exclusivity(unchecked) private var rule: LatestRowRule

    init(skipsActualise: Bool, only: NatureDeclaration?) {
        rule = LatestRowRule(skipsActualise: skipsActualise, only: only)
    }

    /// Forgets the rows visited: call before each run of the statement.
    func reset() { rule.reset() }

    /// Whether the row of these key values is kept (``LatestRowRule``).
    func keeps(_ id: OpaquePointer?, _ nature: OpaquePointer?, _ date: OpaquePointer?) -> Bool {
        guard sqlite3_value_type(id) != SQLITE_NULL, sqlite3_value_type(nature) != SQLITE_NULL else { return false }
        let day = sqlite3_value_type(date) == SQLITE_NULL ? nil : sqlite3_value_int64(date)
        return rule.keep(id: sqlite3_value_int64(id), nature: sqlite3_value_int64(nature), date: day) != nil
    }

    /// Registers the function on `db`'s connection, if `sql` (which calls it) is planned as one
    /// ordered search of the primary key; `false` when not registered (then not to be called).
    func install(on db: Database, for sql: String) throws -> Bool {
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = sqlite3_create_function_v2(
            db.sqliteConnection, Self.name, 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, context,
            { context, _, values in
                let filter = Unmanaged<LatestRowFilter>.fromOpaque(sqlite3_user_data(context)!).takeUnretainedValue()
                sqlite3_result_int(context, filter.keeps(values![0], values![1], values![2]) ? 1 : 0)
            }, nil, nil, { Unmanaged<LatestRowFilter>.fromOpaque($0!).release() })
        // On failure, SQLite has already called the destructor (the retain is released).
        guard rc == SQLITE_OK else { return false }
        do {
            let arguments = StatementArguments(Array(repeating: 0, count: sql.filter { $0 == "?" }.count))
            let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments)
                .map { $0["detail"] as String? ?? "" }.joined(separator: " | ")
            guard Self.visitsInKeyOrder(plan) else {
                uninstall(from: db)
                return false
            }
            return true
        } catch {
            uninstall(from: db)
            throw error
        }
    }

    /// Whether a plan (the `detail` column of `EXPLAIN QUERY PLAN`) searches the primary key of
    /// `declaration` alone, without a sort or a subquery.
    static func visitsInKeyOrder(_ plan: String) -> Bool {
        plan.contains("USING PRIMARY KEY") && !plan.contains("TEMP B-TREE") && !plan.contains("|")
    }

    /// Removes the function (SQLite then releases this filter).
    func uninstall(from db: Database) {
        sqlite3_create_function_v2(db.sqliteConnection, Self.name, 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, nil, nil, nil, nil, nil)
    }
}
