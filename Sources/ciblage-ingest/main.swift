import ArgumentParser
import CiblageCLI
import CiblageIngest
import CiblageModel
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

            Codes de sortie : 0 succès (même avec des lignes rejetées) ; 1 au moins un fichier \
            refusé en entier (colonne obligatoire absente, XML mal formé, seuil --max-rejets \
            dépassé, type non reconnu) — les autres fichiers sont stockés ; 2 usage incorrect.
            """)

    @Option(help: "Le store SQLite (défaut : $CIBLAGE_STORE ou data/ciblage.sqlite).")
    var store: String = Store.defaultPath

    @Option(help: "Fichier des rejets (défaut : reports/rejets/rejets-<aaaammjj-hhmmss>.csv, écrit s'il y a des rejets).")
    var rejets: String?

    @Option(
        name: .customLong("max-rejets"),
        help: "Part maximale de lignes rejetées, en %, au-delà de laquelle un fichier n'est pas stocké du tout.")
    var maxRejets: Double?

    @Option(help: "Dossier du référentiel (natures, anomalies, départements…) remplaçant celui livré.")
    var referentiel: String?

    @Flag(help: "N'affiche que les erreurs.")
    var quiet = false

    @Argument(help: "Fichiers ou dossiers à ingérer (les dossiers sont parcourus récursivement : .csv et .xml).")
    var inputs: [String]

    func validate() throws {
        if let maxRejets, !(0...100).contains(maxRejets) {
            throw ValidationError("--max-rejets attend un pourcentage entre 0 et 100, pas \(maxRejets)")
        }
    }

    func run() throws {
        let logger = CommandRunner.makeLogger(label: "ciblage.ingest", quiet: quiet)
        let ref: Referentiel
        do { ref = try Referentiel.load(from: referentiel.map { URL(fileURLWithPath: $0) }) } catch {
            throw CommandFailure("référentiel : \(error)", status: .usage)
        }
        // The rejects file is opened first (temporary name): if it cannot be written, nothing is ingested.
        let rejectsURL = URL(fileURLWithPath: rejets ?? "reports/rejets/rejets-\(Self.timestamp()).csv")
        let rejectsFile: RejectsFile
        do { rejectsFile = try RejectsFile(url: rejectsURL) } catch {
            throw CommandFailure("fichier des rejets impossible à écrire (\(rejectsURL.path)) : \(CommandRunner.describe(error))")
        }
        let opened: Store
        do { opened = try Store(path: store) } catch {
            throw CommandFailure("store inaccessible (\(store)) : \(CommandRunner.describe(error))")
        }
        let report: IngestReport
        do {
            let ingestor = Ingestor(store: opened, referentiel: ref, maxRejectPercent: maxRejets, logger: logger)
            report = try ingestor.ingest(inputs.map { URL(fileURLWithPath: $0) })
        } catch let error as IngestError {
            throw CommandFailure("\(error)", status: .usage)
        }
        // Written when asked for, or when there is something to say.
        let wroteRejects = rejets != nil || !report.rejects.isEmpty
        if wroteRejects { try rejectsFile.commit(report.rejects) }
        if !quiet {
            for file in report.files { print(file.line) }
            let total = report.files.reduce(into: (0, 0, 0)) { $0.0 += $1.read; $0.1 += $1.stored; $0.2 += $1.rejected }
            print("total : \(report.files.count) fichiers, \(total.0) lues, \(total.1) stockées, \(total.2) rejetées")
            if wroteRejects { print("rejets : \(rejectsURL.relativePath)") }
        }
        if report.anyRefused {
            throw CommandFailure("au moins un fichier a été refusé en entier (voir ci-dessus)")
        }
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date())
    }
}

CommandRunner.main(IngestCommand.self)
