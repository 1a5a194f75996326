import CiblageModel
import Foundation
import TOMLKit

/// A pipeline definition (`pipelines/<nom>.toml`): stages run in order as separate processes.
///
/// ```toml
/// [pipeline]
/// nom = "nightly"
/// entrees = ["depot"]          # what the run reads: checksummed; unchanged ⇒ nothing to do
///
/// [[etape]]
/// commande = "ciblage-ingest"
/// arguments = ["--rejets", "{run}/rejets.csv", "depot"]
/// ```
/// In arguments and inputs, `{store}` is the store, `{rapports}` the reports folder, `{depot}`
/// the drop folder (`--depot`, default `depot`), `{run}` the run's folder under
/// `rapports/runs/` and `{exercice}` the exercice to work on: `--exercice` of `ciblage-run`,
/// else the latest exercice with réel declarations in the store when the stage starts (so that
/// a nightly scores the exercice its ingest just brought), `{date}` the run's date (UTC,
/// `jj/mm/aaaa`). Every stage receives `--store` first.
public struct Pipeline: Sendable, Equatable {
    public struct Stage: Sendable, Equatable {
        public var commande: String
        public var arguments: [String]
    }

    public var nom: String
    public var entrees: [String]
    public var stages: [Stage]
    /// The definition's text, kept in the manifest.
    public var text: String

    public static let commands: Set<String> = [
        "ciblage-ingest", "ciblage-score", "ciblage-select", "ciblage-export", "ciblage-reperes", "ciblage-bilan", "ciblage-dossier", "ciblage-ida",
    ]

    public static func load(_ url: URL) throws -> Pipeline {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw PipelineError.config(file: url.path, key: "", message: "fichier illisible : \(SystemError.describe(error))")
        }
        return try parse(text, file: url.lastPathComponent)
    }

    public static func parse(_ text: String, file: String) throws -> Pipeline {
        func fail(_ key: String, _ message: String) -> PipelineError { .config(file: file, key: key, message: message) }
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let error as TOMLParseError {
            let said = TOMLMessages.french(error.description, line: error.source.begin.line, column: error.source.begin.column, text: text)
            throw fail(said.key, said.message)
        }
        for key in root.keys where !["pipeline", "etape"].contains(key) { throw fail(key, "clé inconnue (attendues : pipeline, etape)") }
        guard let head = root["pipeline"]?.table else { throw fail("pipeline", "section obligatoire absente") }
        for key in head.keys where !["nom", "entrees"].contains(key) { throw fail("pipeline.\(key)", "clé inconnue (attendues : entrees, nom)") }
        guard let nom = head["nom"]?.string, !nom.isEmpty else { throw fail("pipeline.nom", "texte obligatoire") }
        var entrees: [String] = []
        if let list = head["entrees"] {
            guard let array = list.array else { throw fail("pipeline.entrees", "liste de chemins attendue") }
            for item in array {
                guard let s = item.string else { throw fail("pipeline.entrees", "liste de chemins attendue") }
                entrees.append(s)
            }
        }
        guard let steps = root["etape"]?.array, !steps.isEmpty else { throw fail("etape", "au moins une étape [[etape]] attendue") }
        var stages: [Stage] = []
        for (i, step) in steps.enumerated() {
            let path = "etape[\(i + 1)]"
            guard let table = step.table else { throw fail(path, "table attendue") }
            for key in table.keys where !["commande", "arguments"].contains(key) {
                throw fail("\(path).\(key)", "clé inconnue (attendues : arguments, commande)")
            }
            guard let command = table["commande"]?.string else { throw fail("\(path).commande", "texte obligatoire") }
            guard commands.contains(command) else {
                throw fail("\(path).commande", "commande inconnue « \(command) » (attendues : \(commands.sorted().joined(separator: ", ")))")
            }
            var arguments: [String] = []
            if let list = table["arguments"] {
                guard let array = list.array else { throw fail("\(path).arguments", "liste de textes attendue") }
                for item in array {
                    guard let s = item.string else { throw fail("\(path).arguments", "liste de textes attendue") }
                    guard s != "--store" else { throw fail("\(path).arguments", "--store est donné par ciblage-run") }
                    arguments.append(s)
                }
            }
            stages.append(Stage(commande: command, arguments: arguments))
        }
        return Pipeline(nom: nom, entrees: entrees, stages: stages, text: text)
    }

    /// The stage's arguments with `{store}`, `{rapports}`, `{run}`, `{depot}` and `{exercice}`
    /// replaced, `--store` first.
    public static func expand(
        _ stage: Stage, store: String, rapports: String, run: String, depot: String = "depot", exercice: String = "{exercice}",
        date: String? = nil
    ) -> [String] {
        ["--store", store]
            + stage.arguments.map { substitute($0, store: store, rapports: rapports, run: run, depot: depot, exercice: exercice, date: date) }
    }

    public static func substitute(
        _ text: String, store: String, rapports: String, run: String, depot: String, exercice: String = "{exercice}", date: String? = nil
    ) -> String {
        text.replacingOccurrences(of: "{store}", with: store).replacingOccurrences(of: "{rapports}", with: rapports)
            .replacingOccurrences(of: "{run}", with: run).replacingOccurrences(of: "{depot}", with: depot)
            .replacingOccurrences(of: "{exercice}", with: exercice)
            .replacingOccurrences(of: "{date}", with: date ?? "{date}")
    }

    /// Whether a stage's arguments name `{exercice}`.
    public static func needsExercice(_ stage: Stage) -> Bool { stage.arguments.contains { $0.contains("{exercice}") } }
}

public enum PipelineError: Error, CustomStringConvertible {
    case config(file: String, key: String, message: String)
    case locked(holder: String)
    case stageFailed(stage: String, status: Int32)
    case unwritable(path: String, reason: String)
    /// `{exercice}` asked for while the store holds no réel declaration and no `--exercice` was given.
    case noExercice(stage: String)
    /// The run got `signal` while `stage` ran (it then ended with `status`), or between stages
    /// (`stage` nil). The run ends with 128 + `signal`, as a shell says of a process killed by it.
    case interrupted(signal: Int32, stage: String?, status: Int32?)

    public var description: String {
        switch self {
        case .config(let file, let key, let message): "\(file) : \(key.isEmpty ? "" : "clé « \(key) » : ")\(message)"
        case .locked(let holder): "une autre exécution tient le verrou du store : \(holder)"
        case .stageFailed(let stage, let status): "l'étape \(stage) a échoué (code \(status)) ; les étapes suivantes n'ont pas été lancées"
        case .unwritable(let path, let reason): "impossible d'écrire dans \(path) : \(reason)"
        case .interrupted(let signal, let stage, let status):
            "exécution interrompue par \(Interruption.name(signal))"
                + (stage.map { stage in
                    " pendant l'étape \(stage), " + (status == 0 ? "qui s'est terminée" : "arrêtée à son tour (code \(status ?? 0))")
                } ?? "") + " ; les étapes suivantes n'ont pas été lancées (registre : statut INTERROMPU)"
        case .noExercice(let stage):
            "l'étape \(stage) demande {exercice}, mais le store n'a encore aucune déclaration réelle : donner --exercice AAAA"
        }
    }
}
