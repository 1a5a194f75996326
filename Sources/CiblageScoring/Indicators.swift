import CiblageModel

/// What the indicators of one equipment-exercice are computed from: plain values, so that every
/// indicator can be checked by hand on a fixture.
public struct IndicatorInputs: Sendable {
    public var equipementId: Int64
    public var exercice: Int
    /// Places agréées of the registry, used where the declaration has no places.
    public var placesAgreees: Int?
    /// The current declaration of each nature (latest date de dépôt) of N: the actualisé only
    /// when there is no réel (what ``IndicatorCalculator`` reads of it).
    public var current: DeclarationsByNature
    public var previousYear: DeclarationsByNature
    /// Caf funding (prestation + bonus, euros) declared for each exercice a control would cover.
    public var fundingByExercice: FundingByExercice
    /// Controls of the equipment dated before the scoring date, oldest first.
    public var controls: [PastControl]

    public init(
        equipementId: Int64, exercice: Int, placesAgreees: Int?, current: DeclarationsByNature,
        previousYear: DeclarationsByNature, fundingByExercice: FundingByExercice, controls: [PastControl]
    ) {
        self.equipementId = equipementId
        self.exercice = exercice
        self.placesAgreees = placesAgreees
        self.current = current
        self.previousYear = previousYear
        self.fundingByExercice = fundingByExercice
        self.controls = controls
    }
}

/// The Caf funding (euros) of a few exercices, by exercice, held inline and read as a dictionary
/// would be: the scan makes one per equipment-year, where a dictionary cost an allocation and a
/// SipHash per exercice stored and per exercice read (3 % of a national first score).
public struct FundingByExercice: Sendable, ExpressibleByDictionaryLiteral {
    /// The most exercices held: the three a control covers, and one more.
    public static let capacity = 4
    private var exercices = InlineArray<4, Int>(repeating: 0)
    private var amounts = InlineArray<4, Double>(repeating: 0)
    /// Exercices held.
    public private(set) var count = 0

    public init() {}

    /// Traps beyond ``capacity`` exercices.
    public init(dictionaryLiteral elements: (Int, Double)...) {
        for (exercice, amount) in elements { self[exercice] = amount }
    }

    /// The funding of `exercice`, euros; `nil` when none is held. Setting an exercice not held
    /// adds it (a trap beyond ``capacity``); setting `nil` is not supported.
    public subscript(exercice: Int) -> Double? {
        get {
            for i in 0..<count where exercices[i] == exercice { return amounts[i] }
            return nil
        }
        set {
            guard let newValue else { preconditionFailure("FundingByExercice: an amount cannot be removed") }
            for i in 0..<count where exercices[i] == exercice {
                amounts[i] = newValue
                return
            }
            precondition(count < Self.capacity, "FundingByExercice: more than \(Self.capacity) exercices")
            exercices[count] = exercice
            amounts[count] = newValue
            count += 1
        }
    }
}

/// At most one declaration per nature (prévisionnel, actualisé, réel), held inline and read by
/// nature as a dictionary would be (`[.reel: figures]` builds one): the scan makes one per
/// equipment-year and the indicators look natures up a dozen times, where a dictionary paid an
/// allocation and a SipHash per lookup (a tenth of the scan's thread at four times the country).
public struct DeclarationsByNature: Sendable, ExpressibleByDictionaryLiteral {
    private var previsionnel: DatedFigures?
    private var actualise: DatedFigures?
    private var reel: DatedFigures?

    public init() {}

    public init(dictionaryLiteral elements: (NatureDeclaration, DatedFigures)...) {
        for (nature, figures) in elements { self[nature] = figures }
    }

    /// At most the one declaration given (a literal would build an array first).
    public init(_ only: (NatureDeclaration, DatedFigures)?) {
        if let only { self[only.0] = only.1 }
    }

    public subscript(nature: NatureDeclaration) -> DatedFigures? {
        get {
            switch nature {
            case .previsionnel: previsionnel
            case .actualise: actualise
            case .reel: reel
            }
        }
        set {
            switch nature {
            case .previsionnel: previsionnel = newValue
            case .actualise: actualise = newValue
            case .reel: reel = newValue
            }
        }
    }

    /// No declaration of any nature.
    public var isEmpty: Bool { previsionnel == nil && actualise == nil && reel == nil }

