import CiblageModel
import Foundation

/// Writes CSV the way French Excel opens it with no import dialog: `;` separator, UTF-8 with
/// BOM, CRLF line ends, decimal comma, dates `dd/mm/yyyy`.
///
/// The file is an ``OutputFile``: written under a temporary name beside the target and renamed
/// into place by ``commit()`` (or by its ``OutputBatch``), so a reader never sees a half-written
/// file; a symbolic link is followed, a device or FIFO written directly. Dropping the writer
/// without committing leaves nothing.
///
/// Text cells that a spreadsheet would evaluate (beginning with `=`, `+`, `-`, `@`, a tab or a
/// carriage return, and not a number) are prefixed with `'`: a name such as
/// `=HYPERLINK(…)` coming from an upstream export is shown, never run.
public final class FrenchCSVWriter {
    public let url: URL
    private let file: OutputFile
    /// The row being formatted, handed to the file (which buffers) once complete.
    private var row: [UInt8] = []

    /// Opens `url` for writing on its own (its folder is created) and writes the BOM and the header.
    public convenience init(url: URL, header: [String]) throws {
        try self.init(file: OutputFile(url: url), header: header)
    }

    /// Opens `url` as one file of `batch`, renamed into place with the others by the batch.
    public convenience init(url: URL, header: [String], batch: OutputBatch) throws {
        try self.init(file: batch.file(url), header: header)
    }

    private init(file: OutputFile, header: [String]) throws {
        self.url = file.url
        self.file = file
        try file.write([0xEF, 0xBB, 0xBF])
        try writeRow(header)
    }

    /// Appends one row of already formatted cells (see ``FrenchFormat``).
    public func writeRow(_ cells: [String]) throws {
        row.removeAll(keepingCapacity: true)
        for (i, cell) in cells.enumerated() {
            if i > 0 { row.append(UInt8(ascii: ";")) }
            Self.appendQuoted(cell, to: &row)
        }
        row.append(0x0D)
        row.append(0x0A)
        try file.write(row)
    }

    /// Appends one row whose cells `build` appends to ``Cells``: numbers are formatted straight
    /// into the row's bytes, with no string per cell (the ranked list's 60 000 lines).
    public func writeRow(_ build: (inout Cells) throws -> Void) throws {
        var cells = Cells()
        swap(&cells.bytes, &row)
        defer { swap(&cells.bytes, &row) }
        cells.bytes.removeAll(keepingCapacity: true)
        try build(&cells)
        cells.bytes.append(0x0D)
        cells.bytes.append(0x0A)
        try file.write(cells.bytes)
    }

    /// The cells of one row, appended in order (see ``writeRow(_:)-(inout Cells)``).
    public struct Cells {
        fileprivate var bytes: [UInt8] = []
        private var count = 0

        private mutating func separate() {
            if count > 0 { bytes.append(UInt8(ascii: ";")) }
            count += 1
        }

        /// A text cell, quoted when it must be and guarded against formulas, as ``writeRow(_:)-([String])`` does.
        public mutating func text(_ cell: String) {
            separate()
            FrenchCSVWriter.appendQuoted(cell, to: &bytes)
        }

        /// An integer.
        public mutating func integer(_ value: Int) {
            separate()
            FrenchFormat.appendInteger(value, to: &bytes)
        }

        /// A decimal as ``FrenchFormat/decimal(_:fractionDigits:)`` formats it (empty for `nil`).
        public mutating func decimal(_ value: Double?, fractionDigits: Int = 2) {
            separate()
            FrenchFormat.appendDecimal(value, fractionDigits: fractionDigits, to: &bytes)
        }
    }

    /// Writes and syncs the whole file under its temporary name: after this only the rename
    /// is left, which a full disk cannot stop.
    public func finish() throws { try file.finish() }

    /// Syncs and renames the file into place.
    public func commit() throws { try file.commit() }

