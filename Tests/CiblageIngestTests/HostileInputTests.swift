import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

/// Inputs built to hurt: entities, damaged bytes, control characters, huge records.
final class HostileInputTests: XCTestCase {
    var folder: URL!
    var store: Store!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([IngestorTests.fixtures.appendingPathComponent("equipements-ok.csv")])
    }

    override func tearDownWithError() throws {
        store = nil
        try? FileManager.default.removeItem(at: folder)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func ingest(_ url: URL) throws -> IngestReport { try Ingestor(store: store, referentiel: .bundled).ingest([url]) }

    func testAQuadraticEntityFileIsRefusedWholeWithAShortReject() throws {
        let entity = String(repeating: "A", count: 100_000)
        let uses = String(repeating: "&e;", count: 2_000)
        let url = try write(
            "quadratique.xml",
            Array("""
                <?xml version="1.0"?>
                <!DOCTYPE exportDeclarations [<!ENTITY e "\(entity)">]>
                <exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">
                <declaration numeroDossier="66-0001" exercice="2024" nature="REEL" dateDepot="2025-03-28"><places>\(uses)</places></declaration>
                </exportDeclarations>

                """.utf8))
        let report = try ingest(url)
        guard case .refused(let reason) = report.files[0].status else { return XCTFail("the file must be refused whole") }
        XCTAssertTrue(reason.contains("DOCTYPE"), reason)
        XCTAssertEqual(report.files[0].read, 0, "nothing was read past the DOCTYPE")
        XCTAssertLessThan(report.rejects.map { $0.content.utf8.count + $0.reason.utf8.count }.reduce(0, +), 1000)
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM declaration") }, 0)
    }

    func testAnEmptyDeliveryIsRefusedAsEmpty() throws {
        // A CSV was « type de fichier non reconnu », an XML « XML mal formé : Extra content at
        // the end of the document ».
        for (name, bytes) in [("declarations.csv", [UInt8]()), ("declarations.xml", []), ("controles.csv", [0xEF, 0xBB, 0xBF, 0x0D, 0x0A, 0x20])] {
            let report = try ingest(try write(name, bytes))
            guard case .refused(let reason) = report.files[0].status else { XCTFail("\(name): \(report.files[0].status)"); continue }
            XCTAssertTrue(reason.hasPrefix("fichier vide"), "\(name): \(reason)")
        }
    }

    func testAUTF16ExportFromExcelIsRefusedSayingHowToSaveIt() throws {
        // Excel's « Texte Unicode » : UTF-16LE with its mark, tab-separated.
        let text = try String(contentsOf: IngestorTests.fixtures.appendingPathComponent("declarations-ok.csv"), encoding: .utf8)
            .replacingOccurrences(of: "\u{FEFF}", with: "").replacingOccurrences(of: ";", with: "\t")
        let url = try write("declarations-unicode.csv", [0xFF, 0xFE] + Array(text.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        let report = try ingest(url)
        guard case .refused(let reason) = report.files[0].status else { return XCTFail("\(report.files[0].status)") }
        XCTAssertTrue(reason.hasPrefix("fichier en UTF-16") && reason.contains("CSV UTF-8"), reason)
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM declaration") }, 0)
    }

    func testAnXMLValueOfSeveralMegabytesRefusesTheFileInsteadOfBeingHeld() throws {
        let url = try write(
            "valeur-enorme.xml",
            Array("""
                <?xml version="1.0"?>
                <exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">
                <declaration numeroDossier="66-0001" exercice="2024" nature="REEL" dateDepot="2025-03-28"><places>\(String(repeating: "1", count: 3_000_000))</places></declaration>
                </exportDeclarations>

                """.utf8))
        let report = try ingest(url)
        guard case .refused(let reason) = report.files[0].status else { return XCTFail("\(report.files[0].status)") }
        XCTAssertTrue(reason.contains("valeur démesurée") && reason.contains("places"), reason)
        XCTAssertLessThan(report.rejects.map { $0.content.utf8.count + $0.reason.utf8.count }.reduce(0, +), 1000)
    }

    func testAFewDamagedRowsOfAUTF8FileAreRejectedAndTheOthersKeepTheirAccents() throws {
        var bytes = Array("N_DOSSIER;NOM;NATURE;SIRET;SIREN_GESTIONNAIRE;NOM_GESTIONNAIRE;STATUT_GESTIONNAIRE;DEPARTEMENT_SIEGE;CAF;COMMUNE;PLACES_AGREES;DATE_OUVERTURE\n".utf8)
        bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "PLACES_AGREES", with: "PLACES_AGREEES").utf8)
        bytes += Array("66-0001;Crèche Les Lutins été;EAJE_COLLECTIF;21660001500012;216600015;Commune de Perpignan;PUBLIC;66;66;66136;30;01/09/2010\n".utf8)
        // One stray Windows-1252 byte (é = 0xE9) in a UTF-8 file.
        bytes += Array("66-0002;Cr".utf8) + [0xE9] + Array("che abîmée;EAJE_COLLECTIF;21660001500012;216600015;Commune de Perpignan;PUBLIC;66;66;66136;30;01/09/2010\n".utf8)
        bytes += Array("66-0003;Halte-garderie Pâquerette;HALTE_GARDERIE;21660001500012;216600015;Société Œuvre;PUBLIC;66;66;66136;20;01/09/2010\n".utf8)
        let report = try ingest(try write("equipements-abime.csv", bytes))
        XCTAssertEqual(report.files[0].encoding, .utf8Damaged)
        XCTAssertEqual(report.files[0].stored, 2)
        XCTAssertEqual(report.rejects.map(\.line), [3])
        XCTAssertEqual(report.rejects.first?.field, "NOM")
        XCTAssertTrue(report.rejects.first?.reason.contains("octets invalides") ?? false)
        let names = try store.dbQueue.read { try String.fetchAll($0, sql: "SELECT nom FROM equipement WHERE n_dossier IN ('66-0001', '66-0003') ORDER BY n_dossier") }
        XCTAssertEqual(names, ["Crèche Les Lutins été", "Halte-garderie Pâquerette"], "the other rows are read as UTF-8")
    }

    func testAWindows1252FileIsStillReadAsWindows1252() throws {
        let report = try ingest(IngestorTests.fixtures.appendingPathComponent("equipements-cp1252.csv"))
        XCTAssertEqual(report.files[0].encoding, .windows1252)
        XCTAssertEqual(report.rejects, [])
    }

    /// The declarations header, then each row's first five fields followed by empty ones.
    static func declarations(_ rows: [[UInt8]]) -> [UInt8] {
        var bytes = Array((ExportColumns.declarations.map(\.name).joined(separator: ";") + "\n").utf8)
        for row in rows { bytes += row + Array(String(repeating: ";", count: ExportColumns.declarations.count - 5).utf8) + [0x0A] }
        return bytes
    }

    func testControlCharactersInAFieldRejectTheRow() throws {
        let bytes = Self.declarations([
            Array("66-0001;2023;REEL;15/03/2024;30".utf8),
            Array("66-0001".utf8) + [0x00] + Array(";2022;REEL;15/03/2023;30".utf8),
            Array("66-0002;2023;REEL;15/03/2024;".utf8) + [0x1B] + Array("30".utf8),
            Array("66-0002;2022;REEL;15/03/2023;\t30".utf8),
        ])
        let report = try ingest(try write("declarations-controle.csv", bytes))
        XCTAssertEqual(report.rejects.map(\.line), [3, 4])
        XCTAssertEqual(report.rejects.map(\.field), ["N_DOSSIER", "PLACES"])
        XCTAssertTrue(report.rejects[0].reason.contains("0x00"), report.rejects[0].reason)
        XCTAssertTrue(report.rejects[1].reason.contains("0x1B"), report.rejects[1].reason)
        XCTAssertEqual(report.files[0].stored, 2, "a tab is not a control character to refuse")
    }

    func testRejectedRawTextIsCutAt4KiB() throws {
        let long = String(repeating: "é", count: 5_000)
        let bytes = Self.declarations([Array("66-0001;2023;REEL;15/03/2024;\(long)".utf8)])
        let report = try ingest(try write("declarations-longues.csv", bytes))
        let content = try XCTUnwrap(report.rejects.first?.content)
        XCTAssertLessThanOrEqual(content.utf8.count, Reject.maxContentBytes)
        XCTAssertTrue(content.hasPrefix("66-0001;2023;REEL;15/03/2024;éé"))
        XCTAssertTrue(content.hasSuffix("é…"), "cut on a character boundary")
        let stored = try store.dbQueue.read { try String.fetchOne($0, sql: "SELECT contenu FROM rejet") }
        XCTAssertEqual(stored, content, "the store keeps the same cut text")
    }

    func testRejectsAreStoredWithTheirFileAndReportedAgainUntilDelivered() throws {
        let url = IngestorTests.fixtures.appendingPathComponent("declarations-rejets.csv")
        let first = try ingest(url)
        XCTAssertFalse(first.rejects.isEmpty)
        let stored = try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM rejet") }
        XCTAssertEqual(stored, first.rejects.count)
        // Never written to a rejects file: the next run skips the file but reports its rejects.
        let second = try ingest(url)
        XCTAssertEqual(second.files[0].previousName, "declarations-rejets.csv")
        XCTAssertEqual(second.rejects, first.rejects)
        try Ingestor(store: store, referentiel: .bundled).markRejectsDelivered(second.reportedFileIds)
        XCTAssertEqual(try ingest(url).rejects, [], "delivered rejects are not repeated")
        let recall = Ingestor(store: store, referentiel: .bundled)
        recall.recallRejects = true
        XCTAssertEqual(try recall.ingest([url]).rejects, first.rejects, "--rappeler-rejets writes them again")
    }
}

