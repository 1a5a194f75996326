import CiblageModel
import CiblageStore
import Foundation
import GRDB

/// What the score needs to know of an equipment besides its figures.
public struct EquipmentProfile: Sendable {
    public var id: Int64
    public var nDossier: String
    public var nature: String
    public var sirenGestionnaire: String
    /// The SIREN as an integer, a cheap key to group equipments by manager.
    public var managerKey: Int { Int(sirenGestionnaire) ?? sirenGestionnaire.hashValue }
    public var statut: String
    public var caf: String
    public var qpv: Bool
    public var zrr: Bool
    public var placesAgreees: Int?
    /// `yyyymmdd`.
    public var ouverture: Int
    public var fermeture: Int?

    /// Open on one day of `exercice` at least.
    public func isActive(during exercice: Int) -> Bool {
        ouverture <= exercice * 10000 + 1231 && (fermeture.map { $0 >= exercice * 10000 + 101 } ?? true)
    }
}

/// The profiles of the registry with a lookup by equipment id that keeps positions, not
/// copies: a dictionary of the profiles themselves was some 75 MB at four times the country.
public struct EquipmentProfiles: Sendable {
    /// Every profile, in the order given.
    public let all: [EquipmentProfile]
    /// Each profile's ``EquipmentProfile/managerKey``, in the order of ``all``: the SIREN is
    /// parsed once per equipment rather than once per equipment-year and per use.
    public let managerKeys: [Int]
    /// Position of each id in `all` (-1: none), when ids are the registry's dense row ids.
    private let slot: [Int32]
    /// Positions by id otherwise (ids far sparser than the profiles, or negative).
    private let positions: [Int64: Int]

    public init(_ all: [EquipmentProfile]) {
        self.all = all
        managerKeys = all.map(\.managerKey)
        let ids = all.map(\.id)
        let (low, high) = (ids.min() ?? 0, ids.max() ?? 0)
        if low >= 0, high <= Int64(4 * all.count + 1024), all.count < Int(Int32.max) {
            var slot = [Int32](repeating: -1, count: Int(high) + 1)
            for (k, id) in ids.enumerated() { slot[Int(id)] = Int32(k) }
            self.slot = slot
            positions = [:]
        } else {
            slot = []
            positions = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { _, last in last })
        }
    }

    /// The profile of equipment `id`, `nil` when the registry has none.
    public subscript(id: Int64) -> EquipmentProfile? {
        position(of: id).map { all[$0] }
    }

    /// The position in ``all`` of equipment `id`, `nil` when the registry has none: its fields
    /// can then be read in place, without a copy of the profile and of its strings.
    public func position(of id: Int64) -> Int? {
        if slot.isEmpty { return positions[id] }
        guard id >= 0, id < Int64(slot.count), slot[Int(id)] >= 0 else { return nil }
        return Int(slot[Int(id)])
    }
}

/// A stored control outcome, as the history indicators and the training of the score see it.
public struct StoredControl: Sendable {
    public var equipementId: Int64
    public var date: CalendarDate
    /// Exercices the control covered, ascending.
    public var exercices: [Int]
    public var origine: OrigineControle
    public var type: TypeControle
    public var anomalie: Bool
    /// Euros.
    public var indu: Double

    public var asPast: PastControl { PastControl(date: date, anomalie: anomalie, indu: indu) }

    /// The exercices of a stored `exercices` column (`2022|2023`): its numbers, in order, empty
    /// parts left out, as `split(separator: "|").compactMap { Int($0) }` gives them. Digits and
    /// bars, what the ingest stores, are read in one pass; any other text goes the general way.
    static func exercices(_ text: String) -> [Int] {
        var years: [Int] = []
        var value = 0
        var digits = 0
        for b in text.utf8 {
            if b >= 0x30 && b <= 0x39 && digits < 18 {
                value = value * 10 + Int(b - 0x30)
                digits += 1
            } else if b == UInt8(ascii: "|") {
                if digits > 0 { years.append(value) }
                value = 0
                digits = 0
            } else {
                return text.split(separator: "|").compactMap { Int($0) }
            }
        }
        if digits > 0 { years.append(value) }
        return years
    }
}

