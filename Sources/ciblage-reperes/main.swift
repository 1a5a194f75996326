import ArgumentParser
import CiblageCLI
import CiblageModel
import CiblageReports
import CiblageReperes
import CiblageStore
import Foundation

struct ReperesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-reperes",
        abstract: "Étude des repères de coûts d'un exercice (prix de revient, reste à charge…) par case, avec secret statistique.",
        discussion: """
            Écrit dans --sortie : reperes-<AAAA>.csv (les axes, puis INDICATEUR;N;MOYENNE;P10;P25;\
            MEDIANE;P75;P90;DIFFUSABLE, puis MOTIF_SECRET et EVOLUTION_MEDIANE), reperes-<AAAA>.html \
            (boîtes à moustaches, tableaux, formules, règles de secret, comparaison aux références \
            nationales), et pour l'analyste seulement reperes-<AAAA>-atypiques.csv. Avec --fragilite, \
            fragilite-<AAAA>[-<CAF>].csv : équipements à risque de fermeture et leurs raisons.

            Équipements retenus : ceux qui ont une déclaration réelle pour l'exercice (la dernière \
            déposée). Indicateurs (euros par an, parts) :
              PRIX_REVIENT_PLACE = charges / places ; PRIX_REVIENT_HEURE = charges / heures réalisées ;
              PRIX_REVIENT_HEURE_FACTUREE = charges / heures facturées ;
              RESTE_A_CHARGE_PLACE = (charges − prestation − bonus − participations) / places ;
              PART_RESTE_A_CHARGE = (charges − prestation − bonus − participations) / charges ;
              PART_FINANCEMENT_CAF = (prestation + bonus) / charges ;
              PARTICIPATION_HORAIRE = participations / heures facturées ;
              TAUX_OCCUPATION = heures réalisées / (places × heures d'ouverture) ;
              TAUX_FACTURATION = heures facturées / heures réalisées.
            Secret : moins de 5 équipements ou de 3 gestionnaires (fréquence), deux gestionnaires \
            au-delà de 85 % des charges (dominance), et secret secondaire quand une seule case d'un \
            indicateur est effacée.

            Codes de sortie : 0 succès ; 1 échec (store absent, pas de réel) ; 2 usage.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "Exercice étudié (AAAA).")
    var exercice: Int

    @Option(help: "Axes des cases, parmi nature, taille, statut, pole, caf (séparés par des virgules).")
    var par: String = "nature,taille"

    @Option(help: "Dossier où écrire l'étude.")
    var sortie: String

    @Flag(help: "Liste aussi les équipements à risque de fermeture (IDA).")
    var fragilite = false

    @Option(help: "Avec --fragilite : la Caf (code) dont lister les équipements (toutes sinon).")
    var caf: String?

    func validate() throws {
        if case .failure(let error) = Axis.parse(par) { throw ValidationError("--par : \(error)") }
        if caf != nil && !fragilite { throw ValidationError("--caf ne sert qu'avec --fragilite") }
    }

    func run() throws {
        let ref = try options.loadReferentiel()
        if let caf, ref.departements[caf] == nil { throw CommandFailure("--caf : Caf inconnue « \(caf) »", status: .usage) }
        try options.requireStore()
        let axes = try Axis.parse(par).get()
        do {
            let summary = try ReperesStage(store: try Store(path: options.store), referentiel: ref)
                .run(exercice: exercice, axes: axes, output: URL(fileURLWithPath: sortie), fragilite: fragilite, caf: caf)
            let blanked = summary.study.cells.filter { !$0.diffusable }.count
            print(
                "repères \(exercice) par \(par) : \(FrenchFormat.count(summary.study.equipments, "équipement", "équipements")), "
                    + "\(FrenchFormat.count(summary.study.cells.count, "case", "cases")) dont \(blanked) non \(blanked < 2 ? "diffusable" : "diffusables") ; "
                    + FrenchFormat.count(summary.outliers, "valeur atypique", "valeurs atypiques")
                    + (summary.fragile.map { " ; " + FrenchFormat.count($0, "équipement fragile", "équipements fragiles") } ?? "") + " ; fichiers : \(sortie)")
        } catch let error as ReperesError {
            throw CommandFailure("\(error)")
        } catch {
            throw CommandFailure(CommandRunner.describe(error))
        }
    }
}

CommandRunner.main(ReperesCommand.self)
