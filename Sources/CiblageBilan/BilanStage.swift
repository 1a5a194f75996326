import CiblageModel
import CiblageReports
import CiblageStore
import Foundation

/// The `ciblage-bilan` stage: links the controls to the campaign, computes the figures, writes
/// `bilan-<ID>.csv` and `bilan-<ID>.html` (both written, then both renamed into place: all or none). Stores nothing.
public struct BilanStage {
    public var store: Store
    public var referentiel: Referentiel

    public init(store: Store, referentiel: Referentiel) {
        self.store = store
        self.referentiel = referentiel
    }

    public static let header = ["NIVEAU", "CODE", "TIRAGE", "INDICATEUR", "VALEUR", "BORNE_BASSE", "BORNE_HAUTE"]

    public func run(campagne: String, output: URL) throws -> (inputs: BilanInputs, figures: [BilanFigure]) {
        let referentiel = referentiel
        let inputs = try store.dbQueue.read { try BilanStore.load($0, campagne: campagne, referentiel: referentiel) }
        let figures = BilanFigures.compute(inputs)
        let safe = campagne.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }
        let batch = OutputBatch()
        let csv = try FrenchCSVWriter(url: output.appendingPathComponent("bilan-\(String(safe)).csv"), header: Self.header, batch: batch)
        for f in figures {
            try csv.writeRow([
                f.level.rawValue, f.code, f.tirage, f.indicator, FrenchFormat.decimal(f.value, fractionDigits: 6),
                FrenchFormat.decimal(f.low, fractionDigits: 6), FrenchFormat.decimal(f.high, fractionDigits: 6),
            ])
        }
        try BilanReport.report(inputs, figures).write(to: output.appendingPathComponent("bilan-\(String(safe)).html"), in: batch)
        try batch.commit()
        return (inputs, figures)
    }
}

