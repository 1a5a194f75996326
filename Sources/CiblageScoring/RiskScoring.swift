import CiblageModel
import CiblageReports
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
    /// When the control took place.
    public var date: CalendarDate
    /// The equipment's nature (``SeverityModel``).
    public var nature: String
    /// The fixed-rules baseline of the line (``Evaluation/fixedRules(_:)``), for backtests.
    public var rules: Double

    public init(
        exercice: Int, equipementId: Int64, values: [Double?], positive: Bool, indu: Double, enjeu: Double,
        origine: OrigineControle, type: TypeControle, date: CalendarDate, nature: String, rules: Double
    ) {
        self.exercice = exercice
        self.equipementId = equipementId
        self.values = values
        self.positive = positive
        self.indu = indu
        self.enjeu = enjeu
        self.origine = origine
        self.type = type
        self.date = date
        self.nature = nature
        self.rules = rules
    }
}

/// The feature rows of one scored exercice, shared by its lines (a line refers to its row
/// rather than copying it: at four times the country the copies were 165 MB at the stage's peak).
final class SharedRows: Sendable {
    let rows: [FeatureRow]
    init(_ rows: [FeatureRow]) { self.rows = rows }
}

/// One scored equipment.
public struct ScoredLine: Sendable {
    public var rank: Int
    /// The equipment's features (shared with the other lines of the exercice, not copied: read
    /// in place, where a plain getter copied the whole row, its profile and indicators, at every
    /// `line.row.profile.id`).
    public var row: FeatureRow {
        _read { yield shared.rows[position] }
    }
    private let shared: SharedRows
    private let position: Int
    /// 0–1, see ``RiskModel/target``.
    public var score: Double
    /// Euros: Caf funding over the exercices a control would cover.
    public var enjeu: Double
    /// Euros: E[indu | anomaly], the indu a control finding an anomaly is expected to recover.
    public var severity: Double
    /// The ranking key (``RiskModel/priority(score:severity:)``), read in euros.
    public var priorite: Double
    /// MOTIFS as written: the reasons separated by ` | `, the most important first.
    public var motifsText: String
    /// Each feature's contribution to the log-odds as stored: thousandths, comma-separated, in
    /// feature order (only the text is kept: a line per equipment stays small).
    public var contributionsText: String

    init(
        rank: Int, rows: SharedRows, position: Int, score: Double, enjeu: Double, severity: Double, priorite: Double,
        motifsText: String, contributionsText: String
    ) {
        self.rank = rank
        self.shared = rows
        self.position = position
        self.score = score
        self.enjeu = enjeu
        self.severity = severity
        self.priorite = priorite
        self.motifsText = motifsText
        self.contributionsText = contributionsText
    }
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
    /// The equipment-years of the exercice computed from the declarations; the others were read
    /// back from the stored indicators.
    public var recomputedYears: Int
    /// When the indicators were read back: the equipments whose indicators were computed again
    /// (only theirs need storing); `nil` when every one was computed.
    public var recomputedEquipments: Set<Int64>?
}

/// The scoring stage: indicators, features, the model (trained or expert), scores and reasons.
public enum RiskScoring {
    public static let modelVersion = "regression-2"
    public static let boostedVersion = "arbres-1"
    /// Ridge penalty on standardised features (log-likelihood units).
    public static let lambda = 2.0
    /// Below this many labelled controls (or 30 positives or negatives) the expert weights are used.
    public static let minimumTrainingControls = 300
    public static let minimumPerClass = 30

