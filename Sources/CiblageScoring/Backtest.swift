import CiblageModel
import Foundation

/// A rolling-origin backtest on the store's own controls: for each year Y with controls, the
/// models are fitted on the controls dated before Y (each with the equipment's features as known
/// at the end of the exercice it covered) and tested on the controls dated in Y. Rankings are
/// compared on what those controls found, year by year and pooled (each year's list cut at the
/// same share, hits and indus added up across years).
public enum Backtest {
    /// One origin: the year tested, the examples fitted on and those tested (indices).
    public struct Fold: Sendable, Equatable {
        public var year: Int
        public var train: [Int]
        public var test: [Int]
    }

    /// The folds of `examples`: one per year with controls whose earlier controls are enough to
    /// fit on (`enough`), in year order.
    public static func folds(_ examples: [TrainingExample], enough: ([TrainingExample]) -> Bool) -> [Fold] {
        let years = Set(examples.map(\.date.year)).sorted()
        return years.compactMap { year in
            let train = examples.indices.filter { examples[$0].date.year < year }
            let test = examples.indices.filter { examples[$0].date.year == year }
            guard !test.isEmpty, enough(train.map { examples[$0] }) else { return nil }
            return Fold(year: year, train: train, test: test)
        }
    }

    /// The shares of the list a measure is taken at.
    public static let shares = [0.05, 0.10, 0.20]

    /// A ranking's figures on one set of tested controls.
    public struct Figures: Sendable, Equatable {
        public var controls: Int
        public var positives: Int
        public var auc: Double
        /// At each of ``shares``: positives in the top, controls in the top, indu in the top.
        public var hits: [Int]
        public var top: [Int]
        public var induTop: [Double]
        public var induTotal: Double

        public var baseRate: Double { controls > 0 ? Double(positives) / Double(controls) : .nan }
        public func hitRate(_ s: Int) -> Double { top[s] > 0 ? Double(hits[s]) / Double(top[s]) : .nan }
        public func lift(_ s: Int) -> Double { baseRate > 0 ? hitRate(s) / baseRate : .nan }
        public func induCaptured(_ s: Int) -> Double { induTotal > 0 ? induTop[s] / induTotal : .nan }

        /// Years added up: each year's list was cut at its own share.
        public static func pooled(_ parts: [Figures]) -> Figures {
            let total = parts.reduce(0) { $0 + $1.controls }
            let auc = total > 0 ? parts.reduce(0) { $0 + ($1.auc.isFinite ? $1.auc * Double($1.controls) : 0) }
                / Double(max(1, parts.filter { $0.auc.isFinite }.reduce(0) { $0 + $1.controls })) : .nan
            return Figures(
                controls: total, positives: parts.reduce(0) { $0 + $1.positives }, auc: auc,
                hits: shares.indices.map { s in parts.reduce(0) { $0 + $1.hits[s] } },
                top: shares.indices.map { s in parts.reduce(0) { $0 + $1.top[s] } },
                induTop: shares.indices.map { s in parts.reduce(0) { $0 + $1.induTop[s] } },
                induTotal: parts.reduce(0) { $0 + $1.induTotal })
        }
    }

    /// The figures of `key` (higher first) over tested controls (`positive`, `indu` in euros,
    /// counted only on positives). Ties are broken by position, so the order is deterministic.
    public static func figures(key: [Double], positive: [Bool], indu: [Double]) -> Figures {
        let order = RankingMetrics.descending(key)
        var f = Figures(
            controls: key.count, positives: positive.filter { $0 }.count, auc: RankingMetrics.auc(scores: key, positive: positive),
            hits: [], top: [], induTop: [], induTotal: zip(positive, indu).reduce(0) { $0 + ($1.0 ? $1.1 : 0) })
        for share in shares {
            let k = key.isEmpty ? 0 : max(1, Int((Double(key.count) * share).rounded()))
            let top = order.prefix(k)
            f.top.append(k)
            f.hits.append(top.filter { positive[$0] }.count)
            f.induTop.append(top.reduce(0) { $0 + (positive[$1] ? indu[$1] : 0) })
        }
        return f
    }

    /// A calibration bin: controls, mean predicted probability, observed positive rate.
    public struct CalibrationBin: Sendable, Equatable {
        public var count: Int
        public var predicted: Double
        public var observed: Double
    }

    /// Deciles of `probability` (fewer bins below 20 controls a bin).
    public static func calibration(probability: [Double], positive: [Bool]) -> [CalibrationBin] {
        let order = probability.indices.sorted { (probability[$0], $0) < (probability[$1], $1) }
        let bins = min(10, max(1, order.count / 20))
        guard !order.isEmpty else { return [] }
        return (0..<bins).compactMap { b in
            let slice = order[(b * order.count / bins)..<((b + 1) * order.count / bins)]
            guard !slice.isEmpty else { return nil }
            return CalibrationBin(
                count: slice.count, predicted: slice.reduce(0) { $0 + probability[$1] } / Double(slice.count),
                observed: Double(slice.filter { positive[$0] }.count) / Double(slice.count))
        }
    }

