import CiblageModel
import CiblageReports
import CiblageScoring
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageSelection

/// Excel workbooks read back: codes as text cells, amounts as numbers, accents intact,
/// same data ⇒ same bytes.
final class WorkbookTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("classeur-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func sample(_ url: URL) throws {
        let book = try ExcelWorkbook(title: "Essai", created: Date(timeIntervalSince1970: 1_750_000_000))
        book.addAbout(title: "Essai", lines: [("Campagne", "2025-T3 — « Été »")])
        book.addSheet(
            name: "Plan Caf 2A/01", columns: [ExcelColumn("COMMUNE", .text), ExcelColumn("SIREN", .text), ExcelColumn("NOM", .text),
                ExcelColumn("ENJEU_EUROS", .euros), ExcelColumn("SCORE", .decimal(digits: 4)), ExcelColumn("TAUX", .percent)],
            rows: [
                [.text("01377"), .text("012345678"), .text("Crèche « Les Œillets » & Cie <nord>"), .number(12_400.5), .number(0.8731), .number(0.317)],
                [.text("2A004"), .text("000000001"), .text("=SOMME(A1:A9)"), .empty, .of(Double.nan), .of(0.5)],
            ])
        book.addSheet(name: "Vide", columns: [ExcelColumn("RANG", .integer)], rows: [[ExcelCell]](), whenEmpty: "aucun groupe retenu")
        try book.write(to: url)
    }

    func testCodesStayTextAmountsAreNumbersAndAccentsSurvive() throws {
        let url = folder.appendingPathComponent("essai.xlsx")
        try sample(url)
        let read = try XLSXReader(url)
        XCTAssertEqual(read.sheets.map(\.name), ["À propos", "Plan Caf 2A-01", "Vide"], "first sheet says what the file is; '/' is not allowed")
        let plan = try XCTUnwrap(read.sheet("Plan Caf 2A-01"))
        XCTAssertEqual(plan[1]?["A"]?.value, "COMMUNE")
        XCTAssertEqual(plan[2]?["A"], XLSXReader.Cell(type: "inlineStr", value: "01377"))
        XCTAssertEqual(plan[3]?["A"], XLSXReader.Cell(type: "inlineStr", value: "2A004"))
        XCTAssertEqual(plan[2]?["B"], XLSXReader.Cell(type: "inlineStr", value: "012345678"))
        XCTAssertEqual(plan[2]?["C"]?.value, "Crèche « Les Œillets » & Cie <nord>")
        XCTAssertEqual(plan[3]?["C"], XLSXReader.Cell(type: "inlineStr", value: "=SOMME(A1:A9)"), "a formula-like name is text, never a formula")
        XCTAssertEqual(plan[2]?["D"], XLSXReader.Cell(type: "", value: "12400.5"))
        XCTAssertEqual(plan[2]?["E"], XLSXReader.Cell(type: "", value: "0.8731"))
        XCTAssertNil(plan[3]?["D"], "a missing amount is an empty cell, not 0")
        XCTAssertNil(plan[3]?["E"], "NaN is an empty cell")
        XCTAssertEqual(read.sheet("Vide")?[2]?["A"]?.value, "aucun groupe retenu")
        let xml = String(decoding: read.entries["xl/worksheets/sheet2.xml"]!, as: UTF8.self)
        XCTAssertTrue(xml.contains("<autoFilter ref=\"A1:F3\""), "autofilter over the table")
        XCTAssertTrue(xml.contains("ySplit=\"1\"") && xml.contains("state=\"frozen\""), "header frozen")
        let styles = String(decoding: read.entries["xl/styles.xml"]!, as: UTF8.self)
        XCTAssertTrue(styles.contains("formatCode=\"@\""), "code columns formatted as text")
        XCTAssertTrue(styles.contains("formatCode=\"0.0%\""))
        XCTAssertTrue(styles.contains("#,##0\\ &quot;€&quot;"), styles)
        XCTAssertEqual(read.sheet("À propos")?[3]?["B"]?.value, "2025-T3 — « Été »")
    }

    func testTheSameDataGiveTheSameBytesWhateverTheClock() throws {
        let a = folder.appendingPathComponent("a.xlsx"), b = folder.appendingPathComponent("b.xlsx")
        try sample(a)
        Thread.sleep(forTimeInterval: 2.1)
        try sample(b)
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: folder.path).contains { $0.hasPrefix(".") }, "no temporary left")
    }

    /// The campaign's workbook and a Caf's export hold the CSV's lines: same codes as text,
    /// same amounts as numbers.
    func testTheCampaignWorkbookAndTheExportHoldThePlansOfTheCSVs() throws {
        let path = folder.appendingPathComponent("s.sqlite")
        try FileManager.default.copyItem(at: CampaignStageTests.world.appendingPathComponent("store.sqlite"), to: path)
        let store = try Store(path: path.path)
        let config = try CampaignConfig.parse(CampaignStageTests.campaign, file: "t.toml", referentiel: .bundled)
        let output = folder.appendingPathComponent("c")
        let plan = try CampaignStage(store: store, referentiel: .bundled).run(config, output: output)
        let book = try XLSXReader(output.appendingPathComponent("campagne.xlsx"))
        XCTAssertEqual(book.sheets.first?.name, "À propos")
        XCTAssertEqual(book.sheets.count, 1 + plan.locals.count + config.capacitesPoles.count)
        let local = try XCTUnwrap(plan.locals.max { $0.lines.count < $1.lines.count })
        let csv = try String(contentsOf: output.appendingPathComponent("plan-local-\(local.caf).csv"), encoding: .utf8)
            .components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
        for sheet in [try XCTUnwrap(book.sheet("Caf \(local.caf)")), try exported(store, caf: local.caf)] {
            XCTAssertEqual(sheet.count, csv.count + 1)
            for (i, line) in local.lines.enumerated() {
                let row = try XCTUnwrap(sheet[i + 2])
                XCTAssertEqual(row["B"], XLSXReader.Cell(type: "inlineStr", value: line.candidate.nDossier))
                XCTAssertEqual(row["E"], XLSXReader.Cell(type: "inlineStr", value: line.candidate.commune))
                XCTAssertEqual(row["F"], XLSXReader.Cell(type: "inlineStr", value: line.candidate.siren))
                XCTAssertEqual(row["H"]?.value, line.tirage.rawValue)
                XCTAssertEqual(Double(try XCTUnwrap(row["J"]?.value)) ?? -1, line.candidate.enjeu, accuracy: 1e-6)
                XCTAssertEqual(row["J"]?.type, "")
            }
        }
    }

    /// `ciblage-score --classeur`: the ranked list, in the order and with the figures of the CSV.
    func testTheRankedListWorkbookFollowsTheCSV() throws {
        let path = folder.appendingPathComponent("s.sqlite")
        try FileManager.default.copyItem(at: CampaignStageTests.world.appendingPathComponent("store.sqlite"), to: path)
        let csv = folder.appendingPathComponent("score.csv"), xlsx = folder.appendingPathComponent("score.xlsx")
        let summary = try ScoreStage(store: try Store(path: path.path), referentiel: .bundled).run(exercice: 2024, output: csv, workbook: xlsx)
        let book = try XLSXReader(xlsx)
        XCTAssertEqual(book.sheets.map(\.name), ["À propos", "Score 2024"])
        let sheet = try XCTUnwrap(book.sheet("Score 2024"))
        XCTAssertEqual(sheet.count, summary.scored + 1)
        let rows = try String(contentsOf: csv, encoding: .utf8).components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
            .map { $0.components(separatedBy: ";") }
        for (i, row) in rows.prefix(200).enumerated() {
            let cells = try XCTUnwrap(sheet[i + 2])
            XCTAssertEqual(cells["A"]?.value, row[0])
            XCTAssertEqual(cells["B"], XLSXReader.Cell(type: "inlineStr", value: row[1]))
            XCTAssertEqual(cells["C"], XLSXReader.Cell(type: "inlineStr", value: row[2]))
            XCTAssertEqual(cells["E"], XLSXReader.Cell(type: "inlineStr", value: row[4]))
            XCTAssertEqual(Double(cells["F"]!.value)!, Double(row[5].replacingOccurrences(of: ",", with: "."))!, accuracy: 5e-5)
            XCTAssertEqual(Double(cells["H"]!.value)!, Double(row[7].replacingOccurrences(of: ",", with: "."))!, accuracy: 0.5)
        }
    }

    func exported(_ store: Store, caf: String) throws -> [Int: [String: XLSXReader.Cell]] {
        let url = folder.appendingPathComponent("export-\(caf).xlsx")
        _ = try store.dbQueue.read { try CampaignExport.export($0, campagne: "TEST-1", caf: caf, to: url, workbook: true) }
        let book = try XLSXReader(url)
        XCTAssertEqual(book.sheets.map(\.name), ["À propos", "Plan Caf \(caf)"])
        XCTAssertTrue(book.sheet("À propos")?.values.contains { $0["B"]?.value.contains("TEST-1") ?? false } ?? false)
        return try XCTUnwrap(book.sheet("Plan Caf \(caf)"))
    }
}

extension WorkbookTests {
    /// A campaign without a multi plan says so in its synthesis, instead of an empty chart and table.
    func testASynthesisWithoutMultiPlanSaysSo() throws {
        let path = folder.appendingPathComponent("s.sqlite")
        try FileManager.default.copyItem(at: CampaignStageTests.world.appendingPathComponent("store.sqlite"), to: path)
        let config = try CampaignConfig.parse(
            "[campagne]\nid = \"L-1\"\nexercice = 2024\ngraine = 3\n[plan_local]\ntaux_controle = 0.1\npart_aleatoire = 0.2\n",
            file: "l.toml", referentiel: .bundled)
        let output = folder.appendingPathComponent("l")
        _ = try CampaignStage(store: try Store(path: path.path), referentiel: .bundled).run(config, output: output)
        let html = try String(contentsOf: output.appendingPathComponent("synthese.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("pas de plan multi-départemental"), html)
        XCTAssertFalse(html.contains("Groupes retenus et sites à contrôler par pôle"))
    }
}
