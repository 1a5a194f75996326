import CiblageBilan
import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageScoring
import CiblageSelection
import CiblageStore
import Foundation
import GRDB

/// One simulated campaign on a generated world: plan it, carry out every planned control as the
/// ground truth says (a control finds an anomaly exactly when the equipment's 2024 exercice
/// carries one), ingest those outcomes through the real ingestion, and run the bilan.
public struct BilanSimulation {
    public var equipements: Int
    public var seed: UInt64
    public var folder: URL

    public init(equipements: Int, seed: UInt64, folder: URL) {
        self.equipements = equipements
        self.seed = seed
        self.folder = folder
    }

    public struct Outcome: Sendable {
        /// Anomaly rate of the campaign's population in the ground truth.
        public var trueRate: Double
        public var estimate: Double
        public var low: Double
        public var high: Double
        public var populationUnits: Int
        public var controls: Int
        public var covered: Bool { low <= trueRate && trueRate <= high }
    }

    public static let campaign = "SIM"

    public func run() throws -> Outcome {
        let referentiel = Referentiel.bundled
        _ = try Generator(configuration: GeneratorConfiguration(equipements: equipements, seed: seed, malformedRate: 0)).write(to: folder)
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: referentiel).ingest([folder.appendingPathComponent("exports")])
        _ = try ScoreStage(store: store, referentiel: referentiel).run(exercice: 2024)
        let config = try CampaignConfig.parse(
            """
            [campagne]
            id = "\(Self.campaign)"
            exercice = 2024
            graine = \(seed)
            [plan_local]
            taux_controle = 0.12
            part_aleatoire = 0.4
            """, file: "simulation.toml", referentiel: referentiel)
        let plan = try CampaignStage(store: store, referentiel: referentiel).run(config, output: folder.appendingPathComponent("campagne"))

        // The population the estimate is about: the eligible equipments of the planned Cafs
        // (read before the simulated controls make every planned equipment « recently controlled »).
        let candidates = try store.dbQueue.read { try CandidateStore.load($0, exercice: 2024) }
        let planner = Planner(config: config, referentiel: referentiel)
        let (closed, recent) = planner.exclusions(candidates)
        let cafs = Set(plan.locals.filter { !$0.lines.isEmpty }.map(\.caf))
        let frame = candidates.filter { cafs.contains($0.caf) && !closed.contains($0.equipementId) && !recent.contains($0.equipementId) }

        // The ground truth: dossiers with an anomaly in 2024, and its indu.
        var truth: [String: Double] = [:]
        let text = try String(contentsOf: folder.appendingPathComponent("verite/anomalies.csv"), encoding: .utf8)
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ";", omittingEmptySubsequences: false)
            if f.count >= 4, f[1] == "2024" { truth[String(f[0])] = Double(f[3].replacingOccurrences(of: ",", with: ".")) ?? 0 }
        }

        // Every planned control done on 15 January 2025, named after the campaign.
        var rows = [ExportColumns.controles.map(\.name).joined(separator: ";")]
        var number = 0
        for line in plan.locals.flatMap(\.lines) {
            number += 1
            let dossier = line.candidate.nDossier
            let indu = truth[dossier]
            let amount = indu.map { String(format: "%.2f", $0).replacingOccurrences(of: ".", with: ",") } ?? ""
            rows.append(
                "SIM-\(number);\(dossier);2024;15/01/2025;SUR_PLACE;\(line.tirage == .aleatoire ? "ALEATOIRE" : "CIBLAGE");\(Self.campaign);"
                    + "\(indu == nil ? "CONFORME" : "ANOMALIE");\(amount);;\(indu == nil ? "" : "AUTRE")")
        }
        let outcomes = folder.appendingPathComponent("controles-simules.csv")
        try (rows.joined(separator: "\n") + "\n").write(to: outcomes, atomically: true, encoding: .utf8)
        _ = try Ingestor(store: store, referentiel: referentiel).ingest([outcomes])
        let (_, figures) = try BilanStage(store: store, referentiel: referentiel).run(campagne: Self.campaign, output: folder)
        guard let rate = figures.first(where: { $0.level == .national && $0.tirage == "ALEATOIRE" && $0.indicator == "TAUX_ANOMALIE_POPULATION" }),
            let units = figures.first(where: { $0.level == .national && $0.indicator == "EQUIPEMENTS_POPULATION" })
        else { throw BenchmarkError.failed("bilan sans estimation de population (graine \(seed))") }

        let trueRate = Double(frame.filter { truth[$0.nDossier] != nil }.count) / Double(max(1, frame.count))
        return Outcome(
            trueRate: trueRate, estimate: rate.value, low: rate.low ?? 0, high: rate.high ?? 1, populationUnits: Int(units.value),
            controls: number)
    }
}
