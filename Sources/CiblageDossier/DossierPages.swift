import CiblageModel
import CiblageReports
import Foundation

/// The HTML pages of the dossiers: one per planned line, one per multi-departmental group, an
/// index per Caf. Self-contained (no script, no external file), printable on A4.
public enum DossierPages {
    static func e(_ text: String) -> String { HTMLReport.escape(text) }
    static func date(_ yyyymmdd: Int?) -> String { yyyymmdd.flatMap { CalendarDate(yyyymmdd: $0)?.french } ?? "" }
    static func money(_ v: Double?) -> String { v.map(FrenchFormat.euros) ?? "" }
    static func number(_ v: Double?, _ digits: Int = 0) -> String { v.map { FrenchFormat.readable($0, fractionDigits: digits) } ?? "" }

    static let style = """
        @page{size:A4;margin:14mm 12mm}
        body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:10pt;color:#222;margin:1.2em auto;max-width:186mm}
        h1{font-size:16pt;color:#1d3f72;margin:.2em 0}h2{font-size:12pt;color:#1d3f72;border-bottom:1px solid #ccd;margin:1.2em 0 .4em;break-after:avoid}
        h3{font-size:10.5pt;margin:.8em 0 .3em;break-after:avoid}
        .bandeau{font-size:9pt;color:#555;border-bottom:2px solid #1d3f72;padding-bottom:.3em}
        table{border-collapse:collapse;width:100%;margin:.3em 0;font-size:9pt}th,td{border:1px solid #ccd;padding:2px 5px;vertical-align:top}
        th{background:#eef1f7;text-align:left}td.n{text-align:right;white-space:nowrap}thead{display:table-header-group}
        tr{break-inside:avoid}table.fiche th{width:32%}
        .motifs li{margin:.15em 0}.vide{color:#666;font-style:italic}
        .verifier{break-before:page}.point{border:1px solid #ccd;padding:4px 6px;margin:.4em 0;break-inside:avoid}
        .case{display:inline-block;width:.9em;height:.9em;border:1px solid #333;margin:0 .3em 0 1em;vertical-align:middle}
        .ligne{border-bottom:1px dotted #999;height:1.5em}.pourquoi{color:#1d3f72;font-size:9pt}
        svg{vertical-align:middle}a{color:#1d3f72}
        @media print{a{color:#222;text-decoration:none}body{margin:0}}
        """

    static func page(title: String, banner: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="fr"><head><meta charset="utf-8"><title>\(e(title))</title><style>\(style)</style></head><body>
        <div class="bandeau">\(banner)</div>
        \(body)</body></html>

        """
    }

    static func table(_ header: [String], _ rows: [[String]], numeric: Set<Int> = []) -> String {
        var out = "<table><thead><tr>" + header.map { "<th>\(e($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for row in rows {
            out += "<tr>" + row.enumerated().map { i, cell in numeric.contains(i) ? "<td class=\"n\">\(cell)</td>" : "<td>\(cell)</td>" }.joined() + "</tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    static func tirageText(_ line: PlannedLine) -> String {
        switch line.tirage {
        case "OBLIGATOIRE": "Ligne OBLIGATOIRE : une règle de la campagne l'impose (jamais contrôlé, financement Caf élevé)."
        case "CIBLE": "Ligne CIBLE : retenue par la priorité du score (indu attendu), au rang \(line.rang) du plan."
        case "ALEATOIRE":
            "Ligne ALEATOIRE : tirée au hasard parmi les équipements non retenus, avec une probabilité d'inclusion de "
                + "\(FrenchFormat.percent(line.probabilite)) ; elle sert à mesurer le taux d'anomalie réel, son contrôle compte autant qu'un autre."
        case "SIEGE": "Siège d'un groupe multi-départemental retenu par le plan de son pôle."
        default: "Ligne \(line.tirage) du plan."
        }
    }

    /// `v` (≥ 0, SVG coordinates) with one decimal and a dot, without `String(format:)`.
    static func tenth(_ v: Double) -> String {
        let t = Int((max(0, v) * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }

    /// A strip: the peers' P10–P90 as a bar, their median as a tick, the equipment as a dot.
    static func strip(value: Double, p10: Double, median: Double, p90: Double) -> String {
        var lo = min(p10, value), hi = max(p90, value)
        if !(hi > lo) { (lo, hi) = (lo - 1, hi + 1) }
        let pad = (hi - lo) * 0.08
        lo -= pad
        hi += pad
        func x(_ v: Double) -> String { tenth(4 + (v - lo) / (hi - lo) * 172) }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="180" height="18" role="img" aria-label="position parmi les pairs">\
            <line x1="4" x2="176" y1="9" y2="9" stroke="#ddd"/>\
            <rect x="\(x(p10))" y="5" width="\(tenth(max(1, (p90 - p10) / (hi - lo) * 172)))" height="8" fill="#cfe0f3"/>\
            <line x1="\(x(median))" x2="\(x(median))" y1="3" y2="15" stroke="#1d3f72" stroke-width="2"/>\
            <circle cx="\(x(value))" cy="9" r="4" fill="#c0504d"/></svg>
            """
    }

