import Foundation

/// A nature of equipment, from the reference file `natures.csv`.
public struct NatureInfo: Hashable, Sendable {
    /// The code used in exports, e.g. `EAJE_COLLECTIF`.
    public let code: String
    /// The French label, e.g. `Crèche collective / multi-accueil`.
    public let libelle: String
    /// Funded by the prestation de service unique (paid per hour).
    public let psu: Bool
    /// Declares hourly activity (hours attended and billed), so hourly indicators make sense.
    public let activiteHoraire: Bool
    /// PLACES_AGREES is required for this nature in the equipment registry.
    public let placesObligatoires: Bool
}

/// A size band of places agréées, from `tranches-taille.csv`.
public struct SizeBand: Hashable, Sendable {
    public let code: String
    public let libelle: String
    /// Lowest number of places in the band (inclusive).
    public let min: Int
    /// Highest number of places in the band (inclusive), `nil` when open-ended.
    public let max: Int?
}

/// A point a controller verifies on site (the national control procedures), from
/// `verifications.csv`: the anomaly code it can find, what to check, the documents to ask for,
/// and the score's signals that point to it (feature codes of `ciblage-score`).
public struct Verification: Hashable, Sendable {
    public let code: String
    public let point: String
    public let pieces: String
    public let signaux: [String]
}

/// A département, with its région and its pôle of the mission SPPE, from `departements.csv`.
public struct DepartementInfo: Hashable, Sendable {
    /// `01`…`95`, `2A`, `2B`, `971`…`976`.
    public let code: String
    public let region: String
    /// Pôle code, e.g. `MEDITERRANEE`.
    public let pole: String
}

/// Errors reading reference files.
public struct ReferentielError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int
    public let message: String
    public var description: String { "\(file), ligne \(line) : \(message)" }
}

/// The reference tables (natures, anomaly codes, size bands, départements → régions → pôles).
///
/// They are versioned data files shipped with the project (`Sources/CiblageModel/Referentiel`),
/// not constants: a user replaces them by pointing `CIBLAGE_REFERENTIEL` (or a command's
/// `--referentiel`) at a folder holding files of the same names and columns.
/// The files are `;`-separated UTF-8 text with a header line and no quoted fields.
public struct Referentiel: Sendable {
    /// Content of the `VERSION` file, recorded with everything computed from these tables.
    public let version: String
    public let natures: [String: NatureInfo]
    /// Anomaly code → French label.
    public let anomalies: [String: String]
    public let sizeBands: [SizeBand]
    public let departements: [String: DepartementInfo]
    /// Pôle code → French label.
    public let poles: [String: String]
    /// The on-site checks, in the order of the national procedures.
    public let verifications: [Verification]
    /// The folder the tables were read from.
    public let directory: URL

    /// The folder shipped with the project.
    public static var bundledDirectory: URL {
        Bundle.module.url(forResource: "Referentiel", withExtension: nil)!
    }

    /// The tables from `directory`, or else from `$CIBLAGE_REFERENTIEL`, or else the shipped ones.
    public static func load(from directory: URL? = nil) throws -> Referentiel {
        if let directory { return try Referentiel(directory: directory) }
        if let env = ProcessInfo.processInfo.environment["CIBLAGE_REFERENTIEL"], !env.isEmpty {
            return try Referentiel(directory: URL(fileURLWithPath: env))
        }
        return try Referentiel(directory: bundledDirectory)
    }

    /// The shipped tables; they are part of the build, so failing to read them is a bug.
    public static let bundled: Referentiel = {
        do { return try Referentiel(directory: bundledDirectory) } catch {
            fatalError("référentiel livré illisible : \(error)")
        }
    }()

