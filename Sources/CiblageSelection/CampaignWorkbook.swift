import CiblageModel
import CiblageReports
import Foundation

/// The Excel workbooks of a campaign: `campagne.xlsx` beside the plans (one sheet per local
/// plan and per pôle) and a Caf's export (`ciblage-export --format xlsx`). Same columns as the
/// CSVs; codes as text cells, amounts, scores and rates as numbers; a first sheet that says
/// what the file is.
public enum CampaignWorkbook {
    static let localColumns = [
        ExcelColumn("RANG", .integer, width: 7), ExcelColumn("N_DOSSIER", .text, width: 14), ExcelColumn("NOM", .text, width: 34),
        ExcelColumn("NATURE", .text, width: 20), ExcelColumn("COMMUNE", .text, width: 10), ExcelColumn("SIREN_GESTIONNAIRE", .text, width: 13),
        ExcelColumn("NOM_GESTIONNAIRE", .text, width: 34), ExcelColumn("TIRAGE", .text, width: 13),
        ExcelColumn("SCORE", .decimal(digits: 4), width: 9), ExcelColumn("ENJEU_EUROS", .euros, width: 14),
        ExcelColumn("PRIORITE", .euros, width: 12), ExcelColumn("MOTIFS", .text, width: 90),
    ]
    static let multiColumns = [
        ExcelColumn("RANG", .integer, width: 7), ExcelColumn("SIREN_GESTIONNAIRE", .text, width: 13),
        ExcelColumn("NOM_GESTIONNAIRE", .text, width: 34), ExcelColumn("DEPARTEMENTS", .text, width: 16),
        ExcelColumn("NB_EQUIPEMENTS", .integer, width: 10), ExcelColumn("SCORE_GROUPE", .euros, width: 14),
        ExcelColumn("ENJEU_EUROS", .euros, width: 14), ExcelColumn("N_DOSSIER_SITES", .text, width: 40),
        ExcelColumn("MOTIFS", .text, width: 90),
    ]

    static func localRows(_ lines: [PlanLine]) -> [[ExcelCell]] {
        lines.map { line in
            let c = line.candidate
            return [
                .of(line.rang), .text(c.nDossier), .text(c.nom), .text(c.nature), .text(c.commune), .text(c.siren), .text(c.nomGestionnaire),
                .text(line.tirage.rawValue), .of(c.score), .of(c.enjeu), .of(c.priorite), .text(c.motifs),
            ]
        }
    }

    static func multiRows(_ groups: [GroupPlan]) -> [[ExcelCell]] {
        groups.map { g in
            [
                .of(g.rang), .text(g.siren), .text(g.nom), .text(g.departements.joined(separator: " ")), .of(g.equipements),
                .of(g.scoreGroupe), .of(g.enjeu), .text(g.sites.map(\.candidate.nDossier).joined(separator: " | ")),
                .text(CampaignOutputs.groupReasons(g)),
            ]
        }
    }

    /// What the manifest says of the campaign, for the first sheet; and its reference date,
    /// recorded as the file's creation date (never the clock).
    static func about(_ manifest: Data, what: String) -> (lines: [(String, String)], created: Date) {
        struct Head: Decodable {
            var campagne: String
            var libelle: String?
            var exercice: Int
            var graine: UInt64
            var dateReference: String
            var empreinteDonnees: String?
            var versions: [String: String]?
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let head = try? decoder.decode(Head.self, from: manifest) else { return ([("Contenu", what)], Date(timeIntervalSince1970: 0)) }
        let date = CalendarDate(french: head.dateReference)
        let created = date.map { Date(timeIntervalSince1970: Double($0.dayNumber) * 86_400) } ?? Date(timeIntervalSince1970: 0)
        var lines: [(String, String)] = [
            ("Contenu", what),
            ("Campagne", head.campagne + (head.libelle.map { " — \($0)" } ?? "")),
            ("Date de référence", head.dateReference),
            ("Exercice des scores", String(head.exercice)),
            ("Graine des tirages", String(head.graine)),
            ("Modèle de score", head.versions?["modele_score"] ?? ""),
            ("Version de ciblage", head.versions?["ciblage"] ?? ""),
        ]
        if let f = head.empreinteDonnees { lines.append(("Empreinte des données", f)) }
        lines.append((
            "Colonnes",
            "Celles des fichiers CSV du plan. Codes (N_DOSSIER, SIREN, COMMUNE) en texte ; SCORE : probabilité estimée qu'un contrôle "
                + "trouve une anomalie avec indu ; ENJEU_EUROS : financement Caf sur les exercices couverts ; PRIORITE : clé de classement "
                + "(indu attendu) ; TIRAGE : OBLIGATOIRE (règle), CIBLE (score), ALEATOIRE (tirage au hasard, probabilité connue)."))
        return (lines, created)
    }

    /// `campagne.xlsx`: one sheet per local plan (`Caf 75`), one per pôle of the multi plan.
    public static func campaign(_ plan: CampaignPlan, manifest: Data, poles: [String]) throws -> ExcelWorkbook {
        let info = about(manifest, what: "Plans de contrôle de la campagne : une feuille par plan local (Caf) et par pôle (groupes multi-départementaux).")
        let book = try ExcelWorkbook(title: "Campagne \(plan.config.id)", created: info.created)
        book.addAbout(title: "Campagne \(plan.config.id)", lines: info.lines)
        for local in plan.locals {
            book.addSheet(name: "Caf \(local.caf)", columns: localColumns, rows: localRows(local.lines), whenEmpty: "plan vide : aucune ligne retenue pour cette Caf")
        }
        for pole in poles {
            book.addSheet(
                name: "Multi \(pole)", columns: multiColumns, rows: multiRows(plan.groups.filter { $0.pole == pole }),
                whenEmpty: "aucun groupe multi-départemental retenu pour ce pôle")
        }
        return book
    }

    /// A Caf's plan (`ciblage-export --format xlsx`).
    public static func export(_ lines: [PlanLine], caf: String, manifest: Data) throws -> ExcelWorkbook {
        let info = about(manifest, what: "Plan local de contrôle de la Caf \(caf).")
        let book = try ExcelWorkbook(title: "Plan local de la Caf \(caf)", created: info.created)
        book.addAbout(title: "Plan local de la Caf \(caf)", lines: info.lines)
        book.addSheet(name: "Plan Caf \(caf)", columns: localColumns, rows: localRows(lines), whenEmpty: "plan vide : aucune ligne retenue pour cette Caf")
        return book
    }
}
