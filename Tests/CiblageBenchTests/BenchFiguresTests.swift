import Foundation
import XCTest

@testable import CiblageBench

/// The arithmetic behind the figures the benchmarks print (the issues' claims rest on them).
final class BenchFiguresTests: XCTestCase {
    /// Two readings of `/proc/stat` as a 2-core virtual machine gives them, 10 s apart.
    let before = """
        cpu  10000 50 2000 80000 300 0 40 600 0 0
        cpu0 5000 25 1000 40000 150 0 20 300 0 0
        cpu1 5000 25 1000 40000 150 0 20 300 0 0
        intr 123456 0 0
        """
    let after = """
        cpu  11400 50 2200 80200 300 0 40 800 0 0
        cpu0 5700 25 1100 40100 150 0 20 400 0 0
        cpu1 5700 25 1100 40100 150 0 20 400 0 0
        intr 223456 0 0
        """

    func testStealShareIsTheStealTicksOverAllTicksBetweenTwoReadings() throws {
        let a = try XCTUnwrap(HostLoad.parse(before))
        let b = try XCTUnwrap(HostLoad.parse(after))
        XCTAssertEqual(a, HostLoad(total: 10000 + 50 + 2000 + 80000 + 300 + 0 + 40 + 600, steal: 600))
        // 2 000 ticks passed (1 400 user, 200 system, 200 idle, 200 steal).
        XCTAssertEqual(try XCTUnwrap(a.stealShare(until: b)), 0.1, accuracy: 1e-12)
        XCTAssertNil(b.stealShare(until: a), "counters going back are no interval")
    }

    func testRefusesProcStatWithoutTheCpuTotalUpToSteal() {
        XCTAssertNil(HostLoad.parse("cpu  10000 50 2000 80000 300 0 40\n"), "seven fields: no steal")
        XCTAssertNil(HostLoad.parse("cpu0 5000 25 1000 40000 150 0 20 300\n"), "a core's line is not the total")
        XCTAssertNil(HostLoad.parse("cpu  10000 x 2000 80000 300 0 40 600\n"))
        XCTAssertNil(HostLoad.parse(""))
    }

    /// Three rounds where the median of the rounds' own ratios (1,0) differs from the ratio of
    /// the stages' medians (4,5 / 4 = 1,125): the benchmark gives the first, each round's
    /// pair measured minutes apart at most.
    func rows() -> [EndToEndBenchmark.Row] {
        let rounds: [(ingest: Double, score: Double, readBack: Double, duck: Double)] = [
            (2, 2, 0.5, 4), (3, 2, 1, 2.5), (2.5, 1.5, 0.5, 5),
        ]
        return rounds.enumerated().flatMap { k, r -> [EndToEndBenchmark.Row] in
            [
                .init(factor: 1, round: k + 1, stage: "ciblage-ingest", seconds: r.ingest, cpu: 2 * r.ingest, mib: 150),
                .init(factor: 1, round: k + 1, stage: "ciblage-score", seconds: r.score, cpu: 2 * r.score, mib: 140),
                .init(factor: 1, round: k + 1, stage: "ciblage-score (exemples stockés)", seconds: r.readBack, cpu: r.readBack, mib: 130),
                .init(factor: 1, round: k + 1, stage: EndToEndBenchmark.duckDB, seconds: r.duck, cpu: r.duck, mib: 600),
            ]
        }
    }

    func benchmark(factors: [Int] = [1]) -> EndToEndBenchmark {
        let here = URL(fileURLWithPath: NSTemporaryDirectory())
        return EndToEndBenchmark(factors: factors, seed: 1, workDirectory: here, binaries: here, duckdbScript: here, campaign: here, rounds: 3)
    }

    func measure(_ name: String, in measures: [Measure]) throws -> Measure {
        try XCTUnwrap(measures.first { $0.name == name }, "no measure « \(name) » among \(measures.map(\.name))")
    }

    func testDuckDBRatioIsTheMedianOfEachRoundsOwnRatio() throws {
        let measures = benchmark().measures(rows())
        let ratio = try measure("×1 : (ingestion + score) / DuckDB, médiane de 3", in: measures)
        XCTAssertEqual(ratio.value, 1.0, accuracy: 1e-12)
        XCTAssertEqual(ratio.met, true)
        // In processor time: (4 + 4) / 4, (6 + 4) / 2,5, (5 + 3) / 5 → 2, 4, 1,6.
        XCTAssertEqual(try measure("×1 : le même en temps processeur", in: measures).value, 2.0, accuracy: 1e-12)
    }

