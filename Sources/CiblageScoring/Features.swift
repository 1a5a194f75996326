import CiblageModel
import Foundation

/// The signals the score combines, one value per equipment and exercice. Each is a plain,
/// explainable transform of an indicator; the model sees them standardised.
public enum Feature: Int, CaseIterable, Sendable {
    /// Taux de facturation above the first PSU band: max(0, taux − 1.07), a ratio.
    case tauxFacturation
    /// Taux d'occupation against the peer group, robust z-score (scaled MADs from the median).
    case occupation
    /// Change of hours per place since N-1 with places stable, ratio clipped to ±1.
    case variationHeuresParPlace
    /// Cost per hour attended against the peer group, robust z-score.
    case coutHeure
    /// Cost per place against the peer group, robust z-score.
    case coutPlace
    /// Réel / prévisionnel − 1 of hours attended, clipped to ±1.
    case ecartHeures
    /// Réel / prévisionnel − 1 of total costs, clipped to ±1.
    case ecartCharges
    /// Family participation per billed hour against the peer group, robust z-score.
    case participation
    /// Change of the family participation per billed hour since N-1, clipped to ±1.
    case variationParticipation
    /// Children enrolled per place against the peer group, robust z-score.
    case enfantsParPlace
    /// Staff FTE per place against the peer group, robust z-score.
    case etpParPlace
    /// Months the réel was filed late (0–12).
    case retardReel
    /// 1 when no réel was filed.
    case reelManquant
    /// Share of the declared figures that are round thousands (0–1).
    case chiffresRonds
    /// MAD of the manager's first-two digits test (× 1000), when it has enough amounts.
    case testChiffres
    /// Past controls that found an anomaly (0–3).
    case anomaliesPassees
    /// Indus of past controls, log(1 + indus / 1000 €).
    case indusPasses
    /// 1 when never controlled.
    case jamaisControle
    /// Years since the last control (8 when never controlled).
    case anneesDepuisControle
    /// Anomaly rate of the controls of the manager's other equipments, shrunk towards the
    /// overall rate (3 controls' worth of prior).
    case tauxGestionnaire
    /// Caf funding at stake, log(1 + euros / 1000).
    case enjeu
    /// 1 for natures with hourly activity (PSU-style declarations).
    case activiteHoraire

    /// The name stored with the model's coefficients.
    public var code: String {
        switch self {
        case .tauxFacturation: "taux_facturation"
        case .occupation: "occupation_pairs"
        case .variationHeuresParPlace: "variation_heures_par_place"
        case .coutHeure: "cout_heure_pairs"
        case .coutPlace: "cout_place_pairs"
        case .ecartHeures: "ecart_previsionnel_heures"
        case .ecartCharges: "ecart_previsionnel_charges"
        case .participation: "participation_horaire_pairs"
        case .variationParticipation: "variation_participation_horaire"
        case .enfantsParPlace: "enfants_par_place_pairs"
        case .etpParPlace: "etp_par_place_pairs"
        case .retardReel: "retard_reel_mois"
        case .reelManquant: "reel_manquant"
        case .chiffresRonds: "part_chiffres_ronds"
        case .testChiffres: "mad_deux_premiers_chiffres"
        case .anomaliesPassees: "anomalies_passees"
        case .indusPasses: "indus_passes_log"
        case .jamaisControle: "jamais_controle"
        case .anneesDepuisControle: "annees_depuis_controle"
        case .tauxGestionnaire: "taux_anomalie_gestionnaire"
        case .enjeu: "enjeu_log"
        case .activiteHoraire: "activite_horaire"
        }
    }
}

/// Peer statistics of one exercice for the indicators compared with peers.
public struct PeerTable: Sendable {
    public let occupation, coutHeure, coutPlace, participation, enfantsParPlace, etpParPlace: PeerGroups
    /// The cell and nature numbers of each equipment, in the order of the years given.
    let grouping: PeerGrouping