/// A short seeded fuzzing run in the test suite (the long one is `ciblage-bench fuzz`): every
/// mutated file is stored row by row or refused, each row read is accounted for, and the store
/// stays intact.
final class FuzzTests: XCTestCase {
    func testMutatedExportsAreAccountedForRowByRowAndTheStoreStaysIntact() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        let ingestor = Ingestor(store: store, referentiel: .bundled)
        _ = try ingestor.ingest([IngestorTests.fixtures.appendingPathComponent("equipements-ok.csv")])
        let fixtures = try FileManager.default.contentsOfDirectory(atPath: IngestorTests.fixtures.path).sorted()
        for ext in ["csv", "xml"] {
            let corpus = try fixtures.filter { $0.hasSuffix("." + ext) }.map { [UInt8](try Data(contentsOf: IngestorTests.fixtures.appendingPathComponent($0))) }
            var mutator = Mutator(corpus: corpus, seed: 2026)
            var refused = 0
            var stored = 0
            for i in 0..<250 {
                let url = folder.appendingPathComponent("entree-\(i).\(ext)")
                try Data(mutator.next()).write(to: url)
                let report = try ingestor.ingest([url])
                for file in report.files {
                    switch file.status {
                    case .stored:
                        stored += 1
                        XCTAssertEqual(file.read, file.stored + file.rejected + file.ignored, "\(url.lastPathComponent): every row read is stored, rejected or a duplicate")
                    case .refused: refused += 1
                    case .alreadyIngested: break
                    }
                }
                XCTAssertTrue(report.rejects.allSatisfy { $0.content.utf8.count <= Reject.maxContentBytes })
            }
            XCTAssertGreaterThan(stored, 0, ext)
            XCTAssertGreaterThan(refused, 0, ext)
        }
        XCTAssertEqual(try store.dbQueue.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }, "ok")
    }
}
