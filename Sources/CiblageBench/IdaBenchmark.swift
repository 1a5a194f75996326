import CiblageGenerate
import CiblageIDA
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation

/// Times `ciblage-ida` (a child process) on a national world with its projects, and measures
/// the at-risk score against the generator's ground truth of what became of each pending
/// project, beside the rule "oldest pending first", on that world and on smaller ones with
/// other seeds.
public struct IdaBenchmark {
    public var equipements: Int
    public var seed: UInt64
    public var workDirectory: URL
    public var idaExecutable: URL
    public var ingestExecutable: URL
    public var runs: Int

    public init(equipements: Int, seed: UInt64, workDirectory: URL, idaExecutable: URL, ingestExecutable: URL, runs: Int) {
        self.equipements = equipements
        self.seed = seed
        self.workDirectory = workDirectory
        self.idaExecutable = idaExecutable
        self.ingestExecutable = ingestExecutable
        self.runs = runs
    }

    /// A generated, ingested world (cached in the work folder).
    func world(_ equipements: Int, _ seed: UInt64, log: (String) -> Void) throws -> URL {
        let folder = workDirectory.appendingPathComponent("ida-\(equipements)-\(seed)")
        let store = folder.appendingPathComponent("ida.sqlite")
        if FileManager.default.fileExists(atPath: store.path) { return folder }
        log("génération de \(equipements) équipements avec leurs projets (graine \(seed))…")
        _ = try Generator(configuration: GeneratorConfiguration(equipements: equipements, seed: seed)).write(to: folder)
        log("ingestion…")
        let (_, _, status, output) = try IngestBenchmark.runMeasured(
            ingestExecutable, ["--quiet", "--store", store.path, "--rejets", folder.appendingPathComponent("rejets.csv").path,
                               folder.appendingPathComponent("exports").path])
        guard status == 0 else { throw BenchmarkError.failed("ingestion du monde IDA : code \(status) \(output)") }
        return folder
    }

    /// Failure rate of the first 20 % by `order` over the rate among all pending projects.
    static func lift(_ ordered: [String], _ failed: [String: Bool]) -> (lift: Double, top: Double, base: Double) {
        let known = ordered.filter { failed[$0] != nil }
        guard !known.isEmpty else { return (0, 0, 0) }
        let base = Double(known.filter { failed[$0]! }.count) / Double(known.count)
        let head = known.prefix(max(1, known.count / 5))
        let top = Double(head.filter { failed[$0]! }.count) / Double(head.count)
        return (base > 0 ? top / base : 0, top, base)
    }

    func liftMeasures(_ folder: URL, label: String, log: (String) -> Void) throws -> [Measure] {
        let truth = try String(contentsOf: folder.appendingPathComponent("verite/projets.csv"), encoding: .utf8)
        var failed: [String: Bool] = [:]
        for line in truth.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ";", omittingEmptySubsequences: false)
            if f.count >= 5 { failed[String(f[0])] = f[4] == "1" }
        }
        let reference = CalendarDate(year: 2024, month: 12, day: 31)!
        let summary = try IdaStage(store: try Store(path: folder.appendingPathComponent("ida.sqlite").path), referentiel: .bundled)
            .run(reference: reference, output: folder.appendingPathComponent("sortie-lift"))
        let byScore = summary.pendingScores.sorted { ($0.score, $1.nProjet) > ($1.score, $0.nProjet) }.map(\.nProjet)
        let byAge = summary.pendingScores.sorted { ($0.decision.dayNumber, $0.nProjet) < ($1.decision.dayNumber, $1.nProjet) }.map(\.nProjet)
        let s = Self.lift(byScore, failed), a = Self.lift(byAge, failed)
        log("\(label) : \(summary.pendingScores.count) projets en attente, taux d'échec \(String(format: "%.1f", s.base * 100)) % ; premiers 20 % : score \(String(format: "%.1f", s.top * 100)) %, plus anciens \(String(format: "%.1f", a.top * 100)) % (modèle \(summary.model.kind.rawValue))")
        return [
            Measure(name: "\(label) : lift à 20 % du score", value: s.lift, unit: "×", target: "> ancienneté", met: s.lift > a.lift),
            Measure(name: "\(label) : lift à 20 %, plus anciens d'abord", value: a.lift, unit: "×", target: nil, met: nil),
        ]
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        let national = try world(equipements, seed, log: log)
        let store = national.appendingPathComponent("ida.sqlite")
        let projects = try Store(path: store.path).dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM projet") ?? 0 }
        let timed = try IngestBenchmark.timeRuns(
            idaExecutable, ["--store", store.path, "--date-reference", "31/12/2024", "--sortie", national.appendingPathComponent("sortie").path],
            runs: runs, label: "ida", failure: "ciblage-ida a échoué", log: log)
        var measures = IngestBenchmark.measures("ciblage-ida, \(projects) projets", timed, target: 2, memoryMiB: 300)
        measures += try liftMeasures(national, label: "monde national (graine \(seed))", log: log)
        for other in [seed + 1, seed + 2] {
            measures += try liftMeasures(try world(12_000, other, log: log), label: "monde de 12 000 (graine \(other))", log: log)
        }
        return measures
    }
}
