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

    /// Keys met in every order a file may have: by rising equipment (the exports' own), by
    /// falling equipment, one equipment repeated past its short list, and random jumps back to
    /// equipments met before; each answer is the one a `Set` gives, for `insert` and `contains`.
    func testAnswersAsASetWhateverTheOrderOfTheFile() {
        var random = SeededRandom(seed: 20_261_202)
        func key(_ id: Int64, _ n: Int) -> DeclarationKey {
            DeclarationKey(
                equipementId: id, exercice: 2023 + n % 2, nature: NatureDeclaration.allCases[n / 2 % 3],
                dateDepot: 20_240_101 + n / 6 % 28)
        }
        var orders: [[DeclarationKey]] = []
        // Rising, each equipment's keys in any order, some repeated at once.
        orders.append((1...2_000).flatMap { id in [3, 0, 5, 1, 1, 4].map { key(Int64(id), $0) } })
        // Falling.
        orders.append((1...2_000).reversed().flatMap { id in (0..<4).map { key(Int64(id), $0) } })
        // One equipment repeated far past its short list, met again after another.
        let long = (0..<150).map { key(7, $0) }
        orders.append(long + [key(8, 0)] + long.reversed() + [key(9, 1), key(7, 3), key(8, 0)])
        // Rising runs broken by jumps back to any equipment met before.
        var mixed: [DeclarationKey] = []
        for id in Int64(1)...3_000 {
            for n in 0..<3 { mixed.append(key(id, n)) }
            if random.int(0...9) == 0 {
                mixed.append(key(Int64(random.int(1...Int(id))), random.int(0...7)))
            }
        }
        orders.append(mixed)
        // Windows sorted by key, as ``KeyOrderWindow`` hands a shuffled file over: rising runs of
        // hundreds of keys drawn anywhere, each starting again from the lowest ids, some keys met
        // in an earlier window.
        func windows(_ sizes: [Int]) -> [DeclarationKey] {
            sizes.flatMap { size in
                (0..<size).map { _ in key(Int64(random.int(1...2_500)), random.int(0...11)) }
                    .sorted { ($0.equipementId, $0.exercice, $0.nature.rawValue, $0.dateDepot) < ($1.equipementId, $1.exercice, $1.nature.rawValue, $1.dateDepot) }
            }
        }
        orders.append(windows([300, 600, 1_200, 2_400, 2_400, 2_400]))
        // Short runs, just long enough to start a new one, after a long one: kept in the table.
        orders.append(windows([3_000] + Array(repeating: 40, count: 60) + [2_000]))
        for (k, keys) in orders.enumerated() {
            var set = DeclarationKeySet(expected: 10)
            var reference = Set<DeclarationKey>()
            for probe in keys {
                XCTAssertEqual(set.contains(probe), reference.contains(probe), "ordre \(k), avant \(probe)")
                XCTAssertEqual(set.insert(probe), reference.insert(probe).inserted, "ordre \(k), \(probe)")
                XCTAssertTrue(set.contains(probe))
            }
            for probe in keys { XCTAssertFalse(set.insert(probe), "ordre \(k), encore \(probe)") }
            let absent = [key(5_000, 0), key(0, 0), key(7, 151), key(2, 7)].filter { !reference.contains($0) }
            XCTAssertFalse(absent.isEmpty)
            for probe in absent { XCTAssertFalse(set.contains(probe), "ordre \(k), absente \(probe)") }
        }
    }

    /// A file handed over as sorted windows keeps only the first keys of each window in its
    /// table: the windows are merged as runs, not probed key by key in a table.
    func testSortedWindowsAreKeptAsRunsNotInTheTable() {
        var random = SeededRandom(seed: 20_261_203)
        var set = DeclarationKeySet()
        var reference = Set<DeclarationKey>()
        let windows = 8
        for _ in 0..<windows {
            let keys = (0..<4_000).map { _ in
                DeclarationKey(
                    equipementId: Int64(random.int(1...60_000)), exercice: 2024, nature: .reel, dateDepot: 20_250_101 + random.int(0...27))
            }.sorted { ($0.equipementId, $0.dateDepot) < ($1.equipementId, $1.dateDepot) }
            for key in keys { XCTAssertEqual(set.insert(key), reference.insert(key).inserted) }
        }
        XCTAssertLessThanOrEqual(set.tableCount, (windows - 1) * DeclarationKeySet.restartAfter)
        XCTAssertGreaterThan(reference.count, 28_000)
        XCTAssertTrue(reference.allSatisfy { set.contains($0) })
    }
}
