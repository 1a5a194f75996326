import CiblageModel
import CiblageStore

/// The declaration keys met so far in one file, for the store's thread that tells a new key
/// from one met again.
///
/// A key packs into 64 bits (equipment id, exercice, nature, date of filing). Exports list an
/// equipment's declarations together, mostly by rising id: the keys of the equipment being read
/// are kept in a short list, those of the equipments before it in the current rising *run*
/// (one sorted array, appended to, never re-sorted). A file in another order reaches the store
/// as windows sorted by key (``KeyOrderWindow``): rising runs of thousands of rows, each starting
/// again from the lowest ids. When a run of at least ``restartAfter`` rising keys comes behind
/// the greatest id met, the run before is closed: merged into the sorted keys of earlier runs
/// (``closed``), whose position the new run follows with a cursor that only moves forward. A
/// key behind the run that starts no new one (a stray row), and the keys of a run too short to
/// be worth a merge, go to an open-addressing table hashed by one multiplication.
///
/// Before the runs, every key of a shuffled file went to that table: a cache miss per row on the
/// store's thread, 0.17 s of the national ingest's storing thread (and 4 % of the whole ingest
/// when it was probed for every row; `Set<DeclarationKey>` before it paid SipHash's set-up and
/// four combines per row). A key that does not pack (an id past 2³⁷, a year outside
/// 1900…2155) goes to a `Set`.
struct DeclarationKeySet {
    /// Packed keys of the runs before the current one, sorted.
    private var closed: [UInt64] = []
    /// Where the current run stands in ``closed``: no key before it has an id of
    /// ``currentId`` or more.
    private var cursor = 0
    /// Packed keys of the current run's equipments before ``currentId``, sorted.
    private var run: [UInt64] = []
    /// Packed keys of the equipment ``currentId``, in the order met.
    private var group: [UInt64] = []
    /// The greatest equipment id of the current run (−1 before the first key).
    private var currentId: Int64 = -1
    /// How many keys in a row came behind ``currentId`` with rising ids, and the last one's id.
    private var streak = 0
    private var streakId: Int64 = -1
    /// Packed keys + 1 (0 marks an empty slot) of keys met behind the run; the count is kept
    /// under three quarters.
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

    /// The keys of one equipment kept in its short list; the next go to the table.
    static let groupLimit = 32
    /// Rising keys behind the run, one after the other, that start a new run (a sorted window
    /// has thousands; a stray row one).
    static let restartAfter = 32

    /// Adds `key`; `true` if it was not there.
    mutating func insert(_ key: DeclarationKey) -> Bool {
        guard let packed = Self.pack(key) else { return unpacked.insert(key).inserted }
        let id = key.equipementId
        if id > currentId {
            streak = 0
            closeGroup()
            currentId = id
            if inClosedAtCursor(packed) || inTable(packed) { return false }
            group.append(packed)
            return true
        }
        if id == currentId {
            streak = 0
            if group.contains(packed) || inClosedAtCursor(packed) || inTable(packed) { return false }
            if group.count < Self.groupLimit {
                group.append(packed)
                return true
            }
            // A file that repeats one equipment on and on: its keys past the limit go to the
            // table, not to a list searched row after row.
            return placeInTable(packed)
        }
        // Behind the run: its keys so far, the earlier runs and the table are all there is to
        // ask (the group's id is greater).
        if Self.sortedContains(run, packed) || Self.sortedContains(closed, packed) || inTable(packed) { return false }
        _ = placeInTable(packed)
        streak = id >= streakId ? streak + 1 : 1
        streakId = id
        if streak >= Self.restartAfter { restart(at: id) }
        return true
    }

    /// Whether `key` was added.
    func contains(_ key: DeclarationKey) -> Bool {
        guard let packed = Self.pack(key) else { return unpacked.contains(key) }
        if key.equipementId == currentId && group.contains(packed) { return true }
        if key.equipementId < currentId && Self.sortedContains(run, packed) { return true }
        return Self.sortedContains(closed, packed) || inTable(packed)
    }

    /// Moves the group's keys, sorted, after those of the run's equipments before it.
    private mutating func closeGroup() {
        guard !group.isEmpty else { return }
        group.sort()
        run.append(contentsOf: group)
        group.removeAll(keepingCapacity: true)
    }

    /// Ends the current run and starts one at the equipment `id` (whose keys met so far are in
    /// the table): the run's keys are merged into ``closed``, or, if they are fewer than an
    /// eighth of it, placed in the table. A merge thus costs at most nine times the run it
    /// merges: nine moves per key in all, whatever the file's order.
    private mutating func restart(at id: Int64) {
        closeGroup()
        if run.count * 8 >= closed.count {
            closed = Self.merged(closed, run)
        } else {
            for packed in run { _ = placeInTable(packed) }
        }
        run.removeAll(keepingCapacity: true)
        currentId = id
        streak = 0
        let floor = UInt64(id) << Self.idShift
        cursor = partitionPoint(closed.count) { closed[$0] < floor }
    }

    /// Whether ``closed`` holds `packed`, whose id is ``currentId``: the cursor is moved up to
    /// that id's keys (galloping, then halving), and they are compared one by one.
    private mutating func inClosedAtCursor(_ packed: UInt64) -> Bool {
        guard cursor < closed.count else { return false }
        let id = packed >> Self.idShift
        let floor = id << Self.idShift
        if closed[cursor] < floor {
            var step = 1
            var low = cursor
            while low + step < closed.count && closed[low + step] < floor {
                low += step
                step <<= 1
            }
            let high = min(low + step, closed.count)
            cursor = low + 1 + partitionPoint(high - low - 1) { closed[low + 1 + $0] < floor }
        }
        var i = cursor
        while i < closed.count && closed[i] >> Self.idShift == id {
            if closed[i] == packed { return true }
            i += 1
        }
        return false
    }

    static func sortedContains(_ sorted: [UInt64], _ value: UInt64) -> Bool {
        let k = partitionPoint(sorted.count) { sorted[$0] < value }
        return k < sorted.count && sorted[k] == value
    }

    /// `a` and `b`, both sorted and without a key in common, as one sorted array.
    static func merged(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var result: [UInt64] = []
        result.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i] < b[j] {
                result.append(a[i])
                i += 1
            } else {
                result.append(b[j])
                j += 1
            }
        }
        result.append(contentsOf: a[i...])
        result.append(contentsOf: b[j...])
        return result
    }

    /// Where the equipment id starts in a packed key (its top 37 bits): keys of one id share
    /// `packed >> idShift`, and `id << idShift` is the least of them.
    static let idShift: UInt64 = 27

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
        return UInt64(key.equipementId) << idShift | UInt64(key.exercice - 1900) << 19 | UInt64(key.nature.rawValue) << 17 | date
    }

    /// How many keys the table holds (rows met behind their run).
    var tableCount: Int { count }

    private func inTable(_ packed: UInt64) -> Bool { count > 0 && slot(of: packed &+ 1).found }

    private mutating func placeInTable(_ packed: UInt64) -> Bool {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        return place(packed &+ 1)
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
