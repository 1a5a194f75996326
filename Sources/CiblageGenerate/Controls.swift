import CiblageModel
import Foundation

extension Generator {
    /// Control outcomes: each year after an exercice, some equipments are controlled, at random,
    /// by crude targeting (drawn towards what the data shows), on a report, or as part of a
    /// multi-departmental group. A control covering an anomalous exercice finds each anomaly
    /// with a given probability and the indu of the ground truth, give or take 10 %.
    func writeControls(
        _ equips: [Equip], _ managers: [Manager], _ years: [[YearInfo]], _ exports: URL,
        _ expected: inout [ExpectedReject], _ summary: inout GenerationSummary
    ) throws {
        var rng = SeededRandom(seed: configuration.seed).derived("controles")
        var bad = SeededRandom(seed: configuration.seed).derived("controles-malformes")
        let first = configuration.exercices.lowerBound
        let writer = try ExportFileWriter(url: exports.appendingPathComponent("controles.csv"), encoding: .utf8, crlf: false)
        writer.row(ExportColumns.controles.map(\.name))
        var rows: [[String]] = []
        var sequence = 0
        for controlYear in (first + 1)...(configuration.exercices.upperBound + 1) {
            for (index, e) in equips.enumerated() {
                let yearIndex = controlYear - 1 - first
                guard years[index][yearIndex].open else { continue }
                let info = years[index][yearIndex]
                let base = e.psu ? 0.15 : 0.04
                let multi = managers[e.manager].departements.count >= 2
                let weights: [(OrigineControle, Double)] = [
                    (.aleatoire, base * (configuration.profile == .peuAleatoires ? 0.015 : 0.15)),
                    (.ciblage, base * 0.55 * (0.3 + 2.0 * info.visibleSignal)),
                    (.signalement, base * 0.08 * (info.anomalies.isEmpty ? 0.3 : 3)),
                    (.multiDepartemental, multi ? base * 0.15 : 0),
                    (.autre, base * 0.05),
                ]
                let total = weights.reduce(0) { $0 + $1.1 }
                guard rng.chance(min(0.9, total)) else { continue }
                let origine = weights[rng.weighted(weights.map(\.1))].0
                var covered = [controlYear - 1]
                let span = rng.weighted([40, 35, 25])
                for back in 0..<span where controlYear - 2 - back >= first && years[index][controlYear - 2 - back - first].open {
                    covered.insert(controlYear - 2 - back, at: 0)
                }
                let onSite = rng.chance(0.75)
                var codes: [String] = []
                var indu = 0.0
                for year in covered {
                    for anomaly in years[index][year - first].anomalies where rng.chance(onSite ? 0.85 : 0.7) {
                        if !codes.contains(anomaly.code) { codes.append(anomaly.code) }
                        indu += anomaly.indu * rng.uniform(0.9...1.1)
                    }
                }
                let rappel = rng.chance(0.05) ? rng.uniform(200...3000) : 0
                sequence += 1
                let date = CalendarDate(year: controlYear, month: rng.int(2...11), day: rng.int(1...28))!
                let campagne = origine == .ciblage || origine == .aleatoire ? "\(controlYear)-T\((date.month - 1) / 3 + 1)" : ""
                let money = NumberStyle(grouping: rng.chance(0.5) ? .space : .none)
                rows.append([
                    "CTL-\(controlYear)-\(String(format: "%06d", sequence))", e.nDossier,
                    covered.map(String.init).joined(separator: "|"), date.french, onSite ? "SUR_PLACE" : "SUR_PIECES",
                    origine.rawValue, campagne, codes.isEmpty ? "CONFORME" : "ANOMALIE",
                    codes.isEmpty ? "" : money.format(indu, decimals: 2), rappel > 0 ? money.format(rappel, decimals: 2) : "",
                    codes.joined(separator: "|"),
                ])
            }
        }
        for row in rows {
            writer.row(row)
            if bad.chance(configuration.malformedRate * 2) {
                var broken = row
                broken[0] = "X" + row[0]
                let motif: String
                switch bad.int(0...3) {
                case 0:
                    broken[7] = "ANOMALIE"
                    broken[10] = ""
                    motif = "codes d'anomalie manquants"
                case 1:
                    broken[5] = "HASARD"
                    motif = "origine inconnue"
                case 2:
                    broken[2] = "2018|2019|2020|2021"
                    motif = "quatre exercices"
                default:
                    broken[1] = "XX-" + row[1]
                    motif = "équipement inconnu"
                }
                expected.append(ExpectedReject(file: "controles.csv", line: writer.row(broken), motif: motif))
            }
        }
        try writer.close()
        summary.controles = rows.count
        let rejected = expected.filter { $0.file == "controles.csv" }.count
        summary.files.append(GeneratedFile(path: "exports/controles.csv", records: writer.records - 1, expectedRejected: rejected, duplicateDelivery: false))

        // A complement cut short in transfer: its last record lacks its end.
        let complement = try ExportFileWriter(
            url: exports.appendingPathComponent("controles-complement.csv"), encoding: .utf8, crlf: true)
        complement.row(ExportColumns.controles.map(\.name))
        let extra = Array(rows.suffix(min(rows.count, 6)))
        for (i, row) in extra.enumerated() {
            var copy = row
            copy[0] = "C" + row[0]
            if i == extra.count - 1 {
                let text = copy.prefix(5).joined(separator: ";") + ";CIB"
                expected.append(ExpectedReject(file: "controles-complement.csv", line: complement.unterminated(text), motif: "fichier tronqué"))
            } else {
                complement.row(copy)
                summary.controles += 1
            }
        }
        try complement.close()
        summary.files.append(
            GeneratedFile(path: "exports/controles-complement.csv", records: complement.records - 1, expectedRejected: extra.isEmpty ? 0 : 1, duplicateDelivery: false))
    }
}
