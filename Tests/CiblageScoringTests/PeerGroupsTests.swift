import CiblageModel
import XCTest

@testable import CiblageScoring

final class PeerGroupsTests: XCTestCase {
    func testMedianAndScaledMADOnKnownVectors() throws {
        // 1 2 3 4 100: median 3, deviations 2 1 0 1 97 → MAD 1.
        let odd = try XCTUnwrap(RobustStats([100, 2, 4, 1, 3]))
        XCTAssertEqual(odd.median, 3)
        XCTAssertEqual(odd.scaledMAD, 1.4826, accuracy: 1e-12)
        // 1 2 3 4: median 2.5, deviations 1.5 0.5 0.5 1.5 → MAD 1.
        let even = try XCTUnwrap(RobustStats([4, 1, 3, 2]))
        XCTAssertEqual(even.median, 2.5)
        XCTAssertEqual(even.scaledMAD, 1.4826, accuracy: 1e-12)
        XCTAssertNil(RobustStats([]))
    }

    func testRobustZIsUndefinedWhenTheGroupDoesNotVary() throws {
        let flat = try XCTUnwrap(RobustStats([5, 5, 5, 9]))
        XCTAssertEqual(flat.scaledMAD, 0)
        XCTAssertNil(flat.robustZ(9))
        let varied = try XCTUnwrap(RobustStats([100, 2, 4, 1, 3]))
        XCTAssertEqual(varied.robustZ(100)!, 97 / 1.4826, accuracy: 1e-9, "one outlier does not hide itself")
    }

    func testSmallCellsFallBackToTheNatureThenToAll() {
        var values: [(nature: String, band: String?, value: Double)] = []
        for i in 0..<25 { values.append(("EAJE_COLLECTIF", "T25_40", Double(10 + i % 5))) }
        for i in 0..<3 { values.append(("EAJE_COLLECTIF", "T61_PLUS", Double(20 + i))) }
        for i in 0..<4 { values.append(("LAEP", nil, Double(i))) }
        let groups = PeerGroups(values, minimumCount: 20)
        XCTAssertEqual(groups.stats(nature: "EAJE_COLLECTIF", band: "T25_40")?.level, .natureTaille)
        XCTAssertEqual(groups.stats(nature: "EAJE_COLLECTIF", band: "T25_40")?.stats.count, 25)
        XCTAssertEqual(groups.stats(nature: "EAJE_COLLECTIF", band: "T61_PLUS")?.level, .nature)
        XCTAssertEqual(groups.stats(nature: "EAJE_COLLECTIF", band: "T61_PLUS")?.stats.count, 28)
        XCTAssertEqual(groups.stats(nature: "LAEP", band: nil)?.level, .national)
        XCTAssertEqual(groups.stats(nature: "LAEP", band: nil)?.stats.count, 32)
    }

