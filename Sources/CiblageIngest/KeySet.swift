import CiblageStore

/// The declaration keys met so far in one file, for the store's thread that tells a new key
/// from one met again.
///
/// A key packs into 64 bits (equipment id, exercice, nature, date of filing). Exports list an
/// equipment's declarations together, mostly by rising id: the keys of the equipment being read
/// are kept in a short list, those of the equipments before it in one sorted array (appended
/// to, never re-sorted), and a key arriving after a greater id (a file in another order) goes
/// to an open-addressing table hashed by one multiplication. On the national files, a probe of
/// that table for every row cost 4 % of the ingest (a cache miss per row: 0.8 s at ×4), and
/// `Set<DeclarationKey>` before it SipHash's set-up and four combines per row.
/// A key that does not pack (an id past 2³⁷, a year outside 1900…2155) goes to a `Set`.
struct DeclarationKeySet {
    /// Packed keys of equipments before ``currentId`` met in rising order, sorted.
    private var closed: [UInt64] = []
    /// Packed keys of the equipment ``currentId``, in the order met.
    private var group: [UInt64] = []
    /// The greatest equipment id met so far (−1 before the first key).
    private var currentId: Int64 = -1
    /// Packed keys + 1 (0 marks an empty slot) of keys met after a greater id; the count is
    /// kept under three quarters.
    private var slots: [UInt64]
    private var shift: UInt64
    private var count = 0
    private var unpacked: Set<DeclarationKey> = []

    /// Sized for about `expected` keys met out of order without growing.
    init(expected: Int = 1 << 10) {
        var capacity = 1 << 4
        while capacity * 3 < expected * 4 { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
    }

    /// Adds `key`; `true` if it was not there.
    mutating func insert(_ key: DeclarationKey) -> Bool {
        guard let packed = Self.pack(key) else { return unpacked.insert(key).inserted }
        if key.equipementId > currentId {
            closeGroup()
            currentId = key.equipementId
            group.append(packed)
            return true
        }
        if key.equipementId == currentId {
            if group.contains(packed) { return false }
            if group.count < Self.groupLimit {
                group.append(packed)
                return true
            }
            // A file that repeats one equipment on and on: its keys past the limit go to the
            // table, not to a list searched row after row.
            return placeInTable(packed)
        }
        // Every key of the table came after a greater id or past a full group, so the group
        // (whose overflow is in the table) and later ids do not hold it: the sorted keys and
        // the table are all there is to ask.
        if Self.sortedContains(closed, packed) { return false }
        return placeInTable(packed)
    }

    /// The keys of one equipment kept in its short list; the next go to the table.
    static let groupLimit = 32

    private mutating func placeInTable(_ packed: UInt64) -> Bool {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        return place(packed &+ 1)
    }

    /// Whether `key` was added.
    func contains(_ key: DeclarationKey) -> Bool {
        guard let packed = Self.pack(key) else { return unpacked.contains(key) }
        if key.equipementId > currentId { return false }
        if key.equipementId == currentId {
            return group.contains(packed) || (group.count == Self.groupLimit && slot(of: packed &+ 1).found)
        }
        return Self.sortedContains(closed, packed) || slot(of: packed &+ 1).found
    }

    /// Moves the group's keys, sorted, after those of the equipments before it.
    private mutating func closeGroup() {
        group.sort()
        closed.append(contentsOf: group)
        group.removeAll(keepingCapacity: true)
    }

    static func sortedContains(_ sorted: [UInt64], _ value: UInt64) -> Bool {
        let k = partitionPoint(sorted.count) { sorted[$0] < value }
        return k < sorted.count && sorted[k] == value
    }

    /// The key in 64 bits: id (37) · exercice − 1900 (8) · nature (2) · date (17: year − 1900,
    /// month, day); `nil` when a part does not fit. Never all ones (a month is at most 12), so
    /// the stored `packed + 1` is never 0.
    static func pack(_ key: DeclarationKey) -> UInt64? {
        let year = key.dateDepot / 10_000, month = key.dateDepot / 100 % 100, day = key.dateDepot % 100
        guard key.equipementId >= 0, key.equipementId < 1 << 37, (1900..<2156).contains(key.exercice),
            (1900..<2156).contains(year), (1...12).contains(month), (1...31).contains(day),
            (0..<4).contains(key.nature.rawValue)
        else { return nil }
        let date = UInt64(year - 1900) << 9 | UInt64(month) << 5 | UInt64(day)
        return UInt64(key.equipementId) << 27 | UInt64(key.exercice - 1900) << 19 | UInt64(key.nature.rawValue) << 17 | date
    }

    private mutating func place(_ stored: UInt64) -> Bool {
        let (index, found) = slot(of: stored)
        if found { return false }
        slots[index] = stored
        count += 1
        return true
    }

    /// The slot holding `stored`, or the empty one where it would go: probed from the top bits
    /// of a product (Fibonacci hashing), then slot after slot.
    private func slot(of stored: UInt64) -> (index: Int, found: Bool) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: (stored &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while slots[i] != 0 {
            if slots[i] == stored { return (i, true) }
            i = (i + 1) & mask
        }
        return (i, false)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        shift -= 1
        count = 0
        for stored in old where stored != 0 { _ = place(stored) }
    }
}
