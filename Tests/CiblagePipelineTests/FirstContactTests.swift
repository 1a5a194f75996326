import CiblageGenerate
import CiblageStore
import Foundation
import GRDB
import XCTest

/// What a newcomer meets first, with the real executables: the pipelines' `{exercice}`, the
/// messages of mistyped commands, the order of a log off a terminal, the default rejects file,
/// the help texts.
final class FirstContactTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("accueil-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    var world: URL { FailurePathTests.world }

    /// Runs a tool with stdout and stderr into one pipe, as cron's log receives them.
    func combined(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = FailurePathTests.products.appendingPathComponent(name)
        p.arguments = arguments
        p.currentDirectoryURL = folder
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testThePipelineScoresTheLatestExerciceWithReelDeclarationsUnlessTold() throws {
        let pipeline = folder.appendingPathComponent("score.toml")
        try """
            [pipeline]
            nom = "score"
            [[etape]]
            commande = "ciblage-score"
            arguments = ["--quiet", "--exercice", "{exercice}", "--sortie", "{rapports}/score-{exercice}.csv"]
            """.write(to: pipeline, atomically: true, encoding: .utf8)
        // The generated world declares 2021–2024 (réel up to 2024).
        let store = folder.appendingPathComponent("s.sqlite")
        try FileManager.default.copyItem(at: world.appendingPathComponent("base.sqlite"), to: store)
        let latest = try Store(path: store.path).dbQueue.read { try Store.latestExerciceWithReel($0) }
        XCTAssertEqual(latest, 2024)
        var run = FailurePathTests.tool("ciblage-run", [pipeline.path, "--store", store.path, "--rapports", "r"], in: folder)
        XCTAssertEqual(run.status, 0, run.errors)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("r/score-2024.csv").path))
        run = FailurePathTests.tool("ciblage-run", [pipeline.path, "--store", store.path, "--rapports", "r", "--exercice", "2023"], in: folder)
        XCTAssertEqual(run.status, 0, run.errors)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("r/score-2023.csv").path))

        // Remove the 2024 réel declarations: the latest exercice with réel ones is 2023.
        try DatabaseQueue(path: store.path).write { db in
            try db.execute(sql: "DELETE FROM declaration WHERE exercice = 2024 AND nature = 3")
            XCTAssertEqual(try Store.latestExerciceWithReel(db), 2023)
            try db.execute(sql: "DELETE FROM declaration WHERE nature = 3")
            XCTAssertNil(try Store.latestExerciceWithReel(db))
        }
        // No réel declaration at all: the run says what to give, and runs nothing.
        run = FailurePathTests.tool("ciblage-run", [pipeline.path, "--store", store.path, "--rapports", "r2", "--forcer"], in: folder)
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.errors.contains("aucune déclaration réelle : donner --exercice AAAA"), run.errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("r2/score-{exercice}.csv").path))
    }

    func testAnUnknownPipelineListsThePipelines() throws {
        let pipelines = folder.appendingPathComponent("pipelines")
        try FileManager.default.createDirectory(at: pipelines, withIntermediateDirectories: true)
        try "[pipeline]\nnom = \"nightly\"\n[[etape]]\ncommande = \"ciblage-score\"\n"
            .write(to: pipelines.appendingPathComponent("nightly.toml"), atomically: true, encoding: .utf8)
        try "[campagne]\nid = \"C\"\n".write(to: pipelines.appendingPathComponent("campagne-c.toml"), atomically: true, encoding: .utf8)
        let run = FailurePathTests.tool("ciblage-run", ["nightl"], in: folder)
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.errors.contains("pipeline introuvable : « nightl »"), run.errors)
        XCTAssertTrue(run.errors.contains("pipelines disponibles : nightly"), run.errors)
        XCTAssertFalse(run.errors.contains("campagne-c"), "a campaign file is not a pipeline: \(run.errors)")
    }

    func testTheErrorOfARefusedFileComesAfterTheLinesItRefersTo() throws {
        let refused = folder.appendingPathComponent("inconnu.csv")
        try "COLONNE;AUTRE\n1;2\n".write(to: refused, atomically: true, encoding: .utf8)
        let run = try combined(
            "ciblage-ingest", ["--store", "s.sqlite", "--rejets", "r.csv", world.appendingPathComponent("exports/equipements.csv").path, refused.path])
        XCTAssertEqual(run.status, 3, run.output)
        let lines = run.output.components(separatedBy: "\n")
        let error = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("erreur : ") && $0.contains("voir ci-dessus") }, run.output)
        let refusal = try XCTUnwrap(lines.firstIndex { $0.contains("inconnu.csv") }, run.output)
        let total = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("total : 2 fichiers") }, run.output)
        XCTAssertLessThan(refusal, error, run.output)
        XCTAssertLessThan(total, error, run.output)
    }

    func testTheDefaultRejectsFileNeverReplacesOneOfTheSameSecond() throws {
        // Files of this second and the next two already there: the ingest must pick another name.
        let rejects = folder.appendingPathComponent("reports/rejets")
        try FileManager.default.createDirectory(at: rejects, withIntermediateDirectories: true)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let now = Date()
        var planted: [URL] = []
        for s in 0..<3 {
            let url = rejects.appendingPathComponent("rejets-\(f.string(from: now.addingTimeInterval(Double(s)))).csv")
            try "déjà là".write(to: url, atomically: true, encoding: .utf8)
            planted.append(url)
        }
        let run = try combined("ciblage-ingest", ["--store", "s.sqlite", world.appendingPathComponent("exports/equipements.csv").path])
        XCTAssertEqual(run.status, 0, run.output)
        for url in planted { XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "déjà là") }
        let written = try FileManager.default.contentsOfDirectory(atPath: rejects.path).filter { name in !planted.contains { $0.lastPathComponent == name } }
        XCTAssertEqual(written.count, 1, "\(written)")
        XCTAssertTrue(written.first?.hasSuffix("-2.csv") ?? false, "\(written)")
        XCTAssertTrue(run.output.contains("rejets : reports/rejets/\(written.first ?? "")"), run.output)
    }

    func testExportReadsACafTypedWithoutItsZeroAndCountsAgree() throws {
        let store = folder.appendingPathComponent("s.sqlite")
        try FileManager.default.copyItem(at: world.appendingPathComponent("base.sqlite"), to: store)
        let caf = try XCTUnwrap(
            try DatabaseQueue(path: store.path).read { db in
                try String.fetchOne(db, sql: "SELECT caf FROM equipement WHERE caf BETWEEN '01' AND '09' ORDER BY caf LIMIT 1")
            })
        let run = try combined(
            "ciblage-export", ["--store", store.path, "--campagne", "PANNE", "--caf", String(caf.dropFirst()), "--sortie", "e.csv"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("Caf \(caf) :"), run.output)
        let rows = try String(contentsOf: folder.appendingPathComponent("e.csv"), encoding: .utf8).components(separatedBy: "\r\n").dropFirst()
            .filter { !$0.isEmpty }.count
        XCTAssertTrue(run.output.contains(rows < 2 ? "\(rows) ligne ;" : "\(rows) lignes ;"), run.output)
    }

    func testHelpTextsHaveNoStraySpacesAndNoEnglish() throws {
        for tool in [
            "ciblage-ingest", "ciblage-score", "ciblage-select", "ciblage-export", "ciblage-reperes", "ciblage-bilan", "ciblage-run", "ciblage-dossier",
            "ciblage-generate", "ciblage-bench",
        ] {
            let run = try combined(tool, ["--help"])
            XCTAssertEqual(run.status, 0, tool)
            for line in run.output.components(separatedBy: "\n") where !line.hasPrefix("  -") && !line.hasPrefix("  <") {
                XCTAssertNil(line.range(of: #"\S {2,}\S"#, options: .regularExpression), "\(tool): «\(line)»")
            }
            for english in ["(default:", "Show help", "USAGE:", "OPTIONS:\n", "ARGUMENTS:"] {
                XCTAssertFalse(run.output.contains(english), "\(tool): \(english)")
            }
            // The run ledger's path as the runner writes it.
            if tool == "ciblage-run" {
                XCTAssertTrue(run.output.contains("<rapports>/runs/<aaaammjj-hhmmss>-<nom>/manifest.json"), run.output)
            }
        }
    }
}
