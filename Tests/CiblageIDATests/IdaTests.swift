import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageIDA

final class CompetingRisksTests: XCTestCase {
    func d(_ text: String) -> CalendarDate { CalendarDate(french: text)! }

    func testWholeCalendarMonthsCompleted() {
        XCTAssertEqual(CompetingRisks.months(from: d("15/01/2024"), to: d("14/03/2024")), 1)
        XCTAssertEqual(CompetingRisks.months(from: d("15/01/2024"), to: d("15/03/2024")), 2)
        XCTAssertEqual(CompetingRisks.months(from: d("31/01/2024"), to: d("29/02/2024")), 0)
        XCTAssertEqual(CompetingRisks.months(from: d("15/01/2021"), to: d("15/01/2024")), 36)
        XCTAssertEqual(CompetingRisks.months(from: d("15/01/2024"), to: d("15/01/2024")), 0)
    }

    /// Seven projects, by hand: n = 7; month 2 one opening (F_o = 1/7, S = 6/7); month 3 one
    /// opening, one abandonment, one censoring among 6 (F_o = 2/7, F_a = 1/7, S = 4/7); month 5
    /// one opening among 3 (F_o = 2/7 + 4/21 = 10/21, S = 8/21); month 6 a censoring; month 7
    /// one abandonment among 1 (F_a = 1/7 + 8/21 = 11/21).
    func testAalenJohansenAgainstAHandComputedReference() {
        let times: [ProjectTime] = [
            .init(months: 2, outcome: .opened), .init(months: 3, outcome: .opened), .init(months: 3, outcome: .abandoned),
            .init(months: 3, outcome: .censored), .init(months: 5, outcome: .opened), .init(months: 6, outcome: .censored),
            .init(months: 7, outcome: .abandoned),
        ]
        let steps = CompetingRisks.aalenJohansen(times.shuffled())
        XCTAssertEqual(steps.map(\.month), [2, 3, 5, 6, 7])
        XCTAssertEqual(steps.map(\.atRisk), [7, 6, 3, 2, 1])
        XCTAssertEqual(steps.map(\.openings), [1, 1, 1, 0, 0])
        XCTAssertEqual(steps.map(\.abandonments), [0, 1, 0, 0, 1])
        XCTAssertEqual(steps.map(\.censored), [0, 1, 0, 1, 0])
        let opened: [Double] = [1.0 / 7, 2.0 / 7, 10.0 / 21, 10.0 / 21, 10.0 / 21]
        let abandoned: [Double] = [0, 1.0 / 7, 1.0 / 7, 1.0 / 7, 11.0 / 21]
        for (s, (o, a)) in zip(steps, zip(opened, abandoned)) {
            XCTAssertEqual(s.opened, o, accuracy: 1e-12)
            XCTAssertEqual(s.abandoned, a, accuracy: 1e-12)
        }
        XCTAssertEqual(CompetingRisks.medianOpening(steps), nil, "10/21 < 1/2: never reached")
        XCTAssertEqual(CompetingRisks.value(steps, at: 4, \.opened), 2.0 / 7, accuracy: 1e-12)
    }

    /// Without abandonments the incidence of opening is 1 − Kaplan–Meier, on random data.
    func testWithoutAbandonmentsOpeningIsOneMinusKaplanMeier() {
        var rng = SeededRandom(seed: 11)
        let times = (0..<400).map { _ in ProjectTime(months: rng.int(0...60), outcome: rng.chance(0.6) ? .opened : .censored) }
        var km = 1.0
        var atRisk = times.count
        for step in CompetingRisks.aalenJohansen(times) {
            km *= 1 - Double(step.openings) / Double(atRisk)
            atRisk -= step.openings + step.censored
            XCTAssertEqual(step.opened, 1 - km, accuracy: 1e-9)
            XCTAssertEqual(step.abandoned, 0)
        }
    }

