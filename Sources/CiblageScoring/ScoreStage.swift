import CiblageModel
import CiblageReports
import CiblageStore
import Foundation
import GRDB
import Logging

/// What `ciblage-score` did.
public struct ScoreSummary: Sendable {
    public var exercice: Int
    public var model: RiskModel
    public var scored: Int
    public var modelId: Int64
    public var lines: [ScoredLine]
}

/// The `ciblage-score` stage: computes, stores (one transaction) and writes the ranked list.
public struct ScoreStage {
    public var store: Store
    public var referentiel: Referentiel
    public var logger: Logger

    /// The columns of the ranked list (commands.md).
    public static let header = ["RANG", "N_DOSSIER", "CAF", "NATURE", "SIREN_GESTIONNAIRE", "SCORE", "ENJEU_EUROS", "PRIORITE", "MOTIFS"]

    public init(store: Store, referentiel: Referentiel, logger: Logger = Logger(label: "ciblage.score")) {
        self.store = store
        self.referentiel = referentiel
        self.logger = logger
    }

    /// Logs (debug) the seconds spent since `start` on `phase`, and returns now.
    func lap(_ phase: String, since start: DispatchTime) -> DispatchTime {
        let now = DispatchTime.now()
        let seconds = Double(now.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let processor = FrenchFormat.decimal(Self.processorSeconds(), fractionDigits: 3)
        let message =
            "\(phase) : \(FrenchFormat.decimal(seconds, fractionDigits: 3)) s, processeur \(processor) s depuis le début, "
            + "mémoire résidente \(Self.residentMiB()) Mio"
        logger.debug("\(message)")
        return now
    }

    /// The processor time the process has used so far (user and system, every thread), seconds.
    static func processorSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// The process's resident memory now, MiB (`/proc/self/statm`; 0 elsewhere).
    static func residentMiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / (1 << 20)
    }

