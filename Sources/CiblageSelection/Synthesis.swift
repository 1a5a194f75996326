import CiblageModel
import CiblageReports
import Foundation

/// `synthese.html`: a campaign summary for people, self-contained, with charts.
enum Synthesis {
    static let colors: [Tirage: String] = [.obligatoire: "#c0504d", .cible: "#1f5fa8", .aleatoire: "#f0a030", .siege: "#6a3d9a"]

    static func report(_ plan: CampaignPlan, candidates: [Candidate]) -> HTMLReport {
        let c = plan.config
        var r = HTMLReport(title: "Campagne \(c.id) — synthèse du ciblage")
        let lines = plan.locals.flatMap(\.lines)
        let sites = plan.groups.flatMap(\.sites)
        let selected = Set((lines + sites).map(\.candidate.equipementId))
        r.paragraph(
            "\(c.libelle.map { $0 + ". " } ?? "")Exercice \(c.exercice) ; graine \(c.graine) ; contrôles récents : depuis le "
                + "\(CalendarDate(yyyymmdd: Planner(config: c, referentiel: .bundled).recentSince)!.french).")
        r.paragraph(
            "Le score est la probabilité qu'un contrôle sur place trouve une anomalie avec un indu d'au moins 1 000 € ; "
                + "PRIORITE, l'indu attendu, ordonne les lignes CIBLE. Les lignes ALEATOIRE sont tirées au hasard "
                + "(probabilités d'inclusion enregistrées) pour mesurer le taux d'anomalie réel ; la décision reste humaine.")
        r.heading("En chiffres")
        r.table(
            header: ["", "nombre"],
            rows: [
                ["Équipements scorés", String(plan.candidates)],
                ["Exclus : fermés ou fermeture annoncée", String(plan.exclusFermes)],
                ["Exclus : contrôlés depuis moins de \(c.exclureControleRecentMois) mois", String(plan.exclusControleRecent)],
                ["Plans locaux (Caf)", String(plan.locals.count)],
                ["Lignes OBLIGATOIRE", String(lines.filter { $0.tirage == .obligatoire }.count)],
                ["Lignes CIBLE", String(lines.filter { $0.tirage == .cible }.count)],
                ["Lignes ALEATOIRE", String(lines.filter { $0.tirage == .aleatoire }.count)],
                ["Groupes multi-départementaux éligibles / retenus", "\(plan.groupesEligibles) / \(plan.groups.count)"],
                ["Sites des groupes retenus", String(sites.count)],
            ])

        r.heading("Taille des plans locaux par Caf")
        let locals = plan.locals.filter { !$0.lines.isEmpty }
        let local = [Tirage.obligatoire, .cible, .aleatoire]
        r.barChart(
            title: "Lignes par Caf et par tirage", categories: locals.map { "Caf \($0.caf)" },
            series: local.map { t in
                HTMLReport.Series(name: t.rawValue, color: colors[t]!, values: locals.map { l in Double(l.lines.filter { $0.tirage == t }.count) })
            }, format: { String(Int($0)) })

        r.heading("Plans multi-départementaux par pôle")
        let poles = Set(plan.groups.map(\.pole)).union(c.capacitesPoles.keys).sorted()
        if c.capacitesPoles.isEmpty {
            r.paragraph("Cette campagne n'a pas de plan multi-départemental (aucune capacité par pôle dans [plan_multi.capacites]).")
        } else if plan.groups.isEmpty {
            r.paragraph("Aucun groupe multi-départemental retenu : \(plan.groupesEligibles) éligible(s) dans les pôles de la campagne.")
        } else {
            r.barChart(
                title: "Groupes retenus et sites à contrôler par pôle", categories: poles,
                series: [
                    HTMLReport.Series(name: "groupes", color: "#6a3d9a", values: poles.map { p in Double(plan.groups.filter { $0.pole == p }.count) }),
                    HTMLReport.Series(
                        name: "sites", color: "#b2a0d0",
                        values: poles.map { p in Double(plan.groups.filter { $0.pole == p }.reduce(0) { $0 + $1.sites.count }) }),
                ], stacked: false, format: { String(Int($0)) })
            r.table(
                header: ["pôle", "rang", "SIREN", "gestionnaire", "départements", "équipements", "indu attendu", "sites"],
                rows: plan.groups.map { g in
                    [g.pole, String(g.rang), g.siren, g.nom, String(g.departements.count), String(g.equipements), FrenchFormat.euros(g.scoreGroupe),
                     g.sites.map(\.candidate.nDossier).joined(separator: " ")]
                })
        }

        r.heading("Composition de la sélection")
        let chosen = candidates.filter { selected.contains($0.equipementId) }
        func composition(_ title: String, _ key: (Candidate) -> String) {
            let keys = Set(candidates.lazy.map(key)).sorted()
            r.barChart(
                title: title, categories: keys,
                series: [
                    HTMLReport.Series(name: "sélectionnés", color: "#1f5fa8", values: keys.map { k in Double(chosen.filter { key($0) == k }.count) })
                ], format: { String(Int($0)) })
        }
        composition("Par nature", \.nature)
        composition("Par statut du gestionnaire", \.statut)

        r.heading("Distribution du score")
        let bins = (0..<10).map { b in "\(b * 10) à \(b * 10 + 10) %" }
        // The candidates are counted where they lie, never copied (the candidates not selected, or
        // all of them for « Ensemble », were 98 MB of the stage's peak at four times the country).
        func shares(_ set: some Sequence<Candidate>) -> [Double] {
            var counts = [Double](repeating: 0, count: 10)
            var total = 0
            for x in set {
                counts[min(9, Int(x.score * 10))] += 1
                total += 1
            }
            return counts.map { total == 0 ? 0 : $0 / Double(total) }
        }
        let others = candidates.lazy.filter { !selected.contains($0.equipementId) }
        r.barChart(
            title: "Part des équipements par tranche de score", categories: bins,
            series: [
                HTMLReport.Series(name: "sélectionnés", color: "#1f5fa8", values: shares(chosen)),
                HTMLReport.Series(name: "non sélectionnés", color: "#9aa5b1", values: shares(others)),
            ], stacked: false, format: { FrenchFormat.percent($0) })

        r.heading("Sur qui tombe la sélection")
        var groups: [(String, (Candidate) -> Bool)] = StatutGestionnaire.allCases.map { s in ("Statut \(s.rawValue)", { $0.statut == s.rawValue }) }
        groups += [("QPV", { $0.qpv }), ("ZRR", { $0.zrr }), ("Hors QPV et ZRR", { !$0.qpv && !$0.zrr }), ("Ensemble", { _ in true })]
        let rates = groups.map { name, member -> (String, Int, Int) in
            var all = 0
            var chosen = 0
            for x in candidates where member(x) {
                all += 1
                if selected.contains(x.equipementId) { chosen += 1 }
            }
            return (name, all, chosen)
        }
        r.barChart(
            title: "Taux de sélection", categories: rates.map(\.0),
            series: [HTMLReport.Series(name: "taux de sélection", color: "#1f5fa8", values: rates.map { $0.1 == 0 ? 0 : Double($0.2) / Double($0.1) })],
            stacked: false, format: { FrenchFormat.percent($0) })
        r.table(
            header: ["groupe", "équipements", "sélectionnés", "taux"],
            rows: rates.map { [$0.0, String($0.1), String($0.2), FrenchFormat.percent($0.1 == 0 ? 0 : Double($0.2) / Double($0.1))] })

        r.heading("Part aléatoire et précision par Caf")
        r.table(
            header: ["Caf", "actifs", "capacité", "exclus", "aléatoires", "population du tirage", "probabilité d'inclusion", "taux attendu", "précision (IC 95 %)"],
            rows: plan.locals.map { l in
                [l.caf, String(l.actifs), String(l.capacite), String(l.exclus), String(l.tailleAleatoire), String(l.populationAleatoire),
                 l.populationAleatoire > 0 ? FrenchFormat.decimal(Double(l.tailleAleatoire) / Double(l.populationAleatoire), fractionDigits: 4) : "",
                 FrenchFormat.percent(l.tauxAttendu), l.precision.map { "± " + FrenchFormat.percent($0) } ?? ""]
            })
        return r
    }
}
