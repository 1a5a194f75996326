import CiblageModel
import CiblageReports
import Foundation

/// Ranking quality measures, for honest comparisons of a score with simpler rankings.
public enum RankingMetrics {
    /// Among `items` ranked by `order` (indices, best first): the top `share`, its positive
    /// rate over the overall rate (lift), and the share of the total indu it holds.
    public static func atShare(
        order: [Int], positive: [Bool], indu: [Double], share: Double = 0.1
    ) -> (lift: Double, hitRate: Double, baseRate: Double, induCaptured: Double) {
        let n = order.count
        let k = max(1, Int((Double(n) * share).rounded()))
        let top = order.prefix(k)
        let base = Double(positive.filter { $0 }.count) / Double(max(n, 1))
        let hit = Double(top.filter { positive[$0] }.count) / Double(k)
        let total = indu.reduce(0, +)
        let captured = top.reduce(0) { $0 + indu[$1] }
        return (base > 0 ? hit / base : .nan, hit, base, total > 0 ? captured / total : .nan)
    }

    /// Area under the ROC curve: the probability that a positive scores above a negative
    /// (ties count one half), by the rank-sum (Mann–Whitney) formula.
    public static func auc(scores: [Double], positive: [Bool]) -> Double {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let mid = Double(i + j) / 2 + 1
            for m in i...j { ranks[order[m]] = mid }
            i = j + 1
        }
        let nPos = Double(positive.filter { $0 }.count)
        let nNeg = Double(positive.count) - nPos
        guard nPos > 0, nNeg > 0 else { return .nan }
        let sum = zip(ranks, positive).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        return (sum - nPos * (nPos + 1) / 2) / (nPos * nNeg)
    }

    /// Indices of `values` sorted descending, ties by index (a deterministic order).
    public static func descending(_ values: [Double]) -> [Int] {
        values.indices.sorted { (values[$0], -$0) > (values[$1], -$1) }
    }
}

/// The generator's ground truth: indu an on-site control would find, per dossier and exercice.
public struct GroundTruth: Sendable {
    public var indu: [String: [Int: Double]]

    /// Reads `verite/anomalies.csv` (`N_DOSSIER;EXERCICE;ANOMALIES;INDU;VISIBILITE`, decimal comma).
    public init(directory: URL) throws {
        let text = try String(contentsOf: directory.appendingPathComponent("anomalies.csv"), encoding: .utf8)
        var indu: [String: [Int: Double]] = [:]
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() where n > 0 {
            let f = line.split(separator: ";", omittingEmptySubsequences: false)
            guard f.count >= 4, let year = Int(f[1]), let amount = Double(f[3].replacingOccurrences(of: ",", with: ".")) else {
                throw ScoreError.badGroundTruth(line: n + 1)
            }
            indu[String(f[0]), default: [:]][year] = amount
        }
        self.indu = indu
    }
}

/// The evaluation `ciblage-score --evaluer` prints and writes: the rolling-origin backtest of
/// every candidate ranking on the store's own controls, the calibration of the score, on whom
/// the list falls, and, on generated data, the ranking against the ground truth.
public struct Evaluation: Sendable {
    public struct Ranking: Sendable {
        public var name: String
        public var lift: Double
        public var hitRate: Double
        public var induCaptured: Double
    }
    public struct GroupRate: Sendable {
        public var group: String
        public var count: Int
        /// Share of the group in the top decile of PRIORITE.
        public var selected: Double
    }
    /// One candidate ranking through the backtest.
    public struct Candidate: Sendable {
        public var name: String
        public var byYear: [(year: Int, figures: Backtest.Figures)]
        public var pooled: Backtest.Figures
        /// Pooled over the random controls only.
        public var pooledRandom: Backtest.Figures
        /// Pooled gains curve: share of the list controlled → share of all indus found.
        public var gains: [(x: Double, y: Double)]
    }

    public var exercice: Int
    public var model: RiskModel
    public var scored: Int
    /// Against the ground truth (generated data), when given.
    public var truthBaseRate: Double?
    public var truthRankings: [Ranking] = []
    public var years: [Int] = []
    public var candidates: [Candidate] = []
    public var calibration: [Backtest.CalibrationBin] = []
    public var calibrationOn = ""
    public var selection: [GroupRate] = []

