import Foundation

/// Computes every figure of a bilan from its linked lines.
public enum BilanFigures {
    public static let tirages = ["TOUS", "CIBLE", "ALEATOIRE", "OBLIGATOIRE", "MULTI"]
    public static let precisionRanks = [1, 3, 5, 10, 20]

    public static func compute(_ inputs: BilanInputs) -> [BilanFigure] {
        var out: [BilanFigure] = []
        let groups: [(BilanFigure.Level, String, [BilanLine])] =
            [(.national, "", inputs.lines)]
            + Dictionary(grouping: inputs.lines, by: \.pole).sorted { $0.key < $1.key }.map { (.pole, $0.key, $0.value) }
            + Dictionary(grouping: inputs.lines, by: \.caf).sorted { $0.key < $1.key }.map { (.caf, $0.key, $0.value) }
        for (level, code, lines) in groups {
            // A figure whose interval has no width (no variance: every control alike) is not an
            // estimate: it gets no row, and the page says why.
            func add(_ tirage: String, _ indicator: String, _ value: Double, _ low: Double? = nil, _ high: Double? = nil) {
                if let low, let high, !(high > low) { return }
                out.append(BilanFigure(level: level, code: code, tirage: tirage, indicator: indicator, value: value, low: low, high: high))
            }
            for tirage in tirages {
                let subset = tirage == "TOUS" ? lines : lines.filter { $0.tirage == tirage }
                guard !subset.isEmpty else { continue }
                let planned = subset.filter(\.planned)
                let done = subset.compactMap(\.control)
                if inputs.planned {
                    add(tirage, "CONTROLES_PREVUS", Double(planned.count))
                    if !planned.isEmpty {
                        add(tirage, "TAUX_REALISATION", Double(planned.filter { $0.control != nil }.count) / Double(planned.count))
                    }
                }
                add(tirage, "CONTROLES_REALISES", Double(done.count))
                if tirage == "TOUS" && inputs.planned { add(tirage, "CONTROLES_HORS_PLAN", Double(subset.filter { !$0.planned }.count)) }
                guard !done.isEmpty else { continue }
                let anomalies = done.filter(\.anomalie).count
                let ci = Intervals.clopperPearson(x: Double(anomalies), n: Double(done.count))
                add(tirage, "TAUX_ANOMALIE", Double(anomalies) / Double(done.count), ci.low, ci.high)
                let indus = done.map(\.indu).sorted()
                add(tirage, "INDU_TOTAL", indus.reduce(0, +))
                add(tirage, "INDU_MOYEN", indus.reduce(0, +) / Double(indus.count))
                add(tirage, "INDU_MEDIAN", indus.count % 2 == 1 ? indus[indus.count / 2] : (indus[indus.count / 2 - 1] + indus[indus.count / 2]) / 2)
                add(tirage, "RAPPEL_TOTAL", done.reduce(0) { $0 + $1.rappel })
            }
            // Lift: anomaly rate of targeted lines over random ones (Katz's log interval).
            let targeted = lines.filter { $0.tirage == "CIBLE" }.compactMap(\.control)
            let random = lines.filter { $0.tirage == "ALEATOIRE" }.compactMap(\.control)
            if let lift = Intervals.riskRatio(
                x1: targeted.filter(\.anomalie).count, n1: targeted.count, x2: random.filter(\.anomalie).count, n2: random.count)
            {
                add("TOUS", "LIFT", lift.ratio, lift.low, lift.high)
            }
            // The population, from the random share and the fully observed lines, stratum = Caf.
            let rate = StratifiedEstimate(strata(inputs, lines) { $0.anomalie ? 1 : 0 })
            if let r = rate.rate() {
                add("ALEATOIRE", "TAUX_ANOMALIE_POPULATION", r.value, r.low, r.high)
                add("ALEATOIRE", "EQUIPEMENTS_POPULATION", Double(rate.units))
                let indu = StratifiedEstimate(strata(inputs, lines) { $0.indu }).totalInterval()
                add("ALEATOIRE", "INDU_POPULATION", indu.value, indu.low, indu.high)
            }
        }
        out += nationalExtras(inputs)
        return out
    }

