import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// One figure of a bilan, as `bilan-<ID>.csv` holds it.
public struct BilanFigure: Sendable, Equatable {
    public enum Level: String, Sendable { case national = "NATIONAL", pole = "POLE", caf = "CAF" }
    public var level: Level
    public var code: String
    /// TOUS, CIBLE, ALEATOIRE, OBLIGATOIRE or MULTI.
    public var tirage: String
    public var indicator: String
    public var value: Double
    public var low: Double?
    public var high: Double?
}

/// A planned or observed line of a campaign, with its control when one was done.
public struct BilanLine: Sendable {
    public var equipementId: Int64
    public var caf: String
    public var pole: String
    /// CIBLE, ALEATOIRE, OBLIGATOIRE or MULTI.
    public var tirage: String
    public var rang: Int
    public var probabilite: Double
    public var score: Double?
    public var planned: Bool
    public var control: LinkedControl?
}

/// A control outcome linked to a campaign.
public struct LinkedControl: Sendable {
    public var date: Int
    public var origine: String
    public var anomalie: Bool
    public var indu: Double
    public var rappel: Double
    public var codes: [String]
}

/// What the bilan of a campaign is computed from.
public struct BilanInputs: Sendable {
    public var campagne: String
    /// Whether ciblage planned it (else: historical, from the controls' ORIGINE alone).
    public var planned: Bool
    public var lines: [BilanLine]
    /// Per Caf: the random pool size N and certainty lines planned (planned campaigns), or the
    /// Caf's active equipments (historical ones, where random controls are taken as a simple
    /// random sample of them).
    public var pools: [String: Int]
    public var objectifs: [String: Int]
}

/// Reads a campaign's plan and its controls, and links them.
///
/// Linking: a control belongs to the campaign when its CAMPAGNE column names it; a control
/// without CAMPAGNE belongs to it when its equipment is in the plan and it took place within 12
/// months from the campaign's reference date. A control naming the campaign on an equipment
/// outside the plan counts as « hors plan ». Each planned line takes its first linked control.
public enum BilanStore {
    public static func load(_ db: Database, campagne: String, referentiel: Referentiel) throws -> BilanInputs {
        let manifestText = try String.fetchOne(db, sql: "SELECT manifeste FROM campagne WHERE id = ?", arguments: [campagne])
        var lines: [BilanLine] = []
        var pools: [String: Int] = [:]
        var objectifs: [String: Int] = [:]
        func pole(_ caf: String) -> String { referentiel.departements[caf]?.pole ?? "INCONNU" }

        let controls = try Row.fetchAll(
            db,
            sql: """
                SELECT c.equipement_id, c.date_controle, c.origine, c.resultat, c.montant_indu, c.montant_rappel, c.anomalies,
                    c.campagne, e.caf
                FROM controle c JOIN equipement e ON e.id = c.equipement_id
                ORDER BY c.date_controle, c.id
                """)
        func linked(_ r: Row) -> LinkedControl {
            LinkedControl(
                date: r[1], origine: r[2], anomalie: r[3] == "ANOMALIE", indu: r[4], rappel: r[5],
                codes: (r[6] as String).split(separator: "|").map(String.init))
        }

        if let manifestText {
            struct Manifest: Decodable {
                var dateReference: String
                var configuration: Configuration
                var plansLocaux: [Local]
                struct Configuration: Decodable { var objectifs: [String: Int] }
                struct Local: Decodable { var caf: String; var populationAleatoire: Int }
            }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let manifest = try decoder.decode(Manifest.self, from: Data(manifestText.utf8))
            objectifs = manifest.configuration.objectifs
            for l in manifest.plansLocaux { pools[l.caf] = l.populationAleatoire }
            let start = CalendarDate(french: manifest.dateReference)!
            let end = CalendarDate(year: start.year + 1, month: start.month, day: min(start.day, 28))!
            let window = start.yyyymmdd...end.yyyymmdd
            var index: [Int64: Int] = [:]
            for r in try Row.fetchAll(
                db,
                sql: """
                    SELECT l.equipement_id, e.caf, l.plan, l.tirage, l.rang, l.probabilite_inclusion, l.score
                    FROM campagne_ligne l JOIN equipement e ON e.id = l.equipement_id
                    WHERE l.campagne_id = ? ORDER BY l.plan, l.code_plan, l.rang
                    """, arguments: [campagne])
            {
                let caf: String = r[1]
                let plan: String = r[2]
                index[r[0]] = lines.count
                lines.append(
                    BilanLine(
                        equipementId: r[0], caf: caf, pole: pole(caf), tirage: plan == "MULTI" ? "MULTI" : r[3], rang: r[4],
                        probabilite: r[5], score: r[6], planned: true, control: nil))
            }
            for r in controls {
                let id: Int64 = r[0]
                let named: String? = r[7]
                let date: Int = r[1]
                if let i = index[id] {
                    guard lines[i].control == nil else { continue }
                    if named == campagne || (named == nil && window.contains(date)) { lines[i].control = linked(r) }
                } else if named == campagne {
                    let caf: String = r[8]
                    lines.append(
                        BilanLine(
                            equipementId: id, caf: caf, pole: pole(caf), tirage: "HORS_PLAN", rang: 0, probabilite: 1, score: nil,
                            planned: false, control: linked(r)))
                }
            }
            return BilanInputs(campagne: campagne, planned: true, lines: lines, pools: pools, objectifs: objectifs)
        }

        // A campaign ciblage never planned: its controls, by ORIGINE.
        var lastYear = 0
        for r in controls where (r[7] as String?) == campagne {
            let caf: String = r[8]
            let origine: String = r[2]
            let tirage = origine == "ALEATOIRE" ? "ALEATOIRE" : origine == "CIBLAGE" ? "CIBLE" : origine == "MULTI_DEPARTEMENTAL" ? "MULTI" : "AUTRE"
            let c = linked(r)
            lastYear = max(lastYear, c.date / 10000 - 1)
            lines.append(
                BilanLine(equipementId: r[0], caf: caf, pole: pole(caf), tirage: tirage, rang: 0, probabilite: 0, score: nil, planned: false, control: c))
        }
        guard !lines.isEmpty else { throw BilanError.unknownCampaign(campagne) }
        for r in try Row.fetchAll(
            db,
            sql: """
                SELECT caf, count(*) FROM equipement
                WHERE date_ouverture <= ? AND (date_fermeture IS NULL OR date_fermeture >= ?) GROUP BY caf
                """, arguments: [lastYear * 10000 + 1231, lastYear * 10000 + 101])
        {
            pools[r[0]] = r[1]
        }
        return BilanInputs(campagne: campagne, planned: false, lines: lines, pools: pools, objectifs: [:])
    }
}

public enum BilanError: Error, CustomStringConvertible {
    case unknownCampaign(String)
    public var description: String {
        switch self {
        case .unknownCampaign(let id): "campagne inconnue : « \(id) » n'est ni planifiée dans le store ni citée par un contrôle"
        }
    }
}
