import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

final class PackedFiguresTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("packed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A declarations file (id 1) and the equipment 7 it was read against, for rows written by hand.
    static func insertEquipment7(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO fichier (id, nom, chemin, sha256, type_fichier, format, encodage, octets, ingere_le)
                VALUES (1, 'd.csv', '/d.csv', 'x', 'DECLARATIONS', 'CSV', 'UTF-8', 1, '2026-12-04');
                INSERT INTO equipement (id, n_dossier, nom, nature, siret, siren_gestionnaire, nom_gestionnaire,
                    statut_gestionnaire, departement_siege, caf, commune, date_ouverture, qpv, zrr, ctg, fichier_id, ligne)
                VALUES (7, '75-0007', 'Crèche', 'EAJE_COLLECTIF', '', '', '', '', '75', '75', '75056', 20100101, 0, 0, 0, 1, 2);
                """)
    }

    /// Figures with every value the parsers can give: none, zero, cents, more decimals than
    /// cents, the largest and smallest doubles, negative values, the extreme counts.
    static func awkwardFigures() -> [DeclarationFigures] {
        var list: [DeclarationFigures] = [DeclarationFigures()]
        let amounts: [Double] = [
            0, 0.1, 0.01, 531_870.12, 398_902.5, 1234.567, -12.5, 1e300, 5e-324, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
            0x1p50 / 100, 0x1p50 / 100 + 1, 0x1p52, 11.5, 0.3, 89_506,
        ]
        let counts: [Int] = [0, 1, -1, 30, 366, Int.max, Int.min + 1, 1 << 40]
        for (k, amount) in amounts.enumerated() {
            var f = DeclarationFigures()
            f.places = counts[k % counts.count]
            f.joursOuverture = k % 3 == 0 ? nil : counts[(k + 3) % counts.count]
            f.nbEnfants = counts[(k + 5) % counts.count]
            f.heuresOuverture = amount
            f.heuresRealisees = k % 2 == 0 ? nil : -amount
            f.heuresFacturees = amount * 3
            f.totalCharges = amount / 7
            f.chargesPersonnel = k % 4 == 0 ? nil : amount
            f.totalProduits = amount
            f.participationsFamilles = 0
            f.prestationCaf = amount + 0.01
            f.bonusCaf = nil
            f.subventionsCollectivites = amount
            f.etp = k % 5 == 0 ? nil : amount / 100
            list.append(f)
        }
        // Random figures of the forms an export gives (euros and cents, tenths of hours).
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return seed >> 11
        }
        for _ in 0..<2000 {
            var f = DeclarationFigures()
            f.places = Int(next() % 200)
            f.heuresRealisees = Double(next() % 10_000_000) / 10
            f.totalCharges = Double(next() % 1_000_000_000) / 100
            f.prestationCaf = next() % 3 == 0 ? nil : Double(Int64(next() % 100_000_000) - 50_000_000) / 100
            f.etp = Double(next() % 1000) / 100
            f.bonusCaf = Double(bitPattern: next() | 0x3FF0_0000_0000_0000 & 0x3FFF_FFFF_FFFF_FFFF)
            list.append(f)
        }
        return list
    }

    /// Each figure's bits, so that a value changed by one ulp shows.
    static func bits(_ f: DeclarationFigures) -> [String] {
        [f.places, f.joursOuverture, f.nbEnfants].map { $0.map(String.init) ?? "-" }
            + [
                f.heuresOuverture, f.heuresRealisees, f.heuresFacturees, f.totalCharges, f.chargesPersonnel, f.totalProduits,
                f.participationsFamilles, f.prestationCaf, f.bonusCaf, f.subventionsCollectivites, f.etp,
            ].map { $0.map { String(($0 == 0 ? 0 : $0).bitPattern, radix: 16) } ?? "-" }
    }

    func testEveryFigureComesBackBitForBit() throws {
        for f in Self.awkwardFigures() {
            let bytes = PackedFigures.packed(f)
            XCTAssertLessThanOrEqual(bytes.count, PackedFigures.maximumSize)
            let back = try XCTUnwrap(bytes.withUnsafeBytes { PackedFigures.unpack($0) })
            XCTAssertEqual(Self.bits(back), Self.bits(f))
            XCTAssertEqual(PackedFigures.packed(back), bytes, "the same figures give the same bytes")
        }
    }

    func testAmountsInCentsTakeAFewBytesAndOtherValuesTheirEightBytes() {
        var f = DeclarationFigures()
        XCTAssertEqual(PackedFigures.packed(f), [0, 0], "no figure: the presence bits only")
        f.totalCharges = 531_870.12
        XCTAssertEqual(PackedFigures.packed(f).count, 2 + 4, "53 187 012 cents: a varint of 4 bytes")
        f.totalCharges = 1234.567
        XCTAssertEqual(PackedFigures.packed(f).count, 2 + 9, "a thousandth: the marker and the double")
        f.totalCharges = -0.0
        XCTAssertEqual(PackedFigures.packed(f), PackedFigures.packed({ var z = f; z.totalCharges = 0; return z }()), "-0 is stored as 0")
    }

    func testBytesThatAreNotAPackedRowAreRefused() {
        var f = DeclarationFigures()
        f.places = 30
        f.totalCharges = 1234.567
        let good = PackedFigures.packed(f)
        let bad: [(String, [UInt8])] = [
            ("empty", []),
            ("one byte", [1]),
            ("cut in a figure", Array(good.dropLast())),
            ("a byte after the figures", good + [0]),
            ("an unknown presence bit", [0, 0x40]),
            ("a presence bit without its figure", [1, 0]),
            ("an amount whose varint is odd", [0x08, 0, 3]),
            ("a varint longer than ten bytes", [1, 0] + Array(repeating: 0xFF, count: 11) + [1]),
        ]
        for (name, bytes) in bad {
            XCTAssertNil(bytes.withUnsafeBytes { PackedFigures.unpack($0) }, name)
        }
    }

    /// A store of the schema before (fourteen columns) gets its figures packed when a stage
    /// opens it, every value and correction unchanged; the trigger then records corrections by
    /// their bytes, and the views show the columns of before.
    func testAStoreOfTheFormerSchemaIsMigratedWithItsFiguresUnchanged() throws {
        let path = folder.appendingPathComponent("store.sqlite").path
        let figures = Array(Self.awkwardFigures().prefix(40))
        do {
            let queue = try DatabaseQueue(path: path)
            try Store.migrator.migrate(queue, upTo: "v9-rang-calcule")
            try queue.write { db in
                try Self.insertEquipment7(db)
                let columns = ["places", "jours_ouverture", "nb_enfants", "heures_ouverture", "heures_realisees", "heures_facturees",
                    "total_charges", "charges_personnel", "total_produits", "participations_familles", "prestation_caf", "bonus_caf",
                    "subventions_collectivites", "etp"]
                let insert = try db.makeStatement(
                    sql: "INSERT INTO declaration (equipement_id, exercice, nature, date_depot, \(columns.joined(separator: ", ")), fichier_id, ligne) "
                        + "VALUES (7, ?, 3, ?, \(columns.map { _ in "?" }.joined(separator: ", ")), 1, ?)")
                for (k, f) in figures.enumerated() {
                    let values: [DatabaseValueConvertible?] = [
                        f.places, f.joursOuverture, f.nbEnfants, f.heuresOuverture, f.heuresRealisees, f.heuresFacturees, f.totalCharges,
                        f.chargesPersonnel, f.totalProduits, f.participationsFamilles, f.prestationCaf, f.bonusCaf,
                        f.subventionsCollectivites, f.etp,
                    ]
                    try insert.execute(arguments: StatementArguments([2000 + k, 20_250_101] + values + [k + 2]))
                }
                // A later file corrected the first row: the trigger of the former schema kept its
                // values.
                try db.execute(sql: "UPDATE declaration SET fichier_id = 2, ligne = 9, places = 31 WHERE exercice = 2002")
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM declaration_correction WHERE valeurs_modifiees = 1"), 1)
            }
        }
        let store = try Store(path: path)
        try store.dbQueue.write { db in
            var read: [[String]] = []
            try Store.scanDeclarations(db, exercices: 2000...2039) { read.append(Self.bits($0.figures)) }
            var expected = figures.map(Self.bits)
            expected[2][0] = "31"
            XCTAssertEqual(read, expected)
            // The views show each figure as the columns did.
            let places = try Int?.fetchAll(db, sql: "SELECT places FROM declaration_chiffres ORDER BY exercice")
            XCTAssertEqual(places, figures.enumerated().map { $0 == 2 ? 31 : $1.places })
            XCTAssertEqual(figures[2].places, 1, "the corrected row had places")
            XCTAssertEqual(
                try Int.fetchOne(db, sql: "SELECT places FROM declaration_correction_chiffres WHERE valeurs_modifiees = 1"), figures[2].places)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM declaration_courante"), figures.count)
            // A re-delivery of the same bytes is not a correction; changed bytes are.
            try db.execute(sql: "UPDATE declaration SET fichier_id = 3 WHERE exercice = 2003")
            try db.execute(
                sql: "UPDATE declaration SET fichier_id = 4, chiffres = ? WHERE exercice = 2004",
                arguments: [Data(PackedFigures.packed(DeclarationFigures()))])
            XCTAssertEqual(
                try Int.fetchAll(db, sql: "SELECT valeurs_modifiees FROM declaration_correction ORDER BY id"), [1, 0, 1])
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA foreign_key_check"), nil)
        }
    }

    /// Bytes that are not a packed row stop a stage's read and SQL's `chiffre()` with a French
    /// message, rather than give wrong figures.
    func testADamagedFiguresColumnStopsTheReadWithAFrenchMessage() throws {
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        try store.dbQueue.write { db in
            try Self.insertEquipment7(db)
            try db.execute(sql: "INSERT INTO declaration VALUES (7, 2024, 3, 20250101, x'0100', 1, 2)")
            XCTAssertThrowsError(try Store.scanDeclarations(db, exercices: 2024...2024) { _ in }) { error in
                XCTAssertEqual("\(error)", "chiffres illisibles dans la colonne « chiffres » d'une déclaration du store")
            }
            XCTAssertThrowsError(try Int.fetchOne(db, sql: "SELECT places FROM declaration_chiffres")) { error in
                XCTAssertTrue("\(error)".contains("chiffres illisibles"), "\(error)")
            }
        }
    }
}
