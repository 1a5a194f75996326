import Foundation

/// The size of an indu when a control finds one: E[indu | anomaly, features], in euros.
///
/// A log-normal regression fitted on the positive controls: log(indu) is a ridge linear
/// function of the log of the stake, the nature of the equipment and the standardised risk
/// features, with a normal residual of variance σ²; then E[indu] = exp(μ + σ²/2). The stake
/// enters as one variable among others, so an indu that does not follow the funding is not
/// forced to (unlike a fixed share of the stake).
public struct SeverityModel: Codable, Sendable, Equatable {
    /// Column names: `enjeu_log`, the risk features (``Feature/code``), then `nature_<CODE>`.
    public var columns: [String]
    /// Natures with their own effect (the most frequent among positives is the reference).
    public var natures: [String]
    public var means: [Double]
    public var scales: [Double]
    public var intercept: Double
    public var coefficients: [Double]
    /// Residual variance of log(indu).
    public var residualVariance: Double
    /// Positive controls the fit used.
    public var positives: Int

    /// Ridge penalty on standardised columns.
    public static let lambda = 5.0
    /// Below this many positive controls, the severity is the median indu share of the stake.
    public static let minimumPositives = 60

    /// Calls `body` with each raw column of one line, its number and value, in order: log stake,
    /// features, nature indicators. The one definition of the columns, for the fit and for each line.
    private func forEachRawColumn(values: [Double?], enjeu: Double, nature: String, _ body: (Int, Double?) -> Void) {
        body(0, log1p(max(0, enjeu) / 1000))
        for (k, v) in values.enumerated() { body(1 + k, v) }
        for (k, n) in natures.enumerated() { body(1 + values.count + k, n == nature ? 1 : 0) }
    }

    /// The raw columns of one line: log stake, features, nature indicators.
    func raw(values: [Double?], enjeu: Double, nature: String) -> [Double?] {
        var columns: [Double?] = []
        columns.reserveCapacity(1 + values.count + natures.count)
        forEachRawColumn(values: values, enjeu: enjeu, nature: nature) { _, x in columns.append(x) }
        return columns
    }

    /// Euros: the expected indu of a control that finds an anomaly on this line.
    public func expectedIndu(values: [Double?], enjeu: Double, nature: String) -> Double {
        // Term by term, without making the line's columns (three arrays a line were more than
        // half of this function's time).
        var mu = intercept
        forEachRawColumn(values: values, enjeu: enjeu, nature: nature) { j, x in
            mu += coefficients[j] * (x.map { ($0 - means[j]) / scales[j] } ?? 0)
        }
        return exp(min(mu + residualVariance / 2, 30))
    }

    /// Fits on the positive controls among `examples`; nil when there are too few.
    public static func fit(_ examples: [TrainingExample]) throws -> SeverityModel? {
        let positives = examples.filter { $0.positive && $0.indu > 0 }
        guard positives.count >= minimumPositives else { return nil }
        var counts: [String: Int] = [:]
        for e in positives { counts[e.nature, default: 0] += 1 }
        let reference = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
        let natures = counts.filter { $0.key != reference && $0.value >= 5 }.keys.sorted()
        let featureCount = positives[0].values.count
        var model = SeverityModel(
            columns: ["enjeu_log"] + Feature.allCases.prefix(featureCount).map(\.code) + natures.map { "nature_\($0)" }, natures: natures,
            means: [], scales: [], intercept: 0, coefficients: [], residualVariance: 0, positives: positives.count)
        let raw = positives.map { model.raw(values: $0.values, enjeu: $0.enjeu, nature: $0.nature) }
        let (means, scales) = RiskScoring.standardisation(raw, count: model.columns.count)
        model.means = means
        model.scales = scales
        let x = raw.map { row in row.enumerated().map { j, v in v.map { ($0 - means[j]) / scales[j] } ?? 0 } }
        let y = positives.map { log($0.indu) }
        let fit = try RidgeRegression.fit(x: x, y: y, lambda: lambda)
        model.intercept = fit.intercept
        model.coefficients = fit.coefficients
        let residuals = zip(x, y).map { row, target in target - fit.predict(row) }
        model.residualVariance = residuals.reduce(0) { $0 + $1 * $1 } / Double(max(1, residuals.count - 1))
        return model
    }
}

/// Least squares with an L2 penalty on the coefficients (not the intercept), closed form.
struct RidgeRegression {
    var intercept: Double
    var coefficients: [Double]

    static func fit(x: [[Double]], y: [Double], lambda: Double) throws -> RidgeRegression {
        guard let p = x.first?.count else { throw LogisticRegression.FitError.empty }
        let k = p + 1
        var a = [Double](repeating: 0, count: k * k)
        var b = [Double](repeating: 0, count: k)
        var row = [Double](repeating: 1, count: k)
        for (xi, yi) in zip(x, y) {
            for j in 0..<p { row[j + 1] = xi[j] }
            for r in 0..<k {
                b[r] += row[r] * yi
                for c in 0...r { a[r * k + c] += row[r] * row[c] }
            }
        }
        for j in 1..<k { a[j * k + j] += lambda }
        for r in 0..<k { for c in 0..<r { a[c * k + r] = a[r * k + c] } }
        let beta = try LogisticRegression.solveCholesky(a, b, k)
        return RidgeRegression(intercept: beta[0], coefficients: Array(beta[1...]))
    }

    func predict(_ x: [Double]) -> Double { zip(coefficients, x).reduce(intercept) { $0 + $1.0 * $1.1 } }
}
