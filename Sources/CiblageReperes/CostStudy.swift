import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// The axes a study can be cut by.
public enum Axis: String, CaseIterable, Sendable {
    case nature, taille, statut, pole, caf

    public var column: String { rawValue.uppercased() }

    /// Parses `nature,taille` (the contract's `--par`); `nil` names the bad axis.
    public static func parse(_ text: String) -> Result<[Axis], ReperesError> {
        var axes: [Axis] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let axis = Axis(rawValue: part) else { return .failure(.unknownAxis(part)) }
            if !axes.contains(axis) { axes.append(axis) }
        }
        return axes.isEmpty ? .failure(.unknownAxis(text)) : .success(axes)
    }
}

/// One equipment of a study: its cell and its indicators for N (and N-1, for changes).
public struct StudyEquipment: Sendable {
    public var id: Int64
    public var nDossier: String
    public var nom: String
    public var siren: String
    public var nomGestionnaire: String
    /// Axis values: nature code, size band code (`SANS_PLACES` without places), statut, pôle, Caf.
    public var cell: AxisValues
    public var values: IndicatorValues
    public var previous: IndicatorValues
    /// Euros: total costs (the dominance rule weighs managers by them), result (income − costs) of N and N-1.
    public var charges: Double
    public var resultat: Double?
    public var resultatPrecedent: Double?
    public var chargesPrecedentes: Double?
}

/// One value per ``CostIndicator`` (or none), in a flat array rather than a dictionary: a study
/// reads them 60 000 × 9 times, and hashing was most of its time.
public struct IndicatorValues: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private var storage = [Double?](repeating: nil, count: CostIndicator.allCases.count)

    public init() {}

    public init(dictionaryLiteral elements: (CostIndicator, Double)...) {
        for (indicator, value) in elements { self[indicator] = value }
    }

    public subscript(indicator: CostIndicator) -> Double? {
        get { storage[indicator.position] }
        set { storage[indicator.position] = newValue }
    }
}

/// One value per ``Axis`` (or none), flat as ``IndicatorValues``.
public struct AxisValues: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private var storage = [String?](repeating: nil, count: Axis.allCases.count)

    public init(dictionaryLiteral elements: (Axis, String)...) {
        for (axis, value) in elements { self[axis] = value }
    }

    public subscript(axis: Axis) -> String? {
        get { storage[axis.position] }
        set { storage[axis.position] = newValue }
    }
}

extension Axis {
    /// The axis's rank in ``allCases``.
    var position: Int {
        switch self {
        case .nature: 0
        case .taille: 1
        case .statut: 2
        case .pole: 3
        case .caf: 4
        }
    }
}

/// Reads the equipments of a study: every equipment with a réel declaration for the exercice
/// (the latest filed), with its réel of N-1 when there is one.
public enum StudyStore {
    struct Profile: Sendable {
        var nDossier, nom, nature, siren, nomGestionnaire, statut, caf: String
        var places: Int?
    }

    /// The registry, by equipment id.
    static func registry(_ db: Database, count: Int) throws -> [Int64: Profile] {
        var profiles: [Int64: Profile] = [:]
        profiles.reserveCapacity(count)
        let statement = try RawStatement(
            db, sql: "SELECT id, n_dossier, nom, nature, siren_gestionnaire, nom_gestionnaire, statut_gestionnaire, caf, places_agreees FROM equipement")
        defer { statement.reset() }
        while try statement.step() {
            let t = { (column: Int32) in statement.text(column) ?? "" }
            profiles[Int64(statement.int(0) ?? 0)] = Profile(
                nDossier: t(1), nom: t(2), nature: t(3), siren: t(4), nomGestionnaire: t(5), statut: t(6), caf: t(7), places: statement.int(8))
        }
        return profiles
    }