    static func format(_ v: Double, _ indicator: PeerIndicator) -> String {
        indicator.isRatio ? FrenchFormat.percent(v) : number(v, abs(v) < 100 ? 2 : 0) + (indicator.unit.isEmpty ? "" : " \(indicator.unit)")
    }

    /// The dossier of one planned line.
    public static func dossier(_ line: PlannedLine, _ data: DossierData, groupLink: String?) -> String {
        guard let eq = data.equipments[line.equipementId] else { return "" }
        var b = "<h1>\(e(eq.nom))</h1>\n"
        b += "<p>Dossier de contrôle sur place — campagne <strong>\(e(data.campagne))</strong>"
            + (data.libelle.map { " (\(e($0)))" } ?? "") + ", exercices \(data.exercice - 2) à \(data.exercice).</p>\n"

        b += "<h2>Identité</h2>\n<table class=\"fiche\"><tbody>\n"
        let nature = data.referentiel.natures[eq.nature]?.libelle ?? eq.nature
        let rows: [(String, String)] = [
            ("N° de dossier", eq.nDossier), ("Nature", "\(nature) (\(eq.nature))"),
            ("Places agréées", eq.places.map(String.init) ?? "non renseigné"), ("Commune (code INSEE)", eq.commune),
            ("Caf", eq.caf), ("SIRET", eq.siret), ("Gestionnaire", "\(eq.nomGestionnaire) — SIREN \(eq.siren)"),
            ("Statut du gestionnaire", eq.statut), ("Département du siège", eq.siege),
            ("Ouverture", date(eq.ouverture) + (eq.fermeture.map { " ; fermeture \(date($0))" } ?? "")),
            ("QPV / ZRR / CTG", [eq.qpv ? "QPV" : nil, eq.zrr ? "ZRR" : nil, eq.ctg ? "CTG" : nil].compactMap { $0 }.joined(separator: ", ").nonEmpty ?? "aucun"),
        ]
        b += rows.map { "<tr><th>\(e($0.0))</th><td>\(e($0.1))</td></tr>" }.joined(separator: "\n") + "\n</tbody></table>\n"

        b += "<h2>Pourquoi cet équipement est dans le plan</h2>\n<p>\(e(tirageText(line)))</p>\n"
        if let groupLink, let siren = line.sirenGroupe {
            b += "<p>Site du groupe multi-départemental SIREN \(e(siren)) : <a href=\"\(e(groupLink))\">dossier du groupe</a>.</p>\n"
        }
        b += table(
            ["rang", "tirage", "SCORE", "indu attendu (PRIORITE)", "enjeu (financement Caf)", "probabilité d'inclusion"],
            [[String(line.rang), e(line.tirage), FrenchFormat.percent(line.score), money(line.priorite), money(line.enjeu), FrenchFormat.percent(line.probabilite)]],
            numeric: [0, 2, 3, 4, 5])
        b += "<p>SCORE : probabilité estimée qu'un contrôle trouve une anomalie avec un indu d'au moins 1 000 €. Motifs, du plus important au moins important :</p>\n"
        b += line.motifs.isEmpty ? "<p class=\"vide\">Aucun motif particulier : ligne retenue par la règle ou par le tirage.</p>\n"
            : "<ol class=\"motifs\">" + line.motifs.map { "<li>\(e($0))</li>" }.joined() + "</ol>\n"

        b += "<h2>Déclarations des exercices couverts</h2>\n"
        let declared = data.declarations[line.equipementId] ?? []
        for year in (data.exercice - 2)...data.exercice {
            b += "<h3>Exercice \(year)</h3>\n"
            let ofYear = declared.filter { $0.exercice == year }
            guard !ofYear.isEmpty else {
                b += "<p class=\"vide\">Aucune déclaration pour l'exercice \(year) dans le store.</p>\n"
                continue
            }
            let byNature = Dictionary(ofYear.map { ($0.nature, $0) }, uniquingKeysWith: { $1 })
            let prev = byNature[.previsionnel], act = byNature[.actualise], reel = byNature[.reel]
            var rows: [[String]] = []
            for (i, field) in DossierData.declarationFields.enumerated() {
                let values = [prev, act, reel].map { $0?.values[i] ?? nil }
                guard values.contains(where: { $0 != nil }) else { continue }
                let show: (Double?) -> String = { field.euros ? money($0) : number($0, field.column == "etp" ? 1 : 0) }
                var gap = ""
                if let p = values[0], let r = values[2], p != 0 { gap = FrenchFormat.percent(r / p - 1, signed: true) }
                rows.append([e(field.label), show(values[0]), show(values[1]), show(values[2]), gap])
            }
            let depots = [("prévisionnel", prev), ("actualisé", act), ("réel", reel)]
                .map { "\($0.0) : " + ($0.1.map { "déposé le \(date($0.dateDepot))" } ?? "absent") }.joined(separator: " ; ")
            b += table(["", "prévisionnel", "actualisé", "réel", "écart réel / prévisionnel"], rows, numeric: [1, 2, 3, 4])
            b += "<p class=\"pourquoi\">\(e(depots))</p>\n"
        }

        b += "<h2>Indicateurs \(data.exercice) face aux pairs</h2>\n"
        let own = data.indicators[line.equipementId] ?? [:]
        var indicatorRows: [[String]] = []
        var national = false
        for indicator in DossierData.peerIndicators {
            guard let value = own[indicator.key], let peer = data.peerFigures(indicator.key, for: eq) else { continue }
            if !peer.cell { national = true }
            indicatorRows.append([
                e(indicator.label), format(value, indicator), format(peer.median, indicator),
                "\(format(peer.p10, indicator)) – \(format(peer.p90, indicator))", String(peer.n),
                strip(value: value, p10: peer.p10, median: peer.median, p90: peer.p90),
            ])
        }
        if indicatorRows.isEmpty {
            b += "<p class=\"vide\">Aucun indicateur calculé pour l'exercice \(data.exercice) (pas de déclaration exploitable).</p>\n"
        } else {
            b += table(["indicateur", "équipement", "médiane des pairs", "P10 – P90", "pairs", "position (point rouge)"], indicatorRows, numeric: [1, 2, 3, 4])
            b += "<p class=\"pourquoi\">Pairs : équipements de même nature et de même tranche de places\(national ? " (ensemble national quand la case compte moins de 5 équipements)" : ""). Bande : P10 à P90 ; trait : médiane ; point rouge : l'équipement.</p>\n"
        }

        b += "<h2>Historique des contrôles</h2>\n"
        let past = data.controls[line.equipementId] ?? []
        b += past.isEmpty ? "<p class=\"vide\">Jamais contrôlé.</p>\n"
            : table(
                ["date", "contrôle", "exercices", "type", "origine", "résultat", "indu", "anomalies"],
                past.map { c in
                    [date(c.date), e(c.idControle), e(c.exercices.replacingOccurrences(of: "|", with: ", ")), e(c.type), e(c.origine),
                     e(c.resultat), money(c.indu), e(c.anomalies.replacingOccurrences(of: "|", with: ", "))]
                }, numeric: [6])

        b += "<h2>Autres équipements du gestionnaire</h2>\n"
        let allOthers = (data.siblings[eq.siren] ?? []).filter { $0.id != eq.id }
        // A large group: those with findings, then the highest expected indus, up to 25; the
        // group's dossier lists them all.
        let others = allOthers.count <= 25 ? allOthers
            : Array((allOthers.filter { $0.anomalies > 0 } + allOthers.filter { $0.anomalies == 0 }).prefix(25))
        if allOthers.count > others.count {
            b += "<p>\(FrenchFormat.count(allOthers.count, "autre équipement", "autres équipements")) dans "
                + "\(FrenchFormat.count(Set(allOthers.map(\.caf)).count, "Caf", "Caf")) ; ci-dessous ceux qui ont eu une anomalie puis les plus forts indus attendus"
                + (groupLink.map { " (tous dans le <a href=\"\(e($0))\">dossier du groupe</a>)" } ?? "") + ".</p>\n"
        }
        b += others.isEmpty ? "<p class=\"vide\">Le gestionnaire n'a pas d'autre équipement.</p>\n"
            : table(
                ["N° de dossier", "nom", "nature", "Caf", "SCORE \(data.exercice)", "indu attendu", "contrôles", "avec anomalie", "indus constatés"],
                others.map { o in
                    [e(o.nDossier), e(o.nom), e(o.nature), e(o.caf), o.score.map { FrenchFormat.percent($0) } ?? "", money(o.priorite),
                     String(o.controles), String(o.anomalies), money(o.indus)]
                }, numeric: [4, 5, 6, 7, 8])

        b += "<section class=\"verifier\"><h2>Points à vérifier sur place</h2>\n"
        b += "<p>Dans l'ordre des motifs qui ont mis l'équipement dans le plan, puis les autres points de la procédure nationale. Pour chaque point, cocher le constat et noter les pièces vues.</p>\n"
        for (i, item) in data.checklist(for: line).enumerated() {
            let label = data.referentiel.anomalies[item.check.code] ?? item.check.code
            b += "<div class=\"point\"><strong>\(i + 1). \(e(item.check.point))</strong><br>"
            b += "<span class=\"pourquoi\">Anomalie visée : \(e(label)) (\(e(item.check.code)))"
            b += item.why.isEmpty ? (item.weight > 0 ? " — signalé par le score" : " — point de la procédure") : " — pourquoi : \(e(item.why.joined(separator: " ; ")))"
            b += "</span><br>Pièces : \(e(item.check.pieces))<br>"
            b += "Constat :<span class=\"case\"></span>conforme<span class=\"case\"></span>anomalie<span class=\"case\"></span>non vérifié"
            b += "<div class=\"ligne\"></div><div class=\"ligne\"></div></div>\n"
        }
        b += "<h2>Résultat du contrôle</h2>\n<table class=\"fiche\"><tbody>\n"
        for field in ["Date du contrôle", "Contrôleur", "Exercices couverts", "Type (SUR_PLACE / SUR_PIECES)", "Montant de l'indu (€)", "Montant du rappel (€)", "Observations"] {
            b += "<tr><th>\(e(field))</th><td>&nbsp;</td></tr>\n"
        }
        b += "<tr><th>Résultat</th><td><span class=\"case\"></span>CONFORME<span class=\"case\"></span>ANOMALIE</td></tr>\n"
        let codes = data.referentiel.anomalies.keys.sorted()
        b += "<tr><th>Codes d'anomalie</th><td>" + codes.map { "<span class=\"case\"></span>\(e($0))" }.joined(separator: " ") + "</td></tr>\n"
        b += "</tbody></table></section>\n"

        let banner = "Caf \(e(eq.caf)) — campagne \(e(data.campagne)) — plan \(line.plan == "LOCAL" ? "local" : "multi-départemental \(e(line.codePlan))") — ligne \(line.rang) (\(e(line.tirage))) — \(e(eq.nDossier))"
        return page(title: "Dossier de contrôle \(eq.nDossier) — \(eq.nom)", banner: banner, body: b)
    }

