import Foundation

/// The model behind a score: enough to recompute and explain any stored score later.
///
/// The target, written down: the probability that an on-site control of the equipment, drawn at
/// random, finds an anomaly with an indu of at least ``RiskModel/induThreshold`` euros over the
/// exercices it covers.
public struct RiskModel: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Fitted on the store's control outcomes.
        case entraine = "ENTRAINE"
        /// The versioned expert weights, used when too few controls are labelled.
        case expert = "EXPERT"
        /// Gradient-boosted trees (XGBoost) fitted on the store's control outcomes.
        case arbres = "ARBRES_BOOSTES"
    }

    /// Euros: a control counts as positive when it finds an anomaly with at least this indu.
    public static let induThreshold = 1000.0
    public static let target =
        "probabilité qu'un contrôle sur place, tiré au hasard, trouve une anomalie avec un indu d'au moins 1 000 €"

    public var version: String
    public var kind: Kind
    /// Feature codes (``Feature/code``), in the order of `means`, `scales`, `coefficients`.
    public var features: [String]
    /// Standardisation: z = (x − mean) / scale; a missing value counts as the mean.
    public var means: [Double]
    public var scales: [Double]
    /// Log-odds: intercept, then one coefficient per standardised feature.
    public var intercept: Double
    public var coefficients: [Double]
    /// Coefficients of the training-only covariates (control origin, on documents), kept for
    /// the record; scores are predicted as for a random on-site control (all of them 0).
    public var nuisance: [String: Double]
    /// Ridge penalty of the fit (0 for expert weights).
    public var lambda: Double
    /// Labelled controls used to fit (or calibrate), positives among them, random ones among them.
    public var trainingControls: Int
    public var trainingPositives: Int
    public var randomControls: Int
    /// Expected indu of a positive control as a share of the funding at stake (median over the
    /// positive training controls): the severity used when there is no ``severity`` model.
    public var induShareOfStake: Double
    /// The trees (XGBoost's JSON) of a model of kind ``Kind/arbres``; their columns are the
    /// features then the training-only covariates (``RiskScoring/nuisanceNames``).
    public var booster: String?
    /// E[indu | anomaly, features], in euros; nil when too few positive controls.
    public var severity: SeverityModel?
    /// Exponent of the ranking key PRIORITE = SCORE × Ē × (E[indu | anomaly] / Ē)^α
    /// (nil: 1, the expected indu).
    public var alpha: Double?
    /// Ē, euros: the median expected indu of the positive training controls.
    public var typicalIndu: Double?
    /// The rolling-origin backtest that chose the kind and α.
    public var selection: ModelSelection?

    /// Euros: E[indu | anomaly] of a line.
    public func severity(values: [Double?], enjeu: Double, nature: String) -> Double {
        severity?.expectedIndu(values: values, enjeu: enjeu, nature: nature) ?? induShareOfStake * enjeu
    }

    /// PRIORITE, the ranking key (see ``alpha``).
    public func priority(score: Double, severity: Double) -> Double {
        Backtest.key(probability: score, severity: severity, alpha: alpha ?? 1, typical: typicalIndu ?? severity)
    }

    /// Probabilities of the lines `values` (predicted as for a random on-site control).
    public func probabilities(_ values: [[Double?]]) throws -> [Double] {
        if let trees = try ensemble() {
            let zeros = RiskScoring.nuisanceNames.map { _ in Double?.some(0) }
            return parallelMap(values) { 1 / (1 + exp(-trees.margin($0 + zeros))) }
        }
        return values.map { probability(standardised($0)) }
    }

    /// The trees of a model of kind ``Kind/arbres``, read from ``booster``.
    func ensemble() throws -> TreeEnsemble? {
        guard kind == .arbres, let booster else { return nil }
        return try TreeEnsemble(json: booster, columns: features.count + RiskScoring.nuisanceNames.count)
    }

    /// Each line's probability and each feature's contribution to its log-odds (the trees'
    /// exact SHAP values, or coefficient × standardised value), in ``features`` order. The
    /// training-only covariates, fixed at « random, on site », go with the bias.
    public func explain(_ values: [[Double?]]) throws -> [(probability: Double, contributions: [Double])] {
        try explain(count: values.count) { values[$0] }
    }

    /// As ``explain(_:)`` for the lines `row(0)`, …, `row(count − 1)`, asked for one at a time
    /// (the lines' values are not all made at once).
    public func explain(
        count: Int, _ row: @Sendable (Int) -> [Double?]
    ) throws -> [(probability: Double, contributions: [Double])] {
        if let trees = try ensemble() {
            let zeros = RiskScoring.nuisanceNames.map { _ in Double?.some(0) }
            let width = features.count
            return parallelIndices(count) { k in
                let c = trees.contributions(row(k) + zeros)
                return (1 / (1 + exp(-c.reduce(0, +))), Array(c.prefix(width)))
            }
        }
        return (0..<count).map { k in
            let contributions = contributions(standardised(row(k)))
            return (1 / (1 + exp(-(intercept + contributions.reduce(0, +)))), contributions)
        }
    }
    /// The standardised features of a row (missing values at 0, the mean).
    public func standardised(_ values: [Double?]) -> [Double] {
        values.enumerated().map { j, v in v.map { ($0 - means[j]) / scales[j] } ?? 0 }
    }

    /// Each feature's contribution to the log-odds: coefficient × standardised value.
    public func contributions(_ z: [Double]) -> [Double] { zip(coefficients, z).map(*) }

    public func probability(_ z: [Double]) -> Double {
        1 / (1 + exp(-(intercept + contributions(z).reduce(0, +))))
    }
}

/// How the rolling-origin backtest chose the model kind and the ranking key.
public struct ModelSelection: Codable, Sendable, Equatable {
    public struct Key: Codable, Sendable, Equatable {
        public var alpha: Double
        public var lift10: Double
        public var induCaptured10: Double
    }
    /// Years tested, and the controls tested over them.
    public var years: [Int]
    public var testedControls: Int
    /// Pooled AUC of each kind (``RiskModel/Kind`` raw values).
    public var auc: [String: Double]
    /// Pooled lift and indu captured at 10 % of each candidate key, for the chosen kind.
    public var keys: [Key]
    public var rule: String
}

/// The expert weights, versioned: log-odds per standard deviation of each feature, set from the
/// mission's known signals (DOMAIN.md) before any control was labelled in ciblage.
public enum ExpertWeights {
    public static let version = "experts-1"
    /// Base rate of the target among random on-site controls assumed by the weights.
    public static let baseRate = 0.2
    /// Indu of a positive control as a share of the stake, assumed without data.
    public static let induShareOfStake = 0.05

    public static func weight(_ f: Feature) -> Double {
        switch f {
        case .tauxFacturation: 0.5
        case .occupation: 0.3
        case .variationHeuresParPlace: 0.3
        case .coutHeure: 0.3
        case .coutPlace: 0.2
        case .ecartHeures: 0.2
        case .ecartCharges: 0.2
        case .participation: -0.3
        case .variationParticipation: -0.2
        case .enfantsParPlace: 0.3
        case .etpParPlace: -0.3
        case .retardReel: 0.2
        case .reelManquant: 0.2
        case .chiffresRonds: 0.2
        case .testChiffres: 0.1
        case .anomaliesPassees: 0.5
        case .indusPasses: 0.3
        case .jamaisControle: 0.1
        case .anneesDepuisControle: 0.1
        case .tauxGestionnaire: 0.4
        case .enjeu: 0.2
        case .activiteHoraire: 0.4
        }
    }
}
