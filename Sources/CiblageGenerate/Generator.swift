import CiblageModel
import Foundation

/// What to generate.
public struct GeneratorConfiguration: Sendable {
    /// Number of equipments (valid registry rows).
    public var equipements: Int
    /// Exercices declared (calendar years).
    public var exercices: ClosedRange<Int>
    public var seed: UInt64
    /// Share of extra malformed rows injected after valid ones (0.003 = 0.3 %).
    public var malformedRate: Double
    /// Cafs whose declarations are exported as XML instead of CSV.
    public var xmlCafs: Set<String>
    /// The mechanisms of the world (``Profile``).
    public var profile: Profile
    /// Cafs (département codes) the world is made of; empty for every département of the
    /// referential. A few complete Cafs make a demo whose plans look like a real campaign.
    public var cafs: [String]

    /// Worlds whose mechanisms differ, so that a ranking is measured on more than one kind of
    /// world (never tuned to one).
    public enum Profile: String, CaseIterable, Sendable {
        /// The reference world.
        case standard
        /// Indus unrelated to funding or size: log-normal around 6 000 €, whatever the equipment.
        case indusIndependants = "indus-independants"
        /// Many micro-crèches PAJE (no Caf funding: families receive the CMG).
        case paje
        /// Few random controls (a tenth of the reference share).
        case peuAleatoires = "peu-aleatoires"
        /// Anomalies that leave no trace in the declarations: only the history and the manager
        /// tell them.
        case sansTrace = "sans-trace"
    }

    public init(
        equipements: Int = 2000, exercices: ClosedRange<Int> = 2021...2024, seed: UInt64 = 1,
        malformedRate: Double = 0.003, xmlCafs: Set<String> = ["66", "971"], profile: Profile = .standard,
        cafs: [String] = []
    ) {
        self.cafs = cafs
        self.equipements = equipements
        self.exercices = exercices
        self.seed = seed
        self.malformedRate = malformedRate
        self.xmlCafs = xmlCafs
        self.profile = profile
    }
}

/// One generated file and what its ingestion must give.
public struct GeneratedFile: Sendable {
    /// Path relative to the output folder.
    public var path: String
    /// Records written (header excluded).
    public var records: Int
    /// Records that must be rejected.
    public var expectedRejected: Int
    /// `true` for a second delivery of an identical file: it must be skipped whole.
    public var duplicateDelivery: Bool
}

/// What a generation wrote.
public struct GenerationSummary: Sendable {
    public var files: [GeneratedFile] = []
    public var equipements = 0
    public var declarations = 0
    public var controles = 0
    public var projets = 0
    public var anomalousEquipmentYears = 0
    public var managers = 0
}

/// Writes realistic synthetic exports (registry, declarations in CSV and XML, control outcomes)
/// with the quirks of `exports.md`, a share of malformed rows, and the ground truth:
///
/// - `exports/`: what upstream systems would deliver;
/// - `verite/rejets-attendus.csv`: every record that must be rejected (`FICHIER;LIGNE;MOTIF_INJECTE`);
/// - `verite/anomalies.csv`: every equipment-year carrying an injected anomaly, with the indu an
///   on-site control would find, euros, and how visible it is in the data (0 to 1);
/// - `verite/gestionnaires.csv`: each manager's latent risk;
/// - `verite/resume.json`: counts per file and per table, and ``outputVersion``.
///
/// Everything is drawn from ``SeededRandom``: the same configuration gives byte-identical files.
public struct Generator {
    public let configuration: GeneratorConfiguration
    public let referentiel: Referentiel

    /// The version of what the generator writes, raised whenever one configuration no longer
    /// gives the same set (a file added, a column, another draw). 2: `projets.csv` in every set.
    public static let outputVersion = 2

    /// Whether `folder` holds a set written whole by this version of the generator: its
    /// `verite/resume.json` (written last) names ``outputVersion``. A set cached by an older
    /// generator is not taken for a current one (the national set of the benchmarks once lacked
    /// `projets.csv` that way, and its figures with it).
    public static func holdsCurrentSet(_ folder: URL) -> Bool {
        guard let text = try? String(contentsOf: folder.appendingPathComponent("verite/resume.json"), encoding: .utf8)
        else { return false }
        return text.contains("\"version_generateur\": \(outputVersion),")
    }

