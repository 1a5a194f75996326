import CiblageModel
import CiblageReports
import CiblageStore
import Foundation
import GRDB

/// The `ciblage-select` stage: plans a campaign from the scores in the store, stores it (one
/// transaction, replacing a campaign of the same id) and writes its files.
public struct CampaignStage {
    /// The version written in every manifest.
    public static let version = "0.4.0"

    public var store: Store
    public var referentiel: Referentiel

    public init(store: Store, referentiel: Referentiel) {
        self.store = store
        self.referentiel = referentiel
    }

    public func run(_ config: CampaignConfig, output: URL, now: Date = Date()) throws -> CampaignPlan {
        // Whether the store is as a stage that knew it sound sealed it: computed while the plans
        // are made; if so, it is sealed again once the campaign is stored.
        let (seal, candidates, modelVersion) = try store.dbQueue.read { db in
            (try store.checkSeal(db), try CandidateStore.load(db, exercice: config.exercice),
             try String.fetchOne(
                db, sql: "SELECT m.version FROM score s JOIN modele_score m ON m.id = s.modele_id WHERE s.exercice = ? LIMIT 1",
                arguments: [config.exercice]) ?? "")
        }
        guard !candidates.isEmpty else { throw CampaignError.noScores(exercice: config.exercice) }
        // The fingerprint of what was read is computed on another thread while the plans are made.
        let fingerprint = BackgroundWork { CandidateStore.fingerprint(candidates, modelVersion: modelVersion) }
        let plan = Planner(config: config, referentiel: referentiel).plan(candidates)
        let manifest = try CampaignOutputs.manifest(
            plan, fingerprint: try fingerprint.wait(), modelVersion: modelVersion, referentielVersion: referentiel.version)

        // Every file written and synced under a temporary name first, then the store, then the
        // renames: a full disk or a failed transaction leaves neither files nor a stored campaign.
        let batch = OutputBatch()
        let poles = Set(plan.groups.map(\.pole)).union(config.capacitesPoles.keys).sorted()
        // The workbook is made on another thread while the CSVs and the synthesis are written.
        let workbook = BackgroundWork { try CampaignWorkbook.campaign(plan, manifest: manifest, poles: poles).bytes() }
        for local in plan.locals {
            try CampaignOutputs.writeLocal(local.lines, to: output.appendingPathComponent("plan-local-\(local.caf).csv"), batch: batch)
        }
        for pole in poles {
            try CampaignOutputs.writeMulti(
                plan.groups.filter { $0.pole == pole }, to: output.appendingPathComponent("plan-multi-\(pole).csv"), batch: batch)
        }
        try batch.add(output.appendingPathComponent("campagne.json"), manifest)
        let synthesis = Synthesis.report(plan, candidates: candidates)
        try batch.add(output.appendingPathComponent("campagne.xlsx"), try workbook.wait())
        try synthesis.write(to: output.appendingPathComponent("synthese.html"), in: batch)
        try batch.finish()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let configuration = String(decoding: try encoder.encode(config), as: UTF8.self)
        seal.settle()
        try store.dbQueue.write { db in
            try db.execute(sql: "DELETE FROM campagne WHERE id = ?", arguments: [config.id])
            try db.execute(
                sql: "INSERT INTO campagne VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    config.id, config.exercice, Int64(bitPattern: config.graine), config.dateReference, configuration,
                    String(decoding: manifest, as: UTF8.self), ISO8601DateFormatter().string(from: now),
                ])
            let statement = try db.makeStatement(sql: "INSERT INTO campagne_ligne VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            for local in plan.locals {
                for line in local.lines {
                    try statement.execute(arguments: Self.row(config.id, "LOCAL", local.caf, line, group: nil))
                }
            }
            for group in plan.groups {
                for line in group.sites {
                    try statement.execute(arguments: Self.row(config.id, "MULTI", group.pole, line, group: group.siren))
                }
            }
        }
        store.reseal()
        try batch.publish()
        return plan
    }

    static func row(_ id: String, _ plan: String, _ code: String, _ line: PlanLine, group: String?) -> StatementArguments {
        let c = line.candidate
        return [
            id, c.equipementId, plan, code, line.rang, line.tirage.rawValue, line.probabiliteInclusion, group, c.score, c.enjeu,
            c.priorite, c.motifs,
        ]
    }
}

