import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// What the score needs to know of an equipment besides its figures.
public struct EquipmentProfile: Sendable {
    public var id: Int64
    public var nDossier: String
    public var nature: String
    public var sirenGestionnaire: String
    public var statut: String
    public var caf: String
    public var qpv: Bool
    public var zrr: Bool
    public var placesAgreees: Int?
    /// `yyyymmdd`.
    public var ouverture: Int
    public var fermeture: Int?

    /// Open on one day of `exercice` at least.
    public func isActive(during exercice: Int) -> Bool {
        ouverture <= exercice * 10000 + 1231 && (fermeture.map { $0 >= exercice * 10000 + 101 } ?? true)
    }
}

/// A stored control outcome, as the history indicators and the training of the score see it.
public struct StoredControl: Sendable {
    public var equipementId: Int64
    public var date: CalendarDate
    /// Exercices the control covered, ascending.
    public var exercices: [Int]
    public var origine: OrigineControle
    public var type: TypeControle
    public var anomalie: Bool
    /// Euros.
    public var indu: Double

    public var asPast: PastControl { PastControl(date: date, anomalie: anomalie, indu: indu) }
}

/// Reads the inputs of the indicators from the store, and stores the indicators.
public enum IndicatorStore {
    /// The date before which controls count as history when scoring `exercice`: 1 January of
    /// N+1, the end of the exercice. The score is trained on controls of later years against
    /// the history known at the end of the exercice they covered, so scoring uses the same
    /// cut, and a control never explains itself.
    public static func defaultAsOf(_ exercice: Int) -> CalendarDate {
        CalendarDate(year: exercice + 1, month: 1, day: 1)!
    }