    public init(configuration: GeneratorConfiguration, referentiel: Referentiel = .bundled) {
        self.configuration = configuration
        self.referentiel = referentiel
    }

    struct ExpectedReject {
        var file: String
        var line: Int
        var motif: String
    }

    struct YearInfo {
        var open: Bool
        var anomalies: [InjectedAnomaly] = []
        /// How much a crude rule-based targeting would notice this equipment-year (0 to 1).
        var visibleSignal = 0.0
    }

    public func write(to directory: URL) throws -> GenerationSummary {
        let config = configuration
        var world = WorldBuilder(config: config, referentiel: referentiel)
        var managers = world.managers()
        let equips = world.equipments(&managers)
        var quirks = SeededRandom(seed: config.seed).derived("bizarreries")
        var bad = SeededRandom(seed: config.seed).derived("malformations")
        let exports = directory.appendingPathComponent("exports")
        let truth = directory.appendingPathComponent("verite")
        try? FileManager.default.removeItem(at: exports)
        try? FileManager.default.removeItem(at: truth)
        var expected: [ExpectedReject] = []
        var summary = GenerationSummary()
        summary.managers = managers.count

        // Registry: Windows-1252, CRLF, quoted names, lower-case codes, trailing blank lines.
        let registry = try ExportFileWriter(url: exports.appendingPathComponent("equipements.csv"), encoding: .windows1252, crlf: true)
        registry.row(ExportColumns.equipements.map(\.name))
        for e in equips {
            let m = managers[e.manager]
            let nature = quirks.chance(0.03) ? e.nature.lowercased() : e.nature
            let statut = quirks.chance(0.03) ? m.statut.rawValue.lowercased() : m.statut.rawValue
            let date: (CalendarDate?) -> String = { d in
                guard let d else { return "" }
                return quirks.chance(0.05) ? d.iso : d.french
            }
            registry.row([
                e.nDossier, e.nom, nature, e.siret, m.siren, m.nom, statut, m.siege, e.caf, e.commune,
                e.places.map(String.init) ?? "", date(e.ouverture), date(e.fermeture),
                e.qpv ? "O" : "N", e.zrr ? (quirks.chance(0.5) ? "oui" : "O") : "", e.ctg ? "1" : "0",
            ])
            if bad.chance(config.malformedRate) {
                let (text, motif) = malformedEquipment(e, m, &bad)
                expected.append(ExpectedReject(file: "equipements.csv", line: registry.raw(text), motif: motif))
            }
        }
        registry.blankLines(2)
        try registry.close()
        summary.equipements = equips.count
        summary.files.append(GeneratedFile(path: "exports/equipements.csv", records: registry.records - 1, expectedRejected: expected.count, duplicateDelivery: false))

        // Declarations, one file per exercice (and one XML file per exercice and XML Caf).
        var years: [[YearInfo]] = Array(repeating: [], count: equips.count)
        var anomalyRows: [String] = []
        let header = ExportColumns.declarations.map(\.name)
        for year in config.exercices {
            let utf8 = year % 2 == 0
            let name = "declarations-\(year).csv"
            let csv = try ExportFileWriter(
                url: exports.appendingPathComponent(name), encoding: utf8 ? .utf8WithBOM : .windows1252, crlf: utf8)
            csv.row(header)
            var fileStyle = NumberStyle()
            fileStyle.grouping = utf8 ? .narrowNoBreakSpace : .noBreakSpace
            var xmlWriters: [String: XMLExportWriter] = [:]
            for (index, e) in equips.enumerated() {
                guard e.isOpen(during: year) else {
                    years[index].append(YearInfo(open: false))
                    continue
                }
                let base = world.baseFigures(e, year: year)
                var ey = world.anomalies(e, managers[e.manager], base: base, year: year)
                world.fund(&ey.reel, e, year: year)
                var declarations: [(NatureDeclaration, CalendarDate, DeclarationFigures)] = []
                var prev = world.perturbed(base, noise: 0.06)
                world.fund(&prev, e, year: year)
                declarations.append((.previsionnel, CalendarDate(year: year, month: world.rng.int(1...2), day: world.rng.int(10...28))!, prev))
                var act = world.perturbed(base, noise: 0.03)
                world.fund(&act, e, year: year)
                declarations.append((.actualise, CalendarDate(year: year, month: 7, day: world.rng.int(1...20))!, act))
                if world.rng.chance(0.95) {
                    var act2 = world.perturbed(base, noise: 0.015)
                    world.fund(&act2, e, year: year)
                    declarations.append((.actualise, CalendarDate(year: year, month: 10, day: world.rng.int(1...20))!, act2))
                }
                if let date = ey.reelDate {
                    // Some réels are filed twice: a first version, then a rectificatif (the later one is current).
                    if world.rng.chance(0.12), date.month <= 9 {
                        var first = world.perturbed(ey.reel, noise: 0.02)
                        world.fund(&first, e, year: year)
                        declarations.append((.reel, CalendarDate(dayNumber: date.dayNumber - world.rng.int(20...60)), first))
                    }
                    declarations.append((.reel, date, ey.reel))
                }
                years[index].append(YearInfo(open: true, anomalies: ey.anomalies, visibleSignal: visibleSignal(ey, e)))
                if !ey.anomalies.isEmpty {
                    summary.anomalousEquipmentYears += 1
                    let total = ey.anomalies.reduce(0) { $0 + $1.indu }
                    let visibility = ey.anomalies.map(\.visibility).max() ?? 0
                    anomalyRows.append(
                        "\(e.nDossier);\(year);\(ey.anomalies.map(\.code).joined(separator: "|"));\(NumberStyle().format(total, decimals: 2));\(NumberStyle().format(visibility, decimals: 3))")
                }
                if config.xmlCafs.contains(e.caf) {
                    let writer = try xmlWriters[e.caf] ?? XMLExportWriter(
                        url: exports.appendingPathComponent("declarations-\(year)-caf\(e.caf).xml"), caf: e.caf,
                        exportDate: CalendarDate(year: year + 1, month: 11, day: 2)!)
                    xmlWriters[e.caf] = writer
                    for (nature, date, figures) in declarations {
                        writer.declaration(e.nDossier, year, nature.code, date.iso, figures)
                        summary.declarations += 1
                        if bad.chance(config.malformedRate * 3) {
                            let (line, motif) = malformedXML(writer, e, year, &bad)
                            expected.append(ExpectedReject(file: writer.url.lastPathComponent, line: line, motif: motif))
                        }
                    }
                    continue
                }
                for (nature, date, figures) in declarations {
                    var style = fileStyle
                    if quirks.chance(0.3) { style.grouping = .none }
                    if quirks.chance(0.05) { style.decimalDot = true }
                    if quirks.chance(0.03) { style.paddedWithSpaces = true }
                    let natureCode = quirks.chance(0.05) ? nature.code.lowercased() : nature.code
                    let dateText = quirks.chance(0.05) ? date.iso : date.french
                    csv.row(declarationFields(e.nDossier, year, natureCode, dateText, figures, style))
                    summary.declarations += 1
                    if bad.chance(config.malformedRate) {
                        for (text, motif) in malformedDeclaration(e, year, figures, &bad) {
                            expected.append(ExpectedReject(file: name, line: csv.raw(text), motif: motif))
                        }
                    }
                }
            }
            // Trailing blank lines on even years; no final line end on odd years.
            if utf8 { csv.blankLines(2) }
            try csv.close(dropFinalLineEnd: !utf8)
            summary.files.append(
                GeneratedFile(
                    path: "exports/\(name)", records: csv.records - 1,
                    expectedRejected: expected.filter { $0.file == name }.count, duplicateDelivery: false))
            for caf in xmlWriters.keys.sorted() {
                let writer = xmlWriters[caf]!
                try writer.close()
                summary.files.append(
                    GeneratedFile(
                        path: "exports/\(writer.url.lastPathComponent)", records: writer.elements,
                        expectedRejected: expected.filter { $0.file == writer.url.lastPathComponent }.count,
                        duplicateDelivery: false))
            }
        }

        // The last exercice's file delivered a second time, identical: it must be skipped.
        let last = "declarations-\(config.exercices.upperBound).csv"
        let again = exports.appendingPathComponent("livraison-2").appendingPathComponent(last)
        try FileManager.default.createDirectory(at: again.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: exports.appendingPathComponent(last), to: again)
        let lastRecords = summary.files.first { $0.path == "exports/\(last)" }!.records
        summary.files.append(GeneratedFile(path: "exports/livraison-2/\(last)", records: lastRecords, expectedRejected: 0, duplicateDelivery: true))

        try writeControls(equips, managers, years, exports, &expected, &summary)
        let projectTruth = try writeProjects(managers, exports, &expected, &summary)

        // Ground truth.
        try FileManager.default.createDirectory(at: truth, withIntermediateDirectories: true)
        var rejectsText = "FICHIER;LIGNE;MOTIF_INJECTE\n"
        for r in expected { rejectsText += "\(r.file);\(r.line);\(r.motif)\n" }
        try rejectsText.write(to: truth.appendingPathComponent("rejets-attendus.csv"), atomically: true, encoding: .utf8)
        try ("N_DOSSIER;EXERCICE;ANOMALIES;INDU;VISIBILITE\n" + anomalyRows.joined(separator: "\n") + "\n")
            .write(to: truth.appendingPathComponent("anomalies.csv"), atomically: true, encoding: .utf8)
        var managerText = "SIREN;STATUT;NB_EQUIPEMENTS;NB_DEPARTEMENTS;RISQUE\n"
        for m in managers {
            managerText += "\(m.siren);\(m.statut.rawValue);\(m.equipmentCount);\(m.departements.count);\(NumberStyle().format(m.risk, decimals: 3))\n"
        }
        try managerText.write(to: truth.appendingPathComponent("gestionnaires.csv"), atomically: true, encoding: .utf8)
        try projectTruth.write(to: truth.appendingPathComponent("projets.csv"), atomically: true, encoding: .utf8)
        try resumeJSON(summary).write(to: truth.appendingPathComponent("resume.json"), atomically: true, encoding: .utf8)
        return summary
    }

