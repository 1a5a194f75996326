import CiblageModel
import Foundation

/// How a planned line was chosen.
public enum Tirage: String, Sendable, Codable, CaseIterable {
    /// Forced in by a documented rule (never controlled, high stake).
    case obligatoire = "OBLIGATOIRE"
    /// Chosen by PRIORITE.
    case cible = "CIBLE"
    /// Drawn at random, with a known inclusion probability.
    case aleatoire = "ALEATOIRE"
    /// The head-office site of a multi-departmental group.
    case siege = "SIEGE"
}

/// One equipment in a plan.
public struct PlanLine: Sendable, Equatable {
    public var candidate: Candidate
    public var rang: Int
    public var tirage: Tirage
    /// 1 for lines chosen by rule or rank; n / N for a simple random draw of n among N.
    public var probabiliteInclusion: Double
}

/// The local plan of one Caf.
public struct LocalPlan: Sendable, Equatable {
    public var caf: String
    /// Equipments of the Caf scored for the exercice (the base of `taux_controle`).
    public var actifs: Int
    public var capacite: Int
    public var exclus: Int
    /// Equipments left to draw the random share from, and its size.
    public var populationAleatoire: Int
    public var tailleAleatoire: Int
    /// Expected anomaly rate of that population (mean SCORE) and the half-width of the 95 %
    /// interval the random share gives on it (normal approximation, finite population), or nil.
    public var tauxAttendu: Double
    public var precision: Double?
    public var lines: [PlanLine]
}

/// A selected multi-departmental group and its sites.
public struct GroupPlan: Sendable, Equatable {
    public var siren: String
    public var nom: String
    public var pole: String
    public var rang: Int
    public var departements: [String]
    public var equipements: Int
    /// Euros: the expected indu of the group, sum of its equipments' PRIORITE.
    public var scoreGroupe: Double
    public var enjeu: Double
    /// Share of its equipments among the riskiest tenth nationally, and past anomalies across Cafs.
    public var partRisqueEleve: Double
    public var anomaliesPassees: Int
    public var sites: [PlanLine]
}

/// What the planner decided, and why equipments were left out.
public struct CampaignPlan: Sendable, Equatable {
    public var config: CampaignConfig
    public var candidates: Int
    public var exclusFermes: Int
    public var exclusControleRecent: Int
    public var groupesEligibles: Int
    public var groups: [GroupPlan]
    public var locals: [LocalPlan]
}

/// Builds a campaign's plans from the scored candidates: multi-departmental plans first, then a
/// local plan per Caf that leaves out their sites. Deterministic: candidates are taken in a
/// fixed order and every random draw comes from ``SeededRandom`` streams derived from the
/// campaign's seed and the Caf or SIREN.
public struct Planner {
    public var config: CampaignConfig
    public var referentiel: Referentiel

    public init(config: CampaignConfig, referentiel: Referentiel) {
        self.config = config
        self.referentiel = referentiel
    }

    /// The first day controls count as recent: `date_reference` minus the exclusion months.
    public var recentSince: Int {
        let reference = CalendarDate(yyyymmdd: config.dateReference)!
        var month = reference.month - config.exclureControleRecentMois
        var year = reference.year
        while month < 1 {
            month += 12
            year -= 1
        }
        let day = min(reference.day, CalendarDate.daysInMonth(year: year, month: month))
        return CalendarDate(year: year, month: month, day: day)!.yyyymmdd
    }

    /// Closed equipments, and the others controlled since ``recentSince``.
    public func exclusions(_ candidates: [Candidate]) -> (closed: Set<Int64>, recent: Set<Int64>) {
        let since = recentSince
        let closed = Set(candidates.lazy.filter { $0.fermeture != nil }.map(\.equipementId))
        let recent = Set(
            candidates.lazy.filter { c in !closed.contains(c.equipementId) && (c.dernierControle.map { $0 >= since } ?? false) }
                .map(\.equipementId))
        return (closed, recent)
    }

