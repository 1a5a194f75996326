import CiblageModel
import CiblageReports
import CiblageScoring
import Foundation

/// A project as the store holds it (its latest row), with its pôle.
public struct ProjectRow: Sendable {
    public var nProjet, caf, pole, commune, siren, nom, statut, nature: String
    public var places: Int
    public var decision: CalendarDate
    /// Euros.
    public var aide: Double?
    public var prevue: CalendarDate
    public var etat: EtatProjet
    public var ouvertes: Int?
    public var ouverture: CalendarDate?
    public var abandon: CalendarDate?
    public var qpv, zrr: Bool

    /// The project's outcome and time at `reference`: opened or abandoned when that happened by
    /// then, otherwise pending, censored at the reference date.
    public func time(at reference: CalendarDate) -> ProjectTime {
        if etat == .ouvert, let o = ouverture, !(reference < o) {
            return ProjectTime(months: CompetingRisks.months(from: decision, to: o), outcome: .opened)
        }
        if etat == .abandonne, let a = abandon, !(reference < a) {
            return ProjectTime(months: CompetingRisks.months(from: decision, to: a), outcome: .abandoned)
        }
        return ProjectTime(months: CompetingRisks.months(from: decision, to: reference), outcome: .censored)
    }

    /// Opened with less than 80 % of the places decided.
    public var shrunk: Bool { etat == .ouvert && Double(ouvertes ?? 0) < 0.8 * Double(places) }
}

/// The risk that a pending project fails: is abandoned, opens with less than 80 % of its places
/// decided, or has opened nothing 36 months after its decision.
///
/// Fitted (ridge logistic regression) on the projects decided at least 36 months before the
/// reference date, whose outcome is then known, from what is known at the decision (size,
/// investment aid, nature, carrier's status, QPV/ZRR, planned delay) and the carrier's record on
/// its other projects. With fewer than 100 such projects or 20 failures, an expert scale
/// (versioned weights) stands in. The delay already run past the planned opening and a
/// suspension are said in the reasons, as facts.
public struct ProjectRiskModel: Sendable {
    public static let features = [
        "places_log", "aide_par_place_keur", "sans_aide", "micro_creche_paje", "porteur_entreprise", "porteur_public", "mam", "qpv", "zrr",
        "delai_prevu_mois", "echecs_porteur", "premier_projet",
    ]
    /// Expert weights (log-odds per unit of the raw feature), used when too few outcomes are known.
    static let expert: [Double] = [0.5, -0.05, 0.8, 0.3, 0.3, -0.3, 0.1, 0.2, 0.1, 0.01, 0.6, 0.3]
    static let expertIntercept = -3.2

    public enum Kind: String, Sendable { case entraine = "ENTRAINE", expert = "EXPERT" }
    public var kind: Kind
    public var means: [Double]
    public var scales: [Double]
    public var regression: LogisticRegression?
    public var trainingProjects: Int
    public var trainingFailures: Int

    /// The features of `p`; `record`: the carrier's failures among its other projects known at
    /// the reference date, and whether `p` is its first project.
    static func features(_ p: ProjectRow, record: (failures: Int, first: Bool)) -> [Double] {
        [
            log(Double(p.places)), p.aide.map { $0 / Double(p.places) / 1000 } ?? 0, p.aide == nil ? 1 : 0,
            p.nature == "MICRO_CRECHE_PAJE" ? 1 : 0, p.statut == "ENTREPRISE" ? 1 : 0, p.statut == "PUBLIC" ? 1 : 0,
            p.nature == "MAM" ? 1 : 0, p.qpv ? 1 : 0, p.zrr ? 1 : 0,
            Double(CompetingRisks.months(from: p.decision, to: p.prevue)), Double(record.failures), record.first ? 1 : 0,
        ]
    }

    /// Each carrier's failures known at `reference` (abandoned, or opened below 80 %), by
    /// project, excluding the project itself; and whether a project is its carrier's first.
    static func records(_ projects: [ProjectRow], at reference: CalendarDate) -> [String: (failures: Int, first: Bool)] {
        var failed: [String: Set<String>] = [:]
        var firstOf: [String: (CalendarDate, String)] = [:]
        for p in projects {
            let t = p.time(at: reference)
            if t.outcome == .abandoned || (t.outcome == .opened && p.shrunk) { failed[p.siren, default: []].insert(p.nProjet) }
            if let f = firstOf[p.siren], !(p.decision < f.0) && !(p.decision == f.0 && p.nProjet < f.1) { continue }
            firstOf[p.siren] = (p.decision, p.nProjet)
        }
        var out: [String: (Int, Bool)] = [:]
        for p in projects {
            out[p.nProjet] = ((failed[p.siren] ?? []).subtracting([p.nProjet]).count, firstOf[p.siren]?.1 == p.nProjet)
        }
        return out
    }

