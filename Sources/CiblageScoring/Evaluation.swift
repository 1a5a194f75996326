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

/// The evaluation `ciblage-score --evaluer` prints.
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
    public struct CalibrationBin: Sendable {
        public var count: Int
        public var predicted: Double
        public var observed: Double
    }

    public var exercice: Int
    public var model: RiskModel
    public var scored: Int
    /// Against the ground truth (generated data), when given.
    public var truthBaseRate: Double?
    public var truthRankings: [Ranking] = []
    /// Time split: controls that covered the exercice, done after the scoring date.
    public var testControls = 0
    public var testAUC: Double?
    public var testRankings: [Ranking] = []
    public var calibration: [CalibrationBin] = []
    public var calibrationOn = ""
    public var selection: [GroupRate] = []

    /// Scores `inputs` with the model trained on its earlier controls and measures the ranking.
    public static func run(_ inputs: ScoringInputs, truth: GroundTruth?) throws -> Evaluation {
        let model = try RiskScoring.train(inputs.training, population: inputs.rows)
        let lines = RiskScoring.score(inputs.rows, model: model, exercice: inputs.exercice)
        var e = Evaluation(exercice: inputs.exercice, model: model, scored: lines.count)
        let rankings: [(name: String, key: (ScoredLine) -> Double)] = [
            ("PRIORITE (score × enjeu)", \.priorite),
            ("SCORE seul", \.score),
            ("Référence : financement Caf seul", \.enjeu),
            ("Référence : règles fixes", { fixedRules($0.row) }),
        ]
        func measure(_ lines: [ScoredLine], positive: [Bool], indu: [Double]) -> [Ranking] {
            rankings.map { name, key in
                let m = RankingMetrics.atShare(order: RankingMetrics.descending(lines.map(key)), positive: positive, indu: indu)
                return Ranking(name: name, lift: m.lift, hitRate: m.hitRate, induCaptured: m.induCaptured)
            }
        }
        if let truth {
            let indu = lines.map { truth.indu[$0.row.profile.nDossier]?[inputs.exercice] ?? 0 }
            let positive = indu.map { $0 >= RiskModel.induThreshold }
            e.truthBaseRate = Double(positive.filter { $0 }.count) / Double(max(1, positive.count))
            e.truthRankings = measure(lines, positive: positive, indu: indu)
        }

        // Time split: the later controls of the exercice, scored by a model that never saw them.
        let byId = Dictionary(uniqueKeysWithValues: lines.map { ($0.row.profile.id, $0) })
        let tested = inputs.later.compactMap { c in byId[c.equipementId].map { (c, $0) } }
        e.testControls = tested.count
        if !tested.isEmpty {
            let positive = tested.map(\.0.positive)
            let indu = tested.map { $0.0.positive ? $0.0.indu : 0 }
            e.testAUC = RankingMetrics.auc(scores: tested.map(\.1.score), positive: positive)
            e.testRankings = measure(tested.map(\.1), positive: positive, indu: indu)
            // Calibration on random on-site controls when there are enough, else on all of them.
            var sample = tested.filter { $0.0.origine == .aleatoire && $0.0.type == .surPlace }
            e.calibrationOn = "contrôles aléatoires sur place"
            if sample.count < 100 {
                sample = tested
                e.calibrationOn = "tous les contrôles (trop peu d'aléatoires)"
            }
            let sorted = sample.sorted { $0.1.score < $1.1.score }
            let bins = min(10, max(1, sorted.count / 20))
            for b in 0..<bins {
                let slice = sorted[(b * sorted.count / bins)..<((b + 1) * sorted.count / bins)]
                guard !slice.isEmpty else { continue }
                e.calibration.append(
                    CalibrationBin(
                        count: slice.count, predicted: slice.reduce(0) { $0 + $1.1.score } / Double(slice.count),
                        observed: Double(slice.filter(\.0.positive).count) / Double(slice.count)))
            }
        }

        // On whom the top decile of PRIORITE falls.
        let k = max(1, Int((Double(lines.count) * 0.1).rounded()))
        let top = Set(lines.prefix(k).map(\.row.profile.id))
        var groups: [(String, (EquipmentProfile) -> Bool)] = StatutGestionnaire.allCases.map { s in
            ("Statut \(s.rawValue)", { $0.statut == s.rawValue })
        }
        groups += [("QPV", { $0.qpv }), ("ZRR", { $0.zrr }), ("Hors QPV et ZRR", { !$0.qpv && !$0.zrr }), ("Ensemble", { _ in true })]
        e.selection = groups.map { name, member in
            let members = lines.filter { member($0.row.profile) }
            let chosen = members.filter { top.contains($0.row.profile.id) }.count
            return GroupRate(group: name, count: members.count, selected: members.isEmpty ? 0 : Double(chosen) / Double(members.count))
        }
        return e
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

    /// The evaluation as French text.
    public var text: String {
        func pct(_ v: Double) -> String { v.isFinite ? FrenchFormat.readable(v * 100, fractionDigits: 1) + " %" : "—" }
        func num(_ v: Double, _ d: Int = 2) -> String { v.isFinite ? FrenchFormat.readable(v, fractionDigits: d) : "—" }
        var out = "Évaluation du score, exercice \(exercice) : \(scored) équipements scorés\n"
        out += "Modèle \(model.version) (\(model.kind.rawValue)), entraîné sur \(model.trainingControls) contrôles "
        out += "dont \(model.trainingPositives) positifs et \(model.randomControls) aléatoires\n"
        out += "Cible : \(RiskModel.target)\n"
        if let base = truthBaseRate {
            out += "\nVérité terrain (données générées) : \(pct(base)) des équipements ont un indu ≥ 1 000 €\n"
            out += "CLASSEMENT;LIFT_10;TAUX_POSITIFS_10;PART_INDU_10\n"
            for r in truthRankings { out += "\(r.name);\(num(r.lift));\(pct(r.hitRate));\(pct(r.induCaptured))\n" }
        }
        out += "\nDécoupage temporel : entraîné sur les contrôles faits avant le \(IndicatorStore.defaultAsOf(exercice).french), "
        out += "testé sur les \(testControls) contrôles postérieurs portant sur \(exercice)\n"
        if let auc = testAUC {
            out += "AUC du score : \(num(auc, 3))\n"
            out += "CLASSEMENT;LIFT_10;TAUX_POSITIFS_10;PART_INDU_10\n"
            for r in testRankings { out += "\(r.name);\(num(r.lift));\(pct(r.hitRate));\(pct(r.induCaptured))\n" }
            out += "\nCalibration (\(calibrationOn)), par tranche de score :\nN;PREDIT;OBSERVE\n"
            for b in calibration { out += "\(b.count);\(pct(b.predicted));\(pct(b.observed))\n" }
        }
        out += "\nTaux de sélection dans le premier décile de PRIORITE :\nGROUPE;EQUIPEMENTS;SELECTIONNES\n"
        for g in selection { out += "\(g.group);\(g.count);\(pct(g.selected))\n" }
        return out
    }
}
