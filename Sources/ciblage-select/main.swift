import ArgumentParser
import CiblageCLI
import CiblageModel
import CiblageReports
import CiblageSelection
import CiblageStore
import Foundation

struct SelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-select",
        abstract: "Prépare les plans de contrôle d'une campagne (plans locaux par Caf, plans multi-départementaux par pôle).",
        discussion: """
            Le fichier de campagne (TOML) : voir pipelines/ et le README. Les scores de l'exercice \
            doivent être dans le store (ciblage-score). Règles, dans l'ordre :
            1. exclus : équipements fermés (date de fermeture connue) et contrôlés depuis moins de \
            exclure_controle_recent_mois avant la date de référence (1er janvier N+1 par défaut) ;
            2. plans multi-départementaux : gestionnaires (SIREN) présents dans au moins \
            min_departements départements, classés par indu attendu cumulé (somme des PRIORITE) dans \
            le pôle du département de leur siège, les meilleurs jusqu'à la capacité du pôle ; par groupe \
            le site du siège, les plus risqués jusqu'à sites_par_groupe − 1, et un site tiré au hasard ;
            3. plans locaux, sans les sites des groupes : capacité = capacites[Caf], sinon \
            taux_controle × équipements actifs de la Caf ; OBLIGATOIRE : jamais contrôlé et enjeu ≥ \
            obligatoire_enjeu_min (au plus obligatoire_part_max du plan) ; CIBLE : par PRIORITE ; \
            ALEATOIRE : part_aleatoire du plan (ou la taille qui donne precision_cible sur le taux \
            d'anomalie de la Caf), tirage simple sans remise parmi le reste, probabilité d'inclusion \
            enregistrée.
            Tirages : SplitMix64 à partir de la graine et du code de Caf ou du SIREN ; même fichier et \
            mêmes données ⇒ fichiers identiques à l'octet. La campagne est stockée (une campagne de \
            même identifiant est remplacée).

            Codes de sortie : 0 succès ; 1 échec (store absent, pas de scores…) ; 2 fichier de campagne \
            ou option incorrects (le message nomme la clé).
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "Fichier de campagne (TOML).")
    var campagne: String

    @Option(help: "Dossier où écrire les plans, campagne.json et synthese.html.")
    var sortie: String

    @Flag(help: "N'affiche que les erreurs.")
    var quiet = false

    func run() throws {
        let ref = try options.loadReferentiel()
        let config: CampaignConfig
        do { config = try CampaignConfig.load(URL(fileURLWithPath: campagne), referentiel: ref) } catch {
            throw CommandFailure("\(error)", status: .usage)
        }
        try options.requireStore()
        do {
            let plan = try CampaignStage(store: try Store(path: options.store), referentiel: ref)
                .run(config, output: URL(fileURLWithPath: sortie))
            if !quiet {
                let lines = plan.locals.flatMap(\.lines)
                print(
                    "campagne \(config.id) : \(FrenchFormat.count(plan.locals.count, "plan local", "plans locaux")), "
                        + "\(FrenchFormat.count(lines.count, "ligne", "lignes")) "
                        + "(\(FrenchFormat.count(lines.filter { $0.tirage == .obligatoire }.count, "obligatoire", "obligatoires")), "
                        + "\(FrenchFormat.count(lines.filter { $0.tirage == .cible }.count, "ciblée", "ciblées")), "
                        + "\(FrenchFormat.count(lines.filter { $0.tirage == .aleatoire }.count, "aléatoire", "aléatoires"))) ; "
                        + (config.capacitesPoles.isEmpty
                            ? "pas de plan multi-départemental"
                            : "\(FrenchFormat.count(plan.groups.count, "groupe multi-départemental", "groupes multi-départementaux")) "
                                + "sur \(plan.groupesEligibles) \(plan.groupesEligibles < 2 ? "éligible" : "éligibles")")
                        + " ; fichiers : \(sortie)")
            }
        } catch let error as CampaignError {
            throw CommandFailure("\(error)")
        } catch {
            throw CommandFailure(CommandRunner.describe(error))
        }
    }
}

CommandRunner.main(SelectCommand.self)
