import CiblageModel
import Foundation

/// A manager (gestionnaire) of the synthetic world.
struct Manager {
    var siren: String
    var nom: String
    var statut: StatutGestionnaire
    var siege: String
    /// Log-odds offset of this manager's anomaly probability: some managers are far riskier.
    var risk: Double
    var departements: [String]
    var equipmentCount = 0
}

/// An equipment of the synthetic world, with the traits its declarations are drawn from.
struct Equip {
    var nDossier: String
    var nom: String
    var nature: String
    var siret: String
    var manager: Int
    var caf: String
    var commune: String
    var places: Int?
    var ouverture: CalendarDate
    var fermeture: CalendarDate?
    var qpv: Bool
    var zrr: Bool
    var ctg: Bool
    /// Share of opening hours × places actually attended.
    var occupation: Double
    /// Hours billed / hours attended.
    var tauxFacturation: Double
    /// Cost per hour attended, euros.
    var costPerHour: Double
    /// Average family participation per billed hour, euros.
    var familyRate: Double
    var risk: Double
    var psu: Bool
    var hourly: Bool

    func isOpen(during year: Int) -> Bool {
        ouverture.year <= year && (fermeture.map { $0.year >= year } ?? true)
    }
}

/// One anomaly injected in an equipment-year, and the indu an on-site control would find.
struct InjectedAnomaly {
    var code: String
    /// Euros.
    var indu: Double
    /// 0 (invisible in the data) to 1 (plain to see).
    var visibility: Double
}

/// An equipment-year: the réel figures as declared (anomalies applied) and the anomalies.
struct EquipYear {
    var reel: DeclarationFigures
    var base: DeclarationFigures
    var anomalies: [InjectedAnomaly]
    var reelDate: CalendarDate?
    var roundNumbers: Bool
}

/// Builds the synthetic world: managers, equipments, their yearly figures and anomalies.
struct WorldBuilder {
    let config: GeneratorConfiguration
    let referentiel: Referentiel
    var rng: SeededRandom

    static let bigDepartements: Set<String> = ["75", "92", "93", "94", "13", "59", "69", "33", "31", "06", "44", "67", "34", "38", "77", "78", "91", "95"]
    static let towns = [
        "Saint-Martin", "Villeneuve", "Beaumont", "Montfort", "Châteauneuf", "Fontaine", "Bellevue", "Rochefort",
        "L’Isle", "Sainte-Cécile", "Mérignac", "Clairefontaine", "Val-d’Oise", "Bourg-Neuf", "Pré-Saint-Gervais",
        "Les Mureaux", "Aïn", "Noël-sur-Mer", "Œuilly", "Étampes",
    ]
    static let childNames = [
        "Les Lutins", "Les P’tits Loups", "Arc-en-ciel", "Les Écureuils", "Pomme d’Api", "Les Marmousets",
        "Les Petits Pas", "Cœur de Mômes", "Les Doudous", "Premiers Pas", "L’Île aux Enfants", "Les Coccinelles",
    ]
    static let groupNames = [
        "Petits Chemins SAS", "Crèches Horizon", "Éveil & Cie", "Groupe Bambins", "Les Maisons d’Enfance",
        "Œuvre Enfance Services", "Crèches du Soleil", "Tout-Petits Développement",
    ]

    init(config: GeneratorConfiguration, referentiel: Referentiel) {
        self.config = config
        self.referentiel = referentiel
        rng = SeededRandom(seed: config.seed).derived("monde")
    }

    var departementCodes: [String] {
        let all = referentiel.departements.keys.sorted()
        return config.cafs.isEmpty ? all : all.filter(config.cafs.contains)
    }

    mutating func departementWeights(_ codes: [String]) -> [Double] {
        codes.map { Self.bigDepartements.contains($0) ? 3.0 : ($0.hasPrefix("97") ? 0.5 : 1.0) }
    }