/// Reads the inputs of the indicators from the store, and stores the indicators.
public enum IndicatorStore {
    /// The date before which controls count as history when scoring `exercice`: 1 January of
    /// N+1, the end of the exercice. The score is trained on controls of later years against
    /// the history known at the end of the exercice they covered, so scoring uses the same
    /// cut, and a control never explains itself.
    /// Euros a control of one exercice can recover: the Caf funding (prestation de service and
    /// bonus) where the equipment receives it; where it receives none — micro-crèches PAJE,
    /// whose families receive the CMG instead — the families' payments that the CMG finances,
    /// or else the total charges (the activity a control examines).
    public static func stake(_ f: DeclarationFigures) -> Double {
        let funding = (f.prestationCaf ?? 0) + (f.bonusCaf ?? 0)
        if funding > 0 { return funding }
        if let families = f.participationsFamilles, families > 0 { return families }
        return max(0, f.totalCharges ?? 0)
    }

    public static func defaultAsOf(_ exercice: Int) -> CalendarDate {
        CalendarDate(year: exercice + 1, month: 1, day: 1)!
    }

    /// Every equipment of the registry, by id (read column by column: 60 000 rows nationally,
    /// read by every stage run).
    public static func profiles(_ db: Database) throws -> [EquipmentProfile] {
        try profiles(db, ids: Int64.min...Int64.max)
    }

    /// The profiles of the equipments whose ids are in `ids`, ordered by id.
    static func profiles(_ db: Database, ids: ClosedRange<Int64>) throws -> [EquipmentProfile] {
        let s = try RawStatement(
            db,
            sql: """
                SELECT id, n_dossier, nature, siren_gestionnaire, statut_gestionnaire, caf, qpv, zrr,
                    places_agreees, date_ouverture, date_fermeture
                FROM equipement WHERE id BETWEEN ? AND ? ORDER BY id
                """)
        defer { s.reset() }
        s.bind(1, ids.lowerBound)
        s.bind(2, ids.upperBound)
        var profiles: [EquipmentProfile] = []
        while try s.step() {
            profiles.append(
                EquipmentProfile(
                    id: Int64(s.int(0) ?? 0), nDossier: s.text(1) ?? "", nature: s.text(2) ?? "", sirenGestionnaire: s.text(3) ?? "",
                    statut: s.text(4) ?? "", caf: s.text(5) ?? "", qpv: (s.int(6) ?? 0) != 0, zrr: (s.int(7) ?? 0) != 0,
                    placesAgreees: s.int(8), ouverture: s.int(9) ?? 0, fermeture: s.int(10)))
        }
        return profiles
    }

    /// Every stored control, oldest first: by date, then by row id (read column by column, as
    /// ``profiles(_:)``, on the single core the score starts on). Sorted here rather than by
    /// SQLite, whose sorter cost more than the reading itself.
    public static func controls(_ db: Database) throws -> [StoredControl] {
        let s = try RawStatement(
            db,
            sql: """
                SELECT id, equipement_id, date_controle, exercices, origine, type_controle, resultat, montant_indu
                FROM controle
                """)
        defer { s.reset() }
        var keyed: [(day: Int, row: Int, control: StoredControl)] = []
        while try s.step() {
            guard let row = s.int(0), let id = s.int(1), let day = s.int(2), let date = CalendarDate(yyyymmdd: day),
                let origine = s.text(4).flatMap(OrigineControle.init(rawValue:)),
                let type = s.text(5).flatMap(TypeControle.init(rawValue:))
            else { continue }
            let control = StoredControl(
                equipementId: Int64(id), date: date, exercices: StoredControl.exercices(s.text(3) ?? ""), origine: origine,
                type: type, anomalie: s.textEquals(6, ResultatControle.anomalie.rawValue), indu: s.double(7) ?? 0)
            keyed.append((day, row, control))
        }
        keyed.sort { ($0.day, $0.row) < ($1.day, $1.row) }
        return keyed.map(\.control)
    }

