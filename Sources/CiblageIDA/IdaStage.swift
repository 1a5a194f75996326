import CiblageModel
import CiblageReperes
import CiblageReports
import CiblageStore
import Foundation
import GRDB

/// One line of the yearly follow-up list.
public struct FollowUpLine: Sendable {
    public var rang: Int
    /// PROJET or EQUIPEMENT.
    public var type: String
    public var identifiant, caf, pole, nom: String
    /// PROJET: probability of failure; EQUIPEMENT: share of the four fragility signals present.
    public var score: Double
    public var motifs: [String]
}

/// What `ciblage-ida` computed.
public struct IdaSummary: Sendable {
    public var projets: Int
    public var enAttente: Int
    public var suivi: [FollowUpLine]
    public var model: ProjectRiskModel
    public var files: [URL]
    /// Pending projects' scores, for the benchmark's lift.
    public var pendingScores: [(nProjet: String, score: Double, decision: CalendarDate)]
}

/// The `ciblage-ida` stage: the gap between places decided and opened, delays as competing
/// risks, projects at risk and the yearly follow-up list.
public struct IdaStage {
    public var store: Store
    public var referentiel: Referentiel

    public init(store: Store, referentiel: Referentiel) {
        self.store = store
        self.referentiel = referentiel
    }

    static func load(_ db: Database, reference: CalendarDate, referentiel: Referentiel) throws -> [ProjectRow] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT n_projet, caf, commune, siren_porteur, nom_porteur, statut_porteur, nature, places_decidees, date_decision,
                    aide_investissement, date_ouverture_prevue, etat, places_ouvertes, date_ouverture, date_abandon, qpv, zrr
                FROM projet WHERE date_decision <= ? ORDER BY n_projet
                """, arguments: [reference.yyyymmdd]
        ).map { r in
            let caf: String = r[1]
            return ProjectRow(
                nProjet: r[0], caf: caf, pole: referentiel.departements[caf]?.pole ?? "", commune: r[2], siren: r[3], nom: r[4], statut: r[5],
                nature: r[6], places: r[7], decision: CalendarDate(yyyymmdd: r[8])!, aide: r[9], prevue: CalendarDate(yyyymmdd: r[10])!,
                etat: EtatProjet(rawValue: r[11]) ?? .enCours, ouvertes: r[12], ouverture: (r[13] as Int?).flatMap(CalendarDate.init(yyyymmdd:)),
                abandon: (r[14] as Int?).flatMap(CalendarDate.init(yyyymmdd:)), qpv: r[15], zrr: r[16])
        }
    }

    public func run(reference: CalendarDate, capacity: Int = 200, output: URL) throws -> IdaSummary {
        // Fragile open equipments (the screening of the latest exercice with réel declarations up to
        // the reference year) on a second connection and thread, while the projects are worked on.
        let referentiel = referentiel
        let path = store.path
        let screening = BackgroundWork {
            try Store(path: path).dbQueue.read { db -> [Fragility] in
                let year = try Int.fetchOne(
                    db, sql: "SELECT max(exercice) FROM declaration WHERE exercice <= ? AND nature = ?",
                    arguments: [reference.year, NatureDeclaration.reel.rawValue])
                return try year.map { Screening.fragility(try StudyStore.load(db, exercice: $0, referentiel: referentiel), caf: nil) } ?? []
            }
        }
        let projects = try store.dbQueue.read { try Self.load($0, reference: reference, referentiel: referentiel) }
        let times = projects.map { $0.time(at: reference) }

        // Projects at risk.
        let model = ProjectRiskModel.fit(projects, at: reference)
        let records = ProjectRiskModel.records(projects, at: reference)
        var atRisk: [(ProjectRow, Double, [String])] = []
        for (p, t) in zip(projects, times) where t.outcome == .censored {
            let x = ProjectRiskModel.features(p, record: records[p.nProjet]!)
            let s = model.score(x)
            atRisk.append((p, s.probability, ProjectRiskModel.reasons(p, x: x, contributions: s.contributions, reference: reference)))
        }

        // The delays and their bands, still while the screening runs.
        let groups = (times.isEmpty ? [] : [("ENSEMBLE", times)]) + Set(projects.map(\.nature)).sorted().map { nature in
            (nature, zip(projects, times).filter { $0.0.nature == nature }.map(\.1))
        }
        let curves = groups.map { ($0.0, CompetingRisks.aalenJohansen($0.1)) }
        let horizon = min(72, times.map(\.months).max() ?? 0)
        let bands = CompetingRisks.bands(times, horizon: horizon)
        let stamp = String(format: "%04d%02d%02d", reference.year, reference.month, reference.day)
        let batch = OutputBatch()
        var files: [URL] = []
        func url(_ name: String) -> URL {
            let u = output.appendingPathComponent(name)
            files.append(u)
            return u
        }
        let ecart = try FrenchCSVWriter(
            url: url("ecart-\(stamp).csv"),
            header: ["NIVEAU", "CODE", "PROJETS", "PLACES_DECIDEES", "PLACES_OUVERTES", "PLACES_EN_ATTENTE", "PLACES_ABANDONNEES", "TAUX_REALISATION"],
            batch: batch)
        let gaps = Self.gaps(projects, times, reference: reference)
        for g in gaps {
            try ecart.writeRow([
                g.level, g.code, String(g.projects), String(g.decided), String(g.opened), String(g.pending), String(g.abandoned),
                g.rate.map { FrenchFormat.decimal($0, fractionDigits: 4) } ?? "",
            ])
        }
        let delais = try FrenchCSVWriter(
            url: url("delais-\(stamp).csv"),
            header: ["GROUPE", "MOIS", "A_RISQUE", "OUVERTURES", "ABANDONS", "CENSURES", "PART_OUVERTS", "PART_ABANDONNES"], batch: batch)
        for (group, steps) in curves {
            for s in steps {
                try delais.writeRow([
                    group, String(s.month), String(s.atRisk), String(s.openings), String(s.abandonments), String(s.censored),
                    FrenchFormat.decimal(s.opened, fractionDigits: 6), FrenchFormat.decimal(s.abandoned, fractionDigits: 6),
                ])
            }
        }
        var report = IdaReport.report(
            reference: reference, projects: projects, times: times, gaps: gaps, curves: curves, bands: bands, horizon: horizon, model: model)
        let fragile = try screening.wait()
        // The follow-up list: the capacity shared by the pôles in proportion to their pending places.
        let poleOf: (String) -> String = { referentiel.departements[$0]?.pole ?? "" }
        var pendingPlaces: [String: Int] = [:]
        for (p, _, _) in atRisk { pendingPlaces[p.pole, default: 0] += p.places }
        // No pending place anywhere (no project yet): the fragile equipments share it by their number.
        let shares = Self.share(capacity, by: pendingPlaces.values.reduce(0, +) > 0 ? pendingPlaces : fragileCount(fragile, poleOf))
        var candidates: [String: [FollowUpLine]] = [:]
        for (p, score, reasons) in atRisk {
            candidates[p.pole, default: []].append(
                FollowUpLine(rang: 0, type: "PROJET", identifiant: p.nProjet, caf: p.caf, pole: p.pole, nom: p.nom, score: score, motifs: reasons))
        }
        for f in fragile {
            let pole = poleOf(f.equipment.caf)
            candidates[pole, default: []].append(
                FollowUpLine(
                    rang: 0, type: "EQUIPEMENT", identifiant: f.equipment.nDossier, caf: f.equipment.caf, pole: pole, nom: f.equipment.nom,
                    score: min(1, Double(f.reasons.count) / 4), motifs: f.reasons))
        }
        var suivi: [FollowUpLine] = []
        for pole in candidates.keys.sorted() {
            let ranked = candidates[pole]!.sorted { ($0.score, $1.identifiant) > ($1.score, $0.identifiant) }
            for (i, var line) in ranked.prefix(shares[pole] ?? 0).enumerated() {
                line.rang = i + 1
                suivi.append(line)
            }
        }

        let list = try FrenchCSVWriter(url: url("suivi-ida-\(stamp).csv"), header: ["RANG", "TYPE", "IDENTIFIANT", "CAF", "POLE", "NOM", "SCORE", "MOTIFS"], batch: batch)
        for line in suivi {
            try list.writeRow([
                String(line.rang), line.type, line.identifiant, line.caf, line.pole, line.nom, FrenchFormat.decimal(line.score, fractionDigits: 4),
                line.motifs.joined(separator: " | "),
            ])
        }
        IdaReport.suiviSection(&report, suivi: suivi, capacity: capacity, fragileCount: fragile.count)
        try report.write(to: url("ida-\(stamp).html"), in: batch)
        try batch.commit()
        return IdaSummary(
            projets: projects.count, enAttente: atRisk.count, suivi: suivi, model: model, files: files,
            pendingScores: atRisk.map { ($0.0.nProjet, $0.1, $0.0.decision) })
    }

    func fragileCount(_ fragile: [Fragility], _ poleOf: (String) -> String) -> [String: Int] {
        var out: [String: Int] = [:]
        for f in fragile { out[poleOf(f.equipment.caf), default: 0] += 1 }
        return out
    }

    /// `total` shared in proportion to `weights` (largest remainders, ties by key): sums to `total`.
    static func share(_ total: Int, by weights: [String: Int]) -> [String: Int] {
        let sum = weights.values.reduce(0, +)
        guard sum > 0, total > 0 else { return weights.mapValues { _ in 0 } }
        var out: [String: Int] = [:]
        var rest: [(String, Double)] = []
        for (k, w) in weights {
            let exact = Double(total) * Double(w) / Double(sum)
            out[k] = Int(exact.rounded(.down))
            rest.append((k, exact - exact.rounded(.down)))
        }
        var left = total - out.values.reduce(0, +)
        for (k, _) in rest.sorted(by: { ($0.1, $1.0) > ($1.1, $0.0) }) where left > 0 {
            out[k]! += 1
            left -= 1
        }
        return out
    }

    /// One line of `ecart-<date>.csv`.
    struct Gap {
        var level, code: String
        var projects, decided, opened, pending, abandoned: Int
        var rate: Double?
        var lost: Int
    }

    static func gaps(_ projects: [ProjectRow], _ times: [ProjectTime], reference: CalendarDate) -> [Gap] {
        func gap(_ level: String, _ code: String, _ members: [(ProjectRow, ProjectTime)]) -> Gap {
            var g = Gap(level: level, code: code, projects: members.count, decided: 0, opened: 0, pending: 0, abandoned: 0, rate: nil, lost: 0)
            var oldDecided = 0, oldOpened = 0
            for (p, t) in members {
                g.decided += p.places
                switch t.outcome {
                case .opened:
                    g.opened += p.ouvertes ?? 0
                    g.lost += max(0, p.places - (p.ouvertes ?? 0))
                case .abandoned: g.abandoned += p.places
                case .censored: g.pending += p.places
                }
                if CompetingRisks.months(from: p.decision, to: reference) >= 36 {
                    oldDecided += p.places
                    if t.outcome == .opened { oldOpened += p.ouvertes ?? 0 }
                }
            }
            g.rate = oldDecided > 0 ? Double(oldOpened) / Double(oldDecided) : nil
            return g
        }
        let pairs = Array(zip(projects, times))
        guard !pairs.isEmpty else { return [] }
        var out = [gap("NATIONAL", "", pairs)]
        for (level, key) in [("POLE", \ProjectRow.pole), ("CAF", \ProjectRow.caf), ("NATURE", \ProjectRow.nature)] {
            let grouped = Dictionary(grouping: pairs) { $0.0[keyPath: key] }
            for code in grouped.keys.sorted() { out.append(gap(level, code, grouped[code]!)) }
        }
        return out
    }
}