    func testAPendingProjectIsCensoredAtTheReferenceDateNeverAbandoned() {
        func project(_ etat: EtatProjet, ouverture: String? = nil, abandon: String? = nil) -> ProjectRow {
            ProjectRow(
                nProjet: "P", caf: "66", pole: "MEDITERRANEE", commune: "66136", siren: "123456782", nom: "X", statut: "ASSOCIATIF",
                nature: "EAJE_COLLECTIF", places: 30, decision: d("15/01/2022"), aide: nil, prevue: d("15/01/2023"), etat: etat, ouvertes: 30,
                ouverture: ouverture.map(d), abandon: abandon.map(d), qpv: false, zrr: false)
        }
        let reference = d("31/12/2023")
        XCTAssertEqual(project(.enCours).time(at: reference), ProjectTime(months: 23, outcome: .censored))
        XCTAssertEqual(project(.suspendu).time(at: reference), ProjectTime(months: 23, outcome: .censored))
        XCTAssertEqual(project(.ouvert, ouverture: "20/06/2023").time(at: reference), ProjectTime(months: 17, outcome: .opened))
        // Known later (the file is newer than the reference date): still pending then.
        XCTAssertEqual(project(.ouvert, ouverture: "20/06/2024").time(at: reference).outcome, .censored)
        XCTAssertEqual(project(.abandonne, abandon: "01/03/2024").time(at: reference).outcome, .censored)
        XCTAssertEqual(project(.abandonne, abandon: "01/03/2023").time(at: reference), ProjectTime(months: 13, outcome: .abandoned))
    }

    func testTheCapacityIsSharedInProportionToPendingPlaces() {
        let shares = IdaStage.share(200, by: ["A": 500, "B": 300, "C": 200, "D": 0])
        XCTAssertEqual(shares, ["A": 100, "B": 60, "C": 40, "D": 0])
        let odd = IdaStage.share(10, by: ["A": 1, "B": 1, "C": 1])
        XCTAssertEqual(odd.values.reduce(0, +), 10)
    }
}

