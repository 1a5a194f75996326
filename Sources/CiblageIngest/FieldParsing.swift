import CiblageModel

/// Why one field could not be read. The ingestion turns it into a French reject reason.
public enum FieldProblem: Error, Equatable, Sendable {
    case notANumber
    case notAnInteger
    case notADate
    case notABoolean
}

/// Parsing of field values straight from bytes, French conventions: decimal comma (dot also
/// accepted), thousands grouped by a space, U+00A0 or U+202F, spaces around the value ignored,
/// dates `dd/mm/yyyy` or `yyyy-mm-dd`. Empty (after trimming) means missing: `nil`.
public enum FieldParsing {
    /// Whether `byte` is a space, a tab or a line end (CR, LF): what a blank line, a blank file or
    /// XML's blank text is made of.
    @inline(__always)
    public static func isASCIIBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }

    /// Bytes with blanks (space, tab, U+00A0 in UTF-8 or Windows-1252, U+202F) removed at both ends.
    public static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return bytes }
        // Most fields start and end with a printable ASCII byte: no blank at either end.
        if base[0] &- 0x21 < 0x5F && base[bytes.count - 1] &- 0x21 < 0x5F { return bytes }
        var start = 0
        var end = bytes.count
        while start < end {
            let n = blankLength(base, start, end)
            if n == 0 { break }
            start += n
        }
        while end > start {
            let b = base[end - 1]
            if b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A {
                end -= 1
            } else if b == 0xA0 && end - 2 >= start && base[end - 2] == 0xC2 {
                end -= 2
            } else if b == 0xA0 {
                end -= 1
            } else if b == 0xAF && end - 3 >= start && base[end - 3] == 0xE2 && base[end - 2] == 0x80 {
                end -= 3
            } else {
                break
            }
        }
        return UnsafeBufferPointer(start: base + start, count: end - start)
    }

    /// Length of the blank (space, tab, NBSP, NNBSP) starting at `i`, 0 when none.
    static func blankLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let b = p[i]
        if b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A || b == 0xA0 { return 1 }
        if b == 0xC2 && i + 1 < end && p[i + 1] == 0xA0 { return 2 }
        if b == 0xE2 && i + 2 < end && p[i + 1] == 0x80 && p[i + 2] == 0xAF { return 3 }
        return 0
    }

    /// 10^`n` for a number's scale (at most 18 digits, one of them before the comma: `n` ≤ 17),
    /// exact. A literal per case rather than a `static let` table: the table's lazy
    /// initialisation check (`swift_once`) ran for every amount, 0.7 % of a national ingest.
    @inline(__always)
    static func powerOfTen(_ n: Int) -> Double {
        switch n {
        case 0: 1
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        default: 1e18
        }
    }

    /// A decimal number, or `nil` when the field is empty.
    public static func decimal(_ raw: UnsafeBufferPointer<UInt8>) throws(FieldProblem) -> Double? {
        try number(trimmed(raw))
    }

    /// An amount in euros: a decimal number, which may be followed by the euro sign (`1 200,00 €`:
    /// what a spreadsheet writes for a cell in a currency format), in UTF-8 (E2 82 AC) or
    /// Windows-1252 (80); `nil` when the field is empty.
    public static func euros(_ raw: UnsafeBufferPointer<UInt8>) throws(FieldProblem) -> Double? {
        // Most amounts end with a digit: no sign to look for.
        if let end = raw.last, end &- UInt8(ascii: "0") < 10 { return try number(trimmed(raw)) }
        let t = trimmed(raw)
        guard let p = t.baseAddress, let last = t.last, last == 0xAC || last == 0x80 else { return try number(t) }
        let n = t.count
        if last == 0xAC && n >= 3 && p[n - 3] == 0xE2 && p[n - 2] == 0x82 {
            return try number(trimmed(UnsafeBufferPointer(start: p, count: n - 3)))
        }
        return last == 0x80 ? try number(trimmed(UnsafeBufferPointer(start: p, count: n - 1))) : try number(t)
    }

    /// The number written in `bytes` (already trimmed), `nil` when empty.
    @inline(__always)
    static func number(_ bytes: UnsafeBufferPointer<UInt8>) throws(FieldProblem) -> Double? {
        guard let n = try scanNumber(bytes) else { return nil }
        let value = Double(n.mantissa) / powerOfTen(n.scale)
        return n.negative ? -value : value
    }

    /// An integer (a zero fraction, `30,0`, is accepted), or `nil` when the field is empty.
    public static func integer(_ raw: UnsafeBufferPointer<UInt8>) throws(FieldProblem) -> Int? {
        guard let n = try scanNumber(trimmed(raw)) else { return nil }
        var mantissa = n.mantissa
        for _ in 0..<n.scale {
            guard mantissa % 10 == 0 else { throw .notAnInteger }
            mantissa /= 10
        }
        return n.negative ? -Int(mantissa) : Int(mantissa)
    }

    public struct ScannedNumber {
        public var negative: Bool
        public var mantissa: Int64
        public var scale: Int
    }

    /// Sign, digits grouped by thousands, one decimal separator (`,` or `.`), digits.
    public static func scanNumber(_ bytes: UnsafeBufferPointer<UInt8>) throws(FieldProblem) -> ScannedNumber? {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return nil }
        let end = bytes.count
        if let plain = plainNumber(p, end) ?? thousandsNumber(p, end) { return plain }
        return try groupedNumber(p, end)
    }

    /// The common grouped case, in one pass: one to three digits, then groups of three each
    /// after one blank (`80 112`, `1 234 567,5`: Windows-1252's A0, UTF-8's U+00A0 or U+202F, a
    /// space), then a decimal separator and digits if any, 18 digits at most; `nil` for anything
    /// else, which ``groupedNumber(_:_:)`` reads or refuses. Amounts of a thousand euros or more
    /// are written so in half the exports: ``groupedNumber(_:_:)``, with every rule checked at
    /// every byte, took 2.4 to 2.7 % of a national ingest's processor time.
    @inline(__always)
    static func thousandsNumber(_ p: UnsafePointer<UInt8>, _ end: Int) -> ScannedNumber? {
        var mantissa: Int64 = 0
        var i = 0
        while i < end && i < 4 {
            let d = p[i] &- 0x30
            guard d < 10 else { break }
            mantissa = mantissa &* 10 &+ Int64(d)
            i += 1
        }
        guard i > 0, i <= 3, i < end else { return nil }
        var digits = i
        while i < end {
            let blank = blankLength(p, i, end)
            guard blank > 0 else { break }
            i += blank
            guard i + 3 <= end, digits + 3 <= 18 else { return nil }
            let d0 = p[i] &- 0x30
            let d1 = p[i + 1] &- 0x30
            let d2 = p[i + 2] &- 0x30
            guard d0 < 10, d1 < 10, d2 < 10 else { return nil }
            mantissa = mantissa &* 1000 &+ Int64(d0) &* 100 &+ Int64(d1) &* 10 &+ Int64(d2)
            digits += 3
            i += 3
        }
        // At least one group (the first has three digits at most): without, the digits were a
        // plain number's, or something else.
        guard digits > 3 else { return nil }
        return fraction(p, from: i, end, mantissa: mantissa, integerDigits: digits)
    }

    /// The rest of a number without sign whose `integerDigits` integer digits, read into
    /// `mantissa`, end at `start`: nothing, or a decimal separator and digits, 18 digits in all;
    /// `nil` for anything else.
    @inline(__always)
    static func fraction(_ p: UnsafePointer<UInt8>, from start: Int, _ end: Int, mantissa: Int64, integerDigits: Int) -> ScannedNumber? {
        var i = start
        var mantissa = mantissa
        if i == end { return ScannedNumber(negative: false, mantissa: mantissa, scale: 0) }
        guard p[i] == UInt8(ascii: ",") || p[i] == UInt8(ascii: ".") else { return nil }
        i += 1
        let fractionStart = i
        while i < end {
            let d = p[i] &- 0x30
            guard d < 10 else { return nil }
            mantissa = mantissa &* 10 &+ Int64(d)
            i += 1
        }
        let scale = end - fractionStart
        guard scale > 0, integerDigits + scale <= 18 else { return nil }
        return ScannedNumber(negative: false, mantissa: mantissa, scale: scale)
    }

    /// The common case, in one pass without the grouping rules: digits, then a decimal separator
    /// and digits, 18 digits at most, nothing else; `nil` for anything else (a sign, a blank,
    /// more digits), which ``groupedNumber(_:_:)`` reads or refuses.
    @inline(__always)
    static func plainNumber(_ p: UnsafePointer<UInt8>, _ end: Int) -> ScannedNumber? {
        guard end <= 19 else { return nil }
        var mantissa: Int64 = 0
        var i = 0
        while i < end {
            let d = p[i] &- 0x30
            guard d < 10 else { break }
            mantissa = mantissa &* 10 &+ Int64(d)
            i += 1
        }
        guard i > 0, i <= 18 else { return nil }
        return fraction(p, from: i, end, mantissa: mantissa, integerDigits: i)
    }

    /// ``scanNumber(_:)`` with every rule: a sign, thousands grouped by blanks.
    static func groupedNumber(_ p: UnsafePointer<UInt8>, _ end: Int) throws(FieldProblem) -> ScannedNumber? {
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "-") || p[0] == UInt8(ascii: "+") {
            negative = p[0] == UInt8(ascii: "-")
            i = 1
        }
        var mantissa: Int64 = 0
        var digits = 0
        var groupDigits = 0
        var grouped = false
        var scale = 0
        var inFraction = false
        while i < end {
            let b = p[i]
            if b >= 0x30 && b <= 0x39 {
                guard digits < 18 else { throw .notANumber }
                // Below 10¹⁸ after 18 digits: no overflow to check.
                mantissa = mantissa &* 10 &+ Int64(b &- 0x30)
                digits += 1
                if inFraction { scale += 1 } else { groupDigits += 1 }
                i += 1
            } else if b == UInt8(ascii: ",") || b == UInt8(ascii: ".") {
                guard !inFraction, digits > 0, !grouped || groupDigits == 3 else { throw .notANumber }
                inFraction = true
                i += 1
            } else {
                let blank = blankLength(p, i, end)
                // A thousands separator stands between digit groups of the integer part.
                guard blank > 0, !inFraction, groupDigits > 0, !grouped || groupDigits == 3,
                    grouped || groupDigits <= 3
                else { throw .notANumber }
                grouped = true
                groupDigits = 0
                i += blank
            }
        }
        guard digits > 0, !grouped || inFraction || groupDigits == 3 else { throw .notANumber }
        if inFraction && scale == 0 { throw .notANumber }
        return ScannedNumber(negative: negative, mantissa: mantissa, scale: scale)
    }

    /// A date `dd/mm/yyyy` (day and month may have one digit) or `yyyy-mm-dd`, or `nil` when empty.
    public static func date(_ raw: UnsafeBufferPointer<UInt8>) throws(FieldProblem) -> CalendarDate? {
        let bytes = trimmed(raw)
        guard bytes.count > 0 else { return nil }
        // Three numbers at most, held in place: arrays cost four allocations a row, 5 % of the
        // national ingest's processor time.
        var parts: (Int, Int, Int) = (0, 0, 0)
        var widths: (Int, Int, Int) = (0, 0, 0)
        var count = 0
        var value = 0
        var width = 0
        var separator: UInt8 = 0
        func close() throws(FieldProblem) {
            switch count {
            case 0: (parts.0, widths.0) = (value, width)
            case 1: (parts.1, widths.1) = (value, width)
            case 2: (parts.2, widths.2) = (value, width)
            default: throw .notADate
            }
            count += 1
        }
        for b in bytes {
            if b >= 0x30 && b <= 0x39 {
                value = value * 10 + Int(b - 0x30)
                width += 1
                guard width <= 4 else { throw .notADate }
            } else if b == UInt8(ascii: "/") || b == UInt8(ascii: "-") {
                guard width > 0, separator == 0 || separator == b else { throw .notADate }
                separator = b
                try close()
                value = 0
                width = 0
            } else {
                throw .notADate
            }
        }
        guard width > 0 else { throw .notADate }
        try close()
        guard count == 3 else { throw .notADate }
        let date: CalendarDate?
        if separator == UInt8(ascii: "/") {
            guard widths.0 <= 2, widths.1 <= 2, widths.2 == 4 else { throw .notADate }
            date = CalendarDate(year: parts.2, month: parts.1, day: parts.0)
        } else {
            guard widths.0 == 4, widths.1 == 2, widths.2 == 2 else { throw .notADate }
            date = CalendarDate(year: parts.0, month: parts.1, day: parts.2)
        }
        guard let date else { throw .notADate }
        return date
    }

    /// `O`/`N`, `OUI`/`NON`, `1`/`0`, any case; empty is `false`.
    public static func boolean(_ raw: UnsafeBufferPointer<UInt8>) throws(FieldProblem) -> Bool {
        let bytes = trimmed(raw)
        // The words allowed are ASCII of three letters at most: their upper-cased bytes and
        // their length, packed in a word, name them (no string per field: three booleans a
        // registry row).
        guard bytes.count <= 3 else { throw .notABoolean }
        var word = UInt32(bytes.count) << 24
        for (i, b) in bytes.enumerated() {
            guard b < 0x80 else { throw .notABoolean }
            word |= UInt32(b.asciiUppercased) << (8 * UInt32(i))
        }
        switch word {
        // "", "N", "NON", "0"
        case 0, 0x0100_004E, 0x034E_4F4E, 0x0100_0030: return false
        // "O", "OUI", "1"
        case 0x0100_004F, 0x0349_554F, 0x0100_0031: return true
        default: throw .notABoolean
        }
    }
}
