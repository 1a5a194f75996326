import Foundation

/// Times `ciblage-select` (a child process, release build) on the national store of the score
/// bench, with a campaign file of `pipelines/` (all Cafs, multi-departmental plans).
public struct CampaignBenchmark {
    public var workDirectory: URL
    public var selectExecutable: URL
    public var campaign: URL
    public var runs: Int

    public init(workDirectory: URL, selectExecutable: URL, campaign: URL, runs: Int = 3) {
        self.workDirectory = workDirectory
        self.selectExecutable = selectExecutable
        self.campaign = campaign
        self.runs = runs
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        let store = workDirectory.appendingPathComponent("bench.sqlite")
        guard FileManager.default.fileExists(atPath: store.path) else {
            throw BenchmarkError.failed("store introuvable : \(store.path) (lancer d'abord le banc score)")
        }
        let output = workDirectory.appendingPathComponent("campagne")
        let timed = try IngestBenchmark.timeRuns(
            selectExecutable, ["--store", store.path, "--campagne", campaign.path, "--sortie", output.path], runs: runs, label: "campagne",
            failure: "ciblage-select a échoué (les scores 2024 sont-ils dans le store ? banc score)", log: log)
        return IngestBenchmark.measures("campagne nationale (\(campaign.lastPathComponent))", timed, target: 2)
    }

    /// Plans the campaign once on the national store, then times `ciblage-dossier` writing the
    /// dossiers of every planned line, every group and every Caf index (target ≤ 10 s, ≤ 300 MiB).
    public func runDossiers(dossierExecutable: URL, campaignId: String, log: (String) -> Void) throws -> [Measure] {
        let store = workDirectory.appendingPathComponent("bench.sqlite")
        guard FileManager.default.fileExists(atPath: store.path) else {
            throw BenchmarkError.failed("store introuvable : \(store.path) (lancer d'abord le banc score)")
        }
        log("campagne \(campaign.lastPathComponent) planifiée une fois…")
        _ = try IngestBenchmark.timeRuns(
            selectExecutable, ["--store", store.path, "--campagne", campaign.path, "--sortie", workDirectory.appendingPathComponent("campagne").path],
            runs: 1, label: "campagne", failure: "ciblage-select a échoué (banc score d'abord)", log: log)
        let output = workDirectory.appendingPathComponent("dossiers")
        let timed = try IngestBenchmark.timeRuns(
            dossierExecutable, ["--store", store.path, "--campagne", campaignId, "--sortie", output.path], runs: runs, label: "dossiers",
            failure: "ciblage-dossier a échoué", log: log)
        let count = (FileManager.default.enumerator(atPath: output.path)?.allObjects as? [String] ?? []).filter { $0.contains("/dossier-") }.count
        log("\(count) dossiers de ligne écrits")
        return IngestBenchmark.measures("dossiers de la campagne nationale (\(count) lignes)", timed, target: 10, memoryMiB: 300)
    }
}
