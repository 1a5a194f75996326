import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageScoring

/// Every indicator on one hand-computed equipment-year (expected values worked out by hand from
/// the declared figures, not by the code under test).
final class IndicatorCalculatorTests: XCTestCase {
    static func date(_ y: Int, _ m: Int, _ d: Int) -> CalendarDate { CalendarDate(year: y, month: m, day: d)! }

    static var reel2024: DeclarationFigures {
        var f = DeclarationFigures()
        f.places = 30
        f.joursOuverture = 224
        f.heuresOuverture = 2464
        f.heuresRealisees = 51234.5
        f.heuresFacturees = 57012
        f.nbEnfants = 61
        f.totalCharges = 531_870.12
        f.chargesPersonnel = 398_902
        f.totalProduits = 540_120
        f.participationsFamilles = 71230.4
        f.prestationCaf = 251_002
        f.bonusCaf = 61200
        f.subventionsCollectivites = 150_000
        f.etp = 11.5
        return f
    }

    static var inputs: IndicatorInputs {
        var prev = DeclarationFigures()
        prev.places = 30
        prev.heuresRealisees = 50000
        prev.totalCharges = 500_000
        var last = DeclarationFigures()
        last.places = 30
        last.heuresRealisees = 39000
        last.heuresFacturees = 50000
        last.participationsFamilles = 60000
        return IndicatorInputs(
            equipementId: 7, exercice: 2024, placesAgreees: 30,
            current: [
                .reel: DatedFigures(dateDepot: date(2025, 4, 30), figures: reel2024),
                .previsionnel: DatedFigures(dateDepot: date(2024, 2, 10), figures: prev),
            ],
            previousYear: [.reel: DatedFigures(dateDepot: date(2024, 3, 20), figures: last)],
            fundingByExercice: [2021: 999_999, 2022: 300_000, 2023: 310_000, 2024: 312_202],
            controls: [
                PastControl(date: date(2022, 6, 15), anomalie: true, indu: 12400.5),
                PastControl(date: date(2023, 11, 1), anomalie: false, indu: 0),
            ])
    }

    func testComputesEveryIndicatorOfTheReelDeclaration() {
        let i = IndicatorCalculator.compute(Self.inputs)
        XCTAssertEqual(i.source, .reel)
        XCTAssertEqual(i.places, 30)
        XCTAssertEqual(i.tauxFacturation!, 1.112765812, accuracy: 1e-9)
        XCTAssertEqual(i.bandePSU, 2)
        XCTAssertEqual(i.tauxOccupation!, 0.693107413, accuracy: 1e-9)
        XCTAssertEqual(i.heuresParPlace!, 1707.816667, accuracy: 1e-6)
        XCTAssertEqual(i.coutHeure!, 10.381093209, accuracy: 1e-9)
        XCTAssertEqual(i.coutPlace!, 17729.004, accuracy: 1e-6)
        XCTAssertEqual(i.participationHoraire!, 1.249393110, accuracy: 1e-9)
        XCTAssertEqual(i.enfantsParPlace!, 61.0 / 30, accuracy: 1e-12)
        XCTAssertEqual(i.etpParPlace!, 11.5 / 30, accuracy: 1e-12)
    }

    func testForecastGapsYearOnYearChangesAndLateness() {
        let i = IndicatorCalculator.compute(Self.inputs)
        XCTAssertEqual(i.ecartPrevisionnelHeures!, 0.02469, accuracy: 1e-9)
        XCTAssertEqual(i.ecartPrevisionnelCharges!, 0.06374024, accuracy: 1e-9)
        XCTAssertEqual(i.variationHeuresParPlace!, 0.313705128, accuracy: 1e-9)
        XCTAssertEqual(i.variationParticipationHoraire!, 0.041160925, accuracy: 1e-9)
        XCTAssertFalse(i.reelManquant)
        XCTAssertEqual(i.joursRetardReel, 30, "filed 30 April for a 31 March deadline")
    }

    func testCountsRoundFiguresControlHistoryAndStake() {
        let i = IndicatorCalculator.compute(Self.inputs)
        XCTAssertEqual(i.chiffresExamines, 7)
        XCTAssertEqual(i.chiffresRonds, 1, "only the 150 000 € of subsidies is a round thousand")
        XCTAssertEqual(i.controlesPasses, 2)
        XCTAssertEqual(i.anomaliesPassees, 1)
        XCTAssertEqual(i.indusPasses, 12400.5)
        XCTAssertEqual(i.dernierControle, Self.date(2023, 11, 1))
        XCTAssertEqual(i.enjeuEuros, 922_202, "2022 to 2024; 2021 is beyond the three exercices a control covers")
    }

