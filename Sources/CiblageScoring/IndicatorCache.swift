import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// The indicators of the scored exercice, read back from the store for the equipments whose
/// inputs have not changed since the score last stored them.
///
/// An equipment-year's indicators (``EquipmentYear``) depend on its declarations of N-2…N, its
/// registry row, its controls dated before the scoring date, and that date. The score stores
/// them in `indicateur`, their first-two digits in `chiffres_indicateur`, and in
/// `indicateur_exercice` the ``signature(registry:controls:asOf:)`` of the registry, the
/// controls and the date, with the last declarations file of N-2…N they saw. While the
/// signature holds, only the equipments with a declaration stored or corrected by a later file
/// are computed again (``changedEquipments(_:exercice:since:)``): a delivery of one Caf's file
/// costs that file, not the country.
public enum IndicatorCache {
    /// Bump when the indicators or the way they are computed change: every stored exercice is
    /// then computed again.
    public static let version = "indicateurs-1"

    /// What the stored indicators of one exercice were computed from.
    public struct Stamp: Sendable, Equatable {
        /// The registry, the controls and the date (``signature(registry:controls:asOf:)``).
        public var signature: String
        /// The last declarations file of N-2…N seen (file ids only grow).
        public var lastFile: Int64
    }

    /// The signature of what the indicators read besides the declarations (`registry`:
    /// ``TrainingCache/registryDigest(_:)``).
    public static func signature(registry: String, controls: [StoredControl], asOf: CalendarDate) -> String {
        [
            version, "date:\(asOf.yyyymmdd)", "registre:\(registry)",
            "controles:\(TrainingCache.digest(controls.lazy.filter { $0.date < asOf }))",
        ].joined(separator: ";")
    }

    /// The stamp the indicators of `exercice` would have if computed now.
    public static func currentStamp(
        _ db: Database, exercice: Int, registry: String, controls: [StoredControl], asOf: CalendarDate
    ) throws -> Stamp {
        Stamp(
            signature: signature(registry: registry, controls: controls, asOf: asOf),
            lastFile: try TrainingCache.lastDeclarationsFile(db, exercice: exercice))
    }

