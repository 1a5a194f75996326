import CiblageModel
import CiblageReperes
import CiblageScoring
import CiblageStore
import Foundation
import GRDB

/// A line of a stored campaign's plan (local or multi-departmental).
public struct PlannedLine: Sendable {
    public var equipementId: Int64
    /// `LOCAL` or `MULTI`.
    public var plan: String
    /// The Caf of a local plan, the pôle of a multi plan.
    public var codePlan: String
    public var rang: Int
    /// OBLIGATOIRE, CIBLE, ALEATOIRE or SIEGE.
    public var tirage: String
    /// Inclusion probability of the line (1 for a line chosen by a rule or by the score).
    public var probabilite: Double
    public var sirenGroupe: String?
    /// Estimated probability of an anomaly with an indu (0–1).
    public var score: Double
    /// Caf funding at stake over the exercices a control covers (euros).
    public var enjeu: Double
    /// Ranking key: expected indu (euros).
    public var priorite: Double
    public var motifs: [String]
}

/// An equipment as the registry describes it.
public struct EquipmentCard: Sendable {
    public var id: Int64
    public var nDossier, nom, nature, siret, siren, nomGestionnaire, statut, siege, caf, commune: String
    public var places: Int?
    /// `yyyymmdd`.
    public var ouverture: Int
    public var fermeture: Int?
    public var qpv, zrr, ctg: Bool
}

/// One declaration, the current one of its nature (latest filing date).
public struct DeclarationFigures: Sendable {
    public var exercice: Int
    public var nature: NatureDeclaration
    /// `yyyymmdd`.
    public var dateDepot: Int
    /// Values in the order of ``DossierData/declarationFields``; `nil` when missing.
    public var values: [Double?]
}

/// A control outcome of the history.
public struct ControlRecord: Sendable {
    public var equipementId: Int64
    public var idControle, exercices, type, origine, resultat, anomalies: String
    public var campagne: String?
    /// `yyyymmdd`.
    public var date: Int
    /// Euros.
    public var indu, rappel: Double
}

/// Another equipment of the same manager, with its score of the exercice and its findings.
public struct SiblingEquipment: Sendable {
    public var id: Int64
    public var nDossier, nom, nature, caf: String
    public var score: Double?
    public var priorite: Double?
    public var controles, anomalies: Int
    /// Euros.
    public var indus: Double
}

/// An indicator shown against its peer group (same nature and size band).
public struct PeerIndicator: Sendable {
    public var key: String
    public var label: String
    /// `%` for ratios, else the unit written after the figure.
    public var unit: String
    public var isRatio: Bool
}

/// Everything the dossiers of a campaign are written from, read from the store in a few bulk
/// queries (one per table, not one per line).
public struct DossierData: Sendable {
    public var campagne: String
    public var libelle: String?
    public var exercice: Int
    /// `yyyymmdd`.
    public var dateReference: Int
    public var graine: UInt64
    public var lines: [PlannedLine]
    public var equipments: [Int64: EquipmentCard]
    public var declarations: [Int64: [DeclarationFigures]]
    public var controls: [Int64: [ControlRecord]]
    /// Indicator key → value, per planned equipment, for the campaign's exercice.
    public var indicators: [Int64: [String: Double]]
    /// Indicator key → peer cell (`NATURE|BAND`) → sorted values of the exercice.
    public var peers: [String: [String: [Double]]]
    /// Indicator key → every value of the exercice, sorted (the peers of a cell under 5).
    public var nationalPeers: [String: [Double]] = [:]
    /// SIREN → every equipment of that manager (all Cafs).
    public var siblings: [String: [SiblingEquipment]]
    /// Per planned equipment: the score's contribution of each feature (log-odds), in
    /// ``Feature`` order.
    public var contributions: [Int64: [Double]]
    public var referentiel: Referentiel

    /// The declared fields shown side by side: column, label, decimals.
    public static let declarationFields: [(column: String, label: String, euros: Bool)] = [
        ("places", "Places", false), ("jours_ouverture", "Jours d'ouverture", false), ("heures_ouverture", "Heures d'ouverture", false),
        ("heures_realisees", "Heures réalisées", false), ("heures_facturees", "Heures facturées", false), ("nb_enfants", "Enfants", false),
        ("total_charges", "Total des charges", true), ("charges_personnel", "Charges de personnel", true),
        ("total_produits", "Total des produits", true), ("participations_familles", "Participations des familles", true),
        ("prestation_caf", "Prestation Caf", true), ("bonus_caf", "Bonus Caf", true),
        ("subventions_collectivites", "Subventions des collectivités", true), ("etp", "ETP", false),
    ]

