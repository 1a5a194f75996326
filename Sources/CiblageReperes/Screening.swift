import CiblageModel
import CiblageReports
import Foundation

/// Equipments far outside their cell, for the analyst (never published with the study).
public struct Outlier: Sendable, Equatable {
    public var equipment: String
    public var cell: [String]
    public var indicator: CostIndicator
    public var value: Double
    public var median: Double
    /// Robust z-score: (value − median) / (1.4826 × MAD) of the cell.
    public var z: Double
}

/// An equipment at risk of closure, for the IDA referents, with its reasons.
public struct Fragility: Sendable, Equatable {
    public var equipment: StudyEquipmentRef
    public var reasons: [String]
}

/// What a fragility line names of its equipment.
public struct StudyEquipmentRef: Sendable, Equatable {
    public var nDossier, nom, nature, caf, siren, nomGestionnaire: String
}

public enum Screening {
    /// |z| above this is atypical.
    public static let outlierZ = 3.5
    /// Reste à charge share this many scaled MADs above its cell is a fragility signal.
    public static let fragileZ = 2.0
    /// A deficit counts when it exceeds this share of the year's costs.
    public static let deficitShare = 0.05
    /// Occupation falling by more than this (5 points) is a fragility signal.
    public static let occupationDrop = 0.05

    static func medianMAD(_ values: [Double]) -> (median: Double, scaledMAD: Double)? {
        let sorted = values.sorted()
        guard let median = Quantile.type7(sorted: sorted, 0.5) else { return nil }
        let mad = Quantile.type7(sorted: sorted.map { abs($0 - median) }.sorted(), 0.5)!
        return (median, 1.4826 * mad)
    }

    /// Equipments whose indicator stands more than ``outlierZ`` scaled MADs from the median of
    /// their cell (cells of 5 equipments or more).
    public static func outliers(_ equipments: [StudyEquipment], axes: [Axis]) -> [Outlier] {
        var out: [Outlier] = []
        var groups: [[String]: [Int]] = [:]
        for i in equipments.indices { groups[axes.map { equipments[i].cell[$0]! }, default: []].append(i) }
        for key in groups.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let members = groups[key]!
            for indicator in CostIndicator.allCases {
                var present: [(index: Int, value: Double)] = []
                for i in members { if let v = equipments[i].values[indicator] { present.append((i, v)) } }
                guard present.count >= CostStudy.minimumEquipments, let stats = medianMAD(present.map(\.value)), stats.scaledMAD > 0
                else { continue }
                for (i, value) in present {
                    let z = (value - stats.median) / stats.scaledMAD
                    if abs(z) > outlierZ {
                        out.append(Outlier(equipment: equipments[i].nDossier, cell: key, indicator: indicator, value: value, median: stats.median, z: z))
                    }
                }
            }
        }
        return out
    }

    /// Equipments of `caf` (all Cafs when nil) at risk of closure: a deficit over 5 % of costs
    /// two years running, occupation falling by more than 5 points, a reste à charge share far
    /// above its nature × size cell (robust z > 2), a cost per place above its cell's P90.
    /// Listed with two signals or more; most signals first, then the largest deficit.
    public static func fragility(_ equipments: [StudyEquipment], caf: String?) -> [Fragility] {
        let cells = Dictionary(grouping: equipments) { [$0.cell[.nature]!, $0.cell[.taille]!] }
        var stats: [[String]: (reste: (median: Double, scaledMAD: Double)?, p90: Double?)] = [:]
        for (key, members) in cells {
            stats[key] = (
                medianMAD(members.compactMap { $0.values[.partResteACharge] }),
                Quantile.type7(sorted: members.compactMap { $0.values[.prixRevientPlace] }.sorted(), 0.9)
            )
        }
        var out: [(Fragility, Int, Double)] = []
        for e in equipments where caf == nil || e.cell[.caf] == caf {
            var reasons: [String] = []
            if let r = e.resultat, let last = e.resultatPrecedent, let lastCosts = e.chargesPrecedentes,
                r < -deficitShare * e.charges, last < -deficitShare * lastCosts
            {
                reasons.append("Déficit deux années de suite (\(FrenchFormat.euros(r)) puis \(FrenchFormat.euros(last)) l'année d'avant)")
            }
            if let now = e.values[.tauxOccupation], let before = e.previous[.tauxOccupation], now < before - occupationDrop {
                reasons.append("Occupation en baisse : \(FrenchFormat.percent(before)) → \(FrenchFormat.percent(now))")
            }
            let key = [e.cell[.nature]!, e.cell[.taille]!]
            if let share = e.values[.partResteACharge], let s = stats[key]?.reste, s.scaledMAD > 0,
                (share - s.median) / s.scaledMAD > fragileZ, cells[key]!.count >= CostStudy.minimumEquipments
            {
                reasons.append("Part de reste à charge \(FrenchFormat.percent(share)) (médiane de la case \(FrenchFormat.percent(s.median)))")
            }
            if let cost = e.values[.prixRevientPlace], let p90 = stats[key]?.p90 ?? nil, cost > p90,
                cells[key]!.count >= CostStudy.minimumEquipments
            {
                reasons.append("Coût par place \(FrenchFormat.euros(cost)) (> P90 de la case \(FrenchFormat.euros(p90)))")
            }
            guard reasons.count >= 2 else { continue }
            let ref = StudyEquipmentRef(
                nDossier: e.nDossier, nom: e.nom, nature: e.cell[.nature]!, caf: e.cell[.caf]!, siren: e.siren, nomGestionnaire: e.nomGestionnaire)
            out.append((Fragility(equipment: ref, reasons: reasons), reasons.count, e.resultat ?? 0))
        }
        return out.sorted { ($0.1, -$0.2, $1.0.equipment.nDossier) > ($1.1, -$1.2, $0.0.equipment.nDossier) }.map(\.0)
    }
}
