import CiblageModel
import GRDB
import GRDBSQLite

/// The key of a declaration in the store.
public struct DeclarationKey: Hashable, Sendable {
    /// Row id of the equipment (`equipement.id`).
    public var equipementId: Int64
    public var exercice: Int
    public var nature: NatureDeclaration
    /// `yyyymmdd`.
    public var dateDepot: Int

    public init(equipementId: Int64, exercice: Int, nature: NatureDeclaration, dateDepot: Int) {
        self.equipementId = equipementId
        self.exercice = exercice
        self.nature = nature
        self.dateDepot = dateDepot
    }
}

/// What happened to one declaration handed to ``DeclarationWriter/upsert(_:_:line:)``.
public enum DeclarationUpsertOutcome: Equatable, Sendable {
    /// Inserted, or replaced the values an earlier file had stored (a correction, recorded).
    case stored
    /// The same key already came earlier in this file, at `line`; `identical` tells whether
    /// its values were the same.
    case duplicateInFile(line: Int, identical: Bool)
}

/// Stores declarations of one file on the hot path, binding values straight on the SQLite
/// statement (GRDB's `StatementArguments` box every value, about twice slower here).
///
/// A key first seen in this file is inserted, or replaces an earlier file's row (the trigger
/// `declaration_garde_correction` records the former values). A key seen twice in this file
/// leaves the store alone and is reported, so the caller decides (identical duplicate, or a
/// conflict whose first row it undoes with ``undo(_:)``).
public final class DeclarationWriter {
    private let db: Database
    private let fileId: Int64
    private let upsertStatement: RawStatement
    private let selectStatement: RawStatement
    // The writer's state is used by one thread, the store's, and asked about for every row:
    // without the dynamic exclusivity check of a class's properties (2 % of that thread with
    // the hash below).
    /// Exercices this file stored rows of (recorded in `fichier_exercice` by ``finish()``).
    @exclusivity(unchecked) private var exercices: Set<Int> = []
    @exclusivity(unchecked) private var lastExercice = Int.min

    static let figureColumns = [
        "places", "jours_ouverture", "nb_enfants", "heures_ouverture", "heures_realisees",
        "heures_facturees", "total_charges", "charges_personnel", "total_produits",
        "participations_familles", "prestation_caf", "bonus_caf", "subventions_collectivites", "etp",
    ]
    static let keyColumns = ["exercice", "equipement_id", "nature", "date_depot"]
    /// The columns of a row after its key: the packed figures (``PackedFigures``), then where it
    /// was read.
    static let valueColumns = ["chiffres", "fichier_id", "ligne"]

    /// Declarations whose key is new in this file, stored by ``BatchInsert/rowsPerStatement``
    /// in one statement.
    private let batch: BatchInsert<(key: DeclarationKey, figures: DeclarationFigures, line: Int)>
    /// The same for an exercice the store had no declaration of when this file came to it
    /// (``isFresh(_:)``): no key of it can be in the store, so the rows are inserted `OR FAIL`,
    /// without the upsert clause. A row that fails such a statement stops it and keeps the rows
    /// before it: nothing has to be undone, so SQLite keeps no statement journal for it. The
    /// upsert's journal copied every page of the tree that a statement touched and that existed
    /// before it (16 KiB, and its allocations, for each of those pages, statement after
    /// statement). A key that would still collide fails the file's transaction as a whole.
    private let freshBatch: BatchInsert<(key: DeclarationKey, figures: DeclarationFigures, line: Int)>
    /// Whether each exercice met in this file had no declaration in the store before it.
    @exclusivity(unchecked) private var freshness: [Int: Bool] = [:]
    @exclusivity(unchecked) private var lastFreshness = (exercice: Int.min, fresh: false)
    private let anyOfExercice: RawStatement

    public init(db: Database, fileId: Int64) throws {
        self.db = db
        self.fileId = fileId
        let columns = Self.keyColumns + Self.valueColumns
        let updates = Self.valueColumns.map { "\($0) = excluded.\($0)" }
        batch = BatchInsert(
            db, head: "INSERT INTO declaration (\(columns.joined(separator: ", ")))", columns: columns.count,
            tail: """
                ON CONFLICT (exercice, equipement_id, nature, date_depot) DO UPDATE SET \(updates.joined(separator: ", "))
                WHERE declaration.fichier_id <> excluded.fichier_id
                """
        ) { s, o, row in Self.bind(s, offset: o, row.key, row.figures, fileId: fileId, line: row.line) }
        freshBatch = BatchInsert(db, head: "INSERT OR FAIL INTO declaration (\(columns.joined(separator: ", ")))", columns: columns.count) {
            s, o, row in Self.bind(s, offset: o, row.key, row.figures, fileId: fileId, line: row.line)
        }
        anyOfExercice = try RawStatement(cached: db, sql: "SELECT 1 FROM declaration WHERE exercice = ? LIMIT 1")
        upsertStatement = try RawStatement(cached: db, sql: batch.sql(rows: 1))
        selectStatement = try RawStatement(
            cached: db,
            sql: """
                SELECT ligne, chiffres FROM declaration
                WHERE exercice = ? AND equipement_id = ? AND nature = ? AND date_depot = ?
                """)
    }

    /// Stores one declaration read at `line` of this writer's file.
    public func upsert(_ key: DeclarationKey, _ figures: DeclarationFigures, line: Int) throws
        -> DeclarationUpsertOutcome
    {
        try flush()
        noteExercice(key.exercice)
        let s = upsertStatement
        s.reset()
        Self.bind(s, offset: 0, key, figures, fileId: fileId, line: line)
        try s.run()
        if s.changes > 0 { return .stored }
        guard let (storedLine, storedFigures) = try fetch(key) else { return .stored }
        return .duplicateInFile(line: storedLine, identical: storedFigures == figures)
    }