    func testDuckDBRatioIsATargetAtNationalOnly() throws {
        // The same three rounds at ×4, four times as long, and DuckDB twice as long: ratios 2, 4, 1,6.
        let national = rows()
        let larger = national.map {
            EndToEndBenchmark.Row(
                factor: 4, round: $0.round, stage: $0.stage, seconds: $0.seconds * ($0.stage == EndToEndBenchmark.duckDB ? 2 : 4),
                cpu: $0.cpu, mib: $0.mib)
        }
        let measures = benchmark(factors: [1, 4]).measures(national + larger)
        let atFour = try measure("×4 : (ingestion + score) / DuckDB, médiane de 3", in: measures)
        XCTAssertEqual(atFour.value, 2.0, accuracy: 1e-12)
        XCTAssertNil(atFour.target)
        XCTAssertNil(atFour.met)
        let atOne = try measure("×1 : (ingestion + score) / DuckDB, médiane de 3", in: measures)
        XCTAssertEqual(atOne.target, "≤ 1")
        XCTAssertEqual(atOne.met, true)
    }

    func testCostPerEquipmentIsTheMedianOfEachRoundsOwnRatio() throws {
        // Round totals of the stages (ingest, first score, read-back score) at ×1: 4,5, 6, 4,5.
        // At ×4, rounds 1 and 2 cost four times as much, round 3 (a host slowed down) eight
        // times: per round 1, 1, 2 → 1; the stages' medians (ingest 12, score 8, read-back 4 against
        // 2,5, 2 and 0,5) would give 24 / 5 / 4 = 1,2.
        let national = rows()
        let larger = national.map {
            EndToEndBenchmark.Row(
                factor: 4, round: $0.round, stage: $0.stage, seconds: $0.seconds * ($0.round == 3 ? 8 : 4),
                cpu: $0.cpu * 4, mib: $0.mib)
        }
        let measures = benchmark(factors: [1, 4]).measures(national + larger)
        let cost = try measure("×4 : coût par équipement relatif à ×1, médiane de 3", in: measures)
        XCTAssertEqual(cost.value, 1.0, accuracy: 1e-12)
        XCTAssertNil(cost.target)
        XCTAssertEqual(try measure("×4 : coût par équipement relatif à ×1, en temps processeur", in: measures).value, 1.0, accuracy: 1e-12)
        XCTAssertNil(measures.first { $0.name.hasPrefix("×1 : coût par équipement") }, "no cost of the first factor against itself")
        XCTAssertEqual(EndToEndBenchmark.roundTotals(larger, factor: 4), [18, 24, 36])
    }

    func testReadBackScoreRatioUsesTheSecondScoreAndClaimsNoTarget() throws {
        let measure = try measure("×1 : (ingestion + score relu) / DuckDB", in: benchmark().measures(rows()))
        // (2 + 0,5) / 4, (3 + 1) / 2,5, (2,5 + 0,5) / 5 → 0,625, 1,6, 0,6.
        XCTAssertEqual(measure.value, 0.625, accuracy: 1e-12)
        XCTAssertNil(measure.target)
        XCTAssertNil(measure.met)
    }

    func testCalibrationDoesTheSameWorkOnEveryRun() throws {
        let first = try Calibration.work(values: 4096, rows: 2000)
        XCTAssertEqual(try Calibration.work(values: 4096, rows: 2000), first, "deterministic: runs compare")
        XCTAssertNotEqual(try Calibration.work(values: 4096, rows: 2001), first, "the table's rows count in the checksum")
        XCTAssertNotEqual(try Calibration.work(values: 4097, rows: 2000), first, "the sorted values count in the checksum")
        let measured = try Calibration.measure(rounds: 2, cores: 2)
        XCTAssertEqual(measured.checksum, try Calibration.work())
        XCTAssertGreaterThan(measured.seconds, 0)
        XCTAssertGreaterThan(measured.together, 0)
        XCTAssertTrue(measured.text.contains(" s sur un cœur, ") && measured.text.hasSuffix(" s sur tous à la fois"), measured.text)
    }
}
