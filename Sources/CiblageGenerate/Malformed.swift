import CiblageModel
import Foundation

/// The malformed records injected after valid ones. Each is an *extra* record, so that the valid
/// world stays whole and the ground truth is simply "these lines must be rejected".
extension Generator {
    func malformedEquipment(_ e: Equip, _ m: Manager, _ rng: inout SeededRandom) -> (String, String) {
        let n = "ZZ-\(e.nDossier)"
        var fields = [
            n, "Crèche fantôme", e.nature, e.siret, m.siren, m.nom, m.statut.rawValue, m.siege, e.caf, e.commune,
            e.places.map(String.init) ?? "10", e.ouverture.french, "", "N", "N", "N",
        ]
        let motif: String
        switch rng.int(0...7) {
        case 0:
            let last = Int(String(e.siret.last!))!
            fields[3] = String(e.siret.dropLast()) + String((last + 1) % 10)
            motif = "SIRET clé invalide"
        case 1:
            fields[2] = "CRECHE_INCONNUE"
            motif = "nature inconnue"
        case 2:
            fields[9] = (e.caf == "75" ? "13" : "75") + "001"
            motif = "commune hors département"
        case 3:
            fields[11] = "31/02/2019"
            motif = "date invalide"
        case 4:
            fields[1] = ""
            motif = "nom vide"
        case 5:
            fields.removeLast(3)
            motif = "champs manquants"
        case 6:
            fields[6] = "COOPERATIVE"
            motif = "statut inconnu"
        default:
            fields[10] = "0"
            fields[2] = "EAJE_COLLECTIF"
            motif = "places hors bornes"
        }
        return (fields.map { ExportFileWriter.quoted($0, ";") }.joined(separator: ";"), motif)
    }

    func malformedDeclaration(
        _ e: Equip, _ year: Int, _ f: DeclarationFigures, _ rng: inout SeededRandom
    ) -> [(String, String)] {
        var fields = declarationFields(e.nDossier, year, "REEL", "15/12/\(year + 1)", f, NumberStyle())
        let join = { (fields: [String]) in fields.joined(separator: ";") }
        switch rng.int(0...10) {
        case 0:
            fields[0] = "XX-\(e.nDossier)"
            return [(join(fields), "équipement inconnu")]
        case 1:
            fields[3] = "31/02/\(year + 1)"
            return [(join(fields), "date invalide")]
        case 2:
            fields[7] = "-120"
            return [(join(fields), "heures négatives")]
        case 3:
            fields[10] = "12a4"
            return [(join(fields), "nombre illisible")]
        case 4:
            fields[2] = "DEFINITIF"
            return [(join(fields), "nature de déclaration inconnue")]
        case 5:
            return [(join(fields) + ";X", "champ en trop")]
        case 6:
            return [(join(Array(fields.dropLast(3))), "champs manquants")]
        case 7:
            fields[2] = "\"REEL\"x"
            return [(join(fields), "guillemets mal placés")]
        case 8:
            fields[1] = "1999"
            return [(join(fields), "exercice hors bornes")]
        case 9:
            fields[5] = "400"
            return [(join(fields), "jours hors bornes")]
        default:
            // The same key twice with different values: both rows are rejected.
            fields[3] = "\(rng.int(16...28))/12/\(year + 1)"
            let first = join(fields)
            fields[8] = String(Int(f.heuresFacturees ?? 1000) + rng.int(1...500))
            return [(first, "conflit de clé"), (join(fields), "conflit de clé")]
        }
    }

    func malformedXML(_ w: XMLExportWriter, _ e: Equip, _ year: Int, _ rng: inout SeededRandom) -> (Int, String) {
        var f = DeclarationFigures()
        f.places = e.places
        switch rng.int(0...2) {
        case 0:
            f.heuresRealisees = -12
            return (w.declaration(e.nDossier, year, "REEL", "\(year + 1)-12-20", f), "valeur négative (schéma)")
        case 1:
            return (w.declaration(e.nDossier, year, "DEFINITIF", "\(year + 1)-12-21", f), "nature inconnue (schéma)")
        default:
            return (w.declaration("XX-\(e.nDossier)", year, "REEL", "\(year + 1)-12-22", f), "équipement inconnu")
        }
    }
}

/// Writes the XML export of declarations (ISO-8859-1, as some upstream systems do).
final class XMLExportWriter {
    let url: URL
    private var text: [String] = []
    private var line = 3
    private(set) var elements = 0

    init(url: URL, caf: String, exportDate: CalendarDate) throws {
        self.url = url
        text.append("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>")
        text.append("<exportDeclarations xmlns=\"urn:sppe:declarations:1\" caf=\"\(caf)\" dateExport=\"\(exportDate.iso)\">")
    }

    /// Writes one element; returns the line of its start tag.
    @discardableResult
    func declaration(_ nDossier: String, _ year: Int, _ nature: String, _ date: String, _ f: DeclarationFigures) -> Int {
        let start = line
        text.append("  <declaration numeroDossier=\"\(nDossier)\" exercice=\"\(year)\" nature=\"\(nature)\" dateDepot=\"\(date)\">")
        let dot = NumberStyle(grouping: .none, decimalDot: true)
        let children: [(String, String?)] = [
            ("places", f.places.map(String.init)), ("joursOuverture", f.joursOuverture.map(String.init)),
            ("heuresOuverture", f.heuresOuverture.map { dot.format($0, decimals: 1) }),
            ("heuresRealisees", f.heuresRealisees.map { dot.format($0, decimals: 1) }),
            ("heuresFacturees", f.heuresFacturees.map { dot.format($0, decimals: 1) }),
            ("enfants", f.nbEnfants.map(String.init)),
            ("totalCharges", f.totalCharges.map { dot.format($0, decimals: 2) }),
            ("chargesPersonnel", f.chargesPersonnel.map { dot.format($0, decimals: 2) }),
            ("totalProduits", f.totalProduits.map { dot.format($0, decimals: 2) }),
            ("participationsFamilles", f.participationsFamilles.map { dot.format($0, decimals: 2) }),
            ("prestationCaf", f.prestationCaf.map { dot.format($0, decimals: 2) }),
            ("bonusCaf", f.bonusCaf.map { dot.format($0, decimals: 2) }),
            ("subventionsCollectivites", f.subventionsCollectivites.map { dot.format($0, decimals: 2) }),
            ("etp", f.etp.map { dot.format($0, decimals: 1) }),
        ]
        for (name, value) in children {
            guard let value else { continue }
            text.append("    <\(name)>\(value)</\(name)>")
        }
        text.append("  </declaration>")
        line = text.count + 1
        elements += 1
        return start
    }

    func close() throws {
        text.append("</exportDeclarations>")
        try Data(Windows1252.encode(text.joined(separator: "\n") + "\n")).write(to: url)
    }
}