    /// The most advanced declaration held (réel, else actualisé, else prévisionnel) and its nature.
    public var mostAdvanced: (nature: NatureDeclaration, declaration: DatedFigures)? {
        if let reel { return (.reel, reel) }
        if let actualise { return (.actualise, actualise) }
        return previsionnel.map { (.previsionnel, $0) }
    }
}

/// A declaration's figures with its date de dépôt.
public struct DatedFigures: Hashable, Sendable {
    // The figures first: the date's 4 bytes then end the value, and an optional one takes 120
    // bytes rather than 128 (three of them in ``DeclarationsByNature``).
    public var figures: DeclarationFigures
    public var dateDepot: CalendarDate

    public init(dateDepot: CalendarDate, figures: DeclarationFigures) {
        self.dateDepot = dateDepot
        self.figures = figures
    }
}

/// A control already done, as the history indicators see it.
public struct PastControl: Hashable, Sendable {
    public var date: CalendarDate
    public var anomalie: Bool
    /// Euros.
    public var indu: Double

    public init(date: CalendarDate, anomalie: Bool, indu: Double) {
        self.date = date
        self.anomalie = anomalie
        self.indu = indu
    }
}

/// The indicators of one equipment for one exercice. Ratios are plain ratios (1.12 = 112 %),
/// amounts in euros, hours in hours. `nil` means the inputs needed are missing (the ratios are
/// held in 8 bytes each, ``NaNCoded``: a NaN would read as missing).
public struct EquipmentIndicators: Hashable, Sendable {
    public var equipementId: Int64
    public var exercice: Int
    /// The declaration the indicators come from: réel, else actualisé, else prévisionnel.
    public var source: NatureDeclaration?
    /// Date de dépôt of that declaration: with ``source`` it names the inputs in the store.
    public var sourceDateDepot: CalendarDate?
    /// Places used as denominator (declared, else agréées).
    public var places: Int?
    /// Hours billed / hours attended.
    @NaNCoded public var tauxFacturation: Double? = nil
    /// PSU band of the taux de facturation: 1 (≤ 107 %), 2 (≤ 117 %), 3 (> 117 %).
    public var bandePSU: Int?
    /// Hours attended / (places × opening hours).
    @NaNCoded public var tauxOccupation: Double? = nil
    /// Hours attended per place, hours.
    @NaNCoded public var heuresParPlace: Double? = nil
    /// Change of hours per place since N-1 (0.31 = +31 %), only when places did not change.
    @NaNCoded public var variationHeuresParPlace: Double? = nil
    /// Total costs per hour attended, euros.
    @NaNCoded public var coutHeure: Double? = nil
    /// Total costs per place, euros.
    @NaNCoded public var coutPlace: Double? = nil
    /// Réel / prévisionnel − 1 for hours attended and for total costs.
    @NaNCoded public var ecartPrevisionnelHeures: Double? = nil
    @NaNCoded public var ecartPrevisionnelCharges: Double? = nil
    /// Family participations per billed hour, euros.
    @NaNCoded public var participationHoraire: Double? = nil
    /// Change of the family participation per billed hour since N-1.
    @NaNCoded public var variationParticipationHoraire: Double? = nil
    /// Children enrolled per place.
    @NaNCoded public var enfantsParPlace: Double? = nil
    /// Staff FTE per place.
    @NaNCoded public var etpParPlace: Double? = nil
    /// No réel declaration for the exercice.
    public var reelManquant: Bool
    /// Days the réel was filed after 31 March of N+1 (0 when on time, `nil` without réel).
    public var joursRetardReel: Int?
    /// Declared figures that are round thousands (hours and amounts), and how many were looked at.
    public var chiffresRonds: Int
    public var chiffresExamines: Int
    /// Control history before the scoring date.
    public var dernierControle: CalendarDate?
    public var controlesPasses: Int
    public var anomaliesPassees: Int
    /// Indus found by past controls, euros.
    public var indusPasses: Double
    /// Caf funding (prestation + bonus) over the exercices a control would cover (N-2 to N), euros.
    public var enjeuEuros: Double
}

/// Computes ``EquipmentIndicators`` from ``IndicatorInputs``.
public enum IndicatorCalculator {
    /// The PSU band limits of the taux de facturation (DOMAIN.md, reference.md).
    public static let band1Limit = 1.07
    public static let band2Limit = 1.17

