import ArgumentParser
import CiblageCLI
import CiblageIDA
import CiblageModel
import CiblageReports
import CiblageStore
import Foundation

struct IdaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-ida",
        abstract: "IDA : places décidées et ouvertes, délais d'ouverture, projets à risque et liste de suivi de l'année.",
        discussion: """
            Lit les projets de création de places du store (fichier projets) tels qu'ils sont à la date \
            de référence et écrit, <date> étant aaaammjj :
            - ecart-<date>.csv : places décidées, ouvertes, en attente et abandonnées, taux de \
            réalisation des projets décidés il y a 36 mois ou plus, au niveau national, par pôle, Caf et \
            nature ;
            - delais-<date>.csv : le temps de la décision à l'ouverture en risques concurrents \
            (ouverture, abandon ; un projet en attente est censuré à la date de référence) : incidences \
            cumulées d'Aalen–Johansen, ensemble puis par nature ;
            - suivi-ida-<date>.csv : la liste de suivi (projets à risque et équipements fragiles), \
            répartie entre pôles au prorata de leurs places en attente, jusqu'à --capacite lignes ;
            - ida-<date>.html : le rapport (écarts, courbes avec bandes à 95 %, modèle, liste).

            Sans projet dans le store, les fichiers le disent (en-têtes seuls, rapport en mots) et la \
            liste de suivi ne compte que les équipements fragiles.

            Codes de sortie : 0 succès ; 1 store absent, disque plein ; 2 usage.
            """)

    @OptionGroup var options: StoreOptions

    @Option(name: .customLong("date-reference"), help: "Date de référence, JJ/MM/AAAA.")
    var dateReference: String

    @Option(help: "Lignes de la liste de suivi, tous pôles.")
    var capacite: Int = 200

    @Option(help: "Dossier de sortie.")
    var sortie: String

    @Flag(help: "N'affiche que les erreurs.")
    var quiet = false

    func validate() throws {
        guard CalendarDate(french: dateReference) != nil else { throw ValidationError("--date-reference attend JJ/MM/AAAA, pas « \(dateReference) »") }
        guard capacite >= 0 else { throw ValidationError("--capacite doit être positive") }
    }

    func run() throws {
        let ref = try options.loadReferentiel()
        try options.requireStore()
        let summary = try IdaStage(store: try Store(path: options.store), referentiel: ref)
            .run(reference: CalendarDate(french: dateReference)!, capacity: capacite, output: URL(fileURLWithPath: sortie))
        if !quiet {
            print(
                "IDA au \(dateReference) : \(FrenchFormat.count(summary.projets, "projet", "projets")) dont \(summary.enAttente) en attente ; "
                    + "modèle \(summary.model.kind.rawValue) (\(summary.model.trainingProjects) projets à l'issue connue) ; "
                    + "liste de suivi : \(FrenchFormat.count(summary.suivi.count, "ligne", "lignes")) ; dossier : \(sortie)")
        }
    }
}

CommandRunner.main(IdaCommand.self)
