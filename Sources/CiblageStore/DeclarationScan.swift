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

extension Store {
    /// Calls `body` with every declaration of `exercices`, in key order: by exercice, then
    /// equipment, then nature, then date de dépôt. For one equipment, exercice and nature the
    /// latest filed comes last, so a reader that keeps the last one keeps the current declaration
    /// (what the `declaration_courante` view gives, without its subquery).
    ///
    /// Reads columns straight from SQLite's statement: on a national store this is the
    /// stages' largest read (about a million rows), and GRDB's `Row` costs twice as much per row.
    /// `only`: one nature of declaration (SQLite skips the others before any column is read).
    /// The filter is written `+nature = ?`: as a plain `nature = ?`, SQLite 3.40 takes it as a
    /// key constraint and then sorts the rows again in a temporary b-tree (« USE TEMP B-TREE
    /// FOR RIGHT PART OF ORDER BY »), which made the repères' read of N-1 and N 0.5 s slower.
    public static func scanDeclarations(
        _ db: Database, exercices: ClosedRange<Int>, only: NatureDeclaration? = nil, _ body: (StoredDeclaration) throws -> Void
    ) throws {
        // One exercice at a time: the exercice is then known, not read from every row (one
        // column in eighteen of the stages' largest read).
        let statement = try RawStatement(
            db,
            sql: """
                SELECT \(declarationColumns)
                FROM declaration WHERE exercice = ?\(only == nil ? "" : " AND +nature = ?")
                ORDER BY equipement_id, nature, date_depot
                """)
        defer { statement.reset() }
        for exercice in exercices {
            statement.reset()
            statement.bind(1, exercice)
            if let only { statement.bind(2, only.rawValue) }
            try readDeclarations(statement, exercice: exercice, body)
        }
    }

    /// Calls `body` with every declaration of the equipments `ids` for `exercices`, in the order
    /// of ``scanDeclarations(_:exercices:only:_:)``: a few lookups by key per equipment rather
    /// than a scan of the exercices (what changed since a stage last ran).
    public static func scanDeclarations(
        _ db: Database, exercices: ClosedRange<Int>, equipments ids: [Int64], _ body: (StoredDeclaration) throws -> Void
    ) throws {
        guard !ids.isEmpty else { return }
        let statement = try RawStatement(
            db,
            sql: """
                SELECT \(declarationColumns) FROM declaration
                WHERE exercice = ? AND equipement_id IN (SELECT value FROM json_each(?))
                ORDER BY equipement_id, nature, date_depot
                """)
        defer { statement.reset() }
        let list = "[" + ids.map(String.init).joined(separator: ",") + "]"
        for exercice in exercices {
            statement.reset()
            statement.bind(1, exercice)
            statement.bind(2, list)
            try readDeclarations(statement, exercice: exercice, body)
        }
    }

    /// The columns ``readDeclarations(_:exercice:_:)`` reads, in its order (the exercice is
    /// the statement's).
    static let declarationColumns = """
        equipement_id, nature, date_depot, places, jours_ouverture, nb_enfants,
            heures_ouverture, heures_realisees, heures_facturees, total_charges, charges_personnel,
            total_produits, participations_familles, prestation_caf, bonus_caf,
            subventions_collectivites, etp
        """

    /// Steps `statement` (selecting ``declarationColumns`` of `exercice`) to its end, one
    /// declaration each row.
    private static func readDeclarations(
        _ statement: RawStatement, exercice: Int, _ body: (StoredDeclaration) throws -> Void
    ) throws {
        while try statement.step() {
            guard let id = statement.int(0), let nature = statement.int(1).flatMap(NatureDeclaration.init(rawValue:)),
                let date = statement.int(2).flatMap(CalendarDate.init(yyyymmdd:))
            else { continue }
            var f = DeclarationFigures()
            f.places = statement.int(3)
            f.joursOuverture = statement.int(4)
            f.nbEnfants = statement.int(5)
            f.heuresOuverture = statement.double(6)
            f.heuresRealisees = statement.double(7)
            f.heuresFacturees = statement.double(8)
            f.totalCharges = statement.double(9)
            f.chargesPersonnel = statement.double(10)
            f.totalProduits = statement.double(11)
            f.participationsFamilles = statement.double(12)
            f.prestationCaf = statement.double(13)
            f.bonusCaf = statement.double(14)
            f.subventionsCollectivites = statement.double(15)
            f.etp = statement.double(16)
            try body(StoredDeclaration(exercice: exercice, equipementId: Int64(id), nature: nature, dateDepot: date, figures: f))
        }
    }

    /// As ``scanDeclarations(_:exercices:only:_:)``, with `body` run on a second thread while
    /// this one (the store's) reads on: SQLite's reading and the caller's assembling of the
    /// rows overlap on the two cores, and no more than a few batches of rows are held between
    /// them. `body` must not use `db`; its state may be read once this returns. An error of
    /// `body` stops the read and is rethrown here, as is an error of the read.
    public static func scanDeclarationsOverlapped(
        _ db: Database, exercices: ClosedRange<Int>, only: NatureDeclaration? = nil,
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
            try scanDeclarations(db, exercices: exercices, only: only) { d in
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
