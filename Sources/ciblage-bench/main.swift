import ArgumentParser
import CiblageBench
import CiblageCLI
import CiblageReports
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ciblage-bench",
        abstract: "Mesure les performances de ciblage sur un jeu national généré (à lancer en mode release).",
        discussion: """
            ingestion : génère le jeu (60 000 équipements, 4 exercices par défaut ; gardé en cache \
            dans --dossier), mesure la lecture CSV seule, la lecture XML validée par le XSD, puis \
            chronomètre ciblage-ingest (processus fils) sur tout le jeu avec sa mémoire maximale, et \
            compare le fichier des rejets à la vérité terrain. Chaque tour ingère aussi une copie du \
            jeu dont les lignes des fichiers CSV de déclarations sont mélangées (graine --graine) : \
            un export que le projet n'a pas écrit, pas trié par clé ; le banc donne le rapport des \
            deux durées.

            score : chronomètre ciblage-score (processus fils) sur le store national laissé par le banc ingestion (créé s'il manque), avec sa mémoire maximale, puis affiche son évaluation contre la vérité terrain du générateur.

            campagne : chronomètre ciblage-select (processus fils) sur ce même store avec pipelines/campagne-multi-2025.toml (toutes les Caf, plans multi-départementaux).

            dossiers : planifie une fois cette campagne (2025-MULTI) sur ce même store, puis chronomètre \
            ciblage-dossier (processus fils) qui écrit les dossiers de toutes ses lignes, de ses groupes \
            et les index des Caf (cible : 10 s, 300 Mio).

            ida : génère et ingère un monde national avec ses projets (environ 15 000), chronomètre \
            ciblage-ida au 31/12/2024 (cible : 2 s, 300 Mio), puis mesure le score des projets à \
            risque contre la vérité du générateur (lift à 20 % face à « les plus anciens d'abord ») \
            sur ce monde et deux mondes de 12 000 équipements d'autres graines.

            bilan : sur --mondes mondes générés (--equipements par monde, 3 000 conseillé), planifie une \
            campagne, réalise ses contrôles d'après la vérité terrain, les ingère, lance le bilan et \
            compte combien de fois l'IC à 95 % du taux d'anomalie de la population contient le vrai taux.

            bout-en-bout : génère les jeux ×1, ×2, ×4 (--facteurs), lance chaque étape (ingestion ; score \
            deux fois, le premier calculant les exemples d'entraînement, le second les relisant comme la \
            nuit suivante ; repères ; campagne ; bilan) en processus fils avec sa durée et sa mémoire, et \
            à côté le script DuckDB scripts/duckdb-reference.py sur les mêmes fichiers (installé par pip \
            s'il manque), --repetitions tours après un tour d'échauffement non compté (tour 0) (chaque \
            tour passe tous les facteurs l'un après l'autre ; pour chacun, toutes les étapes sur un \
            store neuf et le script, l'un puis l'autre en premier d'un tour au suivant ; chiffres : \
            médianes). Cibles au national (×1) : ingestion 3 s, score relu 1,5 s, repères 1 s, nuit \
            6 s, campagne 2 s, ingestion + score au plus le temps du script DuckDB (médiane des \
            rapports de chaque tour) ; à tous les facteurs, 500 Mio par étape. À ×2 et ×4, durées, \
            rapport à DuckDB et coût par équipement relatif au national (médiane des rapports de \
            chaque tour, en durée et en temps processeur) sont donnés sans cible.

            reperes : chronomètre ciblage-reperes (processus fils) sur le store national, par \
            nature × taille.

            incremental : la nuit où la livraison est le fichier d'une seule Caf (environ 3 000 lignes de \
            déclarations 2024, redéposées un jour plus tard) : sur le store national de la veille (ingéré, \
            scoré, repères faits), chronomètre l'ingestion du fichier, le score et les repères de 2024 \
            (processus fils, cible : 2 s en tout), puis vérifie que le store et les sorties sont ceux d'une \
            ré-ingestion complète des mêmes fichiers dans un store neuf, scoré de zéro.

            fuzz : ingère pendant --duree secondes des exports mutés (graine --graine) lus par le \
            lecteur --lecteur (csv ou xml) dans un store jetable, dans un processus fils relancé \
            après chaque plantage ; l'entrée qui l'a fait planter est gardée sous \
            <dossier>/fuzz-<lecteur>/crashes/. Affiche exécutions, plantages et mémoire maximale. \
            À lancer depuis la racine du projet (corpus : Tests/Fixtures et sample-data/exports).

            etalon : la même petite charge de travail (tri de 2²⁰ nombres, 100 000 lignes écrites puis \
            sommées dans une table SQLite en mémoire), en temps processeur, meilleur de 3 : sur un \
            cœur, l'autre au repos, puis sur tous les cœurs à la fois. Tout banc l'imprime aussi sur sa \
            ligne « machine », avant et après ses mesures. Deux passages ne se comparent que si \
            l'étalon y a pris à peu près le même temps : l'hôte est partagé, et sa vitesse change sans \
            toujours apparaître dans le « steal ». Quand le second chiffre approche le double du \
            premier, les deux cœurs sont deux fils d'un même cœur physique.

            Code de sortie 1 si une cible n'est pas atteinte.
            """)

    @Argument(help: "Le banc à lancer : ingestion, score (sur le store du banc ingestion), campagne et dossiers (après le banc score), ida, reperes, incremental, bilan, bout-en-bout, fuzz, etalon.")
    var banc: String = "ingestion"

    @Option(help: "Nombre d'équipements du jeu généré.")
    var equipements: Int = 60000

    @Option(help: "Graine du jeu généré.")
    var graine: UInt64 = 2026

    @Option(help: "Nombre de mesures répétées (meilleur et médiane) : ingestions complètes, nuits incrémentales, tours du banc bout-en-bout…")
    var repetitions: Int = 3

    @Option(help: "Facteurs de taille du banc bout-en-bout (× 60 000 équipements).")
    var facteurs: String = "1,2,4"

    @Option(help: "Nombre de mondes générés du banc bilan.")
    var mondes: Int = 40

    @Option(help: "Fichier de campagne du banc campagne.")
    var campagne: String = "pipelines/campagne-multi-2025.toml"

    @Option(help: "Dossier de travail (jeu généré, store du banc).")
    var dossier: String = ".build/bench"

    @Option(help: "Lecteur du banc fuzz : csv ou xml.")
    var lecteur: String = "csv"

    @Option(help: "Durée du banc fuzz, en secondes.")
    var duree: DecimalOption = DecimalOption(600)

    func validate() throws {
        guard ["ingestion", "score", "campagne", "dossiers", "ida", "reperes", "incremental", "bilan", "bout-en-bout", "fuzz", "fuzz-travail", "etalon"].contains(banc) else {
            throw ValidationError("banc inconnu : « \(banc) » (attendu : ingestion, score, campagne, dossiers, ida, reperes, incremental, bilan, bout-en-bout, fuzz, etalon)")
        }
        guard FuzzBenchmark.Reader(rawValue: lecteur) != nil else {
            throw ValidationError("--lecteur attend csv ou xml, pas « \(lecteur) »")
        }
    }

    func run() throws {
        let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let reader = FuzzBenchmark.Reader(rawValue: lecteur)!
        if banc == "fuzz-travail" {
            return try FuzzBenchmark.work(reader, seconds: duree.value, seed: graine, folder: URL(fileURLWithPath: dossier), root: root)
        }
        if banc == "fuzz" {
            let bench = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            let measures = try FuzzBenchmark(
                reader: reader, seconds: duree.value, seed: graine, workDirectory: URL(fileURLWithPath: dossier), benchExecutable: bench
            ).run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            for measure in measures { print(measure.line) }
            if measures.contains(where: { $0.met == false }) { throw ExitCode(1) }
            return
        }
        if banc == "etalon" {
            let calibration = try Calibration.measure()
            print("étalon processeur (meilleur de 3) : \(calibration.text)")
            return
        }
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let executable = binaries.appendingPathComponent("ciblage-ingest")
        let scorer = binaries.appendingPathComponent("ciblage-score")
        let selector = binaries.appendingPathComponent("ciblage-select")
        let reperes = binaries.appendingPathComponent("ciblage-reperes")
        for tool in [executable, scorer, selector, reperes] where !FileManager.default.isExecutableFile(atPath: tool.path) {
            throw CommandFailure("\(tool.lastPathComponent) introuvable à côté de ciblage-bench : \(tool.path)")
        }
        let folder = URL(fileURLWithPath: dossier)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let loadBefore = HostLoad.now()
        let speedBefore = try Calibration.measure()
        let measures =
            banc == "bout-en-bout"
            ? try EndToEndBenchmark(
                factors: facteurs.split(separator: ",").compactMap { Int($0) }, seed: graine, workDirectory: folder, binaries: binaries,
                duckdbScript: URL(fileURLWithPath: "scripts/duckdb-reference.py"), campaign: URL(fileURLWithPath: campagne),
                rounds: repetitions
            ).run(log: log)
            : banc == "bilan"
            ? try BilanCoverageBenchmark(worlds: mondes, equipements: equipements, workDirectory: folder).run(log: log)
            : banc == "incremental"
            ? try IncrementalBenchmark(seed: graine, workDirectory: folder, binaries: binaries, runs: max(1, repetitions)).run(log: log)
            : banc == "reperes"
            ? try ReperesBenchmark(workDirectory: folder, reperesExecutable: reperes, runs: max(1, repetitions)).run(log: log)
            : banc == "ida"
            ? try IdaBenchmark(
                equipements: equipements, seed: graine, workDirectory: folder,
                idaExecutable: binaries.appendingPathComponent("ciblage-ida"), ingestExecutable: executable, runs: max(1, repetitions)
            ).run(log: log)
            : banc == "dossiers"
            ? try CampaignBenchmark(
                workDirectory: folder, selectExecutable: selector,
                campaign: URL(fileURLWithPath: campagne), runs: max(1, repetitions)
            ).runDossiers(dossierExecutable: binaries.appendingPathComponent("ciblage-dossier"), campaignId: "2025-MULTI", log: log)
            : banc == "campagne"
            ? try CampaignBenchmark(
                workDirectory: folder, selectExecutable: selector,
                campaign: URL(fileURLWithPath: campagne), runs: max(1, repetitions)
            ).run(log: log)
            : banc == "score"
            ? try ScoreBenchmark(
                equipements: equipements, seed: graine, workDirectory: folder, ingestExecutable: executable,
                scoreExecutable: scorer, runs: max(1, repetitions)
            ).run(log: log)
            : try IngestBenchmark(
                equipements: equipements, seed: graine, workDirectory: folder, ingestExecutable: executable,
                runs: max(1, repetitions)
            ).run(log: log)
        // What the host took of the cores meanwhile: the same binaries vary with it.
        let steal = loadBefore.flatMap { before in HostLoad.now().flatMap { before.stealShare(until: $0) } }
        let taken = steal.map { " ; temps des cœurs pris par l'hôte pendant le banc (steal) : " + FrenchFormat.readable($0 * 100, fractionDigits: 1) + " %" } ?? ""
        // How fast the host ran code like ours, before and after: steal does not tell it all.
        let speedAfter = try Calibration.measure()
        let speed = " ; étalon processeur (meilleur de 3) : avant \(speedBefore.text) ; après \(speedAfter.text)"
        print("machine : \(ProcessInfo.processInfo.activeProcessorCount) cœurs, \(ProcessInfo.processInfo.physicalMemory >> 30) Gio\(taken)\(speed)")
        for measure in measures { print(measure.line) }
        if measures.contains(where: { $0.met == false }) { throw ExitCode(1) }
    }
}

CommandRunner.main(BenchCommand.self)
