import Foundation

/// Times `ciblage-reperes` (a child process, release build) on the national store of the
/// ingestion bench, by nature × size band.
public struct ReperesBenchmark {
    public var workDirectory: URL
    public var reperesExecutable: URL
    public var runs: Int

    public init(workDirectory: URL, reperesExecutable: URL, runs: Int = 3) {
        self.workDirectory = workDirectory
        self.reperesExecutable = reperesExecutable
        self.runs = runs
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        let store = workDirectory.appendingPathComponent("bench.sqlite")
        guard FileManager.default.fileExists(atPath: store.path) else {
            throw BenchmarkError.failed("store introuvable : \(store.path) (lancer d'abord le banc ingestion)")
        }
        let timed = try IngestBenchmark.timeRuns(
            reperesExecutable,
            ["--store", store.path, "--exercice", "2024", "--par", "nature,taille", "--sortie", workDirectory.appendingPathComponent("reperes").path],
            runs: runs, label: "repères", failure: "ciblage-reperes a échoué", log: log)
        return IngestBenchmark.measures("repères nationaux 2024 par nature × taille", timed, target: 2)
    }
}