    public static func compute(_ input: IndicatorInputs) -> EquipmentIndicators {
        let advanced = input.current.mostAdvanced
        let source = advanced?.nature
        let f = advanced?.declaration.figures ?? DeclarationFigures()
        let places = f.places ?? input.placesAgreees
        let placesD = places.flatMap { $0 > 0 ? Double($0) : nil }

        var out = EquipmentIndicators(
            equipementId: input.equipementId, exercice: input.exercice, source: source, places: places,
            reelManquant: input.current[.reel] == nil, chiffresRonds: 0, chiffresExamines: 0, controlesPasses: 0,
            anomaliesPassees: 0, indusPasses: 0, enjeuEuros: 0)

        out.sourceDateDepot = advanced?.declaration.dateDepot
        out.tauxFacturation = ratio(f.heuresFacturees, f.heuresRealisees)
        out.bandePSU = out.tauxFacturation.map { $0 <= band1Limit ? 1 : ($0 <= band2Limit ? 2 : 3) }
        if let placesD, let ouverture = f.heuresOuverture, ouverture > 0, let realisees = f.heuresRealisees {
            out.tauxOccupation = realisees / (placesD * ouverture)
        }
        out.heuresParPlace = placesD.flatMap { p in f.heuresRealisees.map { $0 / p } }
        out.coutHeure = ratio(f.totalCharges, f.heuresRealisees)
        out.coutPlace = placesD.flatMap { p in f.totalCharges.map { $0 / p } }
        out.participationHoraire = ratio(f.participationsFamilles, f.heuresFacturees)
        out.enfantsParPlace = placesD.flatMap { p in f.nbEnfants.map { Double($0) / p } }
        out.etpParPlace = placesD.flatMap { p in f.etp.map { $0 / p } }

        // Forecast against actual: only when the réel is there.
        if let reel = input.current[.reel]?.figures, let prev = input.current[.previsionnel]?.figures {
            out.ecartPrevisionnelHeures = change(reel.heuresRealisees, from: prev.heuresRealisees)
            out.ecartPrevisionnelCharges = change(reel.totalCharges, from: prev.totalCharges)
        }

        // Year on year, on the same kind of declaration.
        if let last = input.previousYear.mostAdvanced?.declaration.figures {
            let lastPlaces = last.places ?? input.placesAgreees
            if let places, let lastPlaces, places == lastPlaces, places > 0 {
                out.variationHeuresParPlace = change(f.heuresRealisees, from: last.heuresRealisees)
            }
            out.variationParticipationHoraire = change(
                out.participationHoraire, from: ratio(last.participationsFamilles, last.heuresFacturees))
        }

        if let reel = input.current[.reel] {
            let deadline = CalendarDate(year: input.exercice + 1, month: 3, day: 31)!
            out.joursRetardReel = max(0, reel.dateDepot.dayNumber - deadline.dayNumber)
        }

        // One amount at a time: an array literal was a heap block per equipment-year.
        func examine(_ amount: Double?) {
            guard let amount, amount >= 1000 else { return }
            out.chiffresExamines += 1
            if isMultipleOfThousand(amount) { out.chiffresRonds += 1 }
        }
        examine(f.heuresRealisees)
        examine(f.heuresFacturees)
        examine(f.totalCharges)
        examine(f.chargesPersonnel)
        examine(f.participationsFamilles)
        examine(f.prestationCaf)
        examine(f.subventionsCollectivites)

        out.controlesPasses = input.controls.count
        out.dernierControle = input.controls.map(\.date).max()
        out.anomaliesPassees = input.controls.filter(\.anomalie).count
        out.indusPasses = input.controls.reduce(0) { $0 + $1.indu }
        out.enjeuEuros = ((input.exercice - 2)...input.exercice).reduce(0) { $0 + (input.fundingByExercice[$1] ?? 0) }
        return out
    }

    /// Whether `x` is a whole number of thousands: what `x.truncatingRemainder(dividingBy: 1000) == 0`
    /// says, without `fmod` (a tenth of the scan's thread at four times the country) when
    /// |x| < 2⁶³.
    static func isMultipleOfThousand(_ x: Double) -> Bool {
        guard abs(x) < 0x1p63 else { return x.truncatingRemainder(dividingBy: 1000) == 0 }
        return x.rounded(.towardZero) == x && Int64(x) % 1000 == 0
    }

    static func ratio(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, b > 0 else { return nil }
        return a / b
    }

    static func change(_ value: Double?, from base: Double?) -> Double? {
        guard let value, let base, base > 0 else { return nil }
        return value / base - 1
    }
}
