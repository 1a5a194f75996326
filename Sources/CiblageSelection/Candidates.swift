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
    public static func load(_ db: Database, exercice: Int) throws -> [Candidate] {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT e.id, e.n_dossier, e.nom, e.nature, e.commune, e.siren_gestionnaire, e.nom_gestionnaire,
                    e.statut_gestionnaire, e.departement_siege, e.caf, e.qpv, e.zrr, e.date_fermeture,
                    s.score, s.enjeu_euros, s.priorite, s.motifs,
                    (SELECT count(*) FROM controle c WHERE c.equipement_id = e.id),
                    (SELECT max(date_controle) FROM controle c WHERE c.equipement_id = e.id),
                    (SELECT count(*) FROM controle c WHERE c.equipement_id = e.id AND c.resultat = 'ANOMALIE')
                FROM score s JOIN equipement e ON e.id = s.equipement_id
                WHERE s.exercice = ?
                ORDER BY s.rang
                """, arguments: [exercice])
        var out: [Candidate] = []
        while let r = try rows.next() {
            out.append(
                Candidate(
                    equipementId: r[0], nDossier: r[1], nom: r[2], nature: r[3], commune: r[4], siren: r[5],
                    nomGestionnaire: r[6], statut: r[7], departementSiege: r[8], caf: r[9], qpv: r[10], zrr: r[11],
                    fermeture: r[12], score: r[13], enjeu: r[14], priorite: r[15], motifs: r[16], controles: r[17],
                    dernierControle: r[18], anomalies: r[19]))
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