    /// The dossier of a multi-departmental group: head office and sites chosen, every Caf
    /// concerned, consolidated figures, the sites' own dossiers linked.
    public static func group(siren: String, lines: [PlannedLine], _ data: DossierData, link: (PlannedLine) -> String) -> String {
        let sites = lines.sorted { ($0.tirage == "SIEGE" ? 0 : 1, $0.rang) < ($1.tirage == "SIEGE" ? 0 : 1, $1.rang) }
        let all = data.siblings[siren] ?? []
        let name = sites.first.flatMap { data.equipments[$0.equipementId]?.nomGestionnaire } ?? siren
        var b = "<h1>Groupe \(e(name))</h1>\n<p>Gestionnaire SIREN \(e(siren)), présent dans \(Set(all.map(\.caf)).count) Caf ("
            + Set(all.map(\.caf)).sorted().map(e).joined(separator: ", ") + ") avec \(FrenchFormat.count(all.count, "équipement", "équipements")).</p>\n"
        b += "<h2>Chiffres consolidés</h2>\n"
        let controls = all.reduce(0) { $0 + $1.controles }, anomalies = all.reduce(0) { $0 + $1.anomalies }
        b += table(
            ["équipements", "indu attendu (somme)", "contrôles passés", "avec anomalie", "indus constatés"],
            [[String(all.count), money(all.compactMap(\.priorite).reduce(0, +)), String(controls), String(anomalies), money(all.reduce(0) { $0 + $1.indus })]],
            numeric: [0, 1, 2, 3, 4])
        b += "<h2>Sites à contrôler</h2>\n"
        b += table(
            ["rôle", "N° de dossier", "nom", "Caf", "SCORE", "indu attendu", "dossier"],
            sites.compactMap { l in
                data.equipments[l.equipementId].map { eq in
                    [e(l.tirage == "SIEGE" ? "siège" : l.tirage.lowercased()), e(eq.nDossier), e(eq.nom), e(eq.caf), FrenchFormat.percent(l.score),
                     money(l.priorite), "<a href=\"\(e(link(l)))\">dossier du site</a>"]
                }
            }, numeric: [4, 5])
        b += "<h2>Équipements du groupe par Caf</h2>\n"
        b += table(
            ["Caf", "N° de dossier", "nom", "nature", "SCORE \(data.exercice)", "indu attendu", "contrôles", "avec anomalie"],
            all.sorted { ($0.caf, -($0.priorite ?? 0), $0.nDossier) < ($1.caf, -($1.priorite ?? 0), $1.nDossier) }.map { o in
                [e(o.caf), e(o.nDossier), e(o.nom), e(o.nature), o.score.map { FrenchFormat.percent($0) } ?? "", money(o.priorite), String(o.controles), String(o.anomalies)]
            }, numeric: [4, 5, 6, 7])
        let pole = sites.first?.codePlan ?? ""
        return page(title: "Groupe \(name) — SIREN \(siren)", banner: "Campagne \(e(data.campagne)) — plan multi-départemental \(e(pole)) — groupe SIREN \(e(siren))", body: b)
    }