    public static func load(_ db: Database, exercice: Int, referentiel: Referentiel) throws -> [StudyEquipment] {
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement") ?? 0
        // The registry is read on a second connection while this one reads the réels of N-1,
        // which need no profile (≈ 0.1 s of the load, on the national store); on this one when
        // no second connection opens. Both see the same store: this read transaction holds it.
        let ahead = Store.secondReader(of: db).map { reader in
            BackgroundWork { try reader.read { try registry($0, count: count) } }
        }
        var profiles: [Int64: Profile]? = ahead == nil ? try registry(db, count: count) : nil
        // Waited for on every path, else its connection would go on reading past the end of this
        // transaction.
        defer { ahead?.discard() }
        func takeProfiles() throws -> [Int64: Profile] {
            if let profiles { return profiles }
            let read = try ahead!.wait()
            profiles = read
            return read
        }
        // One ordered scan (N-1, then N; by equipment, the latest filed last): the réels of N-1
        // are kept, each equipment of N is built as soon as its last réel is read, so that the
        // figures of N are never all held at once.
        var previousYear: [Int64: DeclarationFigures] = [:]
        previousYear.reserveCapacity(count)
        var out: [StudyEquipment] = []
        func add(_ id: Int64, _ f: DeclarationFigures, _ profiles: [Int64: Profile]) {
            guard let p = profiles[id], let charges = f.totalCharges else { return }
            let places = f.places ?? p.places
            let band = places.flatMap { $0 > 0 ? referentiel.sizeBand(places: $0)?.code : nil } ?? "SANS_PLACES"
            let last = previousYear[id]
            var values = IndicatorValues()
            var previous = IndicatorValues()
            for indicator in CostIndicator.allCases {
                values[indicator] = indicator.value(f, placesAgreees: p.places)
                if let last { previous[indicator] = indicator.value(last, placesAgreees: p.places) }
            }
            out.append(
                StudyEquipment(
                    id: id, nDossier: p.nDossier, nom: p.nom, siren: p.siren, nomGestionnaire: p.nomGestionnaire,
                    cell: [
                        .nature: p.nature, .taille: band, .statut: p.statut,
                        .pole: referentiel.departements[p.caf]?.pole ?? "INCONNU", .caf: p.caf,
                    ],
                    values: values, previous: previous, charges: charges,
                    resultat: f.totalProduits.map { $0 - charges },
                    resultatPrecedent: last.flatMap { l in l.totalProduits.flatMap { pr in l.totalCharges.map { pr - $0 } } },
                    chargesPrecedentes: last?.totalCharges))
        }
        var pending: (id: Int64, figures: DeclarationFigures)?
        // SQLite reads on this thread while the equipments are built on the other.
        try Store.scanDeclarationsOverlapped(db, exercices: (exercice - 1)...exercice, only: .reel) { d in
            if d.exercice != exercice {
                previousYear[d.equipementId] = d.figures
                return
            }
            if let p = pending, p.id != d.equipementId { add(p.id, p.figures, try takeProfiles()) }
            pending = (d.equipementId, d.figures)
        }
        if let p = pending { add(p.id, p.figures, try takeProfiles()) }
        _ = try takeProfiles()
        out.sort { $0.nDossier < $1.nDossier }  // in place: a second array of every equipment is the load's peak
        return out
    }
}

/// Why a cell's figures are blank.
public enum SecretRule: String, Sendable {
    /// Fewer than 5 equipments or fewer than 3 distinct managers.
    case frequence = "FREQUENCE"
    /// The two largest managers hold more than 85 % of the cell's costs.
    case dominance = "DOMINANCE"
    /// Blanked so that a blanked cell cannot be recovered from the total and the other cells.
    case secondaire = "SECONDAIRE"

    /// The rule's name in French, as the report writes it.
    public var libelle: String {
        switch self {
        case .frequence: "fréquence"
        case .dominance: "dominance"
        case .secondaire: "secret secondaire"
        }
    }
}

/// The figures of one cell for one indicator.
public struct CellFigures: Sendable, Equatable {
    /// Axis values, in the order of the study's axes; `nil` for the national total.
    public var key: [String]?
    public var indicator: CostIndicator
    public var n: Int
    public var mean: Double
    public var p10, p25, median, p75, p90: Double
    /// The same cell's median in N-1, when both years are published.
    public var previousMedian: Double?
    public var secret: SecretRule?
    public var diffusable: Bool { secret == nil }
}

/// A cost study: cells over the axes plus the national total, with statistical confidentiality.
public struct CostStudy: Sendable {
    public static let minimumEquipments = 5
    public static let minimumManagers = 3
    public static let dominanceShare = 0.85

