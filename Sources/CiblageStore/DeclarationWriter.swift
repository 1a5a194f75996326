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
    private let upsertStatement: Statement
    private let selectStatement: Statement

    static let figureColumns = [
        "places", "jours_ouverture", "nb_enfants", "heures_ouverture", "heures_realisees",
        "heures_facturees", "total_charges", "charges_personnel", "total_produits",
        "participations_familles", "prestation_caf", "bonus_caf", "subventions_collectivites", "etp",
    ]
    static let keyColumns = ["equipement_id", "exercice", "nature", "date_depot"]

    public init(db: Database, fileId: Int64) throws {
        self.db = db
        self.fileId = fileId
        let columns = Self.keyColumns + Self.figureColumns + ["fichier_id", "ligne"]
        let updates = (Self.figureColumns + ["fichier_id", "ligne"]).map { "\($0) = excluded.\($0)" }
        upsertStatement = try db.makeStatement(
            sql: """
                INSERT INTO declaration (\(columns.joined(separator: ", ")))
                VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))
                ON CONFLICT (exercice, equipement_id, nature, date_depot) DO UPDATE SET
                \(updates.joined(separator: ", "))
                WHERE declaration.fichier_id <> excluded.fichier_id
                """)
        selectStatement = try db.makeStatement(
            sql: """
                SELECT ligne, \(Self.figureColumns.joined(separator: ", ")) FROM declaration
                WHERE equipement_id = ? AND exercice = ? AND nature = ? AND date_depot = ?
                """)
    }

    /// Stores one declaration read at `line` of this writer's file.
    public func upsert(_ key: DeclarationKey, _ figures: DeclarationFigures, line: Int) throws
        -> DeclarationUpsertOutcome
    {
        let s = upsertStatement.sqliteStatement
        sqlite3_reset(s)
        Self.bindKey(s, key)
        func bind(_ index: Int32, _ value: Int?) {
            if let value { sqlite3_bind_int64(s, index, Int64(value)) } else { sqlite3_bind_null(s, index) }
        }
        func bind(_ index: Int32, _ value: Double?) {
            if let value { sqlite3_bind_double(s, index, value) } else { sqlite3_bind_null(s, index) }
        }
        bind(5, figures.places)
        bind(6, figures.joursOuverture)
        bind(7, figures.nbEnfants)
        bind(8, figures.heuresOuverture)
        bind(9, figures.heuresRealisees)
        bind(10, figures.heuresFacturees)
        bind(11, figures.totalCharges)
        bind(12, figures.chargesPersonnel)
        bind(13, figures.totalProduits)
        bind(14, figures.participationsFamilles)
        bind(15, figures.prestationCaf)
        bind(16, figures.bonusCaf)
        bind(17, figures.subventionsCollectivites)
        bind(18, figures.etp)
        sqlite3_bind_int64(s, 19, fileId)
        sqlite3_bind_int64(s, 20, Int64(line))
        let rc = sqlite3_step(s)
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        if sqlite3_changes(db.sqliteConnection) > 0 { return .stored }
        guard let (storedLine, storedFigures) = try fetch(key) else { return .stored }
        return .duplicateInFile(line: storedLine, identical: storedFigures == figures)
    }

    /// Removes what this file stored under `key`, restoring the values it had replaced.
    public func undo(_ key: DeclarationKey) throws {
        let keyArguments: StatementArguments = [key.equipementId, key.exercice, key.nature.rawValue, key.dateDepot]
        let correctionId = try Int64.fetchOne(
            db,
            sql: """
                SELECT id FROM declaration_correction
                WHERE equipement_id = ? AND exercice = ? AND nature = ? AND date_depot = ? AND fichier_id = ?
                ORDER BY id DESC LIMIT 1
                """, arguments: keyArguments + [fileId])
        try db.execute(
            sql: "DELETE FROM declaration WHERE equipement_id = ? AND exercice = ? AND nature = ? AND date_depot = ?",
            arguments: keyArguments)
        if let correctionId {
            let columns = (Self.keyColumns + Self.figureColumns).joined(separator: ", ")
            try db.execute(
                sql: """
                    INSERT INTO declaration (\(columns), fichier_id, ligne)
                    SELECT \(columns), ancien_fichier_id, ancienne_ligne FROM declaration_correction WHERE id = ?
                    """, arguments: [correctionId])
            try db.execute(sql: "DELETE FROM declaration_correction WHERE id = ?", arguments: [correctionId])
        }
    }

    /// Ends the file: forgets re-deliveries that changed no value (kept only for ``undo(_:)``).
    /// Returns the number of corrections (values changed by this file).
    @discardableResult
    public func finish() throws -> Int {
        try db.execute(
            sql: "DELETE FROM declaration_correction WHERE fichier_id = ? AND valeurs_modifiees = 0",
            arguments: [fileId])
        return try Int.fetchOne(
            db, sql: "SELECT count(*) FROM declaration_correction WHERE fichier_id = ?", arguments: [fileId]) ?? 0
    }

    private func fetch(_ key: DeclarationKey) throws -> (Int, DeclarationFigures)? {
        let s = selectStatement.sqliteStatement
        sqlite3_reset(s)
        Self.bindKey(s, key)
        guard sqlite3_step(s) == SQLITE_ROW else { return nil }
        func int(_ i: Int32) -> Int? { sqlite3_column_type(s, i) == SQLITE_NULL ? nil : Int(sqlite3_column_int64(s, i)) }
        func double(_ i: Int32) -> Double? { sqlite3_column_type(s, i) == SQLITE_NULL ? nil : sqlite3_column_double(s, i) }
        var f = DeclarationFigures()
        f.places = int(1)
        f.joursOuverture = int(2)
        f.nbEnfants = int(3)
        f.heuresOuverture = double(4)
        f.heuresRealisees = double(5)
        f.heuresFacturees = double(6)
        f.totalCharges = double(7)
        f.chargesPersonnel = double(8)
        f.totalProduits = double(9)
        f.participationsFamilles = double(10)
        f.prestationCaf = double(11)
        f.bonusCaf = double(12)
        f.subventionsCollectivites = double(13)
        f.etp = double(14)
        let line = Int(sqlite3_column_int64(s, 0))
        sqlite3_reset(s)
        return (line, f)
    }

    private static func bindKey(_ s: OpaquePointer, _ key: DeclarationKey) {
        sqlite3_bind_int64(s, 1, key.equipementId)
        sqlite3_bind_int64(s, 2, Int64(key.exercice))
        sqlite3_bind_int64(s, 3, Int64(key.nature.rawValue))
        sqlite3_bind_int64(s, 4, Int64(key.dateDepot))
    }
}