    /// Scores `exercice` with the history known before `asOf`, replaces the stored indicators
    /// and scores of that exercice, and with `output` writes the ranked list there (temporary
    /// name, renamed once the store has committed); with `workbook`, the same list as an Excel
    /// workbook (``rankingWorkbook(_:exercice:model:asOf:)``), published with it.
    /// `kind` forces the model kind (regression or trees) instead of the backtest's choice.
    public func run(
        exercice: Int, asOf: CalendarDate? = nil, output: URL? = nil, workbook: URL? = nil, kind: RiskModel.Kind? = nil,
        now: Date = Date()
    ) throws -> ScoreSummary {
        let stamp = ISO8601DateFormatter().string(from: now)
        let referentiel = referentiel
        var t = DispatchTime.now()
        // One transaction: the indicators of the exercice are stored while the model is trained
        // and the equipments scored, then the model and the scores; the list is written
        // meanwhile on another thread and renamed into place once the store has committed.
        // Every equipment and model this stage writes a row for is read or inserted in the same
        // transaction: the foreign-key checks (two lookups per row of `score`, one per row of
        // `indicateur`, and a statement journal for each multi-row insert) would prove nothing.
        let (summary, writer, book) = try store.writeWithoutForeignKeyChecks { db -> (ScoreSummary, FrenchCSVWriter?, OutputFile?) in
            // Ordered reads, then appends: a 16 MiB page cache holds what is reused (the store's
            // 64 MiB would add some fifty megabytes at the stage's peak).
            try db.execute(sql: "PRAGMA cache_size = -16384")
            // Whether the store is still as a stage that knew it sound sealed it: computed while
            // this transaction reads, settled before it writes; if so, it is sealed again after.
            let seal = try store.checkSeal(db)
            // The indicators are stored while the features are built, and what is left of them
            // once they are, with their digits (``IndicatorCache``), while the model is trained
            // (read back, those of the equipments not computed again are stored already).
            var indicators = IndicatorsLeft()
            let prepared = try RiskScoring.inputs(
                db, exercice: exercice, asOf: asOf, referentiel: referentiel, cacheStamp: stamp, beforeWriting: seal.settle,
                whileBuilding: { scored in
                    indicators = IndicatorsLeft(stamp: scored.indicatorStamp, only: scored.recomputed)
                    if scored.recomputed == nil { try IndicatorStore.clear(db, exercice: exercice) }
                    let years = scored.years
                    while indicators.stored < years.count, !scored.featuresBuilt() {
                        let end = min(years.count, indicators.stored + 8192)
                        try IndicatorStore.insert(
                            db, exercice: exercice, years[indicators.stored..<end].lazy.map(\.indicators), computedAt: stamp,
                            only: scored.recomputed)
                        indicators.stored = end
                    }
                })
            Memory.returnFreed()
            t = lap(
                "lecture, indicateurs (\(prepared.recomputedYears) équipements sur \(prepared.rows.count) calculés, "
                    + "les autres relus) et caractéristiques, indicateurs stockés pendant ce temps", since: t)
            guard !prepared.rows.isEmpty else { throw ScoreError.noActiveEquipment(exercice: exercice) }
            // The model is trained and the equipments scored on other threads while this one, the
            // store's, stores the rest of the indicators.
            let progress = Progress.shared.step("score \(exercice) : modèle, scores et stockage", unit: "étapes")
            defer { progress.finish() }
            // A model fitted on the same examples is read back rather than fitted again.
            let digest = RiskScoring.trainingDigest(prepared.training, kind: kind)
            let fitted = try digest.flatMap { digest in
                try String.fetchOne(
                    db, sql: "SELECT parametres FROM modele_score WHERE entrainement = ? ORDER BY id DESC LIMIT 1", arguments: [digest])
            }.flatMap { try? JSONDecoder().decode(RiskModel.self, from: Data($0.utf8)) }
            let modelling = BackgroundWork { () throws -> (RiskModel, [ScoredLine]) in
                let model = try fitted ?? RiskScoring.train(prepared.training, population: prepared.rows, kind: kind)
                return (model, try RiskScoring.score(prepared.rows, model: model, exercice: exercice))
            }
            // The indicators not stored while the features were built: those of the rows from
            // there on (the rows come in the order of the years, with the same indicators and
            // digits).
            do {
                let rest = prepared.rows[min(indicators.stored, prepared.rows.count)...]
                try IndicatorStore.insert(db, exercice: exercice, rest.lazy.map(\.indicators), computedAt: stamp, only: indicators.only)
                if let indicatorStamp = indicators.stamp {
                    try IndicatorCache.save(
                        db, exercice: exercice, stamp: indicatorStamp,
                        digits: prepared.rows.lazy.map { (id: $0.profile.id, digits: $0.packedDigits) }, computedAt: stamp,
                        only: indicators.only)
                }
            } catch {
                modelling.discard()
                throw error
            }
            let (model, lines) = try modelling.wait()
            Memory.returnFreed()
            t = lap("modèle (\(prepared.training.count) contrôles), scores et motifs", since: t)
            let asOf = prepared.asOf
            // The list and its workbook are written on other threads while the store saves.
            let listing = output.map { url in BackgroundWork { try Self.writeRanking(lines, to: url) } }
            let sheet = workbook.map { url in
                BackgroundWork { try Self.rankingWorkbook(lines, exercice: exercice, model: model, asOf: asOf).finish(to: url) }
            }
            let modelId = try Self.save(
                db, exercice: exercice, asOf: prepared.asOf, model: model, trainingDigest: digest, lines: lines, computedAt: stamp)
            let writer = try listing?.wait()
            let book = try sheet?.wait()
            t = lap("stockage des scores et liste classée", since: t)
            // Freed one by one, the lines and the features took about 50 ms after the commit.
            Memory.keepUntilExit(prepared, as: "score.inputs")
            Memory.keepUntilExit(lines, as: "score.lines")
            return (ScoreSummary(exercice: exercice, model: model, scored: lines.count, modelId: modelId, lines: lines), writer, book)
        }
        store.reseal()
        t = lap("validation de la transaction et sceau du store", since: t)
        try writer?.commit()
        try book?.commit()
        return summary
    }

    /// How far the storing of the indicators went while the features were built.
    struct IndicatorsLeft {
        /// What the indicators were computed from, when ``IndicatorCache`` keeps their digits.
        var stamp: IndicatorCache.Stamp?
        /// The equipments whose indicators are stored (`nil`: every one).
        var only: Set<Int64>?
        /// Years whose indicators are stored, from the first.
        var stored = 0
    }

