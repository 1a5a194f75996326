import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

/// A generated set, ingested whole: the rejects are exactly the malformed rows the ground truth
/// lists, and every other row is in the store.
final class GeneratedSetTests: XCTestCase {
    func testRejectsExactlyTheRowsTheGroundTruthSaysAreMalformed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("generated-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try Generator(
            configuration: GeneratorConfiguration(equipements: 800, seed: 11, malformedRate: 0.02, xmlCafs: ["66", "75"])
        ).write(to: folder)
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])

        let truth = try String(contentsOf: folder.appendingPathComponent("verite/rejets-attendus.csv"), encoding: .utf8)
        let expected = Set(truth.split(separator: "\n").dropFirst().map { line -> String in
            let parts = line.split(separator: ";")
            return "\(parts[0]):\(parts[1])"
        })
        let actual = Set(report.rejects.map { "\($0.file):\($0.line)" })
        XCTAssertGreaterThan(expected.count, 50)
        XCTAssertEqual(actual.subtracting(expected), [], "rejected but not malformed")
        XCTAssertEqual(expected.subtracting(actual), [], "malformed but not rejected")
        XCTAssertTrue(report.files.contains { $0.format == "XML" })

        // Every other row is stored, and the second delivery is skipped whole.
        let duplicates = report.files.filter { if case .alreadyIngested = $0.status { true } else { false } }
        XCTAssertEqual(duplicates.count, 1)
        XCTAssertFalse(report.anyRefused)
        for file in report.files where file.status == .stored {
            XCTAssertEqual(file.stored + file.rejected + file.ignored, file.read, file.url.lastPathComponent)
        }
        let counts = try store.dbQueue.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement")!,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM declaration")!,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM controle")!)
        }
        XCTAssertEqual(counts.0, summary.equipements)
        XCTAssertEqual(counts.1, summary.declarations)
        XCTAssertEqual(counts.2, summary.controles)
    }
}