    /// The indicators compared with peers.
    public static let peerIndicators: [PeerIndicator] = [
        PeerIndicator(key: "taux_facturation", label: "Taux de facturation", unit: "%", isRatio: true),
        PeerIndicator(key: "taux_occupation", label: "Taux d'occupation", unit: "%", isRatio: true),
        PeerIndicator(key: "heures_par_place", label: "Heures réalisées par place", unit: "h", isRatio: false),
        PeerIndicator(key: "cout_heure", label: "Prix de revient par heure", unit: "€", isRatio: false),
        PeerIndicator(key: "cout_place", label: "Prix de revient par place", unit: "€", isRatio: false),
        PeerIndicator(key: "participation_horaire", label: "Participation familiale par heure", unit: "€", isRatio: false),
        PeerIndicator(key: "enfants_par_place", label: "Enfants par place", unit: "", isRatio: false),
        PeerIndicator(key: "etp_par_place", label: "ETP par place", unit: "", isRatio: false),
    ]

    /// The peer cell of an equipment: nature and size band.
    public func cell(_ e: EquipmentCard) -> String {
        "\(e.nature)|\(e.places.flatMap { referentiel.sizeBand(places: $0)?.code } ?? "")"
    }

    /// Reads the campaign `campagne` (all its lines, or those of `caf` / of one `nDossier`).
    public static func load(
        _ db: Database, campagne: String, caf: String? = nil, nDossier: String? = nil, referentiel: Referentiel
    ) throws -> DossierData {
        guard let head = try Row.fetchOne(db, sql: "SELECT exercice, graine, date_reference, manifeste FROM campagne WHERE id = ?", arguments: [campagne])
        else { throw DossierError.unknownCampaign(campagne, known: try String.fetchAll(db, sql: "SELECT id FROM campagne ORDER BY id")) }
        let exercice: Int = head["exercice"]
        struct Manifest: Decodable { var libelle: String? }
        let libelle = (try? JSONDecoder().decode(Manifest.self, from: Data((head["manifeste"] as String).utf8)))?.libelle

        var filter = ""
        var arguments: StatementArguments = [campagne]
        if let caf {
            filter += " AND e.caf = ?"
            _ = arguments.append(contentsOf: [caf])
        }
        if let nDossier {
            filter += " AND e.n_dossier = ?"
            _ = arguments.append(contentsOf: [nDossier])
        }
        let lines = try Row.fetchAll(
            db,
            sql: """
                SELECT l.equipement_id, l.plan, l.code_plan, l.rang, l.tirage, l.probabilite_inclusion, l.siren_groupe, l.score,
                    l.enjeu_euros, l.priorite, l.motifs
                FROM campagne_ligne l JOIN equipement e ON e.id = l.equipement_id
                WHERE l.campagne_id = ?\(filter)
                ORDER BY l.plan DESC, l.code_plan, l.rang, e.n_dossier
                """, arguments: arguments
        ).map { r in
            PlannedLine(
                equipementId: r["equipement_id"], plan: r["plan"], codePlan: r["code_plan"], rang: r["rang"], tirage: r["tirage"],
                probabilite: r["probabilite_inclusion"], sirenGroupe: r["siren_groupe"], score: r["score"], enjeu: r["enjeu_euros"],
                priorite: r["priorite"], motifs: (r["motifs"] as String).components(separatedBy: " | ").filter { !$0.isEmpty })
        }
        if lines.isEmpty {
            if let nDossier { throw DossierError.notPlanned(campagne: campagne, what: "l'équipement \(nDossier)") }
            if let caf { throw DossierError.notPlanned(campagne: campagne, what: "la Caf \(caf)") }
        }

        // The planned equipments and every sibling of their managers, in a temporary table.
        try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS dossier_ids (id INTEGER PRIMARY KEY)")
        try db.execute(sql: "DELETE FROM dossier_ids")
        let insert = try db.makeStatement(sql: "INSERT OR IGNORE INTO dossier_ids VALUES (?)")
        for line in lines { try insert.execute(arguments: [line.equipementId]) }
        defer { try? db.execute(sql: "DROP TABLE IF EXISTS dossier_ids") }

        func card(_ r: Row) -> EquipmentCard {
            EquipmentCard(
                id: r["id"], nDossier: r["n_dossier"], nom: r["nom"], nature: r["nature"], siret: r["siret"], siren: r["siren_gestionnaire"],
                nomGestionnaire: r["nom_gestionnaire"], statut: r["statut_gestionnaire"], siege: r["departement_siege"], caf: r["caf"],
                commune: r["commune"], places: r["places_agreees"], ouverture: r["date_ouverture"], fermeture: r["date_fermeture"],
                qpv: r["qpv"], zrr: r["zrr"], ctg: r["ctg"])
        }
        var equipments: [Int64: EquipmentCard] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT e.* FROM equipement e JOIN dossier_ids d ON d.id = e.id") {
            let c = card(r)
            equipments[c.id] = c
        }