/// The `projets` export ingested, and the stage on a generated world.
final class IdaStageTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ida-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    static let header = "N_PROJET;CAF;COMMUNE;SIREN_PORTEUR;NOM_PORTEUR;STATUT_PORTEUR;NATURE;PLACES_DECIDEES;DATE_DECISION;AIDE_INVESTISSEMENT;DATE_OUVERTURE_PREVUE;ETAT;PLACES_OUVERTES;DATE_OUVERTURE;DATE_ABANDON;N_DOSSIER;QPV;ZRR"

    func testEveryRuleOfTheProjectsExportAndTheHistoryOfStates() throws {
        let first = folder.appendingPathComponent("projets-1.csv")
        try """
            \(Self.header)
            P1;66;66136;123456782;Commune de Perpignan;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;120 000,50;15/01/2023;EN_COURS;;;;;O;N
            P2;66;66136;123456782;Commune de Perpignan;public;micro_creche_paje;10;15/01/2022;;15/01/2023;en_cours;;;;;;
            P3;66;34172;123456782;Mauvaise commune;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;;15/01/2023;EN_COURS;;;;;;
            P4;66;66136;123456789;Mauvais SIREN;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;;15/01/2023;EN_COURS;;;;;;
            P5;66;66136;123456782;Ouvert sans date;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;;15/01/2023;OUVERT;40;;;;;
            P6;66;66136;123456782;Abandon sans date;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;;15/01/2023;ABANDONNE;;;;;;
            P7;66;66136;123456782;Prévue avant décision;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;;15/01/2021;EN_COURS;;;;;;
            P8;66;66136;123456782;Nature inconnue;PUBLIC;RPE;40;15/01/2022;;15/01/2023;EN_COURS;;;;;;
            P9;66;66136;123456782;Places en cours;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;;15/01/2023;EN_COURS;35;;;;;
            P10;66;66136;123456782;Équipement inconnu;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;;15/01/2023;EN_COURS;;;;66-999999;;
            P11;66;66136;123456782;Zéro place;PUBLIC;EAJE_COLLECTIF;0;15/01/2022;;15/01/2023;EN_COURS;;;;;;

            """.write(to: first, atomically: true, encoding: .utf8)
        let store = try Store(path: folder.appendingPathComponent("s.sqlite").path)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([first])
        XCTAssertEqual(report.files.first?.kind, .projets)
        XCTAssertEqual(report.files.first?.stored, 2)
        let byLine = Dictionary(report.rejects.map { ($0.line, $0.field) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byLine, [4: "COMMUNE", 5: "SIREN_PORTEUR", 6: "DATE_OUVERTURE", 7: "DATE_ABANDON", 8: "DATE_OUVERTURE_PREVUE",
                                9: "NATURE", 10: "PLACES_OUVERTES", 11: "N_DOSSIER", 12: "PLACES_DECIDEES"])
        // A later file: P1 opens with fewer places, P2 is suspended then abandoned by a third file.
        let second = folder.appendingPathComponent("projets-2.csv")
        try """
            \(Self.header)
            P1;66;66136;123456782;Commune de Perpignan;PUBLIC;EAJE_COLLECTIF;40;15/01/2022;120 000,50;15/01/2023;OUVERT;32;01/09/2023;;;O;N
            P2;66;66136;123456782;Commune de Perpignan;PUBLIC;MICRO_CRECHE_PAJE;10;15/01/2022;;15/01/2023;SUSPENDU;;;;;;

            """.write(to: second, atomically: true, encoding: .utf8)
        let third = folder.appendingPathComponent("projets-3.csv")
        try """
            \(Self.header)
            P2;66;66136;123456782;Commune de Perpignan;PUBLIC;MICRO_CRECHE_PAJE;10;15/01/2022;;15/01/2023;ABANDONNE;;;01/02/2024;;;

            """.write(to: third, atomically: true, encoding: .utf8)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([second])
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([third])
        try store.dbQueue.read { db in
            let states = try Row.fetchAll(
                db, sql: "SELECT e.etat, f.nom FROM projet_etat e JOIN fichier f ON f.id = e.fichier_id WHERE n_projet = 'P2' ORDER BY e.fichier_id")
            XCTAssertEqual(states.map { "\($0[0] as String)@\($0[1] as String)" }, ["EN_COURS@projets-1.csv", "SUSPENDU@projets-2.csv", "ABANDONNE@projets-3.csv"])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM projet_historique WHERE n_projet = 'P2'"), 2)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT places_ouvertes FROM projet WHERE n_projet = 'P1'"), 32)
            XCTAssertEqual(try Double.fetchOne(db, sql: "SELECT aide_investissement FROM projet WHERE n_projet = 'P1'"), 120_000.5)
        }
        // P1 delivered again with the values it has (other bytes: lower-case codes): nothing to record.
        let fourth = folder.appendingPathComponent("projets-4.csv")
        try """
            \(Self.header)
            P1;66;66136;123456782;Commune de Perpignan;public;eaje_collectif;40;15/01/2022;120 000,50;15/01/2023;ouvert;32;01/09/2023;;;O;N

            """.write(to: fourth, atomically: true, encoding: .utf8)
        let again = try Ingestor(store: store, referentiel: .bundled).ingest([fourth])
        XCTAssertEqual(again.files.first?.status, .stored)
        XCTAssertEqual(again.files.first?.corrections, 0)
        try store.dbQueue.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM projet_historique WHERE n_projet = 'P1'"), 1)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM projet_etat WHERE n_projet = 'P1'"), 2)
        }
        let output = folder.appendingPathComponent("ida")
        let summary = try IdaStage(store: store, referentiel: .bundled).run(reference: CalendarDate(french: "31/12/2024")!, output: output)
        XCTAssertEqual(summary.projets, 2)
        XCTAssertEqual(summary.enAttente, 0)
        let ecart = try String(contentsOf: output.appendingPathComponent("ecart-20241231.csv"), encoding: .utf8)
        XCTAssertTrue(ecart.contains("NATIONAL;;2;50;32;0;10;\r\n"), ecart)
    }

    func testTheStageOnAGeneratedWorldIsCompleteAndDeterministic() throws {
        _ = try Generator(configuration: GeneratorConfiguration(equipements: 1600, seed: 17, cafs: ["11", "34", "66", "75", "93"])).write(to: folder)
        let store = try Store(path: folder.appendingPathComponent("s.sqlite").path)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        let expected = try String(contentsOf: folder.appendingPathComponent("verite/rejets-attendus.csv"), encoding: .utf8)
            .components(separatedBy: "\n").filter { $0.hasPrefix("projets.csv;") }.count
        XCTAssertEqual(report.rejects.filter { $0.file == "projets.csv" }.count, expected, "the projects file's rejects are the injected ones")
        let reference = CalendarDate(french: "31/12/2024")!
        let a = try IdaStage(store: store, referentiel: .bundled).run(reference: reference, capacity: 60, output: folder.appendingPathComponent("a"))
        _ = try IdaStage(store: store, referentiel: .bundled).run(reference: reference, capacity: 60, output: folder.appendingPathComponent("b"))
        XCTAssertEqual(a.files.map(\.lastPathComponent).sorted(), ["delais-20241231.csv", "ecart-20241231.csv", "ida-20241231.html", "suivi-ida-20241231.csv"])
        for file in a.files {
            XCTAssertEqual(try Data(contentsOf: file), try Data(contentsOf: folder.appendingPathComponent("b").appendingPathComponent(file.lastPathComponent)), file.lastPathComponent)
        }
        XCTAssertEqual(a.suivi.count, 60)
        XCTAssertEqual(Set(a.suivi.map(\.pole)), ["IDF_HDF", "MEDITERRANEE"])
        XCTAssertTrue(a.suivi.contains { $0.type == "PROJET" })
        for pole in Set(a.suivi.map(\.pole)) {
            let lines = a.suivi.filter { $0.pole == pole }
            XCTAssertEqual(lines.map(\.rang), Array(1...lines.count))
            XCTAssertEqual(lines.map(\.score), lines.map(\.score).sorted(by: >))
        }
        let delais = try String(contentsOf: a.files.first { $0.lastPathComponent.hasPrefix("delais") }!, encoding: .utf8)
            .components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
        XCTAssertTrue(delais.first?.hasPrefix("ENSEMBLE;") ?? false)
        let html = try String(contentsOf: a.files.first { $0.pathExtension == "html" }!, encoding: .utf8)
        XCTAssertTrue(html.contains("Aalen–Johansen") && html.contains("Liste de suivi"))
    }
}

