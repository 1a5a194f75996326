import CiblageModel
import Foundation

/// The indicators of a cost study. Amounts in euros per year, ratios as plain ratios.
public enum CostIndicator: String, CaseIterable, Sendable, Codable {
    /// Total costs / places (€ per place per year).
    case prixRevientPlace = "PRIX_REVIENT_PLACE"
    /// Total costs / hours attended (€ per hour).
    case prixRevientHeure = "PRIX_REVIENT_HEURE"
    /// Total costs / hours billed (€ per billed hour).
    case prixRevientHeureFacturee = "PRIX_REVIENT_HEURE_FACTUREE"
    /// (Costs − Caf funding − bonus − family participations) / places (€ per place per year).
    case resteAChargePlace = "RESTE_A_CHARGE_PLACE"
    /// (Costs − Caf funding − bonus − family participations) / costs (ratio).
    case partResteACharge = "PART_RESTE_A_CHARGE"
    /// (Caf funding + bonus) / costs (ratio).
    case partFinancementCaf = "PART_FINANCEMENT_CAF"
    /// Family participations / hours billed (€ per billed hour).
    case participationHoraire = "PARTICIPATION_HORAIRE"
    /// Hours attended / (places × opening hours) (ratio).
    case tauxOccupation = "TAUX_OCCUPATION"
    /// Hours billed / hours attended (ratio).
    case tauxFacturation = "TAUX_FACTURATION"

    /// The indicator's rank in ``allCases``.
    var position: Int {
        switch self {
        case .prixRevientPlace: 0
        case .prixRevientHeure: 1
        case .prixRevientHeureFacturee: 2
        case .resteAChargePlace: 3
        case .partResteACharge: 4
        case .partFinancementCaf: 5
        case .participationHoraire: 6
        case .tauxOccupation: 7
        case .tauxFacturation: 8
        }
    }

    /// The name a reader of the report knows, in French (the code stays the CSV's key).
    public var libelle: String {
        switch self {
        case .prixRevientPlace: "Prix de revient par place"
        case .prixRevientHeure: "Prix de revient par heure réalisée"
        case .prixRevientHeureFacturee: "Prix de revient par heure facturée"
        case .resteAChargePlace: "Reste à charge par place"
        case .partResteACharge: "Part de reste à charge"
        case .partFinancementCaf: "Part de financement Caf"
        case .participationHoraire: "Participation familiale par heure facturée"
        case .tauxOccupation: "Taux d'occupation"
        case .tauxFacturation: "Taux de facturation"
        }
    }

    /// The formula, in French, with its unit (README, HTML report).
    public var formule: String {
        switch self {
        case .prixRevientPlace: "total des charges / places (€ par place et par an)"
        case .prixRevientHeure: "total des charges / heures réalisées (€ par heure)"
        case .prixRevientHeureFacturee: "total des charges / heures facturées (€ par heure facturée)"
        case .resteAChargePlace: "(charges − prestation Caf − bonus Caf − participations familiales) / places (€ par place et par an)"
        case .partResteACharge: "(charges − prestation Caf − bonus Caf − participations familiales) / charges (part)"
        case .partFinancementCaf: "(prestation Caf + bonus Caf) / charges (part)"
        case .participationHoraire: "participations familiales / heures facturées (€ par heure facturée)"
        case .tauxOccupation: "heures réalisées / (places × heures d'ouverture) (part)"
        case .tauxFacturation: "heures facturées / heures réalisées (part)"
        }
    }

    /// A ratio (shown as a percentage) rather than an amount.
    public var isRatio: Bool {
        switch self {
        case .partResteACharge, .partFinancementCaf, .tauxOccupation, .tauxFacturation: true
        default: false
        }
    }

    /// The indicator from one réel declaration; `places` falls back on the places agréées.
    public func value(_ f: DeclarationFigures, placesAgreees: Int?) -> Double? {
        let places = (f.places ?? placesAgreees).flatMap { $0 > 0 ? Double($0) : nil }
        func ratio(_ a: Double?, _ b: Double?) -> Double? {
            guard let a, let b, b > 0 else { return nil }
            return a / b
        }
        let reste = f.totalCharges.map { $0 - (f.prestationCaf ?? 0) - (f.bonusCaf ?? 0) - (f.participationsFamilles ?? 0) }
        switch self {
        case .prixRevientPlace: return ratio(f.totalCharges, places)
        case .prixRevientHeure: return ratio(f.totalCharges, f.heuresRealisees)
        case .prixRevientHeureFacturee: return ratio(f.totalCharges, f.heuresFacturees)
        case .resteAChargePlace: return ratio(reste, places)
        case .partResteACharge: return ratio(reste, f.totalCharges)
        case .partFinancementCaf: return ratio(f.totalCharges.map { _ in (f.prestationCaf ?? 0) + (f.bonusCaf ?? 0) }, f.totalCharges)
        case .participationHoraire: return ratio(f.participationsFamilles, f.heuresFacturees)
        case .tauxOccupation:
            guard let places, let h = f.heuresOuverture, h > 0 else { return nil }
            return ratio(f.heuresRealisees, places * h)
        case .tauxFacturation: return ratio(f.heuresFacturees, f.heuresRealisees)
        }
    }
}

/// Quantiles as Hyndman and Fan's type 7 (R's and numpy's default): for p in [0, 1] over the
/// sorted values x₁ ≤ … ≤ xₙ, h = (n − 1) p, Q(p) = x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋₊₁ − x⌊h⌋) (0-based).
public enum Quantile {
    public static func type7(sorted x: [Double], _ p: Double) -> Double? {
        guard !x.isEmpty else { return nil }
        let h = Double(x.count - 1) * p
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, x.count - 1)
        return x[lo] + (h - Double(lo)) * (x[hi] - x[lo])
    }
}
