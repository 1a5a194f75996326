import ArgumentParser
import CiblageCLI
import CiblageDossier
import CiblageModel
import CiblageReports
import CiblageStore
import Foundation

struct DossierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-dossier",
        abstract: "Écrit le dossier de contrôle sur place de chaque ligne d'une campagne stockée.",
        discussion: """
            Un dossier HTML autonome par ligne planifiée, imprimable sur A4 (sans script) : identité \
            de l'équipement et du gestionnaire, pourquoi il est dans le plan (tirage, rang, SCORE, \
            indu attendu, motifs chiffrés, probabilité d'inclusion d'une ligne aléatoire), les \
            déclarations des trois exercices couverts (prévisionnel, actualisé, réel et écarts), les \
            indicateurs face aux pairs, l'historique des contrôles, les autres équipements du \
            gestionnaire, puis les points à vérifier dans l'ordre des motifs (référentiel \
            verifications.csv) avec les cases du constat et du résultat.

            Fichiers : DIR/<CAF>/dossier-<N_DOSSIER>.html, DIR/<CAF>/index.html (les dossiers de \
            la Caf), DIR/groupes/groupe-<SIREN>.html (un groupe multi-départemental : siège et \
            sites retenus, Caf concernées, chiffres consolidés, liens vers les dossiers des sites). \
            Chaque dossier de Caf est remplacé en entier ; rien n'est publié si l'écriture échoue.

            Codes de sortie : 0 succès ; 1 campagne ou Caf inconnue, store absent, disque plein ; \
            2 usage.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "Identifiant de la campagne (ciblage-select).")
    var campagne: String

    @Option(help: "Seulement les dossiers de cette Caf (« 1 » est lu « 01 »).", transform: { Referentiel.departementCode($0) })
    var caf: String?

    @Option(name: .customLong("n-dossier"), help: "Seulement le dossier de cet équipement.")
    var nDossier: String?

    @Option(help: "Dossier de sortie.")
    var sortie: String

    @Flag(help: "N'affiche que les erreurs.")
    var quiet = false

    func run() throws {
        let ref = try options.loadReferentiel()
        try options.requireStore()
        do {
            let summary = try DossierStage(store: try Store(path: options.store), referentiel: ref)
                .run(campagne: campagne, caf: caf, nDossier: nDossier, output: URL(fileURLWithPath: sortie))
            if !quiet {
                print(
                    "campagne \(campagne) : \(FrenchFormat.count(summary.dossiers, "dossier", "dossiers")), "
                        + "\(FrenchFormat.count(summary.groupes, "dossier de groupe", "dossiers de groupe")), "
                        + (summary.cafs.isEmpty ? "" : "\(FrenchFormat.count(summary.cafs.count, "index de Caf", "index de Caf")) ; ")
                        + "dossier : \(sortie)")
            }
        } catch let error as DossierError {
            throw CommandFailure("\(error)")
        }
    }
}

CommandRunner.main(DossierCommand.self)
