import CiblageModel
import CiblagePipeline
import CiblageStore
import Crypto
import Foundation
import GRDB

/// The nightly when the delivery is one Caf's file: a national store already ingested, scored
/// and studied, then one Caf's declarations file of about 3 000 rows (its declarations of the
/// latest exercice, each filed again a day later with costs up 2 %: every row a new current
/// declaration). Times the three steps of the nightly on it (`ciblage-ingest` of the file,
/// `ciblage-score` and `ciblage-reperes` of the exercice, child processes), and checks that the
/// store and the outputs are those of a full re-ingest of the same files into a new store,
/// scored from scratch.
public struct IncrementalBenchmark {
    public var seed: UInt64
    public var workDirectory: URL
    public var binaries: URL
    public var runs: Int
    public var exercice = 2024
    /// Rows the delivery aims at.
    public var deliveryRows = 3_000

    public init(seed: UInt64, workDirectory: URL, binaries: URL, runs: Int) {
        self.seed = seed
        self.workDirectory = workDirectory
        self.binaries = binaries
        self.runs = runs
    }

    func tool(_ name: String) -> URL { binaries.appendingPathComponent(name) }

    /// Runs `name` with `arguments` (output to `log`); its wall seconds and its own peak memory
    /// (KiB, `wait4` of that child alone).
    func step(_ name: String, _ arguments: [String], log: URL) throws -> (seconds: Double, peakKB: Int) {
        let quiet = name == "ciblage-reperes" ? [] : ["--quiet"]
        let result = try Runner.spawn(tool(name).path, quiet + arguments, log: log.path, started: { _ in }, tick: nil)
        guard result.status == 0 else { throw BenchmarkError.failed("\(name) a fini avec le code \(result.status) (voir \(log.path))") }
        return (result.seconds, result.peakKB)
    }