    mutating func managers() -> [Manager] {
        let codes = departementCodes
        let weights = departementWeights(codes)
        var managers: [Manager] = []
        var total = 0
        var sirenSeq = 100_000
        while total < config.equipements {
            let kind = rng.weighted([30, 40, 25, 5])
            var statut: StatutGestionnaire
            var size: Int
            var spread: Int
            var nom: String
            let home = codes[rng.weighted(weights)]
            let town = rng.pick(Self.towns)
            switch kind {
            case 0:
                statut = .publicManager
                size = rng.int(1...4)
                spread = 1
                nom = "Commune de \(town)"
            case 1:
                statut = .associatif
                if rng.chance(0.03) {
                    size = rng.int(10...60)
                    spread = rng.int(3...15)
                    nom = "Fédération \(rng.pick(Self.childNames)) \(managers.count)"
                } else {
                    size = rng.int(1...6)
                    spread = 1
                    nom = rng.chance(0.1) ? "Association \"\(rng.pick(Self.childNames))\"; \(town)" : "Association \(rng.pick(Self.childNames)) de \(town)"
                }
            case 2:
                statut = .entreprise
                if rng.chance(0.012) {
                    size = rng.int(50...max(60, min(800, config.equipements / 40)))
                    spread = rng.int(10...60)
                    nom = "\(rng.pick(Self.groupNames)) \(managers.count)"
                } else {
                    size = rng.int(1...2)
                    spread = 1
                    nom = "SARL \(rng.pick(Self.childNames)) – \(town)"
                }
            default:
                statut = .mutualiste
                size = rng.int(2...20)
                spread = rng.int(1...4)
                nom = "Mutualité \(town)"
            }
            size = min(size, config.equipements - total)
            var departements = [home]
            while departements.count < min(spread, size, codes.count) {
                let d = codes[rng.weighted(weights)]
                if !departements.contains(d) { departements.append(d) }
            }
            sirenSeq += 1
            let bodyPrefix = statut == .publicManager ? "21" : (statut == .associatif ? "77" : (statut == .entreprise ? "8" : "44"))
            let body = bodyPrefix + String(format: "%0\(8 - bodyPrefix.count)d", sirenSeq % Int(pow(10, Double(8 - bodyPrefix.count))))
            var risk = rng.normal(sd: 0.6) + (statut == .entreprise ? 0.3 : 0)
            if rng.chance(0.05) { risk += 1.8 }
            managers.append(
                Manager(
                    siren: CompanyIdentifier.withLuhnDigit(body), nom: nom, statut: statut, siege: home, risk: risk,
                    departements: departements, equipmentCount: size))
            total += size
        }
        return managers
    }

    mutating func nature(for statut: StatutGestionnaire) -> String {
        let natures = [
            "EAJE_COLLECTIF", "MICRO_CRECHE_PAJE", "MICRO_CRECHE_PSU", "EAJE_FAMILIAL", "EAJE_PARENTAL",
            "HALTE_GARDERIE", "RPE", "MAM", "ALSH", "LAEP", "CENTRE_SOCIAL",
        ]
        let weights: [Double]
        switch statut {
        case .publicManager: weights = [35, 0, 2, 6, 0, 5, 18, 0, 22, 5, 7]
        case .associatif: weights = [35, 2, 6, 2, 6, 4, 3, 12, 15, 6, 9]
        case .entreprise: weights = [45, 40, 15, 0, 0, 0, 0, 0, 0, 0, 0]
        case .mutualiste: weights = [50, 5, 10, 5, 0, 5, 5, 0, 10, 5, 5]
        }
        if config.profile == .paje {
            // Micro-crèches PAJE weigh as much as every other nature together.
            var w = weights
            w[1] = max(w[1], 1) + weights.reduce(0, +)
            return natures[rng.weighted(w)]
        }
        return natures[rng.weighted(weights)]
    }

    mutating func places(for nature: String) -> Int? {
        switch nature {
        case "EAJE_COLLECTIF": return max(13, min(120, Int(rng.logNormal(median: 33, sigma: 0.4))))
        case "MICRO_CRECHE_PAJE", "MICRO_CRECHE_PSU": return rng.int(9...12)
        case "EAJE_FAMILIAL": return rng.int(20...80)
        case "EAJE_PARENTAL": return rng.int(12...25)
        case "HALTE_GARDERIE": return rng.int(10...30)
        case "MAM": return rng.int(8...16)
        case "ALSH": return rng.int(20...150)
        default: return nil
        }
    }

