import CiblageGenerate
import CiblageIngest
import CiblageModel
import Foundation

/// One measured figure of a benchmark.
public struct Measure: Sendable {
    public var name: String
    public var value: Double
    public var unit: String
    /// The target, if the issue sets one, and whether the measure meets it.
    public var target: String?
    public var met: Bool?

    public var line: String {
        let figure = value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
        let verdict = met.map { $0 ? "atteint" : "NON atteint" } ?? ""
        return "\(name.padding(toLength: 52, withPad: " ", startingAt: 0)) \(figure.padding(toLength: 9, withPad: " ", startingAt: 0)) \(unit.padding(toLength: 6, withPad: " ", startingAt: 0)) \(target.map { "cible \($0) : \(verdict)" } ?? "")"
    }
}

/// The ingestion benchmark of the foundation issue: generates the national set, times parsing
/// alone and the whole `ciblage-ingest` run (a child process, release build), measures its peak
/// memory, and checks the rejects against the ground truth.
public struct IngestBenchmark {
    public var equipements: Int
    public var seed: UInt64
    public var workDirectory: URL
    /// The `ciblage-ingest` executable to time.
    public var ingestExecutable: URL
    /// Timed runs of the whole ingest.
    public var runs: Int
    /// Equipments of the XML-only set.
    public var xmlEquipements = 5000

    public init(equipements: Int, seed: UInt64, workDirectory: URL, ingestExecutable: URL, runs: Int = 3) {
        self.runs = runs
        self.equipements = equipements
        self.seed = seed
        self.workDirectory = workDirectory
        self.ingestExecutable = ingestExecutable
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        var measures: [Measure] = []
        let data = try GeneratedSets.national(equipements: equipements, seed: seed, in: workDirectory, log: log)
        let exports = data.appendingPathComponent("exports")
        let csvFiles = try Ingestor.expand([exports]).filter { $0.pathExtension == "csv" && !$0.path.contains("livraison-2") }
        let csvBytes = try csvFiles.reduce(0) { $0 + (try FileManager.default.attributesOfItem(atPath: $1.path)[.size] as! Int) }

        // CSV parsing alone (libcsv, every field handed out), best of five: the machine is shared
        // and its noise only ever adds time.
        var best = Double.infinity
        for _ in 0..<5 {
            let start = DispatchTime.now()
            var sink = CountingSink()
            for file in csvFiles { try CSVReader(url: file).read(into: &sink) }
            best = min(best, Self.seconds(since: start))
        }
        let mb = Double(csvBytes) / 1_000_000
        measures.append(Measure(name: "CSV : lecture seule (libcsv), \(Int(mb)) Mo", value: mb / best, unit: "Mo/s", target: "≥ 150 Mo/s", met: mb / best >= 150))

        // XML with XSD validation, on a set of its own where every Caf exports XML (the national
        // set holds only a few megabytes of XML: too short a run to measure on a shared machine).
        let xmlData = workDirectory.appendingPathComponent("donnees-xml-\(xmlEquipements)-\(seed)")
        if !Generator.holdsCurrentSet(xmlData) {
            log("génération du jeu XML (\(xmlEquipements) équipements, toutes les Cafs en XML)…")
            _ = try Generator(
                configuration: GeneratorConfiguration(
                    equipements: xmlEquipements, exercices: 2021...2024, seed: seed,
                    xmlCafs: Set(Referentiel.bundled.departements.keys))
            ).write(to: xmlData)
        }
        // One document of all the set's declarations, so that no per-file cost blurs the rate.
        let merged = xmlData.appendingPathComponent("fusion.xml")
        if !FileManager.default.fileExists(atPath: merged.path) {
            try Self.merge(
                try Ingestor.expand([xmlData.appendingPathComponent("exports")]).filter { $0.pathExtension == "xml" },
                into: merged)
        }
        let xmlMB = Double(try FileManager.default.attributesOfItem(atPath: merged.path)[.size] as! Int) / 1_000_000
        let schema: URL? = XMLDeclarationReader.schemaURL
        let xmllint = ["/usr/bin/xmllint", "/bin/xmllint"].first { FileManager.default.isExecutableFile(atPath: $0) }
        var ours = Double.infinity
        var theirs = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now()
            var elements = 0
            try XMLDeclarationReader(url: merged).read { _ in elements += 1 }
            ours = min(ours, Self.seconds(since: start))
            if let xmllint, let schema {
                let (wall, _, _, _) = try Self.runMeasured(
                    URL(fileURLWithPath: xmllint), ["--stream", "--noout", "--schema", schema.path, merged.path],
                    quietErrors: true)
                theirs = min(theirs, wall)
            }
        }
        measures.append(Measure(name: "XML : lecture validée XSD, \(Int(xmlMB)) Mo", value: xmlMB / ours, unit: "Mo/s", target: "≥ 40 Mo/s", met: xmlMB / ours >= 40))
        if theirs.isFinite {
            measures.append(Measure(name: "XML : xmllint --stream --schema, même fichier", value: xmlMB / theirs, unit: "Mo/s", target: nil, met: nil))
            measures.append(Measure(name: "XML : notre débit / celui de xmllint", value: theirs / ours, unit: "ratio", target: nil, met: nil))
        }

