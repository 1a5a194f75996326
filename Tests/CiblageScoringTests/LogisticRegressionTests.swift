import CiblageModel
import XCTest

@testable import CiblageScoring

final class LogisticRegressionTests: XCTestCase {
    /// 40 rows built by formula; the reference coefficients come from an independent Newton fit
    /// in numpy (float64), for λ = 0 (maximum likelihood) and λ = 2.
    func dataset() -> (x: [[Double]], y: [Double]) {
        var x: [[Double]] = []
        var y: [Double] = []
        for i in 0..<40 {
            let a = Double((i * 7) % 11 - 5) / 3
            let b = Double((i * 5) % 13 - 6) / 4
            x.append([a, b])
            y.append((i * 3) % 7 < 3 + (a > 0 ? 1 : 0) ? 1 : 0)
        }
        return (x, y)
    }

    func testMaximumLikelihoodMatchesAKnownSolution() throws {
        let (x, y) = dataset()
        let fit = try LogisticRegression.fit(x: x, y: y, lambda: 0)
        XCTAssertTrue(fit.converged)
        XCTAssertEqual(fit.intercept, 0.01507319, accuracy: 1e-7)
        XCTAssertEqual(fit.coefficients[0], 0.08618073, accuracy: 1e-7)
        XCTAssertEqual(fit.coefficients[1], 0.43720305, accuracy: 1e-7)
    }

    func testRidgePenaltyMatchesAKnownSolutionAndLeavesTheInterceptFree() throws {
        let (x, y) = dataset()
        let fit = try LogisticRegression.fit(x: x, y: y, lambda: 2)
        XCTAssertEqual(fit.intercept, 0.01197479, accuracy: 1e-7)
        XCTAssertEqual(fit.coefficients[0], 0.08210781, accuracy: 1e-7)
        XCTAssertEqual(fit.coefficients[1], 0.35438243, accuracy: 1e-7)
    }

    func testAWeightOfTwoEqualsARowGivenTwice() throws {
        let (x, y) = dataset()
        let weighted = try LogisticRegression.fit(
            x: x, y: y, weights: x.indices.map { $0 < 5 ? 2 : 1 }, lambda: 0.5)
        let doubled = try LogisticRegression.fit(x: Array(x.prefix(5)) + x, y: Array(y.prefix(5)) + y, lambda: 0.5)
        XCTAssertEqual(weighted.intercept, doubled.intercept, accuracy: 1e-9)
        XCTAssertEqual(weighted.coefficients[1], doubled.coefficients[1], accuracy: 1e-9)
    }

    /// The fit as it was written before its rows were read through pointers (one Newton step:
    /// gradient and Hessian summed row by row over nested arrays), kept here as the reference.
    static func referenceStep(x: [[Double]], y: [Double], w: [Double], beta: [Double], lambda: Double) throws -> [Double] {
        let k = beta.count
        var row = [Double](repeating: 1, count: k)
        var gradient = [Double](repeating: 0, count: k)
        var hessian = [Double](repeating: 0, count: k * k)
        for i in x.indices {
            for j in 0..<(k - 1) { row[j + 1] = x[i][j] }
            var eta = 0.0
            for j in 0..<k { eta += beta[j] * row[j] }
            let prob = 1 / (1 + exp(-eta))
            let r = w[i] * (y[i] - prob)
            let v = w[i] * prob * (1 - prob)
            for a in 0..<k {
                gradient[a] += r * row[a]
                let va = v * row[a]
                for b in 0...a { hessian[a * k + b] += va * row[b] }
            }
        }
        for j in 1..<k {
            gradient[j] -= lambda * beta[j]
            hessian[j * k + j] += lambda
        }
        for a in 0..<k { for b in 0..<a { hessian[b * k + a] = hessian[a * k + b] } }
        let step = try LogisticRegression.solveCholesky(hessian, gradient, k)
        return zip(beta, step).map { $0 + $1 }
    }

