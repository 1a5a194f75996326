import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageScoring
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageSelection

/// Campaign files: every bad key or value is an error naming it.
final class CampaignConfigTests: XCTestCase {
    static let minimal = """
        [campagne]
        id = "2025-T1"
        exercice = 2024
        graine = 7
        """

    func parse(_ text: String) throws -> CampaignConfig {
        try CampaignConfig.parse(text, file: "c.toml", referentiel: .bundled)
    }

    func assertKey(_ text: String, _ key: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            XCTAssertEqual((error as? ConfigError)?.key, key, "\(error)", file: file, line: line)
        }
    }

    func testDefaultsOfAMinimalFile() throws {
        let c = try parse(Self.minimal)
        XCTAssertEqual(c.tauxControle, 0.10)
        XCTAssertEqual(c.partAleatoire, 0.15)
        XCTAssertNil(c.cafs)
        XCTAssertEqual(c.exclureControleRecentMois, 12)
        XCTAssertEqual(c.dateReference, 20250101, "1 January after the exercice")
        XCTAssertEqual(c.minDepartements, 2)
    }

    func testEveryBadKeyOrValueIsNamed() {
        assertKey("[campagne]\nid = \"x\"\nexercice = 2024", "campagne.graine")
        assertKey(Self.minimal + "\ncouleur = \"bleu\"", "campagne.couleur")
        assertKey(Self.minimal + "\n[plan_local]\ntaux_controle = 1.5", "plan_local.taux_controle")
        assertKey(Self.minimal + "\n[plan_local]\ntaux_controle = \"10 %\"", "plan_local.taux_controle")
        assertKey(Self.minimal + "\n[plan_local]\ncafs = [\"66\", \"999\"]", "plan_local.cafs")
        assertKey(Self.minimal + "\n[plan_local]\npart_aleatoire = 0.2\nprecision_cible = 0.1", "plan_local.precision_cible")
        assertKey(Self.minimal + "\n[plan_local.capacites]\n\"99\" = 3", "plan_local.capacites.99")
        assertKey(Self.minimal + "\n[plan_local.capacites]\n\"66\" = -3", "plan_local.capacites.66")
        assertKey(Self.minimal + "\n[plan_multi.capacites]\nBRETAGNE = 3", "plan_multi.capacites.BRETAGNE")
        assertKey(Self.minimal + "\n[plan_multi]\nmin_departements = 1", "plan_multi.min_departements")
        assertKey(Self.minimal.replacingOccurrences(of: "2025-T1", with: "2025 T1"), "campagne.id")
        assertKey("[plan_local]\ntaux_controle = 0.1", "campagne")
        assertKey(Self.minimal + "\n[campagne2]", "campagne2")
        XCTAssertThrowsError(try parse("[campagne\nid = 1")) { error in
            XCTAssertTrue("\(error)".contains("ligne 1, colonne 10 : en-tête de section [ … ] incorrect"), "\(error)")
        }
    }

    /// TOMLKit's syntax errors come in English; the user reads them in French, with the line,
    /// the key (section included) and, for a decimal comma, what to write instead.
    func testTOMLSyntaxErrorsAreSaidInFrenchWithLineAndKey() {
        let cases: [(String, String, String)] = [
            (Self.minimal + "\n[plan_local]\ntaux_controle = 0,1", "plan_local.taux_controle", "un nombre décimal s'écrit avec un point (0.1, pas 0,1)"),
            ("[campagne]\nid = \"x\nexercice = 2024", "campagne.id", "ligne 2, colonne 8 : texte incorrect : texte non fermé"),
            ("[campagne]\nid = \"x\"\nid = \"y\"", "campagne.id", "ligne 3, colonne 6 : clé = valeur incorrecte : « id » est déjà défini plus haut"),
            ("[campagne]   # commentaire\nid = \nexercice = 2024", "campagne.id", "on attendait une valeur, pas la fin de ligne"),
            ("[campagne]\nid = ", "campagne.id", "fin du fichier inattendue"),
        ]
        for (text, key, message) in cases {
            XCTAssertThrowsError(try parse(text)) { error in
                let e = error as? ConfigError
                XCTAssertEqual(e?.key, key, "\(error)")
                XCTAssertTrue(e?.message.contains(message) ?? false, "\(error)")
                for english in ["Error", "parsing", "expected", "saw"] { XCTAssertFalse("\(error)".contains(english), "\(error)") }
            }
        }
    }

    func testTheExampleCampaignsOfPipelinesAreValid() throws {
        let pipelines = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(at: pipelines, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "toml" && $0.lastPathComponent.hasPrefix("campagne-") }
        XCTAssertGreaterThanOrEqual(files.count, 2)
        for file in files { _ = try CampaignConfig.load(file, referentiel: .bundled) }
    }
}