    /// Writes and syncs the ranked list under a temporary name; the caller commits it (renames it
    /// into place) once the store's transaction is committed.
    public static func writeRanking(_ lines: [ScoredLine], to url: URL) throws -> FrenchCSVWriter {
        let writer = try FrenchCSVWriter(url: url, header: header)
        for line in lines {
            let p = line.row.profile
            try writer.writeRow { cells in
                cells.integer(line.rank)
                cells.text(p.nDossier)
                cells.text(p.caf)
                cells.text(p.nature)
                cells.text(p.sirenGestionnaire)
                cells.decimal(line.score, fractionDigits: 4)
                cells.decimal(line.enjeu, fractionDigits: 0)
                cells.decimal(line.priorite, fractionDigits: 0)
                cells.text(line.motifsText)
            }
        }
        try writer.finish()
        return writer
    }

    /// The ranked list as an Excel workbook: a first sheet saying what it is (exercice, model,
    /// date of the history used), then the list with the CSV's columns (codes as text, SCORE,
    /// ENJEU_EUROS and PRIORITE as numbers). Its creation date is the history's date.
    public static func rankingWorkbook(_ lines: [ScoredLine], exercice: Int, model: RiskModel, asOf: CalendarDate) throws -> ExcelWorkbook {
        let book = try ExcelWorkbook(title: "Score de risque \(exercice)", created: Date(timeIntervalSince1970: Double(asOf.dayNumber) * 86_400))
        book.addAbout(
            title: "Score de risque, exercice \(exercice)",
            lines: [
                ("Contenu", "Liste classée des équipements actifs par PRIORITE (indu attendu), la meilleure cible en premier."),
                ("Exercice", String(exercice)),
                ("Historique jusqu'au", asOf.french),
                ("Modèle", "\(model.version) (\(model.kind.rawValue)), \(model.trainingControls) contrôles d'entraînement"),
                ("SCORE", "Probabilité estimée qu'un contrôle sur place trouve une anomalie avec un indu d'au moins 1 000 €."),
                ("ENJEU_EUROS", "Financement Caf sur les exercices qu'un contrôle couvrirait (euros)."),
                ("PRIORITE", "Clé de classement : indu attendu (euros)."),
                ("MOTIFS", "Les principales raisons, la plus importante d'abord, chacune avec son chiffre."),
            ])
        book.addSheet(
            name: "Score \(exercice)",
            columns: [
                ExcelColumn("RANG", .integer, width: 7), ExcelColumn("N_DOSSIER", .text, width: 14), ExcelColumn("CAF", .text, width: 6),
                ExcelColumn("NATURE", .text, width: 20), ExcelColumn("SIREN_GESTIONNAIRE", .text, width: 13),
                ExcelColumn("SCORE", .decimal(digits: 4), width: 9), ExcelColumn("ENJEU_EUROS", .euros, width: 14),
                ExcelColumn("PRIORITE", .euros, width: 12), ExcelColumn("MOTIFS", .text, width: 100),
            ],
            rows: lines.lazy.map { line -> [ExcelCell] in
                let p = line.row.profile
                return [
                    .of(line.rank), .text(p.nDossier), .text(p.caf), .text(p.nature), .text(p.sirenGestionnaire), .of(line.score),
                    .of(line.enjeu), .of(line.priorite), .text(line.motifsText),
                ]
            })
        return book
    }

