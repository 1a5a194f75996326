import CiblageModel
import CiblageReports
import CiblageStore
import Foundation

/// The `ciblage-reperes` stage: reads the réels of the exercice, computes the study and writes
/// its files (all written and synced under temporary names, then all renamed: all or none). Stores nothing.
public struct ReperesStage {
    public var store: Store
    public var referentiel: Referentiel

    public init(store: Store, referentiel: Referentiel) {
        self.store = store
        self.referentiel = referentiel
    }

    /// What was written.
    public struct Summary: Sendable {
        public var study: CostStudy
        public var outliers: Int
        public var fragile: Int?
        public var files: [URL]
    }

    public func run(exercice: Int, axes: [Axis], output: URL, fragilite: Bool = false, caf: String? = nil) throws -> Summary {
        let referentiel = referentiel
        let equipments = try store.dbQueue.read { db in
            // One ordered read of the réels: SQLite's page cache would only hold pages read once
            // (16 MiB instead of the store's 64 MiB, tens of megabytes less at the peak).
            try db.execute(sql: "PRAGMA cache_size = -16384")
            return try StudyStore.load(db, exercice: exercice, referentiel: referentiel)
        }
        guard !equipments.isEmpty else { throw ReperesError.noReel(exercice: exercice) }
        let screening = BackgroundWork { Screening.outliers(equipments, axes: axes) }
        let study = CostStudy(exercice: exercice, axes: axes, equipments: equipments)
        let outliers = try screening.wait()
        // Freed after their last use, the equipments took 62 ms between the study and its files.
        Memory.keepUntilExit(equipments, as: "reperes.equipments")

        let batch = OutputBatch()
        let table = output.appendingPathComponent("reperes-\(exercice).csv")
        try Self.writeStudy(study, to: table, batch: batch)
        let atypical = output.appendingPathComponent("reperes-\(exercice)-atypiques.csv")
        try Self.writeOutliers(outliers, axes: axes, to: atypical, batch: batch)
        var files = [table, atypical]
        var fragileCount: Int?
        if fragilite {
            let fragile = Screening.fragility(equipments, caf: caf)
            fragileCount = fragile.count
            let url = output.appendingPathComponent("fragilite-\(exercice)\(caf.map { "-\($0)" } ?? "").csv")
            try Self.writeFragility(fragile, to: url, batch: batch)
            files.append(url)
        }
        let html = output.appendingPathComponent("reperes-\(exercice).html")
        try ReperesReport.report(study, outliers: outliers.count).write(to: html, in: batch)
        files.append(html)
        try batch.commit()
        return Summary(study: study, outliers: outliers.count, fragile: fragileCount, files: files)
    }

    /// The contract's columns, then MOTIF_SECRET (the rule that blanked the cell) and
    /// EVOLUTION_MEDIANE (median N / median N-1 − 1, when both are published).
    public static func header(_ axes: [Axis]) -> [String] {
        axes.map(\.column) + ["INDICATEUR", "N", "MOYENNE", "P10", "P25", "MEDIANE", "P75", "P90", "DIFFUSABLE", "MOTIF_SECRET", "EVOLUTION_MEDIANE"]
    }

    static func writeStudy(_ study: CostStudy, to url: URL, batch: OutputBatch) throws {
        let writer = try FrenchCSVWriter(url: url, header: header(study.axes), batch: batch)
        for c in study.cells {
            let digits = c.indicator.isRatio ? 4 : 2
            func n(_ v: Double) -> String { c.diffusable ? FrenchFormat.decimal(v, fractionDigits: digits) : "" }
            let evolution = c.diffusable ? c.previousMedian.flatMap { $0 > 0 ? FrenchFormat.decimal(c.median / $0 - 1, fractionDigits: 4) : nil } ?? "" : ""
            try writer.writeRow(
                (c.key ?? Array(repeating: "ENSEMBLE", count: study.axes.count)) + [
                    c.indicator.rawValue, c.diffusable ? String(c.n) : "", n(c.mean), n(c.p10), n(c.p25), n(c.median), n(c.p75), n(c.p90),
                    c.diffusable ? "O" : "N", c.secret?.rawValue ?? "", evolution,
                ])
        }
    }

    static func writeOutliers(_ outliers: [Outlier], axes: [Axis], to url: URL, batch: OutputBatch) throws {
        let writer = try FrenchCSVWriter(url: url, header: ["N_DOSSIER"] + axes.map(\.column) + ["INDICATEUR", "VALEUR", "MEDIANE_CASE", "SCORE_Z_ROBUSTE"], batch: batch)
        for o in outliers {
            try writer.writeRow(
                [o.equipment] + o.cell + [
                    o.indicator.rawValue, FrenchFormat.decimal(o.value, fractionDigits: 4), FrenchFormat.decimal(o.median, fractionDigits: 4),
                    FrenchFormat.decimal(o.z, fractionDigits: 2),
                ])
        }
    }

    static func writeFragility(_ fragile: [Fragility], to url: URL, batch: OutputBatch) throws {
        let writer = try FrenchCSVWriter(
            url: url, header: ["N_DOSSIER", "NOM", "NATURE", "CAF", "SIREN_GESTIONNAIRE", "NOM_GESTIONNAIRE", "NB_SIGNAUX", "MOTIFS"], batch: batch)
        for f in fragile {
            let e = f.equipment
            try writer.writeRow([e.nDossier, e.nom, e.nature, e.caf, e.siren, e.nomGestionnaire, String(f.reasons.count), f.reasons.joined(separator: " | ")])
        }
    }
}