    /// `cells`: nature code and size band code of each equipment, in the order of `years`.
    public init(_ years: [EquipmentYear], cells: [(nature: String, band: String?)]) {
        // One pass over the indicators, each field read in place (an element copied out of the
        // array, or through a lazy map, is some 400 bytes: 0.2 s of copies at four times the
        // country), fills the six columns; the cells are numbered once for all six.
        let grouping = PeerGrouping(cells)
        self.grouping = grouping
        var columns = [[Double]](repeating: [], count: 6)
        for k in columns.indices { columns[k].reserveCapacity(cells.count) }
        for k in years.indices.prefix(cells.count) {
            columns[0].append(years[k].indicators.tauxOccupation ?? .nan)
            columns[1].append(years[k].indicators.coutHeure ?? .nan)
            columns[2].append(years[k].indicators.coutPlace ?? .nan)
            columns[3].append(years[k].indicators.participationHoraire ?? .nan)
            columns[4].append(years[k].indicators.enfantsParPlace ?? .nan)
            columns[5].append(years[k].indicators.etpParPlace ?? .nan)
        }
        // The six on two threads: one after the other, they kept the next night's score on a
        // single core for some 40 ms at the national scale.
        let filled = columns
        let groups = parallelIndices(filled.count, chunk: 1) { PeerGroups(filled[$0], grouping: grouping) }
        occupation = groups[0]
        coutHeure = groups[1]
        coutPlace = groups[2]
        participation = groups[3]
        enfantsParPlace = groups[4]
        etpParPlace = groups[5]
    }

    /// What `groups` (one of the six) compare the equipment at position `k` of the years with:
    /// found by its numbers, or by its codes when `nature` is not the one it was grouped under.
    func stats(_ groups: PeerGroups, at k: Int, nature: String, band: String?) -> RobustStats? {
        guard k < grouping.natureOf.count, grouping.natures[Int(grouping.natureOf[k])] == nature else {
            return groups.stats(nature: nature, band: band)?.stats
        }
        return groups.stats(cell: grouping.cellOf[k], nature: grouping.natureOf[k])?.stats
    }
}

/// An equipment's feature values with what its reasons quote.
public struct FeatureRow: Sendable {
    public var profile: EquipmentProfile
    public var indicators: EquipmentIndicators
    /// One value per ``Feature`` (its `rawValue`), `nil` when the inputs are missing.
    public var values: [Double?] {
        get { packed.map { $0.isNaN ? nil : $0 } }
        set { packed = newValue.map { $0 ?? .nan } }
    }
    /// ``values`` as held: NaN where a value is missing, 8 bytes a feature rather than 16 (a row
    /// per active equipment, 240 000 at four times the country). A feature's value is never
    /// NaN: the builder takes non-finite values as missing.
    var packed: [Double]
    /// Peer medians quoted by the reasons, by feature.
    public var peerMedians: PeerMedians
    /// The manager's first-two digits MAD and the number of amounts it was computed on.
    public var digitMAD: Double?
    public var digitCount: Int
    /// Controls and anomalies of the manager's other equipments before the scoring date.
    public var managerControls: Int
    public var managerAnomalies: Int
    /// The latest past control with an anomaly: the year it took place and its indu (euros).
    public var lastAnomaly: (year: Int, indu: Double)?
    /// The first-two digits of the equipment-year's amounts (``EquipmentYear/packedDigits``).
    public var packedDigits: Int64 = 0

    init(
        profile: EquipmentProfile, indicators: EquipmentIndicators, packed: [Double], peerMedians: PeerMedians,
        digitMAD: Double?, digitCount: Int, managerControls: Int, managerAnomalies: Int, lastAnomaly: (year: Int, indu: Double)?,
        packedDigits: Int64
    ) {
        self.profile = profile
        self.indicators = indicators
        self.packed = packed
        self.peerMedians = peerMedians
        self.digitMAD = digitMAD
        self.digitCount = digitCount
        self.managerControls = managerControls
        self.managerAnomalies = managerAnomalies
        self.lastAnomaly = lastAnomaly
        self.packedDigits = packedDigits
    }
}

