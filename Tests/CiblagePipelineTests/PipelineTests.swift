import CiblageGenerate
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblagePipeline

final class PipelineDefinitionTests: XCTestCase {
    func testTheShippedPipelinesAreValidAndBadKeysAreNamed() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["nightly", "campagne"] {
            let p = try Pipeline.load(root.appendingPathComponent("pipelines/\(name).toml"))
            XCTAssertEqual(p.nom, name)
            XCTAssertFalse(p.stages.isEmpty)
        }
        func key(_ text: String) -> String? {
            do { _ = try Pipeline.parse(text, file: "p.toml") } catch let PipelineError.config(_, key, _) { return key } catch { return nil }
            return nil
        }
        XCTAssertEqual(key("[pipeline]\nnom = \"x\"\n[[etape]]\ncommande = \"rm\""), "etape[1].commande")
        XCTAssertEqual(key("[pipeline]\nnom = \"x\"\n[[etape]]\ncommande = \"ciblage-score\"\narguments = [\"--store\", \"a\"]"), "etape[1].arguments")
        XCTAssertEqual(key("[pipeline]\nnom = \"x\"\ncouleur = 1\n[[etape]]\ncommande = \"ciblage-score\""), "pipeline.couleur")
        XCTAssertEqual(key("[pipeline]\nnom = \"x\""), "etape")
    }

    func testArgumentsAreExpandedWithTheStoreFirst() {
        let stage = Pipeline.Stage(commande: "ciblage-score", arguments: ["--sortie", "{rapports}/s.csv", "--rejets", "{run}/r.csv"])
        XCTAssertEqual(
            Pipeline.expand(stage, store: "d/s.sqlite", rapports: "rep", run: "rep/runs/1"),
            ["--store", "d/s.sqlite", "--sortie", "rep/s.csv", "--rejets", "rep/runs/1/r.csv"])
    }
}

final class SpawnTests: XCTestCase {
    /// The benchmarks compare processor time with wall time: a child that waits spends the
    /// second and not the first, a child that computes spends both.
    func testSpawnTellsProcessorTimeApartFromWallTime() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("spawn-\(UUID().uuidString).log").path
        defer { unlink(log) }
        let waiting = try Runner.spawn("/bin/sleep", ["0.4"], log: log, started: { _ in }, tick: nil)
        XCTAssertEqual(waiting.status, 0)
        XCTAssertGreaterThanOrEqual(waiting.seconds, 0.4)
        XCTAssertLessThan(waiting.cpuSeconds, 0.1)
        let computing = try Runner.spawn(
            "/bin/sh", ["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"], log: log, started: { _ in }, tick: nil)
        XCTAssertEqual(computing.status, 0)
        XCTAssertGreaterThan(computing.cpuSeconds, 0.05)
        XCTAssertLessThanOrEqual(computing.cpuSeconds, computing.seconds * 2 + 0.05)
    }
}

