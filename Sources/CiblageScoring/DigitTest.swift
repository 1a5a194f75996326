import Foundation

/// The first-two digits test (Benford's law) over a set of declared amounts, with the mean
/// absolute deviation (MAD) and Nigrini's conformity thresholds for first-two digits.
public struct FirstTwoDigitsTest: Sendable {
    /// Counts of first-two digits 10…99 (index 0 is 10).
    public var counts: [Int] { tally.map(Int.init) }
    public private(set) var total = 0
    /// The counts, 4 bytes each: the score keeps one test per manager (some 48 000 at four times
    /// the country).
    private var tally = [UInt32](repeating: 0, count: 90)

    /// Fewer amounts than this and the test says nothing: the MAD of a small sample is large by
    /// chance alone (Nigrini advises a thousand or more; 300 keeps the medium-sized managers).
    public static let minimumCount = 300

    /// Benford's expected share of first-two digits `d` (10…99): log10(1 + 1/d).
    public static func expectedShare(_ d: Int) -> Double { log10(1 + 1 / Double(d)) }

    /// ``expectedShare(_:)`` of 10…99 (index 0 is 10), computed once: the MAD of a manager is
    /// asked for each of its equipments.
    static let expectedShares: [Double] = (10...99).map(expectedShare)

    public init() {}

    /// Adds an amount: values below 10 have no first-two digits and are left out.
    public mutating func add(_ value: Double) {
        if let d = Self.firstTwoDigits(value) { add(firstTwoDigits: d) }
    }

    /// Adds an amount by its first-two digits (10–99).
    public mutating func add(firstTwoDigits d: Int) {
        guard (10...99).contains(d) else { return }
        tally[d - 10] += 1
        total += 1
    }

    /// Adds the first-two digits packed a byte each, the first in the low byte, up to the
    /// first zero byte (``EquipmentYear/packedDigits``).
    public mutating func add(packed: Int64) {
        var bytes = UInt64(bitPattern: packed)
        while bytes & 0xFF != 0 {
            add(firstTwoDigits: Int(bytes & 0xFF))
            bytes >>= 8
        }
    }

    /// The first-two digits of `value` (10–99), `nil` below 10.
    public static func firstTwoDigits(_ value: Double) -> Int? {
        var v = abs(value)
        guard v >= 10, v.isFinite else { return nil }
        while v >= 100 { v /= 10 }
        // The relative nudge keeps 12.0 from reading as 11.999… after the divisions.
        return min(99, max(10, Int(v * (1 + 1e-12))))
    }

    /// Mean over the 90 first-two digits of |observed share − expected share|; `nil` below
    /// ``minimumCount`` amounts.
    public var mad: Double? {
        guard total >= Self.minimumCount else { return nil }
        let n = Double(total)
        var sum = 0.0
        let expected = Self.expectedShares
        for k in 0..<90 { sum += abs(Double(tally[k]) / n - expected[k]) }
        return sum / 90
    }

    /// Nigrini's conformity levels for the first-two digits test.
    public enum Conformity: String, Sendable {
        case close = "conformité étroite"
        case acceptable = "conformité acceptable"
        case marginal = "conformité marginale"
        case nonconformity = "non conforme"

        /// Upper limits of MAD: 0.0012, 0.0018, 0.0022 (Nigrini, *Benford's Law*, 2012).
        public init(mad: Double) {
            self = mad <= 0.0012 ? .close : mad <= 0.0018 ? .acceptable : mad <= 0.0022 ? .marginal : .nonconformity
        }
    }

    public var conformity: Conformity? { mad.map(Conformity.init(mad:)) }
}