    /// Groups filled by number (``PeerGrouping``) hold what a plain filter by nature and band
    /// gives: every finite value of the cell, of the nature, of all; missing (NaN) and infinite
    /// values in none; the same statistics whatever the order of first appearance.
    func testGroupsHoldEveryFiniteValueOfTheirCellNatureAndCountry() throws {
        var random = SeededRandom(seed: 42)
        let natures = ["EAJE_COLLECTIF", "MAM", "LAEP"]
        let bands: [String?] = ["T0_10", "T11_24", nil]
        var rows: [(nature: String, band: String?, value: Double)] = []
        for _ in 0..<3_000 {
            let value = random.int(0...19) == 0 ? [Double.nan, .infinity, -.infinity][random.int(0...2)] : random.uniform(0...50)
            rows.append((natures[random.int(0...2)], bands[random.int(0...2)], value))
        }
        let groups = PeerGroups(rows, minimumCount: 1)
        func reference(_ keep: ((nature: String, band: String?, value: Double)) -> Bool) -> RobustStats? {
            RobustStats(rows.filter { $0.value.isFinite && keep($0) }.map(\.value))
        }
        for nature in natures {
            for band in bands {
                let found = try XCTUnwrap(groups.stats(nature: nature, band: band))
                if let band {
                    XCTAssertEqual(found.level, .natureTaille)
                    XCTAssertEqual(found.stats, reference { $0.nature == nature && $0.band == band }, "\(nature) \(band)")
                } else {
                    XCTAssertEqual(found.level, .nature)
                    XCTAssertEqual(found.stats, reference { $0.nature == nature }, nature)
                }
            }
        }
        XCTAssertEqual(groups.stats(nature: "RPE", band: nil)?.stats, reference { _ in true })
        XCTAssertEqual(groups.stats(nature: "RPE", band: nil)?.level, .national)
        // The indicators' table gives each of its six groups from one pass: the cost per hour's.
        var years: [EquipmentYear] = []
        for (k, row) in rows.enumerated() {
            var i = EquipmentIndicators(
                equipementId: Int64(k), exercice: 2024, source: .reel, places: 10, reelManquant: false, chiffresRonds: 0,
                chiffresExamines: 0, controlesPasses: 0, anomaliesPassees: 0, indusPasses: 0, enjeuEuros: 0)
            i.coutHeure = row.value.isNaN ? nil : row.value
            years.append(EquipmentYear(indicators: i, packedDigits: 0))
        }
        let table = PeerTable(years, cells: rows.map { ($0.nature, $0.band) })
        for nature in natures {
            XCTAssertEqual(table.coutHeure.stats(nature: nature, band: "T0_10")?.stats, groups.stats(nature: nature, band: "T0_10")?.stats)
        }
        XCTAssertNil(table.occupation.stats(nature: "MAM", band: "T0_10"), "no value, no group")
    }

    /// An equipment's group found by its numbers in the table is the one its codes find, at every
    /// level (cell, nature when the cell is small, all when the nature is), and an equipment
    /// asked under another nature than the one it was grouped under is found by its codes.
    func testTheGroupFoundByAnEquipmentsNumbersIsTheOneItsCodesFind() throws {
        var random = SeededRandom(seed: 7)
        let natures = ["EAJE_COLLECTIF", "MAM", "LAEP", "RPE"]
        let bands: [String?] = ["T0_10", "T11_24", "T25_40", nil]
        var rows: [(nature: String, band: String?)] = []
        var years: [EquipmentYear] = []
        for k in 0..<600 {
            // RPE is rare (its cells and its nature fall back to all), MAM × T25_40 too (it falls
            // back to the MAM).
            let nature = random.int(0...30) == 0 ? "RPE" : natures[random.int(0...2)]
            let band = nature == "MAM" ? (random.int(0...20) == 0 ? "T25_40" : "T11_24") : bands[random.int(0...3)]
            rows.append((nature, band))
            var i = EquipmentIndicators(
                equipementId: Int64(k), exercice: 2024, source: .reel, places: 10, reelManquant: false, chiffresRonds: 0,
                chiffresExamines: 0, controlesPasses: 0, anomaliesPassees: 0, indusPasses: 0, enjeuEuros: 0)
            i.coutPlace = random.int(0...9) == 0 ? nil : random.uniform(1000...30000)
            years.append(EquipmentYear(indicators: i, packedDigits: 0))
        }
        let table = PeerTable(years, cells: rows)
        var levels = Set<PeerLevel>()
        for (k, row) in rows.enumerated() {
            let byCodes = table.coutPlace.stats(nature: row.nature, band: row.band)
            if let level = byCodes?.level { levels.insert(level) }
            XCTAssertEqual(table.stats(table.coutPlace, at: k, nature: row.nature, band: row.band), byCodes?.stats, "équipement \(k)")
            let other = row.nature == "MAM" ? "LAEP" : "MAM"
            XCTAssertEqual(
                table.stats(table.coutPlace, at: k, nature: other, band: row.band),
                table.coutPlace.stats(nature: other, band: row.band)?.stats, "équipement \(k) sous une autre nature")
        }
        XCTAssertEqual(levels, [.natureTaille, .nature, .national], "every level was reached")
    }
}