    mutating func equipments(_ managers: inout [Manager]) -> [Equip] {
        var equips: [Equip] = []
        var perCaf: [String: Int] = [:]
        for (m, manager) in managers.enumerated() {
            for k in 0..<manager.equipmentCount {
                let caf = k < manager.departements.count ? manager.departements[k] : rng.pick(manager.departements)
                perCaf[caf, default: 0] += 1
                let nDossier = "\(caf)-\(String(format: "%06d", perCaf[caf]!))"
                let nature = nature(for: manager.statut)
                let info = referentiel.natures[nature]!
                let communeSuffix = caf.count == 3 ? String(format: "%02d", rng.int(1...24)) : String(format: "%03d", rng.int(1...600))
                let ouverture = CalendarDate(
                    year: rng.chance(0.1) ? rng.int(config.exercices.lowerBound...config.exercices.upperBound) : rng.int(1985...2019),
                    month: rng.int(1...12), day: rng.int(1...28))!
                var fermeture: CalendarDate?
                if rng.chance(0.02) {
                    let year = rng.int(max(ouverture.year, config.exercices.lowerBound)...config.exercices.upperBound)
                    fermeture = CalendarDate(year: year, month: rng.int(1...12), day: rng.int(1...28))
                    if fermeture! < ouverture { fermeture = nil }
                }
                let statutMedian: Double =
                    switch manager.statut {
                    case .publicManager: 10.6
                    case .associatif: 9.3
                    case .entreprise: 11.5
                    case .mutualiste: 10.0
                    }
                let town = rng.pick(Self.towns)
                var nom = "\(info.libelle.components(separatedBy: " /").first!) \(rng.pick(Self.childNames)) – \(town)"
                if rng.chance(0.01) { nom = "Crèche \"\(rng.pick(Self.childNames))\"; site \(k + 1)" }
                let siretBody = manager.siren + String(format: "%04d", (k + 1) % 10000)
                equips.append(
                    Equip(
                        nDossier: nDossier, nom: nom, nature: nature, siret: CompanyIdentifier.withLuhnDigit(siretBody),
                        manager: m, caf: caf, commune: caf + communeSuffix, places: places(for: nature),
                        ouverture: ouverture, fermeture: fermeture, qpv: rng.chance(0.1), zrr: rng.chance(0.08),
                        ctg: rng.chance(0.7), occupation: min(0.95, max(0.35, rng.normal(mean: 0.70, sd: 0.07))),
                        tauxFacturation: min(1.2, max(1.0, rng.normal(mean: 1.10, sd: 0.035))),
                        costPerHour: rng.logNormal(median: statutMedian, sigma: 0.18),
                        familyRate: min(4.5, max(0.3, rng.logNormal(median: 1.7, sigma: 0.3))),
                        risk: rng.normal(sd: 0.5), psu: info.psu, hourly: info.activiteHoraire))
            }
        }
        return equips
    }

    /// PSU hourly ceiling of `year`, euros (DOMAIN.md: 9.71 in 2023, +3.49 % in 2024).
    static func plafond(_ year: Int) -> Double {
        9.71 * pow(1.035, Double(year - 2023))
    }

    /// The equipment's true figures of `year`, before any anomaly.
    mutating func baseFigures(_ e: Equip, year: Int) -> DeclarationFigures {
        var f = DeclarationFigures()
        let growth = pow(1.025, Double(year - 2021))
        f.places = e.places
        if e.hourly, let places = e.places {
            let jours = rng.int(215...230)
            let amplitude = rng.uniform(10...11.5)
            f.joursOuverture = jours
            f.heuresOuverture = (Double(jours) * amplitude).rounded()
            let occupation = min(0.98, max(0.3, e.occupation + rng.normal(sd: 0.02)))
            let realisees = (Double(places) * f.heuresOuverture! * occupation).rounded()
            f.heuresRealisees = realisees
            f.heuresFacturees = (realisees * (e.tauxFacturation + rng.normal(sd: 0.01))).rounded()
            f.nbEnfants = Int((Double(places) * rng.uniform(1.6...2.2)).rounded())
            let charges = realisees * e.costPerHour * growth * rng.uniform(0.97...1.03)
            f.totalCharges = charges
            f.chargesPersonnel = charges * rng.uniform(0.70...0.80)
            f.participationsFamilles = f.heuresFacturees! * e.familyRate
            f.etp = (Double(places) / rng.uniform(5.0...6.5) * 10).rounded() / 10
        } else {
            if let places = e.places {
                f.joursOuverture = e.nature == "ALSH" ? rng.int(90...160) : rng.int(200...230)
                f.nbEnfants = Int(Double(places) * rng.uniform(1.5...3))
                f.etp = (Double(places) / rng.uniform(6...10) * 10).rounded() / 10
            } else {
                f.etp = (rng.uniform(0.8...6) * 10).rounded() / 10
            }
            let median: Double =
                switch e.nature {
                case "RPE": 80_000
                case "LAEP": 45_000
                case "CENTRE_SOCIAL": 450_000
                case "ALSH": Double(e.places ?? 50) * 2_500
                default: Double(e.places ?? 10) * 9_000
                }
            f.totalCharges = rng.logNormal(median: median * growth, sigma: 0.25)
            f.chargesPersonnel = f.totalCharges! * rng.uniform(0.6...0.8)
            f.participationsFamilles = e.places == nil ? 0 : f.totalCharges! * rng.uniform(0.05...0.2)
        }
        return f
    }