        // Siblings: every equipment of the planned managers, with score and findings.
        var siblings: [String: [SiblingEquipment]] = [:]
        let sirens = Set(equipments.values.map(\.siren))
        let siblingRows = try Row.fetchAll(
            db,
            sql: """
                SELECT e.id, e.n_dossier, e.nom, e.nature, e.caf, e.siren_gestionnaire, s.score, s.priorite,
                    (SELECT count(*) FROM controle c WHERE c.equipement_id = e.id) AS controles,
                    (SELECT count(*) FROM controle c WHERE c.equipement_id = e.id AND c.resultat = 'ANOMALIE') AS anomalies,
                    (SELECT coalesce(sum(c.montant_indu), 0) FROM controle c WHERE c.equipement_id = e.id) AS indus
                FROM equipement e LEFT JOIN score s ON s.equipement_id = e.id AND s.exercice = ?
                WHERE e.siren_gestionnaire IN (SELECT DISTINCT e2.siren_gestionnaire FROM equipement e2 JOIN dossier_ids d ON d.id = e2.id)
                ORDER BY e.siren_gestionnaire, s.priorite DESC, e.n_dossier
                """, arguments: [exercice])
        for r in siblingRows {
            let siren: String = r[5]
            guard sirens.contains(siren) else { continue }
            siblings[siren, default: []].append(
                SiblingEquipment(
                    id: r[0], nDossier: r[1], nom: r[2], nature: r[3], caf: r[4], score: r[6], priorite: r[7], controles: r[8],
                    anomalies: r[9], indus: r[10]))
        }

        // Declarations of the exercices a control covers (N-2 … N): the current one of each nature.
        var declarations: [Int64: [DeclarationFigures]] = [:]
        let columns = declarationFields.map { "dc.\($0.column)" }.joined(separator: ", ")
        for r in try Row.fetchAll(
            db,
            sql: """
                SELECT dc.equipement_id, dc.exercice, dc.nature, dc.date_depot, \(columns)
                FROM declaration_chiffres dc JOIN dossier_ids d ON d.id = dc.equipement_id
                WHERE dc.exercice BETWEEN ? AND ?
                ORDER BY dc.equipement_id, dc.exercice, dc.nature, dc.date_depot
                """, arguments: [exercice - 2, exercice])
        {
            // Columns by position (a name lookup per cell costs more than the query).
            guard let nature = NatureDeclaration(rawValue: r[2]) else { continue }
            let figures = DeclarationFigures(
                exercice: r[1], nature: nature, dateDepot: r[3], values: (0..<declarationFields.count).map { i -> Double? in r[4 + i] })
            let id: Int64 = r[0]
            var list = declarations[id, default: []]
            // Ordered by filing date: a later one of the same nature replaces the earlier.
            if let last = list.last, last.exercice == figures.exercice, last.nature == figures.nature { list.removeLast() }
            list.append(figures)
            declarations[id] = list
        }

        var controls: [Int64: [ControlRecord]] = [:]
        for r in try Row.fetchAll(
            db,
            sql: """
                SELECT c.* FROM controle c JOIN dossier_ids d ON d.id = c.equipement_id ORDER BY c.equipement_id, c.date_controle, c.id_controle
                """)
        {
            controls[r["equipement_id"], default: []].append(
                ControlRecord(
                    equipementId: r["equipement_id"], idControle: r["id_controle"], exercices: r["exercices"], type: r["type_controle"],
                    origine: r["origine"], resultat: r["resultat"], anomalies: r["anomalies"], campagne: r["campagne"], date: r["date_controle"],
                    indu: r["montant_indu"], rappel: r["montant_rappel"]))
        }

        // Indicators of the exercice: the planned equipments' own, and every equipment's for the peers.
        var indicators: [Int64: [String: Double]] = [:]
        var peers: [String: [String: [Double]]] = [:]
        let keys = peerIndicators.map(\.key)
        for r in try Row.fetchAll(
            db,
            sql: """
                SELECT i.equipement_id, e.nature, e.places_agreees, \(keys.map { "i.\($0)" }.joined(separator: ", "))
                FROM indicateur i JOIN equipement e ON e.id = i.equipement_id WHERE i.exercice = ?
                """, arguments: [exercice])
        {
            let places: Int? = r[2]
            let cell = "\(r[1] as String)|\(places.flatMap { referentiel.sizeBand(places: $0)?.code } ?? "")"
            let id: Int64 = r[0]
            let planned = equipments[id] != nil
            for (k, key) in keys.enumerated() {
                guard let value: Double = r[3 + k], value.isFinite else { continue }
                peers[key, default: [:]][cell, default: []].append(value)
                if planned { indicators[id, default: [:]][key] = value }
            }
        }
        var nationalPeers: [String: [Double]] = [:]
        for key in peers.keys {
            for cell in peers[key]!.keys { peers[key]![cell]!.sort() }
            nationalPeers[key] = peers[key]!.values.flatMap { $0 }.sorted()
        }