        // The whole ingest, as a user runs it, on a new store each time: best and median of `runs`.
        // Each run also ingests a copy whose declaration rows are in random order (an export the
        // project did not write: a file in the key's order is appended at the end of the store's
        // tree, a shuffled one is not), alternately, so that both meet the same moments of the
        // shared machine.
        let shuffled = try ExportShuffle.shuffledCopy(of: exports, seed: seed, in: workDirectory.appendingPathComponent("desordre-\(equipements)-\(seed)-v\(Generator.outputVersion)"))
        let store = workDirectory.appendingPathComponent("bench.sqlite")
        let rejects = workDirectory.appendingPathComponent("bench-rejets.csv")
        let shuffledRejects = workDirectory.appendingPathComponent("bench-rejets-desordre.csv")
        var walls: [Double] = []
        var shuffledWalls: [Double] = []
        var peakKB = 0
        for run in 0..<runs {
            for (isShuffled, input, rejectsFile) in [(false, exports, rejects), (true, shuffled, shuffledRejects)] {
                for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: store.path + suffix) }
                let (wall, peak, status, output) = try Self.runMeasured(
                    ingestExecutable, ["--store", store.path, "--rejets", rejectsFile.path, input.path])
                if run == 0 && !isShuffled { log(output) }
                guard status == 0 else { throw BenchmarkError.failed("ciblage-ingest a fini avec le code \(status) sur \(input.path)") }
                peakKB = max(peakKB, peak)
                if isShuffled { shuffledWalls.append(wall) } else { walls.append(wall) }
                log(String(format: "ingestion %d/%d%@ : %.2f s", run + 1, runs, isShuffled ? " (lignes dans le désordre)" : "", wall))
            }
        }
        walls.sort()
        shuffledWalls.sort()
        let median = walls[walls.count / 2]
        let shuffledMedian = shuffledWalls[shuffledWalls.count / 2]
        measures.append(Measure(name: "ingestion nationale complète, meilleur de \(runs)", value: walls[0], unit: "s", target: "≤ 4 s", met: walls[0] <= 4))
        measures.append(Measure(name: "ingestion nationale complète, médiane de \(runs)", value: median, unit: "s", target: "≤ 4 s", met: median <= 4))
        measures.append(Measure(name: "ingestion : mémoire maximale", value: Double(peakKB) / 1024, unit: "Mio", target: "≤ 500 Mio", met: peakKB / 1024 <= 500))
        measures.append(Measure(name: "ingestion, déclarations dans le désordre, médiane", value: shuffledMedian, unit: "s", target: nil, met: nil))
        measures.append(Measure(name: "désordre / ordre de la clé (médianes)", value: shuffledMedian / median, unit: "ratio", target: nil, met: nil))
        measures.append(Measure(
            name: "rejets, déclarations dans le désordre", value: Double(try Self.lines(shuffledRejects, fileColumn: 0, lineColumn: 1).count),
            unit: "lignes", target: nil, met: nil))

        // The rejects against the ground truth.
        let expected = try Self.lines(data.appendingPathComponent("verite/rejets-attendus.csv"), fileColumn: 0, lineColumn: 1)
        let actual = try Self.lines(rejects, fileColumn: 0, lineColumn: 1)
        let exact = expected == actual
        measures.append(Measure(name: "rejets attendus (vérité terrain)", value: Double(expected.count), unit: "lignes", target: nil, met: nil))
        measures.append(Measure(name: "rejets produits, identiques à la vérité terrain", value: Double(actual.count), unit: "lignes", target: "égalité", met: exact))
        if !exact {
            log("manquants : \(expected.subtracting(actual).sorted().prefix(10)) ; en trop : \(actual.subtracting(expected).sorted().prefix(10))")
        }
        return measures
    }

    struct CountingSink: CSVRecordSink {
        var fields = 0
        var bytes = 0
        mutating func record(_ record: CSVRecord) throws {
            fields += record.fieldCount
            for i in 0..<record.fieldCount { bytes &+= record[i].count }
        }
        mutating func malformed(line: Int, reason: String, raw: UnsafeBufferPointer<UInt8>) throws {}
    }

    /// Writes one document holding the `declaration` elements of `files` (same root, same encoding).
    static func merge(_ files: [URL], into url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw BenchmarkError.failed("écriture impossible : \(url.path)")
        }
        let out = try FileHandle(forWritingTo: url)
        defer { try? out.close() }
        out.write(Data("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<exportDeclarations xmlns=\"urn:sppe:declarations:1\" caf=\"66\" dateExport=\"2025-11-02\">\n".utf8))
        for file in files {
            let lines = try Data(contentsOf: file).split(separator: 0x0A, omittingEmptySubsequences: false)
            guard lines.count > 4 else { continue }
            for line in lines[2..<(lines.count - 2)] {
                out.write(Data(line))
                out.write(Data([0x0A]))
            }
        }
        out.write(Data("</exportDeclarations>\n".utf8))
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// `FICHIER:LIGNE` of a `;` file with a header (UTF-8, BOM or not).
    static func lines(_ url: URL, fileColumn: Int, lineColumn: Int) throws -> Set<String> {
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\u{FEFF}", with: "")
        var result = Set<String>()
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).dropFirst() {
            let parts = line.split(separator: ";", omittingEmptySubsequences: false)
            if parts.count > lineColumn { result.insert("\(parts[fileColumn]):\(parts[lineColumn])") }
        }
        return result
    }

    /// Runs `executable` `runs` times (each must exit 0, else `failure` with its code); logs the
    /// first run's output and each time; returns the times sorted and the peak resident KiB.
    static func timeRuns(
        _ executable: URL, _ arguments: [String], runs: Int, label: String, failure: String, log: (String) -> Void
    ) throws -> (walls: [Double], peakKB: Int) {
        var walls: [Double] = []
        var peakKB = 0
        for run in 0..<runs {
            let (wall, peak, status, text) = try runMeasured(executable, arguments)
            guard status == 0 else { throw BenchmarkError.failed("\(failure) (code \(status))") }
            if run == 0 { log(text.trimmingCharacters(in: .newlines)) }
            walls.append(wall)
            peakKB = max(peakKB, peak)
            log(String(format: "%@ %d/%d : %.2f s", label, run + 1, runs, wall))
        }
        return (walls.sorted(), peakKB)
    }

    /// Best, median and peak memory of timed runs, against the stage's targets.
    static func measures(_ name: String, _ timed: (walls: [Double], peakKB: Int), target seconds: Double, memoryMiB: Int = 500) -> [Measure] {
        let best = timed.walls[0]
        let median = timed.walls[timed.walls.count / 2]
        let target = "≤ " + String(format: "%g", seconds).replacingOccurrences(of: ".", with: ",") + " s"
        return [
            Measure(name: "\(name), meilleur de \(timed.walls.count)", value: best, unit: "s", target: target, met: best <= seconds),
            Measure(name: "\(name), médiane de \(timed.walls.count)", value: median, unit: "s", target: target, met: median <= seconds),
            Measure(
                name: "\(name) : mémoire maximale", value: Double(timed.peakKB) / 1024, unit: "Mio", target: "≤ \(memoryMiB) Mio",
                met: timed.peakKB / 1024 <= memoryMiB),
        ]
    }

    /// Runs a child process; returns wall seconds, peak resident KiB (getrusage of children),
    /// exit status and output.
    static func runMeasured(
        _ executable: URL, _ arguments: [String], quietErrors: Bool = false
    ) throws -> (Double, Int, Int32, String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if quietErrors { process.standardError = FileHandle.nullDevice }
        let pipe = Pipe()
        process.standardOutput = pipe
        let start = DispatchTime.now()
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let wall = seconds(since: start)
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return (wall, Int(usage.ru_maxrss), process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

public enum BenchmarkError: Error, CustomStringConvertible {
    case failed(String)
    public var description: String {
        switch self {
        case .failed(let message): message
        }
    }
}

/// Copies of exports whose rows come in random order: what an upstream export that is not
/// sorted by key looks like to the ingest.
enum ExportShuffle {
    /// A copy of `exports` in `folder` whose top-level declaration CSV files have their rows
    /// (every line after the header) in an order drawn from `seed`; the other files are copied
    /// as they are, the second delivery left out. Made once: kept while the folder is there (its
    /// name carries the generator's version, so a set generated anew gets a new copy).
    static func shuffledCopy(of exports: URL, seed: UInt64, in folder: URL) throws -> URL {
        let target = folder.appendingPathComponent("exports")
        let done = folder.appendingPathComponent("fait")
        if FileManager.default.fileExists(atPath: done.path) { return target }
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let files = try FileManager.default.contentsOfDirectory(at: exports, includingPropertiesForKeys: [.isRegularFileKey])
        for file in files.sorted(by: { $0.lastPathComponent < $1.lastPathComponent })
        where (try file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let copy = target.appendingPathComponent(file.lastPathComponent)
            if file.lastPathComponent.hasPrefix("declarations"), file.pathExtension == "csv" {
                try shuffledLines(try Data(contentsOf: file), seed: seed).write(to: copy)
            } else {
                try FileManager.default.copyItem(at: file, to: copy)
            }
        }
        try Data().write(to: done)
        return target
    }

    /// `text` with its first line (the header) first and its other lines in an order drawn from
    /// `seed` (Fisher–Yates); every line ends as the header does (CRLF or LF). Bytes, whatever
    /// the encoding; a record whose quoted field holds a line break is cut at it.
    static func shuffledLines(_ text: Data, seed: UInt64) -> Data {
        var lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { return text }
        let crlf = text.firstIndex(of: 0x0A).map { $0 > text.startIndex && text[$0 - 1] == 0x0D } ?? false
        let header = lines.removeFirst()
        var random = SeededRandom(seed: seed)
        for i in stride(from: lines.count - 1, to: 0, by: -1) { lines.swapAt(i, random.int(0...i)) }
        let end = crlf ? Data([0x0D, 0x0A]) : Data([0x0A])
        var out = Data()
        out.reserveCapacity(text.count + lines.count)
        for line in [header] + lines {
            out.append(contentsOf: line)
            out.append(end)
        }
        return out
    }
}