/// `reperes-<YYYY>.html`.
enum ReperesReport {
    static func report(_ study: CostStudy, outliers: Int) -> HTMLReport {
        var r = HTMLReport(title: "Repères de coûts \(study.exercice)")
        let axes = study.axes.map(\.rawValue).joined(separator: " × ")
        r.paragraph(
            "Étude sur \(FrenchFormat.count(study.equipments, "équipement", "équipements")) ayant déposé leur déclaration réelle \(study.exercice), par \(axes). "
                + "Quantiles de Hyndman et Fan, type 7 (ceux de R et numpy).")
        let national = Dictionary(uniqueKeysWithValues: study.cells.filter { $0.key == nil }.map { ($0.indicator, $0) })
        r.heading("Comparaison avec les références nationales publiées")
        var rows: [[String]] = []
        // Published references (DOMAIN.md): 17 500 € per place in 2022; Caf + families 63 % of the cost.
        let crèches = study.cells.filter { $0.key != nil && $0.indicator == .prixRevientPlace && $0.diffusable }
        if let p = national[.prixRevientPlace] {
            rows.append(["Prix de revient par place (médiane nationale, toutes natures)", FrenchFormat.euros(p.median), "17 500 € (2022, crèches)"])
        }
        if let collectif = crèches.first(where: { $0.key?.first == "EAJE_COLLECTIF" }) {
            rows.append(["Prix de revient par place, \(collectif.key!.joined(separator: " / "))", FrenchFormat.euros(collectif.median), "17 500 € (2022)"])
        }
        if let reste = national[.partResteACharge] {
            rows.append(["Part Caf + familles (1 − médiane de la part de reste à charge)", FrenchFormat.percent(1 - reste.median), "63 % (2022)"])
        }
        if let h = national[.prixRevientHeure] {
            rows.append(["Prix de revient par heure réalisée (médiane)", FrenchFormat.readable(h.median, fractionDigits: 2) + " €", "≈ 10 € (2015)"])
        }
        if let o = national[.tauxOccupation] {
            rows.append(["Taux d'occupation (médiane)", FrenchFormat.percent(o.median), "≈ 70 %"])
        }
        if let f = national[.tauxFacturation] {
            rows.append(["Taux de facturation (moyenne)", FrenchFormat.percent(f.mean), "112 à 113 %"])
        }
        r.table(header: ["indicateur", "cette étude", "référence publiée"], rows: rows)

        for indicator in CostIndicator.allCases {
            let cells = study.cells.filter { $0.indicator == indicator }
            r.heading("\(indicator.libelle) (\(indicator.rawValue))")
            r.paragraph("Formule : \(indicator.formule).")
            let format: (Double) -> String = indicator.isRatio
                ? { FrenchFormat.percent($0) } : { FrenchFormat.readable($0, fractionDigits: $0 < 100 ? 2 : 0) }
            let shown = cells.filter(\.diffusable)
            let reference: (String, Double)? =
                indicator == .prixRevientPlace ? ("17 500 € (2022)", 17_500) : indicator == .partFinancementCaf ? nil : nil
            r.boxPlot(
                title: "\(indicator.libelle) par case (P10, P25, médiane, P75, P90 ; cases diffusables)",
                boxes: shown.map {
                    HTMLReport.Box(
                        label: $0.key?.joined(separator: " / ") ?? "ENSEMBLE", p10: $0.p10, p25: $0.p25, median: $0.median, p75: $0.p75, p90: $0.p90)
                }, reference: reference.map { (label: $0.0, value: $0.1) }, format: format)
            r.table(
                header: study.axes.map(\.column) + ["N", "moyenne", "P10", "P25", "médiane", "P75", "P90", "évolution de la médiane", "diffusable"],
                rows: cells.map { c in
                    let key = c.key ?? Array(repeating: "ENSEMBLE", count: study.axes.count)
                    guard c.diffusable else { return key + ["", "", "", "", "", "", "", "", "non (\(c.secret!.libelle))"] }
                    return key + [
                        String(c.n), format(c.mean), format(c.p10), format(c.p25), format(c.median), format(c.p75), format(c.p90),
                        c.previousMedian.map { FrenchFormat.percent(c.median / $0 - 1, signed: true) } ?? "", "oui",
                    ]
                })
        }
        r.heading("Secret statistique")
        let blanked = study.cells.filter { !$0.diffusable }
        r.paragraph(
            "Une case n'est pas diffusée (DIFFUSABLE = N, chiffres effacés) si elle compte moins de \(CostStudy.minimumEquipments) équipements "
                + "ou moins de \(CostStudy.minimumManagers) gestionnaires distincts (règle de fréquence), ou si les deux premiers gestionnaires "
                + "portent plus de 85 % de ses charges (règle de dominance). Quand une seule case d'un indicateur est effacée, le total national "
                + "et les autres cases la trahiraient (effectif et somme) : la plus petite autre case est effacée avec elle (secret secondaire).")
        r.table(
            header: ["règle", "cases effacées"],
            rows: [SecretRule.frequence, .dominance, .secondaire].map { rule in [rule.libelle, String(blanked.filter { $0.secret == rule }.count)] })
        r.paragraph("\(FrenchFormat.count(outliers, "valeur atypique", "valeurs atypiques")) (score z robuste au-delà de 3,5 dans leur case) sont listées à part pour l'analyste et ne sont pas publiées.")
        return r
    }
}
