import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageScoring

/// Features on a hand-built population: 30 crèches of 20 places (one peer cell) whose cost per
/// hour cycles 9, 10, 11 € (median 10, MAD 1), plus the equipment under test.
final class FeatureBuilderTests: XCTestCase {
    static func profile(_ id: Int64, siren: String) -> EquipmentProfile {
        EquipmentProfile(
            id: id, nDossier: String(format: "66-%06d", id), nature: "EAJE_COLLECTIF", sirenGestionnaire: siren,
            statut: "ASSOCIATIF", caf: "66", qpv: false, zrr: false, placesAgreees: 20, ouverture: 20100101, fermeture: nil)
    }

    static func input(_ id: Int64, costPerHour: Double, billed: Double = 1.05, controls: [PastControl] = []) -> IndicatorInputs {
        var f = DeclarationFigures()
        f.places = 20
        f.heuresOuverture = 2500
        f.heuresRealisees = 35000
        f.heuresFacturees = 35000 * billed
        f.totalCharges = 35000 * costPerHour
        f.participationsFamilles = 35000 * billed * 1.5
        f.nbEnfants = 40
        f.etp = 6
        f.prestationCaf = 100_000
        let date = CalendarDate(year: 2025, month: 3, day: 15)!
        return IndicatorInputs(
            equipementId: id, exercice: 2024, placesAgreees: 20, current: [.reel: DatedFigures(dateDepot: date, figures: f)],
            previousYear: [:], fundingByExercice: [2024: 100_000], controls: controls)
    }

    func build() -> (FeatureBuilder, [Int64: EquipmentProfile]) {
        var inputs = (1...30).map { Self.input(Int64($0), costPerHour: [9.0, 10, 11][$0 % 3]) }
        let past = PastControl(date: CalendarDate(year: 2022, month: 5, day: 2)!, anomalie: true, indu: 12_400)
        inputs.append(Self.input(31, costPerHour: 14, billed: 1.24, controls: [past]))
        var profiles = Dictionary(uniqueKeysWithValues: (1...30).map { (Int64($0), Self.profile(Int64($0), siren: "S\($0)")) })
        profiles[31] = Self.profile(31, siren: "GROUPE")
        profiles[2] = Self.profile(2, siren: "GROUPE")
        profiles[3] = Self.profile(3, siren: "GROUPE")
        func control(_ id: Int64, _ anomalie: Bool, _ month: Int) -> StoredControl {
            StoredControl(
                equipementId: id, date: CalendarDate(year: 2023, month: month, day: 1)!, exercices: [2022], origine: .ciblage,
                type: .surPlace, anomalie: anomalie, indu: anomalie ? 5000 : 0)
        }
        // Known controls: 31's own (anomaly), the group's 2 and 3 (one anomaly), and 4 (conforme).
        let controls = [
            StoredControl(
                equipementId: 31, date: past.date, exercices: [2021], origine: .aleatoire, type: .surPlace, anomalie: true,
                indu: 12_400),
            control(2, true, 3), control(3, false, 4), control(4, false, 5),
        ]
        return (FeatureBuilder(exercice: 2024, inputs: inputs, profiles: profiles, controls: controls, referentiel: .bundled), profiles)
    }

    func testPeerZScoresBillingExcessAndHistory() throws {
        let (builder, profiles) = build()
        let row = try XCTUnwrap(builder.row(profiles[31]!))
        func value(_ f: Feature) -> Double? { row.values[f.rawValue] }
        XCTAssertEqual(try XCTUnwrap(value(.tauxFacturation)), 1.24 - 1.07, accuracy: 1e-12)
        // 31 equipments: costs per hour 9 ×10, 10 ×10, 11 ×10 and 14 → median 10, MAD 1.
        XCTAssertEqual(try XCTUnwrap(value(.coutHeure)), 4 / 1.4826, accuracy: 1e-9)
        XCTAssertEqual(row.peerMedians[.coutHeure], 10)
        XCTAssertEqual(value(.anomaliesPassees), 1)
        XCTAssertEqual(try XCTUnwrap(value(.indusPasses)), log1p(12.4), accuracy: 1e-12)
        XCTAssertEqual(value(.jamaisControle), 0)
        XCTAssertEqual(value(.anneesDepuisControle), 3, "last control in 2022, scored at the end of 2024")
        // The group's other equipments: 1 anomaly in 2 controls; overall 2 in 4; prior of 3 controls.
        XCTAssertEqual(try XCTUnwrap(value(.tauxGestionnaire)), (1 + 3 * 0.5) / (2 + 3), accuracy: 1e-12)
        XCTAssertEqual(row.managerControls, 2)
        XCTAssertEqual(value(.activiteHoraire), 1)
        XCTAssertNil(value(.testChiffres), "the group declared fewer than 300 amounts")
        XCTAssertEqual(value(.reelManquant), 0)
    }