    func testTheFitIsTheRowByRowReferenceBitForBit() throws {
        // 3 000 weighted rows of 9 features with missing-like zeros and wide scales: the stored
        // models and the ranked list must not move by a rounding when the loops change.
        var generator = SeededRandom(seed: 2026)
        var x: [[Double]] = []
        var y: [Double] = []
        var w: [Double] = []
        for _ in 0..<3000 {
            let row = (0..<9).map { j -> Double in
                let u = Double(generator.next() % 1_000_000) / 1_000_000
                return j == 4 && u < 0.3 ? 0 : (u - 0.5) * pow(10, Double(j % 3))
            }
            x.append(row)
            y.append(Double(generator.next() % 100) < 30 + 20 * row[0] ? 1 : 0)
            w.append(1 + Double(generator.next() % 3))
        }
        let fit = try LogisticRegression.fit(x: x, y: y, weights: w, lambda: 0.7, maxIterations: 6, tolerance: 0)
        XCTAssertEqual(fit.iterations, 6)
        let rate = zip(y, w).reduce(0) { $0 + $1.0 * $1.1 } / w.reduce(0, +)
        var beta = [log(rate / (1 - rate))] + [Double](repeating: 0, count: 9)
        for _ in 0..<6 { beta = try Self.referenceStep(x: x, y: y, w: w, beta: beta, lambda: 0.7) }
        XCTAssertEqual(fit.intercept.bitPattern, beta[0].bitPattern)
        XCTAssertEqual(fit.coefficients.map(\.bitPattern), beta.dropFirst().map(\.bitPattern))
    }

    /// The severity of a line is the linear model over the columns `raw` makes (log stake,
    /// features, nature indicators), summed in their order: computed without making them, the
    /// expected indu stays the same to the bit, missing features and unknown natures included.
    func testExpectedInduIsTheModelOverTheRawColumnsBitForBit() {
        var random = SeededRandom(seed: 11)
        let natures = ["EAJE_FAMILIAL", "MAM", "RPE"]
        let width = 1 + 8 + natures.count
        let model = SeverityModel(
            columns: (0..<width).map { "c\($0)" }, natures: natures,
            means: (0..<width).map { _ in random.uniform(-2...2) }, scales: (0..<width).map { _ in random.uniform(0.1...3) },
            intercept: 7.5, coefficients: (0..<width).map { _ in random.uniform(-1...1) }, residualVariance: 0.8, positives: 100)
        for _ in 0..<2_000 {
            let values: [Double?] = (0..<8).map { _ in random.int(0...4) == 0 ? nil : random.uniform(-5...5) }
            let enjeu = random.int(0...9) == 0 ? -10 : random.uniform(0...2_000_000)
            let nature = ["EAJE_FAMILIAL", "MAM", "RPE", "EAJE_COLLECTIF", "LAEP"][random.int(0...4)]
            // The columns as defined: log stake, features, nature indicators.
            let x: [Double?] = [log1p(max(0, enjeu) / 1000)] + values + natures.map { $0 == nature ? 1 : 0 }
            XCTAssertEqual(
                model.raw(values: values, enjeu: enjeu, nature: nature).map { $0?.bitPattern }, x.map { $0?.bitPattern })
            var mu = model.intercept
            for j in x.indices { mu += model.coefficients[j] * (x[j].map { ($0 - model.means[j]) / model.scales[j] } ?? 0) }
            let reference = exp(min(mu + model.residualVariance / 2, 30))
            XCTAssertEqual(model.expectedIndu(values: values, enjeu: enjeu, nature: nature).bitPattern, reference.bitPattern)
        }
    }

    func testRefusesEmptyInput() {
        XCTAssertThrowsError(try LogisticRegression.fit(x: [], y: []))
    }
}

final class DigitTestTests: XCTestCase {
    func testFirstTwoDigitsIgnoreScaleAndSmallValues() {
        var t = FirstTwoDigitsTest()
        for v in [12.0, 1234.5, 0.12e3, 9.99, 99_999, 100, 1000] { t.add(v) }
        XCTAssertEqual(t.total, 6, "9,99 has no first-two digits")
        XCTAssertEqual(t.counts[12 - 10], 3, "12, 1 234,5 and 120")
        XCTAssertEqual(t.counts[99 - 10], 1)
        XCTAssertEqual(t.counts[10 - 10], 2, "100 and 1 000 read as 10, not 99,99…")
    }