    /// Scores `inputs` with the model trained on its earlier controls, backtests every candidate
    /// ranking on all the controls in the store, and measures the list.
    public static func run(_ inputs: ScoringInputs, truth: GroundTruth?) throws -> Evaluation {
        let model = try RiskScoring.train(inputs.training, population: inputs.rows)
        let lines = try RiskScoring.score(inputs.rows, model: model, exercice: inputs.exercice)
        var e = Evaluation(exercice: inputs.exercice, model: model, scored: lines.count)
        if let truth {
            let indu = lines.map { truth.indu[$0.row.profile.nDossier]?[inputs.exercice] ?? 0 }
            let positive = indu.map { $0 >= RiskModel.induThreshold }
            e.truthBaseRate = Double(positive.filter { $0 }.count) / Double(max(1, positive.count))
            let rankings: [(String, (ScoredLine) -> Double)] = [
                ("PRIORITE livrée", \.priorite), ("SCORE seul", \.score), ("Référence : financement Caf seul", \.enjeu),
                ("Référence : règles fixes", { fixedRules($0.row) }),
            ]
            e.truthRankings = rankings.map { name, key in
                let m = RankingMetrics.atShare(order: RankingMetrics.descending(lines.map(key)), positive: positive, indu: indu)
                return Ranking(name: name, lift: m.lift, hitRate: m.hitRate, induCaptured: m.induCaptured)
            }
        }
        try e.backtest(inputs.training + inputs.later)
        e.selection = selectionRates(lines)
        return e
    }

    /// The rolling-origin backtest of the candidate rankings over `examples`.
    mutating func backtest(_ examples: [TrainingExample]) throws {
        let folds = Backtest.folds(examples, enough: RiskScoring.enoughToTest)
        years = folds.map(\.year)
        guard !folds.isEmpty else { return }
        let predictions = try Backtest.predictions(examples, folds: folds, kinds: [.entraine, .arbres])
        let kind = model.kind == .expert ? RiskModel.Kind.entraine : model.kind
        let alpha = model.alpha ?? 1
        let typical = Backtest.typicalSeverity(predictions)
        let kindName = kind == .arbres ? "arbres boostés" : "régression logistique"
        let keys: [(String, (Backtest.Predictions, Int) -> Double)] = [
            ("PRIORITE livrée (\(kindName), α = \(FrenchFormat.decimal(alpha)))", { p, i in
                Backtest.key(probability: p.probability[kind]![i], severity: p.severity[i], alpha: alpha, typical: typical)
            }),
            ("SCORE, régression logistique", { p, i in p.probability[.entraine]![i] }),
            ("SCORE, arbres boostés", { p, i in p.probability[.arbres]![i] }),
            ("Indu attendu P × E[indu | anomalie]", { p, i in p.probability[kind]![i] * p.severity[i] }),
            ("Ancienne PRIORITE : SCORE × part × financement", { p, i in p.probability[.entraine]![i] * p.tested[i].enjeu }),
            ("Référence : financement Caf seul", { p, i in p.tested[i].enjeu }),
            ("Référence : règles fixes", { p, i in p.tested[i].rules }),
        ]
        candidates = keys.map { name, key in
            var byYear: [(Int, Backtest.Figures)] = []
            var random: [Backtest.Figures] = []
            var orders: [(order: [Int], positive: [Bool], indu: [Double])] = []
            for p in predictions {
                let values = p.tested.indices.map { key(p, $0) }
                let positive = p.tested.map(\.positive)
                let indu = p.tested.map(\.indu)
                byYear.append((p.year, Backtest.figures(key: values, positive: positive, indu: indu)))
                let r = p.tested.indices.filter { p.tested[$0].origine == .aleatoire }
                random.append(Backtest.figures(key: r.map { values[$0] }, positive: r.map { positive[$0] }, indu: r.map { indu[$0] }))
                orders.append((RankingMetrics.descending(values), positive, indu))
            }
            let total = orders.reduce(0.0) { t, o in t + zip(o.positive, o.indu).reduce(0) { $0 + ($1.0 ? $1.1 : 0) } }
            let gains = stride(from: 0, through: 50, by: 1).map { step -> (x: Double, y: Double) in
                let x = Double(step) / 50
                let found = orders.reduce(0.0) { t, o in
                    t + o.order.prefix(Int((x * Double(o.order.count)).rounded())).reduce(0) { $0 + (o.positive[$1] ? o.indu[$1] : 0) }
                }
                return (x, total > 0 ? found / total : 0)
            }
            return Candidate(
                name: name, byYear: byYear, pooled: .pooled(byYear.map(\.1)), pooledRandom: .pooled(random), gains: gains)
        }
        // Calibration of the probability on random on-site controls when there are enough.
        var sample = predictions.flatMap { p in p.tested.indices.map { (p.probability[kind]![$0], p.tested[$0]) } }
        let randomOnSite = sample.filter { $0.1.origine == .aleatoire && $0.1.type == .surPlace }
        calibrationOn = "contrôles aléatoires sur place"
        if randomOnSite.count >= 100 {
            sample = randomOnSite
        } else {
            calibrationOn = "tous les contrôles testés (trop peu d'aléatoires sur place)"
        }
        calibration = Backtest.calibration(probability: sample.map(\.0), positive: sample.map(\.1.positive))
    }

