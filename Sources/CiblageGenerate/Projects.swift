import CiblageModel
import Foundation

extension Generator {
    /// Place-creation projects decided over the five years up to the end of the last exercice,
    /// as the `projets` export gives them on 31/12 of that year, and the ground truth of what
    /// becomes of each one afterwards.
    ///
    /// Each project has a latent risk (carrier new or risky, no investment aid, a large
    /// project, a PAJE micro-crèche carried by a company); the risk lengthens the time to
    /// opening, raises the chance of an abandonment before it and of an opening with fewer
    /// places. The truth (`verite/projets.csv`) gives every project's eventual outcome:
    /// `ISSUE` (OUVERT or ABANDONNE), `MOIS` since the decision, places opened, and `ECHEC`
    /// (1 when abandoned or opened with less than 80 % of the places decided).
    func writeProjects(
        _ managers: [Manager], _ exports: URL, _ expected: inout [ExpectedReject], _ summary: inout GenerationSummary
    ) throws -> String {
        var rng = SeededRandom(seed: configuration.seed).derived("projets")
        var quirks = SeededRandom(seed: configuration.seed).derived("projets-bizarreries")
        var bad = SeededRandom(seed: configuration.seed).derived("projets-malformes")
        let last = configuration.exercices.upperBound
        let exportDate = CalendarDate(year: last, month: 12, day: 31)!
        let firstDecision = CalendarDate(year: last - 4, month: 1, day: 1)!.dayNumber
        let cafs = WorldBuilder(config: configuration, referentiel: referentiel).departementCodes
        let count = max(10, configuration.equipements / 4)
        let natures = ["EAJE_COLLECTIF", "MICRO_CRECHE_PAJE", "MICRO_CRECHE_PSU", "MAM", "EAJE_PARENTAL", "EAJE_FAMILIAL", "HALTE_GARDERIE"]
        let natureWeights: [Double] = [35, 30, 15, 10, 3, 3, 4]
        let writer = try ExportFileWriter(url: exports.appendingPathComponent("projets.csv"), encoding: .utf8WithBOM, crlf: true)
        writer.row(ExportColumns.projets.map(\.name))
        var truth = "N_PROJET;ISSUE;MOIS;PLACES_OUVERTES;ECHEC\n"
        var carriers: [String: Int] = [:]
        var sequence = 100_000_000
        for index in 0..<count {
            let caf = rng.pick(cafs)
            let nature = natures[rng.weighted(natureWeights)]
            var siren: String
            var nom: String
            var statut: StatutGestionnaire
            var risk = rng.normal(sd: 0.7)
            if !managers.isEmpty && rng.chance(0.6) {
                let m = rng.pick(managers)
                (siren, nom, statut) = (m.siren, m.nom, m.statut)
                risk += 0.3 * m.risk
            } else {
                sequence += 1
                statut = nature.hasPrefix("MICRO") && rng.chance(0.7) ? .entreprise : [.associatif, .publicManager, .entreprise][rng.int(0...2)]
                siren = CompanyIdentifier.withLuhnDigit("9" + String(format: "%07d", sequence % 10_000_000))
                nom = statut == .publicManager ? "Commune de \(rng.pick(WorldBuilder.towns))" : "Porteur \(rng.pick(WorldBuilder.childNames)) \(index)"
                risk += 0.3  // a first project
            }
            carriers[siren, default: 0] += 1
            let places: Int =
                switch nature {
                case "EAJE_COLLECTIF": rng.int(15...66)
                case "MICRO_CRECHE_PAJE", "MICRO_CRECHE_PSU": rng.int(10...12)
                case "MAM": rng.int(8...16)
                case "EAJE_FAMILIAL": rng.int(20...60)
                default: rng.int(12...30)
                }
            let aide: Double? = rng.chance(0.8) ? Double(places) * rng.uniform(3_000...12_000) : nil
            if aide == nil { risk += 0.5 }
            if places > 40 { risk += 0.4 }
            if nature == "MICRO_CRECHE_PAJE" && statut == .entreprise { risk += 0.4 }
            let qpv = rng.chance(0.12), zrr = rng.chance(0.08)
            if qpv { risk += 0.2 }
            let decision = CalendarDate(dayNumber: firstDecision + rng.int(0...(exportDate.dayNumber - firstDecision - 30)))
            let planned = CalendarDate(dayNumber: decision.dayNumber + 30 * rng.int(10...24))
            // What happens, in days after the decision.
            let openDays = Int(30.4 * rng.logNormal(median: 18 * exp(0.35 * risk), sigma: 0.45))
            let abandons = rng.chance(1 / (1 + exp(-(-1.9 + 1.3 * risk))))
            let abandonDays = Int(30.4 * rng.uniform(4...48))
            let opensFirst = !abandons || openDays < abandonDays
            let shrink = opensFirst && rng.chance(1 / (1 + exp(-(-2.2 + 1.0 * risk)))) ? rng.uniform(0.25...0.6) : 0
            let opened = max(1, Int((Double(places) * (1 - shrink)).rounded()))
            let outcomeDays = opensFirst ? openDays : abandonDays
            let failure = !opensFirst || Double(opened) < 0.8 * Double(places)
            truth += "P-\(index + 1);\(opensFirst ? "OUVERT" : "ABANDONNE");\(outcomeDays / 30);\(opensFirst ? String(opened) : "");\(failure ? 1 : 0)\n"

            // The state on the export date.
            let outcomeDate = CalendarDate(dayNumber: decision.dayNumber + outcomeDays)
            var etat: EtatProjet = .enCours
            if outcomeDate.dayNumber <= exportDate.dayNumber {
                etat = opensFirst ? .ouvert : .abandonne
            } else if exportDate.dayNumber - decision.dayNumber > 540 && rng.chance(min(0.6, 0.15 + 0.2 * max(0, risk))) {
                etat = .suspendu
            }
            let code: (String) -> String = { quirks.chance(0.03) ? $0.lowercased() : $0 }
            let money = NumberStyle(grouping: quirks.chance(0.4) ? .space : .none)
            let date: (CalendarDate) -> String = { quirks.chance(0.05) ? $0.iso : $0.french }
            let commune = caf + (caf.count == 3 ? String(format: "%02d", rng.int(1...24)) : String(format: "%03d", rng.int(1...600)))
            let row = [
                "P-\(index + 1)", caf, commune, siren, nom, code(statut.rawValue), code(nature), String(places), date(decision),
                aide.map { money.format($0, decimals: 2) } ?? "", date(planned), code(etat.rawValue),
                etat == .ouvert ? String(opened) : "", etat == .ouvert ? date(outcomeDate) : "", etat == .abandonne ? date(outcomeDate) : "",
                "", qpv ? "O" : "N", zrr ? "O" : "",
            ]
            writer.row(row)
            if bad.chance(configuration.malformedRate * 3) {
                var broken = row
                broken[0] = "X" + row[0]
                let motif: String
                switch bad.int(0...3) {
                case 0:
                    broken[11] = "OUVERT"
                    broken[12] = ""
                    broken[13] = ""
                    motif = "ouvert sans places ni date"
                case 1:
                    broken[7] = "0"
                    motif = "zéro place décidée"
                case 2:
                    broken[6] = "CRECHE_LUNAIRE"
                    motif = "nature inconnue"
                default:
                    broken[10] = CalendarDate(dayNumber: decision.dayNumber - 40).french
                    motif = "ouverture prévue avant la décision"
                }
                expected.append(ExpectedReject(file: "projets.csv", line: writer.row(broken), motif: motif))
            }
        }
        try writer.close()
        let rejected = expected.filter { $0.file == "projets.csv" }.count
        summary.projets = count
        summary.files.append(GeneratedFile(path: "exports/projets.csv", records: writer.records - 1, expectedRejected: rejected, duplicateDelivery: false))
        return truth
    }
}
