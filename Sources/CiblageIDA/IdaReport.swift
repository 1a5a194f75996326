import CiblageModel
import CiblageReports
import Foundation

/// `ida-<date>.html`: the gap, the delays, the model (``report``), then the follow-up list
/// (``suiviSection``, added once the fragility screening is done).
enum IdaReport {
    static func report(
        reference: CalendarDate, projects: [ProjectRow], times: [ProjectTime], gaps: [IdaStage.Gap], curves: [(String, [IncidenceStep])],
        bands: (opened: [(low: Double, high: Double)], abandoned: [(low: Double, high: Double)]), horizon: Int,
        model: ProjectRiskModel
    ) -> HTMLReport {
        var r = HTMLReport(title: "IDA — places décidées et ouvertes au \(reference.french)")
        guard let national = gaps.first else {
            r.paragraph(
                "Aucun projet de création de places décidé au plus tard le \(reference.french) dans le store : ni écart, ni délais, ni projet à "
                    + "risque (le fichier projets n'a pas encore été ingéré). La liste de suivi ne compte que les équipements fragiles.")
            return r
        }
        r.paragraph(
            "\(FrenchFormat.count(national.projects, "projet décidé", "projets décidés")) jusqu'au \(reference.french) : "
                + "\(FrenchFormat.count(national.decided, "place décidée", "places décidées")), \(FrenchFormat.readable(Double(national.opened))) ouvertes, "
                + "\(FrenchFormat.readable(Double(national.pending))) en attente, \(FrenchFormat.readable(Double(national.abandoned))) abandonnées ; "
                + "\(FrenchFormat.readable(Double(national.lost))) perdues par des ouvertures plus petites que la décision. "
                + (national.rate.map { "Taux de réalisation des projets décidés il y a 36 mois ou plus : \(FrenchFormat.percent($0))." }
                    ?? "Aucun projet décidé il y a 36 mois ou plus : pas de taux de réalisation."))

        r.heading("Écart entre places décidées et ouvertes")
        for level in ["POLE", "NATURE"] {
            r.table(
                header: [level == "POLE" ? "pôle" : "nature", "projets", "décidées", "ouvertes", "en attente", "abandonnées", "perdues (ouvertures réduites)", "taux de réalisation (≥ 36 mois)"],
                rows: gaps.filter { $0.level == level }.map { g in
                    [g.code, String(g.projects), FrenchFormat.readable(Double(g.decided)), FrenchFormat.readable(Double(g.opened)),
                     FrenchFormat.readable(Double(g.pending)), FrenchFormat.readable(Double(g.abandoned)), FrenchFormat.readable(Double(g.lost)),
                     g.rate.map { FrenchFormat.percent($0) } ?? "—"]
                })
        }
        // Decided vs opened by decision year, per pôle.
        let years = Array(Set(projects.map(\.decision.year))).sorted()
        for pole in Array(Set(projects.map(\.pole))).sorted() {
            let members = zip(projects, times).filter { $0.0.pole == pole }
            r.barChart(
                title: "Pôle \(pole) : places décidées et ouvertes par année de décision",
                categories: years.map(String.init),
                series: [
                    HTMLReport.Series(name: "décidées", color: "#9aa5b1", values: years.map { y in Double(members.filter { $0.0.decision.year == y }.reduce(0) { $0 + $1.0.places }) }),
                    HTMLReport.Series(name: "ouvertes", color: "#1f5fa8", values: years.map { y in
                        Double(members.filter { $0.0.decision.year == y && $0.1.outcome == .opened }.reduce(0) { $0 + ($1.0.ouvertes ?? 0) })
                    }),
                ], stacked: false, format: { FrenchFormat.readable($0) })
        }

        r.heading("Délais de la décision à l'ouverture (risques concurrents)")
        r.paragraph(
            "Estimateur d'Aalen–Johansen, en mois entiers écoulés depuis la décision : un projet encore en cours ou suspendu au "
                + "\(reference.french) est censuré à cette date ; un abandon est un événement concurrent de l'ouverture, jamais une censure "
                + "ni un « pas encore ouvert ». Bandes à 95 % : bootstrap des projets (200 tirages, graine fixe).")
        var rows: [[String]] = []
        for (group, steps) in curves {
            rows.append([
                group, String(steps.first?.atRisk ?? 0), CompetingRisks.medianOpening(steps).map { "\($0) mois" } ?? "non atteinte",
                FrenchFormat.percent(CompetingRisks.value(steps, at: 12, \.opened)), FrenchFormat.percent(CompetingRisks.value(steps, at: 24, \.opened)),
                FrenchFormat.percent(CompetingRisks.value(steps, at: 36, \.opened)), FrenchFormat.percent(CompetingRisks.value(steps, at: 36, \.abandoned)),
            ])
        }
        r.table(header: ["groupe", "projets", "délai médian d'ouverture", "ouverts à 12 mois", "à 24 mois", "à 36 mois", "abandonnés à 36 mois"], rows: rows)
        if horizon > 0, let all = curves.first?.1, bands.opened.count == horizon + 1 {
            func line(_ name: String, _ color: String, _ values: [Double], dashed: Bool = false) -> HTMLReport.Line {
                HTMLReport.Line(name: name, color: color, points: values.enumerated().map { (Double($0.offset) / Double(horizon), $0.element) }, dashed: dashed)
            }
            let months = Array(0...horizon)
            r.lineChart(
                title: "Ensemble : part des projets ouverts et abandonnés selon le temps depuis la décision (0 à \(horizon) mois), bandes à 95 %",
                xLabel: "mois depuis la décision (0 à \(horizon))", yLabel: "part des projets",
                lines: [
                    line("ouverts", "#1f5fa8", months.map { CompetingRisks.value(all, at: $0, \.opened) }),
                    line("ouverts, borne basse", "#9cc3e6", bands.opened.map(\.low), dashed: true),
                    line("ouverts, borne haute", "#9cc3e6", bands.opened.map(\.high), dashed: true),
                    line("abandonnés", "#c0504d", months.map { CompetingRisks.value(all, at: $0, \.abandoned) }),
                    line("abandonnés, borne basse", "#e6a3a1", bands.abandoned.map(\.low), dashed: true),
                    line("abandonnés, borne haute", "#e6a3a1", bands.abandoned.map(\.high), dashed: true),
                ])
        }

        r.heading("Projets à risque")
        r.paragraph(
            "Le score estime la probabilité qu'un projet en attente échoue : abandonné, ouvert avec moins de 80 % des places décidées, "
                + "ou rien d'ouvert 36 mois après la décision. "
                + (model.kind == .entraine
                    ? "Régression logistique ajustée sur les \(model.trainingProjects) projets décidés il y a 36 mois ou plus (\(model.trainingFailures) échecs), "
                        + "à partir de ce qui est connu à la décision et du parcours du porteur sur ses autres projets."
                    : "Trop peu de projets à l'issue connue (\(model.trainingProjects), dont \(model.trainingFailures) échecs) pour ajuster un modèle : "
                        + "échelle experte versionnée.")
                + " Le retard sur l'ouverture prévue et une suspension sont donnés dans les motifs.")

        return r
    }

    static func suiviSection(_ r: inout HTMLReport, suivi: [FollowUpLine], capacity: Int, fragileCount: Int) {
        r.heading("Liste de suivi de l'année")
        r.paragraph(
            "Jusqu'à \(capacity) lignes, réparties entre pôles au prorata de leurs places en attente : projets à risque (SCORE : probabilité "
                + "d'échec) et équipements ouverts fragiles (\(FrenchFormat.count(fragileCount, "repéré", "repérés")) ; SCORE : part des quatre signaux "
                + "de fragilité présents), classés par SCORE dans chaque pôle.")
        if suivi.isEmpty {
            r.paragraph("Aucune ligne : ni projet en attente ni équipement fragile.")
        } else {
            r.table(
                header: ["pôle", "rang", "type", "identifiant", "Caf", "nom", "SCORE", "motifs"],
                rows: suivi.map { [$0.pole, String($0.rang), $0.type, $0.identifiant, $0.caf, $0.nom, FrenchFormat.percent($0.score), $0.motifs.joined(separator: " ; ")] })
        }
    }
}