    func testReasonsQuoteTheFigures() throws {
        let (builder, profiles) = build()
        let row = try XCTUnwrap(builder.row(profiles[31]!))
        XCTAssertEqual(Reasons.sentence(.tauxFacturation, row, exercice: 2024), "Taux de facturation 124 % (> 117 %)")
        XCTAssertEqual(Reasons.sentence(.coutHeure, row, exercice: 2024), "Coût par heure 14,00 € (pairs 10,00 €)")
        XCTAssertEqual(Reasons.sentence(.indusPasses, row, exercice: 2024), "Anomalie lors du contrôle de 2022 (indu 12 400 €)")
        XCTAssertEqual(
            Reasons.sentence(.tauxGestionnaire, row, exercice: 2024),
            "Gestionnaire : 1 anomalie sur 2 contrôles de ses autres équipements")
        // Largest contributions first, a sentence said once, small ones left out.
        var contributions = [Double](repeating: 0, count: Feature.allCases.count)
        contributions[Feature.coutHeure.rawValue] = 0.9
        contributions[Feature.tauxFacturation.rawValue] = 1.2
        contributions[Feature.anomaliesPassees.rawValue] = 0.5
        contributions[Feature.indusPasses.rawValue] = 0.4
        contributions[Feature.enjeu.rawValue] = 0.01
        XCTAssertEqual(
            Reasons.motifs(row, contributions: contributions, exercice: 2024),
            ["Taux de facturation 124 % (> 117 %)", "Coût par heure 14,00 € (pairs 10,00 €)", "Anomalie lors du contrôle de 2022 (indu 12 400 €)"])
    }
}

