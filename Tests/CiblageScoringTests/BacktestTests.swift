import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageScoring

/// The rolling-origin backtest, on hand-built controls in three years with hand-computed figures.
final class BacktestTests: XCTestCase {
    func example(_ year: Int, positive: Bool, indu: Double = 0, enjeu: Double = 1000) -> TrainingExample {
        TrainingExample(
            exercice: year - 1, equipementId: 1, values: [], positive: positive, indu: indu, enjeu: enjeu, origine: .aleatoire,
            type: .surPlace, date: CalendarDate(year: year, month: 6, day: 1)!, nature: "EAJE_COLLECTIF", rules: 0)
    }

    func testEachYearIsTestedOnControlsFittedOnEarlierYearsOnly() {
        let examples = [
            example(2021, positive: true), example(2021, positive: false), example(2022, positive: true),
            example(2022, positive: false), example(2022, positive: false), example(2023, positive: true),
        ]
        let folds = Backtest.folds(examples, enough: { $0.count >= 2 })
        // 2021 has nothing before it; 2022 fits on 2021; 2023 on 2021 and 2022.
        XCTAssertEqual(folds, [
            Backtest.Fold(year: 2022, train: [0, 1], test: [2, 3, 4]),
            Backtest.Fold(year: 2023, train: [0, 1, 2, 3, 4], test: [5]),
        ])
        XCTAssertEqual(Backtest.folds(examples, enough: { $0.count >= 3 }).map(\.year), [2023])
    }

    /// 1 200 controls over 2021–2024, every feature filled (a few missing), the anomaly driven
    /// by the first feature, indus for the severity model.
    func labelledControls() -> [TrainingExample] {
        var random = SeededRandom(seed: 29)
        let count = Feature.allCases.count
        return (0..<1200).map { i in
            let values: [Double?] = (0..<count).map { _ in random.chance(0.1) ? nil : random.normal() }
            let positive = random.chance(1 / (1 + exp(-(values[0] ?? 0) * 1.5)))
            let enjeu = random.uniform(10_000...200_000)
            return TrainingExample(
                exercice: 2020 + i % 4, equipementId: Int64(i), values: values, positive: positive,
                indu: positive ? enjeu * random.uniform(0.01...0.2) : 0, enjeu: enjeu, origine: i % 3 == 0 ? .aleatoire : .ciblage,
                type: .surPlace, date: CalendarDate(year: 2021 + i % 4, month: 3 + i % 9, day: 1)!,
                nature: i % 5 == 0 ? "MICRO_CRECHE" : "EAJE_COLLECTIF", rules: 0)
        }
    }

    func testTheFitsRunOnTwoThreadsGiveWhatTheyGiveOneAfterTheOther() throws {
        let examples = labelledControls()
        let folds = Backtest.folds(examples, enough: RiskScoring.enoughToTest)
        XCTAssertEqual(folds.map(\.year), [2022, 2023, 2024])
        let kinds: [RiskModel.Kind] = [.entraine, .arbres]
        let (predictions, alongside) = try Backtest.predictions(
            examples, folds: folds, kinds: kinds, alongside: kinds.map { k in { try RiskScoring.fit(examples, kind: k) } })
        XCTAssertEqual(alongside, try kinds.map { try RiskScoring.fit(examples, kind: $0) }, "in the order given")
        XCTAssertEqual(predictions.map(\.year), folds.map(\.year))
        for (fold, p) in zip(folds, predictions) {
            let train = fold.train.map { examples[$0] }
            let test = fold.test.map { examples[$0] }
            XCTAssertEqual(p.tested.map(\.equipementId), test.map(\.equipementId))
            for kind in kinds {
                XCTAssertEqual(p.probability[kind], try RiskScoring.fit(train, kind: kind).probabilities(test.map(\.values)), "\(fold.year) \(kind)")
            }
            let severity = try XCTUnwrap(SeverityModel.fit(train), "enough positives in \(fold.year)")
            XCTAssertEqual(p.severity, test.map { severity.expectedIndu(values: $0.values, enjeu: $0.enjeu, nature: $0.nature) })
        }
        // The first failure in the order of the fits is the one rethrown, whichever thread met it.
        struct Failed: Error, Equatable { var k: Int }
        XCTAssertThrowsError(
            try Backtest.predictions(
                examples, folds: folds, kinds: kinds, alongside: [{ throw Failed(k: 0) }, { throw Failed(k: 1) }])
        ) { XCTAssertEqual($0 as? Failed, Failed(k: 0)) }
    }

