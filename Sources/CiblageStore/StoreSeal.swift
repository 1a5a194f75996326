import CZlib
import CiblageModel
import Foundation

/// What a writing stage leaves beside the store (`<store>-sceau`) once it has committed to a
/// store it knew sound: the file's size in bytes and its CRC-32 (zlib).
///
/// While the file still has exactly those bytes, it is the store that was checked (or sealed)
/// then changed by SQLite's own transactions only, so the next ingest need not run
/// `PRAGMA quick_check` over every page again: on the national store (138 MB) the CRC takes
/// about 0.04 s on two cores, the check 0.6 s. Any other change — a byte flipped on disk, a
/// write by another program, a store copied or restored without its seal — leaves the file
/// unlike its seal, and the full check runs as before.
///
/// A lost, stale or unreadable seal only costs that full check: it is written under a temporary
/// name and renamed, without a sync.
public struct StoreSeal: Equatable, Sendable {
    /// The store file's size, bytes.
    public var size: Int64
    /// The CRC-32 of the whole file.
    public var crc32: UInt32

    public init(size: Int64, crc32: UInt32) {
        self.size = size
        self.crc32 = crc32
    }

    /// The seal's file beside the store.
    public static func path(for store: String) -> String { store + "-sceau" }

    /// The seal of the file at `path` as it is now: its size, and its CRC-32 computed on two
    /// threads (one per half, combined with `crc32_combine`).
    public static func of(file path: String) throws -> StoreSeal {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.last("lecture", path) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SystemError.last("lecture", path) }
        let size = Int64(status.st_size)
        let half = size / 2
        let second = BackgroundWork { try Self.crc(fd, from: half, to: size, path: path) }
        // Both halves are done before `fd` is closed, even when one fails.
        let firstHalf = Result { try Self.crc(fd, from: 0, to: half, path: path) }
        let secondHalf = Result { try second.wait() }
        let first = try firstHalf.get()
        let (crc, read) = try secondHalf.get()
        // A file that got shorter while it was read gets the size actually read: not its seal.
        guard first.read == half else { return StoreSeal(size: first.read, crc32: 0) }
        let combined = crc32_combine(first.crc, crc, Int(read))
        return StoreSeal(size: half + read, crc32: UInt32(truncatingIfNeeded: combined))
    }

    /// The CRC-32 of the bytes `[start, end)` of `fd`, read 1 MiB at a time, and how many bytes
    /// were read (fewer than asked when the file got shorter meanwhile).
    private static func crc(_ fd: Int32, from start: Int64, to end: Int64, path: String) throws -> (crc: UInt, read: Int64) {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var crc = CZlib.crc32(0, nil, 0)
        var offset = start
        while offset < end {
            let n = pread(fd, buffer, min(chunk, Int(end - offset)), off_t(offset))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.last("lecture", path)
            }
            guard n > 0 else { break }
            crc = crc32_z(crc, buffer.assumingMemoryBound(to: UInt8.self), n)
            offset += Int64(n)
        }
        return (crc, offset - start)
    }

    /// The seal recorded beside `store`, or `nil` when there is none or it cannot be read.
    public static func recorded(for store: String) -> StoreSeal? {
        guard let text = try? String(contentsOfFile: path(for: store), encoding: .utf8) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 3, fields[0] == "ciblage-sceau-1", let size = Int64(fields[1]), let crc = UInt32(fields[2], radix: 16)
        else { return nil }
        return StoreSeal(size: size, crc32: crc)
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
        try Data("ciblage-sceau-1 \(size) \(String(format: "%08x", crc32))\n".utf8).write(to: URL(fileURLWithPath: temporary))
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
