import CiblageModel
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
        // A few long tasks, one index at a time.
        for count in [1, 2, 6, 7] {
            XCTAssertEqual(parallelIndices(count, chunk: 1) { "t\($0)" }, (0..<count).map { "t\($0)" }, "count \(count)")
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

/// The order of the ranked list.
final class RankOrderTests: XCTestCase {
    func testLinesAreRankedByPriorityThenScoreThenDossierNumber() {
        // Ties on priority, on priority and score, and the dossier numbers out of order.
        let keys: [(priorite: Double, score: Double)] = [
            (100, 0.2), (250, 0.1), (100, 0.3), (100, 0.2), (0, 0.9), (250, 0.1), (100, 0.2),
        ]
        let dossiers = ["66-0003", "66-0009", "66-0001", "66-0002", "66-0004", "2A-0001", "974-0001"]
        XCTAssertEqual(rankOrder(keys) { dossiers[$0] }, [5, 1, 2, 3, 0, 6, 4])
    }

    func testTheOrderIsTheOneTheTupleComparisonGave() {
        // Many ties, as in a list scored by the expert weights, against the comparison of
        // (priority, score, dossier) tuples the ranking used before.
        var random = SeededRandom(seed: 17)
        let count = 5_000
        let keys = (0..<count).map { _ in (priorite: Double(random.next() % 20) * 50, score: Double(random.next() % 5) / 10) }
        let dossiers = (0..<count).map { _ in String(format: "%02d-%06d", 1 + random.next() % 95, random.next() % 999_999) }
        let tuples = keys.indices.sorted {
            (keys[$0].priorite, keys[$0].score, dossiers[$1]) > (keys[$1].priorite, keys[$1].score, dossiers[$0])
        }
        XCTAssertEqual(rankOrder(keys) { dossiers[$0] }, tuples)
    }
}
