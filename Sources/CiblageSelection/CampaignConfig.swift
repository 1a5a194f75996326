import CiblageModel
import Foundation
import TOMLKit

/// A campaign file (TOML), as a Pôle MAR analyst writes it. Every key is checked: an unknown
/// key, a wrong type or a value out of range is a ``ConfigError`` naming the key.
public struct CampaignConfig: Sendable, Equatable, Codable {
    /// `[campagne]`
    public var id: String
    /// The exercice whose scores drive the selection.
    public var exercice: Int
    /// Seed of every random draw.
    public var graine: UInt64
    public var libelle: String?
    /// Controls dated from this day on count as recent (default: 1 January of exercice + 1, the
    /// end of the scored exercice), `yyyymmdd`.
    public var dateReference: Int

    /// `[plan_local]`: Caf codes, or nil for every Caf (`["*"]`).
    public var cafs: [String]?
    /// Default capacity: share of the Caf's active equipments (0–1].
    public var tauxControle: Double
    /// Share of each plan drawn at random [0–1), unless `precisionCible` is given.
    public var partAleatoire: Double
    /// Target half-width of the 95 % interval of the Caf's anomaly rate (e.g. 0.10 = ±10
    /// points), which sizes the random share instead of `partAleatoire`.
    public var precisionCible: Double?
    public var exclureControleRecentMois: Int
    /// Absolute capacities per Caf code, overriding `tauxControle`.
    public var capacitesLocales: [String: Int]
    /// OBLIGATOIRE rule: never controlled and Caf funding at stake at least this (euros).
    public var obligatoireEnjeuMin: Double
    /// At most this share of a local plan goes to OBLIGATOIRE lines.
    public var obligatoirePartMax: Double

    /// `[plan_multi]`: managers present in at least this many départements.
    public var minDepartements: Int
    /// Groups to control per pôle code.
    public var capacitesPoles: [String: Int]
    /// Sites per group: the siège, the highest risks, and one drawn at random.
    public var sitesParGroupe: Int
    /// Mission objectives the campaign carries (for the bilan): support, sensitive, multi.
    public var objectifs: [String: Int]

    public static let defaultTauxControle = 0.10
    public static let defaultPartAleatoire = 0.15
}

/// A problem in a campaign file, naming the key.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var key: String
    public var message: String

    public var description: String { "\(file) : \(key.isEmpty ? "" : "clé « \(key) » : ")\(message)" }
}

extension CampaignConfig {
    /// Reads and checks a campaign file. `referentiel` gives the known Caf (département) and pôle codes.
    public static func load(_ url: URL, referentiel: Referentiel) throws -> CampaignConfig {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigError(file: url.path, key: "", message: "fichier illisible : \(SystemError.describe(error))")
        }
        return try parse(text, file: url.lastPathComponent, referentiel: referentiel)
    }

    public static func parse(_ text: String, file: String, referentiel: Referentiel) throws -> CampaignConfig {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let error as TOMLParseError {
            let said = TOMLMessages.french(error.description, line: error.source.begin.line, column: error.source.begin.column, text: text)
            throw ConfigError(file: file, key: said.key, message: said.message)
        }
        let reader = TableReader(file: file)
        try reader.allow(root, ["campagne", "plan_local", "plan_multi", "objectifs"], path: "")
        let campagne = try reader.table(root, "campagne", path: "", required: true)!
        try reader.allow(campagne, ["id", "exercice", "graine", "libelle", "date_reference"], path: "campagne")
        let id = try reader.string(campagne, "id", path: "campagne")!
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ConfigError(file: file, key: "campagne.id", message: "lettres, chiffres, « - », « _ » ou « . » attendus, pas « \(id) »")
        }
        let exercice = try reader.int(campagne, "exercice", path: "campagne", range: 2000...2100)!
        let graine = try reader.int(campagne, "graine", path: "campagne", range: 0...Int.max)!
        let libelle = try reader.string(campagne, "libelle", path: "campagne", required: false)
        var reference = CalendarDate(year: exercice + 1, month: 1, day: 1)!
        if let text = try reader.string(campagne, "date_reference", path: "campagne", required: false) {
            guard let date = CalendarDate(french: text) else {
                throw ConfigError(file: file, key: "campagne.date_reference", message: "date JJ/MM/AAAA attendue, pas « \(text) »")
            }
            reference = date
        }

        let local = try reader.table(root, "plan_local", path: "", required: false) ?? TOMLTable()
        try reader.allow(
            local,
            ["cafs", "taux_controle", "part_aleatoire", "precision_cible", "exclure_controle_recent_mois", "capacites",
             "obligatoire_enjeu_min", "obligatoire_part_max"], path: "plan_local")
        var cafs: [String]? = nil
        if let list = try reader.strings(local, "cafs", path: "plan_local"), list != ["*"] {
            for caf in list where referentiel.departements[caf] == nil {
                throw ConfigError(file: file, key: "plan_local.cafs", message: "Caf inconnue « \(caf) » (codes de département du référentiel, ou \"*\")")
            }
            cafs = list
        }
        let taux = try reader.double(local, "taux_controle", path: "plan_local", range: 0.0001...1) ?? defaultTauxControle
        let part = try reader.double(local, "part_aleatoire", path: "plan_local", range: 0...0.9999)
        let precision = try reader.double(local, "precision_cible", path: "plan_local", range: 0.005...0.5)
        if part != nil && precision != nil {
            throw ConfigError(file: file, key: "plan_local.precision_cible", message: "à donner à la place de part_aleatoire, pas avec")
        }
        let months = try reader.int(local, "exclure_controle_recent_mois", path: "plan_local", range: 0...120, required: false) ?? 12
        var capacites: [String: Int] = [:]
        if let table = try reader.table(local, "capacites", path: "plan_local", required: false) {
            for key in table.keys {
                guard referentiel.departements[key] != nil else {
                    throw ConfigError(file: file, key: "plan_local.capacites.\(key)", message: "Caf inconnue")
                }
                capacites[key] = try reader.int(table, key, path: "plan_local.capacites", range: 0...100_000)!
            }
        }
        let enjeuMin = try reader.double(local, "obligatoire_enjeu_min", path: "plan_local", range: 0...1e12) ?? 500_000
        let obligatoireMax = try reader.double(local, "obligatoire_part_max", path: "plan_local", range: 0...1) ?? 0.3

        let multi = try reader.table(root, "plan_multi", path: "", required: false) ?? TOMLTable()
        try reader.allow(multi, ["min_departements", "capacites", "sites_par_groupe"], path: "plan_multi")
        let minDep = try reader.int(multi, "min_departements", path: "plan_multi", range: 2...101, required: false) ?? 2
        let sites = try reader.int(multi, "sites_par_groupe", path: "plan_multi", range: 2...20, required: false) ?? 3
        var poles: [String: Int] = [:]
        let knownPoles = Set(referentiel.departements.values.map(\.pole))
        if let table = try reader.table(multi, "capacites", path: "plan_multi", required: false) {
            for key in table.keys {
                guard knownPoles.contains(key) else {
                    throw ConfigError(
                        file: file, key: "plan_multi.capacites.\(key)",
                        message: "pôle inconnu (attendus : \(knownPoles.sorted().joined(separator: ", ")))")
                }
                poles[key] = try reader.int(table, key, path: "plan_multi.capacites", range: 0...10_000)!
            }
        }

        var objectifs: [String: Int] = [:]
        if let table = try reader.table(root, "objectifs", path: "", required: false) {
            try reader.allow(table, ["accompagnement", "sensibles", "multi_departementaux"], path: "objectifs")
            for key in table.keys { objectifs[key] = try reader.int(table, key, path: "objectifs", range: 0...100_000)! }
        }

        return CampaignConfig(
            id: id, exercice: exercice, graine: UInt64(graine), libelle: libelle, dateReference: reference.yyyymmdd, cafs: cafs,
            tauxControle: taux, partAleatoire: part ?? (precision == nil ? defaultPartAleatoire : 0), precisionCible: precision,
            exclureControleRecentMois: months, capacitesLocales: capacites, obligatoireEnjeuMin: enjeuMin,
            obligatoirePartMax: obligatoireMax, minDepartements: minDep, capacitesPoles: poles, sitesParGroupe: sites,
            objectifs: objectifs)
    }
}

