import CiblageModel
import CiblageScoring
import CiblageStore
import Foundation

/// Times the indicators of one exercice on a store already filled (by the ingestion bench).
public struct IndicatorsBenchmark {
    public var storePath: String
    public var exercice: Int

    public init(storePath: String, exercice: Int) {
        self.storePath = storePath
        self.exercice = exercice
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        guard FileManager.default.fileExists(atPath: storePath) else {
            throw BenchmarkError.failed("store introuvable : \(storePath) (lancer d'abord le banc ingestion)")
        }
        let store = try Store(path: storePath)
        var best = Double.infinity
        var count = 0
        for _ in 0..<3 {
            let start = DispatchTime.now()
            count = try store.dbQueue.write { db in
                let indicators = try IndicatorStore.inputs(db, exercice: exercice).map(IndicatorCalculator.compute)
                try IndicatorStore.save(db, exercice: exercice, indicators, computedAt: "banc")
                return indicators.count
            }
            best = min(best, IngestBenchmark.seconds(since: start))
            log(String(format: "indicateurs %d : %.2f s pour %d équipements", exercice, best, count))
        }
        return [
            Measure(name: "indicateurs d'un exercice (lecture, calcul, stockage)", value: best, unit: "s", target: nil, met: nil),
            Measure(name: "équipements actifs de l'exercice", value: Double(count), unit: "", target: nil, met: nil),
        ]
    }
}
