import CiblageModel

/// Incremental UTF-8 scan, fed chunk by chunk (a sequence may straddle two chunks): counts the
/// invalid bytes and the valid multi-byte sequences, which together tell a UTF-8 file with a few
/// damaged rows from a Windows-1252 one (``FileFingerprint``).
public struct UTF8Validator {
    private var pending: [UInt8] = []
    /// Bytes that start no valid sequence.
    public private(set) var invalidBytes = 0
    /// Valid sequences of two bytes or more.
    public private(set) var multibyteSequences = 0

    public var isValid: Bool { invalidBytes == 0 }

    public init() {}

    public mutating func feed(_ chunk: UnsafeRawBufferPointer) {
        var bytes = chunk.bindMemory(to: UInt8.self)[...]
        if !pending.isEmpty {
            // Complete the straddling sequence, then scan it on its own.
            let need = Self.sequenceLength(pending[0]) - pending.count
            let take = min(need, bytes.count)
            pending.append(contentsOf: bytes.prefix(take))
            if pending.count < Self.sequenceLength(pending[0]) && take == bytes.count { return }
            bytes = bytes.dropFirst(take)
            let joined = pending
            pending.removeAll()
            joined.withUnsafeBufferPointer { buffer in
                let result = Self.scan(buffer[...])
                invalidBytes += result.invalid
                multibyteSequences += result.multibyte
                // Bytes the joined sequence did not use (it was invalid) were scanned as invalid or
                // ASCII already; a tail cannot remain since the sequence is complete.
                if result.tail < buffer.endIndex { invalidBytes += buffer.endIndex - result.tail }
            }
        }
        let result = Self.scan(bytes)
        invalidBytes += result.invalid
        multibyteSequences += result.multibyte
        if result.tail < bytes.endIndex { pending = Array(bytes[result.tail...]) }
    }

    /// Call at end of input: a truncated final sequence is invalid. Returns ``isValid``.
    public mutating func finish() -> Bool {
        invalidBytes += pending.count
        pending.removeAll()
        return isValid
    }

    /// Whether `bytes` are valid UTF-8 on their own (a row of a damaged file).
    public static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let result = scan(bytes[...])
        return result.invalid == 0 && result.tail == bytes.endIndex
    }

    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 1
        }
    }

    /// Scans `bytes`: invalid bytes (each skipped alone), valid multi-byte sequences, and the
    /// start of an incomplete sequence at the very end (`tail`, the end index when none).
    static func scan(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> (invalid: Int, multibyte: Int, tail: Int) {
        let base = bytes.base
        var i = bytes.startIndex
        let end = bytes.endIndex
        var invalid = 0
        var multibyte = 0
        while i < end {
            // ASCII fast path, eight bytes at a time; a word with a byte of 0x80 or more is left
            // at that byte (little-endian: its lowest high bit). Left at the word's start, the
            // bytes before it went one at a time, each trying the word again: the national
            // declarations have a U+202F between digit groups, a few per row.
            while i + 8 <= end {
                let word = UnsafeRawPointer(base.baseAddress! + i).loadUnaligned(as: UInt64.self)
                let high = UInt64(littleEndian: word) & 0x8080_8080_8080_8080
                if high != 0 {
                    i += high.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
            guard i < end else { break }
            let lead = base[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let length = sequenceLength(lead)
            if length == 1 {
                invalid += 1
                i += 1
                continue
            }
            if i + length > end {
                // Incomplete at the end: valid so far is for the next chunk to say.
                if Self.prefixIsValid(base, from: i, to: end, lead: lead) { return (invalid, multibyte, i) }
                invalid += 1
                i += 1
                continue
            }
            if prefixIsValid(base, from: i, to: i + length, lead: lead) {
                multibyte += 1
                i += length
            } else {
                invalid += 1
                i += 1
            }
        }
        return (invalid, multibyte, end)
    }

    /// Whether the bytes from `start` to `end` (at most one sequence) can begin a valid sequence.
    private static func prefixIsValid(_ base: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, lead: UInt8) -> Bool {
        guard start + 1 < end else { return true }
        let second = base[start + 1]
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xE0: lower = 0xA0
        case 0xED: upper = 0x9F
        case 0xF0: lower = 0x90
        case 0xF4: upper = 0x8F
        default: break
        }
        guard second >= lower, second <= upper else { return false }
        var k = start + 2
        while k < end {
            if base[k] & 0xC0 != 0x80 { return false }
            k += 1
        }
        return true
    }
}
