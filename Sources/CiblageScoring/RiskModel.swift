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
    /// positive training controls): PRIORITE = SCORE × this × ENJEU_EUROS, in euros.
    public var induShareOfStake: Double

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
