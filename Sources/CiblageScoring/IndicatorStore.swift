import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// Reads the inputs of the indicators from the store, and stores the indicators.
public enum IndicatorStore {
    /// The inputs of every equipment active during `exercice` (open on one day of it at least).
    /// Controls count when dated before `asOf` (by default 1 April of N+1, when the réels are in),
    /// so that a control never explains itself when scores are evaluated against it.
    public static func inputs(_ db: Database, exercice: Int, asOf: CalendarDate? = nil) throws -> [IndicatorInputs] {
        let cutoff = asOf ?? CalendarDate(year: exercice + 1, month: 4, day: 1)!
        var inputs: [Int64: IndicatorInputs] = [:]
        var order: [Int64] = []
        let equipments = try Row.fetchCursor(
            db,
            sql: """
                SELECT id, places_agreees FROM equipement
                WHERE date_ouverture <= ? AND (date_fermeture IS NULL OR date_fermeture >= ?)
                ORDER BY id
                """, arguments: [exercice * 10000 + 1231, exercice * 10000 + 101])
        while let row = try equipments.next() {
            let id: Int64 = row[0]
            order.append(id)
            inputs[id] = IndicatorInputs(
                equipementId: id, exercice: exercice, placesAgreees: row[1], current: [:], previousYear: [:],
                fundingByExercice: [:], controls: [])
        }

        // The current declaration of each nature for N-2 … N.
        var funding: [Int64: [Int: (NatureDeclaration, Double)]] = [:]
        let declarations = try Row.fetchCursor(
            db,
            sql: """
                SELECT equipement_id, exercice, nature, date_depot, places, jours_ouverture, nb_enfants,
                    heures_ouverture, heures_realisees, heures_facturees, total_charges, charges_personnel,
                    total_produits, participations_familles, prestation_caf, bonus_caf,
                    subventions_collectivites, etp
                FROM declaration WHERE exercice BETWEEN ? AND ?
                ORDER BY exercice, equipement_id, nature, date_depot
                """, arguments: [exercice - 2, exercice])
        // One ordered scan of the primary key: for each nature the latest date de dépôt comes last
        // and overwrites the earlier ones (the `declaration_courante` view, without its subquery).
        while let row = try declarations.next() {
            let id: Int64 = row[0]
            guard inputs[id] != nil, let nature = NatureDeclaration(rawValue: row[2]),
                let date = CalendarDate(yyyymmdd: row[3])
            else { continue }
            let year: Int = row[1]
            var f = DeclarationFigures()
            f.places = row[4]
            f.joursOuverture = row[5]
            f.nbEnfants = row[6]
            f.heuresOuverture = row[7]
            f.heuresRealisees = row[8]
            f.heuresFacturees = row[9]
            f.totalCharges = row[10]
            f.chargesPersonnel = row[11]
            f.totalProduits = row[12]
            f.participationsFamilles = row[13]
            f.prestationCaf = row[14]
            f.bonusCaf = row[15]
            f.subventionsCollectivites = row[16]
            f.etp = row[17]
            let dated = DatedFigures(dateDepot: date, figures: f)
            if year == exercice { inputs[id]!.current[nature] = dated }
            if year == exercice - 1 { inputs[id]!.previousYear[nature] = dated }
            // Funding of a year: from its most advanced declaration (réel, else actualisé, else
            // prévisionnel), the latest filed of that nature.
            let amount = (f.prestationCaf ?? 0) + (f.bonusCaf ?? 0)
            if let known = funding[id]?[year], known.0.rawValue > nature.rawValue { continue }
            funding[id, default: [:]][year] = (nature, amount)
        }
        for (id, years) in funding { inputs[id]?.fundingByExercice = years.mapValues(\.1) }

        let controls = try Row.fetchCursor(
            db,
            sql: """
                SELECT equipement_id, date_controle, resultat, montant_indu FROM controle
                WHERE date_controle < ? ORDER BY date_controle, id
                """, arguments: [cutoff.yyyymmdd])
        while let row = try controls.next() {
            let id: Int64 = row[0]
            guard inputs[id] != nil, let date = CalendarDate(yyyymmdd: row[1]) else { continue }
            inputs[id]!.controls.append(PastControl(date: date, anomalie: row[2] == "ANOMALIE", indu: row[3]))
        }
        return order.map { inputs[$0]! }
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