    func testFiguresOfAYearAndOfYearsPooledMatchAHandComputation() {
        // Year A: 10 controls ranked by key 10…1; positives at ranks 1 (1 000 €) and 4 (3 000 €).
        let keyA = (0..<10).map { Double(10 - $0) }
        var positiveA = [Bool](repeating: false, count: 10)
        var induA = [Double](repeating: 0, count: 10)
        (positiveA[0], induA[0]) = (true, 1000)
        (positiveA[3], induA[3]) = (true, 3000)
        let a = Backtest.figures(key: keyA, positive: positiveA, indu: induA)
        // Tops: 5 % and 10 % of 10 → 1 control, 20 % → 2.
        XCTAssertEqual(a.top, [1, 1, 2])
        XCTAssertEqual(a.hits, [1, 1, 1])
        XCTAssertEqual(a.baseRate, 0.2)
        XCTAssertEqual(a.lift(1), 5, accuracy: 1e-12)
        XCTAssertEqual(a.lift(2), 2.5, accuracy: 1e-12)
        XCTAssertEqual(a.induCaptured(1), 0.25, accuracy: 1e-12)
        // AUC: positive ranks 1 and 4 beat 8 and 6 of the 8 negatives: (8 + 6) / 16.
        XCTAssertEqual(a.auc, 14.0 / 16, accuracy: 1e-12)

        // Year B: 20 controls, key 20…1; positives at ranks 2 (500 €), 3 (500 €), 20 (1 000 €).
        let keyB = (0..<20).map { Double(20 - $0) }
        var positiveB = [Bool](repeating: false, count: 20)
        var induB = [Double](repeating: 0, count: 20)
        for (i, amount) in [(1, 500.0), (2, 500), (19, 1000)] { (positiveB[i], induB[i]) = (true, amount) }
        let b = Backtest.figures(key: keyB, positive: positiveB, indu: induB)
        XCTAssertEqual(b.top, [1, 2, 4])
        XCTAssertEqual(b.hits, [0, 1, 2])
        XCTAssertEqual(b.induCaptured(2), 0.5, accuracy: 1e-12)
        // AUC: 16 + 16 + 0 negatives beaten out of 3 × 17.
        XCTAssertEqual(b.auc, 32.0 / 51, accuracy: 1e-12)

        // Pooled: each year cut at its own 10 %: (1 + 1) hits in (1 + 2) controls, base 5 / 30.
        let pooled = Backtest.Figures.pooled([a, b])
        XCTAssertEqual(pooled.controls, 30)
        XCTAssertEqual(pooled.positives, 5)
        XCTAssertEqual(pooled.lift(1), (2.0 / 3) / (5.0 / 30), accuracy: 1e-12)
        XCTAssertEqual(pooled.induCaptured(1), (1000.0 + 500) / (4000 + 2000), accuracy: 1e-12)
        XCTAssertEqual(pooled.auc, (14.0 / 16 * 10 + 32.0 / 51 * 20) / 30, accuracy: 1e-12)
    }

    func testTheKeyKeepsNinetyPercentOfTheBestLiftThenTakesTheMostIndu() {
        func figures(hits: Int, indu: Double) -> Backtest.Figures {
            Backtest.Figures(controls: 100, positives: 20, auc: 0.7, hits: [0, hits, 0], top: [5, 10, 20], induTop: [0, indu, 0], induTotal: 100)
        }
        // Lifts 4.0, 3.8, 3.5, 3.0, 2.5: the 90 % floor is 3.6, so α = 0 and 0.25 are eligible; 0.25 finds more indu.
        let table: [(alpha: Double, figures: Backtest.Figures)] = [
            (0, figures(hits: 8, indu: 40)), (0.25, figures(hits: 7, indu: 50)), (0.5, figures(hits: 7, indu: 55)),
            (0.75, figures(hits: 6, indu: 60)), (1, figures(hits: 5, indu: 70)),
        ].map { ($0.0, $0.1) }
        // hits 8 → lift 4; 7 → 3.5 (below 3.6): only α = 0 is eligible.
        XCTAssertEqual(Backtest.chooseAlpha(table), 0)
        let looser = table.map { ($0.alpha, $0.alpha == 0.25 ? figures(hits: 8, indu: 50) : $0.figures) }
        XCTAssertEqual(Backtest.chooseAlpha(looser.map { (alpha: $0.0, figures: $0.1) }), 0.25)
        // At α = 1 the key is the expected indu P × E; at α = 0 it is P × Ē.
        XCTAssertEqual(Backtest.key(probability: 0.5, severity: 8000, alpha: 1, typical: 2000), 4000, accuracy: 1e-9)
        XCTAssertEqual(Backtest.key(probability: 0.5, severity: 8000, alpha: 0, typical: 2000), 1000, accuracy: 1e-9)
        XCTAssertEqual(Backtest.key(probability: 0.5, severity: 8000, alpha: 0.5, typical: 2000), 2000, accuracy: 1e-9)
    }