/// The stage on a real store filled from the fixture files.
final class ScoreStageTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("score-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func fixtureStore() throws -> Store {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest(
            ["equipements-ok.csv", "declarations-ok.csv", "controles.csv"].map { fixtures.appendingPathComponent($0) })
        return store
    }

    func testStoresScoresModelAndWritesTheRankedListOfTheContract() throws {
        let store = try fixtureStore()
        let output = folder.appendingPathComponent("score.csv")
        let summary = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024, output: output)
        XCTAssertEqual(summary.scored, 4)
        XCTAssertEqual(summary.model.kind, .expert, "a handful of controls: the expert weights")

        let bytes = try Data(contentsOf: output)
        XCTAssertEqual(Array(bytes.prefix(3)), [0xEF, 0xBB, 0xBF], "UTF-8 with BOM, for Excel")
        let lines = String(decoding: bytes.dropFirst(3), as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.first, "RANG;N_DOSSIER;CAF;NATURE;SIREN_GESTIONNAIRE;SCORE;ENJEU_EUROS;PRIORITE;MOTIFS")
        XCTAssertEqual(lines.count, 5)
        let priorities = lines.dropFirst().map { Double($0.split(separator: ";")[7].replacingOccurrences(of: ",", with: "."))! }
        XCTAssertEqual(priorities, priorities.sorted(by: >), "ranked by PRIORITE")
        XCTAssertEqual(lines.dropFirst().map { $0.split(separator: ";")[0] }, ["1", "2", "3", "4"])

        let (scores, models) = try store.dbQueue.read { db in
            (try Row.fetchAll(db, sql: "SELECT score, enjeu_euros, modele_id, contributions FROM score WHERE exercice = 2024 ORDER BY priorite DESC, score DESC"),
             try Row.fetchAll(db, sql: "SELECT version, n_controles, parametres FROM modele_score"))
        }
        XCTAssertEqual(scores.count, 4)
        XCTAssertEqual(models.count, 1)
        XCTAssertEqual(scores[0]["modele_id"] as Int64, summary.modelId)
        XCTAssertEqual((scores[0]["contributions"] as String).split(separator: ",").count, Feature.allCases.count)
        let stored = try JSONDecoder().decode(RiskModel.self, from: Data((models[0]["parametres"] as String).utf8))
        XCTAssertEqual(stored, summary.model, "the stored model recomputes the scores")
        let first = try XCTUnwrap(summary.lines.first)
        XCTAssertEqual(stored.probability(stored.standardised(first.row.values)), scores[0]["score"] as Double, accuracy: 1e-12)
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM indicateur WHERE exercice = 2024") }, 4)
        // The stage writes without foreign-key checks; what it wrote must pass them, and the
        // connection must enforce them again for whatever comes after.
        XCTAssertEqual(try store.dbQueue.read { try Row.fetchAll($0, sql: "PRAGMA foreign_key_check") }.count, 0)
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }, 1)
    }

    func testSameStoreGivesByteIdenticalRankingsAndARerunWritesNoScoreRow() throws {
        let store = try fixtureStore()
        let a = folder.appendingPathComponent("a.csv")
        let b = folder.appendingPathComponent("b.csv")
        let first = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024, output: a)
        // Counts every row the next run inserts, updates or deletes in `score`.
        try store.dbQueue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE ecritures_score (nature TEXT);
                    CREATE TRIGGER t_i AFTER INSERT ON score BEGIN INSERT INTO ecritures_score VALUES ('insert'); END;
                    CREATE TRIGGER t_u AFTER UPDATE ON score BEGIN INSERT INTO ecritures_score VALUES ('update'); END;
                    CREATE TRIGGER t_d AFTER DELETE ON score BEGIN INSERT INTO ecritures_score VALUES ('delete'); END;
                    """)
        }
        let second = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024, output: b)
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b))
        XCTAssertEqual(second.modelId, first.modelId, "the same model keeps its row")
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM score") }, 4)
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM modele_score") }, 1)
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM ecritures_score") }, 0)
    }

    /// An equipment closed since the last run loses its score row; the others keep theirs
    /// unless their own figures, model or reasons moved.
    func testARerunRemovesTheScoreOfAnEquipmentNoLongerActive() throws {
        let store = try fixtureStore()
        let first = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024)
        let closed = try XCTUnwrap(first.lines.last?.row.profile.id)
        try store.dbQueue.write { db in
            try db.execute(sql: "UPDATE equipement SET date_fermeture = 20231231 WHERE id = ?", arguments: [closed])
        }
        let second = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024)
        XCTAssertEqual(second.scored, 3)
        let ids = try store.dbQueue.read { try Int64.fetchAll($0, sql: "SELECT equipement_id FROM score WHERE exercice = 2024 ORDER BY 1") }
        XCTAssertEqual(ids, second.lines.map(\.row.profile.id).sorted())
        XCTAssertFalse(ids.contains(closed))
    }

    func testAnExerciceWithoutDeclarationsIsRefusedNamingTheDeclaredOnesAndStoresNothing() throws {
        let store = try fixtureStore()
        XCTAssertThrowsError(try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2030)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("aucune déclaration de l'exercice 2030") && text.contains("exercices déclarés : "), text)
        }
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM indicateur") }, 0)
    }

    func testAnExerciceWithoutActiveEquipmentIsAnErrorAndStoresNothing() throws {
        let store = try fixtureStore()
        XCTAssertThrowsError(try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2001))
        XCTAssertEqual(try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM modele_score") }, 0)
    }
}

/// A generated world with ground truth: the score is trained on its controls and beats ranking
/// by funding alone at finding the indus of the last exercice.
final class TrainedScoreOnGeneratedDataTests: XCTestCase {
    func testTrainedScoreBeatsFundingAloneAgainstTheGroundTruth() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("score-gen-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try CiblageGenerate.Generator(configuration: GeneratorConfiguration(equipements: 2500, seed: 41, malformedRate: 0))
            .write(to: folder)
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        let inputs = try store.dbQueue.read { try RiskScoring.inputs($0, exercice: 2024, referentiel: .bundled) }
        XCTAssertTrue(inputs.training.allSatisfy { $0.exercice < 2024 }, "trained on controls of earlier exercices only")
        let evaluation = try Evaluation.run(inputs, truth: GroundTruth(directory: folder.appendingPathComponent("verite")))

        XCTAssertTrue([.entraine, .arbres].contains(evaluation.model.kind))
        XCTAssertGreaterThan(evaluation.model.trainingControls, RiskScoring.minimumTrainingControls)
        let byName = Dictionary(uniqueKeysWithValues: evaluation.truthRankings.map { ($0.name, $0) })
        let priorite = try XCTUnwrap(byName["PRIORITE livrée"])
        let score = try XCTUnwrap(byName["SCORE seul"])
        let funding = try XCTUnwrap(byName["Référence : financement Caf seul"])
        XCTAssertGreaterThan(priorite.induCaptured, funding.induCaptured)
        XCTAssertGreaterThan(score.lift, funding.lift)
        XCTAssertGreaterThan(score.lift, 1.5)
        // Overbilling, the generator's most common anomaly, weighs towards risk in the fitted model.
        let regression = try RiskScoring.fit(inputs.training, kind: .entraine)
        let billing = try XCTUnwrap(regression.features.firstIndex(of: Feature.tauxFacturation.code))
        XCTAssertGreaterThan(regression.coefficients[billing], 0.2)
    }
}