    /// Fills the funding side from the (possibly anomalous) declared figures.
    mutating func fund(_ f: inout DeclarationFigures, _ e: Equip, year: Int) {
        let charges = f.totalCharges ?? 0
        let participations = f.participationsFamilles ?? 0
        if e.psu, let facturees = f.heuresFacturees, let realisees = f.heuresRealisees, realisees > 0 {
            let costPerHour = charges / realisees
            let participationPerHour = participations / max(facturees, 1)
            let band = facturees / realisees <= 1.07 ? 1.0 : (facturees / realisees <= 1.17 ? 0.95 : 0.9)
            let psu = max(0, 0.66 * min(costPerHour, Self.plafond(year) * band) - participationPerHour) * facturees
            f.prestationCaf = psu
            let places = Double(e.places ?? 0)
            var bonus = participationPerHour <= 0.75 ? 2100 : (participationPerHour <= 1 ? 800 : (participationPerHour <= 1.25 ? 300 : 0))
            bonus += year >= 2024 ? (e.siret.hasPrefix("21") ? 475 : 970) : 0  // attractivité: public 475, private 970
            f.bonusCaf = places * Double(bonus)
        } else {
            f.prestationCaf = e.nature == "MICRO_CRECHE_PAJE" ? 0 : charges * rng.uniform(0.25...0.45)
            f.bonusCaf = 0
        }
        let covered = participations + (f.prestationCaf ?? 0) + (f.bonusCaf ?? 0)
        let resteShare = rng.uniform(0.6...1.0)
        f.subventionsCollectivites = max(0, (charges - covered) * resteShare)
        f.totalProduits = covered + (f.subventionsCollectivites ?? 0) + charges * rng.uniform(0...0.03)
    }

