import CiblageGenerate
import Foundation

/// Times `ciblage-score` (a child process, release build) on the national store the ingestion
/// bench leaves in its folder (ingesting the generated set first when the store is missing),
/// with its peak memory, then prints its evaluation against the generator's ground truth.
public struct ScoreBenchmark {
    public var equipements: Int
    public var seed: UInt64
    public var workDirectory: URL
    /// `ciblage-ingest` and `ciblage-score`, beside the bench.
    public var ingestExecutable: URL
    public var scoreExecutable: URL
    public var runs: Int
    public var exercice = 2024

    public init(equipements: Int, seed: UInt64, workDirectory: URL, ingestExecutable: URL, scoreExecutable: URL, runs: Int = 3) {
        self.equipements = equipements
        self.seed = seed
        self.workDirectory = workDirectory
        self.ingestExecutable = ingestExecutable
        self.scoreExecutable = scoreExecutable
        self.runs = runs
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        let data = GeneratedSets.nationalFolder(equipements: equipements, seed: seed, in: workDirectory)
        let store = workDirectory.appendingPathComponent("bench.sqlite")
        if !FileManager.default.fileExists(atPath: store.path) {
            _ = try GeneratedSets.national(equipements: equipements, seed: seed, in: workDirectory, log: log)
            log("ingestion du jeu dans \(store.path)…")
            let (_, _, status, _) = try IngestBenchmark.runMeasured(
                ingestExecutable,
                ["--quiet", "--store", store.path, "--rejets", workDirectory.appendingPathComponent("bench-rejets.csv").path,
                 data.appendingPathComponent("exports").path])
            guard status == 0 else { throw BenchmarkError.failed("ciblage-ingest a fini avec le code \(status)") }
        }
        let output = workDirectory.appendingPathComponent("score-\(exercice).csv")
        let timed = try IngestBenchmark.timeRuns(
            scoreExecutable, ["--store", store.path, "--exercice", String(exercice), "--sortie", output.path], runs: runs, label: "score",
            failure: "ciblage-score a échoué", log: log)
        var measures = IngestBenchmark.measures("score national \(exercice) (4 exercices lus)", timed, target: 3)
        let truth = data.appendingPathComponent("verite")
        if FileManager.default.fileExists(atPath: truth.appendingPathComponent("anomalies.csv").path) {
            let (wall, _, status, text) = try IngestBenchmark.runMeasured(
                scoreExecutable, ["--store", store.path, "--exercice", String(exercice), "--evaluer", "--verite", truth.path])
            guard status == 0 else { throw BenchmarkError.failed("ciblage-score --evaluer a fini avec le code \(status)") }
            log(text)
            measures.append(Measure(name: "évaluation (sans stockage)", value: wall, unit: "s", target: nil, met: nil))
        }
        return measures
    }
}
