/// Median and MAD of a set of values: statistics that a few extreme equipments cannot drag.
public struct RobustStats: Hashable, Sendable {
    public var count: Int
    public var median: Double
    /// Median absolute deviation, scaled by 1.4826 so that it estimates a standard deviation
    /// for normal data.
    public var scaledMAD: Double

    public static let madScale = 1.4826

    /// `nil` for an empty set.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        var work = values
        let center = Self.median(selecting: &work)
        for i in work.indices { work[i] = abs(work[i] - center) }
        count = values.count
        median = center
        scaledMAD = Self.madScale * Self.median(selecting: &work)
    }

    /// The median of `v` by selection (Hoare's quickselect, O(n) on average), reordering `v`:
    /// peer groups of tens of thousands of values are summarised without sorting them.
    static func median(selecting v: inout [Double]) -> Double {
        let n = v.count
        let upper = select(&v, n / 2)
        guard n % 2 == 0 else { return upper }
        // The largest value below the upper middle is the lower middle.
        var lower = -Double.infinity
        for i in 0..<(n / 2) where v[i] > lower { lower = v[i] }
        return (lower + upper) / 2
    }

    /// Puts the `k`-th smallest value at index `k`, smaller ones before, larger ones after.
    static func select(_ v: inout [Double], _ k: Int) -> Double {
        var low = 0
        var high = v.count - 1
        while low < high {
            let mid = low + (high - low) / 2
            // Median of three as pivot, deterministic.
            let a = v[low], b = v[mid], c = v[high]
            let pivot = max(min(a, b), min(max(a, b), c))
            var i = low
            var j = high
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j {
                    v.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { high = j } else if k >= i { low = i } else { return v[k] }
        }
        return v[k]
    }

    /// How many scaled MADs `value` stands from the median; `nil` when the group does not vary.
    public func robustZ(_ value: Double) -> Double? {
        scaledMAD > 0 ? (value - median) / scaledMAD : nil
    }

    static func median(ofSorted v: [Double]) -> Double {
        let n = v.count
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// Which group an equipment was compared with.
public enum PeerLevel: String, Sendable {
    /// Same nature and same size band.
    case natureTaille = "NATURE_TAILLE"
    /// Same nature, any size (the nature × size cell was too small).
    case nature = "NATURE"
    /// Every equipment with the indicator (the nature too was too small).
    case national = "NATIONAL"
}

/// Peer groups of one indicator: nature × size band, falling back to the nature, then to all
/// equipments, when a group has fewer than `minimumCount` values.
public struct PeerGroups: Sendable {
    public let minimumCount: Int
    private var byCell: [Cell: RobustStats] = [:]
    private var byNature: [String: RobustStats] = [:]
    private var national: RobustStats?

    /// `values`: one per equipment, with its nature code and size band code (`nil` without places).
    public init(_ values: [(nature: String, band: String?, value: Double)], minimumCount: Int = 20) {
        self.minimumCount = minimumCount
        var cells: [Cell: [Double]] = [:]
        var natures: [String: [Double]] = [:]
        for v in values where v.value.isFinite {
            if let band = v.band { cells[Cell(nature: v.nature, band: band), default: []].append(v.value) }
            natures[v.nature, default: []].append(v.value)
        }
        byCell = cells.compactMapValues { RobustStats($0) }
        byNature = natures.compactMapValues { RobustStats($0) }
        national = RobustStats(values.map(\.value).filter(\.isFinite))
    }

    /// The statistics an equipment of this nature and size band is compared with, and their level.
    public func stats(nature: String, band: String?) -> (stats: RobustStats, level: PeerLevel)? {
        if let band, let cell = byCell[Cell(nature: nature, band: band)], cell.count >= minimumCount {
            return (cell, .natureTaille)
        }
        if let group = byNature[nature], group.count >= minimumCount { return (group, .nature) }
        return national.map { ($0, .national) }
    }

    struct Cell: Hashable {
        var nature: String
        var band: String
    }
}
