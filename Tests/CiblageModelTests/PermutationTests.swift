import XCTest

@testable import CiblageModel

final class PermutationTests: XCTestCase {
    /// Counts the instances alive, to tell an element copied, lost or freed twice.
    final class Tracked {
        static let alive = LockedBox(0)
        let label: String
        init(_ label: String) {
            self.label = label
            Self.alive.lock.withLock { Self.alive.value += 1 }
        }
        deinit { Self.alive.lock.withLock { Self.alive.value -= 1 } }
    }

    func testPermuteGivesTheElementsInTheOrderAsked() {
        var random = SeededRandom(seed: 7)
        for count in [0, 1, 2, 3, 10, 257] {
            var orders: [[Int]] = [Array(0..<count), Array((0..<count).reversed())]
            // One long cycle, and a seeded shuffle (cycles of every length).
            if count > 1 { orders.append((0..<count).map { ($0 + 1) % count }) }
            var shuffled = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) { shuffled.swapAt(i, Int(random.next() % UInt64(i + 1))) }
            orders.append(shuffled)
            for order in orders {
                let original = (0..<count).map { "ligne \($0) " + String(repeating: "x", count: $0 % 40) }
                var permuted = original
                permuted.permute(to: order)
                XCTAssertEqual(permuted, order.map { original[$0] }, "count \(count)")
            }
        }
    }

    func testPermuteNeitherCopiesNorLosesAnElement() {
        let before = Tracked.alive.value
        do {
            var objects = (0..<100).map { Tracked("\($0)") }
            XCTAssertEqual(Tracked.alive.value, before + 100)
            let order = (0..<100).map { ($0 * 37) % 100 }
            objects.permute(to: order)
            XCTAssertEqual(objects.map(\.label), order.map(String.init))
            XCTAssertEqual(Tracked.alive.value, before + 100)
            // Each object is referenced once: by the array alone.
            for i in objects.indices { XCTAssertTrue(isKnownUniquelyReferenced(&objects[i]), "\(i)") }
        }
        XCTAssertEqual(Tracked.alive.value, before, "every element freed once")
    }
}
