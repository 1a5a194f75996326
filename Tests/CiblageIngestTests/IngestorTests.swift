import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageStore
import Foundation
import GRDB
import XCTest

/// End-to-end ingestion of the fixture files into a real SQLite store on disk.
final class IngestorTests: XCTestCase {
    var folder: URL!
    var store: Store!

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    func fixture(_ name: String) -> URL { Self.fixtures.appendingPathComponent(name) }

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-\(UUID().uuidString)")
        store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
    }

    override func tearDownWithError() throws {
        store = nil
        try? FileManager.default.removeItem(at: folder)
    }

    @discardableResult
    func ingest(_ names: [String], maxRejets: Double? = nil) throws -> IngestReport {
        try Ingestor(store: store, referentiel: .bundled, maxRejectPercent: maxRejets).ingest(names.map(fixture))
    }

    func count(_ table: String, _ filter: String = "1") throws -> Int {
        try store.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table) WHERE \(filter)")! }
    }

    /// A folder `lot` holding copies of fixtures under other names (`fixture`, `name`), for one run.
    func batch(_ copies: [(String, String)]) throws -> URL {
        let batch = folder.appendingPathComponent("lot")
        try FileManager.default.createDirectory(at: batch, withIntermediateDirectories: true)
        for (name, copy) in copies { try FileManager.default.copyItem(at: fixture(name), to: batch.appendingPathComponent(copy)) }
        return batch
    }

    func rejects(_ report: IngestReport, _ file: String) -> [Int: Reject] {
        Dictionary(report.rejects.filter { $0.file == file }.map { ($0.line, $0) }, uniquingKeysWith: { a, _ in a })
    }

    // MARK: Registry

    func testStoresEveryQuirkOfAWellFormedRegistry() throws {
        let report = try ingest(["equipements-ok.csv", "equipements-cp1252.csv"])
        XCTAssertEqual(report.rejects, [])
        let byName = Dictionary(uniqueKeysWithValues: report.files.map { ($0.url.lastPathComponent, $0) })
        XCTAssertEqual(byName["equipements-ok.csv"]?.stored, 5)
        XCTAssertEqual(byName["equipements-cp1252.csv"]?.stored, 2)
        XCTAssertEqual(byName["equipements-ok.csv"]?.encoding, .utf8)
        XCTAssertEqual(byName["equipements-cp1252.csv"]?.encoding, .windows1252)
        let names = try store.dbQueue.read {
            try Dictionary(uniqueKeysWithValues: Row.fetchAll($0, sql: "SELECT n_dossier, nom, nom_gestionnaire, nature, statut_gestionnaire, commune, places_agreees, qpv FROM equipement").map {
                ($0["n_dossier"] as String, $0)
            })
        }
        XCTAssertEqual(names["13-0001"]?["nom"], "Crèche Cœur d’Enfance – 5 €")
        XCTAssertEqual(names["13-0001"]?["nom_gestionnaire"], "Société Œuvre & Cie")
        XCTAssertEqual(names["66-0002"]?["nom"], "Multi-accueil \"Les P'tits Loups\"; site nord")
        XCTAssertEqual(names["66-0002"]?["nature"], "EAJE_COLLECTIF", "lower-case codes are matched")
        XCTAssertEqual(names["66-0002"]?["statut_gestionnaire"], "ASSOCIATIF")
        XCTAssertEqual(names["66-0002"]?["qpv"], true)
        XCTAssertEqual(names["01-0001"]?["commune"], "01053", "a leading zero lost by a spreadsheet is restored")
        XCTAssertEqual(names["01-0001"]?["places_agreees"], 20, "spaces around numbers are ignored")
        XCTAssertEqual(names["974-0001"]?["places_agreees"], DatabaseValue.null, "an RPE has no places")
    }

    func testRejectsEveryMalformedRegistryRowWithItsFieldAndReason() throws {
        let report = try ingest(["equipements-rejets.csv"])
        let byLine = rejects(report, "equipements-rejets.csv")
        let expected: [Int: (String, String)] = [
            2: ("NATURE", "nature d'équipement inconnue"), 3: ("SIRET", "clé de contrôle du SIRET"),
            4: ("SIRET", "ne commence pas par le SIREN"), 5: ("SIREN_GESTIONNAIRE", "clé de contrôle du SIREN"),
            6: ("STATUT_GESTIONNAIRE", "statut de gestionnaire inconnu"), 7: ("DEPARTEMENT_SIEGE", "département inconnu"),
            8: ("COMMUNE", "n'est pas dans le département de la Caf 66"),
            9: ("PLACES_AGREEES", "places agréées obligatoires"), 10: ("PLACES_AGREEES", "hors des bornes"),
            11: ("DATE_OUVERTURE", "date invalide"), 12: ("DATE_FERMETURE", "antérieure à l'ouverture"),
            13: ("QPV", "booléen attendu"), 14: ("NOM", "champ obligatoire vide"), 15: ("N_DOSSIER", "trop long"),
            16: ("", "16 champs attendus, 15 trouvés"), 17: ("", "16 champs attendus, 17 trouvés"),
            18: ("", "guillemets mal placés"), 19: ("PLACES_AGREEES", "nombre entier attendu"),
            20: ("", "conflit"), 21: ("", "conflit"), 24: ("COMMUNE", "code commune INSEE invalide"),
            25: ("SIRET", "14 chiffres"), 26: ("SIREN_GESTIONNAIRE", "9 chiffres"),
        ]
        XCTAssertEqual(Set(byLine.keys), Set(expected.keys))
        for (line, (field, reason)) in expected {
            XCTAssertEqual(byLine[line]?.field, field, "line \(line)")
            XCTAssertTrue(byLine[line]?.reason.contains(reason) == true, "line \(line): \(byLine[line]?.reason ?? "-")")
            XCTAssertTrue(byLine[line]?.content.hasPrefix("66-01") == true, "line \(line) keeps its raw text")
        }
        XCTAssertEqual(report.files[0].read, 25)
        XCTAssertEqual(report.files[0].stored, 1)
        XCTAssertEqual(report.files[0].ignored, 1, "an identical duplicate is kept once")
        XCTAssertEqual(try count("equipement"), 1)
        XCTAssertEqual(try count("equipement", "n_dossier = '66-0119'"), 0, "both rows of a conflict are rejected")
    }

    func testAChangedEquipmentReplacesTheOldRowAndKeepsItInHistory() throws {
        try ingest(["equipements-ok.csv"])
        let report = try ingest(["equipements-modifie.csv"])
        XCTAssertEqual(report.files[0].corrections, 1)
        XCTAssertEqual(try count("equipement", "n_dossier = '66-0001' AND places_agreees = 36"), 1)
        XCTAssertEqual(try count("equipement_historique", "places_agreees = 30"), 1)
        XCTAssertEqual(try count("equipement"), 5)
    }

    func testAKeyRepeatedLateInARegistryUndoesTheRowsStoredBeforeIt() throws {
        try ingest(["equipements-ok.csv"])
        // Read and stored as it comes: 66-0001 and 66-0002 are changed before 66-0002 comes
        // again with other values; that conflict must leave 66-0002 as it was, with no history.
        let lines = try String(contentsOf: fixture("equipements-modifie.csv"), encoding: .utf8).components(separatedBy: "\r\n")
        let header = lines[0]
        let first = lines[1]
        let second = lines[2].replacingOccurrences(of: ";45;", with: ";46;")
        let again = lines[2].replacingOccurrences(of: ";45;", with: ";47;")
        // Enough new equipments between them that the changes are written before the repeat.
        let new = (1000..<1300).map { first.replacingOccurrences(of: "66-0001;", with: "66-\($0);") }
        let url = folder.appendingPathComponent("equipements-repete.csv")
        try ([header, first, second] + new + [again]).joined(separator: "\r\n").appending("\r\n").write(to: url, atomically: true, encoding: .utf8)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([url])
        XCTAssertEqual(Set(rejects(report, "equipements-repete.csv").filter { $0.value.reason.contains("conflit") }.keys), [3, 304])
        XCTAssertEqual(report.files[0].stored, 301)
        XCTAssertEqual(report.files[0].corrections, 1)
        XCTAssertEqual(try count("equipement", "n_dossier = '66-0001' AND places_agreees = 36"), 1)
        XCTAssertEqual(try count("equipement", "n_dossier = '66-0002' AND places_agreees = 45"), 1, "the conflict leaves the stored row")
        XCTAssertEqual(try count("equipement_historique"), 1, "the undone change left no history")
        XCTAssertEqual(try count("equipement"), 305)
    }

    func equipmentIndexes() throws -> [String] {
        try store.dbQueue.read {
            try String.fetchAll(
                $0, sql: "SELECT name || ': ' || sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'equipement' AND sql IS NOT NULL ORDER BY name")
        }
    }

    func testARegistryLoadedIntoAnEmptyStoreHasItsIndexesAgainWhateverTheWayItEnds() throws {
        let schema = try equipmentIndexes()
        XCTAssertEqual(schema.count, 2, "by Caf and by SIREN")
        // Refused whole (above --max-rejets): the indexes dropped for the load come back with the rollback.
        let refused = try ingest(["equipements-rejets.csv"], maxRejets: 10)
        if case .refused = refused.files[0].status {} else { XCTFail("\(refused.files[0].status)") }
        XCTAssertEqual(try count("equipement"), 0)
        XCTAssertEqual(try equipmentIndexes(), schema)
        // A repeated key: the rows stored as read are undone and stored again by a new writer.
        let repeated = try ingest(["equipements-rejets.csv"])
        XCTAssertEqual(repeated.files[0].stored, 1)
        XCTAssertEqual(try equipmentIndexes(), schema)
        try store.dbQueue.write { try $0.execute(sql: "DELETE FROM equipement") }
        try ingest(["equipements-ok.csv"])
        XCTAssertEqual(try equipmentIndexes(), schema)
        // Built from the rows loaded: every equipment is found through each index.
        try store.dbQueue.read { db in
            let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id FROM equipement WHERE caf = '66'").map { $0["detail"] as String }.joined()
            XCTAssertTrue(plan.contains("equipement_caf"), plan)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement INDEXED BY equipement_caf WHERE caf > ''"), 5)
            XCTAssertEqual(
                try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement INDEXED BY equipement_siren WHERE siren_gestionnaire > ''"), 5)
            XCTAssertEqual(try String.fetchAll(db, sql: "PRAGMA integrity_check"), ["ok"])
        }
    }

    func testARegistryReadWithItsDeclarationsHasItsIndexesAgainOnceTheyAreReadAhead() throws {
        let schema = try equipmentIndexes()
        // The declarations start being read against the stored equipments before the registry's
        // indexes are built again, in the registry's transaction.
        let report = try ingest(["equipements-ok.csv", "declarations-ok.csv"])
        XCTAssertEqual(report.files.map(\.stored), [5, 6])
        XCTAssertEqual(try equipmentIndexes(), schema)
        try store.dbQueue.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement INDEXED BY equipement_caf WHERE caf > ''"), 5)
            XCTAssertEqual(
                try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement INDEXED BY equipement_siren WHERE siren_gestionnaire > ''"), 5)
            XCTAssertEqual(try String.fetchAll(db, sql: "PRAGMA integrity_check"), ["ok"])
        }
    }

    // MARK: Declarations

    func testStoresEveryQuirkOfWellFormedDeclarations() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-ok.csv"])
        XCTAssertEqual(report.rejects, [])
        XCTAssertEqual(report.files[1].stored, 6)
        let prev = try store.dbQueue.read {
            try Row.fetchOne($0, sql: "SELECT * FROM declaration_chiffres WHERE nature = 1 AND exercice = 2024")!
        }
        XCTAssertEqual(prev["date_depot"], 20_240_210, "ISO dates are accepted")
        XCTAssertEqual(prev["heures_ouverture"], 2464.0, "space-grouped thousands")
        XCTAssertEqual(prev["heures_realisees"], 50000.0, "no-break space")
        XCTAssertEqual(prev["heures_facturees"], 55000.0, "narrow no-break space")
        XCTAssertEqual(prev["nb_enfants"], 60)
        XCTAssertEqual(prev["total_charges"], 1_520_000.0)
        XCTAssertEqual(prev["charges_personnel"], 398_902.5, "decimal dot")
        XCTAssertEqual(prev["total_produits"], DatabaseValue.null, "empty means missing, never zero")
        XCTAssertEqual(try count("declaration", "nature = 2"), 2, "two actualisés kept, by date de dépôt")
        XCTAssertEqual(try count("declaration_courante", "nature = 2"), 1)
    }

    func testRejectsEveryMalformedDeclarationAndBothRowsOfAConflict() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-rejets.csv"])
        let byLine = rejects(report, "declarations-rejets.csv")
        let expected: [Int: (String, String)] = [
            2: ("N_DOSSIER", "équipement inconnu"), 3: ("EXERCICE", "hors des bornes"),
            4: ("NATURE_DECLARATION", "nature de déclaration inconnue"), 5: ("DATE_DEPOT", "date invalide"),
            6: ("HEURES_REALISEES", "valeur négative"), 7: ("JOURS_OUVERTURE", "hors des bornes"),
            8: ("ETP", "nombre attendu"), 9: ("PLACES", "nombre entier attendu"), 10: ("TOTAL_CHARGES", "nombre attendu"),
            11: ("DATE_DEPOT", "champ obligatoire vide"), 12: ("", "18 champs attendus, 17"),
            13: ("", "18 champs attendus, 19"), 14: ("", "ligne 15"), 15: ("", "ligne 14"), 16: ("", "lignes 14 et 15"),
            19: ("", "guillemets mal placés"),
        ]
        XCTAssertEqual(Set(byLine.keys), Set(expected.keys))
        for (line, (field, reason)) in expected {
            XCTAssertEqual(byLine[line]?.field, field, "line \(line)")
            XCTAssertTrue(byLine[line]?.reason.contains(reason) == true, "line \(line): \(byLine[line]?.reason ?? "-")")
        }
        XCTAssertTrue(byLine[14]!.content.hasPrefix("66-0002;2023;REEL"), "the first row of a conflict gets its raw text")
        XCTAssertEqual(try count("declaration", "exercice = 2023"), 0, "nothing of a conflicting key is stored")
        XCTAssertEqual(try count("declaration"), 2)
        XCTAssertEqual(try count("declaration_chiffres", "heures_facturees = 240000"), 1, "implausible but well-formed is stored")
        XCTAssertEqual(report.files[1].ignored, 1)
    }

    /// Every row of a key in conflict is rejected, whatever their order: an identical
    /// re-delivery met before the differing row was skipped, and stayed out of the rejects.
    func testEachDeclarationIsStoredUnderItsOwnEquipmentWhenEquipmentsAlternate() throws {
        try ingest(["equipements-ok.csv"])
        let header = ExportColumns.declarations.map(\.name).joined(separator: ";")
        // The reader remembers the equipment of the row before: runs of one equipment, returns
        // to an earlier one, an unknown one right after a known one, blanks around the number.
        let rows = [
            ("66-0001", "REEL", "28/03/2025"), ("66-0001", "PREVISIONNEL", "10/02/2024"), ("66-0002", "REEL", "30/03/2025"),
            ("66-0001", "ACTUALISE", "15/07/2024"), ("66-9999", "REEL", "28/03/2025"), ("66-0002", "PREVISIONNEL", "11/02/2024"),
            (" 66-0002 ", "ACTUALISE", "16/07/2024"), ("2A-0001", "REEL", "29/03/2025"), ("66-9999", "ACTUALISE", "17/07/2024"),
            ("974-0001", "REEL", "31/03/2025"),
        ]
        let file = folder.appendingPathComponent("declarations-alternees.csv")
        try ([header] + rows.map { "\($0.0);2024;\($0.1);\($0.2);30;224;2464;1;1;61;1;1;1;1;1;1;1;1" })
            .joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([file])
        XCTAssertEqual(report.rejects.map(\.line).sorted(), [6, 10], "the unknown equipment, wherever it comes")
        XCTAssertTrue(report.rejects.allSatisfy { $0.reason == "équipement inconnu : « 66-9999 »" }, "\(report.rejects)")
        let stored = try store.dbQueue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT d.ligne, e.n_dossier FROM declaration d JOIN equipement e ON e.id = d.equipement_id ORDER BY d.ligne")
        }
        let expected = rows.enumerated().filter { !$0.element.0.contains("9999") }
            .map { ($0.offset + 2, $0.element.0.trimmingCharacters(in: .whitespaces)) }
        XCTAssertEqual(stored.map { $0["ligne"] as Int }, expected.map(\.0))
        XCTAssertEqual(stored.map { $0["n_dossier"] as String }, expected.map(\.1))
    }

    func testEveryRowOfAConflictingKeyIsRejectedWhateverTheirOrder() throws {
        try ingest(["equipements-ok.csv"])
        let header = ExportColumns.declarations.map(\.name).joined(separator: ";")
        let a = "66-0001;2024;REEL;28/03/2025;30;224;2464;1;1;61;1;1;1;1;1;1;1;1"
        let b = "66-0001;2024;REEL;28/03/2025;30;224;2464;2;2;61;2;2;2;2;2;2;2;2"
        for (k, rows) in [[a, a, b], [a, b, a], [b, a, a]].enumerated() {
            let file = folder.appendingPathComponent("declarations-\(k).csv")
            try ([header] + rows).joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
            let report = try Ingestor(store: store, referentiel: .bundled).ingest([file])
            XCTAssertEqual(report.rejects.map(\.line).sorted(), [2, 3, 4], "order \(k)")
            XCTAssertTrue(report.rejects.allSatisfy { $0.reason.hasPrefix("conflit") && !$0.content.isEmpty }, "order \(k)")
            XCTAssertEqual(report.files[0].ignored, 0, "order \(k)")
            if k == 1 {
                XCTAssertTrue(
                    report.rejects.first { $0.line == 4 }!.reason.contains("lignes 2 et 3"),
                    "a row met once its key is in conflict names both rows, whichever it equals")
            }
            XCTAssertEqual(report.files[0].stored, 0, "order \(k)")
            XCTAssertEqual(try count("declaration"), 0, "order \(k)")
        }
    }

    func testAConflictInALaterFileRestoresTheValuesItHadReplaced() throws {
        try ingest(["equipements-ok.csv", "declarations-ok.csv"])
        let folder = self.folder!
        let header = ExportColumns.declarations.map(\.name).joined(separator: ";")
        let later = folder.appendingPathComponent("correction-en-conflit.csv")
        try """
            \(header)
            66-0001;2024;REEL;28/03/2025;30;224;2464;1;1;61;1;1;1;1;1;1;1;1
            66-0001;2024;REEL;28/03/2025;30;224;2464;2;2;61;2;2;2;2;2;2;2;2

            """.write(to: later, atomically: true, encoding: .utf8)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([later])
        XCTAssertEqual(report.rejects.map(\.line), [2, 3])
        XCTAssertEqual(try count("declaration_chiffres", "exercice = 2024 AND nature = 3 AND heures_realisees = 51234.5"), 1)
        XCTAssertEqual(try count("declaration_correction"), 0)
    }

    func testALaterFileCorrectsDeclarationsAndTheCorrectionIsRecorded() throws {
        try ingest(["equipements-ok.csv", "declarations-ok.csv"])
        let report = try ingest(["declarations-correction.csv"])
        XCTAssertEqual(report.files[0].stored, 2)
        XCTAssertEqual(report.files[0].corrections, 1, "the unchanged re-delivery is not a correction")
        XCTAssertEqual(try count("declaration_chiffres", "exercice = 2024 AND nature = 3 AND heures_facturees = 60000"), 1)
        XCTAssertEqual(try count("declaration_correction_chiffres", "heures_facturees = 57012 AND valeurs_modifiees = 1"), 1)
    }

    /// One file carrying an exercice the store already has and one it has none of: the first
    /// is upserted (a correction recorded), the second inserted without the upsert clause.
    func testAFileCorrectsAKnownExerciceAndStoresANewOneAlongside() throws {
        try ingest(["equipements-ok.csv", "declarations-ok.csv"])
        let header = ExportColumns.declarations.map(\.name).joined(separator: ";")
        let file = folder.appendingPathComponent("declarations-2024-2025.csv")
        try """
            \(header)
            66-0001;2024;REEL;28/03/2025;30;224;2464;51234,5;60000;61;531870,12;398902;540120;71230,4;251002;61200;150000;11,5
            66-0001;2025;REEL;27/03/2026;30;224;2464;52000;58000;62;540000;400000;550000;72000;255000;62000;151000;11,5
            66-0002;2025;REEL;30/03/2026;45;220;2420;81000;96000;91;810000;610000;820000;101000;405000;91000;221000;16
            66-0002;2024;REEL;30/03/2025;45;220;2420;80000;95000;90;800000;600000;810000;100000;400000;90000;220000;16

            """.write(to: file, atomically: true, encoding: .utf8)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([file])
        XCTAssertEqual(report.rejects, [])
        XCTAssertEqual(report.files[0].stored, 4)
        XCTAssertEqual(report.files[0].corrections, 1, "only 66-0001 2024 changed a value")
        XCTAssertEqual(try count("declaration_chiffres", "exercice = 2024 AND nature = 3 AND heures_facturees = 60000"), 1)
        XCTAssertEqual(try count("declaration_correction_chiffres", "exercice = 2024 AND heures_facturees = 57012"), 1)
        XCTAssertEqual(try count("declaration", "exercice = 2025"), 2)
        XCTAssertEqual(try count("declaration_correction", "exercice = 2025"), 0)
        XCTAssertEqual(try count("fichier_exercice", "exercice IN (2024, 2025)"), 3, "2024 twice (two files), 2025 once")
    }

    /// The rows of an exercice new to the store go without the upsert clause: a key handed twice
    /// as new (against the writer's contract) fails the file rather than overwriting the first.
    func testAKeyHandedTwiceAsNewInAFreshExerciceFailsInsteadOfOverwriting() throws {
        try ingest(["equipements-ok.csv"])
        let key = DeclarationKey(equipementId: 1, exercice: 2025, nature: .reel, dateDepot: 20_260_327)
        var first = DeclarationFigures()
        first.heuresRealisees = 1
        var second = first
        second.heuresRealisees = 2
        XCTAssertThrowsError(
            try store.dbQueue.write { db in
                let fileId = try Int64.fetchOne(db, sql: "SELECT max(id) FROM fichier")!
                let writer = try DeclarationWriter(db: db, fileId: fileId)
                try writer.insertNew(key, first, line: 2)
                try writer.insertNew(key, second, line: 3)
                try writer.finish()
            })
        XCTAssertEqual(try count("declaration"), 0, "the transaction is rolled back whole")
    }

    func testReadsCommaAndTabSeparatedFiles() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-virgule.csv", "declarations-tab.csv"])
        XCTAssertEqual(report.rejects, [])
        XCTAssertEqual(try count("declaration_chiffres", "heures_realisees = 80000.5"), 2)
    }

    func testAQuoteNeverClosedRejectsOnlyItsRow() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-guillemet.csv"])
        XCTAssertEqual(report.rejects.map(\.line), [3])
        XCTAssertEqual(report.files[1].stored, 3)
    }

    func testAFileCutShortRejectsItsLastRowAndKeepsTheOthers() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-tronque.csv"])
        XCTAssertEqual(report.rejects.map(\.line), [3])
        XCTAssertEqual(report.rejects.first?.reason, "18 champs attendus, 12 trouvés")
        XCTAssertEqual(try count("declaration"), 1)
    }

    func testAMissingRequiredColumnRefusesTheWholeFile() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-colonne-absente.csv"])
        guard case .refused(let reason) = report.files[1].status else { return XCTFail("\(report.files[1].status)") }
        XCTAssertTrue(reason.contains("DATE_DEPOT"), reason)
        XCTAssertTrue(report.anyRefused)
        XCTAssertEqual(try count("declaration"), 0)
        XCTAssertEqual(try count("fichier"), 1, "a refused file is not recorded as ingested")
    }

    func testAFileOfUnknownKindIsRefused() throws {
        let report = try ingest(["inconnu.csv"])
        XCTAssertTrue(report.anyRefused)
        XCTAssertEqual(report.files[0].kind, nil)
    }

    func testRegistryIsIngestedBeforeDeclarationsOfTheSameBatch() throws {
        let report = try ingest(["declarations-ok.csv", "equipements-ok.csv"])
        XCTAssertEqual(report.files.map(\.kind), [.equipements, .declarations])
        XCTAssertEqual(report.rejects, [])
    }

    func testWithinAKindCSVFilesComeFirstThenByPath() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-ok.xml", "declarations-virgule.csv", "declarations-tab.csv"])
        XCTAssertEqual(
            report.files.map(\.url.lastPathComponent),
            ["equipements-ok.csv", "declarations-tab.csv", "declarations-virgule.csv", "declarations-ok.xml"])
    }

    func testConsecutiveDeclarationFilesAreAllStoredWhenOneIsParsedDuringTheOthersCommit() throws {
        // Three CSV declaration files in a row: the second and third are read while the previous commits.
        let report = try ingest(["equipements-ok.csv", "declarations-ok.csv", "declarations-tab.csv", "declarations-virgule.csv"])
        XCTAssertEqual(report.files.map(\.stored), [5, 6, 1, 1])
        XCTAssertEqual(try count("declaration"), 8)
        XCTAssertEqual(try count("fichier"), 4)
    }

    func testARepeatedDeliveryIsSkippedAndSaidSo() throws {
        try ingest(["equipements-ok.csv", "declarations-ok.csv"])
        let copy = folder.appendingPathComponent("livraison-2.csv")
        try FileManager.default.copyItem(at: fixture("declarations-ok.csv"), to: copy)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([copy])
        guard case .alreadyIngested(let previous, _) = report.files[0].status else {
            return XCTFail("\(report.files[0].status)")
        }
        XCTAssertEqual(previous, "declarations-ok.csv")
        XCTAssertTrue(report.files[0].line.contains("fichier ignoré"))
        XCTAssertEqual(try count("fichier"), 2)
        XCTAssertEqual(try count("declaration_correction"), 0)
    }

    func testAnIdenticalCopyInTheSameBatchIsSkippedEvenWhenReadAheadOfItsTurn() throws {
        let copies = try batch([
            ("equipements-ok.csv", "a-equipements.csv"), ("declarations-ok.csv", "b-declarations.csv"), ("declarations-ok.csv", "c-copie.csv"),
        ])
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([copies])
        XCTAssertEqual(report.files.map(\.url.lastPathComponent), ["a-equipements.csv", "b-declarations.csv", "c-copie.csv"])
        XCTAssertEqual(report.files[1].stored, 6)
        XCTAssertEqual(report.files[2].previousName, "b-declarations.csv")
        XCTAssertEqual(try count("fichier"), 2)
    }

    func testACopyOfARefusedFileLeftUnreadAheadIsReadAtItsTurnAndRefusedLikeIt() throws {
        let files = try batch([
            ("equipements-ok.csv", "a-equipements.csv"), ("declarations-colonne-absente.csv", "b-declarations.csv"),
            ("declarations-colonne-absente.csv", "c-copie.csv"), ("declarations-ok.csv", "d-declarations.csv"),
        ])
        // c-copie.csv is read ahead while a-equipements.csv commits: as a copy of b it is left
        // unread; b is refused, so c is read at its turn, and refused for the same reason.
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([files])
        XCTAssertEqual(report.files.map(\.url.lastPathComponent), ["a-equipements.csv", "b-declarations.csv", "c-copie.csv", "d-declarations.csv"])
        guard case .refused(let reason) = report.files[1].status else { return XCTFail("\(report.files[1].status)") }
        XCTAssertEqual(report.files[2].status, .refused(reason))
        XCTAssertEqual(report.files[3].stored, 6)
        XCTAssertEqual(try count("fichier"), 2)
    }

    func testAFileReadTwoAheadIsStoredWhenTheOneBeforeItIsRefused() throws {
        let files = try batch([
            ("equipements-ok.csv", "a-equipements.csv"), ("declarations-tab.csv", "b-declarations.csv"),
            ("declarations-tronque.xml", "c-tronque.xml"), ("declarations-ok.xml", "d-ok.xml"),
        ])
        // d-ok.xml starts being read while b-declarations.csv commits, two files ahead of its turn.
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([files])
        XCTAssertEqual(report.files.map(\.url.lastPathComponent), ["a-equipements.csv", "b-declarations.csv", "c-tronque.xml", "d-ok.xml"])
        guard case .refused = report.files[2].status else { return XCTFail("\(report.files[2].status)") }
        XCTAssertEqual(report.files[3].status, .stored)
        // As stored when it is the only declarations file of its run.
        let alone = try Store(path: folder.appendingPathComponent("seul.sqlite").path)
        let reference = try Ingestor(store: alone, referentiel: .bundled).ingest([fixture("equipements-ok.csv"), fixture("declarations-ok.xml")])
        XCTAssertGreaterThan(reference.files[1].stored, 0)
        XCTAssertEqual(report.files[3].stored, reference.files[1].stored)
        XCTAssertEqual(report.files[3].rejected, reference.files[1].rejected)
        XCTAssertEqual(try count("fichier"), 3)
    }

    func testControlFilesReadAheadAreStoredAsAloneOrSkippedWhenAlreadyThere() throws {
        let files = try batch([
            ("equipements-ok.csv", "a-equipements.csv"), ("declarations-ok.csv", "b-declarations.csv"),
            ("controles.csv", "c-controles.csv"), ("controles.csv", "d-copie.csv"),
        ])
        // A control repeated with another result, in a file read while c-controles.csv commits.
        let lines = try String(contentsOf: fixture("controles-correction.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).map(String.init)
        let new = (0..<20).map { "C-2024-\(100 + $0);66-0001;2023;10/05/2024;SUR_PLACE;CIBLAGE;;CONFORME;;;" }
        let again = "C-2023-002;66-0002;2022;20/06/2023;SUR_PLACE;ALEATOIRE;;ANOMALIE;900;;REPAS_COUCHES"
        try ([lines[0], lines[1]] + new + [again]).joined(separator: "\n").appending("\n")
            .write(to: files.appendingPathComponent("e-repete.csv"), atomically: true, encoding: .utf8)
        // c- and d- start being read while b-declarations.csv commits, e- while c- commits.
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([files])
        XCTAssertEqual(
            report.files.map(\.url.lastPathComponent),
            ["a-equipements.csv", "b-declarations.csv", "c-controles.csv", "d-copie.csv", "e-repete.csv"])
        XCTAssertEqual(report.files[3].previousName, "c-controles.csv")
        // As when the control files come alone (testRejectsEveryMalformedControlRow and
        // testAControlIdRepeatedInItsFileUndoesTheCorrectionsStoredBeforeIt).
        XCTAssertEqual(
            rejects(report, "c-controles.csv").mapValues(\.field),
            [4: "N_DOSSIER", 5: "EXERCICES", 6: "ANOMALIES", 7: "ANOMALIES", 8: "ANOMALIES", 9: "TYPE_CONTROLE",
             10: "ORIGINE", 11: "RESULTAT", 12: "EXERCICES", 13: "MONTANT_INDU"])
        XCTAssertEqual(Set(rejects(report, "e-repete.csv").filter { $0.value.reason.contains("conflit") }.keys), [2, 23])
        XCTAssertEqual(report.files[4].stored, 20)
        XCTAssertEqual(try count("controle", "id_controle = 'C-2023-002' AND resultat = 'CONFORME'"), 1)
        XCTAssertEqual(try count("controle_historique"), 0)
        XCTAssertEqual(try count("controle"), 23)
        XCTAssertEqual(try count("fichier"), 4)
    }

    func testMaxRejetsRefusesAFileAboveTheThresholdAndStoresNothingOfIt() throws {
        try ingest(["equipements-ok.csv"])
        // declarations-rejets.csv: 16 rejected of 19 rows (84 %).
        let refused = try ingest(["declarations-rejets.csv"], maxRejets: 50)
        guard case .refused(let reason) = refused.files[0].status else { return XCTFail("\(refused.files[0].status)") }
        XCTAssertTrue(reason.contains("--max-rejets"), reason)
        XCTAssertEqual(refused.rejects.count, 17, "the rows' rejects and the file's")
        XCTAssertEqual(try count("declaration"), 0)
        let accepted = try ingest(["declarations-rejets.csv"], maxRejets: 90)
        XCTAssertEqual(accepted.files[0].status, .stored)
        XCTAssertEqual(try count("declaration"), 2)
    }

    func testAmountsWrittenWithTheEuroSignAreReadInBothEncodings() throws {
        // French Excel writes a currency-formatted cell as `1 200,00 €`: every such row was
        // rejected (« nombre attendu »). Hours keep refusing it.
        let header = try String(contentsOf: fixture("declarations-ok.csv"), encoding: .utf8).split(separator: "\r\n")[0]
            .replacingOccurrences(of: "\u{FEFF}", with: "")
        let columns = header.split(separator: ";").map(String.init)
        func row(_ date: String, _ values: [String: String]) -> String {
            columns.map { ["N_DOSSIER": "66-0001", "EXERCICE": "2024", "NATURE_DECLARATION": "REEL", "DATE_DEPOT": date][$0] ?? values[$0] ?? "" }
                .joined(separator: ";")
        }
        let text = [
            header, row("01/03/2025", ["TOTAL_CHARGES": "531 870,12 €", "PRESTATION_CAF": "251\u{A0}002,00\u{A0}€"]),
            row("02/03/2025", ["HEURES_FACTUREES": "57 012 €"]), "",
        ].joined(separator: "\r\n")
        try ingest(["equipements-ok.csv"])
        for (name, data) in [("declarations-utf8.csv", Data(text.utf8)), ("declarations-1252.csv", text.data(using: .windowsCP1252)!)] {
            let file = folder.appendingPathComponent(name)
            try data.write(to: file)
            let report = try Ingestor(store: store, referentiel: .bundled).ingest([file])
            XCTAssertEqual(report.files[0].stored, 1, name)
            XCTAssertEqual(report.rejects.map { [$0.line, $0.field] as [AnyHashable] }, [[3, "HEURES_FACTUREES"]], name)
            XCTAssertEqual(
                try count("declaration_chiffres", "fichier_id = \(report.files[0].fileId!) AND total_charges = 531870.12 AND prestation_caf = 251002"), 1, name)
        }
    }

    func testAColumnNamedTwiceInTheHeaderRefusesTheFile() throws {
        // The first PLACES was stored and the second silently ignored.
        let file = folder.appendingPathComponent("declarations-doublon.csv")
        try """
            N_DOSSIER;EXERCICE;NATURE_DECLARATION;DATE_DEPOT;PLACES;places
            66-0001;2024;REEL;28/03/2025;30;99

            """.write(to: file, atomically: true, encoding: .utf8)
        try ingest(["equipements-ok.csv"])
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([file])
        guard case .refused(let reason) = report.files[0].status else { return XCTFail("\(report.files[0].status)") }
        XCTAssertEqual(reason, "colonne en double dans l'en-tête : PLACES")
        XCTAssertEqual(try count("declaration"), 0)
    }

    func testRowsOfSeparatorsOnlyAreSkippedLikeBlankLines() throws {
        // A spreadsheet writes `;;;;` for rows whose cells were only formatted: each was
        // rejected for its empty N_DOSSIER, and counted towards --max-rejets.
        let file = folder.appendingPathComponent("declarations-tableur.csv")
        let header = try String(contentsOf: fixture("declarations-ok.csv"), encoding: .utf8).split(separator: "\r\n")[0] + ";"
        let width = header.split(separator: ";", omittingEmptySubsequences: false).count
        func row(_ values: String...) -> String { (values + Array(repeating: "", count: width - values.count)).joined(separator: ";") }
        try [
            String(header), row("66-0001", "2024", "REEL", "28/03/2025", "30"), row(), row(" ", " ", "", "", "\t"),
            row("66-0002", "2024", "REEL", "28/03/2025", "45"), row(), row("", "2024"), "",
        ].joined(separator: "\r\n").write(to: file, atomically: true, encoding: .utf8)
        try ingest(["equipements-ok.csv"])
        let report = try Ingestor(store: store, referentiel: .bundled, maxRejectPercent: 40).ingest([file])
        XCTAssertEqual(report.files[0].status, .stored)
        XCTAssertEqual(report.files[0].read, 3)
        XCTAssertEqual(report.files[0].stored, 2)
        XCTAssertEqual(report.rejects.map(\.line), [7], "a row with one value is a row")
        XCTAssertEqual(try count("declaration"), 2)
    }

    func testAFileWhoseLinesEndWithALoneCRIsReadAsTheSameFileWithLF() throws {
        // Excel for Mac's former « CSV (Macintosh) » ends lines with a lone CR. Read by LF, the
        // file was one line: its rows were taken for unknown columns of the header, 0 rows read,
        // nothing stored, nothing rejected.
        let names = ["equipements-ok.csv", "declarations-ok.csv", "declarations-rejets.csv", "declarations-guillemet.csv"]
        let lf = folder.appendingPathComponent("lf")
        let cr = folder.appendingPathComponent("cr")
        for dir in [lf, cr] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: fixture(name)))
            var mac: [UInt8] = []
            for (i, b) in bytes.enumerated() where !(b == 0x0A && i > 0 && bytes[i - 1] == 0x0D) { mac.append(b == 0x0A ? 0x0D : b) }
            XCTAssertFalse(mac.contains(0x0A))
            try Data(bytes).write(to: lf.appendingPathComponent(name))
            try Data(mac).write(to: cr.appendingPathComponent(name))
        }
        func run(_ dir: URL) throws -> (report: IngestReport, rows: [String]) {
            let store = try Store(path: dir.appendingPathComponent("store.sqlite").path)
            let report = try Ingestor(store: store, referentiel: .bundled).ingest([dir])
            let rows = try store.dbQueue.read { db in
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT quote(equipement_id) || exercice || nature || date_depot || quote(places) || quote(total_charges)
                            || quote(etp) || ligne FROM declaration_chiffres ORDER BY 1
                        """)
            }
            return (report, rows)
        }
        let (a, b) = (try run(lf), try run(cr))
        XCTAssertGreaterThan(a.rows.count, 5)
        XCTAssertEqual(b.rows, a.rows)
        XCTAssertEqual(b.report.files.map(\.read), a.report.files.map(\.read))
        XCTAssertEqual(b.report.rejects.map { [$0.file, String($0.line), $0.field, $0.reason] }, a.report.rejects.map { [$0.file, String($0.line), $0.field, $0.reason] })
        XCTAssertGreaterThan(a.report.rejects.count, 10)
    }

    // MARK: XML

    func testStoresAWellFormedXMLExportDeclaredISO88591() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-ok.xml"])
        XCTAssertEqual(report.rejects, [])
        XCTAssertEqual(report.files[1].format, "XML")
        XCTAssertEqual(try count("declaration_chiffres", "exercice = 2023 AND heures_realisees = 51234.5 AND etp = 11.5"), 1)
        XCTAssertEqual(try count("declaration_chiffres", "exercice = 2023 AND nature = 1 AND heures_realisees IS NULL"), 1)
    }

    func testXMLSchemaViolationsRejectTheirElementsWithLineNumbersAndKeepTheOthers() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-schema.xml"])
        let byLine = rejects(report, "declarations-schema.xml")
        XCTAssertEqual(Set(byLine.keys), [3, 10, 13, 17, 20])
        XCTAssertEqual(byLine[3]?.field, "heuresRealisees")
        XCTAssertEqual(byLine[10]?.field, "nature")
        XCTAssertEqual(byLine[13]?.field, "places", "children out of order")
        XCTAssertEqual(byLine[17]?.field, "dateDepot", "a required attribute missing")
        XCTAssertEqual(byLine[20]?.reason, "équipement inconnu : « 99-0000 »")
        XCTAssertEqual(byLine[3]?.reason, "valeur négative : « -12 »", "said as the CSV rejects say it")
        XCTAssertEqual(try count("declaration"), 2)
    }

    func testXMLElementsPastLine65535KeepTheirOwnLineAndSchemaErrors() throws {
        // libxml2 keeps an element's line in 16 bits: past 65 535 every element had line 65535,
        // the schema error of the first element below went to the last one, and the first one,
        // whose fault only the XSD sees (children out of order), was stored.
        let report = try ingestAfterRegistry(
            "longue.xml",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">
            <!--\(String(repeating: "\n", count: 70_000))-->
              <declaration numeroDossier="66-0002" exercice="2022" nature="REEL" dateDepot="2023-03-29">
                <totalCharges>800000</totalCharges>
                <places>45</places>
              </declaration>
              <declaration numeroDossier="66-0001" exercice="2022" nature="REEL" dateDepot="2023-03-28">
                <places>30</places>
              </declaration>
            </exportDeclarations>

            """)
        let byLine = rejects(report, "longue.xml")
        XCTAssertEqual(Set(byLine.keys), [70_004])
        XCTAssertEqual(byLine[70_004]?.field, "places")
        XCTAssertTrue(byLine[70_004]?.reason.hasPrefix("élément hors de l'ordre du format, ou répété : « places »") ?? false, "\(byLine)")
        XCTAssertEqual(try count("declaration", "equipement_id = (SELECT id FROM equipement WHERE n_dossier = '66-0001')"), 1)
        XCTAssertEqual(try count("declaration", "equipement_id = (SELECT id FROM equipement WHERE n_dossier = '66-0002')"), 0)
    }

    func testAnElementAmongDeclarationsRefusesTheFileAsTheSchemaChecksNothingAfterIt() throws {
        // After an unexpected element of the root, libxml2's validator checks nothing more of
        // it. It used to be taken for the end of the declaration before it (that declaration,
        // valid, was rejected with its error, its children appended to its values: PLACES 30
        // shown as 3053), and the next declaration, children out of order, was stored.
        let report = try ingestAfterRegistry(
            "intrus.xml",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">
              <declaration numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-03-28">
                <places>30</places>
                <totalCharges>531870.12</totalCharges>
                <etp>11.5</etp>
              </declaration>
              <foo><places>99</places><etp>77</etp></foo>
              <declaration numeroDossier="66-0002" exercice="2023" nature="REEL" dateDepot="2024-03-29">
                <etp>2</etp>
                <places>45</places>
              </declaration>
            </exportDeclarations>

            """)
        guard case .refused(let reason) = report.files[0].status else { return XCTFail("\(report.files[0].status)") }
        XCTAssertTrue(reason.contains("« foo »") && reason.hasPrefix("non conforme au schéma XSD"), reason)
        XCTAssertEqual(report.rejects.filter { $0.file == "intrus.xml" }.map(\.line), [8])
        XCTAssertEqual(try count("declaration"), 0)
    }

    func testTextBetweenDeclarationsIsRejectedAsARowAndTheDeclarationsAroundItAreStored() throws {
        // libxml2 reports stray text on the line where the next tag starts: matched by line, the
        // error went to the next declaration, valid, which was rejected; text before the first
        // declaration refused the whole file.
        let report = try ingestAfterRegistry(
            "texte.xml",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">
              en-tête égaré
              <declaration numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-03-28">
                <places>30</places>
              </declaration>
              texte perdu
              <declaration numeroDossier="66-0002" exercice="2023" nature="REEL" dateDepot="2024-03-29">
                <places>45</places>
              </declaration>
              x\(String(repeating: "é", count: 5_000))
            </exportDeclarations>

            """)
        XCTAssertEqual(report.files[0].status, .stored)
        XCTAssertEqual(report.files[0].stored, 2)
        XCTAssertEqual(report.files[0].rejected, 3)
        let texts = report.rejects.filter { $0.file == "texte.xml" }
        XCTAssertEqual(texts.map(\.line), [3, 7, 11], "the text's own line")
        // At most 200 bytes, cut between two characters: « x » and 99 « é » (199 bytes).
        XCTAssertEqual(texts.map(\.content), ["en-tête égaré", "texte perdu", "x" + String(repeating: "é", count: 99)])
        XCTAssertEqual(texts.map(\.field), ["exportDeclarations", "exportDeclarations", "exportDeclarations"])
        XCTAssertEqual(Set(texts.map(\.reason)), ["texte hors de tout élément declaration"])
        XCTAssertEqual(try count("declaration_chiffres", "places = 30 AND equipement_id = (SELECT id FROM equipement WHERE n_dossier = '66-0001')"), 1)
        XCTAssertEqual(try count("declaration_chiffres", "places = 45 AND equipement_id = (SELECT id FROM equipement WHERE n_dossier = '66-0002')"), 1)
    }

    /// Ingests the registry, then the file `name` holding `text`.
    func ingestAfterRegistry(_ name: String, _ text: String) throws -> IngestReport {
        try ingest(["equipements-ok.csv"])
        return try ingestAlone(name, text)
    }

    /// Writes `text` as the file `name` and ingests it alone.
    func ingestAlone(_ name: String, _ text: String) throws -> IngestReport {
        let file = folder.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try Ingestor(store: store, referentiel: .bundled).ingest([file])
    }

    /// The first two lines of an XML export of Caf 66 (its XML declaration, then the root's start
    /// tag), each ended.
    static func exportHead(version: String = "1.0") -> String {
        #"<?xml version="\#(version)" encoding="UTF-8"?>"# + "\n"
            + #"<exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">"# + "\n"
    }

    /// Ingests the registry, then an XML export written on one line, without line breaks: the
    /// root and `declarations` (dossier, nature, children), all of exercice 2023 filed on 28/03/2024.
    func ingestOneLineExport(_ name: String, _ declarations: [(String, String, String)]) throws -> IngestReport {
        let elements = declarations.map { d in
            #"<declaration numeroDossier="\#(d.0)" exercice="2023" nature="\#(d.1)" dateDepot="2024-03-28">\#(d.2)</declaration>"#
        }
        return try ingestAfterRegistry(
            name,
            #"<?xml version="1.0" encoding="UTF-8"?><exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">"#
                + elements.joined() + "</exportDeclarations>")
    }

    func testAnExportOnOneLineRejectsItsFaultyDeclarationsAndStoresTheOthers() throws {
        // Errors matched to elements by line all went to the last element of the line: the
        // faulty first declaration was stored and the valid last one rejected with its error.
        let report = try ingestOneLineExport(
            "une-ligne.xml",
            [
                ("66-0001", "REEL", "<totalCharges>800000</totalCharges><places>30</places>"), ("66-0002", "REEL", "<places>45</places>"),
                ("2A-0001", "PREVU", "<places>12</places>"), ("974-0001", "REEL", "<places>8</places>"),
            ])
        let rejected = report.rejects.filter { $0.file == "une-ligne.xml" }
        XCTAssertEqual(rejected.map(\.field), ["places", "nature"])
        XCTAssertEqual(rejected.map(\.line), [1, 1])
        XCTAssertTrue(rejected.first?.content.contains("numeroDossier=66-0001") ?? false, "\(rejected)")
        XCTAssertTrue(rejected.last?.content.contains("numeroDossier=2A-0001") ?? false, "\(rejected)")
        let stored = try store.dbQueue.read { db in
            try String.fetchAll(db, sql: "SELECT n_dossier FROM declaration JOIN equipement ON equipement.id = equipement_id ORDER BY n_dossier")
        }
        XCTAssertEqual(stored, ["66-0002", "974-0001"])
    }

    func testAConflictOnALineWhereSeveralDeclarationsStartShowsNoOtherDeclarationsText() throws {
        // Read again for the text of a conflict's rows, the line's last declaration was shown.
        let report = try ingestOneLineExport(
            "conflit-une-ligne.xml",
            [("66-0001", "REEL", "<places>30</places>"), ("66-0001", "REEL", "<places>31</places>"), ("974-0001", "REEL", "<places>12</places>")])
        let rejected = report.rejects.filter { $0.file == "conflit-une-ligne.xml" }
        XCTAssertEqual(rejected.count, 2)
        XCTAssertTrue(rejected.allSatisfy { $0.reason.hasPrefix("conflit") }, "\(rejected)")
        XCTAssertFalse(rejected.contains { $0.content.contains("974-0001") }, "\(rejected)")
        XCTAssertTrue(rejected.allSatisfy { $0.content.hasPrefix("(plusieurs déclarations commencent à la ligne 1") }, "\(rejected)")
        XCTAssertEqual(try count("declaration"), 1)
    }

    func testXMLRejectsGiveTheirReasonInFrenchAsTheCSVOnesDo() throws {
        // The reasons were libxml2's, in English: « Element '{urn:sppe:declarations:1}places':
        // 'abc' is not a valid value of the atomic type 'xs:nonNegativeInteger'. ».
        let faults = [
            #"<places>abc</places>"#, #"<heuresRealisees>-12</heuresRealisees>"#, #"<joursOuverture>400</joursOuverture>"#,
            #"<enfants>3</enfants><places>3</places>"#, #"<foo>3</foo>"#, #"texte<places>3</places>"#, #"<places><x/></places>"#,
            #"<etp>1,5</etp>"#, #"<totalCharges>1e3</totalCharges>"#, #"<places></places>"#,
        ].map { #"<declaration numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-03-28">\#($0)</declaration>"# }
        let attributes = [
            #"numeroDossier="66-0001" exercice="2023" nature="DEFINITIF" dateDepot="2024-03-28""#,
            #"numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-02-31""#,
            #"numeroDossier="66-0001" exercice="2023" nature="REEL""#,
            #"numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-03-28" foo="1""#,
            #"numeroDossier="66-0001-000000000000000000" exercice="2023" nature="REEL" dateDepot="2024-03-28""#,
            #"numeroDossier="" exercice="2023" nature="REEL" dateDepot="2024-03-28""#,
            #"numeroDossier="66-0001" exercice="1999" nature="REEL" dateDepot="2024-03-28""#,
            #"numeroDossier="66-0001" exercice="abc" nature="REEL" dateDepot="2024-03-28""#,
        ].map { "<declaration \($0)/>" }
        let report = try ingestAfterRegistry(
            "fautes.xml", Self.exportHead() + (faults + attributes).joined(separator: "\n") + "\n</exportDeclarations>\n")
        let byLine = rejects(report, "fautes.xml")
        let expected: [(String, String)] = [
            ("places", "nombre entier attendu : « abc »"),
            ("heuresRealisees", "valeur négative : « -12 »"),
            ("joursOuverture", "valeur supérieure à 366 : « 400 »"),
            ("places", "élément hors de l'ordre du format, ou répété : « places » (attendu ici : totalCharges, chargesPersonnel, "
                + "totalProduits, participationsFamilles, prestationCaf, bonusCaf, subventionsCollectivites, etp)"),
            ("foo", "élément inconnu : « foo » (attendu ici : places, joursOuverture, heuresOuverture, heuresRealisees, "
                + "heuresFacturees, enfants, totalCharges, chargesPersonnel, totalProduits, participationsFamilles, …)"),
            ("declaration", "texte entre les éléments de la déclaration"),
            ("places", "élément imbriqué dans la valeur de « places »"),
            ("etp", "nombre attendu, avec un point décimal : « 1,5 »"),
            ("totalCharges", "nombre attendu : « 1e3 »"),
            ("places", "élément vide (une valeur manquante s'écrit en omettant l'élément)"),
            ("nature", "nature de déclaration inconnue : « DEFINITIF » (attendu : PREVISIONNEL, ACTUALISE, REEL)"),
            ("dateDepot", "date invalide : « 2024-02-31 » (attendu aaaa-mm-jj)"),
            ("dateDepot", "attribut obligatoire absent : « dateDepot »"),
            ("foo", "attribut inconnu : « foo »"),
            ("numeroDossier", "trop long : 26 caractères, 20 au plus"),
            ("numeroDossier", "champ obligatoire vide"),
            ("exercice", "valeur inférieure à 2000 : « 1999 »"),
            ("exercice", "nombre entier attendu : « abc »"),
        ]
        XCTAssertEqual(byLine.count, expected.count, "\(byLine)")
        for (k, (field, reason)) in expected.enumerated() {
            XCTAssertEqual(byLine[k + 3]?.field, field, "line \(k + 3)")
            XCTAssertEqual(byLine[k + 3]?.reason, reason, "line \(k + 3)")
        }
        XCTAssertEqual(try count("declaration"), 0)
    }

    func testAMalformedXMLFileIsRefusedWithWhatIsWrongInFrench() throws {
        let head = Self.exportHead()
        let cases = [
            ("tronque.xml", head + #"<declaration numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-03-28">"#,
             "XML mal formé : document incomplet (fichier tronqué ?)"),
            ("esperluette.xml", head + #"<declaration numeroDossier="A&B" exercice="2023" nature="REEL" dateDepot="2024-03-28"/></exportDeclarations>"#,
             "XML mal formé : « & » non échappé"),
            ("balises.xml", head + #"<declaration numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-03-28"></exportDeclarations>"#,
             "XML mal formé : balise fermante qui ne correspond pas à la balise ouverte (libxml2 : « Opening and ending tag mismatch"),
        ]
        try ingest(["equipements-ok.csv"])
        for (name, text, prefix) in cases {
            let report = try ingestAlone(name, text)
            guard case .refused(let reason) = report.files[0].status else { XCTFail("\(name): \(report.files[0].status)"); continue }
            XCTAssertTrue(reason.hasPrefix(prefix), "\(name): \(reason)")
        }
        XCTAssertEqual(try count("declaration"), 0)
    }

    func testAnXMLExportDeclaredVersion11IsReadByTheRulesOfXML10() throws {
        // libxml2 warns « Unsupported version '1.1' » and reads on: the file was refused as
        // malformed, with that English message. A version other than 1.x is still refused.
        let declaration = #"<declaration numeroDossier="66-0001" exercice="2023" nature="REEL" dateDepot="2024-03-28">"#
        func export(_ version: String, _ places: String) -> String {
            Self.exportHead(version: version) + "  \(declaration)<places>\(places)</places></declaration>\n</exportDeclarations>\n"
        }
        let report = try ingestAfterRegistry("v11.xml", export("1.1", "30"))
        XCTAssertEqual(report.files[0].status, .stored)
        XCTAssertEqual(report.files[0].stored, 1)
        XCTAssertEqual(try count("declaration_chiffres", "exercice = 2023 AND places = 30"), 1)

        // A character reference XML 1.1 alone allows (U+0001) is still a fatal error.
        let control = try ingestAlone("v11-controle.xml", export("1.1", "&#x1;31"))
        guard case .refused(let reason) = control.files[0].status else { return XCTFail("\(control.files[0].status)") }
        XCTAssertTrue(reason.hasPrefix("XML mal formé"), reason)

        let v2 = try ingestAlone("v2.xml", export("2.0", "32"))
        guard case .refused(let reason2) = v2.files[0].status else { return XCTFail("\(v2.files[0].status)") }
        XCTAssertTrue(reason2.hasPrefix("XML mal formé"), reason2)
        XCTAssertEqual(try count("declaration"), 1)
    }

    func testATruncatedXMLFileStoresNothing() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-tronque.xml"])
        guard case .refused(let reason) = report.files[1].status else { return XCTFail("\(report.files[1].status)") }
        XCTAssertTrue(reason.hasPrefix("XML mal formé"), reason)
        XCTAssertEqual(try count("declaration"), 0)
    }

    func testXMLExternalEntitiesAreNeverExpanded() throws {
        let report = try ingestAfterRegistry(
            "xxe.xml",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE exportDeclarations [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
            <exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02">
              <declaration numeroDossier="66-0001" exercice="2020" nature="REEL" dateDepot="2021-03-28">
                <places>&secret;</places>
              </declaration>
            </exportDeclarations>

            """)
        XCTAssertEqual(try count("declaration_chiffres", "places IS NOT NULL"), 0)
        XCTAssertEqual(report.files[0].stored + report.files[0].rejected, report.files[0].read)
    }

    // MARK: Controls

    func testRejectsEveryMalformedControlRow() throws {
        let report = try ingest(["equipements-ok.csv", "controles.csv"])
        let byLine = rejects(report, "controles.csv")
        XCTAssertEqual(
            byLine.mapValues(\.field),
            [4: "N_DOSSIER", 5: "EXERCICES", 6: "ANOMALIES", 7: "ANOMALIES", 8: "ANOMALIES", 9: "TYPE_CONTROLE",
             10: "ORIGINE", 11: "RESULTAT", 12: "EXERCICES", 13: "MONTANT_INDU"])
        XCTAssertEqual(try count("controle"), 3)
        XCTAssertEqual(try count("controle", "id_controle = 'C-2023-001' AND montant_indu = 12400.5 AND exercices = '2021|2022'"), 1)
        XCTAssertEqual(try count("controle_anomalie"), 3)
        XCTAssertEqual(try count("controle_exercice"), 4)
        XCTAssertEqual(try count("controle", "type_controle = 'SUR_PIECES' AND origine = 'ALEATOIRE'"), 1, "lower-case codes")
    }

    func testACorrectedControlReplacesTheOldOneAndKeepsItInHistory() throws {
        try ingest(["equipements-ok.csv", "controles.csv"])
        let report = try ingest(["controles-correction.csv"])
        XCTAssertEqual(report.files[0].corrections, 1)
        XCTAssertEqual(try count("controle", "id_controle = 'C-2023-002' AND resultat = 'ANOMALIE' AND montant_indu = 800"), 1)
        XCTAssertEqual(try count("controle_historique", "id_controle = 'C-2023-002' AND resultat = 'CONFORME'"), 1)
        XCTAssertEqual(try count("controle_anomalie", "code = 'REPAS_COUCHES'"), 1)
        // The replaced control's exercices and anomalies went with it.
        for child in ["controle_exercice", "controle_anomalie"] {
            XCTAssertEqual(try count(child, "controle_id NOT IN (SELECT id FROM controle)"), 0, child)
        }
        XCTAssertGreaterThan(try count("controle_exercice", "controle_id = (SELECT id FROM controle WHERE id_controle = 'C-2023-002')"), 0)
    }

    func testAControlIdRepeatedInItsFileUndoesTheCorrectionsStoredBeforeIt() throws {
        try ingest(["equipements-ok.csv", "controles.csv"])
        let lines = try String(contentsOf: fixture("controles-correction.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).map(String.init)
        // C-2023-002 corrected, then new controls, then C-2023-002 again with another result.
        let new = (0..<20).map { "C-2024-\(100 + $0);66-0001;2023;10/05/2024;SUR_PLACE;CIBLAGE;;CONFORME;;;" }
        let again = "C-2023-002;66-0002;2022;20/06/2023;SUR_PLACE;ALEATOIRE;;ANOMALIE;900;;REPAS_COUCHES"
        let url = folder.appendingPathComponent("controles-repete.csv")
        try ([lines[0], lines[1]] + new + [again]).joined(separator: "\n").appending("\n").write(to: url, atomically: true, encoding: .utf8)
        let report = try Ingestor(store: store, referentiel: .bundled).ingest([url])
        XCTAssertEqual(Set(rejects(report, "controles-repete.csv").filter { $0.value.reason.contains("conflit") }.keys), [2, 23])
        XCTAssertEqual(report.files[0].stored, 20)
        XCTAssertEqual(report.files[0].corrections, 0)
        XCTAssertEqual(try count("controle", "id_controle = 'C-2023-002' AND resultat = 'CONFORME'"), 1, "the conflict leaves the stored control")
        XCTAssertEqual(try count("controle_historique"), 0, "the undone correction left no history")
        XCTAssertEqual(try count("controle", "id_controle LIKE 'C-2024-1%'"), 20)
    }

    /// Rows are stored window by window in the store's key order, whatever the file's order:
    /// a file and the same rows sorted by key (the rows of one key kept in their order) give the
    /// same declarations, the same rejects and the same raw texts, line numbers aside. The
    /// duplicates and conflicts are placed thousands of rows apart, across windows.
    func testAFileInAnyOrderIsStoredAndRejectedAsTheSameRowsInKeyOrder() throws {
        let world = folder.appendingPathComponent("monde")
        _ = try CiblageGenerate.Generator(
            configuration: GeneratorConfiguration(equipements: 3000, exercices: 2024...2024, seed: 17, malformedRate: 0, xmlCafs: []))
            .write(to: world)
        let exports = world.appendingPathComponent("exports")
        let text = try String(contentsOf: exports.appendingPathComponent("declarations-2024.csv"), encoding: .utf8)
        var records = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let header = records.removeFirst()
        /// The store's seeded generator, as the standard library's draws want it.
        struct Draws: RandomNumberGenerator {
            var source = SeededRandom(seed: 29)
            mutating func next() -> UInt64 { source.next() }
        }
        var random = Draws()
        // Identical re-deliveries and conflicting ones (other hours), far from their first row.
        var extra: [String] = []
        var conflicts = 0
        for k in stride(from: 0, to: 600, by: 3) {
            let row = records[k * 7]
            extra.append(row)
            if k % 2 == 0 {
                var fields = row.components(separatedBy: ";")
                fields[7] = String(Int.random(in: 1...900, using: &random))
                extra.append(fields.joined(separator: ";"))
                conflicts += 1
            }
        }
        let shuffled = (records + extra).shuffled(using: &random)
        func key(_ row: String) -> String { row.components(separatedBy: ";").prefix(4).joined(separator: ";") }
        // Stable: the rows of one key keep their order.
        let sorted = shuffled.enumerated().sorted { (key($0.element), $0.offset) < (key($1.element), $1.offset) }.map { $0.element }
        XCTAssertGreaterThan(shuffled.count, 12_000, "more rows than the first windows hold")

        func ingest(_ rows: [String], as name: String) throws -> (declarations: [String], rejects: [String]) {
            let lot = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: lot, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: exports.appendingPathComponent("equipements.csv"), to: lot.appendingPathComponent("equipements.csv"))
            try ([header] + rows).joined(separator: "\r\n").appending("\r\n")
                .write(to: lot.appendingPathComponent("declarations-2024.csv"), atomically: true, encoding: .utf8)
            let store = try Store(path: lot.appendingPathComponent("store.sqlite").path)
            let report = try Ingestor(store: store, referentiel: .bundled).ingest([lot])
            // A line is named by its text: line k of the file is rows[k - 2].
            func text(_ line: Int) -> String { rows[line - 2] }
            // The only figures of a conflict's reason (this file's only rejects) are the lines it names.
            func named(_ reason: String) -> String {
                var named = ""
                var rest = reason[...]
                while let range = rest.range(of: #"\d+"#, options: .regularExpression) {
                    named += rest[..<range.lowerBound] + "« \(text(Int(rest[range])!)) »"
                    rest = rest[range.upperBound...]
                }
                return named + rest
            }
            let rejects = report.rejects.filter { $0.file == "declarations-2024.csv" }.map { r in
                XCTAssertEqual(r.content, text(r.line), "the raw text of line \(r.line)")
                return "\(text(r.line)) | \(r.field) | \(named(r.reason))"
            }
            let declarations = try store.dbQueue.read { db in
                try Row.fetchAll(db, sql: "SELECT e.n_dossier, d.* FROM declaration_chiffres d JOIN equipement e ON e.id = d.equipement_id")
                    .map { row in
                        let values = row.columnNames.filter { !["ligne", "fichier_id", "equipement_id"].contains($0) }
                            .map { "\(row[$0] as DatabaseValue)" }
                        return values.joined(separator: ";") + " | " + text(row["ligne"])
                    }
            }
            return (declarations.sorted(), rejects.sorted())
        }
        let asDelivered = try ingest(shuffled, as: "desordre")
        let inKeyOrder = try ingest(sorted, as: "ordre")
        XCTAssertEqual(asDelivered.declarations.count, inKeyOrder.declarations.count)
        XCTAssertEqual(asDelivered.declarations, inKeyOrder.declarations)
        XCTAssertEqual(asDelivered.rejects, inKeyOrder.rejects)
        XCTAssertEqual(asDelivered.rejects.filter { $0.contains("conflit") }.count, 3 * conflicts, "every row of each conflict")
    }

    // MARK: Rejects file

    func testRejectsFileFollowsTheContract() throws {
        let report = try ingest(["equipements-ok.csv", "declarations-rejets.csv"])
        let url = folder.appendingPathComponent("rejets/rejets.csv")
        try RejectsFile(url: url).commit(report.rejects)
        let bytes = try Data(contentsOf: url)
        XCTAssertEqual(Array(bytes.prefix(3)), [0xEF, 0xBB, 0xBF])
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("FICHIER;LIGNE;CHAMP;MOTIF;CONTENU\r\n"))
        XCTAssertTrue(text.contains("declarations-rejets.csv;2;N_DOSSIER;équipement inconnu : « 99-9999 »;"))
        XCTAssertEqual(text.components(separatedBy: "\r\n").count, report.rejects.count + 2)
    }
}

extension FileSummary {
    /// The name of the file whose identical content made this one skipped.
    var previousName: String? {
        if case .alreadyIngested(let name, _) = status { return name }
        return nil
    }
}
