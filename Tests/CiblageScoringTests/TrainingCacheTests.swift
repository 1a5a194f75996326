import CiblageGenerate
import CiblageIngest
import CiblageModel
import Foundation
import GRDB
import XCTest

@testable import CiblageScoring
@testable import CiblageStore

/// The labelled examples of closed exercices kept in the store: a nightly run reads them instead
/// of computing them again, gives the same list as a run that computes everything, and computes
/// again exactly the exercices whose declarations or controls changed.
final class TrainingCacheTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
        _ = try CiblageGenerate.Generator(configuration: GeneratorConfiguration(equipements: 2000, seed: 43, malformedRate: 0))
            .write(to: folder)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// Stamps of the stored exercices (`calcule_le`), by exercice.
    func stamps(_ store: Store) throws -> [Int: String] {
        try store.dbQueue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT exercice, calcule_le FROM exemple_exercice").map {
                ($0[0] as Int, $0[1] as String)
            })
        }
    }

    /// The training examples computed from scratch (no cache read nor written).
    func fresh(_ store: Store) throws -> [TrainingExample] {
        try store.dbQueue.read { try RiskScoring.inputs($0, exercice: 2024, referentiel: .bundled).training }
    }

    func assertSame(_ a: [TrainingExample], _ b: [TrainingExample], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.exercice, y.exercice, file: file, line: line)
            XCTAssertEqual(x.equipementId, y.equipementId, file: file, line: line)
            XCTAssertEqual(x.date, y.date, file: file, line: line)
            XCTAssertEqual(x.positive, y.positive, file: file, line: line)
            XCTAssertEqual(x.indu, y.indu, file: file, line: line)
            XCTAssertEqual(x.enjeu, y.enjeu, file: file, line: line)
            XCTAssertEqual(x.rules, y.rules, file: file, line: line)
            XCTAssertEqual(x.nature, y.nature, file: file, line: line)
            XCTAssertEqual(x.values.map { $0?.bitPattern }, y.values.map { $0?.bitPattern }, file: file, line: line)
        }
    }

    /// The generated exports ingested into a new store and scored once (list at `first`).
    func scoredStore(first: URL? = nil) throws -> (Store, ScoreStage) {
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        let stage = ScoreStage(store: store, referentiel: .bundled)
        _ = try stage.run(exercice: 2024, output: first, now: Date(timeIntervalSince1970: 1_800_000_000))
        return (store, stage)
    }

    /// Delivers into `store` a later réel of `exercice` for the first equipment that filed one
    /// (filed on 30 September of the next year, its total costs at 999 999 €); returns its
    /// fields (the dossier number first).
    func deliverLaterReel(of exercice: Int, into store: Store) throws -> [String] {
        let source = try String(
            contentsOf: folder.appendingPathComponent("exports/declarations-\(exercice).csv"), encoding: .isoLatin1)
        let lines = source.components(separatedBy: .newlines)
        let reel = try XCTUnwrap(lines.first { $0.contains(";\(exercice);REEL;") && $0.split(separator: ";").count == 18 })
        var fields = reel.components(separatedBy: ";")
        fields[3] = "30/09/\(exercice + 1)"
        fields[10] = "999999"
        let delivery = folder.appendingPathComponent("rectificatif-\(exercice).csv")
        try ([lines[0], fields.joined(separator: ";")].joined(separator: "\r\n") + "\r\n").write(
            to: delivery, atomically: true, encoding: .isoLatin1)
        XCTAssertEqual(try Ingestor(store: store, referentiel: .bundled).ingest([delivery]).files.first?.stored, 1)
        return fields
    }

    func testARunReadingStoredExamplesGivesTheSameListAsARunComputingThem() throws {
        let first = folder.appendingPathComponent("premier.csv")
        let second = folder.appendingPathComponent("second.csv")
        let (store, stage) = try scoredStore(first: first)
        let stored = try stamps(store)
        XCTAssertEqual(stored.keys.sorted(), [2021, 2022, 2023], "the exercices before the scored one, labelled by later controls")

        _ = try stage.run(exercice: 2024, output: second, now: Date(timeIntervalSince1970: 1_800_086_400))
        XCTAssertEqual(try stamps(store), stored, "nothing changed: every exercice read back, none computed again")
        XCTAssertEqual(try Data(contentsOf: first), try Data(contentsOf: second))
        let cached = try store.dbQueue.write { db in
            try RiskScoring.inputs(db, exercice: 2024, referentiel: .bundled, cacheStamp: "relu").training
        }
        assertSame(cached, try fresh(store))
    }

    func testStoredExamplesThatCannotBeReadBackAreComputedAgain() throws {
        let first = folder.appendingPathComponent("premier.csv")
        let second = folder.appendingPathComponent("second.csv")
        let (store, stage) = try scoredStore(first: first)
        let before = try stamps(store)
        // One example of 2022 damaged (its values cut short); the signatures still match.
        try store.dbQueue.write { db in
            try db.execute(
                sql: """
                    UPDATE exemple_entrainement SET valeurs = substr(valeurs, 1, 8)
                    WHERE exercice = 2022 AND rang = (SELECT min(rang) FROM exemple_entrainement WHERE exercice = 2022)
                    """)
            XCTAssertEqual(db.changesCount, 1)
        }

        _ = try stage.run(exercice: 2024, output: second, now: Date(timeIntervalSince1970: 1_800_086_400))
        let after = try stamps(store)
        XCTAssertNotEqual(after[2022], before[2022], "2022 could not be read back: computed and stored again")
        XCTAssertEqual(after[2021], before[2021], "2021 still read back")
        XCTAssertEqual(try Data(contentsOf: first), try Data(contentsOf: second), "the same list as the first run")
        let cached = try store.dbQueue.write { db in
            try RiskScoring.inputs(db, exercice: 2024, referentiel: .bundled, cacheStamp: "relu").training
        }
        assertSame(cached, try fresh(store))
    }

    func testADeliveryOfTheScoredExerciceComputesOnlyItsEquipmentsAgainAndGivesTheFullList() throws {
        let (store, stage) = try scoredStore()

        // A later réel of 2024 for one equipment, as a Caf's delivery would bring.
        let fields = try deliverLaterReel(of: 2024, into: store)
        let equipment = try XCTUnwrap(
            try store.dbQueue.read { try Int64.fetchOne($0, sql: "SELECT id FROM equipement WHERE n_dossier = ?", arguments: [fields[0]]) })

        // Only that equipment's indicators are computed; every row equals a computation from scratch.
        let probe = try store.dbQueue.write { try RiskScoring.inputs($0, exercice: 2024, referentiel: .bundled, cacheStamp: "sonde") }
        XCTAssertEqual(probe.recomputedEquipments, [equipment])
        XCTAssertEqual(probe.recomputedYears, 1)
        let scratch = try store.dbQueue.read { try RiskScoring.inputs($0, exercice: 2024, referentiel: .bundled) }
        XCTAssertNil(scratch.recomputedEquipments)
        XCTAssertEqual(probe.rows.count, scratch.rows.count)
        for (a, b) in zip(probe.rows, scratch.rows) {
            XCTAssertEqual(a.profile.id, b.profile.id)
            XCTAssertEqual(a.indicators, b.indicators)
            XCTAssertEqual(a.packedDigits, b.packedDigits)
            XCTAssertEqual(a.values.map { $0?.bitPattern }, b.values.map { $0?.bitPattern })
        }

        // The stage gives the list and the indicators a full computation gives (on a copy whose
        // stored indicators are forgotten), and reads back the model fitted on the same examples.
        let copy = folder.appendingPathComponent("copie.sqlite")
        try FileManager.default.copyItem(atPath: store.path, toPath: copy.path)
        let full = try Store(path: copy.path)
        try full.dbQueue.write { try $0.execute(sql: "DELETE FROM indicateur_exercice") }
        let incremental = folder.appendingPathComponent("incremental.csv")
        let fromScratch = folder.appendingPathComponent("complet.csv")
        let modelBefore = try store.dbQueue.read {
            try Row.fetchOne($0, sql: "SELECT id, entrainement FROM modele_score ORDER BY id DESC LIMIT 1")
        }
        let rerun = try stage.run(exercice: 2024, output: incremental, now: Date(timeIntervalSince1970: 1_800_086_400))
        _ = try ScoreStage(store: full, referentiel: .bundled).run(
            exercice: 2024, output: fromScratch, now: Date(timeIntervalSince1970: 1_800_086_400))
        XCTAssertEqual(try Data(contentsOf: incremental), try Data(contentsOf: fromScratch))
        // The score rows are the lines of the run: the delivered equipment's rewritten, the
        // others kept as they were.
        let rows = try store.dbQueue.read {
            try Row.fetchAll($0, sql: "SELECT equipement_id, score, priorite, motifs, contributions FROM score WHERE exercice = 2024 ORDER BY 1")
        }
        let expected = rerun.lines.sorted { $0.row.profile.id < $1.row.profile.id }
        XCTAssertEqual(rows.count, expected.count)
        for (row, line) in zip(rows, expected) {
            XCTAssertEqual(row[0] as Int64, line.row.profile.id)
            XCTAssertEqual(row[1] as Double, line.score)
            XCTAssertEqual(row[2] as Double, line.priorite)
            XCTAssertEqual(row[3] as String, line.motifsText)
            XCTAssertEqual(row[4] as String, line.contributionsText)
        }
        let indicators = "SELECT * FROM indicateur WHERE exercice = 2024 ORDER BY equipement_id"
        let kept = try store.dbQueue.read { try Row.fetchAll($0, sql: indicators) }
        let computed = try full.dbQueue.read { try Row.fetchAll($0, sql: indicators) }
        XCTAssertEqual(kept.count, computed.count)
        for (a, b) in zip(kept, computed) {
            XCTAssertEqual(Array(a.databaseValues.dropLast()), Array(b.databaseValues.dropLast()), "all but calcule_le")
        }
        // The model read back is the one stored: its row is kept, not a copy added.
        let latest = try store.dbQueue.read { try Int64.fetchOne($0, sql: "SELECT max(id) FROM modele_score") }
        XCTAssertNotNil(modelBefore?["entrainement"] as String?, "the examples' digest")
        XCTAssertEqual(rerun.modelId, modelBefore?["id"] as Int64?, "the model read back")
        XCTAssertEqual(latest, rerun.modelId)

        // A control dated before the scoring date changes the history indicators read: every
        // equipment is computed again, and the model fitted again on the new examples.
        let control = folder.appendingPathComponent("controle-2024.csv")
        try """
            ID_CONTROLE;N_DOSSIER;EXERCICES;DATE_CONTROLE;TYPE_CONTROLE;ORIGINE;CAMPAGNE;RESULTAT;MONTANT_INDU;MONTANT_RAPPEL;ANOMALIES\r
            C-TEST-INDIC;\(fields[0]);2023;15/06/2024;SUR_PLACE;SIGNALEMENT;;ANOMALIE;4 000;;HEURES_FACTUREES\r

            """.write(to: control, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Ingestor(store: store, referentiel: .bundled).ingest([control]).files.first?.stored, 1)
        let afterControl = try store.dbQueue.write {
            try RiskScoring.inputs($0, exercice: 2024, referentiel: .bundled, cacheStamp: "sonde")
        }
        XCTAssertNil(afterControl.recomputedEquipments)
        XCTAssertEqual(afterControl.recomputedYears, afterControl.rows.count)
        _ = try stage.run(exercice: 2024, now: Date(timeIntervalSince1970: 1_800_172_800))
        let refitted = try store.dbQueue.read {
            try String.fetchOne($0, sql: "SELECT entrainement FROM modele_score ORDER BY id DESC LIMIT 1")
        }
        XCTAssertNotEqual(refitted, modelBefore?["entrainement"] as String?)
    }

    /// The stored indicators are read ahead on a second connection only inside a transaction
    /// (whose lock keeps writers out, so both see one store), and that read gives the rows the
    /// transaction's own connection reads.
    func testTheStoredIndicatorsAreReadAheadInsideATransactionAndGiveTheSameRows() throws {
        let (store, _) = try scoredStore()
        try DatabaseQueue().write { XCTAssertNil(Store.secondReader(of: $0), "a database in memory") }
        store.dbQueue.writeWithoutTransaction { XCTAssertNil(Store.secondReader(of: $0), "outside a transaction") }
        try store.dbQueue.write { db in
            let ahead = try XCTUnwrap(try IndicatorCache.prefetch(db, exercice: 2024)).wait()
            let here = try IndicatorCache.storedYears(db, exercice: 2024)
            XCTAssertGreaterThan(here.count, 0)
            XCTAssertEqual(ahead.map(\.indicators), here.map(\.indicators))
            XCTAssertEqual(ahead.map(\.packedDigits), here.map(\.packedDigits))
            XCTAssertNil(try IndicatorCache.prefetch(db, exercice: 2030), "nothing stored for 2030")
        }
    }

    func testTheStoredYearsAreTheRowsThatHaveBothTheirIndicatorsAndTheirDigits() throws {
        let (store, _) = try scoredStore()
        try store.dbQueue.write { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT equipement_id FROM indicateur WHERE exercice = 2024 ORDER BY equipement_id")
            XCTAssertGreaterThan(ids.count, 100)
            // Digits missing for the first, a middle and the last equipment; indicators missing
            // for two others (their digits left alone).
            for id in [ids[0], ids[ids.count / 2], ids[ids.count - 1]] {
                try db.execute(sql: "DELETE FROM chiffres_indicateur WHERE exercice = 2024 AND equipement_id = ?", arguments: [id])
            }
            for id in [ids[1], ids[ids.count / 3]] {
                try db.execute(sql: "DELETE FROM indicateur WHERE exercice = 2024 AND equipement_id = ?", arguments: [id])
            }
            let joined = try Row.fetchAll(
                db,
                sql: """
                    SELECT i.equipement_id, i.places, i.enjeu_euros, c.chiffres FROM indicateur i
                    JOIN chiffres_indicateur c ON c.exercice = i.exercice AND c.equipement_id = i.equipement_id
                    WHERE i.exercice = 2024 ORDER BY i.equipement_id
                    """)
            let read = try IndicatorCache.storedYears(db, exercice: 2024)
            XCTAssertEqual(read.count, ids.count - 5)
            XCTAssertEqual(read.map(\.indicators.equipementId), joined.map { $0[0] as Int64 })
            XCTAssertEqual(read.map(\.indicators.places), joined.map { $0[1] as Int? })
            XCTAssertEqual(read.map(\.indicators.enjeuEuros), joined.map { $0[2] as Double })
            XCTAssertEqual(read.map(\.packedDigits), joined.map { $0[3] as Int64 })
            XCTAssertTrue(read.contains { $0.packedDigits != 0 })
        }
    }

    /// The stored years read ahead become those of the active equipments in place: stored
    /// ones kept, recomputed ones put instead, one with nothing stored slotted where a skipped
    /// row was, or appended after; an active equipment with neither refuses the merge.
    func testTheYearsReadAheadAreMergedInPlaceInIdOrder() {
        func year(_ id: Int64, _ places: Int) -> EquipmentYear {
            EquipmentYear(
                indicators: EquipmentIndicators(
                    equipementId: id, exercice: 2024, source: nil, places: places, reelManquant: false, chiffresRonds: 0,
                    chiffresExamines: 0, controlesPasses: 0, anomaliesPassees: 0, indusPasses: 0, enjeuEuros: 0),
                packedDigits: 0)
        }
        func ids(_ years: [EquipmentYear]) -> [String] { years.map { "\($0.indicators.equipementId):\($0.indicators.places ?? 0)" } }
        var years = [1, 2, 3, 5, 6].map { year($0, 1) }
        let fresh = [3: year(3, 2), 4: year(4, 2), 7: year(7, 2)] as [Int64: EquipmentYear]
        XCTAssertTrue(RiskScoring.merge(&years, active: [1, 3, 4, 5, 7], fresh: fresh))
        XCTAssertEqual(ids(years), ["1:1", "3:2", "4:2", "5:1", "7:2"])

        var early = [1, 2].map { year($0, 1) }
        XCTAssertTrue(RiskScoring.merge(&early, active: [0, 1, 2], fresh: [0: year(0, 2)]))
        XCTAssertEqual(ids(early), ["0:2", "1:1", "2:1"], "no slot before the first: the rest in the tail")

        var missing = [1, 3].map { year($0, 1) }
        XCTAssertFalse(RiskScoring.merge(&missing, active: [1, 2, 3], fresh: [:]))
    }

    /// A feature vector is stored as 8 little-endian bytes a value, missing ones as a NaN that no
    /// computation gives, and read back value for value.
    func testExampleValuesAreStoredEightBytesEachAndReadBackExactly() {
        let values: [Double?] = [1.5, nil, -0.0, .infinity, -.infinity, .nan, 1e-310, nil, -123_456.789]
        let data = TrainingCache.withEncoded(values) { Data($0) }
        XCTAssertEqual(data.count, values.count * 8)
        XCTAssertEqual(Array(data.prefix(8)), [0, 0, 0, 0, 0, 0, 0xF8, 0x3F], "1.5 little-endian")
        XCTAssertEqual(data.subdata(in: 8..<16).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }, TrainingCache.missing.littleEndian)
        let back = TrainingCache.decode(data, count: values.count)
        XCTAssertEqual(back.map { $0?.bitPattern }, values.map { $0?.bitPattern }, "same bits, missing kept apart from NaN")
        XCTAssertTrue(TrainingCache.withEncoded([]) { Data($0) }.isEmpty)
    }

    func testProfilesAreFoundByIdWhetherIdsAreDenseOrSparse() {
        func profile(_ id: Int64) -> EquipmentProfile {
            EquipmentProfile(
                id: id, nDossier: "D\(id)", nature: "PSU", sirenGestionnaire: "", statut: "", caf: "", qpv: false, zrr: false,
                placesAgreees: nil, ouverture: 0, fermeture: nil)
        }
        let dense = EquipmentProfiles([3, 1, 2].map(profile))
        XCTAssertEqual(dense[1]?.nDossier, "D1")
        XCTAssertEqual(dense[3]?.nDossier, "D3")
        XCTAssertNil(dense[0])
        XCTAssertNil(dense[4])
        XCTAssertNil(dense[-1])
        let sparse = EquipmentProfiles([7_000_000_000, -5, 2].map(profile))
        XCTAssertEqual(sparse[7_000_000_000]?.nDossier, "D7000000000")
        XCTAssertEqual(sparse[-5]?.nDossier, "D-5")
        XCTAssertEqual(sparse[2]?.nDossier, "D2")
        XCTAssertNil(sparse[3])
        // Positions and manager keys, read in place, agree with the profiles found by id.
        for profiles in [dense, sparse] {
            for p in profiles.all {
                let k = profiles.position(of: p.id)
                XCTAssertEqual(k.map { profiles.all[$0].id }, p.id)
                XCTAssertEqual(k.map { profiles.managerKeys[$0] }, p.managerKey)
            }
            XCTAssertNil(profiles.position(of: 3_000_000))
        }
    }

    func testControlsAreReadOldestFirstInTheOrderSQLiteWouldSortThem() throws {
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        try store.dbQueue.read { db in
            let controls = try IndicatorStore.controls(db)
            let reference = try Row.fetchAll(
                db, sql: "SELECT equipement_id, date_controle, exercices, montant_indu FROM controle ORDER BY date_controle, id")
            XCTAssertGreaterThan(reference.count, 100)
            XCTAssertEqual(controls.count, reference.count)
            // Several controls share a date: the row id breaks the tie, as in SQL.
            XCTAssertLessThan(Set(reference.map { $0[1] as Int }).count, reference.count)
            for (c, r) in zip(controls, reference) {
                XCTAssertEqual(c.equipementId, r[0] as Int64)
                XCTAssertEqual(c.date.yyyymmdd, r[1] as Int)
                XCTAssertEqual(c.exercices, (r[2] as String).split(separator: "|").compactMap { Int($0) })
                XCTAssertEqual(c.indu, r[3] as Double)
            }
        }
    }

    func testEveryScanOfTheDeclarationsGivesTheCurrentDeclarationsInKeyOrder() throws {
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        func text(_ d: StoredDeclaration) -> String {
            let f = d.figures
            let values: [String] =
                [f.places, f.joursOuverture, f.nbEnfants].map { $0.map(String.init) ?? "-" }
                + [f.heuresOuverture, f.heuresRealisees, f.heuresFacturees, f.totalCharges, f.chargesPersonnel, f.totalProduits,
                    f.participationsFamilles, f.prestationCaf, f.bonusCaf, f.subventionsCollectivites, f.etp]
                .map { $0.map { String($0.bitPattern) } ?? "-" }
            return "\(d.exercice) \(d.equipementId) \(d.nature.rawValue) \(d.dateDepot.yyyymmdd) " + values.joined(separator: " ")
        }
        // What SQL gives, in the key's order; its figures in the order `text` writes them.
        let integers = ["places", "jours_ouverture", "nb_enfants"]
        let decimals = [
            "heures_ouverture", "heures_realisees", "heures_facturees", "total_charges", "charges_personnel", "total_produits",
            "participations_familles", "prestation_caf", "bonus_caf", "subventions_collectivites", "etp",
        ]
        func reference(_ db: Database, _ filter: String, from table: String = "declaration_courante") throws -> [String] {
            try Row.fetchAll(
                db, sql: "SELECT * FROM \(table) WHERE \(filter) ORDER BY exercice, equipement_id, nature, date_depot"
            ).map { r in
                "\(r["exercice"] as Int) \(r["equipement_id"] as Int64) \(r["nature"] as Int) \(r["date_depot"] as Int) "
                    + (integers.map { (r[$0] as Int?).map(String.init) ?? "-" }
                        + decimals.map { (r[$0] as Double?).map { String($0.bitPattern) } ?? "-" }).joined(separator: " ")
            }
        }
        try store.dbQueue.read { db in
            let years = "exercice BETWEEN 2022 AND 2024"
            let current = try reference(db, years)
            // Declarations filed again later are in the store, and not read.
            XCTAssertGreaterThan(try reference(db, years, from: "declaration_chiffres").count, current.count)

            var all: [String] = []
            try Store.scanDeclarations(db, exercices: 2022...2024) { all.append(text($0)) }
            XCTAssertEqual(all, current)
            XCTAssertEqual(Set(all.map { $0.prefix(4) }), ["2022", "2023", "2024"])
            XCTAssertTrue(all.contains { $0.contains(" - ") }, "missing figures are read as missing")
            // Ranges of a few ids: an equipment's rows never straddle two ranges.
            for chunk: Int64 in [1, 7, 64] {
                var chunked: [String] = []
                try Store.scanDeclarations(db, exercices: 2022...2024, only: nil, selection: .current, chunk: chunk) { chunked.append(text($0)) }
                XCTAssertEqual(chunked, current, "chunk \(chunk)")
            }

            // Without the actualisé of a year that has its réel.
            let advanced = try reference(
                db,
                """
                \(years) AND NOT (nature = \(NatureDeclaration.actualise.rawValue) AND EXISTS (
                    SELECT 1 FROM declaration r WHERE r.exercice = declaration_courante.exercice
                        AND r.equipement_id = declaration_courante.equipement_id AND r.nature = \(NatureDeclaration.reel.rawValue)))
                """)
            XCTAssertLessThan(advanced.count, current.count)
            XCTAssertTrue(advanced.contains { $0.split(separator: " ")[2] == "\(NatureDeclaration.actualise.rawValue)" }, "an actualisé without réel")
            for chunk: Int64 in [1, 7, 1024] {
                var selected: [String] = []
                try Store.scanDeclarations(db, exercices: 2022...2024, only: nil, selection: .advancedAndForecast, chunk: chunk) {
                    selected.append(text($0))
                }
                XCTAssertEqual(selected, advanced, "chunk \(chunk)")
            }

            var reels: [String] = []
            try Store.scanDeclarations(db, exercices: 2023...2024, only: .reel) { reels.append(text($0)) }
            XCTAssertEqual(reels, try reference(db, "exercice BETWEEN 2023 AND 2024 AND nature = \(NatureDeclaration.reel.rawValue)"))

            let overlapped = LockedBox<[String]>([])
            try Store.scanDeclarationsOverlapped(db, exercices: 2022...2024) { d in overlapped.value.append(text(d)) }
            XCTAssertEqual(overlapped.value, all)

            // Equipments with a declaration filed again, and one without.
            let refiled = try Int64.fetchAll(
                db,
                sql: """
                    SELECT equipement_id FROM declaration WHERE \(years)
                    GROUP BY exercice, equipement_id, nature HAVING count(*) > 1 LIMIT 2
                    """)
            XCTAssertEqual(refiled.count, 2)
            let ids = refiled + [3]
            var some: [String] = []
            try Store.scanDeclarations(db, exercices: 2022...2024, equipments: ids) { some.append(text($0)) }
            let listed = "equipement_id IN (\(ids.map(String.init).joined(separator: ", ")))"
            XCTAssertEqual(some, try reference(db, "\(years) AND \(listed)"))
            // Unsorted, repeated, and more than one lookup's worth of ids.
            let many = Array((1...600).map(Int64.init).reversed()) + ids
            var lookedUp: [String] = []
            try Store.scanDeclarations(db, exercices: 2022...2024, equipments: many, selection: .advancedAndForecast) { lookedUp.append(text($0)) }
            XCTAssertEqual(lookedUp, advanced.filter { line in
                let id = Int64(line.split(separator: " ")[1])!
                return id <= 600 || ids.contains(id)
            })
        }
    }

    func testSQLiteLeavesOutTheRowsTheScanPassesOverAndNoOther() throws {
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        func scan(_ db: Database, _ selection: DeclarationSelection, only: NatureDeclaration? = nil, filtering: Bool) throws -> [String] {
            var lines: [String] = []
            try Store.scanDeclarations(db, exercices: 2021...2024, only: only, selection: selection, chunk: 1024, filtering: filtering) {
                lines.append("\($0.exercice) \($0.equipementId) \($0.nature.rawValue) \($0.dateDepot.yyyymmdd) \($0.figures.totalCharges ?? -1)")
            }
            return lines
        }
        // Rows a hand would leave: the latest declaration of an equipment filed again with a date
        // that does not read, the latest of another with a nature that does not exist, and a réel
        // whose date does not read (its actualisé then stands). The row filed before each stands.
        let (refiled, reel) = try store.dbQueue.read { db in
            (try Row.fetchAll(
                db,
                sql: """
                    SELECT exercice, equipement_id, nature, max(date_depot) AS d FROM declaration WHERE exercice = 2023
                    GROUP BY exercice, equipement_id, nature HAVING count(*) > 1 ORDER BY equipement_id LIMIT 2
                    """),
             try Row.fetchOne(
                db,
                sql: """
                    SELECT r.equipement_id, r.date_depot FROM declaration r JOIN declaration a ON a.exercice = r.exercice
                        AND a.equipement_id = r.equipement_id AND a.nature = \(NatureDeclaration.actualise.rawValue)
                    WHERE r.exercice = 2024 AND r.nature = \(NatureDeclaration.reel.rawValue) AND (
                        SELECT count(*) FROM declaration o WHERE o.exercice = 2024 AND o.equipement_id = r.equipement_id
                            AND o.nature = \(NatureDeclaration.reel.rawValue)) = 1
                    LIMIT 1
                    """)!)
        }
        XCTAssertEqual(refiled.count, 2)
        let before = try store.dbQueue.read { db in
            try scan(db, .current, filtering: false)
        }
        try store.dbQueue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(
                sql: "UPDATE declaration SET date_depot = 20239931 WHERE exercice = 2023 AND equipement_id = ? AND nature = ? AND date_depot = ?",
                arguments: [refiled[0]["equipement_id"], refiled[0]["nature"], refiled[0]["d"]])
            try db.execute(
                sql: "UPDATE declaration SET nature = 7 WHERE exercice = 2023 AND equipement_id = ? AND nature = ? AND date_depot = ?",
                arguments: [refiled[1]["equipement_id"], refiled[1]["nature"], refiled[1]["d"]])
            try db.execute(
                sql: "UPDATE declaration SET date_depot = 20240230 WHERE exercice = 2024 AND equipement_id = ? AND nature = 3 AND date_depot = ?",
                arguments: [reel["equipement_id"], reel["date_depot"]])
        }
        try store.dbQueue.read { db in
            // Installed on these statements (else the comparisons below compare a read with itself).
            for only in [nil, NatureDeclaration.reel] {
                let filter = LatestRowFilter(skipsActualise: true, only: only)
                XCTAssertTrue(try filter.install(on: db, for: Store.rangeSQL(only: only, filtered: true)))
                filter.uninstall(from: db)
            }
            for selection in [DeclarationSelection.current, .advancedAndForecast] {
                for only in [nil, NatureDeclaration.reel, .actualise] {
                    let full = try scan(db, selection, only: only, filtering: false)
                    XCTAssertFalse(full.isEmpty)
                    XCTAssertEqual(try scan(db, selection, only: only, filtering: true), full, "\(selection) \(String(describing: only))")
                }
            }
            // The rows filed before the damaged ones stand in their place.
            let after = try scan(db, .current, filtering: true)
            XCTAssertEqual(after.count, before.count - 1, "the réel of 2024 gone, the two of 2023 replaced")
            for r in refiled {
                let key = "2023 \(r["equipement_id"] as Int64) \(r["nature"] as Int) "
                let latest = before.first { $0.hasPrefix(key) }!
                let standing = after.first { $0.hasPrefix(key) }!
                XCTAssertNotEqual(standing, latest)
                XCTAssertLessThan(standing.split(separator: " ")[3], latest.split(separator: " ")[3])
            }
            XCTAssertTrue(try scan(db, .advancedAndForecast, filtering: true).contains {
                $0.hasPrefix("2024 \(reel["equipement_id"] as Int64) \(NatureDeclaration.actualise.rawValue) ")
            }, "the actualisé of a réel that does not read is read")
            // The function is the scan's alone: gone once it is over.
            XCTAssertThrowsError(try Int.fetchOne(db, sql: "SELECT \(LatestRowFilter.call.replacingOccurrences(of: "equipement_id, nature, date_depot", with: "1, 3, 20240101"))"))
        }
    }

    func testTheFilterIsUsedOnlyOnAPlanThatVisitsTheRowsInKeyOrder() {
        XCTAssertTrue(LatestRowFilter.visitsInKeyOrder(
            "SEARCH declaration USING PRIMARY KEY (exercice=? AND equipement_id>? AND equipement_id<?)"))
        XCTAssertFalse(LatestRowFilter.visitsInKeyOrder(
            "SEARCH declaration USING PRIMARY KEY (exercice=?) | USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"))
        XCTAssertFalse(LatestRowFilter.visitsInKeyOrder("SCAN declaration"))
        XCTAssertFalse(LatestRowFilter.visitsInKeyOrder(
            "SEARCH declaration USING PRIMARY KEY (exercice=?) | CORRELATED SCALAR SUBQUERY 1 | SEARCH d2 USING PRIMARY KEY (exercice=?)"))
    }

    func testTheRegistryReadInTwoHalvesIsTheRegistryReadWhole() throws {
        let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
        _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
        try store.dbQueue.read { db in
            let (whole, controls) = try RiskScoring.registryAndControls(db, secondReader: nil)
            let reader = try XCTUnwrap(Store.secondReader(of: db), "a store on disk, in a read transaction")
            let (halves, controlsToo) = try RiskScoring.registryAndControls(db, secondReader: reader)
            XCTAssertGreaterThan(whole.count, 1000)
            XCTAssertEqual(halves.map(\.id), whole.map(\.id))
            XCTAssertEqual(halves.map(\.nDossier), whole.map(\.nDossier))
            XCTAssertEqual(halves.map(\.sirenGestionnaire), whole.map(\.sirenGestionnaire))
            XCTAssertEqual(halves.map(\.fermeture), whole.map(\.fermeture))
            XCTAssertEqual(TrainingCache.registryDigest(halves), TrainingCache.registryDigest(whole))
            XCTAssertEqual(TrainingCache.digest(controlsToo), TrainingCache.digest(controls))
            XCTAssertGreaterThan(controls.count, 10)
        }
        // Ids at both ends of the integers: halved without overflow, every one read once.
        let columns = """
            nom, nature, siret, siren_gestionnaire, nom_gestionnaire, statut_gestionnaire, departement_siege, caf, commune,
            places_agreees, date_ouverture, date_fermeture, qpv, zrr, ctg, fichier_id, ligne
            """
        try store.dbQueue.write { db in
            for (id, suffix) in [(Int64.min, "A"), (Int64.max, "B"), (-7, "C")] {
                try db.execute(
                    sql: """
                        INSERT INTO equipement (id, n_dossier, \(columns))
                        SELECT ?, n_dossier || ?, \(columns) FROM equipement ORDER BY id DESC LIMIT 1
                        """, arguments: [id, suffix])
            }
        }
        try store.dbQueue.read { db in
            let (whole, _) = try RiskScoring.registryAndControls(db, secondReader: nil)
            let (halves, _) = try RiskScoring.registryAndControls(db, secondReader: try XCTUnwrap(Store.secondReader(of: db)))
            XCTAssertEqual(halves.map(\.id), whole.map(\.id))
            XCTAssertEqual(whole.first?.id, Int64.min)
            XCTAssertEqual(whole.last?.id, Int64.max)
        }
    }

    func testIdsFarApartAreReadInARangeEach() throws {
        let store = try Store(path: folder.appendingPathComponent("sparse.sqlite").path)
        let ids: [Int64] = [-5, 3, 4, 7_000_000_000, 7_000_000_001, Int64.max - 1]
        try store.dbQueue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            for (k, id) in ids.enumerated() {
                for (nature, date) in [(1, 20230115), (3, 20240320), (3, 20240601)] {
                    var figures = DeclarationFigures()
                    figures.places = k * 10 + nature
                    try db.execute(
                        sql: """
                            INSERT INTO declaration (equipement_id, exercice, nature, date_depot, chiffres, fichier_id, ligne)
                            VALUES (?, 2023, ?, ?, ?, 1, ?)
                            """, arguments: [id, nature, date, Data(PackedFigures.packed(figures)), k])
                }
            }
        }
        try store.dbQueue.read { db in
            var read: [String] = []
            let ranges = try Store.scanDeclarations(db, exercices: 2022...2024, only: nil, selection: .current, chunk: 1024) {
                read.append("\($0.equipementId) \($0.nature.rawValue) \($0.dateDepot.yyyymmdd)")
            }
            XCTAssertEqual(read, ids.flatMap { ["\($0) 1 20230115", "\($0) 3 20240601"] })
            // -5…4, then 7 000 000 000…7 000 000 001, then the last: not the billions of ranges between.
            XCTAssertEqual(ranges, 3)
        }
    }

    func testExercicesAreReadAsSplittingOnBarsWouldReadThem() {
        let texts = [
            "2022|2023", "2024", "", "|2022||2023|", "0002021", " 2021|2022", "+2021|2022", "2021|abc|2022",
            "1234567890123456789", "99999999999999999999|2021", "２０２１|2022", "2021|2022|2023|2024",
        ]
        for text in texts {
            XCTAssertEqual(StoredControl.exercices(text), text.split(separator: "|").compactMap { Int($0) }, text)
        }
    }

    func testTheStableDigestIsFNV1aOverEachStringsBytesThenAnEndMark() {
        // The published FNV-1a 64-bit test vectors: stored signatures depend on these values.
        var empty = StableHasher()
        empty.combine(bytes: [UInt8]())
        XCTAssertEqual(empty.value, 0xCBF2_9CE4_8422_2325)
        var a = StableHasher()
        a.combine(bytes: Array("a".utf8))
        XCTAssertEqual(a.value, 0xAF63_DC4C_8601_EC8C)
        var foobar = StableHasher()
        foobar.combine(bytes: Array("foobar".utf8))
        XCTAssertEqual(foobar.value, 0x8594_4171_F739_67E8)
        // A string: its UTF-8 bytes then 0xFF, whatever its storage (native, bridged, substring).
        let texts = ["", "PSU", "Crèche « Les Petits Pas »", "75-000123", String(repeating: "é", count: 40),
                     String("xx123456789yy".dropFirst(2).dropLast(2))]
        var reference = StableHasher()
        var hashed = StableHasher()
        for text in texts {
            reference.combine(bytes: Array(text.utf8) + [0xFF])
            hashed.combine(text)
        }
        XCTAssertEqual(hashed.value, reference.value)
        // The end mark keeps the strings apart.
        var abC = StableHasher()
        abC.combine("ab")
        abC.combine("c")
        var aBc = StableHasher()
        aBc.combine("a")
        aBc.combine("bc")
        XCTAssertNotEqual(abC.value, aBc.value)
    }

    func testManagerKeysAreTheSirenWhereItIsANumberAndOneKeyPerOtherText() {
        func profile(_ id: Int64, siren: String) -> EquipmentProfile {
            EquipmentProfile(
                id: id, nDossier: "D\(id)", nature: "PSU", sirenGestionnaire: siren, statut: "", caf: "", qpv: false, zrr: false,
                placesAgreees: nil, ouverture: 0, fermeture: nil)
        }
        let profiles = EquipmentProfiles([
            profile(1, siren: "123456789"), profile(2, siren: "123456789"), profile(3, siren: "987654321"),
            profile(4, siren: "SANS-SIREN"), profile(5, siren: "SANS-SIREN"), profile(6, siren: "AUTRE"),
        ])
        XCTAssertEqual(profiles.managerKeys[0], 123_456_789)
        XCTAssertEqual(profiles.managerKeys[0], profiles.managerKeys[1])
        XCTAssertEqual(profiles.managerKeys[2], 987_654_321)
        XCTAssertEqual(profiles.managerKeys[3], profiles.managerKeys[4], "the same text, the same manager")
        XCTAssertNotEqual(profiles.managerKeys[3], profiles.managerKeys[5])
    }

    func testADeclarationOfAnExerciceRecomputesThatExerciceAndTheTwoAfterIt() throws {
        let (store, stage) = try scoredStore()
        let before = try stamps(store)

        // A later réel of 2022 for one equipment: it becomes its current réel of 2022, which the
        // examples of 2022 (N), 2023 (N-1) and 2024 read; those of 2021 do not.
        let fields = try deliverLaterReel(of: 2022, into: store)

        let output = folder.appendingPathComponent("apres.csv")
        _ = try stage.run(exercice: 2024, output: output, now: Date(timeIntervalSince1970: 1_800_086_400))
        let after = try stamps(store)
        XCTAssertEqual(after[2021], before[2021], "2021 does not read 2022's declarations: kept")
        XCTAssertNotEqual(after[2022], before[2022])
        XCTAssertNotEqual(after[2023], before[2023])
        let cached = try store.dbQueue.write { db in
            try RiskScoring.inputs(db, exercice: 2024, referentiel: .bundled, cacheStamp: "relu").training
        }
        assertSame(cached, try fresh(store))

        // A control labelled 2021 (covering 2021, made in 2022) changes the history of every
        // later exercice and the labels of 2021: all are computed again.
        let equipment = fields[0]
        let control = folder.appendingPathComponent("controle-2022.csv")
        try """
            ID_CONTROLE;N_DOSSIER;EXERCICES;DATE_CONTROLE;TYPE_CONTROLE;ORIGINE;CAMPAGNE;RESULTAT;MONTANT_INDU;MONTANT_RAPPEL;ANOMALIES\r
            C-TEST-CACHE;\(equipment);2021;15/06/2022;SUR_PLACE;SIGNALEMENT;;ANOMALIE;4 000;;HEURES_FACTUREES\r

            """.write(to: control, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Ingestor(store: store, referentiel: .bundled).ingest([control]).files.first?.stored, 1)
        _ = try stage.run(exercice: 2024, now: Date(timeIntervalSince1970: 1_800_172_800))
        let last = try stamps(store)
        for year in [2021, 2022, 2023] { XCTAssertNotEqual(last[year], after[year], "\(year)") }
        let reread = try store.dbQueue.write { db in
            try RiskScoring.inputs(db, exercice: 2024, referentiel: .bundled, cacheStamp: "relu").training
        }
        assertSame(reread, try fresh(store))
    }
}
