import CiblageModel
import CiblageReports
import CiblageStore
import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a pipeline: takes the store's lock, checks whether its inputs changed since the last
/// successful run, runs each stage as a child process (the staged executables beside
/// `ciblage-run`) with its output in a log, stops at the first failure, and writes the run's
/// manifest under `rapports/runs/<horodatage>/`.
public struct Runner {
    public var pipeline: Pipeline
    public var store: String
    public var rapports: String
    /// Folder of the `ciblage-*` executables.
    public var binaries: URL
    /// Progress on the terminal; otherwise nothing but errors.
    public var interactive: Bool
    public var force: Bool
    /// The drop folder, for `{depot}`.
    public var depot: String
    /// The exercice for `{exercice}`; `nil`: the latest with réel declarations when the stage starts.
    public var exercice: Int?

    public init(
        pipeline: Pipeline, store: String, rapports: String, binaries: URL, interactive: Bool, force: Bool = false, depot: String = "depot",
        exercice: Int? = nil
    ) {
        self.depot = depot
        self.exercice = exercice
        self.pipeline = pipeline
        self.store = store
        self.rapports = rapports
        self.binaries = binaries
        self.interactive = interactive
        self.force = force
    }

    public struct StageRecord: Codable, Sendable {
        public var commande: String
        public var arguments: [String]
        public var secondes: Double
        public var memoireMaxMio: Double
        public var codeSortie: Int32
        public var journal: String
    }

    public struct InputRecord: Codable, Sendable {
        public var chemin: String
        public var octets: Int
        public var sha256: String
    }

    public struct Manifest: Codable, Sendable {
        public var pipeline: String
        public var definition: String
        public var debut: String
        public var store: String
        public var rapports: String
        public var versions: [String: String]
        public var entrees: [InputRecord]
        public var empreinteEntrees: String
        public var etapes: [StageRecord]
        public var statut: String
    }

    public enum Outcome: Sendable {
        case nothingNew(since: String)
        case done(Manifest, folder: URL)
    }

    public static let version = "0.5.0"

    /// The commands a run would launch, without launching them.
    public func plan(runFolder: String? = nil) -> [String] {
        let runFolder = runFolder ?? "\(rapports)/runs/<horodatage>-\(pipeline.nom)"
        return pipeline.stages.map { stage in
            ([binaries.appendingPathComponent(stage.commande).path]
                + Pipeline.expand(
                    stage, store: store, rapports: rapports, run: runFolder, depot: depot, exercice: exercice.map(String.init) ?? "{exercice}")
            ).map(Self.quoted).joined(separator: " ")
        }
    }

