import ArgumentParser
import CiblageBilan
import CiblageCLI
import CiblageModel
import CiblageReports
import CiblageStore
import Foundation

struct BilanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-bilan",
        abstract: "Bilan d'une campagne de contrôle : réalisation, anomalies, lift, estimation sur la population.",
        discussion: """
            Écrit bilan-<ID>.csv (NIVEAU;CODE;TIRAGE;INDICATEUR;VALEUR;BORNE_BASSE;BORNE_HAUTE, un \
            chiffre par ligne) et bilan-<ID>.html. Rattachement des contrôles : la colonne CAMPAGNE, \
            sinon un contrôle d'un équipement du plan dans les 12 mois qui suivent la date de \
            référence de la campagne. Une campagne jamais planifiée dans ciblage est lue depuis \
            l'ORIGINE de ses contrôles. Taux : intervalles de Clopper–Pearson ; population : \
            Horvitz–Thompson stratifié par Caf, intervalle de Clopper–Pearson sur l'effectif efficace \
            (Korn–Graubard) pour le taux, approximation normale pour les montants ; lift : méthode de Katz.

            Codes de sortie : 0 succès ; 1 campagne inconnue, store absent ; 2 usage.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "Identifiant de la campagne.")
    var campagne: String

    @Option(help: "Dossier où écrire le bilan.")
    var sortie: String

    @Flag(help: "N'affiche que les erreurs.")
    var quiet = false

    func run() throws {
        let ref = try options.loadReferentiel()
        try options.requireStore()
        do {
            let (inputs, figures) = try BilanStage(store: try Store(path: options.store), referentiel: ref)
                .run(campagne: campagne, output: URL(fileURLWithPath: sortie))
            if !quiet {
                let national = figures.filter { $0.level == .national }
                func value(_ t: String, _ i: String) -> Double? { national.first { $0.tirage == t && $0.indicator == i }?.value }
                let done = Int(value("TOUS", "CONTROLES_REALISES") ?? 0)
                let planned = value("TOUS", "CONTROLES_PREVUS").map { " sur \(Int($0)) \(Int($0) < 2 ? "prévu" : "prévus")" } ?? ""
                let rate = value("ALEATOIRE", "TAUX_ANOMALIE_POPULATION").map {
                    " ; taux d'anomalie estimé sur la population " + FrenchFormat.readable($0 * 100, fractionDigits: 1) + " %"
                } ?? ""
                print("bilan \(campagne)\(inputs.planned ? "" : " (campagne non planifiée)") : \(FrenchFormat.count(done, "contrôle réalisé", "contrôles réalisés"))\(planned)\(rate) ; fichiers : \(sortie)")
            }
        } catch let error as BilanError {
            throw CommandFailure("\(error)")
        } catch {
            throw CommandFailure(CommandRunner.describe(error))
        }
    }
}

CommandRunner.main(BilanCommand.self)