/// The planner's rules on hand-built candidates.
final class PlannerTests: XCTestCase {
    /// `n` candidates of Caf `caf`, ranked by PRIORITE (first is highest).
    static func candidates(_ n: Int, caf: String = "66", siren: (Int) -> String = { "S\($0)" }, commune: (Int) -> String = { _ in "66001" })
        -> [Candidate]
    {
        (0..<n).map { i in
            Candidate(
                equipementId: Int64(i + 1), nDossier: String(format: "\(caf)-%06d", i + 1), nom: "E\(i)", nature: "EAJE_COLLECTIF",
                commune: commune(i), siren: siren(i), nomGestionnaire: "G", statut: "ASSOCIATIF", departementSiege: String(commune(i).prefix(2)),
                caf: caf, qpv: false, zrr: false, fermeture: nil, score: 0.5, enjeu: 100_000, priorite: Double(1000 - i), motifs: "",
                controles: 1, dernierControle: 20200101, anomalies: 0)
        }
    }

    func config(_ extra: String = "") throws -> CampaignConfig {
        try CampaignConfig.parse(CampaignConfigTests.minimal + "\n" + extra, file: "c.toml", referentiel: .bundled)
    }

    func testCapacityComesFromTheRateOrTheAbsoluteFigure() throws {
        let c = Self.candidates(50)
        let byRate = Planner(config: try config("[plan_local]\ntaux_controle = 0.2\npart_aleatoire = 0"), referentiel: .bundled).plan(c)
        XCTAssertEqual(byRate.locals.map(\.capacite), [10])
        XCTAssertEqual(byRate.locals[0].lines.map(\.candidate.equipementId), Array(1...10), "CIBLE lines by PRIORITE")
        let absolute = Planner(config: try config("[plan_local]\npart_aleatoire = 0\n[plan_local.capacites]\n\"66\" = 7"), referentiel: .bundled)
            .plan(c)
        XCTAssertEqual(absolute.locals[0].lines.count, 7)
    }

    func testClosedAndRecentlyControlledEquipmentsAreLeftOut() throws {
        var c = Self.candidates(20)
        c[0].fermeture = 20240630
        c[1].dernierControle = 20240301  // within 12 months of 1 January 2025
        c[2].dernierControle = 20231231  // just over 12 months before
        let plan = Planner(config: try config("[plan_local]\ntaux_controle = 0.5\npart_aleatoire = 0"), referentiel: .bundled).plan(c)
        let ids = plan.locals[0].lines.map(\.candidate.equipementId)
        XCTAssertFalse(ids.contains(1))
        XCTAssertFalse(ids.contains(2))
        XCTAssertTrue(ids.contains(3))
        XCTAssertEqual(plan.exclusFermes, 1)
        XCTAssertEqual(plan.exclusControleRecent, 1)
        XCTAssertEqual(plan.locals[0].exclus, 2)
    }

    func testNeverControlledHighStakesAreObligatoireWithinTheirShare() throws {
        var c = Self.candidates(40)
        for i in [5, 9, 20, 30, 35] {
            c[i].controles = 0
            c[i].dernierControle = nil
            c[i].enjeu = 900_000
        }
        c[12].controles = 0  // never controlled but a small stake
        c[12].dernierControle = nil
        let plan = Planner(
            config: try config("[plan_local]\ntaux_controle = 0.25\npart_aleatoire = 0\nobligatoire_enjeu_min = 500000\nobligatoire_part_max = 0.3"),
            referentiel: .bundled
        ).plan(c)
        let lines = plan.locals[0].lines
        XCTAssertEqual(lines.count, 10)
        // At most 30 % of 10: the three best by PRIORITE, first in the plan.
        XCTAssertEqual(lines.prefix(3).map(\.tirage), [.obligatoire, .obligatoire, .obligatoire])
        XCTAssertEqual(lines.prefix(3).map(\.candidate.equipementId), [6, 10, 21])
        XCTAssertFalse(lines.contains { $0.candidate.equipementId == 13 && $0.tirage == .obligatoire })
        XCTAssertEqual(lines.dropFirst(3).map(\.tirage), Array(repeating: .cible, count: 7))
    }

    func testTheRandomShareRecordsItsInclusionProbability() throws {
        let c = Self.candidates(100)
        let plan = Planner(config: try config("[plan_local]\ntaux_controle = 0.2\npart_aleatoire = 0.25"), referentiel: .bundled).plan(c)
        let lines = plan.locals[0].lines
        let random = lines.filter { $0.tirage == .aleatoire }
        XCTAssertEqual(lines.count, 20)
        XCTAssertEqual(random.count, 5, "25 % of 20")
        XCTAssertEqual(lines.filter { $0.tirage == .cible }.map(\.candidate.equipementId), Array(1...15))
        XCTAssertTrue(random.allSatisfy { $0.candidate.equipementId > 15 })
        XCTAssertTrue(random.allSatisfy { $0.probabiliteInclusion == 5.0 / 85 }, "5 drawn among the 85 left")
        XCTAssertEqual(plan.locals[0].populationAleatoire, 85)
        lines.filter { $0.tirage != .aleatoire }.forEach { XCTAssertEqual($0.probabiliteInclusion, 1) }
    }