    public var exercice: Int
    public var axes: [Axis]
    public var cells: [CellFigures]
    public var equipments: Int

    /// Computes every cell of every indicator over `equipments`.
    public init(exercice: Int, axes: [Axis], equipments: [StudyEquipment]) {
        self.exercice = exercice
        self.axes = axes
        self.equipments = equipments.count
        // Work on plain arrays of indices and numbers: filtering the equipments cell by cell,
        // indicator by indicator, is mostly reference counting.
        var cellOf: [[String]: [Int]] = [:]
        for i in equipments.indices { cellOf[axes.map { equipments[i].cell[$0]! }, default: []].append(i) }
        let charges = equipments.map(\.charges)
        let manager = Self.managerNumbers(equipments)
        let managers = (manager.max() ?? -1) + 1
        let keys = cellOf.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let members = keys.map { cellOf[$0]! }
        let cellIndex = {
            var out = [Int](repeating: 0, count: equipments.count)
            for (c, list) in members.enumerated() { for i in list { out[i] = c } }
            return out
        }()
        let everyone = Array(equipments.indices)
        // The indicators are independent: computed on every core, gathered in their order.
        let indicators = CostIndicator.allCases
        let blocks = LockedBox([[CellFigures]](repeating: [], count: indicators.count))
        DispatchQueue.concurrentPerform(iterations: indicators.count) { k in
            let indicator = indicators[k]
            var now = [Double?](repeating: nil, count: equipments.count)
            var before = now
            for i in equipments.indices {
                now[i] = equipments[i].values[indicator]
                before[i] = equipments[i].previous[indicator]
            }
            // The country sorted once (N, and N-1 of those with N): one pass in that order hands
            // every cell its values already sorted, instead of a sort per cell and one more for
            // the total.
            let ascending = Self.ascending(now) { _ in true }
            let ascendingBefore = Self.ascending(before) { now[$0] != nil }
            var sorted = [[Double]](repeating: [], count: keys.count)
            var sortedBefore = sorted
            for (v, i) in ascending { sorted[cellIndex[i]].append(v) }
            for (v, i) in ascendingBefore { sortedBefore[cellIndex[i]].append(v) }
            var tally = ManagerTally(managers: managers)
            func figures(_ key: [String]?, _ members: [Int], _ sorted: [Double], _ sortedBefore: [Double]) -> CellFigures? {
                Self.figures(
                    key: key, indicator: indicator, sorted: sorted, sortedPrevious: sortedBefore, members: members, values: now,
                    previous: before, manager: manager, charges: charges, tally: &tally)
            }
            var block = keys.indices.compactMap { figures(keys[$0], members[$0], sorted[$0], sortedBefore[$0]) }
            Self.suppressSecondary(&block)
            if let total = figures(nil, everyone, ascending.map(\.value), ascendingBefore.map(\.value)) { block.append(total) }
            blocks.lock.withLock { blocks.value[k] = block }
        }
        self.cells = blocks.value.flatMap { $0 }
    }

    /// The values present (and of equipments `including` keeps), in ascending order, with their equipment's index.
    static func ascending(_ values: [Double?], including: (Int) -> Bool) -> [(value: Double, index: Int)] {
        var out: [(value: Double, index: Int)] = []
        out.reserveCapacity(values.count)
        for (i, v) in values.enumerated() { if let v, including(i) { out.append((v, i)) } }
        out.sort { $0.value < $1.value }
        return out
    }

    /// The figures of one cell (`members`: indices, ascending; `sorted`: their values present,
    /// ascending; `sortedPrevious`: the N-1 values of those, ascending), with the primary
    /// confidentiality rules; `nil` when no member has the indicator.
    static func figures(
        key: [String]?, indicator: CostIndicator, sorted: [Double], sortedPrevious: [Double], members: [Int], values: [Double?],
        previous: [Double?], manager: [Int], charges: [Double], tally: inout ManagerTally
    ) -> CellFigures? {
        guard !sorted.isEmpty else { return nil }
        func q(_ p: Double) -> Double { Quantile.type7(sorted: sorted, p)! }
        var cell = CellFigures(
            key: key, indicator: indicator, n: sorted.count, mean: sorted.reduce(0, +) / Double(sorted.count), p10: q(0.1),
            p25: q(0.25), median: q(0.5), p75: q(0.75), p90: q(0.9), previousMedian: nil, secret: nil)
        cell.secret = tally.secret(members.lazy.filter { values[$0] != nil }, manager: manager, charges: charges)
        if sortedPrevious.count >= minimumEquipments, let m = Quantile.type7(sorted: sortedPrevious, 0.5),
            tally.secret(members.lazy.filter { values[$0] != nil && previous[$0] != nil }, manager: manager, charges: charges) == nil
        {
            cell.previousMedian = m
        }
        return cell
    }

