import Foundation

/// A logistic regression fitted by penalised maximum likelihood (Newton–Raphson, i.e.
/// iteratively reweighted least squares), with case weights and an L2 (ridge) penalty on the
/// coefficients but not on the intercept:
///
///     maximise Σ wᵢ [yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)] − λ/2 ‖β‖²,   pᵢ = σ(β₀ + xᵢ·β)
///
/// Features are expected standardised (mean 0, unit variance) so that one λ fits them all.
public struct LogisticRegression: Sendable, Equatable {
    public var intercept: Double
    public var coefficients: [Double]
    /// Newton iterations used, and whether the change of the log-likelihood fell below tolerance.
    public var iterations: Int
    public var converged: Bool

    public enum FitError: Error, Equatable {
        case empty
        case singular
    }

    /// Fits on rows `x` (all of the same length), outcomes `y` (0 or 1), weights `w` (default 1).
    public static func fit(
        x: [[Double]], y: [Double], weights: [Double]? = nil, lambda: Double = 1, maxIterations: Int = 50,
        tolerance: Double = 1e-10
    ) throws -> LogisticRegression {
        guard let p = x.first?.count, x.count == y.count else { throw FitError.empty }
        let w = weights ?? [Double](repeating: 1, count: y.count)
        let k = p + 1  // intercept first
        var beta = [Double](repeating: 0, count: k)
        // Start the intercept at the weighted base rate: fewer iterations, same optimum.
        let totalW = w.reduce(0, +)
        let rate = min(max(zip(y, w).reduce(0) { $0 + $1.0 * $1.1 } / max(totalW, 1e-300), 1e-6), 1 - 1e-6)
        beta[0] = log(rate / (1 - rate))
        var previous = -Double.infinity
        var iterations = 0
        var converged = false
        // The rows one after the other, each led by the intercept's 1, read through pointers by
        // the loops below (not through nested arrays, with a bounds check per term).
        var design = [Double](repeating: 1, count: x.count * k)
        for (i, xi) in x.enumerated() {
            for j in 0..<p { design[i * k + j + 1] = xi[j] }
        }
        var gradient = [Double](repeating: 0, count: k)
        var hessian = [Double](repeating: 0, count: k * k)
        // The places of a row's non-zero values: a term of the gradient or the Hessian with a zero
        // factor adds a zero, which leaves every sum as it is (a sum started at +0 is never −0),
        // so only those places are visited. Rows of standardised features are sparse (a missing
        // value is 0, and of the origin covariates one at most is 1): the Hessian's update, a
        // product per pair of places, was most of a national first score's regression fits.
        var places = [Int](repeating: 0, count: k)
        while iterations < maxIterations {
            iterations += 1
            var logLik = 0.0
            design.withUnsafeBufferPointer { rows in
                beta.withUnsafeBufferPointer { beta in
                    gradient.withUnsafeMutableBufferPointer { gradient in
                        hessian.withUnsafeMutableBufferPointer { hessian in
                            places.withUnsafeMutableBufferPointer { places in
                                gradient.update(repeating: 0)
                                hessian.update(repeating: 0)
                                for i in x.indices {
                                    let row = UnsafeBufferPointer(rebasing: rows[(i * k)..<(i * k + k)])
                                    var eta = 0.0
                                    for j in 0..<k { eta += beta[j] * row[j] }
                                    let prob = 1 / (1 + exp(-eta))
                                    let wi = w[i]
                                    // log(1 + e^η) computed without overflow.
                                    let softplus = eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta))
                                    logLik += wi * (y[i] * eta - softplus)
                                    let r = wi * (y[i] - prob)
                                    let v = wi * prob * (1 - prob)
                                    var count = 0
                                    for a in 0..<k where row[a] != 0 {
                                        places[count] = a
                                        count += 1
                                    }
                                    for pa in 0..<count {
                                        let a = places[pa]
                                        gradient[a] += r * row[a]
                                        let va = v * row[a]
                                        for pb in 0...pa {
                                            let b = places[pb]
                                            hessian[a * k + b] += va * row[b]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for j in 1..<k {
                logLik -= lambda / 2 * beta[j] * beta[j]
                gradient[j] -= lambda * beta[j]
                hessian[j * k + j] += lambda
            }
            for a in 0..<k { for b in 0..<a { hessian[b * k + a] = hessian[a * k + b] } }
            let step = try solveCholesky(hessian, gradient, k)
            for j in 0..<k { beta[j] += step[j] }
            if abs(logLik - previous) < tolerance * (1 + abs(logLik)) {
                converged = true
                break
            }
            previous = logLik
        }
        return LogisticRegression(intercept: beta[0], coefficients: Array(beta[1...]), iterations: iterations, converged: converged)
    }

    /// σ(β₀ + x·β).
    public func probability(_ x: [Double]) -> Double {
        1 / (1 + exp(-linear(x)))
    }

    /// β₀ + x·β.
    public func linear(_ x: [Double]) -> Double {
        var eta = intercept
        for (b, v) in zip(coefficients, x) { eta += b * v }
        return eta
    }

    /// Solves A s = g for a symmetric positive definite A (row-major, n × n).
    static func solveCholesky(_ a: [Double], _ g: [Double], _ n: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for m in 0..<j { sum -= l[i * n + m] * l[j * n + m] }
                if i == j {
                    guard sum > 1e-12 else { throw FitError.singular }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var z = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var sum = g[i]
            for m in 0..<i { sum -= l[i * n + m] * z[m] }
            z[i] = sum / l[i * n + i]
        }
        var s = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = z[i]
            for m in (i + 1)..<n { sum -= l[m * n + i] * s[m] }
            s[i] = sum / l[i * n + i]
        }
        return s
    }
}
