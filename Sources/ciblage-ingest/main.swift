import ArgumentParser
import CiblageCLI
import CiblageIngest
import CiblageModel
import CiblageReports
import CiblageStore
import Foundation

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-ingest",
        abstract: "Ingère les exports des partenaires (équipements, déclarations, contrôles) dans le store.",
        discussion: """
            Chaque fichier est reconnu d'après son en-tête (les fichiers XML sont des déclarations), \
            lu puis stocké dans sa propre transaction ; le registre des équipements passe avant les \
            déclarations et les contrôles. Un fichier déjà ingéré (même contenu, SHA-256) est ignoré.

            Chaque ligne est soit stockée, soit rejetée avec son fichier, sa ligne, son champ et le \
            motif, dans le fichier des rejets. Les valeurs bien formées mais invraisemblables \
            (taux de facturation de 180 %, occupation au-delà de 100 %) sont stockées : ce sont des \
            signaux pour le ciblage.

            Chaque rejet est aussi gardé dans le store, dans la transaction de son fichier : si le \
            fichier des rejets n'a pas pu être écrit (processus tué, disque plein), la prochaine \
            ingestion reprend les rejets jamais livrés des fichiers qu'elle ignore comme déjà \
            ingérés ; --rappeler-rejets les reprend tous (réécrire un fichier des rejets).

            Un store qui échoue à la vérification d'intégrité de SQLite (quick_check) est refusé \
            avant toute écriture. Après ses écritures, l'ingestion laisse à côté du store son \
            sceau (<store>-sceau : taille du fichier et empreinte XXH3 de ses deux moitiés) ; \
            tant que le fichier a encore ces octets, la vérification suivante se contente du sceau.

            Codes de sortie : 0 succès (même avec des lignes rejetées) ; 1 échec (disque plein, \
            store endommagé, fichier des rejets impossible à écrire…) — les fichiers stockés avant \
            l'erreur le restent et sont nommés ; 2 usage incorrect ; 3 au moins un fichier refusé \
            en entier (colonne obligatoire absente, XML mal formé ou avec DOCTYPE, seuil \
            --max-rejets dépassé, type non reconnu) — les autres fichiers sont stockés.
            """)

    @Option(help: "Le store SQLite (défaut : $CIBLAGE_STORE ou data/ciblage.sqlite).")
    var store: String = Store.defaultPath

    @Option(help: "Fichier des rejets (défaut : reports/rejets/rejets-<aaaammjj-hhmmss>.csv, suffixé -2, -3… si ce nom existe déjà ; écrit s'il y a des rejets).")
    var rejets: String?

    @Option(
        name: .customLong("max-rejets"),
        help: "Part maximale de lignes rejetées, en %, au-delà de laquelle un fichier n'est pas stocké du tout.")
    var maxRejets: DecimalOption?

    @Option(help: "Dossier du référentiel (natures, anomalies, départements…) remplaçant celui livré.")
    var referentiel: String?

    @Flag(
        name: .customLong("rappeler-rejets"),
        help: "Reprend dans le fichier des rejets les rejets stockés des fichiers déjà ingérés donnés en entrée (réécrire un fichier des rejets).")
    var rappelerRejets = false

    @Flag(help: "N'affiche que les erreurs.")
    var quiet = false

    @Argument(help: "Fichiers ou dossiers à ingérer (les dossiers sont parcourus récursivement : .csv et .xml).")
    var inputs: [String]

    func validate() throws {
        if let maxRejets, !(0...100).contains(maxRejets.value) {
            throw ValidationError("--max-rejets attend un pourcentage entre 0 et 100, pas \(maxRejets.defaultValueDescription)")
        }
    }

    func run() throws {
        let logger = CommandRunner.makeLogger(label: "ciblage.ingest", quiet: quiet)
        let ref: Referentiel
        do { ref = try Referentiel.load(from: referentiel.map { URL(fileURLWithPath: $0) }) } catch {
            throw CommandFailure("référentiel : \(error)", status: .usage)
        }
        // The rejects file is opened first (unnamed temporary): if it cannot be written, nothing is ingested.
        let rejectsURL = URL(fileURLWithPath: rejets ?? Self.freeRejectsPath(stamp: Self.timestamp()))
        let rejectsFile: RejectsFile
        do { rejectsFile = try RejectsFile(url: rejectsURL) } catch {
            throw CommandFailure("fichier des rejets impossible à écrire : \(CommandRunner.describe(error))")
        }
        let opened: Store
        do { opened = try Store(path: store, verify: .quick) } catch let failure as StoreFailure {
            throw CommandFailure("\(failure)")
        } catch {
            throw CommandFailure("store inaccessible (\(store)) : \(CommandRunner.describe(error))")
        }
        logger.debug("store sain d'après \(opened.soundness == .sealed ? "son sceau (quick_check évité)" : "quick_check")")
        let ingestor = Ingestor(store: opened, referentiel: ref, maxRejectPercent: maxRejets?.value, logger: logger)
        ingestor.recallRejects = rappelerRejets
        ingestor.checkpoint = { Self.killIfAsked($0.rawValue, $1) }
        let report: IngestReport
        do {
            report = try ingestor.ingest(inputs.map { URL(fileURLWithPath: $0) })
        } catch let error as IngestError {
            guard case .interrupted(_, _, let partial) = error else { throw CommandFailure("\(error)", status: .usage) }
            // The files stored before the failure keep their rejects in the store; write them if the disk allows.
            finish(partial, rejectsFile, rejectsURL, ingestor)
            throw CommandFailure("\(error)")
        }
        let failure = finish(report, rejectsFile, rejectsURL, ingestor)
        // What was committed here (from a store found sound) is sealed for the next ingest.
        opened.reseal()
        if let failure { throw failure }
        if report.anyRefused {
            throw CommandFailure("au moins un fichier a été refusé en entier (voir ci-dessus) ; les autres sont stockés", status: .refused)
        }
    }

    /// Writes the rejects file (when asked for, or when there is something in it), records
    /// that its files' rejects are delivered, and prints the summary. Returns the failure to
    /// end with when the rejects file could not be written.
    @discardableResult
    func finish(_ report: IngestReport, _ rejectsFile: RejectsFile, _ rejectsURL: URL, _ ingestor: Ingestor) -> CommandFailure? {
        if !quiet {
            for file in report.files { print(file.line) }
            let total = report.files.reduce(into: (0, 0, 0)) { $0.0 += $1.read; $0.1 += $1.stored; $0.2 += $1.rejected }
            print(
                "total : \(FrenchFormat.count(report.files.count, "fichier", "fichiers")), \(FrenchFormat.count(total.0, "lue", "lues")), "
                    + "\(FrenchFormat.count(total.1, "stockée", "stockées")), \(FrenchFormat.count(total.2, "rejetée", "rejetées"))")
        }
        guard rejets != nil || !report.rejects.isEmpty else { return nil }
        Self.killIfAsked("rejets", 0)
        do {
            try rejectsFile.commit(report.rejects)
        } catch {
            return CommandFailure(
                "fichier des rejets non écrit : \(CommandRunner.describe(error)) ; les fichiers stockés le sont, "
                    + "et leurs rejets (\(report.rejects.count)) restent dans le store : la prochaine ingestion les reprendra")
        }
        do { try ingestor.markRejectsDelivered(report.reportedFileIds) } catch {
            // Harmless: the same rejects would be reported once more.
            FileHandle.standardError.write(Data("avertissement : rejets écrits mais non marqués comme livrés : \(CommandRunner.describe(error))\n".utf8))
        }
        if !quiet { print("rejets : \(rejectsURL.relativePath)") }
        return nil
    }

    /// `CIBLAGE_PANNE=<point>:<n>` (tests only): the process kills itself with SIGKILL at that
    /// point of the n-th file — `pendant-stockage` (inside its transaction, its first rows
    /// stored), `avant-validation` (inside its transaction, about to commit), `apres-validation`
    /// (just committed) — or at `rejets:0` (every file stored, before the rejects file is written).
    static func killIfAsked(_ point: String, _ n: Int) {
        if ProcessInfo.processInfo.environment["CIBLAGE_PANNE"] == "\(point):\(n)" { kill(getpid(), SIGKILL) }
    }

    /// `reports/rejets/rejets-<stamp>.csv`, or `…-2.csv`, `…-3.csv` when an ingestion of the
    /// same second already wrote that name: a rejects file is never replaced by the default.
    static func freeRejectsPath(stamp: String) -> String {
        var path = "reports/rejets/rejets-\(stamp).csv"
        var n = 1
        while FileManager.default.fileExists(atPath: path) {
            n += 1
            path = "reports/rejets/rejets-\(stamp)-\(n).csv"
        }
        return path
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date())
    }
}

CommandRunner.main(IngestCommand.self)
