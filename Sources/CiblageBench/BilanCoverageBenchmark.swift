import Foundation

/// The statistical validity of the bilan: over many generated worlds, how often the 95 %
/// interval of the population anomaly rate contains the true rate.
public struct BilanCoverageBenchmark {
    public var worlds: Int
    public var equipements: Int
    public var workDirectory: URL

    public init(worlds: Int, equipements: Int, workDirectory: URL) {
        self.worlds = worlds
        self.equipements = equipements
        self.workDirectory = workDirectory
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        var covered = 0
        var errors: [Double] = []
        for world in 1...worlds {
            let folder = workDirectory.appendingPathComponent("bilan-monde-\(world)")
            try? FileManager.default.removeItem(at: folder)
            let outcome = try BilanSimulation(equipements: equipements, seed: UInt64(1000 + world), folder: folder).run()
            if ProcessInfo.processInfo.environment["CIBLAGE_GARDER_MONDES"] == nil { try? FileManager.default.removeItem(at: folder) }
            if outcome.covered { covered += 1 }
            errors.append(outcome.estimate - outcome.trueRate)
            log(
                String(
                    format: "monde %2d : vrai taux %.4f, estimé %.4f [%.4f ; %.4f] %@, %d équipements, %d contrôles", world, outcome.trueRate,
                    outcome.estimate, outcome.low, outcome.high, outcome.covered ? "couvert" : "NON couvert", outcome.populationUnits,
                    outcome.controls))
        }
        let coverage = Double(covered) / Double(worlds)
        let bias = errors.reduce(0, +) / Double(errors.count)
        return [
            Measure(name: "bilan : couverture de l'IC 95 % du taux d'anomalie (\(worlds) mondes)", value: coverage * 100, unit: "%", target: "≥ 93 %", met: coverage >= 0.93),
            Measure(name: "bilan : écart moyen estimé − vrai taux", value: bias * 100, unit: "points", target: nil, met: nil),
        ]
    }
}
