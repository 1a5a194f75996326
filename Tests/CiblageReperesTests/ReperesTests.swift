import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageReperes

final class QuantileTests: XCTestCase {
    /// Expected values from numpy.quantile (type 7).
    func testType7OnKnownVectorsWithTiesAndTinySamples() {
        let cases: [([Double], [Double])] = [
            ([1, 2, 3, 4], [1.3, 1.75, 2.5, 3.25, 3.7]),
            ([5], [5, 5, 5, 5, 5]),
            ([1, 3], [1.2, 1.5, 2.0, 2.5, 2.8]),
            ([2, 2, 2, 5, 9], [2, 2, 2, 5, 7.4]),
            ([10, 1, 7, 3, 3, 8], [2, 3, 5, 7.75, 9]),
        ]
        for (values, expected) in cases {
            let sorted = values.sorted()
            for (p, e) in zip([0.1, 0.25, 0.5, 0.75, 0.9], expected) {
                XCTAssertEqual(Quantile.type7(sorted: sorted, p)!, e, accuracy: 1e-12, "\(values) p=\(p)")
            }
        }
        XCTAssertNil(Quantile.type7(sorted: [], 0.5))
    }
}

final class CostIndicatorTests: XCTestCase {
    /// A crèche of 30 places, figures chosen so that every indicator is computed by hand.
    func testEveryIndicatorOnAHandComputedDeclaration() {
        var f = DeclarationFigures()
        f.places = 30
        f.heuresOuverture = 2500
        f.heuresRealisees = 50_000
        f.heuresFacturees = 56_000
        f.totalCharges = 540_000
        f.participationsFamilles = 84_000
        f.prestationCaf = 250_000
        f.bonusCaf = 26_000
        func v(_ i: CostIndicator) -> Double { i.value(f, placesAgreees: nil)! }
        XCTAssertEqual(v(.prixRevientPlace), 18_000, accuracy: 1e-9)  // 540 000 / 30
        XCTAssertEqual(v(.prixRevientHeure), 10.8, accuracy: 1e-12)  // 540 000 / 50 000
        XCTAssertEqual(v(.prixRevientHeureFacturee), 540_000.0 / 56_000, accuracy: 1e-12)
        XCTAssertEqual(v(.resteAChargePlace), 6_000, accuracy: 1e-9)  // (540 000 − 250 000 − 26 000 − 84 000) / 30
        XCTAssertEqual(v(.partResteACharge), 180_000.0 / 540_000, accuracy: 1e-12)
        XCTAssertEqual(v(.partFinancementCaf), 276_000.0 / 540_000, accuracy: 1e-12)
        XCTAssertEqual(v(.participationHoraire), 1.5, accuracy: 1e-12)  // 84 000 / 56 000
        XCTAssertEqual(v(.tauxOccupation), 50_000.0 / 75_000, accuracy: 1e-12)  // 50 000 / (30 × 2 500)
        XCTAssertEqual(v(.tauxFacturation), 1.12, accuracy: 1e-12)
        // Without declared places, the places agréées; without hours, no hourly indicator.
        f.places = nil
        f.heuresRealisees = nil
        XCTAssertEqual(CostIndicator.prixRevientPlace.value(f, placesAgreees: 36)!, 15_000, accuracy: 1e-9)
        XCTAssertNil(CostIndicator.prixRevientHeure.value(f, placesAgreees: 36))
        XCTAssertNil(CostIndicator.tauxOccupation.value(f, placesAgreees: 36))
    }
}

final class ConfidentialityTests: XCTestCase {
    static func equipment(_ id: Int, nature: String, siren: String, charges: Double, cost: Double) -> StudyEquipment {
        StudyEquipment(
            id: Int64(id), nDossier: "66-\(id)", nom: "E\(id)", siren: siren, nomGestionnaire: siren,
            cell: [.nature: nature, .taille: "T13_24", .statut: "PUBLIC", .pole: "MEDITERRANEE", .caf: "66"],
            values: [.prixRevientPlace: cost], previous: [:], charges: charges, resultat: nil, resultatPrecedent: nil,
            chargesPrecedentes: nil)
    }

