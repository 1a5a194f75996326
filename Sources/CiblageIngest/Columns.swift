import CiblageModel

/// Where one row's fields come from, by column index of ``ExportColumns``: a CSV record through
/// its header map, or an XML element's collected values.
public protocol FieldSource {
    /// The raw bytes of the column (empty when absent or empty).
    func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8>
    /// The name to report for the column (CSV column or XML attribute/element).
    func fieldName(_ column: Int) -> String
    var encoding: TextEncoding { get }
}

/// Typed reading of one row's fields, each failure naming the field and saying why in French.
public struct FieldReader<Source: FieldSource> {
    public let source: Source

    public init(_ source: Source) { self.source = source }

    func reject(_ column: Int, _ reason: String) -> RowReject {
        RowReject(field: source.fieldName(column), reason: reason)
    }

    func shown(_ column: Int) -> String {
        let text = source.encoding.decode(FieldParsing.trimmed(source.bytes(column)))
        return "« \(text) »"
    }

    /// Trimmed text, `nil` when empty.
    public func text(_ column: Int, maxLength: Int? = nil) throws(RowReject) -> String? {
        let bytes = FieldParsing.trimmed(source.bytes(column))
        guard bytes.count > 0 else { return nil }
        let value = source.encoding.decode(bytes)
        if let maxLength, value.count > maxLength {
            throw reject(column, "trop long : \(value.count) caractères, \(maxLength) au plus")
        }
        return value
    }

    public func requiredText(_ column: Int, maxLength: Int? = nil) throws(RowReject) -> String {
        guard let value = try text(column, maxLength: maxLength) else { throw missing(column) }
        return value
    }

    public func missing(_ column: Int) -> RowReject { reject(column, "champ obligatoire vide") }

    /// Trimmed text upper-cased, as `requiredText(column).uppercased()`; ASCII (codes almost
    /// always are) is upper-cased byte by byte into the string, without the Unicode mapping.
    public func requiredUppercased(_ column: Int) throws(RowReject) -> String {
        let bytes = FieldParsing.trimmed(source.bytes(column))
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return try requiredText(column).uppercased() }
        guard bytes.count > 0 else { throw missing(column) }
        return String(unsafeUninitializedCapacity: bytes.count) { out in
            for (i, b) in bytes.enumerated() { out[i] = b.asciiUppercased }
            return bytes.count
        }
    }

    /// A code matched case-insensitively against `allowed` (upper-case codes); `unknown` says
    /// what is wrong in French, e.g. `origine inconnue`.
    public func code(_ column: Int, _ allowed: Set<String>, unknown: String) throws(RowReject) -> String {
        let value = try requiredUppercased(column)
        guard allowed.contains(value) else {
            let list = allowed.count <= 12 ? " (attendu : \(allowed.sorted().joined(separator: ", ")))" : ""
            throw reject(column, "\(unknown) : \(shown(column))\(list)")
        }
        return value
    }

    /// A decimal number ≥ `minimum`, `nil` when empty. `euros`: an amount, which may be followed
    /// by `€` (a spreadsheet's currency format: `1 200,00 €`).
    public func decimal(_ column: Int, minimum: Double = 0, euros: Bool = false) throws(RowReject) -> Double? {
        let value: Double?
        let bytes = source.bytes(column)
        do { value = try euros ? FieldParsing.euros(bytes) : FieldParsing.decimal(bytes) } catch {
            throw reject(column, "nombre attendu : \(shown(column))")
        }
        if let value, value < minimum {
            throw reject(column, minimum == 0 ? "valeur négative : \(shown(column))" : "valeur inférieure à \(minimum) : \(shown(column))")
        }
        return value
    }

    /// An integer within `range`, `nil` when empty.
    public func integer(_ column: Int, _ range: ClosedRange<Int>) throws(RowReject) -> Int? {
        let value: Int?
        do { value = try FieldParsing.integer(source.bytes(column)) } catch {
            throw reject(column, "nombre entier attendu : \(shown(column))")
        }
        if let value, !range.contains(value) {
            if value < 0 && range.lowerBound == 0 { throw reject(column, "valeur négative : \(shown(column))") }
            let upper = range.upperBound == Int.max ? "" : "\(range.upperBound)"
            throw reject(column, "hors des bornes [\(range.lowerBound) ; \(upper)] : \(shown(column))")
        }
        return value
    }

    public func requiredInteger(_ column: Int, _ range: ClosedRange<Int>) throws(RowReject) -> Int {
        guard let value = try integer(column, range) else { throw missing(column) }
        return value
    }

    /// A date, `nil` when empty.
    public func date(_ column: Int) throws(RowReject) -> CalendarDate? {
        do { return try FieldParsing.date(source.bytes(column)) } catch {
            throw reject(column, "date invalide : \(shown(column)) (attendu jj/mm/aaaa)")
        }
    }

    public func requiredDate(_ column: Int) throws(RowReject) -> CalendarDate {
        guard let value = try date(column) else { throw missing(column) }
        return value
    }

    public func boolean(_ column: Int) throws(RowReject) -> Bool {
        do { return try FieldParsing.boolean(source.bytes(column)) } catch {
            throw reject(column, "booléen attendu (O ou N) : \(shown(column))")
        }
    }
}