    static func quoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "-_./{}=:,<>".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    public func run(now: Date = Date(), say: @escaping (String) -> Void) throws -> Outcome {
        let stamp = Self.timestamp(now)
        let lock = try RunLock(store: store, holder: "pipeline \(pipeline.nom), pid \(getpid()), depuis \(stamp)")
        closeAbandonedRuns()
        let inputs = try Self.checksums(
            pipeline.entrees.map { Pipeline.substitute($0, store: store, rapports: rapports, run: "", depot: depot) })
        let fingerprint = Self.sha256(Data(inputs.map { "\($0.chemin);\($0.sha256)" }.joined(separator: "\n").utf8))
        let lastURL = URL(fileURLWithPath: rapports).appendingPathComponent("runs/derniere-\(pipeline.nom).json")
        if !force, !pipeline.entrees.isEmpty, let data = try? Data(contentsOf: lastURL),
            let last = try? Self.decoder.decode(Manifest.self, from: data), last.empreinteEntrees == fingerprint
        {
            return .nothingNew(since: last.debut)
        }
        let folder = URL(fileURLWithPath: rapports).appendingPathComponent("runs/\(stamp)-\(pipeline.nom)")
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw PipelineError.unwritable(path: folder.path, reason: SystemError.describe(error))
        }
        var manifest = Manifest(
            pipeline: pipeline.nom, definition: pipeline.text, debut: stamp, store: store, rapports: rapports,
            versions: ["ciblage": Self.version], entrees: inputs, empreinteEntrees: fingerprint, etapes: [], statut: "EN_COURS")
        try write(manifest, to: folder.appendingPathComponent("manifest.json"))
        Interruption.install()
        defer { Interruption.restore() }
        /// Marks the run interrupted by `signal` after `stage` (its status), and stops it.
        func interrupted(_ signal: Int32, after stage: StageRecord?) throws -> Never {
            manifest.statut = "INTERROMPU"
            try write(manifest, to: folder.appendingPathComponent("manifest.json"))
            throw PipelineError.interrupted(signal: signal, stage: stage?.commande, status: stage?.codeSortie)
        }
        var refused = false
        for (i, stage) in pipeline.stages.enumerated() {
            if let signal = Interruption.pending { try interrupted(signal, after: nil) }
            let year = Pipeline.needsExercice(stage) ? try resolvedExercice(for: stage) : nil
            let arguments = Pipeline.expand(
                stage, store: store, rapports: rapports, run: folder.path, depot: depot, exercice: year.map(String.init) ?? "{exercice}",
                date: Self.frenchDate(now))
            let log = folder.appendingPathComponent(String(format: "%02d-%@.log", i + 1, stage.commande))
            lock.update("pipeline \(pipeline.nom), pid \(getpid()), depuis \(stamp), étape \(i + 1)/\(pipeline.stages.count) \(stage.commande)")
            let label = "[\(i + 1)/\(pipeline.stages.count)] \(stage.commande)"
            // The stage keeps its progress line in this file; shown here after the elapsed time.
            let progressFile = interactive ? folder.appendingPathComponent(".progression-\(i + 1)").path : nil
            defer { if let progressFile { unlink(progressFile) } }
            let result = try Self.spawn(
                binaries.appendingPathComponent(stage.commande).path, arguments, log: log.path,
                environment: [StageEnvironment.runnerPID: String(getpid())].merging(
                    progressFile.map { ["CIBLAGE_PROGRESSION": $0] } ?? [:]) { $1 },
                started: { pid in
                    Interruption.started(pid)
                    lock.update("pipeline \(pipeline.nom), pid \(getpid()), depuis \(stamp), étape \(stage.commande) pid \(pid)")
                },
                tick: interactive
                    ? { seconds in
                        let detail = progressFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
                        say("\r\u{1B}[K\(label) … \(Int(seconds)) s\(detail.isEmpty ? "" : " — " + detail)")
                    } : nil)
            manifest.etapes.append(
                StageRecord(
                    commande: stage.commande, arguments: arguments, secondes: (result.seconds * 1000).rounded() / 1000,
                    memoireMaxMio: (Double(result.peakKB) / 1024 * 10).rounded() / 10, codeSortie: result.status,
                    journal: log.lastPathComponent))
            Interruption.ended()
            if interactive {
                say("\r\u{1B}[K\(label) : \(String(format: "%.1f", result.seconds).replacingOccurrences(of: ".", with: ",")) s, code \(result.status)\n")
            }
            if let signal = Interruption.pending { try interrupted(signal, after: manifest.etapes.last) }
            // 3: the stage is done but refused some input files whole; the next stages still run
            // on what did arrive, and the run ends with 3 so that cron reports it.
            if result.status == 3 { refused = true }
            guard result.status == 0 || result.status == 3 else {
                manifest.statut = "ECHEC"
                try write(manifest, to: folder.appendingPathComponent("manifest.json"))
                throw PipelineError.stageFailed(stage: stage.commande, status: result.status)
            }
        }
        manifest.statut = refused ? "FICHIERS_REFUSES" : "SUCCES"
        try write(manifest, to: folder.appendingPathComponent("manifest.json"))
        // A run with refused files is not a success to skip next time: the same inputs run again.
        if !refused { try write(manifest, to: lastURL) }
        return .done(manifest, folder: folder)
    }

    /// Marks « INTERROMPU » the runs of this store whose manifest still says « EN_COURS »: this
    /// run holds the store's lock, so none of them is running; they were killed (SIGKILL, a
    /// machine that stopped) before they could say so. A manifest that cannot be read or
    /// rewritten is left as it is.
    func closeAbandonedRuns() {
        let runs = URL(fileURLWithPath: rapports).appendingPathComponent("runs")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? [] {
            let url = runs.appendingPathComponent(name).appendingPathComponent("manifest.json")
            // Decoded only if it may say so: a year of nightly runs is some 365 manifests.
            guard let data = try? Data(contentsOf: url), data.range(of: Data("\"EN_COURS\"".utf8)) != nil,
                var manifest = try? Self.decoder.decode(Manifest.self, from: data), manifest.statut == "EN_COURS", manifest.store == store
            else { continue }
            manifest.statut = "INTERROMPU"
            try? write(manifest, to: url)
        }
    }

    /// `--exercice`, else the latest exercice with réel declarations in the store now.
    func resolvedExercice(for stage: Pipeline.Stage) throws -> Int {
        if let exercice { return exercice }
        guard FileManager.default.fileExists(atPath: store),
            let year = try Store(path: store).dbQueue.read({ try Store.latestExerciceWithReel($0) })
        else { throw PipelineError.noExercice(stage: stage.commande) }
        return year
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    func write(_ manifest: Manifest, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            // Through the common output writer: temporary, sync, rename; links followed.
            let file = try OutputFile(url: url)
            try file.write(try encoder.encode(manifest))
            try file.commit()
        } catch {
            throw PipelineError.unwritable(path: url.path, reason: SystemError.describe(error))
        }
    }

    /// `aaaammjj-hhmmss`, UTC.
    /// The run's date, `jj/mm/aaaa` (UTC), for `{date}`.
    static func frenchDate(_ date: Date) -> String { utc("dd/MM/yyyy", date) }

    static func timestamp(_ date: Date) -> String { utc("yyyyMMdd-HHmmss", date) }

    static func utc(_ format: String, _ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = format
        return f.string(from: date)
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    /// Every file under the inputs, sorted, with size and SHA-256 (streamed by 1 MiB).
    static func checksums(_ paths: [String]) throws -> [InputRecord] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                let base = URL(fileURLWithPath: path)
                for case let url as URL in FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) ?? .init()
                where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                    files.append(url.path)
                }
            } else {
                files.append(path)
            }
        }
        return try files.sorted().map { file in
            var hasher = SHA256()
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
            defer { try? handle.close() }
            var size = 0
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
                size += chunk.count
            }
            return InputRecord(chemin: file, octets: size, sha256: hasher.finalize().map { String(format: "%02x", $0) }.joined())
        }
    }

    /// Runs `path` with `arguments`, stdout and stderr to `log`, this process's environment plus
    /// `environment`; returns wall seconds, the child's processor time (user + system seconds,
    /// over all its threads: more than the wall time when it used both cores), its peak resident
    /// memory (KiB; both from wait4) and its exit status (128 + signal when killed). `tick` is
    /// called about every second meanwhile.
    public static func spawn(
        _ path: String, _ arguments: [String], log: String, environment: [String: String] = [:], started: (pid_t) -> Void,
        tick: ((Double) -> Void)?
    ) throws -> (seconds: Double, cpuSeconds: Double, peakKB: Int, status: Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let start = DispatchTime.now()
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        let envp = variables.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw PipelineError.unwritable(path: path, reason: "lancement impossible : \(String(cString: strerror(rc)))") }
        started(pid)
        var status: Int32 = 0
        var usage = rusage()
        var lastTick = 0.0
        while true {
            let r = wait4(pid, &status, tick == nil ? 0 : WNOHANG, &usage)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            if let tick, elapsed - lastTick >= 0.5 {
                tick(elapsed)
                lastTick = elapsed
            }
            if tick != nil { usleep(100_000) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let exited = (status & 0x7f) == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        func duration(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (seconds, duration(usage.ru_utime) + duration(usage.ru_stime), Int(usage.ru_maxrss), code)
    }
}