    /// What one fold predicts for its tested controls, in the fold's test order.
    public struct Predictions: Sendable {
        public var year: Int
        public var tested: [TrainingExample]
        /// Probability of a positive, by model kind (``RiskModel/Kind``).
        public var probability: [RiskModel.Kind: [Double]]
        /// Euros: E[indu | anomaly], from the severity model fitted on the fold's training.
        public var severity: [Double]
    }

    /// Fits, fold by fold, each kind of probability model and the severity model on the fold's
    /// training controls, and predicts its tested ones.
    public static func predictions(_ examples: [TrainingExample], folds: [Fold], kinds: [RiskModel.Kind]) throws -> [Predictions] {
        try predictions(examples, folds: folds, kinds: kinds, alongside: []).predictions
    }

    /// As ``predictions(_:folds:kinds:)``, with the fits of `alongside` run among the folds' fits:
    /// every fit is independent of the others, so they run on two threads, each taking the next
    /// (the longest first: `alongside`, then the folds with the most training controls). Each
    /// fit is single-threaded and deterministic, so the outcome does not depend on which thread
    /// ran it. The first error, in the order of the fits, is rethrown.
    static func predictions(
        _ examples: [TrainingExample], folds: [Fold], kinds: [RiskModel.Kind], alongside: [@Sendable () throws -> RiskModel]
    ) throws -> (predictions: [Predictions], alongside: [RiskModel]) {
        enum Fit { case alongside(Int), model(fold: Int, kind: RiskModel.Kind), severity(fold: Int) }
        enum Outcome { case model(RiskModel), probabilities([Double]), severity([Double]) }
        // Each fold's controls gathered once, read by its fits (one per kind, and the severity's).
        let train = folds.map { $0.train.map { examples[$0] } }
        let test = folds.map { $0.test.map { examples[$0] } }
        let byTraining = folds.indices.sorted { (folds[$0].train.count, $1) > (folds[$1].train.count, $0) }
        let fits: [Fit] =
            alongside.indices.map(Fit.alongside)
            + byTraining.flatMap { f in kinds.map { Fit.model(fold: f, kind: $0) } } + byTraining.map(Fit.severity)
        let outcomes = parallelIndices(fits.count, chunk: 1) { i in
            Result { () throws -> Outcome in
                switch fits[i] {
                case .alongside(let k):
                    return .model(try alongside[k]())
                case .model(let f, let kind):
                    let model = try RiskScoring.fit(train[f], kind: kind)
                    return .probabilities(try model.probabilities(test[f].map(\.values)))
                case .severity(let f):
                    let severity = try SeverityModel.fit(train[f])
                    let share = RiskScoring.induShare(train[f])
                    return .severity(test[f].map { e in
                        severity?.expectedIndu(values: e.values, enjeu: e.enjeu, nature: e.nature) ?? share * e.enjeu
                    })
                }
            }
        }
        var models: [RiskModel] = []
        var probability = [[RiskModel.Kind: [Double]]](repeating: [:], count: folds.count)
        var severity = [[Double]](repeating: [], count: folds.count)
        for (fit, outcome) in zip(fits, outcomes) {
            switch (fit, try outcome.get()) {
            case (.alongside, .model(let model)): models.append(model)
            case (.model(let f, let kind), .probabilities(let p)): probability[f][kind] = p
            case (.severity(let f), .severity(let s)): severity[f] = s
            default: preconditionFailure("un ajustement a rendu un résultat d'un autre genre")
            }
        }
        let predictions = folds.indices.map { f in
            Predictions(year: folds[f].year, tested: test[f], probability: probability[f], severity: severity[f])
        }
        return (predictions, models)
    }

    /// Euros: Ē of the candidate keys over a backtest, the median E[indu | anomaly] of the
    /// controls it tested.
    public static func typicalSeverity(_ predictions: [Predictions]) -> Double {
        RobustStats.median(ofSorted: predictions.flatMap(\.severity).sorted())
    }

    /// The exponents α of the candidate keys P × E[indu | anomaly]^α: 0 is the probability
    /// alone, 1 the expected indu.
    public static let alphas = [0.0, 0.25, 0.5, 0.75, 1.0]

    /// The key of exponent `alpha`, scaled so that it reads in euros: P × Ē × (E / Ē)^α, with Ē
    /// a typical expected indu (at α = 1, exactly the expected indu P × E).
    public static func key(probability: Double, severity: Double, alpha: Double, typical: Double) -> Double {
        guard typical > 0, severity > 0 else { return probability * max(severity, 0) }
        return probability * typical * pow(severity / typical, alpha)
    }

    /// The choice of the ranking key (README): among the candidate exponents, the keys whose
    /// pooled lift at 10 % keeps at least 90 % of the best one; among those, the one that
    /// captures the most indu at 10 %; ties to the smaller α.
    public static func chooseAlpha(_ pooled: [(alpha: Double, figures: Figures)]) -> Double? {
        let s = shares.firstIndex(of: 0.10)!
        let lifts = pooled.map { $0.figures.lift(s) }.filter(\.isFinite)
        guard let best = lifts.max() else { return nil }
        let eligible = pooled.filter { $0.figures.lift(s).isFinite && $0.figures.lift(s) >= 0.9 * best }
        return eligible.max { a, b in
            let (ia, ib) = (a.figures.induCaptured(s), b.figures.induCaptured(s))
            return ia != ib ? ia < ib : a.alpha > b.alpha
        }?.alpha
    }
}