    /// Reads the store and builds the features of `exercice` and the labelled controls.
    /// A control is a training example for the last exercice it covered before the year it took
    /// place, with the equipment's features and history as known at the end of that exercice.
    ///
    /// With `cacheStamp`, the examples of earlier exercices are read from the store
    /// (``TrainingCache``) when their inputs have not changed since they were stored, and those
    /// computed are stored (stamped `cacheStamp`; the caller must be in a write transaction): the
    /// declarations are then read from the earliest exercice computed, two years before it at
    /// most, and a nightly run reads three exercices of declarations, not the whole history.
    ///
    /// The indicators of `exercice` are those of its rows (``FeatureRow/indicators``), in the
    /// order of its years.
    /// `beforeWriting` runs once the reading is done, before the first of those writes.
    /// `whileBuilding`, when given, is called on this thread with the equipment-years of
    /// `exercice` once they are known, while their features are built on another (after
    /// `beforeWriting`: it may write). The score stores their indicators there, on the store's
    /// thread, which otherwise waited for the features.
    /// `written`: whether `db`'s transaction has written already; if not, part of the registry is
    /// read on a second connection (``Store/secondReader(of:)``), which would not see those writes.
    public static func inputs(
        _ db: Database, exercice: Int, asOf: CalendarDate? = nil, referentiel: Referentiel, cacheStamp: String? = nil,
        written: Bool = false, beforeWriting: () -> Void = {}, whileBuilding: ((ScoredYears) throws -> Void)? = nil
    ) throws -> ScoringInputs {
        // An exercice nobody declared would be scored on stakes of 0: refused, naming those there are.
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM declaration WHERE exercice = ? LIMIT 1", arguments: [exercice]) ?? false else {
            var available: [Int] = []
            var year = try Int.fetchOne(db, sql: "SELECT min(exercice) FROM declaration")
            while let y = year {
                available.append(y)
                year = try Int.fetchOne(db, sql: "SELECT min(exercice) FROM declaration WHERE exercice > ?", arguments: [y])
            }
            throw ScoreError.noDeclaration(exercice: exercice, available: available)
        }
        // The stored indicators of the exercice are read on a second connection meanwhile.
        let prefetch = cacheStamp == nil ? nil : try IndicatorCache.prefetch(db, exercice: exercice)
        // Waited for on every path: after an error of the reads below, its connection would
        // otherwise go on reading past the end of the stage's transaction.
        defer { prefetch?.discard() }
        let cutoff = asOf ?? IndicatorStore.defaultAsOf(exercice)
        let (profiles, controls) = try registryAndControls(db, secondReader: written ? nil : Store.secondReader(of: db))
        let byId = EquipmentProfiles(profiles)
        let firstYear = try Int.fetchOne(db, sql: "SELECT min(exercice) FROM declaration") ?? exercice
        let years = min(firstYear, exercice)...exercice

        // Controls by the exercice whose features they are labels of.
        var labelledByYear: [Int: [StoredControl]] = [:]
        for c in controls {
            guard let e = c.exercices.last(where: { $0 < c.date.year }), years.contains(e) else { continue }
            labelledByYear[e, default: []].append(c)
        }
        let labelled = labelledByYear

        // Earlier exercices whose stored examples still hold (read once the features are built:
        // not held at the stage's peak of memory); the others are computed (and stored).
        var stored: [Int: String] = [:]
        var signatures: [Int: String] = [:]
        let registry = cacheStamp.map { _ in TrainingCache.registryDigest(profiles) }
        if let registry {
            for e in labelled.keys.sorted() where e < exercice {
                let signature = try TrainingCache.signature(db, exercice: e, registry: registry, controls: controls, referentiel: referentiel)
                if try TrainingCache.holds(db, exercice: e, signature: signature) {
                    stored[e] = signature
                } else {
                    signatures[e] = signature
                }
            }
        }
        let computing = Set(labelled.keys.filter { stored[$0] == nil }).union([exercice])
        let scanned = (computing.min() ?? exercice)...exercice