/// Typed reads of TOML keys, each error naming its dotted key.
struct TableReader {
    var file: String

    func fail(_ path: String, _ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, key: path.isEmpty ? key : "\(path).\(key)", message: message)
    }

    func allow(_ table: TOMLTable, _ keys: Set<String>, path: String) throws {
        for key in table.keys.sorted() where !keys.contains(key) {
            throw fail(path, key, "clé inconnue (attendues : \(keys.sorted().joined(separator: ", ")))")
        }
    }

    func table(_ t: TOMLTable, _ key: String, path: String, required: Bool) throws -> TOMLTable? {
        guard let value = t[key] else {
            if required { throw fail(path, key, "section obligatoire absente") }
            return nil
        }
        guard let table = value.table else { throw fail(path, key, "table attendue") }
        return table
    }

    func string(_ t: TOMLTable, _ key: String, path: String, required: Bool = true) throws -> String? {
        guard let value = t[key] else {
            if required { throw fail(path, key, "clé obligatoire absente") }
            return nil
        }
        guard let s = value.string else { throw fail(path, key, "texte attendu") }
        return s
    }

    func int(_ t: TOMLTable, _ key: String, path: String, range: ClosedRange<Int>, required: Bool = true) throws -> Int? {
        guard let value = t[key] else {
            if required { throw fail(path, key, "clé obligatoire absente") }
            return nil
        }
        guard let i = value.int else { throw fail(path, key, "entier attendu") }
        guard range.contains(i) else { throw fail(path, key, "\(i) hors de l'intervalle \(range.lowerBound)–\(range.upperBound)") }
        return i
    }

    func double(_ t: TOMLTable, _ key: String, path: String, range: ClosedRange<Double>) throws -> Double? {
        guard let value = t[key] else { return nil }
        guard let d = value.double ?? value.int.map(Double.init) else { throw fail(path, key, "nombre attendu") }
        guard range.contains(d) else { throw fail(path, key, "\(d) hors de l'intervalle \(range.lowerBound)–\(range.upperBound)") }
        return d
    }

    func strings(_ t: TOMLTable, _ key: String, path: String) throws -> [String]? {
        guard let value = t[key] else { return nil }
        guard let array = value.array else { throw fail(path, key, "liste de textes attendue") }
        var out: [String] = []
        for item in array {
            guard let s = item.string else { throw fail(path, key, "liste de textes attendue") }
            out.append(s)
        }
        guard !out.isEmpty else { throw fail(path, key, "liste vide") }
        return out
    }
}
