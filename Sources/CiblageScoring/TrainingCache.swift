import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// The labelled examples of closed exercices, kept in the store (`exemple_entrainement`) so that
/// a nightly score reads them instead of computing every exercice's features again.
///
/// The examples of exercice N are the controls labelled N (``RiskScoring/inputs(_:exercice:asOf:referentiel:cacheStamp:)``)
/// with the equipment's features at the end of N. They depend on the declarations of N-2…N, the
/// registry (profiles and peer groups), the controls dated before 1 January N+1 and those
/// labelled N, the référentiel and the feature set. Their ``signature(_:exercice:registry:controls:referentiel:)``
/// names all of these; a stored exercice whose signature differs is computed again and replaced.
public enum TrainingCache {
    /// Bump when the features or the way they are computed change: every stored example is then
    /// computed again.
    public static let featureSetVersion = "caracteristiques-1"

    /// The signature of everything the examples of `exercice` are computed from.
    ///
    /// Declarations enter through the last file that stored or corrected a row of N-2…N
    /// (`fichier_exercice`: file ids only grow); the registry (`registry`:
    /// ``registryDigest(_:)``, made once for every exercice), the controls and the référentiel
    /// through a digest of what the features read of them.
    public static func signature(
        _ db: Database, exercice: Int, registry: String, controls: [StoredControl], referentiel: Referentiel
    ) throws -> String {
        let lastFile = try lastDeclarationsFile(db, exercice: exercice)
        return [
            featureSetVersion, Feature.allCases.map(\.code).joined(separator: ","), "declarations:\(lastFile)",
            "registre:\(registry)", "controles:\(controlDigest(controls, exercice: exercice))",
            "referentiel:\(referentielDigest(referentiel))",
        ].joined(separator: ";")
    }

    /// The last file that stored or corrected a declaration of N-2…N (`fichier_exercice`: file
    /// ids only grow), 0 when none did.
    public static func lastDeclarationsFile(_ db: Database, exercice: Int) throws -> Int64 {
        try Int64.fetchOne(
            db, sql: "SELECT max(fichier_id) FROM fichier_exercice WHERE exercice BETWEEN ? AND ?",
            arguments: [exercice - 2, exercice]) ?? 0
    }