    func testFallsBackToTheActualiseWhenTheReelIsMissingAndSaysSo() {
        var input = Self.inputs
        var act = Self.reel2024
        act.heuresFacturees = 62000
        input.current = [.actualise: DatedFigures(dateDepot: Self.date(2024, 10, 15), figures: act)]
        let i = IndicatorCalculator.compute(input)
        XCTAssertEqual(i.source, .actualise)
        XCTAssertTrue(i.reelManquant)
        XCTAssertNil(i.joursRetardReel)
        XCTAssertNil(i.ecartPrevisionnelHeures, "no forecast gap without a réel")
        XCTAssertEqual(i.tauxFacturation!, 62000 / 51234.5, accuracy: 1e-12)
        XCTAssertEqual(i.bandePSU, 3)
    }

    func testHoursPerPlaceChangeNeedsStablePlaces() {
        var input = Self.inputs
        var last = input.previousYear[.reel]!
        last.figures.places = 24
        input.previousYear[.reel] = last
        XCTAssertNil(IndicatorCalculator.compute(input).variationHeuresParPlace)
    }

    func testMissingOrZeroDenominatorsGiveNoIndicatorRatherThanInfinity() {
        var input = Self.inputs
        var reel = Self.reel2024
        reel.heuresRealisees = 0
        reel.places = nil
        input.placesAgreees = nil
        input.current = [.reel: DatedFigures(dateDepot: Self.date(2025, 3, 1), figures: reel)]
        let i = IndicatorCalculator.compute(input)
        XCTAssertNil(i.tauxFacturation)
        XCTAssertNil(i.coutHeure)
        XCTAssertNil(i.tauxOccupation)
        XCTAssertNil(i.coutPlace)
        XCTAssertEqual(i.joursRetardReel, 0, "filed before the deadline")
    }

    func testBandLimitsAreInclusive() {
        var input = Self.inputs
        var reel = Self.reel2024
        reel.heuresRealisees = 100
        for (billed, band) in [(107.0, 1), (107.5, 2), (117.0, 2), (117.5, 3)] {
            reel.heuresFacturees = billed
            input.current = [.reel: DatedFigures(dateDepot: Self.date(2025, 3, 1), figures: reel)]
            XCTAssertEqual(IndicatorCalculator.compute(input).bandePSU, band, "\(billed) %")
        }
    }

    /// The round-figure test says what `fmod` says, on whole and fractional thousands, near
    /// the limits of exact integers and beyond 2⁶³ (where it falls back on `fmod`).
    func testRoundThousandsAsFmodSaysThem() {
        var values: [Double] = [
            1000, 1000.5, 1999, 2000, 123_456_000, 123_456_000.000_1, 0x1p53, 0x1p53 + 2_000, 9_007_199_254_740_000,
            0x1p63 - 1024, 0x1p63, 1e20, 1e20 + 1e5, .infinity, -3000, -3000.25,
        ]
        var random = SeededRandom(seed: 7)
        for _ in 0..<20_000 {
            let thousands = Double(random.int(1...9_999_999))
            values.append(thousands * 1000)
            values.append(thousands * 1000 + Double(random.int(1...999)))
            values.append(random.uniform(1000...1e12))
        }
        for x in values {
            XCTAssertEqual(IndicatorCalculator.isMultipleOfThousand(x), x.truncatingRemainder(dividingBy: 1000) == 0, "\(x)")
        }
    }

    /// One declaration per nature, read and replaced by nature; the most advanced is the réel,
    /// else the actualisé, else the prévisionnel, whatever the order they were set in.
    func testDeclarationsByNatureKeepOnePerNatureAndTellTheMostAdvanced() {
        func dated(_ day: Int) -> DatedFigures { DatedFigures(dateDepot: Self.date(2024, 3, day), figures: DeclarationFigures()) }
        var held: DeclarationsByNature = [:]
        XCTAssertTrue(held.isEmpty)
        XCTAssertNil(held.mostAdvanced)
        held[.previsionnel] = dated(1)
        XCTAssertEqual(held.mostAdvanced?.nature, .previsionnel)
        held[.reel] = dated(2)
        held[.actualise] = dated(3)
        XCTAssertEqual(held.mostAdvanced?.nature, .reel)
        XCTAssertEqual(held.mostAdvanced?.declaration.dateDepot, Self.date(2024, 3, 2))
        held[.reel] = dated(4)
        XCTAssertEqual(held[.reel]?.dateDepot, Self.date(2024, 3, 4), "replaced, not added")
        held[.reel] = nil
        XCTAssertEqual(held.mostAdvanced?.nature, .actualise)
        XCTAssertEqual(held[.previsionnel]?.dateDepot, Self.date(2024, 3, 1))
        let literal: DeclarationsByNature = [.actualise: dated(5), .previsionnel: dated(6)]
        XCTAssertEqual(literal.mostAdvanced?.declaration.dateDepot, Self.date(2024, 3, 5))
        XCTAssertFalse(literal.isEmpty)
        XCTAssertTrue(DeclarationsByNature(nil).isEmpty)
        XCTAssertEqual(DeclarationsByNature((.actualise, dated(7))).mostAdvanced?.nature, .actualise)
        XCTAssertNil(DeclarationsByNature((.actualise, dated(7)))[.reel])
    }