    /// The label of a project decided 36 months or more before `reference`.
    static func failed(_ p: ProjectRow, at reference: CalendarDate) -> Bool {
        let t = p.time(at: reference)
        switch t.outcome {
        case .abandoned: return true
        case .opened: return p.shrunk || t.months > 36
        case .censored: return true
        }
    }

    public static func fit(_ projects: [ProjectRow], at reference: CalendarDate) -> ProjectRiskModel {
        let records = records(projects, at: reference)
        let old = projects.filter { CompetingRisks.months(from: $0.decision, to: reference) >= 36 }
        let x = old.map { features($0, record: records[$0.nProjet]!) }
        let y = old.map { failed($0, at: reference) ? 1.0 : 0.0 }
        let positives = Int(y.reduce(0, +))
        let k = Self.features.count
        let (means, scales) = RiskScoring.standardisation(x.map { $0.map(Optional.some) }, count: k)
        guard old.count >= 100, positives >= 20, old.count - positives >= 20,
            let regression = try? LogisticRegression.fit(
                x: x.map { row in (0..<k).map { (row[$0] - means[$0]) / scales[$0] } }, y: y, lambda: 1)
        else {
            return ProjectRiskModel(
                kind: .expert, means: means, scales: scales, regression: nil, trainingProjects: old.count, trainingFailures: positives)
        }
        return ProjectRiskModel(
            kind: .entraine, means: means, scales: scales, regression: regression, trainingProjects: old.count, trainingFailures: positives)
    }

    /// Probability of failure and each feature's contribution (log-odds).
    public func score(_ x: [Double]) -> (probability: Double, contributions: [Double]) {
        if let regression {
            let contributions = x.indices.map { regression.coefficients[$0] * (x[$0] - means[$0]) / scales[$0] }
            return (regression.probability(x.indices.map { (x[$0] - means[$0]) / scales[$0] }), contributions)
        }
        let contributions = x.indices.map { Self.expert[$0] * (x[$0] - means[$0]) }
        let z = Self.expertIntercept + x.indices.reduce(0) { $0 + Self.expert[$1] * x[$1] }
        return (1 / (1 + exp(-z)), contributions)
    }

    /// The reasons of a pending project, most important first, each with its figure.
    public static func reasons(_ p: ProjectRow, x: [Double], contributions: [Double], reference: CalendarDate) -> [String] {
        var out: [(Double, String)] = []
        for j in contributions.indices where contributions[j] > 0.05 {
            let text: String? =
                switch features[j] {
                case "places_log": "\(p.places) places décidées"
                case "aide_par_place_keur": "Aide à l'investissement \(FrenchFormat.euros(x[1] * 1000)) par place"
                case "sans_aide": "Sans aide à l'investissement"
                case "micro_creche_paje": "Micro-crèche PAJE"
                case "porteur_entreprise": "Porteur : entreprise"
                case "porteur_public": "Porteur : collectivité"
                case "mam": "Maison d'assistants maternels"
                case "qpv": "En quartier prioritaire (QPV)"
                case "zrr": "En zone de revitalisation rurale (ZRR)"
                case "delai_prevu_mois": "Ouverture prévue \(Int(x[9])) mois après la décision"
                case "echecs_porteur": "Porteur : \(Int(x[10])) autre\(x[10] > 1 ? "s" : "") projet\(x[10] > 1 ? "s" : "") abandonné\(x[10] > 1 ? "s" : "") ou réduit\(x[10] > 1 ? "s" : "")"
                case "premier_projet": "Premier projet du porteur"
                default: nil
                }
            if let text { out.append((contributions[j], text)) }
        }
        var facts: [String] = []
        if p.etat == .suspendu { facts.append("Projet suspendu") }
        let late = CompetingRisks.months(from: p.prevue, to: reference)
        if p.prevue < reference, late > 0 { facts.append("Ouverture prévue le \(p.prevue.french), dépassée de \(late) mois") }
        return facts + out.sorted { $0.0 > $1.0 }.prefix(4).map(\.1)
    }
}