        // Each exercice's features are built on a worker thread while the scan reads the next
        // exercice; the features of the scored exercice are built in two halves at once.
        let worker = DispatchQueue(label: "ciblage.score.exercices")
        let group = DispatchGroup()
        let collected = Collected()
        let build: @Sendable (Int, [EquipmentYear]) -> Void = { e, batch in
            let examples = labelled[e] ?? []
            let historyCut = e == exercice ? cutoff : IndicatorStore.defaultAsOf(e)
            let builder = FeatureBuilder(
                exercice: e, years: batch, profiles: byId, controls: controls.filter { $0.date < historyCut },
                referentiel: referentiel)
            var rows: [FeatureRow] = []
            // Where an equipment's row is: for the scored exercice, found by halving in its
            // years, ordered by id (a table of its 240 000 rows at four times the country took
            // 50 ms on the one thread still at work at the end of the read), in a table when
            // they come in another order; rows added for the examples, in the table.
            let ids = e == exercice ? batch.map(\.indicators.equipementId) : []
            let ordered = zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }
            var position: [Int64: Int] = [:]
            if e == exercice {
                rows = builder.rowsOfEveryYear(profiles: byId)
                if !ordered { for (k, id) in ids.enumerated() { position[id] = k } }
            }
            func place(_ id: Int64) -> Int? {
                if ordered {
                    let k = partitionPoint(ids.count) { ids[$0] < id }
                    if k < ids.count, ids[k] == id { return k }
                }
                return position[id]
            }
            var all: [TrainingExample] = []
            for c in examples {
                if place(c.equipementId) == nil, let r = byId[c.equipementId].flatMap(builder.row) {
                    position[c.equipementId] = rows.count
                    rows.append(r)
                }
                guard let r = place(c.equipementId).map({ rows[$0] }) else { continue }
                all.append(TrainingExample(
                    exercice: e, equipementId: c.equipementId, values: r.values,
                    positive: c.anomalie && c.indu >= RiskModel.induThreshold, indu: c.indu,
                    enjeu: r.indicators.enjeuEuros, origine: c.origine, type: c.type, date: c.date,
                    nature: r.profile.nature, rules: Evaluation.fixedRules(r)))
            }
            if e == exercice {
                // The rows of the exercice, without those added for its labelled controls (in place).
                if rows.count > batch.count { rows.removeSubrange(batch.count...) }
                collected.set(rows: rows)
            }
            collected.append(exercice: e, all: all)
        }

        // The indicators of the scored exercice: read back for the equipments whose inputs have
        // not changed since they were stored, when only the scored exercice is to be computed.
        let indicatorStamp = try registry.map {
            try IndicatorCache.currentStamp(db, exercice: exercice, registry: $0, controls: controls, asOf: cutoff)
        }
        // Waited for whatever comes next: the read ends before this transaction writes, and
        // unused, the years are let go before the scan.
        var prefetched = try prefetch?.wait()
        // The examples of the exercices not computed, read back; `nil` when one of them cannot
        // be: it is forgotten, and everything computed again.
        func storedExamples() throws -> [Int: [TrainingExample]]? {
            var examples: [Int: [TrainingExample]] = [:]
            for (e, signature) in stored.sorted(by: { $0.key < $1.key }) {
                guard let read = try TrainingCache.load(db, exercice: e, signature: signature) else {
                    try TrainingCache.forget(db, exercice: e)
                    return nil
                }
                examples[e] = read
            }
            return examples
        }
        func again() throws -> ScoringInputs {
            try inputs(
                db, exercice: exercice, asOf: asOf, referentiel: referentiel, cacheStamp: cacheStamp, written: true,
                whileBuilding: whileBuilding)
        }
        // The inputs once the features are built and every exercice's examples known; `recomputed`:
        // the equipments computed again when the others' indicators were read back.
        func assembled(_ byExercice: [Int: [TrainingExample]], recomputed: Set<Int64>?) -> ScoringInputs {
            let (training, later) = split(byExercice, exercice: exercice, cutoff: cutoff)
            return ScoringInputs(
                exercice: exercice, asOf: cutoff, rows: collected.rows, training: training, later: later,
                recomputedYears: recomputed?.count ?? collected.rows.count, recomputedEquipments: recomputed)
        }
        if computing == [exercice], let indicatorStamp,
            let (batch, recomputed) = try storedYears(
                db, exercice: exercice, stamp: indicatorStamp, profiles: profiles, controls: controls, asOf: cutoff,
                prefetched: &prefetched)
        {
            let progress = Progress.shared.step("score \(exercice) : caractéristiques", unit: "étapes")
            defer { progress.finish() }
            beforeWriting()
            guard var byExercice = try storedExamples() else { return try again() }
            try whileBuilding?(
                ScoredYears(years: batch, recomputed: recomputed, indicatorStamp: indicatorStamp, featuresBuilt: { false }))
            build(exercice, batch)
            byExercice.merge(collected.examples) { _, computed in computed }
            return assembled(byExercice, recomputed: recomputed)
        }

        // Each exercice's equipment-years in a buffer of its size, reserved once: grown by
        // doubling, its copies and the kernel's zeroing of fresh pages took a fifth of the scan's
        // thread (0.6 s at four times the country).
        func active(_ e: Int) -> Int { computing.contains(e) ? profiles.lazy.filter { $0.isActive(during: e) }.count : 0 }
        var computed: [EquipmentYear] = []
        computed.reserveCapacity(active(scanned.lowerBound))
        let progress = Progress.shared.step(
            "score \(exercice) : déclarations \(scanned.lowerBound)–\(exercice), indicateurs et caractéristiques",
            total: profiles.count * scanned.count, unit: "équipements-exercices")
        defer { progress.finish() }
        var emitted = 0
        // The years of the scored exercice, kept for `whileBuilding`; the earlier exercices'
        // features are built under their own group, waited for before their examples are stored.
        var scoredYears: [EquipmentYear] = []
        let earlier = DispatchGroup()
        try IndicatorStore.forEachEquipmentYear(
            db, exercices: scanned, profiles: profiles, controls: controls,
            asOf: { $0 == exercice ? cutoff : IndicatorStore.defaultAsOf($0) },
            { input in
                emitted += 1
                if emitted & 1023 == 0 { progress.advance(to: emitted) }
                // Indicators at once: the figures are not held beyond their equipment.
                if computing.contains(input.exercice) { computed.append(EquipmentYear(input)) }
            },
            endOfExercice: { e in
                // Handed over whole: emptying `computed` while keeping its capacity would allocate a
                // second buffer of that size for the next exercice, at the stage's peak of memory.
                let batch = computed
                computed = []
                if e < exercice { computed.reserveCapacity(active(e + 1)) }
                guard computing.contains(e) else { return }
                if e == exercice { scoredYears = batch }
                worker.async(group: e == exercice ? group : earlier) { build(e, batch) }
            })
        // The scored exercice's features are being built: meanwhile this thread, the store's,
        // stores what needs none of them (at four times the country it waited 0.35 s for them).
        var byExercice: [Int: [TrainingExample]]
        do {
            beforeWriting()
            earlier.wait()
            byExercice = collected.examples
            if let cacheStamp {
                for (e, signature) in signatures.sorted(by: { $0.key < $1.key }) {
                    try TrainingCache.save(db, exercice: e, signature: signature, byExercice[e] ?? [], computedAt: cacheStamp)
                }
            }
            guard let read = try storedExamples() else {
                group.wait()
                return try again()
            }
            byExercice.merge(read) { computed, _ in computed }
            try whileBuilding?(
                ScoredYears(
                    years: scoredYears, recomputed: nil, indicatorStamp: indicatorStamp,
                    featuresBuilt: { group.wait(timeout: .now()) == .success }))
        } catch {
            group.wait()
            throw error
        }
        scoredYears = []
        group.wait()
        byExercice[exercice] = collected.examples[exercice]
        return assembled(byExercice, recomputed: nil)
    }

    /// The equipment-years of the scored exercice, as ``inputs(_:exercice:asOf:referentiel:cacheStamp:written:beforeWriting:whileBuilding:)``
    /// hands them over while it builds their features.
    public struct ScoredYears {
        /// Every equipment active during the exercice, by id (their indicators and digits).
        public var years: [EquipmentYear]
        /// When the indicators were read back: the equipments whose indicators were computed
        /// again (only theirs need storing); `nil` when every one was computed.
        public var recomputed: Set<Int64>?
        /// What the indicators were computed from, when the caller keeps them (``IndicatorCache``).
        public var indicatorStamp: IndicatorCache.Stamp?
        /// Whether their features are built already (`inputs` returns once they are): the
        /// caller may then leave the rest of its work for later (the years are
        /// ``ScoringInputs/rows``' indicators and digits, in the same order).
        public var featuresBuilt: () -> Bool
    }

    /// The labelled controls of each exercice split at `cutoff`: those before it, for training
    /// (in exercice order), and those of `exercice` from it on (``ScoringInputs/later``).
    private static func split(
        _ byExercice: [Int: [TrainingExample]], exercice: Int, cutoff: CalendarDate
    ) -> (training: [TrainingExample], later: [TrainingExample]) {
        var training: [TrainingExample] = []
        var later: [TrainingExample] = []
        for e in byExercice.keys.sorted() {
            for example in byExercice[e]! {
                if example.date < cutoff { training.append(example) } else if e == exercice { later.append(example) }
            }
        }
        return (training, later)
    }

    /// Every profile of the registry (by id) and every control (``IndicatorStore/controls(_:)``).
    /// With `secondReader`, the upper half of the registry is read on it, on a thread of its own,
    /// while `db` reads the controls and the lower half: on one connection, these reads were the
    /// score's first 0.1 s at the national scale, on one core.
    static func registryAndControls(_ db: Database, secondReader: DatabaseQueue?) throws -> ([EquipmentProfile], [StoredControl]) {
        guard let secondReader,
            let low = try Int64.fetchOne(db, sql: "SELECT min(id) FROM equipement"),
            let high = try Int64.fetchOne(db, sql: "SELECT max(id) FROM equipement"), high > low
        else { return (try IndicatorStore.profiles(db), try IndicatorStore.controls(db)) }
        // Halves of the span of ids (dense row ids), computed without overflow whatever they are.
        let middle = low / 2 + high / 2
        let upper = BackgroundWork { try secondReader.read { try IndicatorStore.profiles($0, ids: (middle + 1)...Int64.max) } }
        // Waited for on every path: its connection must not read past this transaction.
        defer { upper.discard() }
        let controls = try IndicatorStore.controls(db)
        var profiles = try IndicatorStore.profiles(db, ids: Int64.min...middle)
        profiles += try upper.wait()
        return (profiles, controls)
    }

    /// The equipment-years of `exercice` from the stored indicators, those of the equipments
    /// with a declaration stored or corrected since computed again (``IndicatorCache``), and
    /// which were; `nil` when the stored ones cannot serve (computed from another registry,
    /// other controls or date, a quarter of the equipments or more changed, a row missing).
    /// `prefetched`: the stored ones read ahead (``IndicatorCache/prefetch(_:exercice:)``),
    /// taken and merged in place.
    static func storedYears(
        _ db: Database, exercice: Int, stamp: IndicatorCache.Stamp, profiles: [EquipmentProfile], controls: [StoredControl],
        asOf cutoff: CalendarDate, prefetched: inout [EquipmentYear]?
    ) throws -> ([EquipmentYear], Set<Int64>)? {
        guard let stored = try IndicatorCache.storedStamp(db, exercice: exercice),
            stored.signature == stamp.signature, stored.lastFile <= stamp.lastFile
        else { return nil }
        let changed = Set(
            stored.lastFile == stamp.lastFile ? [] : try IndicatorCache.changedEquipments(db, exercice: exercice, since: stored.lastFile))
        guard changed.count * 4 < profiles.count else { return nil }
        var fresh: [Int64: EquipmentYear] = [:]
        try IndicatorStore.forEachEquipmentYear(
            db, exercices: exercice...exercice, profiles: profiles.filter { changed.contains($0.id) }, controls: controls,
            asOf: { _ in cutoff }, declarationsOfProfilesOnly: true, { fresh[$0.equipementId] = EquipmentYear($0) },
            endOfExercice: { _ in })
        // In the scan's order: every equipment active during the exercice, by id. Read here when
        // not read ahead (no second connection: a database in memory).
        var years = try prefetched.take() ?? IndicatorCache.storedYears(db, exercice: exercice)
        let active = profiles.lazy.filter { $0.isActive(during: exercice) }.map(\.id)
        return merge(&years, active: active, fresh: fresh) ? (years, Set(fresh.keys)) : nil
    }

    /// Makes `years` (stored equipment-years, by id) the years of the `active` equipments (by
    /// id): each one's from `fresh`, else its stored one; `false` when one has neither. In
    /// place (a second array of them was 60 MiB at ×4, at the next night's peak): slot `w` is
    /// written once the years up to it are read; past a year with no slot free before it, the
    /// rest goes to a tail appended at the end.
    static func merge(_ years: inout [EquipmentYear], active: some Sequence<Int64>, fresh: [Int64: EquipmentYear]) -> Bool {
        var w = 0, r = 0
        var tail: [EquipmentYear] = []
        for id in active {
            while r < years.count, years[r].indicators.equipementId < id { r += 1 }
            let storedHere = r < years.count && years[r].indicators.equipementId == id
            guard let y = fresh[id] ?? (storedHere ? years[r] : nil) else { return false }
            if storedHere { r += 1 }
            if tail.isEmpty && w < r {
                years[w] = y
                w += 1
            } else {
                tail.append(y)
            }
        }
        years.removeSubrange(w...)
        years.append(contentsOf: tail)
        return true
    }

    /// What the worker threads of ``inputs(_:exercice:asOf:referentiel:cacheStamp:)``
    /// produce; read back in exercice order, whatever order the threads finished in.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var _rows: [FeatureRow] = []
        private var byExercice: [Int: [TrainingExample]] = [:]

        func set(rows: [FeatureRow]) { lock.withLock { _rows = rows } }
        func append(exercice: Int, all: [TrainingExample]) { lock.withLock { byExercice[exercice] = all } }
        var rows: [FeatureRow] { lock.withLock { _rows } }
        /// Every labelled control of each computed exercice, whatever its date.
        var examples: [Int: [TrainingExample]] { lock.withLock { byExercice } }
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
    ///
    /// `kind` forces the model kind (the backtest then only chooses the key).
    public static func train(_ training: [TrainingExample], population: [FeatureRow], kind forced: RiskModel.Kind? = nil) throws -> RiskModel {
        let features = Feature.allCases
        guard enough(training) else {
            let (means, scales) = standardisation(population.map(\.values), count: features.count)
            let model = RiskModel(
                version: ExpertWeights.version, kind: .expert, features: features.map(\.code), means: means, scales: scales,
                intercept: log(ExpertWeights.baseRate / (1 - ExpertWeights.baseRate)), coefficients: features.map(ExpertWeights.weight),
                nuisance: [:], lambda: 0, trainingControls: training.count, trainingPositives: training.filter(\.positive).count,
                randomControls: training.filter { $0.origine == .aleatoire }.count, induShareOfStake: ExpertWeights.induShareOfStake)
            return try calibrated(model, on: training)
        }
        // The kind and the key are chosen by the rolling-origin backtest on these controls. The
        // final model of each candidate kind is fitted alongside the backtest's fits (the one
        // kept is known only once the backtest is over), all on two threads: the logistic one
        // costs a tenth of the trees, and one core waited while the other fitted one after the
        // other (national first score: model phase 0.31–0.35 → 0.16–0.26 s, the indicators'
        // storing, which it now shares the cores with, 0.11–0.17 → 0.21–0.25 s).
        let folds = Backtest.folds(training, enough: enoughToTest)
        let kinds: [RiskModel.Kind] = folds.isEmpty ? [forced ?? .entraine] : forced.map { [$0] } ?? [.entraine, .arbres]
        // The severity model reads the examples only: fitted on a thread of its own meanwhile
        // (after the backtest, it kept one core busy and the other idle: 0.1 s at four times
        // the country).
        let severityFit = BackgroundWork { try SeverityModel.fit(training) }
        let backtest = Result {
            try Backtest.predictions(
                training, folds: folds, kinds: kinds,
                alongside: kinds.map { kind in { try fit(training, kind: kind) } })
        }
        let severity = Result { try severityFit.wait() }
        let (predictions, finals) = try backtest.get()
        var kind = kinds[0]
        var alpha = 0.0
        var selection: ModelSelection?
        if !folds.isEmpty {
            let auc = Dictionary(uniqueKeysWithValues: kinds.map { k in
                (k, Backtest.Figures.pooled(predictions.map { p in
                    Backtest.figures(key: p.probability[k]!, positive: p.tested.map(\.positive), indu: p.tested.map(\.indu))
                }).auc)
            })
            if forced == nil { kind = auc[.arbres]! > auc[.entraine]! ? .arbres : .entraine }
            let keys = alphaFigures(predictions, kind: kind)
            alpha = Backtest.chooseAlpha(keys) ?? 0
            let s = Backtest.shares.firstIndex(of: 0.10)!
            selection = ModelSelection(
                years: folds.map(\.year), testedControls: folds.reduce(0) { $0 + $1.test.count },
                auc: Dictionary(uniqueKeysWithValues: auc.map { ($0.key.rawValue, $0.value) }),
                keys: keys.map { .init(alpha: $0.alpha, lift10: $0.figures.lift(s), induCaptured10: $0.figures.induCaptured(s)) },
                rule: "α : indu capté à 10 % le plus élevé parmi les clés gardant au moins 90 % du meilleur lift à 10 %")
        }
        var model = finals[kinds.firstIndex(of: kind)!]
        model.severity = try severity.get()
        model.alpha = alpha
        let typical = training.filter(\.positive).map { model.severity(values: $0.values, enjeu: $0.enjeu, nature: $0.nature) }.sorted()
        model.typicalIndu = typical.isEmpty ? nil : RobustStats.median(ofSorted: typical)
        model.selection = selection
        return model
    }

    /// Pooled figures of each candidate key P × E^α over the backtest's folds.
    static func alphaFigures(_ predictions: [Backtest.Predictions], kind: RiskModel.Kind) -> [(alpha: Double, figures: Backtest.Figures)] {
        let typical = Backtest.typicalSeverity(predictions)
        return Backtest.alphas.map { alpha in
            (alpha, Backtest.Figures.pooled(predictions.map { p in
                let key = zip(p.probability[kind]!, p.severity).map {
                    Backtest.key(probability: $0.0, severity: $0.1, alpha: alpha, typical: typical)
                }
                return Backtest.figures(key: key, positive: p.tested.map(\.positive), indu: p.tested.map(\.indu))
            }))
        }
    }

    /// Below this many earlier controls (or 20 positives or negatives), a year is not tested by
    /// the backtest that chooses the model: lower than what a delivered model needs, so that a
    /// store of a few hundred controls still has a year to test.
    public static let minimumFoldTraining = 150

    /// Whether `training` is enough to fit on for one year of the backtest.
    static func enoughToTest(_ training: [TrainingExample]) -> Bool {
        enough(training, controls: minimumFoldTraining, perClass: 20)
    }

    /// Whether `training` has enough labelled controls to fit on (else the expert weights):
    /// `controls` at least, and `perClass` positives and negatives.
    static func enough(
        _ training: [TrainingExample], controls: Int = minimumTrainingControls, perClass: Int = minimumPerClass
    ) -> Bool {
        let positives = training.filter(\.positive).count
        return training.count >= controls && positives >= perClass && training.count - positives >= perClass
    }

    /// The median indu share of the stake among positive controls (the severity fallback).
    static func induShare(_ training: [TrainingExample]) -> Double {
        let shares = training.filter { $0.positive && $0.enjeu > 0 }.map { $0.indu / $0.enjeu }.sorted()
        return shares.isEmpty ? ExpertWeights.induShareOfStake : RobustStats.median(ofSorted: shares)
    }

    /// Monotone constraints of the trees, by column: known directions only (excess billing,
    /// past anomalies and indus, the manager's anomaly rate raise the risk).
    static func monotone(_ features: [Feature]) -> [Int] {
        features.map { f in
            switch f {
            case .tauxFacturation, .anomaliesPassees, .indusPasses, .tauxGestionnaire: 1
            default: 0
            }
        } + nuisanceNames.map { _ in 0 }
    }

    /// Fits a probability model of `kind` (regression or trees) on `training`, without the
    /// severity and key (see ``train(_:population:)``).
    static func fit(_ training: [TrainingExample], kind: RiskModel.Kind) throws -> RiskModel {
        let features = Feature.allCases
        let (means, scales) = standardisation(training.map(\.values), count: features.count)
        var model = RiskModel(
            version: modelVersion, kind: .entraine, features: features.map(\.code), means: means, scales: scales, intercept: 0,
            coefficients: [], nuisance: [:], lambda: lambda, trainingControls: training.count,
            trainingPositives: training.filter(\.positive).count, randomControls: training.filter { $0.origine == .aleatoire }.count,
            induShareOfStake: induShare(training))
        let y = training.map { $0.positive ? 1.0 : 0 }
        if kind == .arbres {
            let trees = try BoostedTrees(
                x: training.map { $0.values + nuisance($0).map(Optional.some) }, y: y, monotone: monotone(features))
            model.version = boostedVersion
            model.kind = .arbres
            model.lambda = 0
            model.booster = try trees.json()
            model.coefficients = features.map { _ in 0 }
            return model
        }
        let x = training.map { model.standardised($0.values) + nuisance($0) }
        let fit = try LogisticRegression.fit(x: x, y: y, lambda: lambda)
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
    public static func standardisation(_ rows: [[Double?]], count: Int) -> (means: [Double], scales: [Double]) {
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

    /// A digest of everything ``train(_:population:kind:)`` reads of `training` (and of the
    /// forced kind), `nil` when too few controls make it fall back to the expert weights (which
    /// also read the population): the same digest, the same model.
    public static func trainingDigest(_ training: [TrainingExample], kind: RiskModel.Kind?) -> String? {
        guard enough(training) else { return nil }
        var h = StableHasher()
        h.combine(modelVersion)
        h.combine(boostedVersion)
        h.combine(TrainingCache.featureSetVersion)
        h.combine(kind?.rawValue ?? "auto")
        for e in training {
            h.combine(e.exercice)
            h.combine(e.equipementId)
            for v in e.values { h.combine(v.map { Int64(bitPattern: $0.bitPattern) } ?? Int64.min) }
            h.combine(e.positive ? 1 : 0)
            h.combine(Int64(bitPattern: e.indu.bitPattern))
            h.combine(Int64(bitPattern: e.enjeu.bitPattern))
            h.combine(e.origine.rawValue)
            h.combine(e.type.rawValue)
            h.combine(e.date.yyyymmdd)
            h.combine(e.nature)
            h.combine(Int64(bitPattern: e.rules.bitPattern))
        }
        return "\(training.count):" + h.hex
    }

    /// Significant digits PRIORITE keeps (``deliveredPriority(_:)``).
    public static let priorityDigits = 3

    /// PRIORITE as delivered, stored and ranked on: the key rounded to ``priorityDigits``
    /// significant digits (12 300 €, 523 €, 0.347 €). The severity model behind it is nowhere
    /// near more precise, and keys equal at that precision are ordered by SCORE, then dossier
    /// number, as the list says. Kept whole, a delivery of one Caf moved the peers' medians and
    /// with them the key of 43 564 equipments of 59 183 by about 0.01 %, and the night updated
    /// as many rows of `score` for changes no list shows; rounded, 2 604 (10 489 with four
    /// digits). Those rows still lie on most pages of the table: the pages written stay about
    /// the same (17.7 MB, and as much in the journal), the updates are fewer.
    public static func deliveredPriority(_ key: Double) -> Double {
        guard key.isFinite, key != 0 else { return key }
        // By an exact power of ten on the side that keeps it exact: 12 300, not 12 300.000000000002.
        let exponent = Int(floor(log10(abs(key)))) - (priorityDigits - 1)
        let factor = pow(10, Double(abs(exponent)))
        return exponent >= 0 ? (key / factor).rounded() * factor : (key * factor).rounded() / factor
    }

    /// Scores and ranks `rows`: by PRIORITE, then SCORE, then dossier number.
    public static func score(_ rows: [FeatureRow], model: RiskModel, exercice: Int) throws -> [ScoredLine] {
        let explained = try model.explain(count: rows.count) { rows[$0].values }
        let shared = SharedRows(rows)
        var lines = parallelIndices(rows.count) { k -> ScoredLine in
            let row = rows[k]
            let (score, contributions) = explained[k]
            let enjeu = row.indicators.enjeuEuros
            let severity = model.severity(values: row.values, enjeu: enjeu, nature: row.profile.nature)
            let motifs = Reasons.motifs(row, contributions: contributions, exercice: exercice)
            return ScoredLine(
                rank: 0, rows: shared, position: k, score: score, enjeu: enjeu, severity: severity,
                priorite: deliveredPriority(model.priority(score: score, severity: severity)), motifsText: motifs.joined(separator: " | "),
                contributionsText: thousandths(contributions))
        }
        // Sort positions, not the lines, then put each line at its rank in place, cycle by cycle,
        // rather than in a second array.
        let order = lines.withUnsafeBufferPointer { l in
            rankOrder(l.map { (priorite: $0.priorite, score: $0.score) }) { l[$0].row.profile.nDossier }
        }
        for (rank, i) in order.enumerated() { lines[i].rank = rank + 1 }
        lines.permute(to: order)
        return lines
    }
}

/// The positions of the lines in the ranked list's order: `priorite` then `score` decreasing,
/// then the dossier number (`dossier(position)`) increasing. The keys come in a flat array:
/// read from the lines in the comparison, each line was copied (its strings retained and
/// released) at every comparison, 22 ms of the national list on a single core; the dossier
/// numbers are read only to break ties.
func rankOrder(_ keys: [(priorite: Double, score: Double)], dossier: (Int) -> String) -> [Int] {
    keys.indices.sorted { a, b in
        if keys[a].priorite != keys[b].priorite { return keys[a].priorite > keys[b].priorite }
        if keys[a].score != keys[b].score { return keys[a].score > keys[b].score }
        return dossier(a) < dossier(b)
    }
}

/// `values` in thousandths, comma-separated (`1250,-30,0`), written digit by digit into a buffer
/// on the stack: this runs for every feature of every scored equipment. The string is made at
/// its exact length (written in a string's own storage, it kept the room of the widest values:
/// 20 MB more at the national first score's peak).
func thousandths(_ values: [Double]) -> String {
    // Per value: a comma, a sign, and a room of 20 for its digits (19 at most).
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(values.count * 22, 1)) { out in
        var end = 0
        for (k, value) in values.enumerated() {
            if k > 0 {
                out[end] = UInt8(ascii: ",")
                end += 1
            }
            let n = Int((value * 1000).rounded())
            if n < 0 {
                out[end] = UInt8(ascii: "-")
                end += 1
            }
            // Digits written backwards from the far end of their room, then moved into place.
            var m = n.magnitude
            var first = end + 20
            repeat {
                first -= 1
                out[first] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: m % 10)
                m /= 10
            } while m > 0
            let count = end + 20 - first
            for d in 0..<count { out[end + d] = out[first + d] }
            end += count
        }
        return String(decoding: UnsafeBufferPointer(rebasing: out[..<end]), as: UTF8.self)
    }
}