    /// The plans of a campaign over `candidates` (ranked by PRIORITE, as ``CandidateStore/load(_:exercice:)``
    /// gives them).
    ///
    /// The candidates are grouped (by manager, by Caf) and filtered by their positions in
    /// `candidates`, never copied: a ``Candidate`` is some 270 bytes and ten strings, and at four
    /// times the country the copies the groupings held at once (eligible, by manager, eligible
    /// by manager) were 206 MB of the stage's 467 MiB peak, beside 65 MB for the list itself.
    public func plan(_ candidates: [Candidate]) -> CampaignPlan {
        let (closed, recent) = exclusions(candidates)
        let isEligible = candidates.map { !closed.contains($0.equipementId) && !recent.contains($0.equipementId) }

        let (groups, eligibleGroups) = multiPlans(candidates, eligible: isEligible)
        let taken = Set(groups.flatMap { $0.sites.map(\.candidate.equipementId) })

        var byCaf: [String: [Int]] = [:]
        for k in candidates.indices { byCaf[candidates[k].caf, default: []].append(k) }
        let cafs = config.cafs ?? byCaf.keys.sorted()
        let locals = cafs.map { caf in
            let all = byCaf[caf] ?? []
            let pool = all.lazy.filter { isEligible[$0] && !taken.contains(candidates[$0].equipementId) }.map { candidates[$0] }
            return localPlan(caf: caf, active: all.count, pool: Array(pool))
        }
        return CampaignPlan(
            config: config, candidates: candidates.count, exclusFermes: closed.count, exclusControleRecent: recent.count,
            groupesEligibles: eligibleGroups, groups: groups, locals: locals)
    }

    /// Capacity of a Caf: its absolute capacity, else `taux_controle` × its active equipments, rounded.
    public func capacity(caf: String, active: Int) -> Int {
        config.capacitesLocales[caf] ?? Int((config.tauxControle * Double(active)).rounded())
    }

    /// Size of the random share of a plan of `capacity` lines drawn from `population`
    /// equipments whose expected anomaly rate is `p`.
    public func randomShare(capacity: Int, population: Int, p: Double) -> Int {
        guard capacity > 0, population > 0 else { return 0 }
        if let e = config.precisionCible {
            // n₀ = z² p(1−p) / e², corrected for a finite population: n = n₀ / (1 + (n₀ − 1) / N).
            let q = min(max(p, 0.01), 0.99)
            let n0 = 1.96 * 1.96 * q * (1 - q) / (e * e)
            let n = n0 / (1 + (n0 - 1) / Double(population))
            return min(capacity, population, Int(n.rounded(.up)))
        }
        return min(population, Int((config.partAleatoire * Double(capacity)).rounded()))
    }

    /// Half-width of the 95 % interval on a rate near `p` from a simple random sample of `n` among `population`.
    public static func precision(n: Int, population: Int, p: Double) -> Double? {
        guard n > 0, population > 1 else { return nil }
        let fpc = Double(population - n) / Double(population - 1)
        return 1.96 * (p * (1 - p) / Double(n) * fpc).squareRoot()
    }

    func localPlan(caf: String, active: Int, pool: [Candidate]) -> LocalPlan {
        let capacity = min(capacity(caf: caf, active: active), pool.count)
        // Candidates come ranked by PRIORITE (the score's rank).
        var remaining = pool
        let expected = pool.isEmpty ? 0 : pool.reduce(0) { $0 + $1.score } / Double(pool.count)
        var random = randomShare(capacity: capacity, population: pool.count, p: expected)
        let obligatoireMax = min(capacity - random, Int((config.obligatoirePartMax * Double(capacity)).rounded(.down)))
        let obligatoires = Array(
            remaining.filter { $0.controles == 0 && $0.enjeu >= config.obligatoireEnjeuMin }.prefix(max(0, obligatoireMax)))
        let forced = Set(obligatoires.map(\.equipementId))
        remaining.removeAll { forced.contains($0.equipementId) }
        let targeted = Array(remaining.prefix(max(0, capacity - random - obligatoires.count)))
        let chosen = Set(targeted.map(\.equipementId))
        remaining.removeAll { chosen.contains($0.equipementId) }
        random = min(random, remaining.count)

        // Simple random sampling without replacement: a partial Fisher–Yates shuffle of the
        // rest, taken in dossier order so that the draw depends on nothing but the seed.
        var rng = SeededRandom(seed: config.graine).derived("plan-local-\(caf)")
        var rest = remaining.sorted { $0.nDossier < $1.nDossier }
        for i in 0..<random {
            let j = rng.int(i...(rest.count - 1))
            rest.swapAt(i, j)
        }
        let probability = rest.isEmpty ? 0 : Double(random) / Double(rest.count)
        var lines: [PlanLine] = []
        for c in obligatoires { lines.append(PlanLine(candidate: c, rang: lines.count + 1, tirage: .obligatoire, probabiliteInclusion: 1)) }
        for c in targeted { lines.append(PlanLine(candidate: c, rang: lines.count + 1, tirage: .cible, probabiliteInclusion: 1)) }
        for c in rest.prefix(random) {
            lines.append(PlanLine(candidate: c, rang: lines.count + 1, tirage: .aleatoire, probabiliteInclusion: probability))
        }
        let restExpected = rest.isEmpty ? 0 : rest.reduce(0) { $0 + $1.score } / Double(rest.count)
        return LocalPlan(
            caf: caf, actifs: active, capacite: capacity, exclus: active - pool.count, populationAleatoire: rest.count,
            tailleAleatoire: random, tauxAttendu: restExpected,
            precision: Self.precision(n: random, population: rest.count, p: restExpected), lines: lines)
    }

