import CiblageModel
import CiblageReports
import Foundation

/// The reasons (MOTIFS) of a score: its largest positive contributions, in French, each with
/// the figure behind it.
public enum Reasons {
    /// At most this many reasons per line.
    public static let maximumCount = 4
    /// Contributions below this (log-odds) are too small to be a reason.
    public static let minimumContribution = 0.05

    /// The reasons of one row, most important first, without repeating a sentence.
    public static func motifs(_ row: FeatureRow, contributions: [Double], exercice: Int) -> [String] {
        let order = contributions.indices.filter { contributions[$0] >= minimumContribution }
            .sorted { (contributions[$0], -$0) > (contributions[$1], -$1) }
        var result: [String] = []
        for j in order {
            guard let feature = Feature(rawValue: j), let text = sentence(feature, row, exercice: exercice),
                !result.contains(text)
            else { continue }
            result.append(text)
            if result.count == maximumCount { break }
        }
        return result
    }

    /// The sentence of one feature, `nil` when its figure is missing.
    public static func sentence(_ feature: Feature, _ row: FeatureRow, exercice: Int) -> String? {
        let i = row.indicators
        let peer = row.peerMedians[feature]
        func vsPeers(_ text: String, _ median: String?) -> String { median.map { "\(text) (pairs \($0))" } ?? text }
        switch feature {
        case .tauxFacturation:
            guard let t = i.tauxFacturation else { return nil }
            let limit = t > IndicatorCalculator.band2Limit ? IndicatorCalculator.band2Limit : IndicatorCalculator.band1Limit
            return "Taux de facturation \(FrenchFormat.percent(t)) (\(t > limit ? ">" : "≤") \(FrenchFormat.percent(limit)))"
        case .occupation:
            guard let o = i.tauxOccupation else { return nil }
            return vsPeers("Taux d'occupation \(FrenchFormat.percent(o))", peer.map { FrenchFormat.percent($0) })
        case .variationHeuresParPlace:
            guard let v = i.variationHeuresParPlace else { return nil }
            return "Heures par place \(FrenchFormat.percent(v, signed: true)) depuis \(exercice - 1)"
        case .coutHeure:
            guard let c = i.coutHeure else { return nil }
            return vsPeers(
                "Coût par heure \(FrenchFormat.readable(c, fractionDigits: 2)) €", peer.map { FrenchFormat.readable($0, fractionDigits: 2) + " €" })
        case .coutPlace:
            guard let c = i.coutPlace else { return nil }
            return vsPeers("Coût par place \(FrenchFormat.euros(c))", peer.map(FrenchFormat.euros))
        case .ecartHeures:
            guard let e = i.ecartPrevisionnelHeures else { return nil }
            return "Heures réalisées \(FrenchFormat.percent(e, signed: true)) par rapport au prévisionnel"
        case .ecartCharges:
            guard let e = i.ecartPrevisionnelCharges else { return nil }
            return "Charges \(FrenchFormat.percent(e, signed: true)) par rapport au prévisionnel"
        case .participation:
            guard let p = i.participationHoraire else { return nil }
            return vsPeers(
                "Participation familiale \(FrenchFormat.readable(p, fractionDigits: 2)) € par heure facturée",
                peer.map { FrenchFormat.readable($0, fractionDigits: 2) + " €" })
        case .variationParticipation:
            guard let v = i.variationParticipationHoraire else { return nil }
            return "Participation familiale par heure \(FrenchFormat.percent(v, signed: true)) depuis \(exercice - 1)"
        case .enfantsParPlace:
            guard let e = i.enfantsParPlace else { return nil }
            return vsPeers("\(FrenchFormat.readable(e, fractionDigits: 1)) enfants inscrits par place", peer.map { FrenchFormat.readable($0, fractionDigits: 1) })
        case .etpParPlace:
            guard let e = i.etpParPlace else { return nil }
            return vsPeers("\(FrenchFormat.readable(e, fractionDigits: 2)) ETP par place", peer.map { FrenchFormat.readable($0, fractionDigits: 2) })
        case .retardReel, .reelManquant:
            if i.reelManquant { return "Réel \(exercice) non déposé" }
            guard let days = i.joursRetardReel, days > 0 else { return nil }
            return "Réel déposé avec \(days) jours de retard"
        case .chiffresRonds:
            guard i.chiffresRonds > 0 else { return nil }
            return "\(i.chiffresRonds) montant\(i.chiffresRonds > 1 ? "s" : "") rond\(i.chiffresRonds > 1 ? "s" : "") (milliers exacts) sur \(i.chiffresExamines) déclarés"
        case .testChiffres:
            guard let mad = row.digitMAD else { return nil }
            let conformity = FirstTwoDigitsTest.Conformity(mad: mad)
            return "Test des deux premiers chiffres du gestionnaire : MAD \(FrenchFormat.readable(mad, fractionDigits: 4)) (\(conformity.rawValue), \(row.digitCount) montants)"
        case .anomaliesPassees, .indusPasses:
            guard let last = row.lastAnomaly else { return nil }
            let others = i.anomaliesPassees > 1 ? ", \(i.anomaliesPassees) anomalies en tout" : ""
            return "Anomalie lors du contrôle de \(last.year) (indu \(FrenchFormat.euros(last.indu))\(others))"
        case .jamaisControle, .anneesDepuisControle:
            guard let last = i.dernierControle else { return "Jamais contrôlé" }
            return "Dernier contrôle en \(last.year)"
        case .tauxGestionnaire:
            guard row.managerControls > 0 else { return nil }
            let anomalies = row.managerAnomalies > 1 ? "\(row.managerAnomalies) anomalies" : "\(row.managerAnomalies) anomalie"
            let controls = row.managerControls > 1 ? "\(row.managerControls) contrôles" : "1 contrôle"
            return "Gestionnaire : \(anomalies) sur \(controls) de ses autres équipements"
        case .enjeu:
            return "Financement Caf \(exercice - 2)–\(exercice) : \(FrenchFormat.euros(i.enjeuEuros))"
        case .activiteHoraire:
            // The nature's base rate, not a finding about this equipment.
            return nil
        }
    }
}