/// `bilan-<ID>.html`.
enum BilanReport {
    static func report(_ inputs: BilanInputs, _ figures: [BilanFigure]) -> HTMLReport {
        var r = HTMLReport(title: "Bilan de la campagne \(inputs.campagne)")
        func figure(_ level: BilanFigure.Level, _ code: String, _ tirage: String, _ indicator: String) -> BilanFigure? {
            figures.first { $0.level == level && $0.code == code && $0.tirage == tirage && $0.indicator == indicator }
        }
        func nat(_ tirage: String, _ indicator: String) -> BilanFigure? { figure(.national, "", tirage, indicator) }
        func count(_ f: BilanFigure?) -> String { f.map { String(Int($0.value)) } ?? "" }
        func money(_ f: BilanFigure?) -> String { f.map { FrenchFormat.euros($0.value) } ?? "" }
        func pct(_ v: Double?) -> String { v.map { FrenchFormat.readable($0 * 100, fractionDigits: 1) + " %" } ?? "" }
        func interval(_ f: BilanFigure?) -> String {
            guard let f, let lo = f.low, let hi = f.high else { return "" }
            return "[\(pct(lo)) ; \(pct(hi))]"
        }
        r.paragraph(
            inputs.planned
                ? "Campagne planifiée dans ciblage. Un contrôle lui est rattaché s'il la cite (colonne CAMPAGNE), ou, sans campagne citée, "
                    + "s'il porte sur un équipement du plan et a lieu dans les 12 mois qui suivent la date de référence."
                : "Campagne absente des plans de ciblage : bilan tiré de l'ORIGINE des contrôles qui la citent (ALEATOIRE, CIBLAGE → CIBLE, "
                    + "MULTI_DEPARTEMENTAL → MULTI) ; les contrôles aléatoires sont pris comme un tirage simple parmi les équipements actifs de leur Caf.")

        let realised = Int(nat("TOUS", "CONTROLES_REALISES")?.value ?? 0)
        if realised == 0 {
            let planned = Int(nat("TOUS", "CONTROLES_PREVUS")?.value ?? 0)
            r.paragraph(
                "Aucun contrôle de cette campagne n'a encore été remonté"
                    + (inputs.planned ? " (\(FrenchFormat.count(planned, "ligne prévue", "lignes prévues")))" : "")
                    + " : taux d'anomalie, indus, lift et estimations sur la population viendront avec les résultats des contrôles "
                    + "(fichier controles, colonne CAMPAGNE).")
        }
        r.heading("Réalisation et anomalies par tirage")
        let present = BilanFigures.tirages.filter { nat($0, "CONTROLES_REALISES") != nil || nat($0, "CONTROLES_PREVUS") != nil }
        var rows: [[String]] = []
        for t in present {
            let row: [String] = [
                t, count(nat(t, "CONTROLES_PREVUS")), count(nat(t, "CONTROLES_REALISES")), pct(nat(t, "TAUX_REALISATION")?.value),
                pct(nat(t, "TAUX_ANOMALIE")?.value), interval(nat(t, "TAUX_ANOMALIE")), money(nat(t, "INDU_TOTAL")), money(nat(t, "INDU_MOYEN")),
            ]
            // An unplanned campaign has nothing planned: its columns are left out, not left blank.
            rows.append(inputs.planned ? row : [row[0], row[2]] + row[4...])
        }
        r.table(
            header: ["tirage"] + (inputs.planned ? ["prévus", "réalisés", "taux de réalisation"] : ["réalisés"])
                + ["taux d'anomalie", "IC 95 % (Clopper–Pearson)", "indus", "indu moyen"],
            rows: rows)
        let withRate = present.compactMap { t in nat(t, "TAUX_ANOMALIE").map { (t, $0) } }
        if !withRate.isEmpty { r.boxPlot(
            title: "Taux d'anomalie par tirage, avec l'intervalle de confiance à 95 % (trait : estimation)",
            boxes: withRate.map { HTMLReport.Box(label: $0.0, p10: $0.1.low!, p25: $0.1.value, median: $0.1.value, p75: $0.1.value, p90: $0.1.high!) },
            format: { pct($0) }) }
        if let lift = nat("TOUS", "LIFT") {
            r.paragraph(
                "Lift (taux d'anomalie des lignes ciblées / des lignes aléatoires) : \(FrenchFormat.readable(lift.value, fractionDigits: 2)), "
                    + "IC 95 % [\(FrenchFormat.readable(lift.low!, fractionDigits: 2)) ; \(FrenchFormat.readable(lift.high!, fractionDigits: 2))] (méthode de Katz).")
        }
        if let pop = nat("ALEATOIRE", "TAUX_ANOMALIE_POPULATION") {
            let indu = nat("ALEATOIRE", "INDU_POPULATION")
            let units = nat("ALEATOIRE", "EQUIPEMENTS_POPULATION").map { FrenchFormat.readable($0.value) } ?? ""
            r.heading("Estimation sur la population")
            let induText = indu.map { i in
                "indus estimés \(FrenchFormat.euros(i.value)) [\(i.low.map(FrenchFormat.euros) ?? "") ; \(i.high.map(FrenchFormat.euros) ?? "")]"
            } ?? "indus de la population non estimés : les contrôles réalisés ont tous le même indu (aucune variance, donc pas d'intervalle)"
            r.paragraph(
                "Sur les \(units) équipements de la population (équipements des Caf, hors exclus et hors sites des groupes), taux d'anomalie estimé "
                    + "\(pct(pop.value)), IC 95 % \(interval(pop)) ; \(induText). "
                    + "Estimateur de Horvitz–Thompson stratifié par Caf : lignes ciblées observées (poids 1), lignes aléatoires pondérées par "
                    + "l'inverse de leur probabilité d'inclusion. Intervalle du taux : Clopper–Pearson sur la taille d'échantillon effective "
                    + "(Korn et Graubard) ; intervalle des montants : approximation normale avec la variance stratifiée.")
        }

        let precision = BilanFigures.precisionRanks.compactMap { k in nat("TOUS", "PRECISION_RANG_\(k)").map { (k, $0) } }
        if !precision.isEmpty {
            r.heading("Précision le long de l'ordre planifié")
            r.barChart(
                title: "Taux d'anomalie des lignes de rang ≤ k dans leur plan local",
                categories: precision.map { "rang ≤ \($0.0)" },
                series: [HTMLReport.Series(name: "précision", color: "#1f5fa8", values: precision.map(\.1.value))], stacked: false,
                format: { pct($0) })
        }
        let deciles = (1...10).compactMap { d -> (Int, Double, Double)? in
            guard let s = nat("TOUS", "SCORE_MOYEN_DECILE_\(d)"), let o = nat("TOUS", "TAUX_OBSERVE_DECILE_\(d)") else { return nil }
            return (d, s.value, o.value)
        }
        if !deciles.isEmpty {
            r.heading("Calibration du score")
            r.barChart(
                title: "Score moyen et taux d'anomalie observé par décile de score (contrôles réalisés)",
                categories: deciles.map { "décile \($0.0)" },
                series: [
                    HTMLReport.Series(name: "score moyen", color: "#9aa5b1", values: deciles.map(\.1)),
                    HTMLReport.Series(name: "taux observé", color: "#1f5fa8", values: deciles.map(\.2)),
                ], stacked: false, format: { pct($0) })
        }
        let objectives = figures.filter { $0.indicator.hasPrefix("OBJECTIF_") }
        if !objectives.isEmpty {
            r.heading("Objectifs annuels de la mission")
            r.table(
                header: ["objectif", "cible", "réalisés", "progression"],
                rows: objectives.map { o in
                    let key = String(o.indicator.dropFirst("OBJECTIF_".count))
                    return [key.lowercased(), String(Int(o.value)), String(Int(nat("TOUS", "REALISES_\(key)")?.value ?? 0)),
                            pct(nat("TOUS", "PROGRES_OBJECTIF_\(key)")?.value)]
                })
        }
        r.heading("Par pôle et par Caf")
        for level in [BilanFigure.Level.pole, .caf] {
            let codes = Array(Set(figures.filter { $0.level == level }.map(\.code))).sorted()
            let rates = codes.compactMap { c in figure(level, c, "TOUS", "TAUX_ANOMALIE").map { (c, $0) } }
            if !rates.isEmpty { r.barChart(
                title: "Taux d'anomalie des contrôles réalisés, par \(level == .pole ? "pôle" : "Caf")",
                categories: rates.map { level == .pole ? $0.0 : "Caf \($0.0)" },
                series: [HTMLReport.Series(name: "taux d'anomalie", color: "#1f5fa8", values: rates.map(\.1.value))], stacked: false,
                format: { pct($0) }) }
            var table: [[String]] = []
            for c in codes {
                let row: [String] = [
                    c, count(figure(level, c, "TOUS", "CONTROLES_PREVUS")), count(figure(level, c, "TOUS", "CONTROLES_REALISES")),
                    pct(figure(level, c, "TOUS", "TAUX_ANOMALIE")?.value), interval(figure(level, c, "TOUS", "TAUX_ANOMALIE")),
                    pct(figure(level, c, "ALEATOIRE", "TAUX_ANOMALIE_POPULATION")?.value),
                    interval(figure(level, c, "ALEATOIRE", "TAUX_ANOMALIE_POPULATION")), money(figure(level, c, "TOUS", "INDU_TOTAL")),
                ]
                table.append(inputs.planned ? row : [row[0]] + row[2...])
            }
            r.table(
                header: [level == .pole ? "pôle" : "Caf"] + (inputs.planned ? ["prévus"] : []) + ["réalisés", "taux d'anomalie", "IC 95 %", "population : taux estimé", "IC 95 %", "indus"],
                rows: table)
        }
        let codes = figures.filter { $0.level == .national && $0.indicator.hasPrefix("ANOMALIE_") }
        if !codes.isEmpty {
            r.heading("Anomalies constatées")
            r.table(header: ["code", "contrôles"], rows: codes.map { [String($0.indicator.dropFirst("ANOMALIE_".count)), String(Int($0.value))] })
        }
        return r
    }
}