    /// How much crude rules (taux de facturation, occupation, round numbers, late réel) see.
    func visibleSignal(_ ey: EquipYear, _ e: Equip) -> Double {
        var signal = 0.0
        if let f = ey.reel.heuresFacturees, let r = ey.reel.heuresRealisees, r > 0 {
            if f / r > 1.17 { signal += 0.5 } else if f / r > 1.12 { signal += 0.2 }
            if let places = e.places, let h = ey.reel.heuresOuverture, h > 0, r / (Double(places) * h) > 0.9 { signal += 0.3 }
        }
        if ey.roundNumbers { signal += 0.2 }
        if let d = ey.reelDate, d.month >= 7 { signal += 0.2 }
        return min(1, signal)
    }

    func declarationFields(
        _ nDossier: String, _ year: Int, _ nature: String, _ date: String, _ f: DeclarationFigures, _ s: NumberStyle
    ) -> [String] {
        [
            nDossier, String(year), nature, date, f.places.map(String.init) ?? "", f.joursOuverture.map(String.init) ?? "",
            s.format(f.heuresOuverture, decimals: 1), s.format(f.heuresRealisees, decimals: 1),
            s.format(f.heuresFacturees, decimals: 1), f.nbEnfants.map(String.init) ?? "",
            s.format(f.totalCharges, decimals: 2), s.format(f.chargesPersonnel, decimals: 2),
            s.format(f.totalProduits, decimals: 2), s.format(f.participationsFamilles, decimals: 2),
            s.format(f.prestationCaf, decimals: 2), s.format(f.bonusCaf, decimals: 2),
            s.format(f.subventionsCollectivites, decimals: 2), s.format(f.etp, decimals: 1),
        ]
    }

    func resumeJSON(_ s: GenerationSummary) -> String {
        let files = s.files.map {
            "    {\"fichier\": \"\($0.path)\", \"enregistrements\": \($0.records), \"rejets_attendus\": \($0.expectedRejected), \"doublon_de_livraison\": \($0.duplicateDelivery)}"
        }
        return """
            {
              "version_generateur": \(Self.outputVersion),
              "graine": \(configuration.seed),
              "equipements": \(s.equipements),
              "gestionnaires": \(s.managers),
              "declarations": \(s.declarations),
              "controles": \(s.controles),
              "projets": \(s.projets),
              "equipements_annees_en_anomalie": \(s.anomalousEquipmentYears),
              "fichiers": [
            \(files.joined(separator: ",\n"))
              ]
            }

            """
    }
}
