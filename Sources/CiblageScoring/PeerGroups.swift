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
    /// Worked on the array's buffer: through the array, every read was checked against its bounds
    /// and every swap against its uniqueness (the selection was 5 % of the score's reading at
    /// four times the country).
    static func select(_ values: inout [Double], _ k: Int) -> Double {
        values.withUnsafeMutableBufferPointer { v in
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

/// The peer cell (nature × size band) and nature of each equipment as small numbers, so that
/// the six indicators' groups are filled, and looked up, by index: the strings are compared
/// once per equipment rather than hashed twice per equipment and indicator (0.27 s of the
/// feature thread at four times the country).
struct PeerGrouping: Sendable {
    /// Per equipment, its cell's number in ``cells`` (−1 without a size band) and its nature's
    /// in ``natures``.
    var cellOf: [Int32] = []
    var natureOf: [Int32] = []
    var cells: [PeerGroups.Cell] = []
    var natures: [String] = []

    init(_ members: some Sequence<(nature: String, band: String?)>) {
        // A handful of natures and of bands: found by comparing codes (short strings, compared
        // in place), where a dictionary hashed each code of each equipment.
        var bandsOf: [[(band: String, cell: Int32)]] = []
        var last: Int32 = -1
        for m in members {
            var nature = last
            if nature < 0 || natures[Int(nature)] != m.nature {
                if let known = natures.firstIndex(of: m.nature) {
                    nature = Int32(known)
                } else {
                    nature = Int32(natures.count)
                    natures.append(m.nature)
                    bandsOf.append([])
                }
                last = nature
            }
            natureOf.append(nature)
            guard let band = m.band else {
                cellOf.append(-1)
                continue
            }
            if let known = bandsOf[Int(nature)].first(where: { $0.band == band }) {
                cellOf.append(known.cell)
            } else {
                let cell = Int32(cells.count)
                cellOf.append(cell)
                bandsOf[Int(nature)].append((band, cell))
                cells.append(PeerGroups.Cell(nature: m.nature, band: band))
            }
        }
    }
}

/// Peer groups of one indicator: nature × size band, falling back to the nature, then to all
/// equipments, when a group has fewer than `minimumCount` values.
public struct PeerGroups: Sendable {
    public let minimumCount: Int
    /// The cells and natures of the ``PeerGrouping`` the groups were made with, and the
    /// statistics of each, by the same numbers.
    private let cells: [Cell]
    private let natures: [String]
    private let cellStats: [RobustStats?]
    private let natureStats: [RobustStats?]
    private let national: RobustStats?

    /// `values`: one per equipment, with its nature code and size band code (`nil` without places).
    public init(_ values: [(nature: String, band: String?, value: Double)], minimumCount: Int = 20) {
        self.init(values.map(\.value), grouping: PeerGrouping(values.lazy.map { ($0.nature, $0.band) }), minimumCount: minimumCount)
    }

    /// `values[k]`: the indicator of the equipment `k` of `grouping`; a value that is not
    /// finite (NaN for a missing one) belongs to no group.
    init(_ values: [Double], grouping: PeerGrouping, minimumCount: Int = 20) {
        self.minimumCount = minimumCount
        var cellValues = [[Double]](repeating: [], count: grouping.cells.count)
        var natureValues = [[Double]](repeating: [], count: grouping.natures.count)
        var all: [Double] = []
        all.reserveCapacity(values.count)
        for (k, value) in values.enumerated() where value.isFinite {
            let cell = grouping.cellOf[k]
            if cell >= 0 { cellValues[Int(cell)].append(value) }
            natureValues[Int(grouping.natureOf[k])].append(value)
            all.append(value)
        }
        cells = grouping.cells
        natures = grouping.natures
        cellStats = cellValues.map(RobustStats.init)
        natureStats = natureValues.map(RobustStats.init)
        national = RobustStats(all)
    }

    /// The statistics an equipment of this nature and size band is compared with, and their level.
    public func stats(nature: String, band: String?) -> (stats: RobustStats, level: PeerLevel)? {
        // A nature no equipment had has no cell either: the country.
        guard let n = natures.firstIndex(of: nature) else { return national.map { ($0, .national) } }
        let cell = band.flatMap { cells.firstIndex(of: Cell(nature: nature, band: $0)) } ?? -1
        return stats(cell: Int32(cell), nature: Int32(n))
    }

    /// As ``stats(nature:band:)``, for the equipment in cell number `cell` (−1 without a size
    /// band) and nature number `nature` of the grouping the groups were made with.
    func stats(cell: Int32, nature: Int32) -> (stats: RobustStats, level: PeerLevel)? {
        if cell >= 0, let stats = cellStats[Int(cell)], stats.count >= minimumCount { return (stats, .natureTaille) }
        if let group = natureStats[Int(nature)], group.count >= minimumCount { return (group, .nature) }
        return national.map { ($0, .national) }
    }

    struct Cell: Equatable {
        var nature: String
        var band: String
    }
}