extension IdaStageTests {
    /// No project yet: files with their headers only, the page says so, the list keeps the
    /// fragile equipments.
    func testWithoutProjectsTheFilesSaySoAndTheListKeepsFragileEquipments() throws {
        _ = try Generator(configuration: GeneratorConfiguration(equipements: 1200, seed: 8, cafs: ["34", "66"])).write(to: folder)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("exports/projets.csv"))
        let store = try Store(path: folder.appendingPathComponent("s.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        let summary = try IdaStage(store: store, referentiel: .bundled).run(reference: CalendarDate(french: "31/12/2024")!, capacity: 20, output: folder.appendingPathComponent("o"))
        XCTAssertEqual(summary.projets, 0)
        for name in ["ecart-20241231.csv", "delais-20241231.csv"] {
            let lines = try String(contentsOf: folder.appendingPathComponent("o/\(name)"), encoding: .utf8).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            XCTAssertEqual(lines.count, 1, "\(name): header only")
        }
        XCTAssertTrue(summary.suivi.allSatisfy { $0.type == "EQUIPEMENT" })
        XCTAssertFalse(summary.suivi.isEmpty)
        let html = try String(contentsOf: folder.appendingPathComponent("o/ida-20241231.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("Aucun projet de création de places décidé au plus tard le 31/12/2024"))
    }
}