    /// Whether a spreadsheet would evaluate `cell` as a formula: it begins with `=`, `+`, `-`,
    /// `@`, a tab or a carriage return and is not a plain number (`-12,5` stays a number).
    static func looksLikeFormula(_ cell: Substring.UTF8View) -> Bool {
        guard let first = cell.first else { return false }
        switch first {
        case UInt8(ascii: "="), UInt8(ascii: "@"), 0x09, 0x0D: return true
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let rest = cell.dropFirst()
            guard let head = rest.first, (0x30...0x39).contains(head) else { return true }
            var separators = 0
            for byte in rest {
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: ".") {
                    separators += 1
                } else if !(0x30...0x39).contains(byte) {
                    return true
                }
            }
            return separators > 1 || rest.last == UInt8(ascii: ",") || rest.last == UInt8(ascii: ".")
        default: return false
        }
    }

    static func appendQuoted(_ cell: String, to buffer: inout [UInt8]) {
        if looksLikeFormula(cell[...].utf8) {
            appendQuoted("'" + cell, to: &buffer)
            return
        }
        // Over the string's own bytes (`withUTF8` makes them contiguous if they were not): the
        // ranked list's reasons are read and copied here for each of its 60 000 lines, and the
        // byte-by-byte walk of the UTF-8 view took some twenty instructions a character.
        var cell = cell
        cell.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == 0x3B || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
                buffer.append(contentsOf: bytes)
                return
            }
            buffer.append(0x22)
            for byte in bytes {
                if byte == 0x22 { buffer.append(0x22) }
                buffer.append(byte)
            }
            buffer.append(0x22)
        }
    }
}

/// Formatting of cells for French outputs.
public enum FrenchFormat {
    /// A decimal with a comma and at most `fractionDigits` digits, no thousands separator
    /// (so that Excel reads it as a number): `1234,5`. Trailing zeros are dropped.
    public static func decimal(_ value: Double?, fractionDigits: Int = 2) -> String {
        var bytes: [UInt8] = []
        appendDecimal(value, fractionDigits: fractionDigits, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``decimal(_:fractionDigits:)``'s text to `out` as UTF-8, without making a string.
    static func appendDecimal(_ value: Double?, fractionDigits: Int, to out: inout [UInt8]) {
        guard let value, value.isFinite else { return }
        guard let (units, divisor) = scaledUnits(value, fractionDigits: fractionDigits) else {
            // Beyond exact integers in a Double: the C library's digits (``fixedPoint``).
            let parts = fixedPoint(value, fractionDigits: fractionDigits)
            var fraction = parts.fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            out.append(contentsOf: (parts.sign + parts.integer + (fraction.isEmpty ? "" : "," + fraction)).utf8)
            return
        }
        if value < 0 && units > 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(units / divisor, width: 1, to: &out)
        // The fraction without its trailing zeros.
        var fraction = units % divisor
        var digits = fractionDigits
        while digits > 0 && fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        guard digits > 0 else { return }
        out.append(UInt8(ascii: ","))
        appendDigits(fraction, width: digits, to: &out)
    }

    /// Appends an integer's decimal digits.
    static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(UInt64(value.magnitude), width: 1, to: &out)
    }

    /// Appends the digits of `value`, left-padded with zeros to `width`.
    private static func appendDigits(_ value: UInt64, width: Int, to out: inout [UInt8]) {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(count, width)))
        var v = value
        var i = out.count - 1
        while v > 0 {
            out[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            i -= 1
        }
    }

    /// The digits of `value` rounded to `fractionDigits` (half away from zero): sign ("" or "-",
    /// never "-" for a value that rounds to 0), integer part and fraction, without
    /// `String(format:)`, which costs microseconds per call on a list of 60,000 lines.
    static func fixedPoint(_ value: Double, fractionDigits: Int) -> (sign: String, integer: String, fraction: String) {
        guard let (units, divisor) = scaledUnits(value, fractionDigits: fractionDigits) else {
            // Beyond exact integers in a Double: let the C library print it.
            let text = String(format: "%.\(fractionDigits)f", abs(value)).split(separator: ".")
            return (value < 0 ? "-" : "", String(text[0]), text.count > 1 ? String(text[1]) : "")
        }
        var fraction = String(units % divisor)
        if fractionDigits == 0 { fraction = "" }
        while fraction.count < fractionDigits { fraction = "0" + fraction }
        return (value < 0 && units > 0 ? "-" : "", String(units / divisor), fraction)
    }