    /// On whom the top decile of PRIORITE falls.
    static func selectionRates(_ lines: [ScoredLine]) -> [GroupRate] {
        let k = max(1, Int((Double(lines.count) * 0.1).rounded()))
        let top = Set(lines.prefix(k).map(\.row.profile.id))
        var groups: [(String, (EquipmentProfile) -> Bool)] = StatutGestionnaire.allCases.map { s in
            ("Statut \(s.rawValue)", { $0.statut == s.rawValue })
        }
        groups += [("QPV", { $0.qpv }), ("ZRR", { $0.zrr }), ("Hors QPV et ZRR", { !$0.qpv && !$0.zrr }), ("Ensemble", { _ in true })]
        return groups.map { name, member in
            let members = lines.filter { member($0.row.profile) }
            let chosen = members.filter { top.contains($0.row.profile.id) }.count
            return GroupRate(group: name, count: members.count, selected: members.isEmpty ? 0 : Double(chosen) / Double(members.count))
        }
    }

    /// The fixed-rules baseline: one point per rule met (taux de facturation > 117 %, occupation
    /// > 100 %, hours per place +20 % with stable places, réel late or missing, an anomaly at a
    /// past control, two round figures or more), ties broken by funding.
    public static func fixedRules(_ row: FeatureRow) -> Double {
        let i = row.indicators
        var points = 0
        if (i.tauxFacturation ?? 0) > IndicatorCalculator.band2Limit { points += 1 }
        if (i.tauxOccupation ?? 0) > 1 { points += 1 }
        if (i.variationHeuresParPlace ?? 0) > 0.2 { points += 1 }
        if i.reelManquant || (i.joursRetardReel ?? 0) > 0 { points += 1 }
        if i.anomaliesPassees > 0 { points += 1 }
        if i.chiffresRonds >= 2 { points += 1 }
        return Double(points) * 1e12 + i.enjeuEuros
    }

    static func pct(_ v: Double) -> String { v.isFinite ? FrenchFormat.readable(v * 100, fractionDigits: 1) + " %" : "—" }
    static func num(_ v: Double, _ d: Int = 2) -> String { v.isFinite ? FrenchFormat.readable(v, fractionDigits: d) : "—" }

    /// The columns of `evaluation-<N>.csv`, one line per candidate and year (ANNEE `ENSEMBLE`
    /// pooled, `ALEATOIRES` pooled over random controls).
    public static let header = [
        "ANNEE", "CLASSEMENT", "CONTROLES", "POSITIFS", "AUC", "LIFT_5", "LIFT_10", "LIFT_20", "TAUX_POSITIFS_10",
        "PART_INDU_5", "PART_INDU_10", "PART_INDU_20",
    ]

    /// The rows of `evaluation-<N>.csv`.
    public var rows: [[String]] {
        func row(_ year: String, _ name: String, _ f: Backtest.Figures) -> [String] {
            [year, name, String(f.controls), String(f.positives), FrenchFormat.decimal(f.auc, fractionDigits: 4)]
                + (0..<3).map { FrenchFormat.decimal(f.lift($0), fractionDigits: 3) } + [FrenchFormat.decimal(f.hitRate(1), fractionDigits: 4)]
                + (0..<3).map { FrenchFormat.decimal(f.induCaptured($0), fractionDigits: 4) }
        }
        return candidates.flatMap { c in
            c.byYear.map { row(String($0.year), c.name, $0.figures) } + [row("ENSEMBLE", c.name, c.pooled), row("ALEATOIRES", c.name, c.pooledRandom)]
        }
    }