    func testAMicroCrechePAJEHasAStakeThoughItHasNoCafFunding() {
        var paje = DeclarationFigures()
        paje.totalCharges = 200_000
        paje.participationsFamilles = 34_000
        paje.prestationCaf = 0
        XCTAssertEqual(IndicatorStore.stake(paje), 34_000)
        paje.participationsFamilles = nil
        XCTAssertEqual(IndicatorStore.stake(paje), 200_000)
        var psu = DeclarationFigures()
        psu.prestationCaf = 80_000
        psu.bonusCaf = 4_000
        psu.participationsFamilles = 30_000
        XCTAssertEqual(IndicatorStore.stake(psu), 84_000)
    }
}

/// XGBoost through its C library: contributions, monotone constraints, a stored model.
final class BoostedTreesTests: XCTestCase {
    /// 600 rows: y depends on a threshold of column 0 and an interaction of columns 1 and 2;
    /// column 3 is noise with missing values.
    func dataset() -> (x: [[Double?]], y: [Double]) {
        var random = SeededRandom(seed: 11)
        var x: [[Double?]] = []
        var y: [Double] = []
        for _ in 0..<600 {
            let row: [Double?] = [random.uniform(0...2), random.uniform(), random.uniform(), random.chance(0.3) ? nil : random.normal()]
            let logit = (row[0]! > 1.07 ? 1.5 : -0.5) + (row[1]! > 0.5 && row[2]! > 0.5 ? 1.2 : 0) - 0.5
            x.append(row)
            y.append(random.chance(1 / (1 + exp(-logit))) ? 1 : 0)
        }
        return (x, y)
    }

    func testContributionsSumToTheMarginOfEveryLine() throws {
        let (x, y) = dataset()
        let trees = try BoostedTrees(x: x, y: y, monotone: [1, 0, 0, 0])
        let margins = try trees.margins(x)
        let contributions = try trees.contributions(x)
        XCTAssertEqual(contributions.count, x.count)
        for (c, m) in zip(contributions, margins) {
            XCTAssertEqual(c.count, 5, "one per column, then the bias")
            XCTAssertEqual(c.reduce(0, +), m, accuracy: 1e-4)
        }
        // The threshold of column 0 is found: its contribution is higher above 1.07 than below.
        let above = zip(x, contributions).filter { $0.0[0]! > 1.2 }.map { $0.1[0] }
        let below = zip(x, contributions).filter { $0.0[0]! < 0.9 }.map { $0.1[0] }
        XCTAssertGreaterThan(above.reduce(0, +) / Double(above.count), below.reduce(0, +) / Double(below.count) + 1)
    }

    func testTheTreeSHAPPortGivesXGBoostsOwnContributionsOnEveryLine() throws {
        let (x, y) = dataset()
        let trees = try BoostedTrees(x: x, y: y, monotone: [1, 0, 0, 0])
        let ported = try TreeEnsemble(json: try trees.json(), columns: 4)
        let recursive = try TreeEnsemble(json: try trees.json(), columns: 4, tabulate: false)
        let reference = try trees.contributions(x)
        let margins = try trees.margins(x)
        for (i, row) in x.enumerated() {
            let mine = ported.contributions(row)
            for (a, b) in zip(mine, reference[i]) { XCTAssertEqual(a, b, accuracy: 1e-4, "line \(i)") }
            for (a, b) in zip(recursive.contributions(row), mine) { XCTAssertEqual(a, b, accuracy: 1e-12, "line \(i)") }
            XCTAssertEqual(mine.reduce(0, +), ported.margin(row), accuracy: 1e-9)
            XCTAssertEqual(ported.margin(row), margins[i], accuracy: 1e-4)
        }
    }

