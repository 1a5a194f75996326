import CiblageModel
import Crypto
import Foundation

/// What one pass over a file tells before it is ingested: its SHA-256 (to skip a file already
/// ingested), its size, and its encoding (UTF-8, UTF-8 with a few damaged rows, or Windows-1252).
public struct FileFingerprint: Sendable {
    /// Lower-case hex SHA-256 of the content.
    public var sha256: String
    /// Size, bytes.
    public var size: Int
    public var encoding: TextEncoding

    public static func compute(_ url: URL) throws -> FileFingerprint {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw CSVReadError.unreadable(url.path, String(cString: strerror(errno))) }
        defer { close(fd) }
        let capacity = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var validator = UTF8Validator()
        var size = 0
        while true {
            let n = read(fd, buffer, capacity)
            if n < 0 { throw CSVReadError.unreadable(url.path, String(cString: strerror(errno))) }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
            hasher.update(bufferPointer: chunk)
            validator.feed(chunk)
            size += n
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return FileFingerprint(sha256: digest, size: size, encoding: Self.encoding(validator))
    }

    /// UTF-8 when valid; UTF-8 with damaged rows when its valid multi-byte sequences outnumber
    /// its invalid bytes (a Windows-1252 file has almost none: `é` followed by a letter is not a
    /// sequence); Windows-1252 otherwise (`exports.md`, encoding).
    static func encoding(_ scan: UTF8Validator) -> TextEncoding {
        var scan = scan
        if scan.finish() { return .utf8 }
        return scan.multibyteSequences > scan.invalidBytes ? .utf8Damaged : .windows1252
    }
}
