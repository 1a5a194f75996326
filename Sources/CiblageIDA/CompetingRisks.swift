import CiblageModel
import Foundation

/// How a project's follow-up ends at the reference date.
public enum ProjectOutcome: Sendable, Equatable {
    /// Opened after this many whole months.
    case opened
    /// Abandoned: a competing event, never a censoring.
    case abandoned
    /// Still pending (EN_COURS or SUSPENDU) at the reference date: censored there.
    case censored
}

/// One project's time from decision to its outcome, in whole calendar months.
public struct ProjectTime: Sendable, Equatable {
    public var months: Int
    public var outcome: ProjectOutcome
    public init(months: Int, outcome: ProjectOutcome) {
        self.months = months
        self.outcome = outcome
    }
}

/// One line of the competing-risks table (`delais-<date>.csv`).
public struct IncidenceStep: Sendable, Equatable {
    public var month: Int
    /// Projects whose time is at least `month`.
    public var atRisk: Int
    public var openings: Int
    public var abandonments: Int
    public var censored: Int
    /// Aalen–Johansen cumulative incidence of opening by `month` (0–1).
    public var opened: Double
    /// Aalen–Johansen cumulative incidence of abandonment by `month` (0–1).
    public var abandoned: Double
}

/// Time from decision to opening as competing risks: opening and abandonment compete, a pending
/// project is censored at the reference date.
public enum CompetingRisks {
    /// Whole calendar months completed from `start` to `end`: 15/01 → 14/03 is 1, → 15/03 is 2.
    public static func months(from start: CalendarDate, to end: CalendarDate) -> Int {
        let raw = (end.year - start.year) * 12 + (end.month - start.month)
        return max(0, end.day < start.day ? raw - 1 : raw)
    }

    /// The Aalen–Johansen estimator, one step per month with an event or a censoring. At a tied
    /// month, events count before censorings (a project censored at month m was at risk at m).
    /// S(t) is the Kaplan–Meier probability of no event of either kind; the incidence of a kind
    /// grows by S(t⁻) × d_kind(t) / n(t). With no abandonment, `opened` is 1 − Kaplan–Meier.
    public static func aalenJohansen(_ times: [ProjectTime]) -> [IncidenceStep] {
        var byMonth: [Int: (o: Int, a: Int, c: Int)] = [:]
        for t in times {
            var cell = byMonth[t.months] ?? (0, 0, 0)
            switch t.outcome {
            case .opened: cell.o += 1
            case .abandoned: cell.a += 1
            case .censored: cell.c += 1
            }
            byMonth[t.months] = cell
        }
        var atRisk = times.count
        var survival = 1.0
        var opened = 0.0, abandoned = 0.0
        var steps: [IncidenceStep] = []
        for month in byMonth.keys.sorted() {
            let cell = byMonth[month]!
            let n = Double(atRisk)
            if n > 0 {
                opened += survival * Double(cell.o) / n
                abandoned += survival * Double(cell.a) / n
                survival *= 1 - Double(cell.o + cell.a) / n
            }
            steps.append(
                IncidenceStep(month: month, atRisk: atRisk, openings: cell.o, abandonments: cell.a, censored: cell.c, opened: opened, abandoned: abandoned))
            atRisk -= cell.o + cell.a + cell.c
        }
        return steps
    }

    /// The incidence at `month` (the last step at or before it; 0 before the first).
    public static func value(_ steps: [IncidenceStep], at month: Int, _ kind: KeyPath<IncidenceStep, Double>) -> Double {
        steps.last { $0.month <= month }?[keyPath: kind] ?? 0
    }

    /// The first month at which the incidence of opening reaches 1/2, when it does.
    public static func medianOpening(_ steps: [IncidenceStep]) -> Int? {
        steps.first { $0.opened >= 0.5 }?.month
    }

    /// Pointwise 95 % bands of both incidences at months `0...horizon`, by a seeded bootstrap of
    /// the projects (`replicates` resamples; percentiles 2.5 and 97.5): deterministic for a seed.
    public static func bands(
        _ times: [ProjectTime], horizon: Int, replicates: Int = 200, seed: UInt64 = 20_251_201
    ) -> (opened: [(low: Double, high: Double)], abandoned: [(low: Double, high: Double)]) {
        guard !times.isEmpty, horizon >= 0 else { return ([], []) }
        var rng = SeededRandom(seed: seed).derived("bandes")
        var openedDraws = [[Double]](repeating: [], count: horizon + 1)
        var abandonedDraws = [[Double]](repeating: [], count: horizon + 1)
        for _ in 0..<replicates {
            let sample = (0..<times.count).map { _ in times[rng.int(0...(times.count - 1))] }
            let steps = aalenJohansen(sample)
            var k = 0
            var last: IncidenceStep?
            for month in 0...horizon {
                while k < steps.count && steps[k].month <= month {
                    last = steps[k]
                    k += 1
                }
                openedDraws[month].append(last?.opened ?? 0)
                abandonedDraws[month].append(last?.abandoned ?? 0)
            }
        }
        func band(_ draws: [Double]) -> (low: Double, high: Double) {
            let sorted = draws.sorted()
            let lo = sorted[max(0, Int((Double(sorted.count) * 0.025).rounded(.down)))]
            let hi = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.975).rounded(.down)))]
            return (lo, hi)
        }
        return (openedDraws.map(band), abandonedDraws.map(band))
    }
}