    public func run(log: (String) -> Void) throws -> [Measure] {
        let data = try GeneratedSets.national(equipements: 60_000, seed: seed, in: workDirectory, log: log)
        let exports = data.appendingPathComponent("exports").path
        let folder = workDirectory.appendingPathComponent("incremental")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        var logs = 0
        func step(_ name: String, _ arguments: [String]) throws -> (seconds: Double, peakKB: Int) {
            logs += 1
            return try self.step(name, arguments, log: folder.appendingPathComponent(String(format: "%02d-%@.log", logs, name)))
        }

        // The national store of the night before: ingested, scored (its examples stored), studied.
        log("store national de la veille : ingestion, score, repères…")
        let base = path("veille.sqlite")
        _ = try step("ciblage-ingest", ["--store", base, "--rejets", path("rejets-veille.csv"), exports])
        _ = try step("ciblage-score", ["--store", base, "--exercice", String(exercice), "--sortie", path("score-veille.csv")])
        _ = try step("ciblage-reperes", ["--store", base, "--exercice", String(exercice), "--sortie", path("reperes-veille")])

        let (caf, rows) = try writeDelivery(store: base, to: URL(fileURLWithPath: path("livraison.csv")))
        log("livraison : Caf \(caf), \(rows) lignes de déclarations \(exercice)")

        var totals: [Double] = []
        var stages: [String: [Double]] = [:]
        var peakKB = 0
        for r in 1...max(1, runs) {
            let store = path("nuit-\(r).sqlite")
            try? FileManager.default.removeItem(atPath: store)
            try? FileManager.default.removeItem(atPath: StoreSeal.path(for: store))
            try FileManager.default.copyItem(atPath: base, toPath: store)
            // The store of the night before comes with the seal its score left beside it.
            if FileManager.default.fileExists(atPath: StoreSeal.path(for: base)) {
                try FileManager.default.copyItem(atPath: StoreSeal.path(for: base), toPath: StoreSeal.path(for: store))
            }
            // The copy's pages on disk before the night starts, as the night before left them: else
            // the ingest's first sync would write the whole copy (0.2 s measured with strace).
            try Self.sync(store)
            let timed = [
                ("ingestion", try step("ciblage-ingest", ["--store", store, "--rejets", path("rejets-nuit-\(r).csv"), path("livraison.csv")])),
                ("score", try step("ciblage-score", ["--store", store, "--exercice", String(exercice), "--sortie", path("score-nuit-\(r).csv")])),
                ("repères", try step("ciblage-reperes", ["--store", store, "--exercice", String(exercice), "--sortie", path("reperes-nuit-\(r)")])),
            ]
            for (name, t) in timed {
                stages[name, default: []].append(t.seconds)
                peakKB = max(peakKB, t.peakKB)
            }
            let total = timed.reduce(0) { $0 + $1.1.seconds }
            totals.append(total)
            log(String(format: "nuit %d/%d : ingestion %.2f s, score %.2f s, repères %.2f s, en tout %.2f s", r, runs, timed[0].1.seconds, timed[1].1.seconds, timed[2].1.seconds, total))
        }

        // The same files into a new store, in the same order, scored from scratch.
        log("ré-ingestion complète dans un store neuf, pour comparaison…")
        let fresh = path("complet.sqlite")
        _ = try step("ciblage-ingest", ["--store", fresh, "--rejets", path("rejets-complet-1.csv"), exports])
        _ = try step("ciblage-ingest", ["--store", fresh, "--rejets", path("rejets-complet-2.csv"), path("livraison.csv")])
        _ = try step("ciblage-score", ["--store", fresh, "--exercice", String(exercice), "--sortie", path("score-complet.csv")])
        _ = try step("ciblage-reperes", ["--store", fresh, "--exercice", String(exercice), "--sortie", path("reperes-complet")])
        let night = path("nuit-1.sqlite")
        var differences: [String] = []
        for table in Self.compared {
            if try Self.digest(night, table) != Self.digest(fresh, table) { differences.append("table \(table.name)") }
        }
        if try Data(contentsOf: URL(fileURLWithPath: path("score-nuit-1.csv"))) != Data(contentsOf: URL(fileURLWithPath: path("score-complet.csv"))) {
            differences.append("liste classée")
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: path("reperes-complet")) where name.hasSuffix(".csv") {
            let a = try Data(contentsOf: URL(fileURLWithPath: path("reperes-nuit-1/\(name)")))
            let b = try Data(contentsOf: URL(fileURLWithPath: path("reperes-complet/\(name)")))
            if a != b { differences.append(name) }
        }
        log(differences.isEmpty
            ? "store et sorties identiques à ceux d'une ré-ingestion complète (tables \(Self.compared.map(\.name).joined(separator: ", ")), liste classée, repères)"
            : "DIFFÉRENCES avec la ré-ingestion complète : \(differences.joined(separator: ", "))")

        let sorted = totals.sorted()
        var measures = [
            Measure(name: "nuit incrémentale (\(rows) lignes), meilleur de \(sorted.count)", value: sorted[0], unit: "s", target: "≤ 2 s", met: sorted[0] <= 2),
            Measure(name: "nuit incrémentale, médiane de \(sorted.count)", value: sorted[sorted.count / 2], unit: "s", target: "≤ 2 s", met: sorted[sorted.count / 2] <= 2),
        ]
        for name in ["ingestion", "score", "repères"] {
            let s = stages[name]!.sorted()
            measures.append(Measure(name: "  dont \(name) (médiane)", value: s[s.count / 2], unit: "s", target: nil, met: nil))
        }
        measures.append(Measure(name: "nuit incrémentale : mémoire maximale d'une étape", value: Double(peakKB) / 1024, unit: "Mio", target: "≤ 500 Mio", met: peakKB / 1024 <= 500))
        measures.append(Measure(
            name: "différences avec une ré-ingestion complète", value: Double(differences.count), unit: "", target: "0", met: differences.isEmpty))
        return measures
    }