    /// The stored examples of `exercice` when their signature is `signature`, in training order;
    /// `nil` when none are stored or they were computed from other inputs.
    public static func load(_ db: Database, exercice: Int, signature: String) throws -> [TrainingExample]? {
        guard try holds(db, exercice: exercice, signature: signature) else { return nil }
        let count = Feature.allCases.count
        var examples: [TrainingExample] = []
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT equipement_id, date_controle, origine, type_controle, positif, indu, enjeu, nature, regles, valeurs
                FROM exemple_entrainement WHERE exercice = ? ORDER BY rang
                """, arguments: [exercice])
        while let row = try rows.next() {
            guard let date = CalendarDate(yyyymmdd: row[1]), let origine = OrigineControle(rawValue: row[2]),
                let type = TypeControle(rawValue: row[3]), let blob = row[9] as Data?, blob.count == count * 8
            else { return nil }
            examples.append(
                TrainingExample(
                    exercice: exercice, equipementId: row[0], values: decode(blob, count: count), positive: row[4], indu: row[5],
                    enjeu: row[6], origine: origine, type: type, date: date, nature: row[7], rules: row[8]))
        }
        return examples
    }

    /// Whether the examples stored for `exercice` were computed from inputs of this signature.
    public static func holds(_ db: Database, exercice: Int, signature: String) throws -> Bool {
        try String.fetchOne(db, sql: "SELECT signature FROM exemple_exercice WHERE exercice = ?", arguments: [exercice]) == signature
    }

    /// Forgets the examples stored for `exercice`: the next run computes them again.
    public static func forget(_ db: Database, exercice: Int) throws {
        try db.execute(sql: "DELETE FROM exemple_exercice WHERE exercice = ?", arguments: [exercice])
    }

    /// Replaces the stored examples of `exercice` (call inside the stage's transaction).
    public static func save(_ db: Database, exercice: Int, signature: String, _ examples: [TrainingExample], computedAt: String) throws {
        try db.execute(sql: "DELETE FROM exemple_exercice WHERE exercice = ?", arguments: [exercice])
        try db.execute(sql: "DELETE FROM exemple_entrainement WHERE exercice = ?", arguments: [exercice])
        try db.execute(
            sql: "INSERT INTO exemple_exercice (exercice, signature, exemples, calcule_le) VALUES (?, ?, ?, ?)",
            arguments: [exercice, signature, examples.count, computedAt])
        // Bound value by value, 128 rows a statement: with GRDB's arguments (a box per value, a
        // `Data` per row), the first national score spent 35 ms here on its single busy core.
        let batch = BatchInsert<(rank: Int, example: TrainingExample)>(db, head: "INSERT INTO exemple_entrainement", columns: 12) {
            s, o, row in
            let e = row.example
            s.bind(o + 1, Int64(exercice))
            s.bind(o + 2, Int64(row.rank))
            s.bind(o + 3, e.equipementId)
            s.bind(o + 4, Int64(e.date.yyyymmdd))
            s.bind(o + 5, e.origine.rawValue)
            s.bind(o + 6, e.type.rawValue)
            s.bind(o + 7, e.positive)
            s.bind(o + 8, e.indu)
            s.bind(o + 9, e.enjeu)
            s.bind(o + 10, e.nature)
            s.bind(o + 11, e.rules)
            withEncoded(e.values) { s.bind(o + 12, bytes: $0) }
        }
        for (rank, e) in examples.enumerated() { try batch.append((rank, e)) }
        try batch.flush()
    }

    // MARK: Encoding

    /// The bits stored for a missing value: a NaN no computation produces.
    static let missing: UInt64 = 0x7FF8_0000_C1B1_A6E0

    /// Calls `body` with `values` encoded (8 bytes each, little-endian, ``missing`` for a
    /// missing value), in a buffer that lives for the call only.
    static func withEncoded<R>(_ values: [Double?], _ body: (UnsafeRawBufferPointer) -> R) -> R {
        // Written in place: `Data.append` of 8 bytes at a time cost some 800 instructions a value.
        withUnsafeTemporaryAllocation(byteCount: max(values.count * 8, 1), alignment: 8) { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: (v?.bitPattern ?? missing).littleEndian, toByteOffset: i * 8, as: UInt64.self)
            }
            return body(UnsafeRawBufferPointer(rebasing: raw[..<(values.count * 8)]))
        }
    }

    static func decode(_ data: Data, count: Int) -> [Double?] {
        data.withUnsafeBytes { raw in
            (0..<count).map { i -> Double? in
                let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
                return bits == missing ? nil : Double(bitPattern: bits)
            }
        }
    }

    // MARK: Digests

    /// A digest of every profile field the features read.
    public static func registryDigest(_ profiles: [EquipmentProfile]) -> String {
        var h = StableHasher()
        for p in profiles {
            h.combine(p.id)
            h.combine(p.nDossier)
            h.combine(p.nature)
            h.combine(p.sirenGestionnaire)
            h.combine(p.statut)
            h.combine(p.caf)
            h.combine(p.qpv ? 1 : 0)
            h.combine(p.zrr ? 1 : 0)
            h.combine(p.placesAgreees ?? -1)
            h.combine(p.ouverture)
            h.combine(p.fermeture ?? -1)
        }
        return h.hex
    }

    /// The controls the examples of `exercice` read: the history (dated before 1 January N+1)
    /// and the labels (controls whose last exercice covered before their year is N).
    static func controlDigest(_ controls: [StoredControl], exercice: Int) -> String {
        let end = IndicatorStore.defaultAsOf(exercice)
        return digest(controls.lazy.filter { c in c.date < end || c.exercices.last(where: { $0 < c.date.year }) == exercice })
    }

    /// A digest of every field of `controls`, in their order.
    static func digest(_ controls: some Sequence<StoredControl>) -> String {
        var h = StableHasher()
        for c in controls {
            h.combine(c.equipementId)
            h.combine(c.date.yyyymmdd)
            for e in c.exercices { h.combine(e) }
            h.combine(c.origine.rawValue)
            h.combine(c.type.rawValue)
            h.combine(c.anomalie ? 1 : 0)
            h.combine(Int64(bitPattern: c.indu.bitPattern))
        }
        return h.hex
    }

    static func referentielDigest(_ referentiel: Referentiel) -> String {
        var h = StableHasher()
        for code in referentiel.natures.keys.sorted() {
            let n = referentiel.natures[code]!
            h.combine(code)
            h.combine(n.psu ? 1 : 0)
            h.combine(n.activiteHoraire ? 1 : 0)
        }
        for band in referentiel.sizeBands {
            h.combine(band.code)
            h.combine(band.min)
            h.combine(band.max ?? -1)
        }
        return h.hex
    }
}

/// FNV-1a, 64 bits: a digest that stays the same from one run (and one machine) to the next,
/// unlike Swift's `Hasher`.
struct StableHasher {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func combine(bytes: some Sequence<UInt8>) {
        for b in bytes { combine(byte: b) }
    }

    mutating func combine(byte: UInt8) {
        value ^= UInt64(byte)
        value = value &* 0x0000_0100_0000_01B3
    }

    /// The string's UTF-8 bytes, then 0xFF (a byte no UTF-8 text holds). Read from the string's
    /// contiguous storage, with the end mark added alone: through `utf8` and an array literal, the
    /// registry's digest (five strings per equipment) was about 1 % of a first score, on the one
    /// core the stage starts on.
    mutating func combine(_ string: String) {
        var string = string
        string.withUTF8 { combine(bytes: $0) }
        combine(byte: 0xFF)
    }

    mutating func combine(_ int: Int) { combine(Int64(int)) }

    mutating func combine(_ int: Int64) {
        var v = int.littleEndian
        withUnsafeBytes(of: &v) { combine(bytes: $0) }
    }

    var hex: String { String(value, radix: 16) }
}