    func testRecordedProbabilitiesMatchTheDrawOverManySeeds() throws {
        // 30 candidates, capacity 6 of which 3 random: each of the 27 left is drawn with p = 3/27.
        let c = Self.candidates(30)
        var counts = [Int64: Int]()
        let runs = 3000
        for seed in 0..<runs {
            var cfg = try config("[plan_local]\ntaux_controle = 0.2\npart_aleatoire = 0.5")
            cfg.graine = UInt64(seed)
            for line in Planner(config: cfg, referentiel: .bundled).plan(c).locals[0].lines where line.tirage == .aleatoire {
                XCTAssertEqual(line.probabiliteInclusion, 3.0 / 27, accuracy: 1e-12)
                counts[line.candidate.equipementId, default: 0] += 1
            }
        }
        let expected = Double(runs) * 3 / 27  // 333
        for id in 4...30 {
            // Binomial sd ≈ 17: 5 sd either way.
            XCTAssertEqual(Double(counts[Int64(id)] ?? 0), expected, accuracy: 90, "equipment \(id)")
        }
    }

    func testATargetPrecisionSizesTheRandomShare() throws {
        let c = Self.candidates(400)
        let plan = Planner(config: try config("[plan_local]\ntaux_controle = 0.2\nprecision_cible = 0.1"), referentiel: .bundled).plan(c)
        // p = 0.5: n0 = 1.96² × 0.25 / 0.01 = 96.04; N = 400: n = 96.04 / (1 + 95.04 / 400) = 77.6 → 78.
        XCTAssertEqual(plan.locals[0].tailleAleatoire, 78)
        XCTAssertLessThanOrEqual(try XCTUnwrap(plan.locals[0].precision), 0.1)
    }

    func testGroupsNeedEnoughDepartementsGoToTheirHeadOfficePoleAndLeaveLocalPlans() throws {
        // Manager A: 6 equipments over 66, 34 and 13 (siège 66, MEDITERRANEE); manager B: 4 in 66 only.
        let communes = ["66001", "34001", "13001", "66002", "34002", "13002", "66003", "66004", "66005", "66006"]
        var c = Self.candidates(10, siren: { $0 < 6 ? "A" : "B" }, commune: { communes[$0] })
        for i in c.indices { c[i].departementSiege = "66" }
        let plan = Planner(
            config: try config("[plan_local]\ntaux_controle = 0.5\npart_aleatoire = 0\n[plan_multi]\nsites_par_groupe = 3\n[plan_multi.capacites]\nMEDITERRANEE = 5"),
            referentiel: .bundled
        ).plan(c)
        XCTAssertEqual(plan.groupesEligibles, 1)
        let group = try XCTUnwrap(plan.groups.first)
        XCTAssertEqual(group.siren, "A")
        XCTAssertEqual(group.pole, "MEDITERRANEE")
        XCTAssertEqual(group.departements, ["13", "34", "66"])
        XCTAssertEqual(group.sites.map(\.tirage), [.siege, .cible, .aleatoire])
        XCTAssertEqual(group.sites[0].candidate.equipementId, 1, "the riskiest in the head-office département")
        XCTAssertEqual(group.sites[1].candidate.equipementId, 2)
        XCTAssertEqual(group.sites[2].probabiliteInclusion, 1.0 / 4)
        // One plan per equipment: the sites are not in the local plans.
        let local = Set(plan.locals.flatMap(\.lines).map(\.candidate.equipementId))
        XCTAssertTrue(local.isDisjoint(with: group.sites.map(\.candidate.equipementId)))
    }

    func testPoleCapacityKeepsTheGroupsWithTheLargestExpectedIndu() throws {
        // Three two-département managers, siège 75 (IDF_HDF); capacity 2.
        var c = Self.candidates(6, siren: { "M\($0 / 2)" }, commune: { $0 % 2 == 0 ? "75001" : "93001" })
        for i in c.indices {
            c[i].departementSiege = "75"
            c[i].priorite = [10, 10, 500, 500, 90, 90][i]
        }
        let plan = Planner(config: try config("[plan_multi.capacites]\nIDF_HDF = 2"), referentiel: .bundled).plan(c)
        XCTAssertEqual(plan.groups.map(\.siren), ["M1", "M2"])
        XCTAssertEqual(plan.groups.map(\.rang), [1, 2])
        XCTAssertEqual(plan.groups.map(\.pole), ["IDF_HDF", "IDF_HDF"])
    }
}