    /// The inputs of every equipment active during `exercice` (open on one day of it at least).
    /// Controls count when dated before `asOf` (by default ``defaultAsOf(_:)``).
    public static func inputs(_ db: Database, exercice: Int, asOf: CalendarDate? = nil) throws -> [IndicatorInputs] {
        var result: [IndicatorInputs] = []
        try forEachEquipmentYear(
            db, exercices: exercice...exercice, profiles: try profiles(db), controls: try controls(db),
            asOf: { _ in asOf ?? defaultAsOf(exercice) }, { result.append($0) }, endOfExercice: { _ in })
        return result
    }

    /// Streams the inputs of the indicators: reads the declarations of `exercices` (and of the
    /// two years before, for N-1 and the funding at stake) in one ordered scan, and calls `body`
    /// once per equipment active during each exercice, by exercice then by id, then
    /// `endOfExercice` after the last of each exercice. Controls count when dated before
    /// `asOf(exercice)`.
    ///
    /// Memory does not grow with the declarations: besides the equipment being read, only the
    /// most advanced declaration of N-1 and the yearly funding of each equipment are kept.
    /// The indicators read the most advanced declaration and the prévisionnel only: an
    /// actualisé is not read when the réel is there (``DeclarationSelection/advancedAndForecast``).
    ///
    /// The rows are read from SQLite on the calling thread (the store's) and assembled on a
    /// second thread (``Store/scanDeclarationsOverlapped(_:exercices:only:selection:_:)``), which runs
    /// `body` and `endOfExercice` (those of the last exercice run on the calling thread once the
    /// read is over): reading and assembling the million rows of a national store overlap.
    /// Neither closure may use `db`.
    ///
    /// With `declarationsOfProfilesOnly`, only the declarations of `profiles` are read, by key
    /// (``Store/scanDeclarations(_:exercices:equipments:selection:_:)``), on the calling thread: for a few
    /// equipments out of the registry.
    public static func forEachEquipmentYear(
        _ db: Database, exercices: ClosedRange<Int>, profiles: [EquipmentProfile], controls: [StoredControl],
        asOf: @escaping (Int) -> CalendarDate, declarationsOfProfilesOnly: Bool = false,
        _ body: @escaping (IndicatorInputs) throws -> Void, endOfExercice: @escaping (Int) throws -> Void
    ) throws {
        try scan(db, exercices, profiles, controls, asOf, declarationsOfProfilesOnly, body, endOfExercice)
    }

    private static func scan(
        _ db: Database, _ exercices: ClosedRange<Int>, _ profiles: [EquipmentProfile], _ controls: [StoredControl],
        _ asOf: @escaping (Int) -> CalendarDate, _ profilesOnly: Bool, _ body: @escaping (IndicatorInputs) throws -> Void,
        _ endOfExercice: @escaping (Int) throws -> Void
    ) throws {
        // One value holds the scan's state, and the closure handed to the read reaches it through
        // a pointer: captured as a variable, each row paid a dynamic exclusivity check (one per
        // variable touched when each was captured on its own: a tenth of the assembling thread).
        // The read hands the rows to one thread at a time, and `finish` runs once it is over.
        let state = UnsafeMutablePointer<EquipmentYearScan>.allocate(capacity: 1)
        state.initialize(to: EquipmentYearScan(exercices, profiles, controls, asOf, body, endOfExercice))
        defer {
            state.deinitialize(count: 1)
            state.deallocate()
        }
        let scanned = state.pointee.first...exercices.upperBound
        if profilesOnly {
            try Store.scanDeclarations(db, exercices: scanned, equipments: profiles.map(\.id), selection: .advancedAndForecast) {
                try state.pointee.add($0)
            }
        } else {
            try Store.scanDeclarationsOverlapped(db, exercices: scanned, selection: .advancedAndForecast) { try state.pointee.add($0) }
        }
        try state.pointee.finish()
    }