    func testFrequencyRuleNeedsFiveEquipmentsAndThreeManagers() {
        let four = (0..<4).map { Self.equipment($0, nature: "A", siren: "S\($0)", charges: 100, cost: 1) }
        XCTAssertEqual(CostStudy.primarySecret(four), .frequence)
        let twoManagers = (0..<6).map { Self.equipment($0, nature: "A", siren: "S\($0 % 2)", charges: 100, cost: 1) }
        XCTAssertEqual(CostStudy.primarySecret(twoManagers), .frequence)
        let fine = (0..<5).map { Self.equipment($0, nature: "A", siren: "S\($0 % 3)", charges: 100, cost: 1) }
        XCTAssertNil(CostStudy.primarySecret(fine))
    }

    func testDominanceRuleWeighsTheTwoLargestManagersCosts() {
        // Costs by manager: 500, 400, 50, 50 → the two largest hold 90 % > 85 %.
        let dominated = [500.0, 400, 50, 25, 25].enumerated().map {
            Self.equipment($0.offset, nature: "A", siren: ["M1", "M2", "M3", "M4", "M4"][$0.offset], charges: $0.element, cost: 1)
        }
        XCTAssertEqual(CostStudy.primarySecret(dominated), .dominance)
        // 400, 400, 200 → 80 %: published.
        let balanced = [400.0, 400, 100, 50, 50].enumerated().map {
            Self.equipment($0.offset, nature: "A", siren: ["M1", "M2", "M3", "M3", "M3"][$0.offset], charges: $0.element, cost: 1)
        }
        XCTAssertNil(CostStudy.primarySecret(balanced))
    }

    func testEachCellIsTalliedAfreshWhenTheTallyServesCellAfterCell() {
        // Managers 0–3; one tally for three cells, as the study uses it.
        let manager = [0, 1, 2, 0, 0, 1, 2, 3, 0, 1, 2, 3, 3]
        let charges = [900.0, 10, 10, 900, 900, 100, 100, 100, 50, 50, 50, 25, 25]
        var tally = CostStudy.ManagerTally(managers: 4)
        // 2 700 € of manager 0 against 120 €: dominance.
        XCTAssertEqual(tally.secret([0, 1, 2, 3, 4], manager: manager, charges: charges), .dominance)
        // Manager 0's 900 € of the first cell must not count here: 50, 100, 100, 100 → 57 %.
        XCTAssertNil(tally.secret([8, 5, 6, 7, 1], manager: manager, charges: charges.enumerated().map { $0.offset == 1 ? 0 : $0.element }))
        XCTAssertEqual(tally.secret([8, 9, 10, 11], manager: manager, charges: charges), .frequence, "four equipments")
        XCTAssertNil(tally.secret([8, 9, 10, 11, 12], manager: manager, charges: charges), "50, 50, 50, 50 €: no dominance")
    }

    func testOneBlankedCellTakesTheSmallestOtherWithItSoTheTotalGivesNothingAway() throws {
        var all: [StudyEquipment] = []
        var id = 0
        func add(_ nature: String, _ n: Int, managers: Int) {
            for k in 0..<n {
                all.append(Self.equipment(id, nature: nature, siren: "\(nature)\(k % managers)", charges: 100, cost: Double(id)))
                id += 1
            }
        }
        add("A", 20, managers: 5)
        add("B", 8, managers: 4)
        add("C", 12, managers: 4)
        add("D", 3, managers: 3)  // blanked: fewer than 5
        let study = CostStudy(exercice: 2024, axes: [.nature], equipments: all)
        let cells = study.cells.filter { $0.indicator == .prixRevientPlace }
        func cell(_ k: String?) -> CellFigures { cells.first { $0.key == k.map { [$0] } }! }
        XCTAssertEqual(cell("D").secret, .frequence)
        XCTAssertEqual(cell("B").secret, .secondaire, "the smallest of the others")
        XCTAssertNil(cell("A").secret)
        XCTAssertNil(cell("C").secret)
        XCTAssertNil(cell(nil).secret)
        XCTAssertEqual(cell(nil).n, 43)
        // What remains published cannot give D alone: total − A − C = B + D.
        XCTAssertEqual(cell(nil).n - cell("A").n - cell("C").n, 11)
    }

    func testTwoBlankedCellsNeedNoSecondarySuppression() {
        var all: [StudyEquipment] = []
        for k in 0..<20 { all.append(Self.equipment(k, nature: "A", siren: "A\(k % 5)", charges: 100, cost: Double(k))) }
        for k in 0..<3 { all.append(Self.equipment(100 + k, nature: "B", siren: "B\(k)", charges: 100, cost: 1)) }
        for k in 0..<4 { all.append(Self.equipment(200 + k, nature: "C", siren: "C\(k)", charges: 100, cost: 1)) }
        let cells = CostStudy(exercice: 2024, axes: [.nature], equipments: all).cells
        XCTAssertEqual(cells.filter { $0.secret == .secondaire }.count, 0)
        XCTAssertEqual(cells.filter { $0.secret == .frequence }.count, 2)
    }
}

