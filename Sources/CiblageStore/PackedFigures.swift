import CiblageModel
import GRDB

/// The fourteen figures of a declaration as one BLOB, the column `declaration.chiffres`.
///
/// The stages' largest write and read is the declarations: 931 000 rows at the national scale.
/// As fourteen columns, SQLite binds, checks the affinity of, encodes and decodes each figure on
/// its own; as one short BLOB, it copies bytes. Layout, shortest first:
/// - two bytes: which figures are present (bit *k* for the figure *k* of
///   ``DeclarationWriter/figureColumns``, low byte first);
/// - then each present figure, in that order:
///   - a count (places, jours d'ouverture, enfants): its zigzag LEB128 varint;
///   - an amount or hours: `2 × zigzag(c)` as a varint when the value is `c / 100` exactly
///     (`Double(c) / 100`, |c| < 2⁵⁰: euros and cents, hours, ETP to the hundredth); otherwise
///     the byte `01` then the value's 8 bytes (IEEE 754, little-endian), so any value comes
///     back bit for bit.
///
/// The same figures always give the same bytes (so `IS NOT` on two BLOBs tells a correction
/// apart from a re-delivery). `-0.0` is stored as `0`, as SQLite's `REAL` columns did. In SQL,
/// `chiffre(chiffres, k)` reads the figure *k* (the function every connection of ``Store``
/// has), and the view `declaration_chiffres` shows the fourteen columns.
public enum PackedFigures {
    /// Bytes a packed row takes at most.
    public static let maximumSize = 2 + 3 * 10 + 11 * 9

    /// Figures that are counts (the first three), the others being amounts or hours.
    static let countFigures = 3

    /// Packs `figures` at `out` (``maximumSize`` bytes at least); returns the bytes written.
    @inline(__always)
    public static func pack(_ figures: DeclarationFigures, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var mask: UInt16 = 0
        var n = 2
        @inline(__always) func varint(_ v: UInt64) {
            var v = v
            while v >= 0x80 {
                out[n] = UInt8(truncatingIfNeeded: v) | 0x80
                n += 1
                v >>= 7
            }
            out[n] = UInt8(v)
            n += 1
        }
        @inline(__always) func count(_ k: Int, _ value: Int?) {
            guard let value else { return }
            mask |= 1 << k
            varint(zigzag(Int64(value)))
        }
        @inline(__always) func amount(_ k: Int, _ value: Double?) {
            guard let value else { return }
            mask |= 1 << k
            if let cents = exactCents(value) {
                varint(zigzag(cents) << 1)
            } else {
                out[n] = 1
                var bits = value.bitPattern
                for i in 1...8 {
                    out[n + i] = UInt8(truncatingIfNeeded: bits)
                    bits >>= 8
                }
                n += 9
            }
        }
        count(0, figures.places)
        count(1, figures.joursOuverture)
        count(2, figures.nbEnfants)
        amount(3, figures.heuresOuverture)
        amount(4, figures.heuresRealisees)
        amount(5, figures.heuresFacturees)
        amount(6, figures.totalCharges)
        amount(7, figures.chargesPersonnel)
        amount(8, figures.totalProduits)
        amount(9, figures.participationsFamilles)
        amount(10, figures.prestationCaf)
        amount(11, figures.bonusCaf)
        amount(12, figures.subventionsCollectivites)
        amount(13, figures.etp)
        out[0] = UInt8(truncatingIfNeeded: mask)
        out[1] = UInt8(truncatingIfNeeded: mask >> 8)
        return n
    }