    /// Stores one declaration whose key the caller knows to be new in this file (inserted, or
    /// replacing an earlier file's row): queued, and stored with the next ones in one statement.
    /// ``upsert(_:_:line:)``, ``undo(_:)`` and ``finish()`` store the queue first.
    public func insertNew(_ key: DeclarationKey, _ figures: DeclarationFigures, line: Int) throws {
        noteExercice(key.exercice)
        if try isFresh(key.exercice) {
            try freshBatch.append((key, figures, line))
        } else {
            try batch.append((key, figures, line))
        }
    }

    /// Stores the queued declarations.
    public func flush() throws {
        try batch.flush()
        try freshBatch.flush()
    }

    /// Whether the store had no declaration of `exercice` when this file first stored one of it.
    /// Asked at the first row of the exercice the caller hands over as new: rows this file
    /// stored of it before (through ``upsert(_:_:line:)``) make it not fresh, which only costs
    /// the upsert.
    private func isFresh(_ exercice: Int) throws -> Bool {
        // The row before's exercice first: asked for every row, the dictionary's hash was 1 % of
        // the thread that stores, the national ingest's critical path.
        if exercice == lastFreshness.exercice { return lastFreshness.fresh }
        if let known = freshness[exercice] {
            lastFreshness = (exercice, known)
            return known
        }
        let s = anyOfExercice
        s.reset()
        s.bind(1, Int64(exercice))
        defer { s.reset() }
        let fresh = try !s.step()
        freshness[exercice] = fresh
        lastFreshness = (exercice, fresh)
        return fresh
    }

    private func noteExercice(_ exercice: Int) {
        if exercice != lastExercice {
            exercices.insert(exercice)
            lastExercice = exercice
        }
    }

    /// Binds one row's 7 values from parameter `offset + 1` on.
    private static func bind(
        _ s: RawStatement, offset o: Int32, _ key: DeclarationKey, _ figures: DeclarationFigures, fileId: Int64, line: Int
    ) {
        s.bind(o + 1, Int64(key.exercice))
        s.bind(o + 2, key.equipementId)
        s.bind(o + 3, Int64(key.nature.rawValue))
        s.bind(o + 4, Int64(key.dateDepot))
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: PackedFigures.maximumSize) { buffer in
            let count = PackedFigures.pack(figures, into: buffer.baseAddress!)
            s.bind(o + 5, bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<count]))
        }
        s.bind(o + 6, fileId)
        s.bind(o + 7, Int64(line))
    }

    /// Removes what this file stored under `key`, restoring the values it had replaced.
    public func undo(_ key: DeclarationKey) throws {
        try flush()
        let keyArguments: StatementArguments = [key.exercice, key.equipementId, key.nature.rawValue, key.dateDepot]
        // Cached statements: a file with many conflicts undoes many keys.
        let correctionId = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT id FROM declaration_correction
                    WHERE exercice = ? AND equipement_id = ? AND nature = ? AND date_depot = ? AND fichier_id = ?
                    ORDER BY id DESC LIMIT 1
                    """), arguments: keyArguments + [fileId])
        try db.cachedStatement(
            sql: "DELETE FROM declaration WHERE exercice = ? AND equipement_id = ? AND nature = ? AND date_depot = ?"
        ).execute(arguments: keyArguments)
        if let correctionId {
            let columns = (Self.keyColumns + ["chiffres"]).joined(separator: ", ")
            try db.cachedStatement(
                sql: """
                    INSERT INTO declaration (\(columns), fichier_id, ligne)
                    SELECT \(columns), ancien_fichier_id, ancienne_ligne FROM declaration_correction WHERE id = ?
                    """
            ).execute(arguments: [correctionId])
            try db.cachedStatement(sql: "DELETE FROM declaration_correction WHERE id = ?").execute(arguments: [correctionId])
        }
    }

    /// Ends the file: forgets re-deliveries that changed no value (kept only for ``undo(_:)``),
    /// records the exercices it touched (`fichier_exercice`, read by the score's example cache).
    /// Returns the number of corrections (values changed by this file).
    @discardableResult
    public func finish() throws -> Int {
        try flush()
        let record = try RawStatement(db, sql: "INSERT OR IGNORE INTO fichier_exercice (exercice, fichier_id) VALUES (?, ?)")
        for exercice in exercices.sorted() {
            record.reset()
            record.bind(1, exercice)
            record.bind(2, fileId)
            try record.run()
        }
        try db.execute(
            sql: "DELETE FROM declaration_correction WHERE fichier_id = ? AND valeurs_modifiees = 0",
            arguments: [fileId])
        return try Int.fetchOne(
            db, sql: "SELECT count(*) FROM declaration_correction WHERE fichier_id = ?", arguments: [fileId]) ?? 0
    }

    private func fetch(_ key: DeclarationKey) throws -> (Int, DeclarationFigures)? {
        let s = selectStatement
        s.reset()
        Self.bindKey(s, key)
        defer { s.reset() }
        guard try s.step() else { return nil }
        return (s.int(0)!, try s.figures(at: 1))
    }

    private static func bindKey(_ s: RawStatement, _ key: DeclarationKey) {
        s.bind(1, Int64(key.exercice))
        s.bind(2, key.equipementId)
        s.bind(3, Int64(key.nature.rawValue))
        s.bind(4, Int64(key.dateDepot))
    }
}