    /// The index of a Caf: its local plan's dossiers, then the sites of groups in the Caf.
    public static func index(caf: String, lines: [PlannedLine], _ data: DossierData, link: (PlannedLine) -> String, groupLink: (String) -> String) -> String {
        var b = "<h1>Dossiers de contrôle — Caf \(e(caf))</h1>\n<p>Campagne \(e(data.campagne))" + (data.libelle.map { " (\(e($0)))" } ?? "")
            + " : \(FrenchFormat.count(lines.count, "dossier", "dossiers")). Chaque dossier s'imprime sur A4.</p>\n"
        for (plan, title) in [("LOCAL", "Plan local"), ("MULTI", "Sites de groupes multi-départementaux")] {
            let subset = lines.filter { $0.plan == plan }
            guard !subset.isEmpty else { continue }
            b += "<h2>\(title)</h2>\n"
            b += table(
                ["rang", "tirage", "N° de dossier", "nom", "SCORE", "indu attendu"] + (plan == "MULTI" ? ["groupe"] : []),
                subset.compactMap { l in
                    data.equipments[l.equipementId].map { eq in
                        [String(l.rang), e(l.tirage), "<a href=\"\(e(link(l)))\">\(e(eq.nDossier))</a>", e(eq.nom), FrenchFormat.percent(l.score), money(l.priorite)]
                            + (plan == "MULTI" ? [l.sirenGroupe.map { "<a href=\"\(e(groupLink($0)))\">\(e($0))</a>" } ?? ""] : [])
                    }
                }, numeric: [0, 4, 5])
        }
        return page(title: "Dossiers de contrôle — Caf \(caf) — \(data.campagne)", banner: "Campagne \(e(data.campagne)) — Caf \(e(caf))", body: b)
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