    /// `figures` packed, as bytes.
    public static func packed(_ figures: DeclarationFigures) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: maximumSize) { buffer, count in
            count = pack(figures, into: buffer.baseAddress!)
        }
    }

    /// The figures packed in `bytes`; `nil` when the bytes are not a packed row (cut short,
    /// longer than their figures, or an unknown presence bit).
    public static func unpack(_ bytes: UnsafeRawBufferPointer) -> DeclarationFigures? {
        var values = FigureValues()
        guard read(bytes, into: &values) else { return nil }
        var f = DeclarationFigures()
        f.places = values.count(0)
        f.joursOuverture = values.count(1)
        f.nbEnfants = values.count(2)
        f.heuresOuverture = values.amount(3)
        f.heuresRealisees = values.amount(4)
        f.heuresFacturees = values.amount(5)
        f.totalCharges = values.amount(6)
        f.chargesPersonnel = values.amount(7)
        f.totalProduits = values.amount(8)
        f.participationsFamilles = values.amount(9)
        f.prestationCaf = values.amount(10)
        f.bonusCaf = values.amount(11)
        f.subventionsCollectivites = values.amount(12)
        f.etp = values.amount(13)
        return f
    }

    /// One figure of a packed row, for SQL: an `Int`, a `Double` or `nil`; `.failure` when the
    /// bytes are not a packed row.
    static func figure(_ k: Int, of bytes: UnsafeRawBufferPointer) -> Result<DatabaseValue, PackedFiguresError> {
        var values = FigureValues()
        guard (0..<14).contains(k), read(bytes, into: &values) else { return .failure(PackedFiguresError()) }
        if k < countFigures { return .success(values.count(k)?.databaseValue ?? .null) }
        return .success(values.amount(k)?.databaseValue ?? .null)
    }

    /// The fourteen raw values of a row and which are present.
    struct FigureValues {
        var mask: UInt16 = 0
        var raw = (
            UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
            UInt64(0), UInt64(0), UInt64(0), UInt64(0)
        )

        @inline(__always) subscript(k: Int) -> UInt64 {
            get { withUnsafeBytes(of: raw) { $0.load(fromByteOffset: k * 8, as: UInt64.self) } }
            set { withUnsafeMutableBytes(of: &raw) { $0.storeBytes(of: newValue, toByteOffset: k * 8, as: UInt64.self) } }
        }

        @inline(__always) func count(_ k: Int) -> Int? {
            mask & (1 << k) == 0 ? nil : Int(unzigzag(self[k]))
        }

        @inline(__always) func amount(_ k: Int) -> Double? {
            mask & (1 << k) == 0 ? nil : Double(bitPattern: self[k])
        }
    }

    /// Reads `bytes` into `values` (amounts as their bit patterns); `false` for bytes that are
    /// not a packed row.
    @inline(__always)
    static func read(_ bytes: UnsafeRawBufferPointer, into values: inout FigureValues) -> Bool {
        let end = bytes.count
        guard end >= 2 else { return false }
        let mask = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        guard mask >> 14 == 0 else { return false }
        values.mask = mask
        var n = 2
        @inline(__always) func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while n < end {
                let b = bytes[n]
                n += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
                if shift > 63 { return nil }
            }
            return nil
        }
        for k in 0..<14 where mask & (1 << k) != 0 {
            if k < countFigures {
                guard let v = varint() else { return false }
                values[k] = v
            } else if n < end, bytes[n] == 1 {
                guard n + 9 <= end else { return false }
                var bits: UInt64 = 0
                for i in (1...8).reversed() { bits = bits << 8 | UInt64(bytes[n + i]) }
                n += 9
                values[k] = bits
            } else {
                guard let v = varint(), v & 1 == 0 else { return false }
                values[k] = (Double(unzigzag(v >> 1)) / 100).bitPattern
            }
        }
        return n == end
    }

    /// `value` in hundredths when `Double(c) / 100` gives it back exactly.
    @inline(__always)
    static func exactCents(_ value: Double) -> Int64? {
        let c = (value * 100).rounded()
        guard abs(c) < 0x1p50 else { return nil }
        let cents = Int64(c)
        return Double(cents) / 100 == value ? cents : nil
    }

    @inline(__always) static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    @inline(__always) static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

    /// The SQL function `chiffre(chiffres, k)`: the figure *k* (0 places … 13 ETP, the order of
    /// ``DeclarationWriter/figureColumns``) of a packed row, NULL when absent. Bytes that are not
    /// a packed row are an error that names the column.
    public static let sqlFunction = DatabaseFunction("chiffre", argumentCount: 2, pure: true) { arguments in
        guard let k = Int.fromDatabaseValue(arguments[1]) else { throw PackedFiguresError() }
        switch arguments[0].storage {
        case .null: return nil
        case .blob(let data):
            return try data.withUnsafeBytes { try figure(k, of: $0).get() }
        default: throw PackedFiguresError()
        }
    }
}

/// Bytes of `declaration.chiffres` that are not a packed row (a store edited by hand, or damaged
/// in a way SQLite's checks do not see).
public struct PackedFiguresError: Error, CustomStringConvertible {
    public var description: String { "chiffres illisibles dans la colonne « chiffres » d'une déclaration du store" }
}