    func testAMonotoneColumnNeverLowersTheScoreAsItGrows() throws {
        let (x, y) = dataset()
        let trees = try BoostedTrees(x: x, y: y, monotone: [1, 0, 0, 0])
        for base in x.prefix(50) {
            let sweep = stride(from: 0.0, through: 2.0, by: 0.05).map { v -> [Double?] in [v] + base.dropFirst() }
            let margins = try trees.margins(sweep)
            for (a, b) in zip(margins, margins.dropFirst()) { XCTAssertGreaterThanOrEqual(b, a - 1e-6) }
        }
    }

    func testAStoredModelGivesTheSameMarginsAndTheSameFitTwiceGivesTheSameModel() throws {
        let (x, y) = dataset()
        let trees = try BoostedTrees(x: x, y: y, monotone: [1, 0, 0, 0])
        let reloaded = try BoostedTrees(json: try trees.json(), columns: 4)
        XCTAssertEqual(try reloaded.margins(x), try trees.margins(x))
        XCTAssertEqual(try BoostedTrees(x: x, y: y, monotone: [1, 0, 0, 0]).json(), try trees.json(), "deterministic")
    }
}

/// The score stage with the trees, on a generated world: the stored model recomputes the stored
/// scores, and every equipment, micro-crèches PAJE included, has a stake.
final class BoostedScoreStageTests: XCTestCase {
    func testAStoredBoostedModelRecomputesTheStoredScores() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("arbres-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try CiblageGenerate.Generator(configuration: GeneratorConfiguration(equipements: 2500, seed: 41, malformedRate: 0))
            .write(to: folder)
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        let summary = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024, kind: .arbres)
        XCTAssertEqual(summary.model.kind, .arbres)
        XCTAssertNotNil(summary.model.booster)
        XCTAssertNotNil(summary.model.severity, "enough positive controls for the severity model")

        let (json, stored) = try store.dbQueue.read { db in
            (try String.fetchOne(db, sql: "SELECT parametres FROM modele_score WHERE id = ?", arguments: [summary.modelId])!,
             try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT equipement_id, score, priorite, contributions FROM score WHERE exercice = 2024").map {
                ($0["equipement_id"] as Int64, ($0["score"] as Double, $0["priorite"] as Double, $0["contributions"] as String))
             }))
        }
        let model = try JSONDecoder().decode(RiskModel.self, from: Data(json.utf8))
        XCTAssertEqual(model, summary.model)
        let rows = summary.lines.map(\.row)
        let explained = try model.explain(rows.map(\.values))
        for (row, e) in zip(rows, explained) {
            let s = try XCTUnwrap(stored[row.profile.id])
            XCTAssertEqual(e.probability, s.0, accuracy: 1e-12)
            let severity = model.severity(values: row.values, enjeu: row.indicators.enjeuEuros, nature: row.profile.nature)
            let key = model.priority(score: e.probability, severity: severity)
            XCTAssertEqual(RiskScoring.deliveredPriority(key), s.1)
            XCTAssertEqual(s.1, key, accuracy: abs(key) * 5e-3, "three significant digits")
            XCTAssertEqual(thousandths(e.contributions), s.2)
        }
        let paje = summary.lines.filter { $0.row.profile.nature == "MICRO_CRECHE_PAJE" && $0.row.indicators.source != nil }
        XCTAssertFalse(paje.isEmpty)
        XCTAssertTrue(paje.allSatisfy { $0.enjeu > 0 && $0.priorite > 0 }, "PAJE equipments get a stake and a priority")
    }

    /// PRIORITE keeps three significant digits, whatever its size, and never rounds a positive
    /// key to zero.
    func testPriorityKeepsThreeSignificantDigits() {
        XCTAssertEqual(RiskScoring.deliveredPriority(523.4567), 523)
        XCTAssertEqual(RiskScoring.deliveredPriority(12_345.6), 12_300)
        XCTAssertEqual(RiskScoring.deliveredPriority(0.034_761_9), 0.034_8, accuracy: 1e-15)
        XCTAssertEqual(RiskScoring.deliveredPriority(1_000), 1_000)
        XCTAssertEqual(RiskScoring.deliveredPriority(0), 0)
        XCTAssertGreaterThan(RiskScoring.deliveredPriority(1e-9), 0)
        // A key moved by 0.01 % keeps its delivered value unless it crosses a rounding boundary.
        XCTAssertEqual(RiskScoring.deliveredPriority(523.56 * 1.0001), RiskScoring.deliveredPriority(523.56))
    }
}