/// The medians of the peer group of an equipment for the features compared with peers, held
/// inline (no heap storage: one per scored equipment, 240 000 at four times the country), 8
/// bytes each (``NaNCoded``: a median is taken over finite values, never NaN).
public struct PeerMedians: Sendable, Equatable {
    @NaNCoded private var occupation: Double? = nil
    @NaNCoded private var coutHeure: Double? = nil
    @NaNCoded private var coutPlace: Double? = nil
    @NaNCoded private var participation: Double? = nil
    @NaNCoded private var enfantsParPlace: Double? = nil
    @NaNCoded private var etpParPlace: Double? = nil

    public init() {}

    /// The median of `feature`'s peer group, `nil` for a feature not compared with peers or
    /// without a peer group.
    public subscript(feature: Feature) -> Double? {
        get {
            switch feature {
            case .occupation: occupation
            case .coutHeure: coutHeure
            case .coutPlace: coutPlace
            case .participation: participation
            case .enfantsParPlace: enfantsParPlace
            case .etpParPlace: etpParPlace
            default: nil
            }
        }
        set {
            switch feature {
            case .occupation: occupation = newValue
            case .coutHeure: coutHeure = newValue
            case .coutPlace: coutPlace = newValue
            case .participation: participation = newValue
            case .enfantsParPlace: enfantsParPlace = newValue
            case .etpParPlace: etpParPlace = newValue
            default: precondition(newValue == nil, "\(feature.code) n'est pas comparé aux pairs")
            }
        }
    }
}

/// What the features keep of an equipment-year once its figures are read: its indicators and
/// the first-two digits (10–99) of its declared amounts, for its manager's digit test.
public struct EquipmentYear: Sendable {
    public var indicators: EquipmentIndicators
    /// The digits a byte each, held inline (an array would be a heap block per equipment-year).
    private var digitBytes: UInt64 = 0
    private var digitCount: UInt8 = 0

    /// The digits as stored (``IndicatorCache``): a byte each, the first in the low byte. A
    /// digit is 10–99, so the count is that of the non-zero bytes and the value is positive.
    public var packedDigits: Int64 { Int64(bitPattern: digitBytes) }

    /// An equipment-year read back from the store.
    public init(indicators: EquipmentIndicators, packedDigits: Int64) {
        self.indicators = indicators
        digitBytes = UInt64(bitPattern: packedDigits)
        while digitCount < 8, (digitBytes >> (8 * UInt64(digitCount))) & 0xFF != 0 { digitCount += 1 }
    }

    public init(_ input: IndicatorInputs) {
        indicators = IndicatorCalculator.compute(input)
        if let source = indicators.source, let f = input.current[source]?.figures {
            // One amount at a time: an array literal was a heap block per equipment-year.
            var bytes: UInt64 = 0
            var count: UInt8 = 0
            func add(_ amount: Double?) {
                guard let d = amount.flatMap(FirstTwoDigitsTest.firstTwoDigits) else { return }
                bytes |= UInt64(d) << (8 * UInt64(count))
                count += 1
            }
            add(f.heuresRealisees)
            add(f.heuresFacturees)
            add(f.totalCharges)
            add(f.chargesPersonnel)
            add(f.totalProduits)
            add(f.participationsFamilles)
            add(f.prestationCaf)
            add(f.subventionsCollectivites)
            digitBytes = bytes
            digitCount = count
        }
    }
}

/// Builds the ``FeatureRow``s of one exercice.
public struct FeatureBuilder: Sendable {
    public let exercice: Int
    public let referentiel: Referentiel
    private let peers: PeerTable
    /// The equipment-years the builder was given (shared, not copied) and each one's position.
    private let years: [EquipmentYear]
    private let position: [Int64: Int]
    private let digits: [Int: FirstTwoDigitsTest]
    /// Per manager (``EquipmentProfile/managerKey``): controls and anomalies before the scoring date.
    private let managerHistory: [Int: (controls: Int, anomalies: Int)]
    private let overallRate: Double
    private let history: [Int64: [StoredControl]]

