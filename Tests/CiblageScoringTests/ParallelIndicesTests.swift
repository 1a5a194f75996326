import Foundation
import XCTest

@testable import CiblageScoring

/// The two-thread map behind the features, the explanations and the lines of the score.
final class ParallelIndicesTests: XCTestCase {
    func testEveryElementIsItsOwnIndexTransformedWhateverTheCountAndTheChunks() {
        let counts = [0, 1, 999, 1000, 1001, parallelChunk * 2, parallelChunk * 2 + 1, parallelChunk * 7 - 1, 100_003]
        for count in counts {
            // Strings, so that a slot left uninitialised or written twice shows (and leaks or crashes).
            let result = parallelIndices(count) { "n\($0 * 3)" }
            XCTAssertEqual(result.count, count)
            XCTAssertEqual(result, (0..<count).map { "n\($0 * 3)" }, "count \(count)")
        }
    }

    func testUnevenWorkStillGivesEveryElementInOrder() {
        // The second half ten times dearer than the first, as uneven as the national list.
        let result = parallelIndices(20_000) { k -> Double in
            var x = Double(k)
            for _ in 0..<(k < 10_000 ? 10 : 100) { x = (x * 1.000_001).squareRoot() + 1 }
            return x
        }
        XCTAssertEqual(result.count, 20_000)
        for k in [0, 9_999, 10_000, 19_999] {
            var x = Double(k)
            for _ in 0..<(k < 10_000 ? 10 : 100) { x = (x * 1.000_001).squareRoot() + 1 }
            XCTAssertEqual(result[k], x)
        }
    }
}
