import CiblageModel
import Foundation
import XCTest

@testable import CiblageGenerate

final class GeneratorTests: XCTestCase {
    func generate(seed: UInt64, equipements: Int = 300) throws -> (URL, GenerationSummary) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID().uuidString)")
        let summary = try Generator(configuration: GeneratorConfiguration(equipements: equipements, seed: seed))
            .write(to: folder)
        return (folder, summary)
    }

    func contents(_ folder: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)!
        while let url = enumerator.nextObject() as? URL {
            if let data = try? Data(contentsOf: url), !url.hasDirectoryPath {
                files[url.path.replacingOccurrences(of: folder.path, with: "")] = data
            }
        }
        return files
    }

    /// `--cafs`: every equipment in the Cafs asked for, and some managers in several of them
    /// (the multi-departmental plan has groups to choose from).
    func testAWorldOfAFewCafsHasThemCompleteAndGroupsAcrossThem() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try Generator(configuration: GeneratorConfiguration(equipements: 600, seed: 9, malformedRate: 0, xmlCafs: ["66"], cafs: ["34", "66", "75"]))
            .write(to: folder)
        let text = try String(contentsOf: folder.appendingPathComponent("exports/equipements.csv"), encoding: .windowsCP1252)
        let rows = text.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }.map { $0.components(separatedBy: ";") }
        let header = text.components(separatedBy: "\r\n")[0].components(separatedBy: ";")
        let caf = try XCTUnwrap(header.firstIndex(of: "CAF")), siren = try XCTUnwrap(header.firstIndex(of: "SIREN_GESTIONNAIRE"))
        XCTAssertEqual(rows.count, 600)
        XCTAssertEqual(Set(rows.map { $0[caf] }), ["34", "66", "75"])
        let cafsBySiren = Dictionary(grouping: rows, by: { $0[siren] }).mapValues { Set($0.map { $0[caf] }) }
        XCTAssertGreaterThanOrEqual(cafsBySiren.values.filter { $0.count >= 2 }.count, 3, "managers present in several Cafs")
        let xml = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("exports").path).filter { $0.hasSuffix(".xml") }
        XCTAssertEqual(Set(xml.map { $0.components(separatedBy: "-caf").last! }), ["66.xml"])
    }

    func testASetWrittenByAnOlderGeneratorIsNotTakenForACurrentOne() throws {
        let (folder, _) = try generate(seed: 5, equipements: 120)
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertTrue(Generator.holdsCurrentSet(folder))
        let resume = folder.appendingPathComponent("verite/resume.json")
        let text = try String(contentsOf: resume, encoding: .utf8)
        // As an older generator wrote it: without the version.
        let older = text.replacingOccurrences(of: "\"version_generateur\": \(Generator.outputVersion),", with: "")
        XCTAssertNotEqual(older, text)
        try older.write(to: resume, atomically: true, encoding: .utf8)
        XCTAssertFalse(Generator.holdsCurrentSet(folder))
        try FileManager.default.removeItem(at: resume)
        XCTAssertFalse(Generator.holdsCurrentSet(folder), "a set whose writing stopped before its summary")
    }

    func testTheSameSeedGivesByteIdenticalFiles() throws {
        let (a, _) = try generate(seed: 42)
        let (b, _) = try generate(seed: 42)
        let (c, _) = try generate(seed: 43)
        defer { for f in [a, b, c] { try? FileManager.default.removeItem(at: f) } }
        let first = try contents(a)
        XCTAssertGreaterThan(first.count, 8)
        XCTAssertEqual(first, try contents(b))
        XCTAssertNotEqual(first["/exports/declarations-2024.csv"], try contents(c)["/exports/declarations-2024.csv"])
    }

    func testWritesTheQuirksOfRealExports() throws {
        let (folder, _) = try generate(seed: 5)
        defer { try? FileManager.default.removeItem(at: folder) }
        let exports = folder.appendingPathComponent("exports")
        let registry = try Data(contentsOf: exports.appendingPathComponent("equipements.csv"))
        XCTAssertNil(String(data: registry, encoding: .utf8), "the registry is Windows-1252")
        XCTAssertTrue(registry.contains(0x0D), "CRLF")
        let even = try Data(contentsOf: exports.appendingPathComponent("declarations-2024.csv"))
        XCTAssertEqual(Array(even.prefix(3)), [0xEF, 0xBB, 0xBF], "UTF-8 with BOM")
        XCTAssertTrue(String(decoding: even, as: UTF8.self).contains("\u{202F}"), "narrow no-break space groups thousands")
        let odd = try Data(contentsOf: exports.appendingPathComponent("declarations-2023.csv"))
        XCTAssertNotEqual(odd.last, 0x0A, "last line without line end")
        XCTAssertTrue(FileManager.default.fileExists(atPath: exports.appendingPathComponent("livraison-2/declarations-2024.csv").path))
        let complement = try String(contentsOf: exports.appendingPathComponent("controles-complement.csv"), encoding: .utf8)
        XCTAssertTrue(complement.hasSuffix(";CIB"), "a file cut short in transfer")
    }

    func testTheWorldHasTheOrdersOfMagnitudeOfDomainMd() throws {
        let configuration = GeneratorConfiguration(equipements: 4000, seed: 3)
        var world = WorldBuilder(config: configuration, referentiel: .bundled)
        var managers = world.managers()
        let equips = world.equipments(&managers)
        XCTAssertEqual(equips.count, 4000)
        var occupation: [Double] = []
        var taux: [Double] = []
        var costPerHour: [Double] = []
        var costPerPlace: [Double] = []
        for e in equips where e.nature == "EAJE_COLLECTIF" {
            var f = world.baseFigures(e, year: 2022)
            world.fund(&f, e, year: 2022)
            let places = Double(e.places!)
            occupation.append(f.heuresRealisees! / (places * f.heuresOuverture!))
            taux.append(f.heuresFacturees! / f.heuresRealisees!)
            costPerHour.append(f.totalCharges! / f.heuresRealisees!)
            costPerPlace.append(f.totalCharges! / places)
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        XCTAssertEqual(median(occupation), 0.70, accuracy: 0.03)
        XCTAssertEqual(median(taux), 1.10, accuracy: 0.02)
        XCTAssertEqual(median(costPerHour), 10.5, accuracy: 1.5)
        XCTAssertEqual(median(costPerPlace), 17_500, accuracy: 3_000)
        // Managers range from single communes to groups present in many départements.
        XCTAssertGreaterThan(managers.map(\.departements.count).max()!, 5)
        XCTAssertGreaterThan(managers.filter { $0.equipmentCount == 1 }.count, managers.count / 5)
    }

    func testSomeManagersAreFarRiskierThanOthers() throws {
        var world = WorldBuilder(config: GeneratorConfiguration(equipements: 3000, seed: 9), referentiel: .bundled)
        let risks = world.managers().map(\.risk).sorted()
        XCTAssertGreaterThan(risks[risks.count * 95 / 100] - risks[risks.count / 2], 1.0)
    }

    func testSeededRandomIsStableAcrossRuns() {
        var a = SeededRandom(seed: 1)
        XCTAssertEqual(a.next(), 0x910A_2DEC_8902_5CC1, "SplitMix64 reference value for seed 1")
        var b = SeededRandom(seed: 1).derived("x")
        var c = SeededRandom(seed: 1).derived("y")
        XCTAssertNotEqual(b.next(), c.next())
        var d = SeededRandom(seed: 2)
        for _ in 0..<1000 {
            let v = d.int(3...7)
            XCTAssertTrue((3...7).contains(v))
        }
    }
}