    /// `inputs`: every active equipment of the exercice (peers and managers are computed over
    /// all of them); `controls`: the controls known at the scoring date.
    public init(
        exercice: Int, inputs: [IndicatorInputs], profiles: [Int64: EquipmentProfile], controls: [StoredControl],
        referentiel: Referentiel
    ) {
        self.init(
            exercice: exercice, years: inputs.map(EquipmentYear.init), profiles: EquipmentProfiles(Array(profiles.values)),
            controls: controls, referentiel: referentiel)
    }

    /// As ``init(exercice:inputs:profiles:controls:referentiel:)``, from the indicators already
    /// computed (the scan computes them as it goes, so the figures need not be held).
    public init(
        exercice: Int, years: [EquipmentYear], profiles: EquipmentProfiles, controls: [StoredControl],
        referentiel: Referentiel
    ) {
        self.exercice = exercice
        self.referentiel = referentiel
        var position: [Int64: Int] = [:]
        position.reserveCapacity(years.count)
        var cells: [(nature: String, band: String?)] = []
        cells.reserveCapacity(years.count)
        var digits: [Int: FirstTwoDigitsTest] = [:]
        // By index: `for year in years` would copy each equipment-year out of the array.
        // Profiles read in place, by position: a copy of each (five strings) per equipment-year
        // was 1 % of a first score.
        for k in years.indices {
            let id = years[k].indicators.equipementId
            position[id] = k
            let p = profiles.position(of: id)
            cells.append((p.map { profiles.all[$0].nature } ?? "", years[k].indicators.places.flatMap { referentiel.sizeBand(places: $0)?.code }))
            // Added in place, from the packed digits: no array per equipment-year.
            let packed = years[k].packedDigits
            if let p, packed != 0 { digits[profiles.managerKeys[p], default: FirstTwoDigitsTest()].add(packed: packed) }
        }
        self.years = years
        self.position = position
        // Read in place: a copy of every equipment's indicators was some 95 MB at four times the
        // country, while the scan fills the next exercice.
        peers = PeerTable(years, cells: cells)
        self.digits = digits

        var managerHistory: [Int: (controls: Int, anomalies: Int)] = [:]
        var history: [Int64: [StoredControl]] = [:]
        for c in controls {
            history[c.equipementId, default: []].append(c)
            guard let p = profiles.position(of: c.equipementId) else { continue }
            let key = profiles.managerKeys[p]
            managerHistory[key, default: (0, 0)].controls += 1
            if c.anomalie { managerHistory[key, default: (0, 0)].anomalies += 1 }
        }
        self.managerHistory = managerHistory
        self.history = history
        overallRate = controls.isEmpty ? 0.3 : Double(controls.filter(\.anomalie).count) / Double(controls.count)
    }

    /// Prior weight, in controls, of the overall rate in the manager's shrunk anomaly rate.
    public static let managerPriorControls = 3.0

    /// The features of one equipment, `nil` when it was not active during the exercice.
    public func row(_ profile: EquipmentProfile) -> FeatureRow? {
        guard let at = position[profile.id] else { return nil }
        return row(profile, at: at, managerKey: profile.managerKey)
    }

