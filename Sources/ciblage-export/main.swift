import ArgumentParser
import CiblageCLI
import CiblageModel
import CiblageReports
import CiblageSelection
import CiblageStore
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-export",
        abstract: "Écrit le plan local d'une Caf depuis une campagne stockée, sans rien recalculer.",
        discussion: """
            Le fichier a les colonnes de plan-local-<CAF>.csv et le même contenu que celui écrit par \
            ciblage-select : en CSV pour Excel (défaut) ou, avec --format xlsx, en classeur Excel \
            (N_DOSSIER, SIREN, COMMUNE en cellules texte : un code 01377 reste 01377).

            Codes de sortie : 0 succès ; 1 campagne ou Caf inconnue, store absent ; 2 usage.
            """)

    @Option(help: "Le store SQLite (défaut : $CIBLAGE_STORE ou data/ciblage.sqlite).")
    var store: String = Store.defaultPath

    @Option(help: "Identifiant de la campagne.")
    var campagne: String

    @Option(help: "Code de la Caf (code du département ; « 1 » est lu « 01 »).", transform: { Referentiel.departementCode($0) })
    var caf: String

    @Option(help: "Fichier à écrire.")
    var sortie: String

    @Option(help: "csv (les colonnes de plan-local-<CAF>.csv, pour Excel) ou xlsx (classeur Excel : codes en texte, montants, scores et taux en nombres ; une première feuille dit ce qu'est le fichier).")
    var format: String = "csv"

    func validate() throws {
        guard ["csv", "xlsx"].contains(format) else { throw ValidationError("--format attend csv ou xlsx, pas « \(format) »") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: store) else { throw CommandFailure("store introuvable : \(store)") }
        do {
            let count = try Store(path: store).dbQueue.read { db in
                try CampaignExport.export(db, campagne: campagne, caf: caf, to: URL(fileURLWithPath: sortie), workbook: format == "xlsx")
            }
            print("campagne \(campagne), Caf \(caf) : \(FrenchFormat.count(count, "ligne", "lignes")) ; fichier : \(sortie)")
        } catch let error as CampaignError {
            throw CommandFailure("\(error)")
        } catch {
            throw CommandFailure(CommandRunner.describe(error))
        }
    }
}

CommandRunner.main(ExportCommand.self)