    /// The evaluation as French text.
    public var text: String {
        func pct(_ v: Double) -> String { Self.pct(v) }
        func num(_ v: Double, _ d: Int = 2) -> String { Self.num(v, d) }
        var out = "Évaluation du score, exercice \(exercice) : \(scored) équipements scorés\n"
        out += "Modèle \(model.version) (\(model.kind.rawValue)), entraîné sur \(model.trainingControls) contrôles "
        out += "dont \(model.trainingPositives) positifs et \(model.randomControls) aléatoires ; clé PRIORITE α = \(num(model.alpha ?? 1))\n"
        out += "Cible : \(RiskModel.target)\n"
        if let base = truthBaseRate {
            out += "\nVérité terrain (données générées) : \(pct(base)) des équipements ont un indu ≥ 1 000 €\n"
            out += "CLASSEMENT;LIFT_10;TAUX_POSITIFS_10;PART_INDU_10\n"
            for r in truthRankings { out += "\(r.name);\(num(r.lift));\(pct(r.hitRate));\(pct(r.induCaptured))\n" }
        }
        guard !candidates.isEmpty else {
            return out + "\nBacktest : pas assez de contrôles étiquetés avant chaque année pour ajuster un modèle.\n"
        }
        out += "\nBacktest à origine glissante : pour chaque année testée (\(years.map(String.init).joined(separator: ", "))), "
        out += "modèles ajustés sur les contrôles des années précédentes, testés sur ceux de l'année ; années cumulées :\n"
        out += "CLASSEMENT;CONTROLES;AUC;LIFT_5;LIFT_10;LIFT_20;PART_INDU_5;PART_INDU_10;PART_INDU_20\n"
        for c in candidates {
            let f = c.pooled
            out += "\(c.name);\(f.controls);\(num(f.auc, 3));\(num(f.lift(0)));\(num(f.lift(1)));\(num(f.lift(2)));"
            out += "\(pct(f.induCaptured(0)));\(pct(f.induCaptured(1)));\(pct(f.induCaptured(2)))\n"
        }
        out += "\nContrôles aléatoires seuls (cumulés) :\nCLASSEMENT;CONTROLES;AUC;LIFT_10;PART_INDU_10\n"
        for c in candidates {
            let f = c.pooledRandom
            out += "\(c.name);\(f.controls);\(num(f.auc, 3));\(num(f.lift(1)));\(pct(f.induCaptured(1)))\n"
        }
        out += "\nPar année (PRIORITE livrée) :\nANNEE;CONTROLES;POSITIFS;AUC;LIFT_10;PART_INDU_10\n"
        for (year, f) in candidates[0].byYear {
            out += "\(year);\(f.controls);\(f.positives);\(num(f.auc, 3));\(num(f.lift(1)));\(pct(f.induCaptured(1)))\n"
        }
        out += "\nCalibration (\(calibrationOn)), par décile de score :\nN;PREDIT;OBSERVE\n"
        for b in calibration { out += "\(b.count);\(pct(b.predicted));\(pct(b.observed))\n" }
        out += "\nTaux de sélection dans le premier décile de PRIORITE :\nGROUPE;EQUIPEMENTS;SELECTIONNES\n"
        for g in selection { out += "\(g.group);\(g.count);\(pct(g.selected))\n" }
        return out
    }

