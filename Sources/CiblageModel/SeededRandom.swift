import Foundation

/// SplitMix64: a small, documented, seeded generator. Every draw (the generator's worlds, the
/// random share of a campaign) goes through it, never through the standard library's
/// algorithms, which are not promised stable across Swift versions: the same seed gives the same
/// files on every machine and toolchain.
public struct SeededRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// An independent stream for `purpose`, so that adding draws to one part of the generator
    /// does not shift the others.
    public func derived(_ purpose: String) -> SeededRandom {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in purpose.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var copy = SeededRandom(seed: state ^ h)
        _ = copy.next()
        return copy
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + uniform() * (range.upperBound - range.lowerBound)
    }

    /// Uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound + 1)
        return range.lowerBound + Int(next().multipliedFullWidth(by: span).high)
    }

    public mutating func chance(_ p: Double) -> Bool { uniform() < p }

    /// Standard normal (Box–Muller).
    public mutating func normal(mean: Double = 0, sd: Double = 1) -> Double {
        let u1 = max(uniform(), 1e-300)
        let u2 = uniform()
        return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// Log-normal with the given median and log-scale standard deviation.
    public mutating func logNormal(median: Double, sigma: Double) -> Double {
        median * exp(normal(sd: sigma))
    }

    /// An index drawn with the given weights.
    public mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var x = uniform() * total
        for (i, w) in weights.enumerated() {
            x -= w
            if x < 0 { return i }
        }
        return weights.count - 1
    }

    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}
