import CXXHash
import CiblageModel
import Foundation

/// What a writing stage leaves beside the store (`<store>-sceau`) once it has committed to a
/// store it knew sound: the file's size in bytes and the XXH3 (64 bits, xxHash) of each of its
/// two halves.
///
/// While the file still has exactly those bytes, it is the store that was checked (or sealed)
/// then changed by SQLite's own transactions only, so the next ingest need not run
/// `PRAGMA quick_check` over every page again: on the national store (140 MB) the seal takes
/// about 0.02 s on two cores, the check 0.6 s. Any other change — a byte flipped on disk, a
/// write by another program, a store copied or restored without its seal — leaves the file
/// unlike its seal, and the full check runs as before.
///
/// XXH3 rather than zlib's CRC-32 (the seal's first format, `ciblage-sceau-1`): on the national
/// store, read 1 MiB at a time on one thread, 0.040 s against 0.097 s, half of it the reading
/// itself. A seal of the first format is no longer read: the next ingest checks the whole store
/// once and seals it again.
///
/// A lost, stale or unreadable seal only costs that full check: it is written under a temporary
/// name and renamed, without a sync.
public struct StoreSeal: Equatable, Sendable {
    /// The store file's size, bytes.
    public var size: Int64
    /// The XXH3 (64 bits, seed 0) of the file's first `size / 2` bytes.
    public var firstHalf: UInt64
    /// The XXH3 (64 bits, seed 0) of the rest of the file.
    public var secondHalf: UInt64

    public init(size: Int64, firstHalf: UInt64, secondHalf: UInt64) {
        self.size = size
        self.firstHalf = firstHalf
        self.secondHalf = secondHalf
    }

    /// The seal's file beside the store.
    public static func path(for store: String) -> String { store + "-sceau" }

    /// The first field of a seal's line: its format.
    static let format = "ciblage-sceau-2"

    /// The seal of the file at `path` as it is now: its size, and the hash of each half, the two
    /// computed at once on two threads.
    public static func of(file path: String) throws -> StoreSeal {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.last("lecture", path) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SystemError.last("lecture", path) }
        let size = Int64(status.st_size)
        let half = size / 2
        let second = BackgroundWork { try Self.hash(fd, from: half, to: size, path: path) }
        // Both halves are done before `fd` is closed, even when one fails.
        let firstResult = Result { try Self.hash(fd, from: 0, to: half, path: path) }
        let secondResult = Result { try second.wait() }
        let first = try firstResult.get()
        let rest = try secondResult.get()
        // A file that got shorter while it was read gets the size actually read: not its seal.
        return StoreSeal(size: first.read + rest.read, firstHalf: first.hash, secondHalf: rest.hash)
    }

    /// The XXH3 of the bytes `[start, end)` of `fd`, read 1 MiB at a time, and how many bytes
    /// were read (fewer than asked when the file got shorter meanwhile).
    private static func hash(_ fd: Int32, from start: Int64, to end: Int64, path: String) throws -> (hash: UInt64, read: Int64) {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        guard let state = XXH3_createState() else { throw SystemError(action: "lecture", path: path, code: ENOMEM) }
        defer { XXH3_freeState(state) }
        XXH3_64bits_reset(state)
        var offset = start
        while offset < end {
            let n = pread(fd, buffer, min(chunk, Int(end - offset)), off_t(offset))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.last("lecture", path)
            }
            guard n > 0 else { break }
            XXH3_64bits_update(state, buffer, n)
            offset += Int64(n)
        }
        return (XXH3_64bits_digest(state), offset - start)
    }

    /// The seal recorded beside `store`, or `nil` when there is none or it cannot be read.
    public static func recorded(for store: String) -> StoreSeal? {
        guard let text = try? String(contentsOfFile: path(for: store), encoding: .utf8) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 4, fields[0] == format, let size = Int64(fields[1]), let first = UInt64(fields[2], radix: 16),
            let second = UInt64(fields[3], radix: 16)
        else { return nil }
        return StoreSeal(size: size, firstHalf: first, secondHalf: second)
    }

    /// Whether the file at `store` has the bytes of its recorded seal.
    public static func holds(for store: String) -> Bool {
        guard let seal = recorded(for: store), let now = try? of(file: store) else { return false }
        return seal == now
    }

    /// Records this seal beside `store` (temporary name, then renamed).
    public func record(for store: String) throws {
        let target = Self.path(for: store)
        let temporary = target + ".tmp"
        let line = "\(Self.format) \(size) \(String(hexadecimal: firstHalf, digits: 16)) \(String(hexadecimal: secondHalf, digits: 16))\n"
        try Data(line.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, target) == 0 else {
            let error = SystemError.last("renommage", target)
            unlink(temporary)
            throw error
        }
    }

    /// Removes the seal beside `store`, if any.
    public static func discard(for store: String) {
        unlink(path(for: store))
    }
}
