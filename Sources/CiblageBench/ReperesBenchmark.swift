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
        var walls: [Double] = []
        var peakKB = 0
        for run in 0..<runs {
            let (wall, peak, status, text) = try IngestBenchmark.runMeasured(
                reperesExecutable,
                ["--store", store.path, "--exercice", "2024", "--par", "nature,taille", "--sortie",
                 workDirectory.appendingPathComponent("reperes").path])
            guard status == 0 else { throw BenchmarkError.failed("ciblage-reperes a fini avec le code \(status)") }
            if run == 0 { log(text.trimmingCharacters(in: .newlines)) }
            walls.append(wall)
            peakKB = max(peakKB, peak)
            log(String(format: "repères %d/%d : %.2f s", run + 1, runs, wall))
        }
        walls.sort()
        return [
            Measure(name: "repères nationaux 2024 par nature × taille, meilleur de \(runs)", value: walls[0], unit: "s", target: "≤ 2 s", met: walls[0] <= 2),
            Measure(name: "repères nationaux, médiane de \(runs)", value: walls[walls.count / 2], unit: "s", target: "≤ 2 s", met: walls[walls.count / 2] <= 2),
            Measure(name: "repères : mémoire maximale", value: Double(peakKB) / 1024, unit: "Mio", target: "≤ 500 Mio", met: peakKB / 1024 <= 500),
        ]
    }
}
