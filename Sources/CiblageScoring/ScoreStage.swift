import CiblageModel
import CiblageReports
import CiblageStore
import Foundation
import GRDB

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

    /// The columns of the ranked list (commands.md).
    public static let header = ["RANG", "N_DOSSIER", "CAF", "NATURE", "SIREN_GESTIONNAIRE", "SCORE", "ENJEU_EUROS", "PRIORITE", "MOTIFS"]

    public init(store: Store, referentiel: Referentiel) {
        self.store = store
        self.referentiel = referentiel
    }

    /// Scores `exercice` with the history known before `asOf`, replaces the stored indicators
    /// and scores of that exercice, and with `output` writes the ranked list there (temporary
    /// name, renamed once the store has committed).
    public func run(exercice: Int, asOf: CalendarDate? = nil, output: URL? = nil, now: Date = Date()) throws -> ScoreSummary {
        let stamp = ISO8601DateFormatter().string(from: now)
        let referentiel = referentiel
        let prepared = try store.dbQueue.read { db in
            try RiskScoring.inputs(db, exercice: exercice, asOf: asOf, referentiel: referentiel)
        }
        guard !prepared.rows.isEmpty else { throw ScoreError.noActiveEquipment(exercice: exercice) }
        let model = try RiskScoring.train(prepared.training, population: prepared.rows)
        let lines = RiskScoring.score(prepared.rows, model: model, exercice: exercice)
        let writer = try output.map { try Self.writeRanking(lines, to: $0) }
        let modelId = try store.dbQueue.write { db -> Int64 in
            try IndicatorStore.save(db, exercice: exercice, lines.map(\.row.indicators), computedAt: stamp)
            return try Self.save(db, exercice: exercice, asOf: prepared.asOf, model: model, lines: lines, computedAt: stamp)
        }
        try writer?.commit()
        return ScoreSummary(exercice: exercice, model: model, scored: lines.count, modelId: modelId, lines: lines)
    }

    /// Writes the ranked list under a temporary name; the caller commits it.
    public static func writeRanking(_ lines: [ScoredLine], to url: URL) throws -> FrenchCSVWriter {
        let writer = try FrenchCSVWriter(url: url, header: header)
        for line in lines {
            let p = line.row.profile
            try writer.writeRow([
                String(line.rank), p.nDossier, p.caf, p.nature, p.sirenGestionnaire,
                FrenchFormat.decimal(line.score, fractionDigits: 4), FrenchFormat.decimal(line.enjeu, fractionDigits: 0),
                FrenchFormat.decimal(line.priorite, fractionDigits: 0), line.motifs.joined(separator: " | "),
            ])
        }
        return writer
    }

    /// Stores the model and replaces the scores of `exercice`; returns the model's id.
    static func save(
        _ db: Database, exercice: Int, asOf: CalendarDate, model: RiskModel, lines: [ScoredLine], computedAt: String
    ) throws -> Int64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(model), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT INTO modele_score (exercice, version, nature_modele, date_reference, cible, n_controles,
                    n_positifs, n_aleatoires, parametres, cree_le)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                exercice, model.version, model.kind.rawValue, asOf.yyyymmdd, RiskModel.target, model.trainingControls,
                model.trainingPositives, model.randomControls, json, computedAt,
            ])
        let modelId = db.lastInsertedRowID
        try db.execute(sql: "DELETE FROM score WHERE exercice = ?", arguments: [exercice])
        let statement = try db.makeStatement(sql: "INSERT INTO score VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        for line in lines {
            let contributions = line.contributions.map { String(Int(($0 * 1000).rounded())) }.joined(separator: ",")
            try statement.execute(arguments: [
                exercice, line.row.profile.id, modelId, line.rank, line.score, line.enjeu, line.priorite,
                line.motifs.joined(separator: " | "), contributions,
            ])
        }
        return modelId
    }
}

public enum ScoreError: Error, CustomStringConvertible {
    case noActiveEquipment(exercice: Int)
    case badGroundTruth(line: Int)

    public var description: String {
        switch self {
        case .noActiveEquipment(let exercice): "aucun équipement actif en \(exercice) dans le store : rien à scorer"
        case .badGroundTruth(let line): "verite/anomalies.csv, ligne \(line) : ligne illisible"
        }
    }
}
