import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation

/// Fuzzing of the CSV and XML readers through the whole ingestion (`ciblage-bench fuzz`): a
/// worker process ingests mutated exports (``Mutator``) into a scratch store, one file per
/// execution, until its time is up; the parent restarts it after a crash, keeping the input
/// that crashed it in `crashes/`, and reports executions, crashes and the worker's peak memory.
public struct FuzzBenchmark {
    public enum Reader: String, Sendable { case csv, xml }

    public var reader: Reader
    public var seconds: Double
    public var seed: UInt64
    public var workDirectory: URL
    public var benchExecutable: URL

    public init(reader: Reader, seconds: Double, seed: UInt64, workDirectory: URL, benchExecutable: URL) {
        self.reader = reader
        self.seconds = seconds
        self.seed = seed
        self.workDirectory = workDirectory
        self.benchExecutable = benchExecutable
    }

    var folder: URL { workDirectory.appendingPathComponent("fuzz-\(reader.rawValue)") }

    public func run(log: (String) -> Void) throws -> [Measure] {
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("crashes"), withIntermediateDirectories: true)
        let end = Date().addingTimeInterval(seconds)
        var executions = 0
        var crashes = 0
        var peakKB = 0
        var restart: UInt64 = 0
        while Date() < end {
            let remaining = end.timeIntervalSinceNow
            let process = Process()
            process.executableURL = benchExecutable
            process.arguments = [
                "fuzz-travail", "--lecteur", reader.rawValue, "--duree", String(format: "%.0f", max(1, remaining)),
                "--graine", String(seed &+ restart), "--dossier", folder.path,
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            // The largest resident set of any child so far (the workers are the only children).
            var usage = rusage()
            getrusage(RUSAGE_CHILDREN.rawValue, &usage)
            peakKB = max(peakKB, Int(usage.ru_maxrss))
            executions += (try? String(contentsOf: folder.appendingPathComponent("executions"), encoding: .utf8)).flatMap { Int($0) } ?? 0
            let status = process.terminationStatus
            if process.terminationReason == .uncaughtSignal || status != 0 {
                crashes += 1
                let input = folder.appendingPathComponent("courant.\(reader.rawValue)")
                let kept = folder.appendingPathComponent("crashes/crash-\(crashes).\(reader.rawValue)")
                try? FileManager.default.copyItem(at: input, to: kept)
                log("plantage \(crashes) (\(process.terminationReason == .uncaughtSignal ? "signal" : "code") \(status)) : entrée gardée dans \(kept.path)")
            }
            restart += 1
        }
        log("fuzz \(reader.rawValue) : \(executions) exécutions en \(Int(seconds)) s, \(crashes) plantages, mémoire maximale \(peakKB / 1024) Mio")
        return [
            Measure(name: "fuzz \(reader.rawValue) : exécutions", value: Double(executions), unit: "", target: nil, met: nil),
            Measure(name: "fuzz \(reader.rawValue) : exécutions par seconde", value: Double(executions) / seconds, unit: "/s", target: nil, met: nil),
            Measure(name: "fuzz \(reader.rawValue) : plantages", value: Double(crashes), unit: "", target: "0", met: crashes == 0),
            Measure(name: "fuzz \(reader.rawValue) : mémoire maximale", value: Double(peakKB) / 1024, unit: "Mio", target: "≤ 500 Mio", met: peakKB / 1024 <= 500),
        ]
    }

    /// The files the mutations start from: the test fixtures and the head of the sample exports
    /// of the reader's format.
    public static func corpus(_ reader: Reader, root: URL) throws -> [[UInt8]] {
        var files: [[UInt8]] = []
        for folder in ["Tests/Fixtures", "sample-data/exports"] {
            let url = root.appendingPathComponent(folder)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? [] where name.hasSuffix("." + reader.rawValue) {
                let bytes = [UInt8](try Data(contentsOf: url.appendingPathComponent(name)))
                files.append(Array(bytes.prefix(16_384)))
            }
        }
        guard !files.isEmpty else { throw BenchmarkError.failed("aucun fichier .\(reader.rawValue) pour le corpus sous \(root.path)") }
        return files
    }

    /// The worker: ingests mutated files until `seconds` have passed; each input is written to
    /// `courant.<ext>` before it is read, so a crash leaves it behind. The registry fixtures are
    /// ingested first so that declarations find their equipments.
    public static func work(_ reader: Reader, seconds: Double, seed: UInt64, folder: URL, root: URL) throws {
        let store = try Store(path: folder.appendingPathComponent("fuzz.sqlite").path)
        let ingestor = Ingestor(store: store, referentiel: .bundled)
        _ = try ingestor.ingest([root.appendingPathComponent("Tests/Fixtures/equipements-ok.csv")])
        var mutator = Mutator(corpus: try corpus(reader, root: root), seed: seed)
        let input = folder.appendingPathComponent("courant.\(reader.rawValue)")
        let counter = folder.appendingPathComponent("executions")
        let end = Date().addingTimeInterval(seconds)
        var executions = 0
        while Date() < end {
            try Data(mutator.next()).write(to: input)
            _ = try? ingestor.ingest([input])
            executions += 1
            if executions % 200 == 0 { try String(executions).write(to: counter, atomically: true, encoding: .utf8) }
        }
        try String(executions).write(to: counter, atomically: true, encoding: .utf8)
    }
}