/// The stage on a real store: generated data, ingested, scored, then planned.
final class CampaignStageTests: XCTestCase {
    static let world: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("campagne-\(UUID().uuidString)")
        do {
            _ = try Generator(configuration: GeneratorConfiguration(equipements: 1500, seed: 23, malformedRate: 0)).write(to: folder)
            let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
            _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
            _ = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024)
        } catch { fatalError("jeu de test : \(error)") }
        return folder
    }()

    var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("campagne-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// A copy of the scored store, so that each test starts from the same data.
    func store(_ name: String) throws -> Store {
        let path = folder.appendingPathComponent(name)
        try FileManager.default.copyItem(at: Self.world.appendingPathComponent("store.sqlite"), to: path)
        return try Store(path: path.path)
    }

    static let campaign = """
        [campagne]
        id = "TEST-1"
        exercice = 2024
        graine = 99
        [plan_local]
        taux_controle = 0.1
        part_aleatoire = 0.2
        [plan_multi.capacites]
        IDF_HDF = 3
        MEDITERRANEE = 3
        CENTRE_EST_AURA = 3
        ATLANTIQUE = 3
        CENTRE_OUEST = 3
        """

    func testSameFileAndDataGiveByteIdenticalOutputsAndTheCampaignIsStored() throws {
        let config = try CampaignConfig.parse(Self.campaign, file: "t.toml", referentiel: .bundled)
        let a = folder.appendingPathComponent("a")
        let b = folder.appendingPathComponent("b")
        let storeA = try store("a.sqlite")
        let plan = try CampaignStage(store: storeA, referentiel: .bundled).run(config, output: a)
        _ = try CampaignStage(store: try store("b.sqlite"), referentiel: .bundled).run(config, output: b)
        let files = try FileManager.default.contentsOfDirectory(atPath: a.path).sorted()
        XCTAssertEqual(files, try FileManager.default.contentsOfDirectory(atPath: b.path).sorted())
        XCTAssertTrue(files.contains("campagne.json") && files.contains("synthese.html"))
        XCTAssertFalse(files.contains { $0.hasPrefix(".") }, "no temporary file left")
        for file in files {
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(file)), try Data(contentsOf: b.appendingPathComponent(file)), file)
        }
        // Stored: every planned line, once.
        let (stored, distinct) = try storeA.dbQueue.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM campagne_ligne WHERE campagne_id = 'TEST-1'")!,
             try Int.fetchOne(db, sql: "SELECT count(DISTINCT equipement_id) FROM campagne_ligne WHERE campagne_id = 'TEST-1'")!)
        }
        let planned = plan.locals.reduce(0) { $0 + $1.lines.count } + plan.groups.reduce(0) { $0 + $1.sites.count }
        XCTAssertEqual(stored, planned)
        XCTAssertEqual(distinct, planned, "an equipment sits in at most one plan")
        XCTAssertGreaterThan(plan.groups.count, 0)
        // Re-running the same campaign replaces it.
        _ = try CampaignStage(store: storeA, referentiel: .bundled).run(config, output: a)
        XCTAssertEqual(try storeA.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM campagne_ligne") }, planned)
    }

    func testEachCafsExportEqualsItsPlanFile() throws {
        let config = try CampaignConfig.parse(Self.campaign, file: "t.toml", referentiel: .bundled)
        let s = try store("s.sqlite")
        let plan = try CampaignStage(store: s, referentiel: .bundled).run(config, output: folder)
        let caf = try XCTUnwrap(plan.locals.first { !$0.lines.isEmpty }?.caf)
        let exported = folder.appendingPathComponent("export.csv")
        let count = try s.dbQueue.read { try CampaignExport.export($0, campagne: "TEST-1", caf: caf, to: exported) }
        XCTAssertEqual(count, plan.locals.first { $0.caf == caf }!.lines.count)
        XCTAssertEqual(try Data(contentsOf: exported), try Data(contentsOf: folder.appendingPathComponent("plan-local-\(caf).csv")))
        XCTAssertThrowsError(try s.dbQueue.read { try CampaignExport.export($0, campagne: "AUTRE", caf: caf, to: exported) })
        XCTAssertThrowsError(try s.dbQueue.read { try CampaignExport.export($0, campagne: "TEST-1", caf: "2C", to: exported) })
    }

    func testAStoreWithoutScoresForTheExerciceIsAnError() throws {
        var config = try CampaignConfig.parse(Self.campaign, file: "t.toml", referentiel: .bundled)
        config.exercice = 2023
        XCTAssertThrowsError(try CampaignStage(store: try store("x.sqlite"), referentiel: .bundled).run(config, output: folder))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("campagne.json").path))
    }
}