    /// Draws the anomalies of an equipment-year and applies them to the declared réel figures.
    mutating func anomalies(_ e: Equip, _ manager: Manager, base: DeclarationFigures, year: Int) -> EquipYear {
        var reel = base
        var found: [InjectedAnomaly] = []
        var roundNumbers = false
        var late = false
        let logit = -1.5 + manager.risk + e.risk + (e.psu ? 0 : -1.0)
        let p = 1 / (1 + exp(-logit))
        if rng.chance(p) {
            let candidates: [(String, Double)] =
                e.psu
                ? [("HEURES_FACTUREES", 22), ("HEURES_REALISEES", 18), ("SURCAPACITE", 8), ("PARTICIPATIONS_FAMILIALES", 12),
                   ("CHARGES_HORS_CHAMP", 12), ("ENCADREMENT", 8), ("REPAS_COUCHES", 10), ("DECLARATION_TARDIVE", 5), ("AUTRE", 5)]
                : [("CHARGES_HORS_CHAMP", 45), ("ENCADREMENT", 15), ("DECLARATION_TARDIVE", 15), ("AUTRE", 25)]
            var codes = [candidates[rng.weighted(candidates.map(\.1))].0]
            if rng.chance(0.2) {
                let second = candidates[rng.weighted(candidates.map(\.1))].0
                if !codes.contains(second) { codes.append(second) }
            }
            let hourlyRate = e.psu ? max(1.5, 0.66 * min(e.costPerHour, Self.plafond(year)) - e.familyRate) : 0
            for code in codes {
                // Subtle anomalies are small and hard to see; plain ones are large.
                let visibility = rng.uniform()
                let strength = 0.3 + 0.7 * visibility
                var indu = 0.0
                switch code {
                case "HEURES_FACTUREES":
                    let extra = (reel.heuresFacturees ?? 0) * 0.18 * strength
                    reel.heuresFacturees = ((reel.heuresFacturees ?? 0) + extra).rounded()
                    if rng.chance(0.3) {
                        roundNumbers = true
                        reel.heuresFacturees = ((reel.heuresFacturees ?? 0) / 1000).rounded() * 1000
                    }
                    indu = extra * hourlyRate * 0.7
                case "HEURES_REALISEES":
                    let extra = (reel.heuresRealisees ?? 0) * 0.25 * strength
                    reel.heuresRealisees = ((reel.heuresRealisees ?? 0) + extra).rounded()
                    reel.heuresFacturees = ((reel.heuresFacturees ?? 0) + extra * e.tauxFacturation).rounded()
                    indu = extra * hourlyRate * 0.6
                case "SURCAPACITE":
                    reel.nbEnfants = Int(Double(reel.nbEnfants ?? 0) * (1.1 + 0.5 * strength))
                    let extra = (reel.heuresRealisees ?? 0) * 0.15 * strength
                    reel.heuresRealisees = ((reel.heuresRealisees ?? 0) + extra).rounded()
                    indu = extra * hourlyRate * 0.4
                case "PARTICIPATIONS_FAMILIALES":
                    let missing = (reel.participationsFamilles ?? 0) * 0.45 * strength
                    reel.participationsFamilles = (reel.participationsFamilles ?? 0) - missing
                    indu = missing * 0.9
                case "CHARGES_HORS_CHAMP":
                    let extra = (reel.totalCharges ?? 0) * 0.3 * strength
                    reel.totalCharges = (reel.totalCharges ?? 0) + extra
                    indu = extra * (e.psu ? 0.3 : 0.35)
                case "ENCADREMENT":
                    reel.etp = ((reel.etp ?? 0) * (1 - 0.3 * strength) * 10).rounded() / 10
                    indu = Double(e.places ?? 10) * rng.uniform(50...400)
                case "REPAS_COUCHES":
                    indu = Double(e.places ?? 10) * rng.uniform(150...600)
                case "DECLARATION_TARDIVE":
                    late = true
                    indu = rng.uniform(0...800)
                default:
                    indu = rng.uniform(0...3000)
                }
                if config.profile == .indusIndependants { indu = rng.logNormal(median: 6000, sigma: 1.0) }
                found.append(InjectedAnomaly(code: code, indu: (indu * 100).rounded() / 100, visibility: visibility))
            }
            if config.profile == .sansTrace {
                // The anomalies are real (a control finds them) but the figures do not show them.
                reel = base
                roundNumbers = false
                late = false
            }
        }
        var reelDate: CalendarDate? = CalendarDate(year: year + 1, month: 3, day: rng.int(1...31))
        if late || rng.chance(0.06) {
            reelDate = CalendarDate(year: year + 1, month: late ? rng.int(7...10) : rng.int(4...6), day: rng.int(1...28))
        }
        if year == config.exercices.upperBound && rng.chance(0.03) { reelDate = nil }
        return EquipYear(reel: reel, base: base, anomalies: found, reelDate: reelDate, roundNumbers: roundNumbers)
    }

    /// A forecast-like variant of the figures: each value off by up to `noise` (a share).
    mutating func perturbed(_ f: DeclarationFigures, noise: Double) -> DeclarationFigures {
        var g = f
        func n(_ v: Double?) -> Double? { v.map { ($0 * (1 + rng.normal(sd: noise))).rounded() } }
        g.heuresRealisees = n(f.heuresRealisees)
        g.heuresFacturees = n(f.heuresFacturees)
        g.totalCharges = n(f.totalCharges)
        g.chargesPersonnel = n(f.chargesPersonnel)
        g.participationsFamilles = n(f.participationsFamilles)
        g.prestationCaf = n(f.prestationCaf)
        g.subventionsCollectivites = n(f.subventionsCollectivites)
        g.totalProduits = n(f.totalProduits)
        return g
    }
}