    func testFundingByExerciceReadsAndReplacesAsADictionaryWould() {
        var funding: FundingByExercice = [2022: 300_000, 2024: 312_202]
        XCTAssertEqual(funding.count, 2)
        XCTAssertEqual(funding[2022], 300_000)
        XCTAssertEqual(funding[2024], 312_202)
        XCTAssertNil(funding[2023], "an exercice not held reads as missing, not as zero")
        funding[2024] = 1
        XCTAssertEqual(funding[2024], 1, "replaced, not added")
        XCTAssertEqual(funding.count, 2)
        funding[2023] = 0
        funding[2021] = 5
        XCTAssertEqual(funding.count, FundingByExercice.capacity)
        XCTAssertEqual(funding[2023], 0, "a zero funding is held, unlike a missing one")
        XCTAssertEqual(funding[2021], 5)
        XCTAssertTrue(FundingByExercice().count == 0 && FundingByExercice()[2024] == nil)
    }
}

/// Indicators computed from a real store filled by ingesting the fixture files.
final class IndicatorStoreTests: XCTestCase {
    func testComputesAndStoresTheIndicatorsOfAnExerciceFromIngestedFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("indicateurs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest(
            ["equipements-ok.csv", "declarations-ok.csv", "controles.csv"].map { fixtures.appendingPathComponent($0) })

        let indicators = try store.dbQueue.write { db -> [EquipmentIndicators] in
            let computed = try IndicatorStore.inputs(db, exercice: 2024).map(IndicatorCalculator.compute)
            try IndicatorStore.clear(db, exercice: 2024)
            try IndicatorStore.insert(db, exercice: 2024, computed, computedAt: "2026-11-23T00:00:00Z")
            return computed
        }
        let ids = try store.dbQueue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT n_dossier, id FROM equipement").map {
                ($0["n_dossier"] as String, $0["id"] as Int64)
            })
        }
        // 66-0001: its 2024 réel is the hand-computed declaration of IndicatorCalculatorTests.
        let first = try XCTUnwrap(indicators.first { $0.equipementId == ids["66-0001"] })
        XCTAssertEqual(first.source, .reel)
        XCTAssertEqual(first.sourceDateDepot, CalendarDate(year: 2025, month: 3, day: 28))
        XCTAssertEqual(first.tauxFacturation!, 1.112765812, accuracy: 1e-9)
        XCTAssertEqual(first.ecartPrevisionnelCharges!, 531_870.12 / 1_520_000 - 1, accuracy: 1e-12)
        XCTAssertEqual(first.joursRetardReel, 0)
        XCTAssertEqual(first.controlesPasses, 2, "C-2023-001 and C-2023-013, both before 1 January 2025")
        XCTAssertEqual(first.indusPasses, 12400.5)
        XCTAssertEqual(first.enjeuEuros, 251_002 + 61200)
        // The RPE has a réel with no hours: no hourly indicator, but a stake.
        let rpe = try XCTUnwrap(indicators.first { $0.equipementId == ids["974-0001"] })
        XCTAssertNil(rpe.tauxFacturation)
        XCTAssertEqual(rpe.enjeuEuros, 38000)
        // Closed before 2024: not active, not scored.
        XCTAssertNotNil(ids["01-0001"])
        XCTAssertNil(indicators.first { $0.equipementId == ids["01-0001"] })

        let stored = try store.dbQueue.read { db in
            try Row.fetchOne(db, sql: "SELECT count(*), sum(reel_manquant) FROM indicateur WHERE exercice = 2024")!
        }
        XCTAssertEqual(indicators.count, 4, "01-0001 closed at the end of 2023")
        XCTAssertEqual(stored[0] as Int, 4)
        XCTAssertEqual(stored[1] as Int, 1, "2A-0001 declared nothing for 2024; the three others filed a réel")
    }
}
