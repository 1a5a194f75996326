import CiblagePipeline
import Foundation

/// The whole pipeline on generated national sets of 1, 2 and 4 times 60 000 equipments: each
/// stage as a child process (wall seconds, peak memory), and beside it, on the same files, a
/// DuckDB script that loads the CSVs and ranks the exercice with a few of the same signals.
public struct EndToEndBenchmark {
    public var factors: [Int]
    public var seed: UInt64
    public var workDirectory: URL
    public var binaries: URL
    public var duckdbScript: URL
    public var campaign: URL
    /// Rounds per factor (every stage and the DuckDB script once each): figures are medians.
    public var rounds: Int

    public init(factors: [Int], seed: UInt64, workDirectory: URL, binaries: URL, duckdbScript: URL, campaign: URL, rounds: Int = 1) {
        self.factors = factors
        self.rounds = max(1, rounds)
        self.seed = seed
        self.workDirectory = workDirectory
        self.binaries = binaries
        self.duckdbScript = duckdbScript
        self.campaign = campaign
    }

    struct Row {
        var factor: Int
        /// 1…``rounds``.
        var round: Int
        var stage: String
        var seconds: Double
        /// Processor seconds (user + system, all threads).
        var cpu: Double
        var mib: Double
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        try ensureDuckDB(log: log)
        var sets: [(factor: Int, data: URL, run: URL)] = []
        for factor in factors {
            let data = try GeneratedSets.national(equipements: 60_000 * factor, seed: seed, in: workDirectory, log: log)
            let run = workDirectory.appendingPathComponent("bout-en-bout-x\(factor)")
            try? FileManager.default.removeItem(at: run)
            sets.append((factor, data, run))
        }
        // One round first that is not counted (round 0): on 3 December, two runs of this bench
        // found the first round of every factor slow, the DuckDB script twice as slow as in the
        // next rounds (10.1–11.0 s against 4.3–5.5 s at ×1, 28.1–28.6 s against 14.5–16.8 s at
        // ×4), the stages by up to a fifth; the median of three then leaned on it. (The script
        // still gets faster from one counted round to the next: see the README.)
        for set in sets {
            _ = try runDuckDB(factor: set.factor, round: 0, data: set.data, run: set.run, log: log)
            _ = try runStages(factor: set.factor, round: 0, data: set.data, run: set.run, log: log)
        }
        // Each round runs every factor, one after the other, rather than all the rounds of ×1
        // before those of ×4: the host's speed drifts over a pass (on 4 December at 16 h 30 the
        // calibration took 0.253 s before and 0.356 s after), and the cost per equipment, one
        // factor against another, is taken within a round (``measures(_:)``). Within a factor,
        // rounds alternate which runs first, the stages or the DuckDB script: whatever else the
        // machine does at a given moment weighs on both sides alike.
        var rows: [Row] = []
        for round in 1...rounds {
            let duckFirst = round % 2 == 0
            for set in sets {
                if duckFirst { rows.append(try runDuckDB(factor: set.factor, round: round, data: set.data, run: set.run, log: log)) }
                rows += try runStages(factor: set.factor, round: round, data: set.data, run: set.run, log: log)
                if !duckFirst { rows.append(try runDuckDB(factor: set.factor, round: round, data: set.data, run: set.run, log: log)) }
            }
        }
        print("facteur;tour;étape;secondes;secondes_processeur;Mio")
        for r in rows {
            print("×\(r.factor);\(r.round);\(r.stage);\(String(format: "%.2f", r.seconds));\(String(format: "%.2f", r.cpu));\(String(format: "%.0f", r.mib))")
        }
        return measures(rows)
    }

