import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageScoring
import CiblageSelection
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageBilan

final class IntervalTests: XCTestCase {
    /// Reference values from scipy.stats.beta.
    func testClopperPearsonMatchesKnownValues() {
        let cases: [(Double, Double, Double, Double)] = [
            (0, 10, 0, 0.308497), (5, 10, 0.187086, 0.812914), (10, 10, 0.691503, 1), (3, 20, 0.032071, 0.378927),
            (17, 250, 0.040108, 0.106644),
        ]
        for (x, n, lo, hi) in cases {
            let ci = Intervals.clopperPearson(x: x, n: n)
            XCTAssertEqual(ci.low, lo, accuracy: 1e-6, "\(x)/\(n)")
            XCTAssertEqual(ci.high, hi, accuracy: 1e-6, "\(x)/\(n)")
        }
        XCTAssertEqual(Intervals.incompleteBeta(0.3, 2.5, 4.0), 0.3521975859067672, accuracy: 1e-12)
    }

    func testKatzIntervalOfALift() throws {
        // 30/100 against 10/100: ratio 3, se = √(1/30 − 1/100 + 1/10 − 1/100) = √0.11333 = 0.33665.
        let lift = try XCTUnwrap(Intervals.riskRatio(x1: 30, n1: 100, x2: 10, n2: 100))
        XCTAssertEqual(lift.ratio, 3, accuracy: 1e-12)
        XCTAssertEqual(lift.low, 3 * exp(-1.96 * 0.336650165), accuracy: 1e-7)
        XCTAssertEqual(lift.high, 3 * exp(1.96 * 0.336650165), accuracy: 1e-7)
        XCTAssertNil(Intervals.riskRatio(x1: 3, n1: 10, x2: 0, n2: 10))
    }
}

final class HorvitzThompsonTests: XCTestCase {
    /// Three strata, certainty units fully observed, simple random samples from the pools: the
    /// mean of the estimates over many draws is the true total, and the 95 % interval of the
    /// rate covers the true rate about 95 % of the time.
    func testUnbiasedAndCoveringOnASimulatedPopulation() {
        var rng = SeededRandom(seed: 42)
        // Pools of 0/1 values with known totals, and a few certainty units each.
        let pools: [[Double]] = [200, 80, 40].enumerated().map { h, size in
            (0..<size).map { i in i % [5, 3, 8][h] == 0 ? 1 : 0 }
        }
        let certainty: [(total: Double, units: Int)] = [(4, 6), (2, 3), (0, 2)]
        let samples = [30, 12, 6]
        let truth = pools.reduce(0) { $0 + $1.reduce(0, +) } + certainty.reduce(0) { $0 + $1.total }
        let units = pools.reduce(0) { $0 + $1.count } + certainty.reduce(0) { $0 + $1.units }
        let runs = 4000
        var sum = 0.0
        var covered = 0
        for _ in 0..<runs {
            var strata: [StratifiedEstimate.Stratum] = []
            for h in pools.indices {
                var pool = pools[h]
                for i in 0..<samples[h] { pool.swapAt(i, rng.int(i...(pool.count - 1))) }
                strata.append(
                    StratifiedEstimate.Stratum(
                        certaintyTotal: certainty[h].total, certaintyUnits: certainty[h].units, pool: pools[h].count,
                        sample: Array(pool.prefix(samples[h]))))
            }
            let estimate = StratifiedEstimate(strata)
            XCTAssertEqual(estimate.units, units)
            sum += estimate.total
            if let rate = estimate.rate(), rate.low <= truth / Double(units), truth / Double(units) <= rate.high { covered += 1 }
        }
        // Standard deviation of one estimate ≈ 14; of the mean over 4 000 draws ≈ 0.22.
        XCTAssertEqual(sum / Double(runs), truth, accuracy: 1.0)
        XCTAssertGreaterThan(Double(covered) / Double(runs), 0.92)
    }
}

final class BilanFiguresTests: XCTestCase {
    static func line(_ caf: String, _ tirage: String, rang: Int, anomalie: Bool?, indu: Double = 0, planned: Bool = true, p: Double = 1) -> BilanLine {
        BilanLine(
            equipementId: Int64.random(in: 1...1_000_000), caf: caf, pole: "MEDITERRANEE", tirage: tirage, rang: rang, probabilite: p,
            score: nil, planned: planned,
            control: anomalie.map { LinkedControl(date: 20250301, origine: "CIBLAGE", anomalie: $0, indu: indu, rappel: 0, codes: $0 ? ["AUTRE"] : []) })
    }

