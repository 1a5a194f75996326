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
}