    /// The stamp of the stored indicators of `exercice`, if any.
    public static func storedStamp(_ db: Database, exercice: Int) throws -> Stamp? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT signature, dernier_fichier FROM indicateur_exercice WHERE exercice = ?", arguments: [exercice])
        else { return nil }
        return Stamp(signature: row[0], lastFile: row[1])
    }

    /// The equipments with a declaration of N-2…N stored or corrected by a file after `lastFile`,
    /// by id. Only the exercices those files touched (`fichier_exercice`) are read: a delivery
    /// of N leaves N-2 and N-1 unread (0.17 → 0.07 s of SQLite on the national store).
    public static func changedEquipments(_ db: Database, exercice: Int, since lastFile: Int64) throws -> [Int64] {
        let touched = try Int.fetchAll(
            db, sql: "SELECT DISTINCT exercice FROM fichier_exercice WHERE fichier_id > ? AND exercice BETWEEN ? AND ?",
            arguments: [lastFile, exercice - 2, exercice])
        var ids = Set<Int64>()
        for e in touched {
            ids.formUnion(
                try Int64.fetchAll(
                    db, sql: "SELECT equipement_id FROM declaration WHERE exercice = ? AND fichier_id > ?", arguments: [e, lastFile]))
        }
        return ids.sorted()
    }

    /// Records that the indicators of every active equipment of the exercice, just stored in
    /// `indicateur`, were computed from `stamp`, with each one's `digits` (``EquipmentYear/packedDigits``)
    /// (call inside the stage's transaction, after ``IndicatorStore/insert(_:exercice:_:computedAt:only:)``).
    /// With `only`, the digits of those equipments are replaced and the others kept, as their
    /// indicators were.
    public static func save(
        _ db: Database, exercice: Int, stamp: Stamp, digits: some Sequence<(id: Int64, digits: Int64)>, computedAt: String,
        only: Set<Int64>? = nil
    ) throws {
        if only == nil { try db.execute(sql: "DELETE FROM chiffres_indicateur WHERE exercice = ?", arguments: [exercice]) }
        // Queued as (equipment, digits): two integers rather than a copy of the equipment-year.
        let batch = BatchInsert<(id: Int64, digits: Int64)>(db, head: "INSERT OR REPLACE INTO chiffres_indicateur", columns: 3) {
            s, o, row in
            s.bind(o + 1, exercice)
            s.bind(o + 2, row.id)
            s.bind(o + 3, row.digits)
        }
        for row in digits where only?.contains(row.id) ?? true { try batch.append(row) }
        try batch.flush()
        try db.execute(
            sql: "INSERT OR REPLACE INTO indicateur_exercice (exercice, signature, dernier_fichier, calcule_le) VALUES (?, ?, ?, ?)",
            arguments: [exercice, stamp.signature, stamp.lastFile, computedAt])
    }

    /// Reads, on a second connection and thread, the stored equipment-years of `exercice` while
    /// the caller reads the registry and the controls on its own (0.17 s of the 0.23 s this read
    /// takes on the national store); `nil` when nothing is stored for it or no second connection
    /// opens. Wait for it before `db` writes (see ``Store/secondReader(of:)``).
    static func prefetch(_ db: Database, exercice: Int) throws -> BackgroundWork<[EquipmentYear]>? {
        guard try storedStamp(db, exercice: exercice) != nil, let reader = Store.secondReader(of: db) else { return nil }
        return BackgroundWork { try reader.read { try storedYears($0, exercice: exercice) } }
    }

    /// Every stored equipment-year of `exercice`, in equipment order.
    static func storedYears(_ db: Database, exercice: Int) throws -> [EquipmentYear] {
        let stored = try StoredYears(db, exercice: exercice)
        var years: [EquipmentYear] = []
        while let y = try stored.next() { years.append(y) }
        return years
    }

    /// Reads the stored equipment-years of one exercice in equipment order, one at a time: the
    /// rows of `indicateur` that have their digits in `chiffres_indicateur`, both tables read in
    /// key order side by side (what the inner join on their key gives, without its lookup into
    /// the second table for every row: 39 against 15 ms for the national exercice, on the
    /// critical path of the next night's score).
    final class StoredYears {
        private let statement: RawStatement
        private let digits: RawStatement
        /// The digits row the reading has reached (`nil` once they are all read).
        private var digitsRow: (id: Int, chiffres: Int)? = (Int.min, 0)
        private let exercice: Int

        init(_ db: Database, exercice: Int) throws {
            statement = try RawStatement(
                db,
                sql: """
                    SELECT equipement_id, source_nature, source_date_depot, places, taux_facturation,
                        bande_psu, taux_occupation, heures_par_place, variation_heures_par_place, cout_heure,
                        cout_place, ecart_previsionnel_heures, ecart_previsionnel_charges, participation_horaire,
                        variation_participation_horaire, enfants_par_place, etp_par_place, reel_manquant,
                        jours_retard_reel, chiffres_ronds, chiffres_examines, dernier_controle,
                        controles_passes, anomalies_passees, indus_passes, enjeu_euros
                    FROM indicateur WHERE exercice = ?
                    ORDER BY equipement_id
                    """)
            digits = try RawStatement(
                db, sql: "SELECT equipement_id, chiffres FROM chiffres_indicateur WHERE exercice = ? ORDER BY equipement_id")
            statement.bind(1, exercice)
            digits.bind(1, exercice)
            self.exercice = exercice
        }

        deinit {
            statement.reset()
            digits.reset()
        }

        /// The digits of equipment `id`, reading on from the last asked (ids come in increasing
        /// order); `nil` when it has none.
        private func digits(of id: Int) throws -> Int? {
            while let row = digitsRow, row.id < id {
                digitsRow = try digits.step() ? (digits.int(0) ?? 0, digits.int(1) ?? 0) : nil
            }
            guard let row = digitsRow, row.id == id else { return nil }
            return row.chiffres
        }

        /// The next stored equipment-year, `nil` after the last.
        func next() throws -> EquipmentYear? {
            var chiffres: Int?
            repeat {
                guard try statement.step() else { return nil }
                chiffres = try digits(of: statement.int(0) ?? 0)
            } while chiffres == nil
            let s = statement
            var i = EquipmentIndicators(
                equipementId: Int64(s.int(0) ?? 0), exercice: exercice, source: s.int(1).flatMap(NatureDeclaration.init(rawValue:)),
                places: s.int(3), reelManquant: s.int(17) == 1, chiffresRonds: s.int(19) ?? 0, chiffresExamines: s.int(20) ?? 0,
                controlesPasses: s.int(22) ?? 0, anomaliesPassees: s.int(23) ?? 0, indusPasses: s.double(24) ?? 0,
                enjeuEuros: s.double(25) ?? 0)
            i.sourceDateDepot = s.int(2).flatMap(CalendarDate.init(yyyymmdd:))
            i.tauxFacturation = s.double(4)
            i.bandePSU = s.int(5)
            i.tauxOccupation = s.double(6)
            i.heuresParPlace = s.double(7)
            i.variationHeuresParPlace = s.double(8)
            i.coutHeure = s.double(9)
            i.coutPlace = s.double(10)
            i.ecartPrevisionnelHeures = s.double(11)
            i.ecartPrevisionnelCharges = s.double(12)
            i.participationHoraire = s.double(13)
            i.variationParticipationHoraire = s.double(14)
            i.enfantsParPlace = s.double(15)
            i.etpParPlace = s.double(16)
            i.joursRetardReel = s.int(18)
            i.dernierControle = s.int(21).flatMap(CalendarDate.init(yyyymmdd:))
            return EquipmentYear(indicators: i, packedDigits: Int64(chiffres ?? 0))
        }
    }
}