    /// The pipeline's stages on a new store, each a child process, in `run` emptied of the
    /// previous round's store and outputs (the DuckDB script's of this round, when it went first,
    /// are kept): the last round's outputs stay there.
    func runStages(factor: Int, round: Int, data: URL, run: URL, log: (String) -> Void) throws -> [Row] {
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: run.path) where !name.hasPrefix("duckdb.") {
            try FileManager.default.removeItem(at: run.appendingPathComponent(name))
        }
        let store = run.appendingPathComponent("store.sqlite").path
        let stages: [(String, [String])] = [
            ("ciblage-ingest", ["--quiet", "--store", store, "--rejets", run.appendingPathComponent("rejets.csv").path, data.appendingPathComponent("exports").path]),
            ("ciblage-score", ["--quiet", "--store", store, "--exercice", "2024", "--sortie", run.appendingPathComponent("score.csv").path]),
            // The next night's score: the examples of the closed exercices are read back.
            ("ciblage-score (exemples stockés)", ["--quiet", "--store", store, "--exercice", "2024", "--sortie", run.appendingPathComponent("score-2.csv").path]),
            ("ciblage-reperes", ["--store", store, "--exercice", "2024", "--sortie", run.appendingPathComponent("reperes").path]),
            ("ciblage-select", ["--quiet", "--store", store, "--campagne", campaign.path, "--sortie", run.appendingPathComponent("campagne").path]),
            ("ciblage-bilan", ["--quiet", "--store", store, "--campagne", "2025-MULTI", "--sortie", run.appendingPathComponent("bilan").path]),
        ]
        var rows: [Row] = []
        for (stage, arguments) in stages {
            let command = String(stage.prefix { $0 != " " })
            let result = try Runner.spawn(
                binaries.appendingPathComponent(command).path, arguments, log: run.appendingPathComponent("\(command).log").path,
                started: { _ in }, tick: nil)
            guard result.status == 0 else { throw BenchmarkError.failed("\(stage) ×\(factor) : code \(result.status)") }
            rows.append(Row(factor: factor, round: round, stage: stage, seconds: result.seconds, cpu: result.cpuSeconds, mib: Double(result.peakKB) / 1024))
            log(String(format: "×%d tour %d %@ : %.2f s (processeur %.2f s), %.0f Mio", factor, round, stage, result.seconds, result.cpuSeconds, Double(result.peakKB) / 1024))
        }
        return rows
    }

    /// The DuckDB reference script on the same exports.
    func runDuckDB(factor: Int, round: Int, data: URL, run: URL, log: (String) -> Void) throws -> Row {
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let duck = try Runner.spawn(
            "/usr/bin/env", ["python3", duckdbScript.path, data.appendingPathComponent("exports").path, "2024", run.appendingPathComponent("duckdb.csv").path],
            log: run.appendingPathComponent("duckdb.log").path, started: { _ in }, tick: nil)
        guard duck.status == 0 else { throw BenchmarkError.failed("script DuckDB ×\(factor) : code \(duck.status) (voir duckdb.log)") }
        log(String(format: "×%d tour %d DuckDB : %.2f s (processeur %.2f s), %.0f Mio", factor, round, duck.seconds, duck.cpuSeconds, Double(duck.peakKB) / 1024))
        return Row(factor: factor, round: round, stage: Self.duckDB, seconds: duck.seconds, cpu: duck.cpuSeconds, mib: Double(duck.peakKB) / 1024)
    }

    static let duckDB = "DuckDB (référence)"

    /// The median of `values` (the upper one of an even count); 0 for none.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// `key` of `stage` at `factor`, one value a round, in the rounds' order.
    static func figures(_ rows: [Row], factor: Int, stage: String, _ key: KeyPath<Row, Double> = \.seconds) -> [Double] {
        rows.filter { $0.factor == factor && $0.stage == stage }.map { $0[keyPath: key] }
    }

    /// Each round's total of `key` over the pipeline's stages at `factor`, in the rounds' order.
    static func roundTotals(_ rows: [Row], factor: Int, _ key: KeyPath<Row, Double> = \.seconds) -> [Double] {
        let ours = rows.filter { $0.factor == factor && $0.stage != duckDB }
        return Set(ours.map(\.round)).sorted().map { round in
            ours.filter { $0.round == round }.reduce(0) { $0 + $1[keyPath: key] }
        }
    }

    /// The figures of every factor: each stage's median over the rounds, the peak memory of
    /// any round, the median of the rounds' ratios to DuckDB (each round's pair measured
    /// minutes apart at most), and past the first factor the median of the rounds' costs per
    /// equipment relative to it.
    func measures(_ rows: [Row]) -> [Measure] {
        var measures: [Measure] = []
        for factor in factors {
            let ours = rows.filter { $0.factor == factor && $0.stage != Self.duckDB }
            func seconds(_ stage: String) -> Double { Self.median(Self.figures(rows, factor: factor, stage: stage)) }
            // The median of the rounds' own ratios of ingest + first score to the DuckDB script,
            // in wall seconds or in processor seconds (the work done, whatever the cores); with
            // `score` the score of the nights after, which reads back the examples stored.
            func ratio(_ key: KeyPath<Row, Double>, score stage: String = "ciblage-score") -> Double {
                let ingest = Self.figures(rows, factor: factor, stage: "ciblage-ingest", key)
                let score = Self.figures(rows, factor: factor, stage: stage, key)
                let duck = Self.figures(rows, factor: factor, stage: Self.duckDB, key)
                return Self.median(zip(zip(ingest, score), duck).map { ($0.0 + $0.1) / $1 })
            }
            let nightly = seconds("ciblage-ingest") + seconds("ciblage-score") + seconds("ciblage-reperes")
            // The same night once the examples of the closed exercices are in the store (every
            // night after the first): the score the issue's 1,5 s is for.
            let nextNight = seconds("ciblage-ingest") + seconds("ciblage-score (exemples stockés)") + seconds("ciblage-reperes")
            let peak = ours.map(\.mib).max() ?? 0
            let wallRatio = ratio(\.seconds)
            let of = rounds > 1 ? ", médiane de \(rounds)" : ""
            // The issue's targets are for the national set (×1); larger sets are measured for
            // their cost per equipment and their memory.
            func timed(_ name: String, _ value: Double, _ target: Double) -> Measure {
                let text = "≤ " + String(format: "%g", target).replacingOccurrences(of: ".", with: ",") + " s"
                return Measure(name: "×\(factor) : \(name)", value: value, unit: "s", target: factor == 1 ? text : nil, met: factor == 1 ? value <= target : nil)
            }
            measures.append(timed("ingestion", seconds("ciblage-ingest"), 3))
            measures.append(timed("score (premier, exemples calculés)", seconds("ciblage-score"), 3))
            measures.append(timed("score (exemples stockés relus)", seconds("ciblage-score (exemples stockés)"), 1.5))
            measures.append(timed("repères", seconds("ciblage-reperes"), 1))
            measures.append(timed("nuit (ingestion, score, repères)", nightly, 6))
            measures.append(timed("nuit suivante (ingestion, score relu, repères)", nextNight, 6))
            measures.append(timed("campagne (sélection, bilan)", seconds("ciblage-select") + seconds("ciblage-bilan"), 2))
            measures.append(
                Measure(
                    name: "×\(factor) : script DuckDB", value: seconds(Self.duckDB), unit: "s", target: nil, met: nil))
            measures.append(Measure(name: "×\(factor) : mémoire maximale d'une étape", value: peak, unit: "Mio", target: "≤ 500 Mio", met: peak <= 500))
            // The issue puts this ratio among the national targets; at ×2 and ×4 it is measured,
            // without a target, as the stages' seconds are.
            measures.append(
                Measure(
                    name: "×\(factor) : (ingestion + score) / DuckDB\(of)", value: wallRatio, unit: "ratio",
                    target: factor == 1 ? "≤ 1" : nil, met: factor == 1 ? wallRatio <= 1 : nil))
            measures.append(Measure(name: "×\(factor) : le même en temps processeur", value: ratio(\.cpu), unit: "ratio", target: nil, met: nil))
            // For information, without a target: the DuckDB script recomputes everything on each
            // run, as the first score does, whereas the nights after read back the closed exercices.
            measures.append(
                Measure(
                    name: "×\(factor) : (ingestion + score relu) / DuckDB", value: ratio(\.seconds, score: "ciblage-score (exemples stockés)"),
                    unit: "ratio", target: nil, met: nil))
            if factor != factors[0] {
                // The median of the rounds' own ratios, as for DuckDB: the factors of a round run
                // minutes apart at most, whereas the medians of two factors could come from
                // either end of a pass whose host slowed down (4 December, 16 h 30: 1.44 at ×4
                // that way, the host a third slower by the end).
                func cost(_ key: KeyPath<Row, Double>) -> Double {
                    let size = Double(factor) / Double(factors[0])
                    return Self.median(zip(Self.roundTotals(rows, factor: factor, key), Self.roundTotals(rows, factor: factors[0], key)).map { $0 / $1 / size })
                }
                let name = "×\(factor) : coût par équipement relatif à ×\(factors[0])"
                measures.append(Measure(name: name + of, value: cost(\.seconds), unit: "ratio", target: nil, met: nil))
                measures.append(Measure(name: name + ", en temps processeur", value: cost(\.cpu), unit: "ratio", target: nil, met: nil))
            }
        }
        return measures
    }

    func ensureDuckDB(log: (String) -> Void) throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import duckdb"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        guard probe.terminationStatus != 0 else { return }
        log("installation de duckdb (pip)…")
        let pip = Process()
        pip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        pip.arguments = ["python3", "-m", "pip", "install", "--quiet", "duckdb"]
        try pip.run()
        pip.waitUntilExit()
        guard pip.terminationStatus == 0 else { throw BenchmarkError.failed("pip install duckdb a échoué") }
    }
}
