import CiblageModel

/// Incremental UTF-8 validation, fed chunk by chunk (a sequence may straddle two chunks).
public struct UTF8Validator {
    private var pending: [UInt8] = []
    public private(set) var isValid = true

    public init() {}

    public mutating func feed(_ chunk: UnsafeRawBufferPointer) {
        guard isValid else { return }
        var bytes = chunk.bindMemory(to: UInt8.self)[...]
        if !pending.isEmpty {
            let need = Self.sequenceLength(pending[0]) - pending.count
            let take = min(need, bytes.count)
            pending.append(contentsOf: bytes.prefix(take))
            bytes = bytes.dropFirst(take)
            if pending.count < Self.sequenceLength(pending[0]) { return }
            isValid = pending.withUnsafeBufferPointer { Self.validate($0[...]).valid }
            pending.removeAll()
            guard isValid else { return }
        }
        let (valid, tail) = Self.validate(bytes)
        if !valid { isValid = false } else if tail < bytes.endIndex { pending = Array(bytes[tail...]) }
    }

    /// Call at end of input: a truncated final sequence is invalid.
    public mutating func finish() -> Bool {
        if !pending.isEmpty { isValid = false }
        return isValid
    }

    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 1
        }
    }

    /// Validates `bytes`; an incomplete sequence at the very end is returned as `tail`.
    static func validate(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> (valid: Bool, tail: Int) {
        let base = bytes.base
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            // ASCII fast path, eight bytes at a time.
            while i + 8 <= end {
                let word = UnsafeRawPointer(base.baseAddress! + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            guard i < end else { break }
            let lead = base[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let length = sequenceLength(lead)
            if length == 1 { return (false, i) }
            if i + length > end { return (true, i) }
            let second = base[i + 1]
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch lead {
            case 0xE0: lower = 0xA0
            case 0xED: upper = 0x9F
            case 0xF0: lower = 0x90
            case 0xF4: upper = 0x8F
            default: break
            }
            guard second >= lower, second <= upper else { return (false, i) }
            for k in 2..<length where base[i + k] & 0xC0 != 0x80 { return (false, i) }
            i += length
        }
        return (true, end)
    }
}