    public init(directory: URL) throws {
        self.directory = directory
        let versionURL = directory.appendingPathComponent("VERSION")
        version =
            (try? String(contentsOf: versionURL, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "inconnue"

        var natures: [String: NatureInfo] = [:]
        for row in try Self.table(directory, "natures.csv", ["CODE", "LIBELLE", "FINANCEMENT_PSU", "ACTIVITE_HORAIRE", "PLACES_OBLIGATOIRES"]) {
            let code = row.values[0].uppercased()
            natures[code] = NatureInfo(
                code: code, libelle: row.values[1], psu: try row.bool(2),
                activiteHoraire: try row.bool(3), placesObligatoires: try row.bool(4))
        }
        self.natures = natures

        var anomalies: [String: String] = [:]
        for row in try Self.table(directory, "anomalies.csv", ["CODE", "LIBELLE"]) {
            anomalies[row.values[0].uppercased()] = row.values[1]
        }
        self.anomalies = anomalies

        var bands: [SizeBand] = []
        for row in try Self.table(directory, "tranches-taille.csv", ["CODE", "LIBELLE", "PLACES_MIN", "PLACES_MAX"]) {
            bands.append(
                SizeBand(
                    code: row.values[0], libelle: row.values[1], min: try row.int(2),
                    max: row.values[3].isEmpty ? nil : try row.int(3)))
        }
        self.sizeBands = bands.sorted { $0.min < $1.min }

        var poles: [String: String] = [:]
        for row in try Self.table(directory, "poles.csv", ["CODE", "LIBELLE"]) {
            poles[row.values[0]] = row.values[1]
        }
        self.poles = poles

        var departements: [String: DepartementInfo] = [:]
        for row in try Self.table(directory, "departements.csv", ["CODE", "REGION", "POLE"]) {
            let code = row.values[0].uppercased()
            guard poles[row.values[2]] != nil else {
                throw ReferentielError(file: row.file, line: row.line, message: "pôle inconnu « \(row.values[2]) »")
            }
            departements[code] = DepartementInfo(code: code, region: row.values[1], pole: row.values[2])
        }
        self.departements = departements

        // A user's folder from before this table: the shipped one.
        let checks = FileManager.default.fileExists(atPath: directory.appendingPathComponent("verifications.csv").path)
            ? directory : Self.bundledDirectory
        var verifications: [Verification] = []
        for row in try Self.table(checks, "verifications.csv", ["CODE", "POINT", "PIECES", "SIGNAUX"]) {
            let code = row.values[0].uppercased()
            guard anomalies[code] != nil else {
                throw ReferentielError(file: row.file, line: row.line, message: "code d'anomalie inconnu « \(row.values[0]) »")
            }
            verifications.append(
                Verification(code: code, point: row.values[1], pieces: row.values[2], signaux: row.values[3].split(separator: "|").map(String.init)))
        }
        self.verifications = verifications
    }

    /// The size band holding `places`, or `nil` when `places` is below every band.
    public func sizeBand(places: Int) -> SizeBand? {
        sizeBands.last { places >= $0.min && ($0.max.map { places <= $0 } ?? true) }
    }

    /// A département code as typed or exported: upper-cased, trimmed, and `1`…`9` read as
    /// `01`…`09` (a spreadsheet drops the leading zero). Not checked against the table.
    public static func departementCode(_ text: some StringProtocol) -> String {
        // Byte fast path for the usual short ASCII code (twice per registry row), read in place.
        if let code = text.utf8.withContiguousStorageIfAvailable(asciiDepartementCode), let code { return code }
        var code = text.trimmingCharacters(in: .whitespaces).uppercased()
        if code.count == 1, code.utf8.first.map({ $0 >= 0x31 && $0 <= 0x39 }) == true { code = "0" + code }
        return code
    }

    /// ``departementCode(_:)`` of ASCII bytes; `nil` when they are not all ASCII.
    static func asciiDepartementCode(_ utf8: UnsafeBufferPointer<UInt8>) -> String? {
        var low = 0
        var high = utf8.count
        while low < high, utf8[low] == 0x20 || utf8[low] == 0x09 { low += 1 }
        while high > low, utf8[high - 1] == 0x20 || utf8[high - 1] == 0x09 { high -= 1 }
        guard utf8[low..<high].allSatisfy({ $0 < 0x80 }) else { return nil }
        let padded = high - low == 1 && utf8[low] >= 0x31 && utf8[low] <= 0x39
        return String(unsafeUninitializedCapacity: high - low + 1) { out in
            var n = 0
            if padded {
                out[0] = 0x30
                n = 1
            }
            for b in utf8[low..<high] {
                out[n] = b.asciiUppercased
                n += 1
            }
            return n
        }
    }

    /// The département code an INSEE commune code starts with: three characters overseas
    /// (`97x`), two otherwise (`2A`, `2B`, `01`…`95`).
    public static func departementOfCommune(_ commune: String) -> String {
        commune.hasPrefix("97") ? String(commune.prefix(3)) : String(commune.prefix(2))
    }

    // MARK: Reading the files

    struct Row {
        let file: String
        let line: Int
        let values: [String]

        func bool(_ i: Int) throws -> Bool {
            switch values[i].uppercased() {
            case "O", "OUI", "1": return true
            case "N", "NON", "0", "": return false
            default: throw ReferentielError(file: file, line: line, message: "booléen attendu : « \(values[i]) »")
            }
        }

        func int(_ i: Int) throws -> Int {
            guard let v = Int(values[i]) else {
                throw ReferentielError(file: file, line: line, message: "entier attendu : « \(values[i]) »")
            }
            return v
        }
    }

    static func table(_ directory: URL, _ name: String, _ columns: [String]) throws -> [Row] {
        let url = directory.appendingPathComponent(name)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ReferentielError(file: url.path, line: 0, message: "fichier de référence illisible")
        }
        var rows: [Row] = []
        var header: [String]?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let values = line.split(separator: ";", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard let header else {
                guard values.map({ $0.uppercased() }) == columns else {
                    throw ReferentielError(
                        file: url.path, line: index + 1,
                        message: "en-tête attendu « \(columns.joined(separator: ";")) »")
                }
                header = values
                continue
            }
            guard values.count == header.count else {
                throw ReferentielError(
                    file: url.path, line: index + 1,
                    message: "\(header.count) champs attendus, \(values.count) trouvés")
            }
            rows.append(Row(file: url.path, line: index + 1, values: values))
        }
        return rows
    }
}