    /// The state of ``forEachEquipmentYear(_:exercices:profiles:controls:asOf:declarationsOfProfilesOnly:_:endOfExercice:)``'s
    /// ordered scan, fed one declaration at a time.
    private struct EquipmentYearScan {
        let exercices: ClosedRange<Int>
        let profiles: [EquipmentProfile]
        let asOf: (Int) -> CalendarDate
        let body: (IndicatorInputs) throws -> Void
        let endOfExercice: (Int) throws -> Void
        // Equipment ids are the registry's row ids, dense from 1: a table beats a dictionary on
        // the million rows of the scan.
        let slot: [Int]
        let controlsByEquipment: [[StoredControl]]
        /// The first exercice read (two before the first asked), and how many are read.
        let first: Int
        let span: Int
        // Funding of each year: from its most advanced declaration (réel, else actualisé, else
        // prévisionnel), the latest filed of that nature. Flat, by profile then year.
        var fundingNature: [Int8]
        var fundingAmount: [Double]
        // The most advanced declaration of the year before, and of the year being read.
        var previousBest: [(NatureDeclaration, DatedFigures)?]
        var currentBest: [(NatureDeclaration, DatedFigures)?]
        var year: Int
        var block = DeclarationsByNature()
        var blockIndex = -1
        var cursor = 0  // next profile to emit in `year`, by index (profiles are ordered by id)

        init(
            _ exercices: ClosedRange<Int>, _ profiles: [EquipmentProfile], _ controls: [StoredControl],
            _ asOf: @escaping (Int) -> CalendarDate, _ body: @escaping (IndicatorInputs) throws -> Void,
            _ endOfExercice: @escaping (Int) throws -> Void
        ) {
            self.exercices = exercices
            self.profiles = profiles
            self.asOf = asOf
            self.body = body
            self.endOfExercice = endOfExercice
            var slot = [Int](repeating: -1, count: Int(profiles.map(\.id).max() ?? 0) + 1)
            for (i, p) in profiles.enumerated() where p.id >= 0 { slot[Int(p.id)] = i }
            self.slot = slot
            var controlsByEquipment: [[StoredControl]] = Array(repeating: [], count: profiles.count)
            for c in controls { if let i = Self.position(of: c.equipementId, in: slot) { controlsByEquipment[i].append(c) } }
            self.controlsByEquipment = controlsByEquipment
            first = exercices.lowerBound - 2
            span = exercices.upperBound - first + 1
            fundingNature = [Int8](repeating: 0, count: profiles.count * span)
            fundingAmount = [Double](repeating: 0, count: profiles.count * span)
            previousBest = [(NatureDeclaration, DatedFigures)?](repeating: nil, count: profiles.count)
            currentBest = previousBest
            year = first
        }

        /// The position in `profiles` of equipment `id`, `nil` for one not among them.
        static func position(of id: Int64, in slot: [Int]) -> Int? {
            id >= 0 && id < slot.count && slot[Int(id)] >= 0 ? slot[Int(id)] : nil
        }

        func emit(_ k: Int, _ current: DeclarationsByNature) throws {
            // Fields read in place: a copy of the profile (and of its strings) per equipment-year
            // was 2 % of the first score.
            guard exercices.contains(year), profiles[k].isActive(during: year) else { return }
            var funding = FundingByExercice()
            for y in max(first, year - 2)...year where fundingNature[k * span + y - first] > 0 {
                funding[y] = fundingAmount[k * span + y - first]
            }
            let cutoff = asOf(year)
            try body(
                IndicatorInputs(
                    equipementId: profiles[k].id, exercice: year, placesAgreees: profiles[k].placesAgreees, current: current,
                    previousYear: DeclarationsByNature(previousBest[k]), fundingByExercice: funding,
                    controls: controlsByEquipment[k].lazy.filter { $0.date < cutoff }.map(\.asPast)))
        }