/// The stage on a store filled from the fixture files.
final class ReperesStageTests: XCTestCase {
    func testWritesTheStudyFilesWithTheContractColumnsAndBlanksSmallCells() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reperes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest(
            ["equipements-ok.csv", "declarations-ok.csv"].map { fixtures.appendingPathComponent($0) })
        let summary = try ReperesStage(store: store, referentiel: .bundled)
            .run(exercice: 2024, axes: [.nature, .taille], output: folder, fragilite: true, caf: "66")
        XCTAssertEqual(summary.files.map(\.lastPathComponent).sorted(),
                       ["fragilite-2024-66.csv", "reperes-2024-atypiques.csv", "reperes-2024.csv", "reperes-2024.html"])
        let text = String(decoding: try Data(contentsOf: folder.appendingPathComponent("reperes-2024.csv")).dropFirst(3), as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines[0], "NATURE;TAILLE;INDICATEUR;N;MOYENNE;P10;P25;MEDIANE;P75;P90;DIFFUSABLE;MOTIF_SECRET;EVOLUTION_MEDIANE")
        // A handful of equipments: every cell, the national total too, is blanked by the frequency rule.
        for line in lines.dropFirst() {
            let f = line.components(separatedBy: ";")
            XCTAssertEqual(f[10], "N", line)
            XCTAssertEqual(f[11], "FREQUENCE", line)
            XCTAssertEqual(f[3...9].joined(), "", "blanked figures: \(line)")
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("ENSEMBLE;ENSEMBLE;PRIX_REVIENT_PLACE;") })
        let html = try String(contentsOf: folder.appendingPathComponent("reperes-2024.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("Secret statistique") && html.contains("17 500 €"))
        // Headings name what a reader knows (the code kept beside), rules with their accents,
        // and a chart with every cell blanked says so in words rather than drawing nothing.
        XCTAssertTrue(html.contains("<h2>Prix de revient par place (PRIX_REVIENT_PLACE)</h2>"), html)
        XCTAssertFalse(html.contains("<h2>PRIX_REVIENT_PLACE</h2>"))
        XCTAssertTrue(html.contains("non (fréquence)") && !html.contains("(frequence)"))
        XCTAssertTrue(html.contains("<td>fréquence</td>") && html.contains("<td>secret secondaire</td>"), html)
        XCTAssertTrue(html.contains("aucune donnée à représenter"))
        XCTAssertThrowsError(try ReperesStage(store: store, referentiel: .bundled).run(exercice: 2010, axes: [.nature], output: folder))
    }

    func testTheRegistryReadBesideTheReelsGivesWhatOneConnectionReadsAlone() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reperes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let world = folder.appendingPathComponent("monde")
        _ = try Generator(configuration: GeneratorConfiguration(equipements: 400, exercices: 2023...2024, seed: 11)).write(to: world)
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([world.appendingPathComponent("exports")])
        // On the store's file, the registry is read on a second connection meanwhile.
        let overlapped = try store.dbQueue.read { db -> [StudyEquipment] in
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement")
            XCTAssertNotNil(Store.secondReader(of: db))
            return try StudyStore.load(db, exercice: 2024, referentiel: .bundled)
        }
        // In memory there is no second connection: everything is read on the one.
        let memory = try DatabaseQueue()
        try store.dbQueue.backup(to: memory)
        let single = try memory.read { db -> [StudyEquipment] in
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement")
            XCTAssertNil(Store.secondReader(of: db))
            return try StudyStore.load(db, exercice: 2024, referentiel: .bundled)
        }
        XCTAssertGreaterThan(overlapped.count, 300)
        XCTAssertGreaterThan(overlapped.filter { $0.chargesPrecedentes != nil }.count, 200, "N-1 read too")
        XCTAssertEqual(overlapped.map { "\($0)" }, single.map { "\($0)" })
    }

    func testAxesParseAndUnknownAxesAreNamed() {
        XCTAssertEqual(try Axis.parse("nature, caf,nature").get(), [.nature, .caf])
        if case .failure(let e) = Axis.parse("nature,region") { XCTAssertTrue("\(e)".contains("« region »")) } else { XCTFail() }
    }
}
