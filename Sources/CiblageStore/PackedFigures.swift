import CPackedFigures
import CiblageModel
import GRDB

/// The fourteen figures of a declaration as one BLOB, the column `declaration.chiffres`.
///
/// The stages' largest write and read is the declarations: 931 000 rows at the national scale.
/// As fourteen columns, SQLite binds, checks the affinity of, encodes and decodes each figure on
/// its own; as one short BLOB, it copies bytes (41 bytes a row on average). The layout is
/// written once, in C (`Sources/CPackedFigures/include/packed_figures.h`), for the stages and
/// for the SQLite extension `libciblagechiffres` that lets `sqlite3` read it: two bytes of
/// presence, then each figure as a varint, amounts and hours in cents when the value is
/// exactly a number of cents, otherwise the double's 8 bytes, so that any value comes back bit
/// for bit.
///
/// The same figures always give the same bytes (so `IS NOT` on two BLOBs tells a correction
/// apart from a re-delivery). `-0.0` is stored as `0`, as SQLite's `REAL` columns did. In SQL,
/// `chiffre(chiffres, k)` reads the figure *k* (the function every connection of ``Store``
/// has), and the view `declaration_chiffres` shows the fourteen columns.
public enum PackedFigures {
    /// Bytes a packed row takes at most.
    public static let maximumSize = Int(CIBLAGE_PACKED_MAXIMUM)

    /// Packs `figures` at `out` (``maximumSize`` bytes at least); returns the bytes written.
    @inline(__always)
    public static func pack(_ figures: DeclarationFigures, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var present: UInt16 = 0
        func count(_ k: Int, _ value: Int?) -> Int64 {
            guard let value else { return 0 }
            present |= 1 << k
            return Int64(value)
        }
        func amount(_ k: Int, _ value: Double?) -> Double {
            guard let value else { return 0 }
            present |= 1 << k
            return value
        }
        let counts = (count(0, figures.places), count(1, figures.joursOuverture), count(2, figures.nbEnfants))
        let amounts = (
            amount(3, figures.heuresOuverture), amount(4, figures.heuresRealisees), amount(5, figures.heuresFacturees),
            amount(6, figures.totalCharges), amount(7, figures.chargesPersonnel), amount(8, figures.totalProduits),
            amount(9, figures.participationsFamilles), amount(10, figures.prestationCaf), amount(11, figures.bonusCaf),
            amount(12, figures.subventionsCollectivites), amount(13, figures.etp)
        )
        var c = ciblage_figures(present: present, counts: counts, amounts: amounts)
        return ciblage_pack_figures(&c, out)
    }

    /// `figures` packed, as bytes.
    public static func packed(_ figures: DeclarationFigures) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: maximumSize) { buffer, count in
            count = pack(figures, into: buffer.baseAddress!)
        }
    }

    /// The figures packed in `bytes`; `nil` when the bytes are not a packed row (cut short,
    /// longer than their figures, or an unknown presence bit).
    @inline(__always)
    public static func unpack(_ bytes: UnsafeRawBufferPointer) -> DeclarationFigures? {
        var c = ciblage_figures()
        guard ciblage_unpack_figures(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &c) != 0 else {
            return nil
        }
        func count(_ k: Int, _ value: Int64) -> Int? { c.present & (1 << k) == 0 ? nil : Int(value) }
        func amount(_ k: Int, _ value: Double) -> Double? { c.present & (1 << k) == 0 ? nil : value }
        var f = DeclarationFigures()
        f.places = count(0, c.counts.0)
        f.joursOuverture = count(1, c.counts.1)
        f.nbEnfants = count(2, c.counts.2)
        f.heuresOuverture = amount(3, c.amounts.0)
        f.heuresRealisees = amount(4, c.amounts.1)
        f.heuresFacturees = amount(5, c.amounts.2)
        f.totalCharges = amount(6, c.amounts.3)
        f.chargesPersonnel = amount(7, c.amounts.4)
        f.totalProduits = amount(8, c.amounts.5)
        f.participationsFamilles = amount(9, c.amounts.6)
        f.prestationCaf = amount(10, c.amounts.7)
        f.bonusCaf = amount(11, c.amounts.8)
        f.subventionsCollectivites = amount(12, c.amounts.9)
        f.etp = amount(13, c.amounts.10)
        return f
    }

    /// The SQL function `chiffre(chiffres, k)`: the figure *k* (0 places … 13 ETP, the order of
    /// ``DeclarationWriter/figureColumns``) of a packed row, NULL when absent. Bytes that are not
    /// a packed row are an error. The extension `libciblagechiffres` gives `sqlite3` the same.
    public static let sqlFunction = DatabaseFunction("chiffre", argumentCount: 2, pure: true) { arguments in
        guard case .blob(let data) = arguments[0].storage, let k = Int64.fromDatabaseValue(arguments[1]) else {
            if arguments[0].isNull { return nil }
            throw PackedFiguresError()
        }
        var count: Int64 = 0
        var amount = 0.0
        let kind = data.withUnsafeBytes { bytes in
            ciblage_packed_figure(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, k, &count, &amount)
        }
        switch kind {
        case CIBLAGE_FIGURE_ABSENT: return nil
        case CIBLAGE_FIGURE_COUNT: return count
        case CIBLAGE_FIGURE_AMOUNT: return amount
        default: throw PackedFiguresError()
        }
    }
}

/// Bytes of `declaration.chiffres` that are not a packed row (a store edited by hand, or damaged
/// in a way SQLite's checks do not see).
public struct PackedFiguresError: Error, CustomStringConvertible {
    public var description: String { "chiffres illisibles dans la colonne « chiffres » d'une déclaration du store" }
}