        /// Ends the block of the equipment being read: emits the silent ones before it, then it.
        mutating func closeBlock() throws {
            guard blockIndex >= 0 else { return }
            while cursor < blockIndex {
                try emit(cursor, [:])
                cursor += 1
            }
            if let best = block.mostAdvanced { currentBest[blockIndex] = (best.nature, best.declaration) }
            try emit(blockIndex, block)
            cursor = blockIndex + 1
            blockIndex = -1
            block = DeclarationsByNature()
        }

        mutating func closeYear() throws {
            try closeBlock()
            while cursor < profiles.count {
                try emit(cursor, [:])
                cursor += 1
            }
            if exercices.contains(year) { try endOfExercice(year) }
            swap(&previousBest, &currentBest)
            for k in currentBest.indices { currentBest[k] = nil }
            cursor = 0
            year += 1
        }

        mutating func add(_ d: StoredDeclaration) throws {
            guard let i = Self.position(of: d.equipementId, in: slot) else { return }
            while d.exercice > year { try closeYear() }
            if i != blockIndex { try closeBlock() }
            blockIndex = i
            block[d.nature] = DatedFigures(dateDepot: d.dateDepot, figures: d.figures)
            let f = i * span + d.exercice - first
            if fundingNature[f] > d.nature.rawValue { return }
            fundingNature[f] = Int8(d.nature.rawValue)
            fundingAmount[f] = IndicatorStore.stake(d.figures)
        }

        /// Ends the years not closed by a declaration of a later one.
        mutating func finish() throws {
            while year <= exercices.upperBound { try closeYear() }
        }
    }

    /// Removes the stored indicators of `exercice` (call inside the stage's transaction), before
    /// ``insert(_:exercice:_:computedAt:only:)`` stores them anew, once or more.
    public static func clear(_ db: Database, exercice: Int) throws {
        try db.execute(sql: "DELETE FROM indicateur WHERE exercice = ?", arguments: [exercice])
    }

    /// Stores `indicators` of `exercice` (those of `only`'s equipments when given), replacing the
    /// stored ones of the same equipments.
    public static func insert(
        _ db: Database, exercice: Int, _ indicators: some Sequence<EquipmentIndicators>, computedAt: String,
        only: Set<Int64>? = nil
    ) throws {
        let batch = BatchInsert<EquipmentIndicators>(db, head: "INSERT OR REPLACE INTO indicateur", columns: 28) { s, o, i in
            s.bind(o + 1, i.exercice)
            s.bind(o + 2, i.equipementId)
            s.bind(o + 3, i.source?.rawValue)
            s.bind(o + 4, i.sourceDateDepot?.yyyymmdd)
            s.bind(o + 5, i.places)
            s.bind(o + 6, i.tauxFacturation)
            s.bind(o + 7, i.bandePSU)
            s.bind(o + 8, i.tauxOccupation)
            s.bind(o + 9, i.heuresParPlace)
            s.bind(o + 10, i.variationHeuresParPlace)
            s.bind(o + 11, i.coutHeure)
            s.bind(o + 12, i.coutPlace)
            s.bind(o + 13, i.ecartPrevisionnelHeures)
            s.bind(o + 14, i.ecartPrevisionnelCharges)
            s.bind(o + 15, i.participationHoraire)
            s.bind(o + 16, i.variationParticipationHoraire)
            s.bind(o + 17, i.enfantsParPlace)
            s.bind(o + 18, i.etpParPlace)
            s.bind(o + 19, i.reelManquant)
            s.bind(o + 20, i.joursRetardReel)
            s.bind(o + 21, i.chiffresRonds)
            s.bind(o + 22, i.chiffresExamines)
            s.bind(o + 23, i.dernierControle?.yyyymmdd)
            s.bind(o + 24, i.controlesPasses)
            s.bind(o + 25, i.anomaliesPassees)
            s.bind(o + 26, i.indusPasses)
            s.bind(o + 27, i.enjeuEuros)
            s.bind(o + 28, computedAt)
        }
        for i in indicators where i.exercice == exercice && only?.contains(i.equipementId) ?? true { try batch.append(i) }
        try batch.flush()
    }
}
