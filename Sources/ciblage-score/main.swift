import ArgumentParser
import CiblageCLI
import CiblageModel
import CiblageReports
import CiblageScoring
import CiblageStore
import Foundation

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-score",
        abstract: "Calcule les indicateurs et le score de risque de chaque équipement actif d'un exercice.",
        discussion: """
            SCORE est la probabilité qu'un contrôle sur place, tiré au hasard, trouve une anomalie \
            avec un indu d'au moins 1 000 € sur les exercices qu'il couvre. Deux modèles sont ajustés \
            sur les contrôles du store faits avant la date de référence, chacun rapporté aux \
            indicateurs de l'équipement à la fin du dernier exercice qu'il couvrait : une régression \
            logistique ridge et des arbres boostés (XGBoost, contraintes monotones, motifs tirés des \
            contributions SHAP exactes). Le backtest à origine glissante sur ces contrôles (ajusté \
            sur les années précédentes, testé sur chaque année) choisit celui qui garde la \
            meilleure AUC. L'origine du contrôle (ciblé, signalement, aléatoire…) et le contrôle sur \
            pièces entrent dans l'ajustement puis sont fixés à « aléatoire, sur place » pour \
            prédire. Avec moins de 300 contrôles étiquetés (ou moins de 30 positifs ou négatifs), \
            les poids d'experts versionnés (experts-1) sont utilisés.

            ENJEU_EUROS : ce qu'un contrôle des exercices N-2 à N peut récupérer — le financement \
            Caf (prestation + bonus) ; sans financement Caf (micro-crèche PAJE), la participation \
            des familles que le CMG finance, à défaut le total des charges. PRIORITE, la clé du \
            classement, en euros : SCORE × Ē × (E[indu | anomalie] / Ē)^α, où E[indu | anomalie] \
            vient d'une régression log-normale sur les contrôles positifs (enjeu, nature, \
            indicateurs) et Ē est sa médiane ; α (0 : SCORE seul, 1 : indu attendu) est choisi par \
            le backtest : l'indu capté à 10 % le plus élevé parmi les clés qui gardent au moins \
            90 % du meilleur lift à 10 %. MOTIFS : les plus fortes contributions au score, avec \
            leur chiffre, séparées par « | ».

            Les indicateurs, le modèle (version, coefficients, effectifs d'entraînement) et les \
            scores sont stockés dans une transaction ; le fichier --sortie est écrit sous un nom \
            temporaire puis renommé. --evaluer mesure le classement sans rien stocker.

            Codes de sortie : 0 succès ; 1 échec (store absent, aucun équipement actif…) ; 2 usage.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "Exercice à scorer (AAAA).")
    var exercice: Int

    @Option(help: "Liste classée à écrire (CSV pour Excel).")
    var sortie: String?

    @Option(help: "La même liste en classeur Excel (.xlsx : codes en texte, montants et scores en nombres).")
    var classeur: String?

    @Option(
        name: .customLong("date-reference"),
        help: "Seuls les contrôles antérieurs à cette date (JJ/MM/AAAA) servent d'historique et d'entraînement (défaut : 1er janvier N+1).")
    var dateReference: String?

    @Flag(help: "Évalue le classement (backtest à origine glissante sur les contrôles du store, calibration, sélection par statut, QPV/ZRR) sans rien stocker.")
    var evaluer = false

    @Option(help: "Avec --evaluer : dossier verite/ du générateur, pour mesurer lift et indu capté contre la vérité terrain.")
    var verite: String?

    @Option(help: "Avec --evaluer : dossier où écrire evaluation-<AAAA>.csv et evaluation-<AAAA>.html.")
    var rapports: String = "reports"

    @Option(help: "Nature du modèle : auto (choisie par le backtest), regression ou arbres.")
    var modele: String = "auto"

    @Flag(help: "N'affiche que les erreurs.")
    var quiet = false

    func validate() throws {
        guard (2000...2100).contains(exercice) else { throw ValidationError("--exercice attend une année AAAA, pas \(exercice)") }
        if let dateReference, CalendarDate(french: dateReference) == nil {
            throw ValidationError("--date-reference attend une date JJ/MM/AAAA, pas « \(dateReference) »")
        }
        if verite != nil && !evaluer { throw ValidationError("--verite ne sert qu'avec --evaluer") }
        guard ["auto", "regression", "arbres"].contains(modele) else {
            throw ValidationError("--modele attend auto, regression ou arbres, pas « \(modele) »")
        }
    }

    func run() throws {
        let ref = try options.loadReferentiel()
        try options.requireStore()
        let asOf = dateReference.flatMap(CalendarDate.init(french:))
        do {
            let opened = try Store(path: options.store)
            if evaluer {
                let truth = try verite.map { try GroundTruth(directory: URL(fileURLWithPath: $0)) }
                let inputs = try opened.dbQueue.read { db in
                    try RiskScoring.inputs(db, exercice: exercice, asOf: asOf, referentiel: ref)
                }
                let evaluation = try Evaluation.run(inputs, truth: truth)
                print(evaluation.text, terminator: "")
                let files = try evaluation.write(to: URL(fileURLWithPath: rapports))
                if !quiet { print("\nrapports : \(files.map(\.path).joined(separator: ", "))") }
                return
            }
            let logger = CommandRunner.makeLogger(label: "ciblage.score", quiet: quiet)
            let summary = try ScoreStage(store: opened, referentiel: ref, logger: logger)
                .run(
                    exercice: exercice, asOf: asOf, output: sortie.map { URL(fileURLWithPath: $0) },
                    workbook: classeur.map { URL(fileURLWithPath: $0) },
                    kind: modele == "arbres" ? .arbres : modele == "regression" ? .entraine : nil)
            if !quiet {
                let m = summary.model
                print(
                    "exercice \(exercice) : \(FrenchFormat.count(summary.scored, "équipement scoré", "équipements scorés")) ; "
                        + "modèle \(m.version) (\(m.kind.rawValue)), \(FrenchFormat.count(m.trainingControls, "contrôle", "contrôles")) "
                        + "d'entraînement dont \(FrenchFormat.count(m.trainingPositives, "positif", "positifs"))"
                        + (sortie.map { " ; liste : \($0)" } ?? "") + (classeur.map { " ; classeur : \($0)" } ?? ""))
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(CommandRunner.describe(error))
        }
    }
}

// Four malloc arenas rather than two: the explanations and reasons of the list are computed on
// two threads that, sharing one arena, waited on its lock (4 400 context switches per national
// first score against 700). Measured 3 December 2026, medians of 8 alternated runs: model,
// scores and reasons 0.62 → 0.56 s on the first score (0.29 s either way on the next night's);
// peak memory +6 Mio at ×1, 431–433 → 455–467 Mio at ×4 (456–466 with both cores busy elsewhere).
CommandRunner.main(ScoreCommand.self, mallocArenas: 4)