    /// Every equipment of the registry, by id.
    public static func profiles(_ db: Database) throws -> [EquipmentProfile] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT id, n_dossier, nature, siren_gestionnaire, statut_gestionnaire, caf, qpv, zrr,
                    places_agreees, date_ouverture, date_fermeture
                FROM equipement ORDER BY id
                """
        ).map {
            EquipmentProfile(
                id: $0[0], nDossier: $0[1], nature: $0[2], sirenGestionnaire: $0[3], statut: $0[4], caf: $0[5],
                qpv: $0[6], zrr: $0[7], placesAgreees: $0[8], ouverture: $0[9], fermeture: $0[10])
        }
    }

    /// Every stored control, oldest first.
    public static func controls(_ db: Database) throws -> [StoredControl] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT equipement_id, date_controle, exercices, origine, type_controle, resultat, montant_indu
                FROM controle ORDER BY date_controle, id
                """
        ).compactMap { row in
            guard let date = CalendarDate(yyyymmdd: row[1]), let origine = OrigineControle(rawValue: row[3]),
                let type = TypeControle(rawValue: row[4])
            else { return nil }
            let exercices = (row[2] as String).split(separator: "|").compactMap { Int($0) }
            return StoredControl(
                equipementId: row[0], date: date, exercices: exercices, origine: origine, type: type,
                anomalie: row[5] == ResultatControle.anomalie.rawValue, indu: row[6])
        }
    }

    /// The inputs of every equipment active during `exercice` (open on one day of it at least).
    /// Controls count when dated before `asOf` (by default ``defaultAsOf(_:)``).
    public static func inputs(_ db: Database, exercice: Int, asOf: CalendarDate? = nil) throws -> [IndicatorInputs] {
        var result: [IndicatorInputs] = []
        let profiles = try profiles(db)
        let controls = try controls(db)
        try forEachExercice(db, exercices: exercice...exercice, profiles: profiles, controls: controls, asOf: { _ in asOf ?? defaultAsOf(exercice) }) {
            result = $1
        }
        return result
    }

    /// Reads the declarations of `exercices` (and the two years before, for N-1 and the funding
    /// at stake) in one ordered scan, and calls `body` once per exercice, in order, with the
    /// inputs of the equipments active that year, ordered by id. Only two years of figures are
    /// held at once. Controls count when dated before `asOf(exercice)`.
    public static func forEachExercice(
        _ db: Database, exercices: ClosedRange<Int>, profiles: [EquipmentProfile], controls: [StoredControl],
        asOf: (Int) -> CalendarDate, _ body: (Int, [IndicatorInputs]) throws -> Void
    ) throws {
        var index: [Int64: Int] = [:]
        for (i, p) in profiles.enumerated() { index[p.id] = i }
        var controlsByEquipment: [[StoredControl]] = Array(repeating: [], count: profiles.count)
        for c in controls { if let i = index[c.equipementId] { controlsByEquipment[i].append(c) } }

        // Figures of the year being read and of the year before, by profile index.
        var current: [[NatureDeclaration: DatedFigures]] = Array(repeating: [:], count: profiles.count)
        var previous = current
        // Funding of each year: from its most advanced declaration (réel, else actualisé, else
        // prévisionnel), the latest filed of that nature.
        var funding: [[Int: (nature: NatureDeclaration, amount: Double)]] = Array(repeating: [:], count: profiles.count)
        var year = exercices.lowerBound - 2

        func finish(_ y: Int) throws {
            if exercices.contains(y) {
                let cutoff = asOf(y)
                var inputs: [IndicatorInputs] = []
                for (i, p) in profiles.enumerated() where p.isActive(during: y) {
                    inputs.append(
                        IndicatorInputs(
                            equipementId: p.id, exercice: y, placesAgreees: p.placesAgreees, current: current[i],
                            previousYear: previous[i], fundingByExercice: funding[i].mapValues(\.amount),
                            controls: controlsByEquipment[i].lazy.filter { $0.date < cutoff }.map(\.asPast)))
                }
                try body(y, inputs)
            }
            swap(&current, &previous)
            for i in current.indices where !current[i].isEmpty { current[i] = [:] }
        }

        try Store.scanDeclarations(db, exercices: (exercices.lowerBound - 2)...exercices.upperBound) { d in
            guard let i = index[d.equipementId] else { return }
            while d.exercice > year {
                try finish(year)
                year += 1
            }
            current[i][d.nature] = DatedFigures(dateDepot: d.dateDepot, figures: d.figures)
            if let known = funding[i][d.exercice], known.nature.rawValue > d.nature.rawValue { return }
            funding[i][d.exercice] = (d.nature, (d.figures.prestationCaf ?? 0) + (d.figures.bonusCaf ?? 0))
        }
        while year <= exercices.upperBound {
            try finish(year)
            year += 1
        }
    }

    /// Replaces the indicators of `exercice` by `indicators` (call inside the stage's transaction).
    public static func save(_ db: Database, exercice: Int, _ indicators: [EquipmentIndicators], computedAt: String) throws {
        try db.execute(sql: "DELETE FROM indicateur WHERE exercice = ?", arguments: [exercice])
        let statement = try db.makeStatement(
            sql: """
                INSERT INTO indicateur VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for i in indicators where i.exercice == exercice {
            try statement.execute(arguments: [
                i.exercice, i.equipementId, i.source?.rawValue, i.sourceDateDepot?.yyyymmdd, i.places, i.tauxFacturation, i.bandePSU,
                i.tauxOccupation, i.heuresParPlace, i.variationHeuresParPlace, i.coutHeure, i.coutPlace,
                i.ecartPrevisionnelHeures, i.ecartPrevisionnelCharges, i.participationHoraire,
                i.variationParticipationHoraire, i.enfantsParPlace, i.etpParPlace, i.reelManquant, i.joursRetardReel,
                i.chiffresRonds, i.chiffresExamines, i.dernierControle?.yyyymmdd, i.controlesPasses,
                i.anomaliesPassees, i.indusPasses, i.enjeuEuros, computedAt,
            ])
        }
    }
}
