import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// A labelled control, with the features of the equipment at the end of the exercice it covered.
public struct TrainingExample: Sendable {
    public var exercice: Int
    public var equipementId: Int64
    public var values: [Double?]
    /// An anomaly with an indu of at least ``RiskModel/induThreshold``.
    public var positive: Bool
    public var indu: Double
    public var enjeu: Double
    public var origine: OrigineControle
    public var type: TypeControle
}

/// One scored equipment.
public struct ScoredLine: Sendable {
    public var rank: Int
    public var row: FeatureRow
    /// 0–1, see ``RiskModel/target``.
    public var score: Double
    /// Euros: Caf funding over the exercices a control would cover.
    public var enjeu: Double
    /// Euros: the expected indu, SCORE × share × ENJEU_EUROS; the ranking key.
    public var priorite: Double
    public var contributions: [Double]
    public var motifs: [String]
}

/// Everything the score of one exercice is computed from.
public struct ScoringInputs: Sendable {
    public var exercice: Int
    public var asOf: CalendarDate
    /// The features of every equipment active during the exercice, ordered by id.
    public var rows: [FeatureRow]
    /// Controls dated before `asOf`, labelled with the exercice they covered last.
    public var training: [TrainingExample]
    /// Controls dated from `asOf` on that covered the exercice: what a time split tests on.
    public var later: [TrainingExample]
}

/// The scoring stage: indicators, features, the model (trained or expert), scores and reasons.
public enum RiskScoring {
    public static let modelVersion = "regression-1"
    /// Ridge penalty on standardised features (log-likelihood units).
    public static let lambda = 2.0
    /// Below this many labelled controls (or 30 positives or negatives) the expert weights are used.
    public static let minimumTrainingControls = 300
    public static let minimumPerClass = 30

    /// Reads the store and builds the features of `exercice` and the labelled controls.
    /// A control is a training example for the last exercice it covered before the year it took
    /// place, with the equipment's features and history as known at the end of that exercice.
    public static func inputs(
        _ db: Database, exercice: Int, asOf: CalendarDate? = nil, referentiel: Referentiel
    ) throws -> ScoringInputs {
        let cutoff = asOf ?? IndicatorStore.defaultAsOf(exercice)
        let profiles = try IndicatorStore.profiles(db)
        let byId = Dictionary(uniqueKeysWithValues: profiles.map { ($0.id, $0) })
        let controls = try IndicatorStore.controls(db)
        let firstYear = try Int.fetchOne(db, sql: "SELECT min(exercice) FROM declaration") ?? exercice
        let years = min(firstYear, exercice)...exercice

        // Controls by the exercice whose features they are labels of.
        var labelled: [Int: [StoredControl]] = [:]
        for c in controls {
            guard let e = c.exercices.last(where: { $0 < c.date.year }), years.contains(e) else { continue }
            labelled[e, default: []].append(c)
        }
        func historyCut(_ e: Int) -> CalendarDate { e == exercice ? cutoff : IndicatorStore.defaultAsOf(e) }

        var result = ScoringInputs(exercice: exercice, asOf: cutoff, rows: [], training: [], later: [])
        try IndicatorStore.forEachExercice(db, exercices: years, profiles: profiles, controls: controls, asOf: historyCut) { e, inputs in
            let examples = labelled[e] ?? []
            guard e == exercice || !examples.isEmpty else { return }
            let known = controls.filter { $0.date < historyCut(e) }
            let builder = FeatureBuilder(exercice: e, inputs: inputs, profiles: byId, controls: known, referentiel: referentiel)
            var rows: [Int64: FeatureRow] = [:]
            func row(_ id: Int64) -> FeatureRow? {
                if let r = rows[id] { return r }
                let r = byId[id].flatMap(builder.row)
                rows[id] = r
                return r
            }
            if e == exercice { result.rows = inputs.compactMap { row($0.equipementId) } }
            for c in examples {
                guard let r = row(c.equipementId) else { continue }
                let example = TrainingExample(
                    exercice: e, equipementId: c.equipementId, values: r.values,
                    positive: c.anomalie && c.indu >= RiskModel.induThreshold, indu: c.indu, enjeu: r.indicators.enjeuEuros,
                    origine: c.origine, type: c.type)
                if c.date < cutoff { result.training.append(example) } else if e == exercice { result.later.append(example) }
            }
        }
        return result
    }

    /// The training-only covariates: control origin (random is the reference) and documents-only.
    static let nuisanceNames = ["origine_ciblage", "origine_signalement", "origine_multi_departemental", "origine_autre", "sur_pieces"]
    static func nuisance(_ e: TrainingExample) -> [Double] {
        [
            e.origine == .ciblage ? 1 : 0, e.origine == .signalement ? 1 : 0, e.origine == .multiDepartemental ? 1 : 0,
            e.origine == .autre ? 1 : 0, e.type == .surPieces ? 1 : 0,
        ]
    }

