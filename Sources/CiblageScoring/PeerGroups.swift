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
        let sorted = values.sorted()
        let center = Self.median(ofSorted: sorted)
        count = sorted.count
        median = center
        scaledMAD = Self.madScale * Self.median(ofSorted: sorted.map { abs($0 - center) }.sorted())
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
    private var byCell: [String: RobustStats] = [:]
    private var byNature: [String: RobustStats] = [:]
    private var national: RobustStats?

    /// `values`: one per equipment, with its nature code and size band code (`nil` without places).
    public init(_ values: [(nature: String, band: String?, value: Double)], minimumCount: Int = 20) {
        self.minimumCount = minimumCount
        var cells: [String: [Double]] = [:]
        var natures: [String: [Double]] = [:]
        for v in values where v.value.isFinite {
            if let band = v.band { cells[Self.cellKey(v.nature, band), default: []].append(v.value) }
            natures[v.nature, default: []].append(v.value)
        }
        byCell = cells.compactMapValues { RobustStats($0) }
        byNature = natures.compactMapValues { RobustStats($0) }
        national = RobustStats(values.map(\.value).filter(\.isFinite))
    }

    /// The statistics an equipment of this nature and size band is compared with, and their level.
    public func stats(nature: String, band: String?) -> (stats: RobustStats, level: PeerLevel)? {
        if let band, let cell = byCell[Self.cellKey(nature, band)], cell.count >= minimumCount {
            return (cell, .natureTaille)
        }
        if let group = byNature[nature], group.count >= minimumCount { return (group, .nature) }
        return national.map { ($0, .national) }
    }

    static func cellKey(_ nature: String, _ band: String) -> String { nature + "|" + band }
}
