import ArgumentParser
import CiblageCLI
import CiblagePipeline
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-run",
        abstract: "Exécute une chaîne de traitement de pipelines/ (étapes dans l'ordre, processus séparés).",
        discussion: """
            PIPELINE : un nom (pipelines/<nom>.toml) ou un chemin. Chaque étape est un exécutable \
            ciblage-* lancé à côté de ciblage-run, avec --store en premier ; la chaîne s'arrête à la \
            première étape en échec et sort avec son code. Un verrou (<store>.lock) empêche deux \
            exécutions sur le même store : la seconde dit qui le tient et sort en code 1.

            Registre : <rapports>/runs/<aaaammjj-hhmmss>-<nom>/manifest.json (définition, entrées et \
            leurs SHA-256, versions, durée, mémoire maximale et code de chaque étape, heure UTC) et \
            un journal par étape ; <rapports>/runs/derniere-<nom>.json garde la dernière exécution \
            réussie. Si les entrées déclarées du pipeline n'ont pas changé depuis, rien n'est lancé \
            (--forcer pour relancer).

            Dans les arguments des étapes : {store}, {rapports}, {depot}, {run} (le dossier de \
            l'exécution), {date} (le jour de l'exécution, JJ/MM/AAAA, UTC) et {exercice} : \
            --exercice, sinon le dernier exercice qui a des \
            déclarations réelles dans le store au moment où l'étape démarre (la chaîne nocturne \
            score ainsi l'exercice que son ingestion vient d'apporter).

            Hors terminal (cron), rien n'est affiché sauf les erreurs ; sur un terminal, la \
            progression de chaque étape.

            Codes de sortie : 0 succès ou rien à faire ; 1 verrou tenu, rapports non inscriptibles ; \
            2 définition ou option incorrecte ; sinon le code de l'étape en échec.
            """)

    @Argument(help: "Le pipeline : nom dans pipelines/ ou chemin d'un fichier TOML.")
    var pipeline: String

    @Option(help: "Le store SQLite (défaut : $CIBLAGE_STORE ou data/ciblage.sqlite).")
    var store: String = ProcessInfo.processInfo.environment["CIBLAGE_STORE"].flatMap { $0.isEmpty ? nil : $0 } ?? "data/ciblage.sqlite"

    @Option(help: "Dossier des rapports (défaut : reports).")
    var rapports: String = "reports"

    @Option(help: "Dossier de dépôt des exports, {depot} dans les pipelines (défaut : depot).")
    var depot: String = "depot"

    @Option(help: "L'exercice {exercice} des étapes (défaut : le dernier qui a des déclarations réelles dans le store).")
    var exercice: Int?

    @Flag(name: .customLong("dry-run"), help: "Affiche les commandes sans les lancer.")
    var dryRun = false

    @Flag(help: "Relance même si les entrées n'ont pas changé.")
    var forcer = false

    @Flag(help: "N'affiche que les erreurs (implicite hors terminal).")
    var quiet = false

    func run() throws {
        let url = pipeline.hasSuffix(".toml") ? URL(fileURLWithPath: pipeline) : URL(fileURLWithPath: "pipelines/\(pipeline).toml")
        guard FileManager.default.fileExists(atPath: url.path) else {
            let known = ((try? FileManager.default.contentsOfDirectory(atPath: "pipelines")) ?? [])
                .filter { name in
                    name.hasSuffix(".toml")
                        && ((try? String(contentsOfFile: "pipelines/\(name)", encoding: .utf8))?.contains("[pipeline]") ?? false)
                }
                .map { String($0.dropLast(5)) }.sorted()
            throw CommandFailure(
                "pipeline introuvable : « \(pipeline) » (\(url.path) n'existe pas)"
                    + (known.isEmpty ? "" : " ; pipelines disponibles : \(known.joined(separator: ", "))"), status: .usage)
        }
        let definition: Pipeline
        do { definition = try Pipeline.load(url) } catch { throw CommandFailure("\(error)", status: .usage) }
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let interactive = !quiet && isatty(STDOUT_FILENO) == 1
        let runner = Runner(pipeline: definition, store: store, rapports: rapports, binaries: binaries, interactive: interactive, force: forcer, depot: depot,
            exercice: exercice)
        if dryRun {
            for line in runner.plan() { print(line) }
            return
        }
        do {
            switch try runner.run(say: { FileHandle.standardOutput.write(Data($0.utf8)) }) {
            case .nothingNew(let since):
                if interactive { print("\(definition.nom) : entrées inchangées depuis l'exécution \(since), rien à faire") }
            case .done(let manifest, let folder):
                if interactive {
                    let total = manifest.etapes.reduce(0) { $0 + $1.secondes }
                    print("\(definition.nom) : \(manifest.etapes.count) étapes en \(String(format: "%.1f", total).replacingOccurrences(of: ".", with: ",")) s ; registre : \(folder.path)/manifest.json")
                }
                if manifest.statut == "FICHIERS_REFUSES" {
                    let stages = manifest.etapes.filter { $0.codeSortie == 3 }.map(\.commande).joined(separator: ", ")
                    throw CommandFailure(
                        "\(definition.nom) : au moins un fichier d'entrée refusé en entier (\(stages), voir les journaux dans \(folder.path)) ; "
                            + "les étapes suivantes ont tourné sur le reste", status: .refused)
                }
            }
        } catch let error as PipelineError {
            if case .stageFailed(_, let status) = error {
                FileHandle.standardError.write(Data("erreur : \(error)\n".utf8))
                throw ExitCode(status == 0 ? 1 : status)
            }
            if case .interrupted(let signal, _, _) = error {
                FileHandle.standardError.write(Data("erreur : \(error)\n".utf8))
                throw ExitCode(128 + signal)
            }
            throw CommandFailure("\(error)")
        }
    }
}

CommandRunner.main(RunCommand.self)