/// `ciblage-export`: one Caf's local plan from a stored campaign, without re-running anything.
public enum CampaignExport {
    /// Writes the Caf's plan as `plan-local-<CAF>.csv` would hold it; returns its line count.
    /// Writes the Caf's plan of a stored campaign to `url`: the plan-local CSV, or with
    /// `workbook` an Excel workbook (``CampaignWorkbook/export(_:caf:manifest:)``). Returns the
    /// number of lines.
    public static func export(_ db: Database, campagne: String, caf: String, to url: URL, workbook: Bool = false) throws -> Int {
        guard let manifest = try String.fetchOne(db, sql: "SELECT manifeste FROM campagne WHERE id = ?", arguments: [campagne])
        else { throw CampaignError.unknownCampaign(campagne) }
        // The Cafs planned, even with an empty plan, are in the manifest.
        struct Planned: Decodable { var plansLocaux: [Local] }
        struct Local: Decodable { var caf: String }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let planned = (try? decoder.decode(Planned.self, from: Data(manifest.utf8)))?.plansLocaux.map(\.caf) ?? []
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT l.rang, l.tirage, l.probabilite_inclusion, l.score, l.enjeu_euros, l.priorite, l.motifs,
                    e.id, e.n_dossier, e.nom, e.nature, e.commune, e.siren_gestionnaire, e.nom_gestionnaire,
                    e.statut_gestionnaire, e.departement_siege, e.caf, e.qpv, e.zrr, e.date_fermeture
                FROM campagne_ligne l JOIN equipement e ON e.id = l.equipement_id
                WHERE l.campagne_id = ? AND l.plan = 'LOCAL' AND l.code_plan = ?
                ORDER BY l.rang
                """, arguments: [campagne, caf])
        guard planned.contains(caf) || !rows.isEmpty else { throw CampaignError.noLocalPlan(campagne: campagne, caf: caf) }
        let lines = rows.map { r in
            PlanLine(
                candidate: Candidate(
                    equipementId: r["id"], nDossier: r["n_dossier"], nom: r["nom"], nature: r["nature"], commune: r["commune"],
                    siren: r["siren_gestionnaire"], nomGestionnaire: r["nom_gestionnaire"], statut: r["statut_gestionnaire"],
                    departementSiege: r["departement_siege"], caf: r["caf"], qpv: r["qpv"], zrr: r["zrr"],
                    fermeture: r["date_fermeture"], score: r["score"], enjeu: r["enjeu_euros"], priorite: r["priorite"],
                    motifs: r["motifs"], controles: 0, dernierControle: nil, anomalies: 0),
                rang: r["rang"], tirage: Tirage(rawValue: r["tirage"]) ?? .cible, probabiliteInclusion: r["probabilite_inclusion"])
        }
        let batch = OutputBatch()
        if workbook {
            try CampaignWorkbook.export(lines, caf: caf, manifest: Data(manifest.utf8)).write(to: url, in: batch)
        } else {
            try CampaignOutputs.writeLocal(lines, to: url, batch: batch)
        }
        try batch.commit()
        return lines.count
    }
}

public enum CampaignError: Error, CustomStringConvertible {
    case noScores(exercice: Int)
    case unknownCampaign(String)
    case noLocalPlan(campagne: String, caf: String)

    public var description: String {
        switch self {
        case .noScores(let e): "aucun score pour l'exercice \(e) dans le store : lancer d'abord ciblage-score --exercice \(e)"
        case .unknownCampaign(let id): "campagne inconnue dans le store : « \(id) »"
        case .noLocalPlan(let id, let caf): "la campagne « \(id) » n'a pas de plan local pour la Caf « \(caf) »"
        }
    }
}