    /// Writes the delivery: the declarations of `exercice` of the smallest Caf that has at least
    /// ``deliveryRows`` of them (Cafs exporting XML left out), each filed a day later with costs
    /// up 2 %.
    func writeDelivery(store: String, to url: URL) throws -> (caf: String, rows: Int) {
        let queue = try Store(path: store).dbQueue
        return try queue.read { db in
            let counts = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.caf, count(*) FROM declaration d JOIN equipement e ON e.id = d.equipement_id
                    WHERE d.exercice = ? AND e.caf NOT IN ('66', '971') GROUP BY e.caf ORDER BY e.caf
                    """, arguments: [exercice])
            // The smallest Caf of at least `deliveryRows` rows, else the largest.
            let large = counts.filter { ($0[1] as Int) >= deliveryRows }
            guard let chosen = large.min(by: { ($0[1] as Int) < ($1[1] as Int) }) ?? counts.max(by: { ($0[1] as Int) < ($1[1] as Int) }) else {
                throw BenchmarkError.failed("aucune déclaration \(exercice) dans le store de la veille")
            }
            let caf: String = chosen[0]
            let natures = [1: "PREVISIONNEL", 2: "ACTUALISE", 3: "REEL"]
            let figures = ["places", "jours_ouverture", "heures_ouverture", "heures_realisees", "heures_facturees", "nb_enfants",
                           "total_charges", "charges_personnel", "total_produits", "participations_familles", "prestation_caf",
                           "bonus_caf", "subventions_collectivites", "etp"]
            var text = ExportColumns.declarations.map(\.name).joined(separator: ";") + "\r\n"
            var rows = 0
            for r in try Row.fetchAll(
                db,
                sql: """
                    SELECT e.n_dossier, d.exercice, d.nature, d.date_depot, \(figures.map { "d.\($0)" }.joined(separator: ", "))
                    FROM declaration_chiffres d JOIN equipement e ON e.id = d.equipement_id
                    WHERE d.exercice = ? AND e.caf = ? ORDER BY e.n_dossier, d.nature, d.date_depot
                    """, arguments: [exercice, caf])
            {
                let filed = CalendarDate(dayNumber: CalendarDate(yyyymmdd: r[3])!.dayNumber + 1)
                var cells: [String] = [r[0], String(r[1] as Int), natures[r[2] as Int]!, filed.french]
                for (k, name) in figures.enumerated() {
                    guard let value = r[4 + k] as Double? else {
                        cells.append("")
                        continue
                    }
                    let v = name == "total_charges" ? (value * 1.02 * 100).rounded() / 100 : value
                    cells.append(String(v).replacingOccurrences(of: ".", with: ","))
                }
                text += cells.joined(separator: ";") + "\r\n"
                rows += 1
            }
            try Data(text.utf8).write(to: url)
            return (caf, rows)
        }
    }

    /// The tables compared with a full re-ingest, with their columns in a fixed order.
    static let compared: [(name: String, sql: String)] = [
        ("declaration", "SELECT * FROM declaration ORDER BY exercice, equipement_id, nature, date_depot"),
        ("declaration_correction", "SELECT equipement_id, exercice, nature, date_depot, total_charges, ancien_fichier_id, fichier_id, valeurs_modifiees FROM declaration_correction_chiffres ORDER BY id"),
        ("equipement", "SELECT * FROM equipement ORDER BY id"),
        ("controle", "SELECT * FROM controle ORDER BY id"),
        ("indicateur", "SELECT exercice, equipement_id, enjeu_euros, cout_heure, taux_occupation, reel_manquant FROM indicateur ORDER BY exercice, equipement_id"),
        ("score", "SELECT exercice, equipement_id, score, enjeu_euros, priorite, motifs, contributions FROM score ORDER BY exercice, equipement_id"),
    ]

    /// SHA-256 of a table's rows (their values' descriptions), in the order of `table.sql`.
    /// Writes the file's pages to disk.
    static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SystemError.last("ouverture", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError.last("synchronisation", path) }
    }

    static func digest(_ store: String, _ table: (name: String, sql: String)) throws -> String {
        let queue = try Store(path: store).dbQueue
        return try queue.read { db in
            var hasher = SHA256()
            let rows = try Row.fetchCursor(db, sql: table.sql)
            while let row = try rows.next() { hasher.update(data: Data((row.description + "\n").utf8)) }
            return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }
}
