/// The text encoding of a CSV export: UTF-8, or else Windows-1252 (files labelled ISO-8859-1 are
/// Windows-1252 in practice: French exports hold `œ`, `€`, `’`).
public enum TextEncoding: String, Sendable {
    case utf8 = "UTF-8"
    /// UTF-8 but for a few rows holding invalid bytes: those rows are rejected, the others read
    /// as UTF-8 (rather than the whole file as Windows-1252).
    case utf8Damaged = "UTF-8 (lignes aux octets invalides)"
    case windows1252 = "Windows-1252"

    /// Decodes bytes of this encoding to a String.
    public func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        switch self {
        case .utf8, .utf8Damaged: return String(decoding: bytes, as: UTF8.self)
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

    /// The UTF-8 bytes of each byte's character packed in a word: the first in the low byte, the
    /// count (1 to 3) in the high byte.
    static let packedSequences: [UInt32] = scalars.map { scalar in
        let utf8 = String(Unicode.Scalar(scalar)!).utf8
        return utf8.enumerated().reduce(UInt32(utf8.count) << 24) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        // Written straight into the string's storage (a Windows-1252 character takes three
        // UTF-8 bytes at most): an intermediate array was an allocation and a copy per field.
        return packedSequences.withUnsafeBufferPointer { table in
            String(unsafeUninitializedCapacity: bytes.count * 3) { out in
                var n = 0
                for byte in bytes {
                    if byte < 0x80 {
                        out[n] = byte
                        n += 1
                        continue
                    }
                    let packed = table[Int(byte)]
                    for k in 0..<Int(packed >> 24) { out[n + k] = UInt8(truncatingIfNeeded: packed >> (8 * UInt32(k))) }
                    n += Int(packed >> 24)
                }
                return n
            }
        }
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


extension UInt8 {
    /// The byte upper-cased when it is an ASCII lower-case letter (`a`…`z`), else itself: codes
    /// read in any case from the fields' bytes, without a string.
    @inlinable
    public var asciiUppercased: UInt8 { self >= 0x61 && self <= 0x7A ? self - 0x20 : self }
}
