import ArgumentParser
import CiblageCLI
import CiblageGenerate
import CiblageModel
import Foundation

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-generate",
        abstract: "Génère des exports synthétiques réalistes (équipements, déclarations CSV et XML, contrôles) et leur vérité terrain.",
        discussion: """
            Écrit DIR/exports/ (ce que livreraient les systèmes amont, avec leurs bizarreries : \
            Windows-1252, BOM, CRLF, séparateurs de milliers, codes en minuscules, lignes mal formées, \
            fichier livré deux fois, fichier tronqué) et DIR/verite/ (lignes à rejeter, anomalies \
            injectées par équipement et exercice avec l'indu qu'un contrôle trouverait, risque de \
            chaque gestionnaire). Même graine, mêmes options : fichiers identiques à l'octet.
            """)

    @Option(help: "Dossier de sortie.")
    var sortie: String

    @Option(help: "Nombre d'équipements.")
    var equipements: Int = 2000

    @Option(help: "Exercices déclarés, « 2021-2024 ».")
    var exercices: String = "2021-2024"

    @Option(help: "Graine de tous les tirages.")
    var graine: UInt64 = 1

    @Option(help: "Profil du monde : standard, indus-independants (indus sans lien avec le financement), paje (beaucoup de micro-crèches PAJE), peu-aleatoires (peu de contrôles aléatoires), sans-trace (anomalies invisibles dans les déclarations).")
    var profil: String = "standard"

    @Option(name: .customLong("taux-malformes"), help: "Part de lignes mal formées ajoutées (0,003 = 0,3 %).")
    var tauxMalformes: DecimalOption = DecimalOption(0.003)

    @Option(name: .customLong("cafs-xml"), help: "Cafs dont les déclarations sont livrées en XML, séparées par des virgules.")
    var cafsXML: String = "66,971"

    @Option(help: "Cafs dont le monde est fait (départements complets), séparées par des virgules ; toutes si absent.")
    var cafs: String?

    var parsedCafs: [String] {
        (cafs ?? "").split(separator: ",").map { Referentiel.departementCode($0) }
    }

    func validate() throws {
        guard equipements >= 1 else { throw ValidationError("--equipements doit être au moins 1") }
        guard parsedExercices != nil else { throw ValidationError("--exercices attend « AAAA-AAAA », pas « \(exercices) »") }
        guard (0...0.5).contains(tauxMalformes.value) else { throw ValidationError("--taux-malformes doit être entre 0 et 0,5") }
        try validateCafs()
        guard GeneratorConfiguration.Profile(rawValue: profil) != nil else {
            throw ValidationError(
                "--profil inconnu : « \(profil) » (attendu : \(GeneratorConfiguration.Profile.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func validateCafs() throws {
        let known = Set(Referentiel.bundled.departements.keys)
        for code in parsedCafs where !known.contains(code) {
            throw ValidationError("--cafs : « \(code) » n'est pas un département du référentiel")
        }
    }

    var parsedExercices: ClosedRange<Int>? {
        let parts = exercices.split(separator: "-").compactMap { Int($0) }
        if parts.count == 1, (2000...2099).contains(parts[0]) { return parts[0]...parts[0] }
        guard parts.count == 2, parts[0] <= parts[1], parts[0] >= 2000, parts[1] <= 2099 else { return nil }
        return parts[0]...parts[1]
    }

    func run() throws {
        let configuration = GeneratorConfiguration(
            equipements: equipements, exercices: parsedExercices!, seed: graine, malformedRate: tauxMalformes.value,
            xmlCafs: Set(cafsXML.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }),
            profile: GeneratorConfiguration.Profile(rawValue: profil)!, cafs: parsedCafs)
        let summary = try Generator(configuration: configuration).write(to: URL(fileURLWithPath: sortie))
        for file in summary.files {
            let note = file.duplicateDelivery ? " (seconde livraison identique)" : ""
            print("\(file.path) : \(file.records) enregistrements, \(file.expectedRejected) à rejeter\(note)")
        }
        print("\(summary.equipements) équipements, \(summary.managers) gestionnaires, \(summary.declarations) déclarations, \(summary.controles) contrôles, \(summary.anomalousEquipmentYears) équipements-années en anomalie")
    }
}

CommandRunner.main(GenerateCommand.self)
