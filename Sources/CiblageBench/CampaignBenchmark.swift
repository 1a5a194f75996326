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
        var walls: [Double] = []
        var peakKB = 0
        for run in 0..<runs {
            let (wall, peak, status, text) = try IngestBenchmark.runMeasured(
                selectExecutable, ["--store", store.path, "--campagne", campaign.path, "--sortie", output.path])
            guard status == 0 else {
                throw BenchmarkError.failed("ciblage-select a fini avec le code \(status) (les scores 2024 sont-ils dans le store ? banc score)")
            }
            if run == 0 { log(text.trimmingCharacters(in: .newlines)) }
            walls.append(wall)
            peakKB = max(peakKB, peak)
            log(String(format: "campagne %d/%d : %.2f s", run + 1, runs, wall))
        }
        walls.sort()
        return [
            Measure(name: "campagne nationale (\(campaign.lastPathComponent)), meilleur de \(runs)", value: walls[0], unit: "s", target: "≤ 2 s", met: walls[0] <= 2),
            Measure(name: "campagne nationale, médiane de \(runs)", value: walls[walls.count / 2], unit: "s", target: "≤ 2 s", met: walls[walls.count / 2] <= 2),
            Measure(name: "campagne : mémoire maximale", value: Double(peakKB) / 1024, unit: "Mio", target: "≤ 500 Mio", met: peakKB / 1024 <= 500),
        ]
    }
}