    /// Packed digits (a byte each, the first in the low byte, up to the first zero byte) count
    /// as the same digits added one by one.
    func testPackedDigitsCountAsTheDigitsAddedOneByOne() {
        var packed = FirstTwoDigitsTest()
        var single = FirstTwoDigitsTest()
        let groups: [[Int]] = [[12], [10, 99, 45], [23, 23, 23, 23, 23, 23, 23, 23], [], [57, 11]]
        for digits in groups {
            var bytes: UInt64 = 0
            for (k, d) in digits.enumerated() { bytes |= UInt64(d) << (8 * UInt64(k)) }
            packed.add(packed: Int64(bitPattern: bytes))
            for d in digits { single.add(firstTwoDigits: d) }
        }
        // Past a zero byte, nothing more is read.
        packed.add(packed: Int64(bitPattern: 0x2D00_0C))
        single.add(firstTwoDigits: 12)
        XCTAssertEqual(packed.total, 15)
        XCTAssertEqual(packed.counts, single.counts)
        XCTAssertEqual(packed.total, single.total)
    }

    func testMADIsSilentBelowTheMinimumCountAndMatchesAHandComputation() throws {
        var t = FirstTwoDigitsTest()
        for _ in 0..<(FirstTwoDigitsTest.minimumCount - 1) { t.add(10) }
        XCTAssertNil(t.mad)
        t.add(10)
        // Every amount starts with 10: |1 − log10(1.1)| + Σ_{d≠10} log10(1 + 1/d) = 2 (1 − log10(1.1)).
        let expected = 2 * (1 - log10(1.1)) / 90
        XCTAssertEqual(try XCTUnwrap(t.mad), expected, accuracy: 1e-12)
        XCTAssertEqual(t.conformity, .nonconformity)
    }

    func testNigriniThresholds() {
        XCTAssertEqual(FirstTwoDigitsTest.Conformity(mad: 0.0012), .close)
        XCTAssertEqual(FirstTwoDigitsTest.Conformity(mad: 0.0015), .acceptable)
        XCTAssertEqual(FirstTwoDigitsTest.Conformity(mad: 0.0020), .marginal)
        XCTAssertEqual(FirstTwoDigitsTest.Conformity(mad: 0.0023), .nonconformity)
    }

    func testBenfordDataConforms() {
        // Amounts spread log-uniformly over four decades follow Benford's law.
        var t = FirstTwoDigitsTest()
        for i in 0..<9000 { t.add(pow(10, 1 + 4 * (Double(i) + 0.5) / 9000)) }
        XCTAssertEqual(t.conformity, .close)
    }
}

final class RankingMetricsTests: XCTestCase {
    func testLiftHitRateAndInduCapturedAtTenPercent() {
        // 20 items, 4 positives; the top 2 (10 %) are item 3 (positive, 500 €) and item 7 (negative).
        var positive = [Bool](repeating: false, count: 20)
        var indu = [Double](repeating: 0, count: 20)
        for (i, amount) in [(3, 500.0), (5, 300), (9, 100), (11, 100)] {
            positive[i] = true
            indu[i] = amount
        }
        let order = [3, 7] + (0..<20).filter { $0 != 3 && $0 != 7 }
        let m = RankingMetrics.atShare(order: order, positive: positive, indu: indu)
        XCTAssertEqual(m.baseRate, 0.2)
        XCTAssertEqual(m.hitRate, 0.5)
        XCTAssertEqual(m.lift, 2.5, accuracy: 1e-12)
        XCTAssertEqual(m.induCaptured, 0.5, accuracy: 1e-12)
    }

    func testContributionsAreStoredInThousandths() {
        XCTAssertEqual(thousandths([1.25, -0.0304, 0, 0.0004, -12.3456]), "1250,-30,0,0,-12346")
        XCTAssertEqual(thousandths([]), "")
        // The widest values fill their room: 19 digits and a sign, after a comma.
        let wide = [-9.2e15, 9.2e15, -1e-4, 7]
        XCTAssertEqual(thousandths(wide), "-9200000000000000000,9200000000000000000,0,7000")
        let many = (0..<500).map { Double($0 - 250) * 1234.5678 }
        XCTAssertEqual(
            thousandths(many), many.map { String(Int(($0 * 1000).rounded())) }.joined(separator: ","),
            "each value as the standard library writes its integer")
    }

    func testAUCCountsTiesAsOneHalf() {
        XCTAssertEqual(RankingMetrics.auc(scores: [0.1, 0.4, 0.35, 0.8], positive: [false, false, true, true]), 0.75)
        XCTAssertEqual(RankingMetrics.auc(scores: [0.5, 0.5], positive: [false, true]), 0.5)
        XCTAssertTrue(RankingMetrics.auc(scores: [0.5], positive: [true]).isNaN)
    }
}
