import Foundation

/// Interval estimates used by the bilan.
public enum Intervals {
    /// The regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz's
    /// method), using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where it converges faster.
    public static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lnBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let lnPowers: Double = a * log(x) + b * log(1 - x)
        let lnFront = lnPowers - lnBeta
        if x < (a + 1) / (a + b + 2) { return exp(lnFront) * continuedFraction(x, a, b) / a }
        return 1 - exp(lnFront) * continuedFraction(1 - x, b, a) / b
    }

    static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...500 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d
            if abs(d) < tiny { d = tiny }
            c = 1 + even / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d
            if abs(d) < tiny { d = tiny }
            c = 1 + odd / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return h
    }

    /// The `q` quantile of Beta(a, b), by bisection on ``incompleteBeta(_:_:_:)``.
    public static func betaQuantile(_ q: Double, _ a: Double, _ b: Double) -> Double {
        var lo = 0.0
        var hi = 1.0
        for _ in 0..<100 {
            let mid = (lo + hi) / 2
            if incompleteBeta(mid, a, b) < q { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// Clopper–Pearson ("exact") interval for `x` successes in `n` trials at level 1 − alpha:
    /// [B(α/2; x, n − x + 1), B(1 − α/2; x + 1, n − x)], with 0 and 1 at the edges. `x` and `n`
    /// may be non-integer (an effective sample size, as Korn and Graubard use it).
    public static func clopperPearson(x: Double, n: Double, alpha: Double = 0.05) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let low = x <= 0 ? 0 : betaQuantile(alpha / 2, x, n - x + 1)
        let high = x >= n ? 1 : betaQuantile(1 - alpha / 2, x + 1, n - x)
        return (low, high)
    }

    /// Ratio of two proportions x1/n1 over x2/n2 with Katz's log interval; `nil` when a rate is 0.
    public static func riskRatio(x1: Int, n1: Int, x2: Int, n2: Int) -> (ratio: Double, low: Double, high: Double)? {
        guard x1 > 0, x2 > 0, n1 > 0, n2 > 0 else { return nil }
        let ratio = (Double(x1) / Double(n1)) / (Double(x2) / Double(n2))
        let se = (1 / Double(x1) - 1 / Double(n1) + 1 / Double(x2) - 1 / Double(n2)).squareRoot()
        return (ratio, ratio * exp(-1.96 * se), ratio * exp(1.96 * se))
    }
}

/// A stratified estimate of a population total from fully observed (certainty) units and a
/// simple random sample in each stratum (Horvitz–Thompson: each sampled unit weighs N / n).
public struct StratifiedEstimate: Sendable, Equatable {
    /// One stratum: the total observed on its certainty units (scaled up for those not done),
    /// its random pool size N, and the values observed on the n sampled units.
    public struct Stratum: Sendable, Equatable {
        public var certaintyTotal: Double
        public var certaintyUnits: Int
        public var pool: Int
        public var sample: [Double]

        public init(certaintyTotal: Double, certaintyUnits: Int, pool: Int, sample: [Double]) {
            self.certaintyTotal = certaintyTotal
            self.certaintyUnits = certaintyUnits
            self.pool = pool
            self.sample = sample
        }
    }

    /// Estimated total, its estimated variance, the units of the population, the sampled units.
    public var total: Double
    public var variance: Double
    public var units: Int
    public var sampled: Int

    /// Horvitz–Thompson over the strata with usable samples (a pool with no sampled unit is left
    /// out of the estimate and of `units`). The variance uses, in every stratum, the variance of
    /// all sampled values pooled: strata are Cafs drawing one to a few equipments each, whose own
    /// sample variance is undefined (one draw) or mostly zero (two draws without an anomaly),
    /// which would report a precision the design does not have.
    public init(_ strata: [Stratum]) {
        var total = 0.0
        var units = 0
        var sampled = 0
        let usable = strata.filter { $0.pool == 0 || !$0.sample.isEmpty }
        let all = usable.flatMap(\.sample)
        let pooledMean = all.isEmpty ? 0 : all.reduce(0, +) / Double(all.count)
        let pooledS2 = all.count < 2 ? 0 : all.reduce(0) { $0 + ($1 - pooledMean) * ($1 - pooledMean) } / Double(all.count - 1)
        var variance = 0.0
        for s in usable {
            let n = s.sample.count
            total += s.certaintyTotal
            units += s.certaintyUnits + s.pool
            guard n > 0 else { continue }
            sampled += n
            total += Double(s.pool) * s.sample.reduce(0, +) / Double(n)
            let fpc = 1 - Double(n) / Double(s.pool)
            variance += Double(s.pool) * Double(s.pool) * max(0, fpc) * pooledS2 / Double(n)
        }
        self.total = total
        self.variance = variance
        self.units = units
        self.sampled = sampled
    }

    /// The population rate (0/1 values) with its 95 % interval: exact Clopper–Pearson on the
    /// sample for a single stratum, mapped onto the population; over several strata,
    /// Clopper–Pearson on the effective sample size p(1 − p) / V (Korn and Graubard, 1998).
    public func rate() -> (value: Double, low: Double, high: Double)? {
        guard units > 0, sampled > 0 else { return nil }
        let p = total / Double(units)
        let v = variance / (Double(units) * Double(units))
        var nEff = v > 0 ? p * (1 - p) / v : Double(sampled)
        nEff = min(max(nEff, 1), Double(units))
        let ci = Intervals.clopperPearson(x: p * nEff, n: nEff)
        return (p, ci.low, ci.high)
    }

    /// The population total (amounts) with a normal 95 % interval from the stratified variance.
    public func totalInterval() -> (value: Double, low: Double, high: Double) {
        let half = 1.96 * variance.squareRoot()
        return (total, max(0, total - half), total + half)
    }
}