    /// Caf 66: 3 CIBLE (2 done, 1 anomaly, 1 000 €), 2 ALEATOIRE drawn from a pool of 10 (both done,
    /// 1 anomaly, 500 €), 1 control outside the plan; by hand: completion 4/5, anomaly rates
    /// 1/2 and 1/2, lift 1, population (1 × 3/2 + 10 × 1/2) / (3 + 10) = 6.5 / 13.
    func testEachFigureOnAHandComputedCampaign() {
        let inputs = BilanInputs(
            campagne: "T", planned: true,
            lines: [
                Self.line("66", "CIBLE", rang: 1, anomalie: true, indu: 1000), Self.line("66", "CIBLE", rang: 2, anomalie: false),
                Self.line("66", "CIBLE", rang: 3, anomalie: nil),
                Self.line("66", "ALEATOIRE", rang: 4, anomalie: true, indu: 500, p: 0.2),
                Self.line("66", "ALEATOIRE", rang: 5, anomalie: false, p: 0.2),
                Self.line("66", "HORS_PLAN", rang: 0, anomalie: true, indu: 300, planned: false),
            ], pools: ["66": 10], objectifs: ["accompagnement": 8])
        let figures = BilanFigures.compute(inputs)
        func f(_ level: BilanFigure.Level, _ code: String, _ tirage: String, _ indicator: String) -> BilanFigure? {
            figures.first { $0.level == level && $0.code == code && $0.tirage == tirage && $0.indicator == indicator }
        }
        XCTAssertEqual(f(.national, "", "TOUS", "CONTROLES_PREVUS")?.value, 5)
        XCTAssertEqual(f(.national, "", "TOUS", "CONTROLES_REALISES")?.value, 5, "4 planned + 1 outside the plan")
        XCTAssertEqual(f(.national, "", "TOUS", "TAUX_REALISATION")?.value, 0.8)
        XCTAssertEqual(f(.national, "", "TOUS", "CONTROLES_HORS_PLAN")?.value, 1)
        XCTAssertEqual(f(.national, "", "CIBLE", "TAUX_ANOMALIE")?.value, 0.5)
        XCTAssertEqual(f(.national, "", "CIBLE", "TAUX_ANOMALIE")!.low!, 0.012579, accuracy: 1e-6, "Clopper–Pearson 1/2")
        XCTAssertEqual(f(.national, "", "TOUS", "INDU_TOTAL")?.value, 1800)
        XCTAssertEqual(f(.national, "", "TOUS", "INDU_MOYEN")?.value, 360)
        XCTAssertEqual(f(.national, "", "TOUS", "LIFT")?.value, 1)
        XCTAssertEqual(f(.national, "", "ALEATOIRE", "TAUX_ANOMALIE_POPULATION")!.value, 6.5 / 13, accuracy: 1e-12)
        XCTAssertEqual(f(.national, "", "ALEATOIRE", "INDU_POPULATION")!.value, 1000 * 1.5 + 10 * 250, accuracy: 1e-9)
        XCTAssertEqual(f(.caf, "66", "ALEATOIRE", "EQUIPEMENTS_POPULATION")?.value, 13)
        XCTAssertEqual(f(.pole, "MEDITERRANEE", "TOUS", "CONTROLES_PREVUS")?.value, 5)
        XCTAssertEqual(f(.national, "", "TOUS", "PRECISION_RANG_1")?.value, 1)
        XCTAssertEqual(f(.national, "", "TOUS", "PRECISION_RANG_3")?.value, 0.5)
        XCTAssertEqual(f(.national, "", "TOUS", "PROGRES_OBJECTIF_ACCOMPAGNEMENT")?.value, 4.0 / 8)
        XCTAssertEqual(f(.national, "", "TOUS", "ANOMALIE_AUTRE")?.value, 3)
    }

    /// Controls that all found nothing: the population's indu has no variance, so no interval;
    /// it gets no row (rather than [0 € ; 0 €]) and the page says why in words.
    func testAZeroWidthIntervalGetsNoRowAndIsSaidInWords() {
        let inputs = BilanInputs(
            campagne: "Z", planned: true,
            lines: [
                Self.line("66", "CIBLE", rang: 1, anomalie: false), Self.line("66", "ALEATOIRE", rang: 2, anomalie: false, p: 0.2),
                Self.line("66", "ALEATOIRE", rang: 3, anomalie: false, p: 0.2),
            ], pools: ["66": 10], objectifs: [:])
        let figures = BilanFigures.compute(inputs)
        XCTAssertFalse(figures.contains { $0.indicator == "INDU_POPULATION" }, "no zero-width interval")
        XCTAssertTrue(figures.allSatisfy { f in f.low.map { lo in f.high.map { $0 > lo } ?? false } ?? true })
        XCTAssertNotNil(figures.first { $0.indicator == "TAUX_ANOMALIE_POPULATION" && $0.level == .national }, "0 of 3: a rate with a real interval")
        let html = BilanReport.report(inputs, figures).html
        XCTAssertTrue(html.contains("indus de la population non estimés"), html)
        XCTAssertFalse(html.contains("[0 € ; 0 €]"))
    }

