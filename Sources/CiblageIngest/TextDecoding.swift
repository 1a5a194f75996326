/// The text encoding of a CSV export: UTF-8, or else Windows-1252 (files labelled ISO-8859-1 are
/// Windows-1252 in practice: French exports hold `œ`, `€`, `’`).
public enum TextEncoding: String, Sendable {
    case utf8 = "UTF-8"
    case windows1252 = "Windows-1252"

    /// Decodes bytes of this encoding to a String.
    public func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        switch self {
        case .utf8: return String(decoding: bytes, as: UTF8.self)
        case .windows1252: return Windows1252.decode(bytes)
        }
    }
}

/// Windows-1252 to UTF-8 through a 256-entry table, with an ASCII fast path.
public enum Windows1252 {
    /// Unicode scalar of each byte. The five bytes Windows-1252 leaves undefined (0x81, 0x8D,
    /// 0x8F, 0x90, 0x9D) map to the C1 controls of the same value, as browsers do.
    static let scalars: [UInt32] = {
        var table = (0..<256).map { UInt32($0) }
        let high: [UInt32] = [
            0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
            0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
            0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
        ]
        for (i, scalar) in high.enumerated() { table[0x80 + i] = scalar }
        return table
    }()

    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(Unicode.Scalar(Self.scalars[Int(byte)])!) }
        return String(scalars)
    }

    /// Encodes a String to Windows-1252 (characters it lacks become `?`), for generators.
    public static func encode(_ text: String) -> [UInt8] {
        var reverse: [UInt32: UInt8] = [:]
        for (byte, scalar) in scalars.enumerated() where byte >= 0x80 { reverse[scalar] = UInt8(byte) }
        return text.unicodeScalars.map { scalar in
            scalar.value < 0x80 ? UInt8(scalar.value) : reverse[scalar.value] ?? UInt8(ascii: "?")
        }
    }
}

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