    /// |`value`| rounded to `fractionDigits` (half away from zero) as a count of units of
    /// 10^−`fractionDigits`, with the count of units in one (`divisor`); `nil` beyond the exact
    /// integers of a Double (9 × 10¹⁵ units).
    private static func scaledUnits(_ value: Double, fractionDigits: Int) -> (units: UInt64, divisor: UInt64)? {
        var scale = 1.0
        for _ in 0..<fractionDigits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { return nil }
        return (UInt64(scaled), UInt64(scale))
    }

    public static func integer(_ value: Int?) -> String { value.map(String.init) ?? "" }

    /// `dd/mm/yyyy`.
    public static func date(_ value: CalendarDate?) -> String { value?.french ?? "" }
}

extension FrenchFormat {
    /// A count with its noun agreed, as French writes it: `0 fichier`, `1 fichier`,
    /// `2 fichiers` (singular below 2), the count grouped by thousands: `12 400 lignes`.
    public static func count(_ n: Int, _ singular: String, _ plural: String) -> String {
        "\(readable(Double(n))) \(abs(n) < 2 ? singular : plural)"
    }

    /// A number for reading in a sentence: thousands grouped by a space, decimal comma,
    /// exactly `fractionDigits` digits: `12 400`, `0,95`.
    public static func readable(_ value: Double, fractionDigits: Int = 0) -> String {
        var bytes: [UInt8] = []
        appendReadable(value, fractionDigits: fractionDigits, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A ratio as a percentage for reading: `124 %`; with `signed`, `+31 %` or `−30 %`.
    public static func percent(_ ratio: Double, signed: Bool = false) -> String {
        let value = (ratio * 100).rounded()
        var bytes: [UInt8] = []
        if signed && value > 0 { bytes.append(UInt8(ascii: "+")) }
        appendReadable(value, fractionDigits: 0, to: &bytes)
        bytes.append(contentsOf: " %".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Euros for reading: `12 400 €`.
    public static func euros(_ value: Double) -> String {
        var bytes: [UInt8] = []
        appendReadable(value.rounded(), fractionDigits: 0, to: &bytes)
        bytes.append(contentsOf: " €".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``readable(_:fractionDigits:)``'s text to `out` as UTF-8. Digit by digit, as
    /// ``appendDecimal(_:fractionDigits:to:)``: the reasons of the ranked list quote three or
    /// four figures on each of its 60 000 lines, and grouping the digits of a string three by
    /// three made and dropped a dozen strings per figure.
    static func appendReadable(_ value: Double, fractionDigits: Int, to out: inout [UInt8]) {
        guard value.isFinite else { return }
        guard let (units, divisor) = scaledUnits(value, fractionDigits: fractionDigits) else {
            // Beyond exact integers in a Double: the C library's digits (``fixedPoint``).
            let parts = fixedPoint(value, fractionDigits: fractionDigits)
            if !parts.sign.isEmpty { out.append(contentsOf: "−".utf8) }
            appendGrouped(parts.integer.utf8, to: &out)
            if !parts.fraction.isEmpty { out.append(contentsOf: ("," + parts.fraction).utf8) }
            return
        }
        if value < 0 && units > 0 { out.append(contentsOf: "−".utf8) }
        // The integer part's digits, on the stack (at most 20 for a UInt64).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var integer = units / divisor
            var first = digits.count
            repeat {
                first -= 1
                digits[first] = UInt8(ascii: "0") + UInt8(integer % 10)
                integer /= 10
            } while integer > 0
            appendGrouped(digits[first...], to: &out)
        }
        guard fractionDigits > 0 else { return }
        out.append(UInt8(ascii: ","))
        appendDigits(units % divisor, width: fractionDigits, to: &out)
    }

    /// Appends `digits` with a space before each group of three but the first.
    private static func appendGrouped(_ digits: some Collection<UInt8>, to out: inout [UInt8]) {
        let count = digits.count
        for (k, digit) in digits.enumerated() {
            if k > 0 && (count - k) % 3 == 0 { out.append(UInt8(ascii: " ")) }
            out.append(digit)
        }
    }
}