    /// A campaign planned but with no control reported yet: the page says so, draws no chart,
    /// and the CSV has no rate.
    func testABilanWithoutControlsSaysSoAndDrawsNoBlankChart() {
        let inputs = BilanInputs(
            campagne: "V", planned: true,
            lines: [Self.line("66", "CIBLE", rang: 1, anomalie: nil), Self.line("34", "ALEATOIRE", rang: 1, anomalie: nil, p: 0.5)],
            pools: ["66": 10, "34": 4], objectifs: [:])
        let figures = BilanFigures.compute(inputs)
        XCTAssertFalse(figures.contains { $0.indicator.hasPrefix("TAUX_ANOMALIE") || $0.indicator == "LIFT" })
        let html = BilanReport.report(inputs, figures).html
        XCTAssertTrue(html.contains("Aucun contrôle de cette campagne n&#39;a encore été remonté (2 lignes prévues)")
            || html.contains("Aucun contrôle de cette campagne n'a encore été remonté (2 lignes prévues)"), html)
        XCTAssertFalse(html.contains("<svg"), "no blank chart")
    }
}

/// On a generated world: a planned campaign whose controls follow the ground truth, and a
/// historical campaign read from the controls' ORIGINE.
final class BilanStageTests: XCTestCase {
    func testLinksControlsToAPlannedAndToAHistoricalCampaign() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bilan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try Generator(configuration: GeneratorConfiguration(equipements: 1200, seed: 77, malformedRate: 0)).write(to: folder)
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        _ = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024)
        let config = try CampaignConfig.parse(
            "[campagne]\nid = \"C1\"\nexercice = 2024\ngraine = 5\n[plan_local]\ntaux_controle = 0.1\npart_aleatoire = 0.5",
            file: "c.toml", referentiel: .bundled)
        let plan = try CampaignStage(store: store, referentiel: .bundled).run(config, output: folder.appendingPathComponent("c1"))
        let lines = plan.locals.flatMap(\.lines)
        // One control names the campaign; one has no campaign but falls in the window; one names
        // it on an equipment outside the plan; one is too late.
        let outside = try store.dbQueue.read { db in
            try String.fetchOne(
                db, sql: "SELECT n_dossier FROM equipement WHERE id NOT IN (SELECT equipement_id FROM campagne_ligne) LIMIT 1")!
        }
        let csv = """
            ID_CONTROLE;N_DOSSIER;EXERCICES;DATE_CONTROLE;TYPE_CONTROLE;ORIGINE;CAMPAGNE;RESULTAT;MONTANT_INDU;MONTANT_RAPPEL;ANOMALIES
            T-1;\(lines[0].candidate.nDossier);2024;10/01/2025;SUR_PLACE;CIBLAGE;C1;ANOMALIE;2000;;AUTRE
            T-2;\(lines[1].candidate.nDossier);2024;12/01/2025;SUR_PLACE;CIBLAGE;;CONFORME;;;
            T-3;\(outside);2024;12/01/2025;SUR_PLACE;SIGNALEMENT;C1;ANOMALIE;700;;AUTRE
            T-4;\(lines[2].candidate.nDossier);2024;15/03/2026;SUR_PLACE;CIBLAGE;;ANOMALIE;900;;AUTRE

            """
        let file = folder.appendingPathComponent("controles-c1.csv")
        try csv.write(to: file, atomically: true, encoding: .utf8)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([file])
        let (inputs, figures) = try BilanStage(store: store, referentiel: .bundled).run(campagne: "C1", output: folder)
        XCTAssertTrue(inputs.planned)
        let national = figures.filter { $0.level == .national && $0.tirage == "TOUS" }
        func value(_ i: String) -> Double? { national.first { $0.indicator == i }?.value }
        XCTAssertEqual(value("CONTROLES_PREVUS"), Double(lines.count))
        XCTAssertEqual(value("CONTROLES_REALISES"), 3, "T-1 by name, T-2 by the window, T-3 outside the plan; T-4 too late")
        XCTAssertEqual(value("CONTROLES_HORS_PLAN"), 1)
        XCTAssertEqual(value("INDU_TOTAL"), 2700)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("bilan-C1.html").path))
        let header = String(decoding: try Data(contentsOf: folder.appendingPathComponent("bilan-C1.csv")).dropFirst(3).prefix(80), as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("NIVEAU;CODE;TIRAGE;INDICATEUR;VALEUR;BORNE_BASSE;BORNE_HAUTE\r\n"))

        // A campaign of the generator's history, never planned here: read from ORIGINE.
        let historical = try XCTUnwrap(
            try store.dbQueue.read { try String.fetchOne($0, sql: "SELECT campagne FROM controle WHERE origine = 'ALEATOIRE' AND campagne IS NOT NULL GROUP BY campagne ORDER BY count(*) DESC LIMIT 1") })
        let (old, oldFigures) = try BilanStage(store: store, referentiel: .bundled).run(campagne: historical, output: folder)
        XCTAssertFalse(old.planned)
        XCTAssertTrue(old.lines.contains { $0.tirage == "ALEATOIRE" })
        XCTAssertNil(oldFigures.first { $0.indicator == "CONTROLES_PREVUS" })
        XCTAssertNotNil(oldFigures.first { $0.level == .national && $0.indicator == "TAUX_ANOMALIE_POPULATION" })
        XCTAssertThrowsError(try BilanStage(store: store, referentiel: .bundled).run(campagne: "INCONNUE", output: folder))
    }
}