    /// Stores the model and the scores of `exercice`; returns the model's id.
    ///
    /// A model identical to one stored for the exercice (same parameters, examples, date and
    /// counts) keeps that row, so the scores it gave keep their `modele_id`. Only the rows that
    /// changed are written: a night without delivery rewrites none of the 59 183 national
    /// rows; one Caf's delivery, 50 472, for PRIORITE moves by cents wherever that
    /// Caf's figures move the peers. Rows of equipments no longer scored are removed.
    static func save(
        _ db: Database, exercice: Int, asOf: CalendarDate, model: RiskModel, trainingDigest: String?, lines: [ScoredLine],
        computedAt: String
    ) throws -> Int64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(model), as: UTF8.self)
        let description: StatementArguments = [
            exercice, model.version, model.kind.rawValue, asOf.yyyymmdd, RiskModel.target, model.trainingControls,
            model.trainingPositives, model.randomControls, json, trainingDigest,
        ]
        let modelId: Int64
        if let stored = try Int64.fetchOne(
            db,
            sql: """
                SELECT id FROM modele_score
                WHERE exercice = ? AND version = ? AND nature_modele = ? AND date_reference = ? AND cible = ?
                    AND n_controles = ? AND n_positifs = ? AND n_aleatoires = ? AND parametres = ? AND entrainement IS ?
                ORDER BY id DESC LIMIT 1
                """, arguments: description)
        {
            modelId = stored
        } else {
            try db.execute(
                sql: """
                    INSERT INTO modele_score (exercice, version, nature_modele, date_reference, cible, n_controles,
                        n_positifs, n_aleatoires, parametres, entrainement, cree_le)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: description + [computedAt])
            modelId = db.lastInsertedRowID
        }
        let changed = ["modele_id", "score", "enjeu_euros", "priorite", "motifs", "contributions"]
        let batch = BatchInsert<ScoredLine>(
            db, head: "INSERT INTO score (exercice, equipement_id, \(changed.joined(separator: ", ")))", columns: 8,
            tail: """
                ON CONFLICT (exercice, equipement_id) DO UPDATE SET \(changed.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
                """
        ) { s, o, line in
            s.bind(o + 1, exercice)
            s.bind(o + 2, line.row.profile.id)
            s.bind(o + 3, modelId)
            s.bind(o + 4, line.score)
            s.bind(o + 5, line.enjeu)
            s.bind(o + 6, line.priorite)
            s.bind(o + 7, line.motifsText)
            s.bind(o + 8, line.contributionsText)
        }
        // The stored rows and the lines, both in key order, walked side by side: a line is
        // written when its row is missing or differs, a row without a line is removed (once the
        // walk is over: SQLite leaves undefined a read over rows changed under it). Compared here
        // rather than by a WHERE clause of the upsert: binding every line took 0.23 s on the
        // national store, the walk 0.04 s.
        let ids = lines.map { $0.row.profile.id }
        let order = lines.indices.sorted(by: { ids[$0] < ids[$1] })
        // Columns 1… are `changed`, in its order.
        let stored = try RawStatement(
            db, sql: "SELECT equipement_id, \(changed.joined(separator: ", ")) FROM score WHERE exercice = ? ORDER BY equipement_id")
        stored.bind(1, exercice)
        var write: [Int] = []
        var gone: [Int64] = []
        var k = 0
        while try stored.step() {
            let id = Int64(stored.int(0) ?? 0)
            while k < order.count, ids[order[k]] < id {
                write.append(order[k])
                k += 1
            }
            guard k < order.count, ids[order[k]] == id else {
                gone.append(id)
                continue
            }
            let line = lines[order[k]]
            let same =
                Int64(stored.int(1) ?? 0) == modelId && stored.double(2)?.bitPattern == line.score.bitPattern
                && stored.double(3)?.bitPattern == line.enjeu.bitPattern && stored.double(4)?.bitPattern == line.priorite.bitPattern
                && stored.textEquals(5, line.motifsText) && stored.textEquals(6, line.contributionsText)
            if !same { write.append(order[k]) }
            k += 1
        }
        stored.reset()
        write.append(contentsOf: order[k...])
        for i in write { try batch.append(lines[i]) }
        try batch.flush()
        let remove = try db.makeStatement(sql: "DELETE FROM score WHERE exercice = ? AND equipement_id = ?")
        for id in gone { try remove.execute(arguments: [exercice, id]) }
        return modelId
    }
}

public enum ScoreError: Error, CustomStringConvertible {
    case noActiveEquipment(exercice: Int)
    /// No declaration of the exercice in the store; the exercices that have some.
    case noDeclaration(exercice: Int, available: [Int])
    case badGroundTruth(line: Int)

    public var description: String {
        switch self {
        case .noActiveEquipment(let exercice): "aucun équipement actif en \(exercice) dans le store : rien à scorer"
        case .noDeclaration(let exercice, let available):
            "aucune déclaration de l'exercice \(exercice) dans le store : rien à scorer ; "
                + (available.isEmpty ? "le store n'a encore aucune déclaration" : "exercices déclarés : \(available.map(String.init).joined(separator: ", "))")
        case .badGroundTruth(let line): "verite/anomalies.csv, ligne \(line) : ligne illisible"
        }
    }
}