    /// Strata of the population estimate for `lines`, one per Caf: certainty lines (OBLIGATOIRE
    /// and CIBLE of the local plan, their observed total scaled up to the planned ones), and the
    /// random share drawn from the Caf's pool. Multi-departmental sites are outside the local
    /// frames; a stratum whose certainty lines were all left undone cannot be estimated.
    static func strata(_ inputs: BilanInputs, _ lines: [BilanLine], _ y: (LinkedControl) -> Double) -> [StratifiedEstimate.Stratum] {
        let byCaf = Dictionary(grouping: lines, by: \.caf)
        var out: [StratifiedEstimate.Stratum] = []
        for caf in byCaf.keys.sorted() {
            let members = byCaf[caf]!
            let certain = members.filter { $0.planned && ($0.tirage == "CIBLE" || $0.tirage == "OBLIGATOIRE") }
            let certainDone = certain.compactMap(\.control)
            if !certain.isEmpty && certainDone.isEmpty { continue }
            let certaintyTotal = certainDone.isEmpty ? 0 : certainDone.reduce(0) { $0 + y($1) } * Double(certain.count) / Double(certainDone.count)
            let sample = members.filter { $0.tirage == "ALEATOIRE" }.compactMap(\.control).map(y)
            out.append(
                StratifiedEstimate.Stratum(
                    certaintyTotal: inputs.planned ? certaintyTotal : 0, certaintyUnits: inputs.planned ? certain.count : 0,
                    pool: inputs.pools[caf] ?? 0, sample: sample))
        }
        return out
    }

    /// Precision along the planned order, score calibration, objectives, anomaly codes.
    static func nationalExtras(_ inputs: BilanInputs) -> [BilanFigure] {
        var out: [BilanFigure] = []
        func add(_ indicator: String, _ value: Double, _ low: Double? = nil, _ high: Double? = nil) {
            out.append(BilanFigure(level: .national, code: "", tirage: "TOUS", indicator: indicator, value: value, low: low, high: high))
        }
        let local = inputs.lines.filter { $0.planned && $0.tirage != "MULTI" }
        for k in precisionRanks {
            let done = local.filter { $0.rang <= k }.compactMap(\.control)
            guard !done.isEmpty else { continue }
            let x = done.filter(\.anomalie).count
            let ci = Intervals.clopperPearson(x: Double(x), n: Double(done.count))
            add("PRECISION_RANG_\(k)", Double(x) / Double(done.count), ci.low, ci.high)
        }
        let scored = inputs.lines.filter { $0.score != nil && $0.control != nil }.sorted { $0.score! < $1.score! }
        if scored.count >= 10 {
            for d in 0..<10 {
                let slice = scored[(d * scored.count / 10)..<((d + 1) * scored.count / 10)]
                let x = slice.filter { $0.control!.anomalie }.count
                let ci = Intervals.clopperPearson(x: Double(x), n: Double(slice.count))
                add("SCORE_MOYEN_DECILE_\(d + 1)", slice.reduce(0) { $0 + $1.score! } / Double(slice.count))
                add("TAUX_OBSERVE_DECILE_\(d + 1)", Double(x) / Double(slice.count), ci.low, ci.high)
            }
        }
        let done = inputs.lines.compactMap(\.control)
        let achieved: [String: Int] = [
            "accompagnement": local.filter { $0.control != nil }.count,
            "sensibles": done.filter { $0.origine == "SIGNALEMENT" }.count,
            "multi_departementaux": inputs.lines.filter { $0.tirage == "MULTI" && $0.control != nil }.count,
        ]
        for key in inputs.objectifs.keys.sorted() {
            let objective = inputs.objectifs[key]!
            let name = key.uppercased()
            add("OBJECTIF_\(name)", Double(objective))
            add("REALISES_\(name)", Double(achieved[key] ?? 0))
            if objective > 0 { add("PROGRES_OBJECTIF_\(name)", Double(achieved[key] ?? 0) / Double(objective)) }
        }
        var codes: [String: Int] = [:]
        for c in done { for code in c.codes { codes[code, default: 0] += 1 } }
        for (code, count) in codes.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) { add("ANOMALIE_\(code)", Double(count)) }
        return out
    }
}
