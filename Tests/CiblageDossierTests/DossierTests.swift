import CiblageGenerate
import CiblageIngest
import CiblageModel
import CiblageScoring
import CiblageSelection
import CiblageStore
import Foundation
import GRDB
import XCTest

@testable import CiblageDossier

/// The dossiers of a campaign planned on a generated, ingested and scored world.
final class DossierTests: XCTestCase {
    static let world: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dossiers-\(UUID().uuidString)")
        do {
            _ = try Generator(configuration: GeneratorConfiguration(equipements: 900, seed: 31, malformedRate: 0, cafs: ["11", "34", "66"]))
                .write(to: folder)
            let store = try Store(path: folder.appendingPathComponent("store.sqlite").path)
            _ = try Ingestor(store: store, referentiel: .bundled).ingest([folder.appendingPathComponent("exports")])
            _ = try ScoreStage(store: store, referentiel: .bundled).run(exercice: 2024)
            let config = try CampaignConfig.parse(
                """
                [campagne]
                id = "D-1"
                exercice = 2024
                graine = 5
                [plan_local]
                taux_controle = 0.1
                part_aleatoire = 0.2
                [plan_multi.capacites]
                MEDITERRANEE = 3
                """, file: "d.toml", referentiel: .bundled)
            _ = try CampaignStage(store: store, referentiel: .bundled).run(config, output: folder.appendingPathComponent("campagne"))
        } catch { fatalError("jeu de test : \(error)") }
        return folder
    }()

    var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dossiers-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func store() throws -> Store {
        let path = folder.appendingPathComponent("s-\(UUID().uuidString).sqlite")
        try FileManager.default.copyItem(at: Self.world.appendingPathComponent("store.sqlite"), to: path)
        return try Store(path: path.path)
    }

    func files(_ root: URL) -> [String] {
        (FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".html") }.sorted()
    }

    func testEveryPlannedLineHasItsDossierAndTheIndexesLinkThemAll() throws {
        let s = try store()
        let output = folder.appendingPathComponent("d")
        let summary = try DossierStage(store: s, referentiel: .bundled).run(campagne: "D-1", output: output)
        let planned = try s.dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM campagne_ligne WHERE campagne_id = 'D-1'")! }
        XCTAssertEqual(summary.dossiers, planned)
        XCTAssertGreaterThan(summary.groupes, 0)
        let all = files(output)
        XCTAssertEqual(all.filter { $0.contains("/dossier-") }.count, planned)
        XCTAssertEqual(all.filter { $0.hasPrefix("groupes/") }.count, summary.groupes)
        XCTAssertEqual(Set(summary.cafs), ["11", "34", "66"])
        var linked = Set<String>()
        for caf in summary.cafs {
            let index = try String(contentsOf: output.appendingPathComponent("\(caf)/index.html"), encoding: .utf8)
            for match in index.matches(of: /href="([^"]+)"/) {
                let target = output.appendingPathComponent(caf).appendingPathComponent(String(match.1)).standardized
                XCTAssertTrue(FileManager.default.fileExists(atPath: target.path), "broken link \(match.1) in \(caf)/index.html")
                linked.insert(target.path)
            }
        }
        let dossiers = Set(all.filter { $0.contains("/dossier-") }.map { output.appendingPathComponent($0).standardized.path })
        XCTAssertTrue(dossiers.isSubset(of: linked), "every dossier is linked from its Caf's index")
        // A group's dossier links its sites' dossiers, which exist.
        let group = try String(contentsOf: output.appendingPathComponent(all.first { $0.hasPrefix("groupes/") }!), encoding: .utf8)
        let sites = group.matches(of: /href="\.\.\/([^"]+)"/).map { String($0.1) }
        XCTAssertFalse(sites.isEmpty)
        for site in sites { XCTAssertTrue(FileManager.default.fileExists(atPath: output.appendingPathComponent(site).path), site) }
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: output.path).contains { $0.hasPrefix(".") }, "no staging left")
    }

    func testTheChecklistFollowsTheReasons() throws {
        var data = try store().dbQueue.inDatabase { try DossierData.load($0, campagne: "D-1", referentiel: .bundled) }
        let line = try XCTUnwrap(data.lines.first { $0.plan == "LOCAL" })
        func first(_ strongest: Feature, _ second: Feature? = nil) -> [String] {
            var c = [Double](repeating: -0.1, count: Feature.allCases.count)
            c[strongest.rawValue] = 1.5
            if let second { c[second.rawValue] = 0.7 }
            data.contributions[line.equipementId] = c
            data.controls[line.equipementId] = []
            return data.checklist(for: line).map(\.check.code)
        }
        XCTAssertEqual(Array(first(.etpParPlace).prefix(1)), ["ENCADREMENT"])
        XCTAssertEqual(Array(first(.retardReel, .tauxFacturation).prefix(2)), ["DECLARATION_TARDIVE", "HEURES_FACTUREES"])
        XCTAssertEqual(Array(first(.tauxFacturation, .retardReel).prefix(2)), ["HEURES_FACTUREES", "DECLARATION_TARDIVE"])
        // Every point of the procedures is there once, whatever the reasons.
        XCTAssertEqual(Set(first(.coutHeure)), Set(Referentiel.bundled.verifications.map(\.code)))
        XCTAssertEqual(first(.coutHeure).first, "CHARGES_HORS_CHAMP")
        // A past finding raises its point, and says so.
        data.contributions[line.equipementId] = [Double](repeating: 0, count: Feature.allCases.count)
        data.controls[line.equipementId] = [
            ControlRecord(
                equipementId: line.equipementId, idControle: "C1", exercices: "2022", type: "SUR_PLACE", origine: "CIBLAGE", resultat: "ANOMALIE",
                anomalies: "ENCADREMENT", campagne: nil, date: 20230315, indu: 4000, rappel: 0)
        ]
        let checks = data.checklist(for: line)
        XCTAssertEqual(checks.first?.check.code, "ENCADREMENT")
        XCTAssertTrue(checks.first?.why.contains { $0.contains("contrôle de 2023") } ?? false, "\(checks.first?.why ?? [])")
        let html = DossierPages.dossier(line, data, groupLink: nil)
        XCTAssertLessThan(
            try XCTUnwrap(html.range(of: "Encadrement :")).lowerBound, try XCTUnwrap(html.range(of: "Heures facturées :")).lowerBound)
    }

    func testALineWithoutDeclarationsForAnExerciceSaysSo() throws {
        let s = try store()
        let n = try s.dbQueue.write { db -> String in
            let row = try Row.fetchOne(
                db, sql: "SELECT e.id, e.n_dossier FROM campagne_ligne l JOIN equipement e ON e.id = l.equipement_id WHERE l.campagne_id = 'D-1' AND l.plan = 'LOCAL' ORDER BY l.rang LIMIT 1")!
            try db.execute(sql: "DELETE FROM declaration WHERE equipement_id = ? AND exercice = 2023", arguments: [row["id"] as Int64])
            return row["n_dossier"]
        }
        let output = folder.appendingPathComponent("d")
        let summary = try DossierStage(store: s, referentiel: .bundled).run(campagne: "D-1", nDossier: n, output: output)
        XCTAssertEqual(summary.dossiers, 1)
        let page = try String(contentsOf: output.appendingPathComponent("\(n.prefix(2))/dossier-\(n).html"), encoding: .utf8)
        XCTAssertTrue(page.contains("Aucune déclaration pour l'exercice 2023 dans le store."))
        XCTAssertFalse(page.contains("Aucune déclaration pour l'exercice 2024"))
        XCTAssertEqual(files(output), ["\(n.prefix(2))/dossier-\(n).html"], "--n-dossier writes that dossier only")
    }

    func testNamesFromUpstreamAreEscaped() throws {
        let s = try store()
        let n = try s.dbQueue.write { db -> String in
            let n = try String.fetchOne(
                db, sql: "SELECT e.n_dossier FROM campagne_ligne l JOIN equipement e ON e.id = l.equipement_id WHERE l.campagne_id = 'D-1' LIMIT 1")!
            try db.execute(
                sql: "UPDATE equipement SET nom = ?, nom_gestionnaire = ? WHERE n_dossier = ?",
                arguments: ["<script>alert(1)</script> & \"Cie\"", "Gestion <b>\"&\"</b>", n])
            return n
        }
        let output = folder.appendingPathComponent("d")
        _ = try DossierStage(store: s, referentiel: .bundled).run(campagne: "D-1", caf: String(n.prefix(2)), output: output)
        for file in files(output) {
            let page = try String(contentsOf: output.appendingPathComponent(file), encoding: .utf8)
            XCTAssertFalse(page.contains("<script>") || page.contains("<b>"), file)
        }
        let page = try String(contentsOf: output.appendingPathComponent("\(n.prefix(2))/dossier-\(n).html"), encoding: .utf8)
        XCTAssertTrue(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Cie&quot;"))
        XCTAssertTrue(page.contains("Gestion &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;"))
    }

    func testTheSameStoreGivesByteIdenticalDossiersAndAFolderIsReplacedWhole() throws {
        let a = folder.appendingPathComponent("a"), b = folder.appendingPathComponent("b")
        _ = try DossierStage(store: try store(), referentiel: .bundled).run(campagne: "D-1", output: a)
        // b holds a stale dossier in a Caf folder and a file of the user beside: the stale one goes, the user's stays.
        try FileManager.default.createDirectory(at: b.appendingPathComponent("66"), withIntermediateDirectories: true)
        try "ancien".write(to: b.appendingPathComponent("66/dossier-PERIME.html"), atomically: true, encoding: .utf8)
        try "note".write(to: b.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        _ = try DossierStage(store: try store(), referentiel: .bundled).run(campagne: "D-1", output: b)
        XCTAssertEqual(files(a), files(b))
        for file in files(a) {
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(file)), try Data(contentsOf: b.appendingPathComponent(file)), file)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: b.appendingPathComponent("66/dossier-PERIME.html").path))
        XCTAssertEqual(try String(contentsOf: b.appendingPathComponent("notes.txt"), encoding: .utf8), "note")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: b.path).filter { $0.hasPrefix(".") }, [])
    }

    func testAnUnknownCampaignNamesTheKnownOnes() throws {
        XCTAssertThrowsError(try DossierStage(store: try store(), referentiel: .bundled).run(campagne: "D-2", output: folder)) { error in
            XCTAssertEqual("\(error)", "campagne inconnue : « D-2 » (campagnes du store : D-1)")
        }
        XCTAssertThrowsError(try DossierStage(store: try store(), referentiel: .bundled).run(campagne: "D-1", caf: "75", output: folder)) { error in
            XCTAssertEqual("\(error)", "la campagne « D-1 » n'a aucune ligne pour la Caf 75")
        }
    }
}