    /// `evaluation-<N>.html`: gains curves, calibration plot, tables by year.
    public var report: HTMLReport {
        func pct(_ v: Double) -> String { Self.pct(v) }
        func num(_ v: Double, _ d: Int = 2) -> String { Self.num(v, d) }
        var r = HTMLReport(title: "Évaluation du classement, exercice \(exercice)")
        r.paragraph(
            "Modèle \(model.version) (\(model.kind.rawValue)) entraîné sur \(model.trainingControls) contrôles, dont \(model.trainingPositives) "
                + "positifs (indu ≥ 1 000 €). Cible : \(RiskModel.target). Clé de classement PRIORITE = SCORE × Ē × (E[indu | anomalie] / Ē)^α, "
                + "α = \(num(model.alpha ?? 1)).")
        guard !candidates.isEmpty else {
            r.paragraph("Backtest impossible : pas assez de contrôles étiquetés avant chaque année.")
            return r
        }
        r.heading("Backtest à origine glissante")
        r.paragraph(
            "Pour chaque année testée (\(years.map(String.init).joined(separator: ", "))), les modèles sont ajustés sur les contrôles des années "
                + "précédentes (chacun avec les caractéristiques de l'équipement connues à la fin de l'exercice qu'il couvrait), puis les contrôles "
                + "de l'année sont classés. Années cumulées : chaque année est coupée à la même part de sa liste.")
        let colors = ["#1f5fa8", "#e07b00", "#6a3d9a", "#33a02c", "#b15928", "#9aa5b1", "#e31a1c", "#000000"]
        r.lineChart(
            title: "Courbe de gains : part des indus trouvés selon la part de la liste contrôlée", xLabel: "part de la liste contrôlée",
            yLabel: "part des indus trouvés",
            lines: candidates.enumerated().map { HTMLReport.Line(name: $0.element.name, color: colors[$0.offset % colors.count], points: $0.element.gains) }
                + [HTMLReport.Line(name: "hasard", color: "#9aa5b1", points: [(0, 0), (1, 1)], dashed: true)])
        r.table(
            header: ["classement", "contrôles", "AUC", "lift 5 %", "lift 10 %", "lift 20 %", "indu 5 %", "indu 10 %", "indu 20 %"],
            rows: candidates.map { c in
                let f = c.pooled
                return [c.name, String(f.controls), num(f.auc, 3), num(f.lift(0)), num(f.lift(1)), num(f.lift(2)), pct(f.induCaptured(0)),
                    pct(f.induCaptured(1)), pct(f.induCaptured(2))]
            })
        r.heading("Par année")
        r.table(
            header: ["année", "classement", "contrôles", "positifs", "AUC", "lift 10 %", "indu 10 %"],
            rows: candidates.flatMap { c in
                c.byYear.map { [String($0.year), c.name, String($0.figures.controls), String($0.figures.positives), num($0.figures.auc, 3),
                    num($0.figures.lift(1)), pct($0.figures.induCaptured(1))] }
            })
        r.heading("Contrôles aléatoires seuls")
        r.table(
            header: ["classement", "contrôles", "AUC", "lift 10 %", "indu 10 %"],
            rows: candidates.map { [$0.name, String($0.pooledRandom.controls), num($0.pooledRandom.auc, 3), num($0.pooledRandom.lift(1)), pct($0.pooledRandom.induCaptured(1))] })
        r.heading("Calibration")
        r.lineChart(
            title: "Taux observé selon le score prédit, par décile (\(calibrationOn))", xLabel: "score prédit", yLabel: "taux observé",
            lines: [
                HTMLReport.Line(name: "déciles", color: "#1f5fa8", points: calibration.map { ($0.predicted, $0.observed) }),
                HTMLReport.Line(name: "calibration parfaite", color: "#9aa5b1", points: [(0, 0), (1, 1)], dashed: true),
            ])
        r.table(header: ["contrôles", "prédit", "observé"], rows: calibration.map { [String($0.count), pct($0.predicted), pct($0.observed)] })
        r.heading("Sur qui tombe le premier décile de PRIORITE")
        r.table(header: ["groupe", "équipements", "sélectionnés"], rows: selection.map { [$0.group, String($0.count), pct($0.selected)] })
        return r
    }

    /// Writes `evaluation-<N>.csv` and `evaluation-<N>.html` into `folder` (both or none).
    public func write(to folder: URL) throws -> [URL] {
        let batch = OutputBatch()
        let csv = folder.appendingPathComponent("evaluation-\(exercice).csv")
        let html = folder.appendingPathComponent("evaluation-\(exercice).html")
        let writer = try FrenchCSVWriter(url: csv, header: Self.header, batch: batch)
        for row in rows { try writer.writeRow(row) }
        try report.write(to: html, in: batch)
        try batch.commit()
        return [csv, html]
    }
}