/// `transform` applied to every element on two threads (the machines this runs on have two
/// cores), results in the order of `items`.
func parallelMap<T: Sendable, U: Sendable>(_ items: [T], _ transform: @Sendable (T) -> U) -> [U] {
    parallelIndices(items.count) { transform(items[$0]) }
}

/// The storage of an array being built, each thread initialising its own part.
private final class UninitializedSlots<U>: @unchecked Sendable {
    let base: UnsafeMutablePointer<U>
    init(_ base: UnsafeMutablePointer<U>) { self.base = base }
}

/// `[transform(0), …, transform(count − 1)]`, computed on two threads straight into the result
/// (no per-thread arrays joined afterwards: at four times the country those copies were hundreds
/// of megabytes at the stage's peak). Each thread takes the next ``parallelChunk`` indices
/// until none are left: cut in two fixed halves, one half of the national list took up to
/// 40 ms longer than the other to explain, and one core waited as long. Each element is
/// `transform` of its own index, whichever thread computed it.
///
/// `chunk`: indices taken at a time; 1 for a few long tasks (``PeerTable``'s six indicators).
func parallelIndices<U: Sendable>(_ count: Int, chunk: Int = parallelChunk, _ transform: @Sendable (Int) -> U) -> [U] {
    guard count > chunk else { return (0..<count).map(transform) }
    return [U](unsafeUninitializedCapacity: count) { buffer, initialized in
        let slots = UninitializedSlots(buffer.baseAddress!)
        let next = LockedBox(0)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            while true {
                let start = next.lock.withLock {
                    defer { next.value += chunk }
                    return next.value
                }
                guard start < count else { return }
                for i in start..<min(count, start + chunk) { (slots.base + i).initialize(to: transform(i)) }
            }
        }
        initialized = count
    }
}

/// Indices a thread of ``parallelIndices(_:chunk:_:)`` takes at a time by default: small enough that the two
/// end within a chunk's time of each other, large enough that taking one costs nothing.
let parallelChunk = 512
