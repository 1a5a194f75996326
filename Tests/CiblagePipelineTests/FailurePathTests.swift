import CXXHash
import CiblageGenerate
import CiblageStore
import Crypto
import Foundation
import GRDB
import XCTest

/// The failure paths of every stage, with the real executables on real files and filesystems:
/// kills at several points, a full disk, special output paths, concurrent starts, a damaged store.
final class FailurePathTests: XCTestCase {
    /// A generated world ingested and scored once for the whole class, with a campaign planned.
    static let world: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pannes-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = try! Generator(configuration: GeneratorConfiguration(equipements: 1500, seed: 5)).write(to: folder)
        let store = folder.appendingPathComponent("base.sqlite").path
        precondition(tool("ciblage-ingest", ["--quiet", "--store", store, "--rejets", folder.appendingPathComponent("propre.csv").path, folder.appendingPathComponent("exports").path], in: folder).status == 0)
        precondition(tool("ciblage-score", ["--quiet", "--store", store, "--exercice", "2024"], in: folder).status == 0)
        try! campaignFile.write(to: folder.appendingPathComponent("campagne.toml"), atomically: true, encoding: .utf8)
        precondition(tool("ciblage-select", ["--store", store, "--campagne", "campagne.toml", "--sortie", "campagne"], in: folder).status == 0)
        return folder
    }()

    static let campaignFile = """
        [campagne]
        id = "PANNE"
        exercice = 2024
        graine = 7
        [plan_local]
        cafs = ["*"]
        taux_controle = 0.10
        part_aleatoire = 0.2
        exclure_controle_recent_mois = 12
        """

    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("panne-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for mount in mounts { _ = Self.shell("/bin/umount", [mount.path]) }
        try? FileManager.default.removeItem(at: folder)
    }

    var exports: URL { Self.world.appendingPathComponent("exports") }

    /// A copy of the scored store, for a test to damage.
    func scoredStore() throws -> String {
        let copy = folder.appendingPathComponent("s.sqlite")
        try FileManager.default.copyItem(at: Self.world.appendingPathComponent("base.sqlite"), to: copy)
        return copy.path
    }

    // MARK: Kill

    func testKillingIngestAtSeveralPointsLosesNoRowAndNoReject() throws {
        let clean = try Self.rejectRows(Self.world.appendingPathComponent("propre.csv"))
        XCTAssertGreaterThan(clean.count, 50, "the generated world has rejects to lose")
        let cleanTables = try Self.tables(Self.world.appendingPathComponent("base.sqlite").path)
        // pendant-stockage:1: the registry half loaded into the new store, its indexes dropped.
        let points = [
            "pendant-stockage:1", "avant-validation:1", "apres-validation:1", "pendant-stockage:2", "avant-validation:4",
            "apres-validation:9", "rejets:0",
        ]
        for point in points {
            let store = folder.appendingPathComponent("k-\(point).sqlite").path
            let first = folder.appendingPathComponent("r1-\(point).csv")
            let second = folder.appendingPathComponent("r2-\(point).csv")
            let killed = Self.tool(
                "ciblage-ingest", ["--quiet", "--store", store, "--rejets", first.path, exports.path], in: folder,
                environment: ["CIBLAGE_PANNE": point])
            XCTAssertEqual(killed.status, 128 + SIGKILL, point)
            let rerun = Self.tool("ciblage-ingest", ["--quiet", "--store", store, "--rejets", second.path, exports.path], in: folder)
            XCTAssertEqual(rerun.status, 0, "\(point): \(rerun.errors)")
            // Nothing half-written beside the rejects files: the killed run's temporary had no name.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
            XCTAssertEqual(leftovers, [], point)
            let union = try Self.rejectRows(first).union(Self.rejectRows(second))
            XCTAssertEqual(union, clean, "\(point): the rejects of both runs are those of a clean ingest")
            XCTAssertEqual(try Self.tables(store), cleanTables, "\(point): the store holds what a clean ingest gives")
        }
    }

    func testARejectsFileCanBeWrittenAgainFromTheStore() throws {
        let store = try scoredStore()
        let again = folder.appendingPathComponent("de-nouveau.csv")
        let run = Self.tool("ciblage-ingest", ["--quiet", "--rappeler-rejets", "--store", store, "--rejets", again.path, exports.path], in: folder)
        XCTAssertEqual(run.status, 0, run.errors)
        XCTAssertEqual(try Self.rejectRows(again), try Self.rejectRows(Self.world.appendingPathComponent("propre.csv")))
        // Without the flag, delivered rejects are not repeated.
        let quiet = folder.appendingPathComponent("rien.csv")
        XCTAssertEqual(Self.tool("ciblage-ingest", ["--quiet", "--store", store, "--rejets", quiet.path, exports.path], in: folder).status, 0)
        XCTAssertEqual(try Self.rejectRows(quiet), [])
    }

    // MARK: Full disk

    func testIngestOnAFullDiskNamesTheStoredFilesAndTheirRejectsComeBackLater() throws {
        guard let disk = try smallDisk(kilobytes: 1600) else { return }
        let store = disk.appendingPathComponent("s.sqlite").path
        let rejects = disk.appendingPathComponent("rejets.csv")
        let run = Self.tool("ciblage-ingest", ["--quiet", "--store", store, "--rejets", rejects.path, exports.path], in: folder)
        XCTAssertEqual(run.status, 1, run.errors)
        XCTAssertTrue(run.errors.contains("disque plein"), run.errors)
        XCTAssertTrue(run.errors.contains("fichiers stockés avant l'erreur : ") && run.errors.contains("equipements.csv"), run.errors)
        XCTAssertFalse(run.errors.contains("NSCocoaErrorDomain") || run.errors.contains("SQLite error"), run.errors)
        let storedNames = try DatabaseQueue(path: store).read { try String.fetchAll($0, sql: "SELECT chemin FROM fichier") }
        XCTAssertFalse(storedNames.isEmpty)
        for name in storedNames { XCTAssertTrue(run.errors.contains(URL(fileURLWithPath: name).lastPathComponent), name) }
        try Self.assertIntact(store)
        // On a disk with room, the same command finishes; with the rejects the failed run could
        // still write (space freed by its rollback), every reject is there.
        let moved = folder.appendingPathComponent("s.sqlite").path
        try FileManager.default.copyItem(atPath: store, toPath: moved)
        let written = try Self.rejectRows(rejects)
        let later = folder.appendingPathComponent("plus-tard.csv")
        XCTAssertEqual(Self.tool("ciblage-ingest", ["--quiet", "--store", moved, "--rejets", later.path, exports.path], in: folder).status, 0)
        XCTAssertEqual(try Self.rejectRows(later).union(written), try Self.rejectRows(Self.world.appendingPathComponent("propre.csv")))
        XCTAssertEqual(try Self.tables(moved), try Self.tables(Self.world.appendingPathComponent("base.sqlite").path))
    }

    func testEveryStageOnAFullDiskChangesNothingAndLeavesNoFile() throws {
        guard let disk = try smallDisk(kilobytes: 64) else { return }
        let store = try scoredStore()
        let before = try Self.sha256(store)
        let runs: [(String, [String])] = [
            ("ciblage-score", ["--exercice", "2024", "--sortie", disk.appendingPathComponent("score/liste.csv").path]),
            ("ciblage-select", ["--campagne", Self.world.appendingPathComponent("campagne.toml").path, "--sortie", disk.appendingPathComponent("campagne").path]),
            ("ciblage-reperes", ["--exercice", "2024", "--fragilite", "--sortie", disk.appendingPathComponent("reperes").path]),
            ("ciblage-bilan", ["--campagne", "PANNE", "--sortie", disk.appendingPathComponent("bilan").path]),
            ("ciblage-export", ["--campagne", "PANNE", "--caf", "66", "--sortie", disk.appendingPathComponent("export/plan-66.csv").path]),
            ("ciblage-export", ["--campagne", "PANNE", "--caf", "66", "--format", "xlsx", "--sortie", disk.appendingPathComponent("export/plan-66.xlsx").path]),
            ("ciblage-dossier", ["--campagne", "PANNE", "--sortie", disk.appendingPathComponent("dossiers").path]),
        ]
        for (command, arguments) in runs {
            let run = Self.tool(command, ["--store", store] + arguments, in: folder)
            XCTAssertEqual(run.status, 1, "\(command): \(run.errors)")
            XCTAssertTrue(run.errors.contains("disque plein"), "\(command): \(run.errors)")
            XCTAssertEqual(try Self.sha256(store), before, "\(command) changed the store")
            XCTAssertEqual(try Self.files(under: disk).filter { $0 != "remplissage" }, [], "\(command) left files")
        }
    }

    /// A store of an earlier version is brought up to date by the first stage that opens it; the
    /// packing of the declarations' figures (v10) writes the table again. On a disk without that
    /// room, the stage said only « disque plein ».
    func testAStoreOfAnEarlierVersionOnAFullDiskIsLeftAsItWasAndTheMessageSaysWhy() throws {
        guard let disk = try smallDisk(kilobytes: 8192) else { return }
        let store = disk.appendingPathComponent("ancien.sqlite").path
        do {
            let queue = try DatabaseQueue(path: store)
            try Store.migrator.migrate(queue, upTo: "v9-rang-calcule")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO fichier (id, nom, chemin, sha256, type_fichier, format, encodage, octets, ingere_le)
                        VALUES (1, 'd.csv', '/d.csv', 'x', 'DECLARATIONS', 'CSV', 'UTF-8', 1, '2026-12-04');
                        INSERT INTO equipement (id, n_dossier, nom, nature, siret, siren_gestionnaire, nom_gestionnaire,
                            statut_gestionnaire, departement_siege, caf, commune, date_ouverture, qpv, zrr, ctg, fichier_id, ligne)
                        VALUES (7, '75-0007', 'Crèche', 'EAJE_COLLECTIF', '', '', '', '', '75', '75', '75056', 20100101, 0, 0, 0, 1, 2);
                        """)
                let insert = try db.makeStatement(
                    sql: """
                        INSERT INTO declaration (equipement_id, exercice, nature, date_depot, places, heures_realisees, total_charges,
                            fichier_id, ligne) VALUES (7, 2024, 3, ?, 30, 51234.5, ?, 1, ?)
                        """)
                for k in 0..<20_000 {
                    // A date de dépôt per row: day, month, then year.
                    let day = 1 + k % 28, month = 1 + k / 28 % 12, year = 2024 + k / 336
                    let charges = 500_000.0 + Double(k) / 100
                    try insert.execute(arguments: [year * 10_000 + month * 100 + day, charges, k])
                }
            }
        }
        // The rest of the disk filled: the store's pages cannot be written twice over.
        let fd = open(disk.appendingPathComponent("remplissage").path, O_WRONLY | O_CREAT, 0o644)
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        close(fd)
        let before = try Self.sha256(store)

        let run = Self.tool("ciblage-score", ["--store", store, "--exercice", "2024"], in: folder)
        XCTAssertEqual(run.status, 1, run.errors)
        XCTAssertTrue(run.errors.contains("erreur : mise à jour du schéma du store impossible (\(store)) : disque plein"), run.errors)
        XCTAssertTrue(run.errors.contains("libérer autant d'espace que le store en occupe"), run.errors)
        XCTAssertEqual(try Self.sha256(store), before, "the store is as it was")
        XCTAssertEqual(try Self.files(under: disk).sorted(), ["ancien.sqlite", "remplissage"], "no journal nor output left")

        // With the room, the same stage brings it up to date, every figure kept.
        try FileManager.default.removeItem(at: disk.appendingPathComponent("remplissage"))
        let store2 = try Store(path: store)
        let charges = try store2.dbQueue.read { try Double.fetchOne($0, sql: "SELECT sum(total_charges) FROM declaration_chiffres") }
        let expected = (0..<20_000).map { 500_000.0 + Double($0) / 100 }.reduce(0, +)
        XCTAssertEqual(try XCTUnwrap(charges), expected, accuracy: 1e-3)
    }

    func testAWorkbookWhoseTemporaryFolderIsFullSaysDiskFullInFrenchAndChangesNothing() throws {
        // libxlsxwriter builds the workbook in the temporary folder: full, the stage said « Zip
        // generic error ZIP_ERRNO while creating the xlsx file. ».
        guard let disk = try smallDisk(kilobytes: 64) else { return }
        let store = try scoredStore()
        let before = try Self.sha256(store)
        let output = folder.appendingPathComponent("sorties")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let runs: [(String, [String])] = [
            ("ciblage-score", ["--exercice", "2024", "--classeur", output.appendingPathComponent("liste.xlsx").path]),
            ("ciblage-export", ["--campagne", "PANNE", "--caf", "66", "--format", "xlsx", "--sortie", output.appendingPathComponent("plan-66.xlsx").path]),
        ]
        for (command, arguments) in runs {
            let run = Self.tool(command, ["--store", store] + arguments, in: folder, environment: ["TMPDIR": disk.path])
            XCTAssertEqual(run.status, 1, "\(command): \(run.errors)")
            XCTAssertTrue(run.errors.contains("erreur : classeur Excel non écrit dans le dossier temporaire"), "\(command): \(run.errors)")
            XCTAssertTrue(run.errors.contains("disque plein"), "\(command): \(run.errors)")
            XCTAssertEqual(try Self.sha256(store), before, "\(command) changed the store")
            XCTAssertEqual(try Self.files(under: output), [], "\(command) left files")
            XCTAssertEqual(try Self.files(under: disk).filter { $0 != "remplissage" }, [], "\(command) left its scratch folder")
        }
    }

    // MARK: Special output paths

    func testOutputsFollowLinksAndWriteDevicesAndFIFOsInPlace() throws {
        let store = try scoredStore()
        // A symbolic link: the file it points to is replaced, the link stays a link.
        let target = folder.appendingPathComponent("vraie-liste.csv")
        let link = folder.appendingPathComponent("liste.csv")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        XCTAssertEqual(Self.tool("ciblage-score", ["--quiet", "--store", store, "--exercice", "2024", "--sortie", link.path], in: folder).status, 0)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), target.path)
        XCTAssertTrue(String(decoding: try Data(contentsOf: target), as: UTF8.self).hasPrefix("\u{FEFF}RANG;N_DOSSIER"))

        // A FIFO: written in place while a reader drains it; it stays a FIFO.
        let fifo = folder.appendingPathComponent("tube.csv").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.arguments = [fifo]
        let drained = Pipe()
        reader.standardOutput = drained
        try reader.run()
        let export = Self.tool("ciblage-export", ["--store", store, "--campagne", "PANNE", "--caf", "66", "--sortie", fifo], in: folder)
        let received = drained.fileHandleForReading.readDataToEndOfFile()
        reader.waitUntilExit()
        XCTAssertEqual(export.status, 0, export.errors)
        XCTAssertTrue(String(decoding: received, as: UTF8.self).hasPrefix("\u{FEFF}RANG;N_DOSSIER;NOM"))
        var info = stat()
        XCTAssertEqual(lstat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO)

        // /dev/full: written in place, fails with "disque plein", and stays a device.
        if getuid() == 0 {
            let full = Self.tool("ciblage-ingest", ["--quiet", "--store", store, "--rejets", "/dev/full", exports.path], in: folder)
            XCTAssertEqual(full.status, 1, full.errors)
            XCTAssertTrue(full.errors.contains("disque plein"), full.errors)
            XCTAssertEqual(lstat("/dev/full", &info), 0)
            XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/full must stay a device")
        }
        // A name too long, a folder that is a file: said as such, in French.
        let long = Self.tool("ciblage-score", ["--store", store, "--exercice", "2024", "--sortie", folder.appendingPathComponent(String(repeating: "x", count: 300) + ".csv").path], in: folder)
        XCTAssertEqual(long.status, 1)
        XCTAssertTrue(long.errors.contains("nom de fichier trop long"), long.errors)
        let notFolder = Self.tool("ciblage-reperes", ["--store", store, "--exercice", "2024", "--sortie", target.appendingPathComponent("sous").path], in: folder)
        XCTAssertEqual(notFolder.status, 1)
        XCTAssertTrue(notFolder.errors.contains("n'est pas un dossier"), notFolder.errors)
    }

    // MARK: Refused files

    func testARefusedFileEndsIngestWith3AndTheNightlyGoesOnAndEndsWith3() throws {
        let depot = folder.appendingPathComponent("depot")
        try FileManager.default.createDirectory(at: depot, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: exports.appendingPathComponent("equipements.csv"), to: depot.appendingPathComponent("equipements.csv"))
        try FileManager.default.copyItem(
            at: exports.appendingPathComponent("declarations-2024.csv"), to: depot.appendingPathComponent("declarations-2024.csv"))
        try """
            <?xml version="1.0"?>
            <!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>
            <exportDeclarations xmlns="urn:sppe:declarations:1" caf="66" dateExport="2025-04-02"/>

            """.write(to: depot.appendingPathComponent("entites.xml"), atomically: true, encoding: .utf8)
        let pipeline = folder.appendingPathComponent("nuit.toml")
        try """
            [pipeline]
            nom = "nuit"
            entrees = ["depot"]
            [[etape]]
            commande = "ciblage-ingest"
            arguments = ["--quiet", "--rejets", "{run}/rejets.csv", "depot"]
            [[etape]]
            commande = "ciblage-reperes"
            arguments = ["--exercice", "2024", "--sortie", "{rapports}/reperes"]
            """.write(to: pipeline, atomically: true, encoding: .utf8)
        let store = folder.appendingPathComponent("nuit.sqlite").path
        let run = Self.tool("ciblage-run", [pipeline.path, "--store", store, "--rapports", "rapports"], in: folder)
        XCTAssertEqual(run.status, 3, run.errors)
        XCTAssertTrue(run.errors.contains("refusé"), run.errors)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("rapports/reperes/reperes-2024.csv").path), "the next stage ran")
        let stored = try DatabaseQueue(path: store).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM fichier") }
        XCTAssertEqual(stored, 2, "every other file is stored")
        // The ingest alone says 3 too, and names the refused file.
        let again = Self.tool("ciblage-ingest", ["--store", store, "--rejets", "r.csv", depot.path], in: folder)
        XCTAssertEqual(again.status, 3)
        let rejects = try Self.rejectRows(folder.appendingPathComponent("r.csv"))
        XCTAssertTrue(rejects.contains { $0.hasPrefix("entites.xml;") && $0.contains("DOCTYPE") }, "\(rejects)")
    }

    // MARK: Usage

    func testMistypedCommandsAreAnsweredInFrenchWithExit2() throws {
        let cases: [(String, [String], String)] = [
            ("ciblage-ingest", ["--stor", "x", "a"], "option inconnue « --stor » ; vouliez-vous dire « --store » ?"),
            ("ciblage-ingest", [], "argument obligatoire manquant : « <inputs> ... »"),
            ("ciblage-ingest", ["--max-rejets", "cent", "x"], "la valeur « cent » n'est pas valide pour « --max-rejets <max-rejets> »"),
            ("ciblage-score", ["--exercice"], "valeur manquante pour « --exercice <exercice> »"),
            ("ciblage-score", ["--exercice", "2024", "de-trop"], "argument inattendu : « de-trop »"),
        ]
        for (command, arguments, expected) in cases {
            let run = Self.tool(command, arguments, in: folder)
            XCTAssertEqual(run.status, 2, "\(command) \(arguments)")
            XCTAssertTrue(run.errors.contains(expected), run.errors)
            XCTAssertTrue(run.errors.lowercased().contains("utilisation : \(command)"), run.errors)
            for english in ["Unknown", "Missing", "Usage:", "See '", "is invalid", "Unexpected"] {
                XCTAssertFalse(run.errors.contains(english), "\(english) in: \(run.errors)")
            }
        }
        // A decimal comma is a decimal, as the help's own examples write it: the registry rejects
        // 4 rows of 1 504 (0,27 %), above 0,1 % (refused, exit 3) and below 0,5 % (stored, exit 0).
        for (threshold, expected) in [("0,1", Int32(3)), ("0,5", 0)] {
            let run = Self.tool(
                "ciblage-ingest", ["--quiet", "--max-rejets", threshold, "--store", "virgule-\(threshold).sqlite", "--rejets", "r.csv",
                    exports.appendingPathComponent("equipements.csv").path], in: folder)
            XCTAssertEqual(run.status, expected, "--max-rejets \(threshold)\n\(run.errors)")
        }
        // --help: French labels, each default said once, in French.
        let p = Process()
        p.executableURL = Self.products.appendingPathComponent("ciblage-score")
        p.arguments = ["--help"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let help = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        for label in ["RÉSUMÉ : ", "UTILISATION : ", "OPTIONS :", "Affiche cette aide.", "(défaut : auto)"] {
            XCTAssertTrue(help.contains(label), label)
        }
        XCTAssertFalse(help.contains("(default:"), help)
        XCTAssertEqual(help.components(separatedBy: "data/ciblage.sqlite").count - 1, 1, "the store's default said once")
    }

    // MARK: Store

    func testTwoStagesCreatingOneNewStoreAtOnceBothSucceed() throws {
        let registry = exports.appendingPathComponent("equipements.csv").path
        for round in 0..<20 {
            let store = folder.appendingPathComponent("neuf-\(round).sqlite").path
            let processes = try (0..<2).map { i -> (Process, Pipe) in
                let p = Process()
                p.executableURL = Self.products.appendingPathComponent(i == 0 ? "ciblage-ingest" : "ciblage-reperes")
                p.arguments = i == 0
                    ? ["--quiet", "--store", store, "--rejets", folder.appendingPathComponent("r\(round).csv").path, registry]
                    : ["--store", store, "--exercice", "2024", "--sortie", folder.appendingPathComponent("rep\(round)").path]
                p.currentDirectoryURL = folder
                let errors = Pipe()
                p.standardError = errors
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                return (p, errors)
            }
            for (p, errors) in processes {
                p.waitUntilExit()
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                XCTAssertFalse(text.contains("already exists") || text.contains("existe déjà"), "round \(round): \(text)")
                // The ingest succeeds; the study finds no réel (1) but never trips on the schema.
                XCTAssertEqual(p.terminationStatus, p.arguments![0] == "--quiet" ? 0 : 1, "round \(round): \(text)")
            }
            try Self.assertIntact(store)
        }
    }

    func testADamagedStoreIsRefusedBeforeAnyWrite() throws {
        let store = try scoredStore()
        // Sealed by an ingest first: its seal must not vouch for the bytes flipped after.
        let sealing = Self.tool("ciblage-ingest", ["--quiet", "--store", store, "--rejets", folder.appendingPathComponent("r0.csv").path, exports.path], in: folder)
        XCTAssertEqual(sealing.status, 0, sealing.errors)
        XCTAssertTrue(StoreSeal.holds(for: store))
        // Flip bytes in the middle of the file (table pages, not the header).
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: store))
        let size = try handle.seekToEnd()
        for offset in stride(from: size / 3, to: size / 3 + 40_000, by: 997) {
            try handle.seek(toOffset: offset)
            let byte = try handle.read(upToCount: 1)!
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data([~byte[0]]))
        }
        try handle.close()
        let before = try Self.sha256(store)
        let run = Self.tool("ciblage-ingest", ["--quiet", "--store", store, "--rejets", folder.appendingPathComponent("r.csv").path, exports.path], in: folder)
        XCTAssertEqual(run.status, 1, run.errors)
        XCTAssertTrue(run.errors.contains("store endommagé"), run.errors)
        XCTAssertEqual(try Self.sha256(store), before, "nothing is written to a damaged store")
        XCTAssertNotNil(StoreSeal.recorded(for: store), "refused although a seal was there")
    }

    func testTheSealIsTheFilesSizeAndTheXXH3OfItsHalves() throws {
        func file(_ bytes: [UInt8]) throws -> String {
            let url = folder.appendingPathComponent("f-\(bytes.count)")
            try Data(bytes).write(to: url)
            return url.path
        }
        // Reference values of XXH3-64 (seed 0), from the xxhash package of Python: an odd size
        // gives halves of 4 and 5 bytes; an empty file, two empty halves.
        XCTAssertEqual(
            try StoreSeal.of(file: file(Array("123456789".utf8))),
            StoreSeal(size: 9, firstHalf: 0x87B1_E526_910F_D7E1, secondHalf: 0x25AB_8F9B_EFB9_F31B))
        XCTAssertEqual(try StoreSeal.of(file: file([])), StoreSeal(size: 0, firstHalf: 0x2D06_8005_38D3_94C2, secondHalf: 0x2D06_8005_38D3_94C2))
        // Several 1 MiB chunks per half, against each half hashed in one call.
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(3 << 20) + 12_345).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let half = bytes.count / 2
        let first = bytes[..<half].withUnsafeBytes { XXH3_64bits($0.baseAddress, $0.count) }
        let second = bytes[half...].withUnsafeBytes { XXH3_64bits($0.baseAddress, $0.count) }
        let path = try file(bytes)
        XCTAssertEqual(try StoreSeal.of(file: path), StoreSeal(size: Int64(bytes.count), firstHalf: first, secondHalf: second))
        // A seal of the first format (size and CRC-32) is not read: the store is checked in full.
        try Data("ciblage-sceau-1 \(bytes.count) cbf43926\n".utf8).write(to: URL(fileURLWithPath: StoreSeal.path(for: path)))
        XCTAssertNil(StoreSeal.recorded(for: path))
        XCTAssertFalse(StoreSeal.holds(for: path))
        // Recorded, read back, and no longer holding once one byte changes.
        try StoreSeal.of(file: path).record(for: path)
        XCTAssertTrue(StoreSeal.holds(for: path))
        var changed = bytes
        changed[2 << 20] ^= 0x10
        try Data(changed).write(to: URL(fileURLWithPath: path))
        XCTAssertFalse(StoreSeal.holds(for: path))
        StoreSeal.discard(for: path)
        XCTAssertNil(StoreSeal.recorded(for: path))
    }

    func testTheSealSparesTheFullCheckOnlyWhileStagesThatFoundTheStoreSoundAloneWroteIt() throws {
        let store = try scoredStore()
        let debug = ["CIBLAGE_LOG": "debug"]
        func ingest(_ n: Int) -> String {
            let run = Self.tool(
                "ciblage-ingest", ["--quiet", "--store", store, "--rejets", folder.appendingPathComponent("r\(n).csv").path, exports.path],
                in: folder, environment: debug)
            XCTAssertEqual(run.status, 0, run.errors)
            return run.errors
        }
        func score() {
            let run = Self.tool("ciblage-score", ["--quiet", "--store", store, "--exercice", "2024"], in: folder)
            XCTAssertEqual(run.status, 0, run.errors)
        }
        // A copy without its seal is checked in full, then sealed.
        XCTAssertNil(StoreSeal.recorded(for: store))
        XCTAssertTrue(ingest(1).contains("d'après quick_check"))
        XCTAssertTrue(StoreSeal.holds(for: store))
        // The score found it sealed: it seals what it wrote, and the next ingest trusts that.
        score()
        XCTAssertTrue(StoreSeal.holds(for: store))
        // So does a campaign.
        let campaign = Self.tool(
            "ciblage-select",
            ["--store", store, "--campagne", Self.world.appendingPathComponent("campagne.toml").path, "--sortie", folder.appendingPathComponent("c").path],
            in: folder)
        XCTAssertEqual(campaign.status, 0, campaign.errors)
        XCTAssertTrue(StoreSeal.holds(for: store))
        XCTAssertTrue(ingest(2).contains("d'après son sceau"))

        // Another program writes to the store: the seal no longer holds, the score does not
        // seal again what it wrote on top, and the next ingest checks every page.
        try DatabaseQueue(path: store).write { try $0.execute(sql: "UPDATE equipement SET commune = commune || ' ' WHERE id = 1") }
        XCTAssertFalse(StoreSeal.holds(for: store))
        score()
        XCTAssertNil(StoreSeal.recorded(for: store), "a store not found sound is not sealed")
        XCTAssertTrue(ingest(3).contains("d'après quick_check"))
        XCTAssertTrue(StoreSeal.holds(for: store))
    }

    // MARK: Helpers

    var mounts: [URL] = []

    /// A tmpfs of `kilobytes` filled to the last byte but for nothing: only as root (else the test
    /// says why and passes over it).
    func smallDisk(kilobytes: Int) throws -> URL? {
        guard getuid() == 0 else {
            print("test passé : monter un tmpfs demande d'être root")
            return nil
        }
        let disk = folder.appendingPathComponent("disque")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        guard Self.shell("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", disk.path]) == 0 else {
            print("test passé : montage tmpfs impossible ici")
            return nil
        }
        mounts.append(disk)
        if kilobytes < 1000 {
            // Fill it: every later write meets a full disk.
            let fd = open(disk.appendingPathComponent("remplissage").path, O_WRONLY | O_CREAT, 0o644)
            let block = [UInt8](repeating: 0, count: 4096)
            while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
            close(fd)
        }
        return disk
    }

    static func shell(_ executable: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    static var products: URL { RunnerProcessTests.products }

    /// Runs a built `ciblage-*` command; returns its exit status and its stderr.
    @discardableResult
    static func tool(_ name: String, _ arguments: [String], in folder: URL, environment: [String: String] = [:]) -> (status: Int32, errors: String) {
        let p = Process()
        p.executableURL = products.appendingPathComponent(name)
        p.arguments = arguments
        p.currentDirectoryURL = folder
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        try! p.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // Killed by a signal: 128 + its number, as a shell says it.
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return (status, String(decoding: data, as: UTF8.self))
    }

    /// The rows of a rejects file (header excluded), as a set; empty when there is no file.
    static func rejectRows(_ url: URL) throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let text = try String(contentsOf: url, encoding: .utf8)
        return Set(text.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty })
    }

    /// Every stored row of the data tables, without the ids of files (which depend on the order
    /// in which runs stored them), as text.
    static func tables(_ path: String) throws -> [String: [String]] {
        try DatabaseQueue(path: path).read { db in
            var result: [String: [String]] = [:]
            for table in [
                "equipement", "declaration", "controle", "controle_exercice", "controle_anomalie", "rejet", "declaration_correction",
                "equipement_historique", "controle_historique",
            ] {
                guard try db.tableExists(table) else { continue }
                let columns = try db.columns(in: table).map(\.name).filter { !$0.hasSuffix("fichier_id") && $0 != "id" }
                let list = columns.map { "quote(\($0))" }.joined(separator: " || ';' || ")
                result[table] = try String.fetchAll(db, sql: "SELECT \(list) FROM \(table) ORDER BY 1").sorted()
            }
            // The schema too, indexes included: an ingest drops the registry's indexes while it
            // loads an empty registry, and a kill or a full disk must leave them there.
            result["sqlite_master"] = try String.fetchAll(
                db, sql: "SELECT type || ' ' || name || ' ' || sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            return result
        }
    }

    static func assertIntact(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let check = try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        XCTAssertEqual(check, "ok", file: file, line: line)
        let orphans = try DatabaseQueue(path: path).read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM declaration WHERE fichier_id NOT IN (SELECT id FROM fichier)")!
        }
        XCTAssertEqual(orphans, 0, file: file, line: line)
    }

    static func sha256(_ path: String) throws -> String {
        SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
    }

    static func files(under folder: URL) throws -> [String] {
        (FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String] ?? []).filter {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path, isDirectory: &isDirectory)
            return !isDirectory.boolValue
        }.sorted()
    }
}