    /// Groups present in at least `min_departements` départements, scored, assigned to the pôle
    /// of their head office, the best per pôle up to its capacity; returns the plans and how
    /// many groups were eligible.
    /// `eligible[k]`: whether `candidates[k]` may be planned (neither closed nor controlled
    /// recently).
    func multiPlans(_ candidates: [Candidate], eligible: [Bool]) -> ([GroupPlan], Int) {
        // Positions in `candidates`, in its (PRIORITE) order.
        var byManager: [String: [Int]] = [:]
        for k in candidates.indices { byManager[candidates[k].siren, default: []].append(k) }
        let scores = candidates.map(\.score).sorted()
        let highRisk = scores.isEmpty ? 1 : scores[min(scores.count - 1, Int(Double(scores.count) * 0.9))]

        var groups: [GroupPlan] = []
        var sitesPools: [String: [Int]] = [:]
        for (siren, members) in byManager {
            let departements = Set(members.map { candidates[$0].departement }).sorted()
            let sitesPool = members.filter { eligible[$0] }
            guard departements.count >= config.minDepartements, !sitesPool.isEmpty, let head = members.first.map({ candidates[$0] })
            else { continue }
            sitesPools[siren] = sitesPool
            let pole = referentiel.departements[head.departementSiege]?.pole ?? "INCONNU"
            groups.append(
                GroupPlan(
                    siren: siren, nom: head.nomGestionnaire, pole: pole, rang: 0, departements: departements,
                    equipements: members.count, scoreGroupe: sitesPool.reduce(0) { $0 + candidates[$1].priorite },
                    enjeu: members.reduce(0) { $0 + candidates[$1].enjeu },
                    partRisqueEleve: Double(members.filter { candidates[$0].score >= highRisk }.count) / Double(members.count),
                    anomaliesPassees: members.reduce(0) { $0 + candidates[$1].anomalies }, sites: []))
        }
        let eligibleCount = groups.count
        var selected: [GroupPlan] = []
        for pole in Set(groups.map(\.pole)).sorted() {
            let capacity = config.capacitesPoles[pole] ?? 0
            let ranked = groups.filter { $0.pole == pole }.sorted { ($0.scoreGroupe, $1.siren) > ($1.scoreGroupe, $0.siren) }
            for var group in ranked.prefix(capacity) {
                group.rang = selected.filter { $0.pole == pole }.count + 1
                group.sites = sites(of: group, pool: (sitesPools[group.siren] ?? []).map { candidates[$0] })
                selected.append(group)
            }
        }
        return (selected, eligibleCount)
    }

    /// The siège (the riskiest eligible site in the head-office département, else the riskiest),
    /// the next riskiest up to `sites_par_groupe − 1`, and one more drawn at random from the rest.
    func sites(of group: GroupPlan, pool: [Candidate]) -> [PlanLine] {
        // `pool` is in PRIORITE order.
        guard let siege = pool.first(where: { $0.departement == $0.departementSiege }) ?? pool.first else { return [] }
        var lines = [PlanLine(candidate: siege, rang: 1, tirage: .siege, probabiliteInclusion: 1)]
        var rest = pool.filter { $0.equipementId != siege.equipementId }
        for c in rest.prefix(max(0, config.sitesParGroupe - 2)) {
            lines.append(PlanLine(candidate: c, rang: lines.count + 1, tirage: .cible, probabiliteInclusion: 1))
        }
        rest.removeFirst(min(rest.count, max(0, config.sitesParGroupe - 2)))
        if !rest.isEmpty {
            rest.sort { $0.nDossier < $1.nDossier }
            var rng = SeededRandom(seed: config.graine).derived("plan-multi-\(group.siren)")
            let pick = rest[rng.int(0...(rest.count - 1))]
            lines.append(PlanLine(candidate: pick, rang: lines.count + 1, tirage: .aleatoire, probabiliteInclusion: 1 / Double(rest.count)))
        }
        return lines
    }
}