        var contributions: [Int64: [Double]] = [:]
        for r in try Row.fetchAll(
            db, sql: "SELECT s.equipement_id, s.contributions FROM score s JOIN dossier_ids d ON d.id = s.equipement_id WHERE s.exercice = ?",
            arguments: [exercice])
        {
            contributions[r["equipement_id"]] = (r["contributions"] as String).split(separator: ",").map { (Double($0) ?? 0) / 1000 }
        }

        return DossierData(
            campagne: campagne, libelle: libelle, exercice: exercice, dateReference: head["date_reference"],
            graine: UInt64(bitPattern: head["graine"]), lines: lines, equipments: equipments, declarations: declarations, controls: controls,
            indicators: indicators, peers: peers, nationalPeers: nationalPeers, siblings: siblings, contributions: contributions,
            referentiel: referentiel)
    }

    /// P10, median and P90 of the peers of `e` for `key` (the national values when the cell has
    /// fewer than 5), and the number of peers.
    public func peerFigures(_ key: String, for e: EquipmentCard) -> (p10: Double, median: Double, p90: Double, n: Int, cell: Bool)? {
        guard let cells = peers[key] else { return nil }
        var values = cells[cell(e)] ?? []
        var own = true
        if values.count < 5 {
            values = nationalPeers[key] ?? []
            own = false
        }
        guard let p10 = Quantile.type7(sorted: values, 0.1), let median = Quantile.type7(sorted: values, 0.5),
            let p90 = Quantile.type7(sorted: values, 0.9)
        else { return nil }
        return (p10, median, p90, values.count, own)
    }

    /// The on-site checks for `line`, most relevant first: a check rises with the score's
    /// contributions of the signals pointing to it, and with the anomalies found by past
    /// controls of the equipment or its manager; the others follow in the procedures' order.
    /// Returns each check with the reasons (motifs or findings) that put it there.
    public func checklist(for line: PlannedLine) -> [(check: Verification, weight: Double, why: [String])] {
        let contributions = contributions[line.equipementId] ?? []
        var weightOf: [String: Double] = [:]
        for (i, feature) in Feature.allCases.enumerated() where i < contributions.count {
            weightOf[feature.code] = max(0, contributions[i])
        }
        let past = controls[line.equipementId] ?? []
        let lowered = line.motifs.map { $0.lowercased() }
        return referentiel.verifications.enumerated().map { index, check -> (Verification, Double, [String], Int) in
            var weight = check.signaux.reduce(0) { $0 + (weightOf[$1] ?? 0) }
            var why: [String] = []
            let found = past.filter { $0.anomalies.split(separator: "|").contains(Substring(check.code)) }
            if !found.isEmpty {
                weight += 1
                why.append("Anomalie \(check.code) constatée lors \(found.count > 1 ? "des contrôles" : "du contrôle") de \(found.map { String($0.date / 10000) }.joined(separator: ", "))")
            }
            if weight > 0 {
                // The motifs whose text names this check's subject.
                let words = Self.keywords[check.code, default: []]
                why += zip(line.motifs, lowered).filter { _, low in words.contains { low.contains($0) } }.map(\.0)
            }
            return (check, weight, why, index)
        }
        .sorted { ($0.1, -$0.3) > ($1.1, -$1.3) }
        .map { ($0.0, $0.1, $0.2) }
    }

    /// Words of the score's motifs that tie them to a check.
    static let keywords: [String: [String]] = [
        "SURCAPACITE": ["occupation", "enfants par place", "places"],
        "HEURES_REALISEES": ["heures réalisées", "heures par place", "prévisionnel"],
        "HEURES_FACTUREES": ["facturation", "heures facturées"],
        "PARTICIPATIONS_FAMILIALES": ["participation"],
        "REPAS_COUCHES": ["participation"],
        "ENCADREMENT": ["etp", "personnel"],
        "CHARGES_HORS_CHAMP": ["coût", "prix de revient", "charges", "chiffres"],
        "DECLARATION_TARDIVE": ["réel", "dépôt", "retard"],
    ]
}

/// Errors of the dossier stage, in French.
public enum DossierError: Error, CustomStringConvertible {
    case unknownCampaign(String, known: [String])
    case notPlanned(campagne: String, what: String)

    public var description: String {
        switch self {
        case .unknownCampaign(let id, let known):
            "campagne inconnue : « \(id) »" + (known.isEmpty ? " (aucune campagne dans le store)" : " (campagnes du store : \(known.joined(separator: ", ")))")
        case .notPlanned(let campagne, let what): "la campagne « \(campagne) » n'a aucune ligne pour \(what)"
        }
    }
}
