import CiblageStore

/// The declaration keys met so far in one file, for the store's thread that tells a new key
/// from one met again.
///
/// A key packs into 64 bits (equipment id, exercice, nature, date of filing) and lives in an
/// open-addressing table hashed by one multiplication: `Set<DeclarationKey>` paid SipHash's
/// set-up and four combines per row, 0.5 s of the store's thread on the national files.
/// A key that does not pack (an id past 2³⁷, a year outside 1900…2155) goes to a `Set`.
struct DeclarationKeySet {
    /// Packed keys + 1 (0 marks an empty slot); the count is kept under three quarters.
    private var slots: [UInt64]
    private var shift: UInt64
    private var count = 0
    private var unpacked: Set<DeclarationKey> = []

    /// Sized for about `expected` keys without growing.
    init(expected: Int = 1 << 16) {
        var capacity = 1 << 10
        while capacity * 3 < expected * 4 { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
    }

    /// Adds `key`; `true` if it was not there.
    mutating func insert(_ key: DeclarationKey) -> Bool {
        guard let packed = Self.pack(key) else { return unpacked.insert(key).inserted }
        if (count + 1) * 4 > slots.count * 3 { grow() }
        return place(packed &+ 1)
    }

    /// Whether `key` was added.
    func contains(_ key: DeclarationKey) -> Bool {
        guard let packed = Self.pack(key) else { return unpacked.contains(key) }
        return slot(of: packed &+ 1).found
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
