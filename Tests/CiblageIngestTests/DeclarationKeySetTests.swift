@testable import CiblageIngest
import CiblageModel
import CiblageStore
import XCTest

final class DeclarationKeySetTests: XCTestCase {
    /// Keys that differ in one part only (id, exercice, nature, year, month or day of filing),
    /// enough of them for the table to grow several times: each is new once, then met again.
    func testTellsEveryKeyMetAgainThroughGrowth() {
        var keys: [DeclarationKey] = []
        for id in Int64(1)...4_000 {
            for exercice in [2023, 2024] {
                for nature in NatureDeclaration.allCases {
                    for date in [20_240_131, 20_240_201, 20_250_131, 20_241_231] {
                        keys.append(DeclarationKey(equipementId: id, exercice: exercice, nature: nature, dateDepot: date))
                    }
                }
            }
        }
        var set = DeclarationKeySet(expected: 10)
        var reference = Set<DeclarationKey>()
        for key in keys { XCTAssertEqual(set.insert(key), reference.insert(key).inserted) }
        XCTAssertEqual(reference.count, keys.count)
        let absent = DeclarationKey(equipementId: 4_001, exercice: 2024, nature: .reel, dateDepot: 20_250_131)
        XCTAssertFalse(set.contains(absent))
        XCTAssertTrue(keys.allSatisfy { set.contains($0) })
        for key in keys.reversed() { XCTAssertFalse(set.insert(key), "\(key)") }
    }

    /// An id past 2³⁷ or a year the packing does not hold still counts once.
    func testKeysThatDoNotPackAreStillTold() {
        let huge = DeclarationKey(equipementId: 1 << 40, exercice: 2024, nature: .reel, dateDepot: 20_250_131)
        let farYear = DeclarationKey(equipementId: 7, exercice: 2024, nature: .reel, dateDepot: 23_000_131)
        let near = DeclarationKey(equipementId: 7, exercice: 2024, nature: .reel, dateDepot: 20_250_131)
        XCTAssertNil(DeclarationKeySet.pack(huge))
        XCTAssertNil(DeclarationKeySet.pack(farYear))
        var set = DeclarationKeySet()
        XCTAssertTrue(set.insert(huge))
        XCTAssertTrue(set.insert(farYear))
        XCTAssertTrue(set.insert(near))
        XCTAssertFalse(set.insert(huge))
        XCTAssertFalse(set.insert(farYear))
        XCTAssertFalse(set.insert(near))
        XCTAssertTrue(set.contains(huge) && set.contains(farYear))
        XCTAssertFalse(set.contains(DeclarationKey(equipementId: 1 << 41, exercice: 2024, nature: .reel, dateDepot: 20_250_131)))
    }
}