/// The runner with the real executables (built beside the tests), on real files.
final class RunnerProcessTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// The folder of the built products: the test bundle sits among them.
    static var products: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("ciblage-run").path) {
            url = url.deletingLastPathComponent()
        }
        return url
    }

    func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = Self.products.appendingPathComponent("ciblage-run")
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.currentDirectoryURL = folder
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors)
    }

    func ingestPipeline() throws -> URL {
        let url = folder.appendingPathComponent("ingestion.toml")
        try """
            [pipeline]
            nom = "ingestion"
            entrees = ["depot"]
            [[etape]]
            commande = "ciblage-ingest"
            arguments = ["--quiet", "--rejets", "{run}/rejets.csv", "depot"]
            """.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testASecondRunSaysWhoHoldsTheLockAndExitsWith1() throws {
        let store = folder.appendingPathComponent("s.sqlite").path
        let lock = try RunLock(store: store, holder: "pipeline nightly, pid 4242, depuis 20261123-020000")
        let (process, errors) = try launch([try ingestPipeline().path, "--store", store])
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 1)
        XCTAssertTrue(message.contains("tient le verrou") && message.contains("pid 4242"), message)
        withExtendedLifetime(lock) {}
    }

    /// A run whose one stage, an ingestion, waits on a FIFO no one writes: it runs until stopped.
    /// Returns the run, its stderr and the stage's process id (read from the lock file).
    func launchStuckRun() throws -> (run: Process, errors: Pipe, stage: pid_t) {
        let tube = folder.appendingPathComponent("tube.csv").path
        XCTAssertEqual(mkfifo(tube, 0o644), 0)
        let pipeline = folder.appendingPathComponent("bloquee.toml")
        try """
            [pipeline]
            nom = "bloquee"
            entrees = []
            [[etape]]
            commande = "ciblage-ingest"
            arguments = ["--quiet", "--rejets", "{run}/rejets.csv", "tube.csv"]
            """.write(to: pipeline, atomically: true, encoding: .utf8)
        let store = folder.appendingPathComponent("s.sqlite").path
        let (run, errors) = try launch([pipeline.path, "--store", store])
        // The run writes the stage's process id in its lock file once it has started it.
        for _ in 0..<200 {
            let holder = (try? String(contentsOfFile: store + ".lock", encoding: .utf8)) ?? ""
            if let range = holder.range(of: "étape ciblage-ingest pid "),
                let pid = pid_t(holder[range.upperBound...].prefix { $0.isNumber })
            {
                return (run, errors, pid)
            }
            usleep(50_000)
        }
        run.terminate()
        throw XCTSkip("la chaîne n'a pas lancé son étape en 10 s")
    }

    /// Whether `pid` is gone (or a zombie no one has reaped yet).
    static func ended(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return true }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    func testATerminatedRunStopsItsStageRecordsItAndExitsWith143() throws {
        // The run died at once and its stage went on alone, the lock released and the manifest
        // left « EN_COURS ».
        let (run, errors, stage) = try launchStuckRun()
        defer { if !Self.ended(stage) { kill(stage, SIGKILL) } }
        kill(run.processIdentifier, SIGTERM)
        run.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(run.terminationReason, .exit)
        XCTAssertEqual(run.terminationStatus, 128 + SIGTERM)
        XCTAssertTrue(message.contains("exécution interrompue par SIGTERM pendant l'étape ciblage-ingest, arrêtée à son tour (code 143)"), message)
        XCTAssertTrue(Self.ended(stage), "the stage outlived its run")
        let runs = folder.appendingPathComponent("reports/runs")
        let manifest = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: runs.path).first { !$0.hasSuffix(".json") })
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: runs.appendingPathComponent("\(manifest)/manifest.json"))) as? [String: Any]
        XCTAssertEqual(json?["statut"] as? String, "INTERROMPU")
        XCTAssertEqual((json?["etapes"] as? [[String: Any]])?.first?["code_sortie"] as? Int, Int(128 + SIGTERM))
        // The lock is free again.
        XCTAssertNoThrow(try RunLock(store: folder.appendingPathComponent("s.sqlite").path, holder: "test"))
    }

    func testAStageEndsWhenItsRunIsKilled() throws {
        // SIGKILL cannot be caught: the stage asks the kernel for SIGTERM when its run dies.
        let (run, _, stage) = try launchStuckRun()
        defer { if !Self.ended(stage) { kill(stage, SIGKILL) } }
        kill(run.processIdentifier, SIGKILL)
        run.waitUntilExit()
        var waited = 0
        while !Self.ended(stage) && waited < 100 {
            usleep(50_000)
            waited += 1
        }
        XCTAssertTrue(Self.ended(stage), "the stage outlived its run by 5 s")

        // The killed run could not say so: the next run on the store (which holds its lock, so
        // no other runs) marks it « INTERROMPU ».
        let runs = folder.appendingPathComponent("reports/runs")
        let killed = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: runs.path).first)
        func status() throws -> String? {
            let data = try Data(contentsOf: runs.appendingPathComponent("\(killed)/manifest.json"))
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["statut"] as? String
        }
        XCTAssertEqual(try status(), "EN_COURS")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("depot"), withIntermediateDirectories: true)
        let (next, _) = try launch([try ingestPipeline().path, "--store", folder.appendingPathComponent("s.sqlite").path])
        next.waitUntilExit()
        XCTAssertEqual(next.terminationStatus, 0)
        XCTAssertEqual(try status(), "INTERROMPU")
    }

    func testKillingTheIngestMidwayLeavesNoHalfFileAndTheNextRunCompletes() throws {
        _ = try Generator(configuration: GeneratorConfiguration(equipements: 5000, seed: 3, malformedRate: 0)).write(to: folder)
        try FileManager.default.moveItem(at: folder.appendingPathComponent("exports"), to: folder.appendingPathComponent("depot"))
        let pipeline = try ingestPipeline()
        let store = folder.appendingPathComponent("s.sqlite").path
        // The stage is SIGKILLed just after its second file commits (`CIBLAGE_PANNE`, passed on
        // by the run to its stages). Killed from here once two files showed in the store, the
        // stage could finish before the kill came, and the test failed; the faster the ingest,
        // the likelier.
        let (process, _) = try launch([pipeline.path, "--store", store], environment: ["CIBLAGE_PANNE": "apres-validation:2"])
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGKILL, "the run stops with the stage's status")

        // The killed file's transaction is gone: every stored row belongs to a committed file.
        let opened = try Store(path: store)
        let (check, orphans, files) = try opened.dbQueue.read { db in
            (try String.fetchOne(db, sql: "PRAGMA integrity_check")!,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM declaration WHERE fichier_id NOT IN (SELECT id FROM fichier)")!,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM fichier")!)
        }
        XCTAssertEqual(check, "ok")
        XCTAssertEqual(orphans, 0)
        XCTAssertGreaterThanOrEqual(files, 2)

        // The next run takes the lock again (the kernel released it) and completes; the store then
        // holds what one clean ingestion of the same files gives.
        let (again, _) = try launch([pipeline.path, "--store", store])
        again.waitUntilExit()
        XCTAssertEqual(again.terminationStatus, 0)
        let clean = folder.appendingPathComponent("propre.sqlite").path
        let (reference, _) = try launch([pipeline.path, "--store", clean, "--forcer", "--rapports", folder.appendingPathComponent("r2").path])
        reference.waitUntilExit()
        func counts(_ path: String) throws -> [Int] {
            try DatabaseQueue(path: path).read { db in
                try ["equipement", "declaration", "controle"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)")! }
            }
        }
        XCTAssertEqual(try counts(store), try counts(clean))
        // Unchanged inputs: the third run does nothing.
        let runs = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("reports/runs").path).count
        let (third, _) = try launch([pipeline.path, "--store", store])
        third.waitUntilExit()
        XCTAssertEqual(third.terminationStatus, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("reports/runs").path).count, runs)
    }
}
