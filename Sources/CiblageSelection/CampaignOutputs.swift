import CiblageModel
import CiblageReports
import Foundation

/// The files of a campaign (commands.md): one CSV per local plan and per pôle, the manifest,
/// the synthesis.
public enum CampaignOutputs {
    public static let localHeader = [
        "RANG", "N_DOSSIER", "NOM", "NATURE", "COMMUNE", "SIREN_GESTIONNAIRE", "NOM_GESTIONNAIRE", "TIRAGE", "SCORE",
        "ENJEU_EUROS", "PRIORITE", "MOTIFS",
    ]
    public static let multiHeader = [
        "RANG", "SIREN_GESTIONNAIRE", "NOM_GESTIONNAIRE", "DEPARTEMENTS", "NB_EQUIPEMENTS", "SCORE_GROUPE", "ENJEU_EUROS",
        "N_DOSSIER_SITES", "MOTIFS",
    ]

    /// `plan-local-<CAF>.csv`, as one file of `batch` (the caller commits the batch).
    public static func writeLocal(_ lines: [PlanLine], to url: URL, batch: OutputBatch) throws {
        let writer = try FrenchCSVWriter(url: url, header: localHeader, batch: batch)
        for line in lines {
            let c = line.candidate
            try writer.writeRow([
                String(line.rang), c.nDossier, c.nom, c.nature, c.commune, c.siren, c.nomGestionnaire, line.tirage.rawValue,
                FrenchFormat.decimal(c.score, fractionDigits: 4), FrenchFormat.decimal(c.enjeu, fractionDigits: 0),
                FrenchFormat.decimal(c.priorite, fractionDigits: 0), c.motifs,
            ])
        }
    }

    /// `plan-multi-<POLE>.csv`: one line per selected group, its sites in N_DOSSIER_SITES
    /// (siège first, separated by ` | `), and the group's reasons.
    public static func writeMulti(_ groups: [GroupPlan], to url: URL, batch: OutputBatch) throws {
        let writer = try FrenchCSVWriter(url: url, header: multiHeader, batch: batch)
        for g in groups {
            try writer.writeRow([
                String(g.rang), g.siren, g.nom, g.departements.joined(separator: " "), String(g.equipements),
                FrenchFormat.decimal(g.scoreGroupe, fractionDigits: 0), FrenchFormat.decimal(g.enjeu, fractionDigits: 0),
                g.sites.map(\.candidate.nDossier).joined(separator: " | "), groupReasons(g),
            ])
        }
    }

    /// The MOTIFS of a group: its expected indu, its share of high-risk sites, its past findings.
    static func groupReasons(_ g: GroupPlan) -> String {
        var motifs = [
            "Indu attendu du groupe \(FrenchFormat.euros(g.scoreGroupe))",
            "\(FrenchFormat.percent(g.partRisqueEleve)) des sites parmi les 10 % les plus risqués",
        ]
        if g.anomaliesPassees > 0 {
            motifs.append("\(g.anomaliesPassees) anomalie\(g.anomaliesPassees > 1 ? "s" : "") lors de contrôles passés")
        }
        return motifs.joined(separator: " | ")
    }

    /// The manifest: configuration, seed, fingerprint of the data read, versions, counts.
    /// Sorted keys and no clock: the same campaign file on the same data gives the same bytes.
    public static func manifest(_ plan: CampaignPlan, fingerprint: String, modelVersion: String, referentielVersion: String) throws -> Data {
        struct LocalSummary: Encodable {
            var caf: String
            var actifs, capacite, exclus, lignes, obligatoires, cibles, aleatoires, populationAleatoire: Int
            var probabiliteInclusionAleatoire: Double
            var tauxAnomalieAttendu: Double
            var precisionTauxAnomalie: Double?
        }
        struct Manifest: Encodable {
            var campagne: String
            var libelle: String?
            var exercice: Int
            var graine: UInt64
            var dateReference: String
            var configuration: CampaignConfig
            var empreinteDonnees: String
            var versions: [String: String]
            var comptes: [String: Int]
            var plansLocaux: [LocalSummary]
            var groupes: [[String: String]]
        }
        let locals = plan.locals.map { l in
            LocalSummary(
                caf: l.caf, actifs: l.actifs, capacite: l.capacite, exclus: l.exclus, lignes: l.lines.count,
                obligatoires: l.lines.filter { $0.tirage == .obligatoire }.count, cibles: l.lines.filter { $0.tirage == .cible }.count,
                aleatoires: l.tailleAleatoire, populationAleatoire: l.populationAleatoire,
                probabiliteInclusionAleatoire: l.lines.first { $0.tirage == .aleatoire }?.probabiliteInclusion ?? 0,
                tauxAnomalieAttendu: (l.tauxAttendu * 10000).rounded() / 10000,
                precisionTauxAnomalie: l.precision.map { ($0 * 10000).rounded() / 10000 })
        }
        let lines = plan.locals.flatMap(\.lines)
        let manifest = Manifest(
            campagne: plan.config.id, libelle: plan.config.libelle, exercice: plan.config.exercice, graine: plan.config.graine,
            dateReference: CalendarDate(yyyymmdd: plan.config.dateReference)!.french, configuration: plan.config,
            empreinteDonnees: fingerprint,
            versions: ["ciblage": CampaignStage.version, "modele_score": modelVersion, "referentiel": referentielVersion],
            comptes: [
                "equipements_scores": plan.candidates, "exclus_fermes": plan.exclusFermes,
                "exclus_controle_recent": plan.exclusControleRecent, "plans_locaux": plan.locals.count,
                "lignes_locales": lines.count, "lignes_obligatoires": lines.filter { $0.tirage == .obligatoire }.count,
                "lignes_cibles": lines.filter { $0.tirage == .cible }.count,
                "lignes_aleatoires": lines.filter { $0.tirage == .aleatoire }.count,
                "groupes_eligibles": plan.groupesEligibles, "groupes_retenus": plan.groups.count,
                "sites_multi_departementaux": plan.groups.reduce(0) { $0 + $1.sites.count },
            ],
            plansLocaux: locals,
            groupes: plan.groups.map { ["siren": $0.siren, "pole": $0.pole, "sites": $0.sites.map(\.candidate.nDossier).joined(separator: " ")] })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(manifest)
    }
}