    /// Fits the model on `training`, or falls back to the expert weights (standardised on `population`)
    /// when there are too few labelled controls.
    ///
    /// Targeted controls are not a random sample: they were chosen on the signals the model
    /// uses. Selection on observed signals leaves P(anomaly | signals) unbiased, so every control
    /// is used; what differs by origin (reports bring information the data lacks, controls on
    /// documents find less) goes into origin covariates, and scores are predicted as for a
    /// random on-site control, which is the population the target is written for.
    public static func train(_ training: [TrainingExample], population: [FeatureRow]) throws -> RiskModel {
        let features = Feature.allCases
        let positives = training.filter(\.positive).count
        let randoms = training.filter { $0.origine == .aleatoire }.count
        let shares = training.filter { $0.positive && $0.enjeu > 0 }.map { $0.indu / $0.enjeu }.sorted()
        let share = shares.isEmpty ? ExpertWeights.induShareOfStake : RobustStats.median(ofSorted: shares)

        let enough = training.count >= minimumTrainingControls && positives >= minimumPerClass
            && training.count - positives >= minimumPerClass
        let (means, scales) = standardisation(enough ? training.map(\.values) : population.map(\.values), count: features.count)
        var model = RiskModel(
            version: ExpertWeights.version, kind: .expert, features: features.map(\.code), means: means, scales: scales,
            intercept: log(ExpertWeights.baseRate / (1 - ExpertWeights.baseRate)), coefficients: features.map(ExpertWeights.weight),
            nuisance: [:], lambda: 0, trainingControls: training.count, trainingPositives: positives, randomControls: randoms,
            induShareOfStake: enough ? share : ExpertWeights.induShareOfStake)
        guard enough else { return try calibrated(model, on: training) }

        let x = training.map { model.standardised($0.values) + nuisance($0) }
        let fit = try LogisticRegression.fit(x: x, y: training.map { $0.positive ? 1 : 0 }, lambda: lambda)
        model.version = modelVersion
        model.kind = .entraine
        model.lambda = lambda
        model.intercept = fit.intercept
        model.coefficients = Array(fit.coefficients.prefix(features.count))
        model.nuisance = Dictionary(uniqueKeysWithValues: zip(nuisanceNames, fit.coefficients.suffix(nuisanceNames.count)))
        return model
    }

    /// Below this many labelled controls (or 5 per class), expert weights stay uncalibrated.
    public static let minimumCalibrationControls = 30

    /// The expert weights recalibrated on the labelled controls there are (Platt scaling: a
    /// logistic fit of the outcome on the expert log-odds, with the origin covariates), so that
    /// SCORE reads as a probability; the weights keep their proportions.
    static func calibrated(_ expert: RiskModel, on training: [TrainingExample]) throws -> RiskModel {
        let positives = training.filter(\.positive).count
        guard training.count >= minimumCalibrationControls, positives >= 5, training.count - positives >= 5 else { return expert }
        let x = training.map { [expert.contributions(expert.standardised($0.values)).reduce(0, +)] + nuisance($0) }
        let fit = try LogisticRegression.fit(x: x, y: training.map { $0.positive ? 1 : 0 }, lambda: 0.01)
        var model = expert
        let slope = fit.coefficients[0]
        model.version = ExpertWeights.version + "+calibration"
        model.intercept = fit.intercept
        model.coefficients = expert.coefficients.map { $0 * slope }
        model.nuisance = Dictionary(uniqueKeysWithValues: zip(nuisanceNames, fit.coefficients.dropFirst()))
        return model
    }

    /// Mean and standard deviation of each feature over the rows where it is present
    /// (scale 1 when a feature does not vary, so it contributes nothing).
    static func standardisation(_ rows: [[Double?]], count: Int) -> (means: [Double], scales: [Double]) {
        var means = [Double](repeating: 0, count: count)
        var scales = [Double](repeating: 1, count: count)
        for j in 0..<count {
            let v = rows.compactMap { $0[j] }
            guard !v.isEmpty else { continue }
            let mean = v.reduce(0, +) / Double(v.count)
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)
            means[j] = mean
            scales[j] = variance > 1e-12 ? variance.squareRoot() : 1
        }
        return (means, scales)
    }

    /// Scores and ranks `rows`: by PRIORITE, then SCORE, then dossier number.
    public static func score(_ rows: [FeatureRow], model: RiskModel, exercice: Int) -> [ScoredLine] {
        var lines = rows.map { row -> ScoredLine in
            let contributions = model.contributions(model.standardised(row.values))
            let score = 1 / (1 + exp(-(model.intercept + contributions.reduce(0, +))))
            let enjeu = row.indicators.enjeuEuros
            return ScoredLine(
                rank: 0, row: row, score: score, enjeu: enjeu, priorite: score * model.induShareOfStake * enjeu,
                contributions: contributions, motifs: Reasons.motifs(row, contributions: contributions, exercice: exercice))
        }
        lines.sort {
            ($0.priorite, $0.score, $1.row.profile.nDossier) > ($1.priorite, $1.score, $0.row.profile.nDossier)
        }
        for i in lines.indices { lines[i].rank = i + 1 }
        return lines
    }
}