    /// The features of `profile`, whose equipment-year is at position `at` of the years given
    /// and whose manager is `managerKey` (``EquipmentProfile/managerKey``): what
    /// ``rowsOfEveryYear(profiles:)`` knows already, without a lookup nor a SIREN read per row.
    func row(_ profile: EquipmentProfile, at: Int, managerKey: Int) -> FeatureRow {
        let i = years[at].indicators
        let hourly = referentiel.natures[profile.nature]?.activiteHoraire ?? false
        let band = i.places.flatMap { referentiel.sizeBand(places: $0)?.code }
        var values = [Double](repeating: .nan, count: Feature.allCases.count)
        var medians = PeerMedians()
        func set(_ f: Feature, _ v: Double?) { values[f.rawValue] = v.flatMap { $0.isFinite ? $0 : nil } ?? .nan }
        func peer(_ f: Feature, _ groups: PeerGroups, _ value: Double?) {
            guard let value, let stats = peers.stats(groups, at: at, nature: profile.nature, band: band) else { return }
            medians[f] = stats.median
            set(f, stats.robustZ(value).map { clip($0, 5) } ?? 0)
        }
        if hourly {
            set(.tauxFacturation, i.tauxFacturation.map { max(0, $0 - IndicatorCalculator.band1Limit) })
            peer(.occupation, peers.occupation, i.tauxOccupation)
            set(.variationHeuresParPlace, i.variationHeuresParPlace.map { clip($0, 1) })
            peer(.coutHeure, peers.coutHeure, i.coutHeure)
            set(.ecartHeures, i.ecartPrevisionnelHeures.map { clip($0, 1) })
            peer(.participation, peers.participation, i.participationHoraire)
            set(.variationParticipation, i.variationParticipationHoraire.map { clip($0, 1) })
            peer(.enfantsParPlace, peers.enfantsParPlace, i.enfantsParPlace)
        }
        peer(.coutPlace, peers.coutPlace, i.coutPlace)
        peer(.etpParPlace, peers.etpParPlace, i.etpParPlace)
        set(.ecartCharges, i.ecartPrevisionnelCharges.map { clip($0, 1) })
        set(.retardReel, i.joursRetardReel.map { min(12, Double($0) / 30) } ?? (i.reelManquant ? 12 : nil))
        set(.reelManquant, i.reelManquant ? 1 : 0)
        set(.chiffresRonds, i.chiffresExamines > 0 ? Double(i.chiffresRonds) / Double(i.chiffresExamines) : 0)
        let test = digits[managerKey]
        let mad = test?.mad
        set(.testChiffres, mad.map { $0 * 1000 })
        set(.anomaliesPassees, Double(min(3, i.anomaliesPassees)))
        set(.indusPasses, log1p(i.indusPasses / 1000))
        set(.jamaisControle, i.controlesPasses == 0 ? 1 : 0)
        let lastYear = i.dernierControle.map { Double(exercice + 1 - $0.year) } ?? 8
        set(.anneesDepuisControle, min(8, max(0, lastYear)))
        let manager = managerHistory[managerKey] ?? (0, 0)
        let otherControls = manager.controls - i.controlesPasses
        let otherAnomalies = manager.anomalies - i.anomaliesPassees
        let k = Self.managerPriorControls
        set(.tauxGestionnaire, (Double(otherAnomalies) + k * overallRate) / (Double(otherControls) + k))
        set(.enjeu, log1p(i.enjeuEuros / 1000))
        set(.activiteHoraire, hourly ? 1 : 0)

        let last = history[profile.id]?.last(where: \.anomalie)
        return FeatureRow(
            profile: profile, indicators: i, packed: values, peerMedians: medians, digitMAD: mad,
            digitCount: test?.total ?? 0, managerControls: otherControls, managerAnomalies: otherAnomalies,
            lastAnomaly: last.map { (year: $0.date.year, indu: $0.indu) }, packedDigits: years[at].packedDigits)
    }

    /// The rows of every equipment-year the builder was given, in that order, built on two
    /// threads straight from `profiles` (no list of the active profiles is made: this runs at
    /// the score stage's peak of memory). Every year's equipment must be in `profiles`.
    public func rowsOfEveryYear(profiles: EquipmentProfiles) -> [FeatureRow] {
        parallelIndices(years.count) { k in
            let id = years[k].indicators.equipementId
            guard let p = profiles.position(of: id) else {
                preconditionFailure("équipement \(id) absent des profils donnés au constructeur de caractéristiques")
            }
            return row(profiles.all[p], at: k, managerKey: profiles.managerKeys[p])
        }
    }

    func clip(_ v: Double, _ limit: Double) -> Double { min(limit, max(-limit, v)) }
}

