import CiblageModel
import CiblageStore
import Crypto
import Foundation
import GRDB

/// A scored equipment, as a campaign sees it.
public struct Candidate: Sendable, Equatable {
    public var equipementId: Int64
    public var nDossier: String
    public var nom: String
    public var nature: String
    public var commune: String
    public var siren: String
    public var nomGestionnaire: String
    public var statut: String
    /// Département of the manager's head office.
    public var departementSiege: String
    public var caf: String
    public var qpv: Bool
    public var zrr: Bool
    /// `yyyymmdd`, when the registry gives a closing date.
    public var fermeture: Int?
    /// 0–1.
    public var score: Double
    /// Euros.
    public var enjeu: Double
    /// Euros: the ranking key of the score.
    public var priorite: Double
    public var motifs: String
    /// Controls of the equipment in the store, the date of the latest, and how many found an anomaly.
    public var controles: Int
    public var dernierControle: Int?
    public var anomalies: Int

    /// The département of the equipment's commune.
    public var departement: String { Referentiel.departementOfCommune(commune) }
}

/// Reads the candidates of a campaign: every equipment scored for the exercice.
public enum CandidateStore {
    /// Every equipment scored for `exercice`, in rank order, with its control history.
    ///
    /// Read straight from SQLite's statement, with the controls counted in one grouped pass.
    /// SQLite sorts the rows by rank (the ranked list's order: PRIORITE, then SCORE, then
    /// N_DOSSIER; the store keeps no rank, see `Schema.v9`): built in that order, the
    /// candidates' texts lie in memory in the order the planner and the synthesis walk them
    /// (read unsorted and ranked here, the load was 0.08 s faster and the synthesis 0.11 s
    /// slower, from cache misses).
    public static func load(_ db: Database, exercice: Int) throws -> [Candidate] {
        let statement = try RawStatement(
            db,
            sql: """
                SELECT e.id, e.n_dossier, e.nom, e.nature, e.commune, e.siren_gestionnaire, e.nom_gestionnaire,
                    e.statut_gestionnaire, e.departement_siege, e.caf, e.qpv, e.zrr, e.date_fermeture,
                    s.score, s.enjeu_euros, s.priorite, s.motifs, c.n, c.derniere, c.anomalies
                FROM score s JOIN equipement e ON e.id = s.equipement_id
                LEFT JOIN (
                    SELECT equipement_id, count(*) AS n, max(date_controle) AS derniere,
                        sum(resultat = 'ANOMALIE') AS anomalies
                    FROM controle GROUP BY equipement_id
                ) c ON c.equipement_id = e.id
                WHERE s.exercice = ?
                ORDER BY s.priorite DESC, s.score DESC, e.n_dossier
                """)
        defer { statement.reset() }
        statement.bind(1, exercice)
        var out: [Candidate] = []
        while try statement.step() {
            let t = { (column: Int32) in statement.text(column) ?? "" }
            out.append(
                Candidate(
                    equipementId: Int64(statement.int(0) ?? 0), nDossier: t(1), nom: t(2), nature: t(3), commune: t(4),
                    siren: t(5), nomGestionnaire: t(6), statut: t(7), departementSiege: t(8), caf: t(9),
                    qpv: statement.int(10) == 1, zrr: statement.int(11) == 1, fermeture: statement.int(12),
                    score: statement.double(13) ?? 0, enjeu: statement.double(14) ?? 0, priorite: statement.double(15) ?? 0,
                    motifs: t(16), controles: statement.int(17) ?? 0, dernierControle: statement.int(18),
                    anomalies: statement.int(19) ?? 0))
        }
        return out
    }

    /// SHA-256 of what the campaign read from the store (every candidate's fields, in rank
    /// order): the same data give the same fingerprint, whatever else the store holds.
    public static func fingerprint(_ candidates: [Candidate], modelVersion: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(modelVersion.utf8))
        // The bytes of one line per candidate (fields joined by `;`), hashed by blocks.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        for c in candidates {
            let fields = [
                String(c.equipementId), c.nDossier, c.nature, c.commune, c.siren, c.statut, c.departementSiege, c.caf,
                String(c.fermeture ?? 0), String(c.score), String(c.enjeu), String(c.priorite), String(c.controles),
                String(c.dernierControle ?? 0), String(c.anomalies),
            ]
            for (i, field) in fields.enumerated() {
                if i > 0 { buffer.append(UInt8(ascii: ";")) }
                buffer.append(contentsOf: field.utf8)
            }
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count >= 1 << 15 {
                buffer.withUnsafeBytes { hasher.update(bufferPointer: $0) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        buffer.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