    /// The frequency rule, then the dominance rule.
    public static func primarySecret(_ members: [StudyEquipment]) -> SecretRule? {
        primarySecret(managers: managerNumbers(members), charges: members.map(\.charges))
    }

    /// Each equipment's manager as a small number (0, 1, …, in order of first appearance).
    static func managerNumbers(_ equipments: [StudyEquipment]) -> [Int] {
        var ids: [String: Int] = [:]
        var out = [Int](repeating: 0, count: equipments.count)
        for i in equipments.indices {
            let siren = equipments[i].siren
            if ids[siren] == nil { ids[siren] = ids.count }
            out[i] = ids[siren]!
        }
        return out
    }

    /// As ``primarySecret(_:)``, from each member's manager number (0, 1, …) and costs (euros).
    public static func primarySecret(managers: [Int], charges: [Double]) -> SecretRule? {
        var tally = ManagerTally(managers: (managers.max() ?? -1) + 1)
        return tally.secret(managers.indices, manager: managers, charges: charges)
    }

    /// A cell's costs summed by manager, in an array indexed by manager number that serves
    /// cell after cell (no hashing: the rules run for every cell of every indicator).
    struct ManagerTally {
        private var sums: [Double]
        /// The cell a manager's sum belongs to (a sum from an earlier cell counts as 0).
        private var stamp: [Int]
        private var cell = 0
        /// The managers of the current cell, in order of first appearance.
        private var seen: [Int] = []

        init(managers: Int) {
            sums = Array(repeating: 0, count: managers)
            stamp = Array(repeating: 0, count: managers)
        }

        /// The frequency rule (fewer than 5 equipments or 3 managers), then the dominance
        /// rule, over `members` (indices into `manager` and `charges`).
        mutating func secret<Members: Sequence<Int>>(_ members: Members, manager: [Int], charges: [Double]) -> SecretRule? {
            cell += 1
            seen.removeAll(keepingCapacity: true)
            var count = 0
            for i in members {
                count += 1
                let m = manager[i]
                if stamp[m] != cell {
                    stamp[m] = cell
                    sums[m] = 0
                    seen.append(m)
                }
                sums[m] += charges[i]
            }
            if count < minimumEquipments || seen.count < minimumManagers { return .frequence }
            // The two largest managers' costs, in one pass rather than by sorting every manager.
            var (first, second, total) = (0.0, 0.0, 0.0)
            for m in seen {
                let cost = sums[m]
                total += cost
                if cost > first {
                    (first, second) = (cost, first)
                } else if cost > second {
                    second = cost
                }
            }
            if total > 0 && (first + second) / total > dominanceShare { return .dominance }
            return nil
        }
    }

    /// With the national total published, one blanked cell would be given away by the total
    /// minus the others (its N and its sum, hence its mean): a second cell, the smallest, is
    /// blanked with it.
    static func suppressSecondary(_ block: inout [CellFigures]) {
        let blanked = block.indices.filter { block[$0].secret != nil }
        guard blanked.count == 1 else { return }
        let candidates = block.indices.filter { block[$0].secret == nil }
        guard let smallest = candidates.min(by: { (block[$0].n, $0) < (block[$1].n, $1) }) else { return }
        block[smallest].secret = .secondaire
    }
}

public enum ReperesError: Error, CustomStringConvertible {
    case unknownAxis(String)
    case noReel(exercice: Int)

    public var description: String {
        switch self {
        case .unknownAxis(let a): "axe inconnu « \(a) » (attendus : nature, taille, statut, pole, caf)"
        case .noReel(let e): "aucune déclaration réelle pour l'exercice \(e) dans le store"
        }
    }
}
