@testable import CiblageIngest
import CiblageModel
import XCTest

final class KeyOrderWindowTests: XCTestCase {
    /// Rows whose keys collide in every part but one, at the edges of each part's range
    /// (equipment ids of either sign up to `Int64.max`, dates from 1600 to 2400), and keys
    /// repeated so that only the position tells them apart.
    private func rows(count: Int, exercices: [Int], seed: UInt64) -> [ParsedDeclarationLine] {
        var random = SeededRandom(seed: seed)
        let ids: [Int64] = [.min, .min + 1, -5, -1, 0, 1, 3, 4, 7_000_000_000, .max - 1, .max]
        let dates = [(1600, 1, 1), (2023, 12, 31), (2024, 1, 1), (2024, 2, 29), (2400, 12, 31)]
            .map { CalendarDate(year: $0.0, month: $0.1, day: $0.2)! }
        return (0..<count).map { line in
            let date = dates[Int(random.next() % UInt64(dates.count))]
            let row = ParsedDeclaration(
                equipementId: ids[Int(random.next() % UInt64(ids.count))],
                exercice: exercices[Int(random.next() % UInt64(exercices.count))],
                nature: NatureDeclaration.allCases[Int(random.next() % 3)],
                dateDepot: date, figures: DeclarationFigures())
            return ParsedDeclarationLine(line: line + 2, span: RawSpan(offset: line * 100, count: 99), row: row)
        }
    }

    private func expected(_ rows: [ParsedDeclarationLine]) -> [Int] {
        rows.indices.sorted { ParsedDeclarationLine.storedBefore(rows[$0], rows[$1]) }
    }

    /// The first place where two orders differ, for a short failure message.
    private func firstDifference(_ a: [Int], _ b: [Int]) -> String? {
        guard a != b else { return nil }
        let k = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        return "rang \(k) : \(k < a.count ? a[k] : -1) au lieu de \(k < b.count ? b[k] : -1) (sur \(b.count))"
    }

    func testPackedKeysSortAWindowAsTheKeyComparatorDoes() {
        let window = rows(count: 20_000, exercices: [0, 2023, 2024, 65_535], seed: 3)
        let order = window.withUnsafeBufferPointer { KeyOrderWindow.sortedPositions($0) }
        XCTAssertNil(firstDifference(order, expected(window)))
        XCTAssertEqual(Set(order).count, window.count, "every row once")
        // Ties are many: only the position orders them, as the line does.
        let keys = Set(window.map { "\($0.row.exercice) \($0.row.equipementId) \($0.row.nature) \($0.row.dateDepot)" })
        XCTAssertLessThan(keys.count, window.count / 10)
    }

    func testAnExerciceThatDoesNotPackIsSortedByTheComparator() {
        for odd in [-1, 65_536, Int.max] {
            let window = rows(count: 2_000, exercices: [2024, odd], seed: 5)
            let order = window.withUnsafeBufferPointer { KeyOrderWindow.sortedPositions($0) }
            XCTAssertNil(firstDifference(order, expected(window)), "exercice \(odd)")
        }
    }

    /// The raw text of a rejected row is found by its line whether the rows came in line order
    /// or by windows sorted by key.
    func testSpansAreFoundByLineInEitherOrder() {
        let window = rows(count: 5_000, exercices: [2024], seed: 7)
        var inOrder = RawSpans()
        var sorted = RawSpans()
        for row in window { inOrder.append(line: row.line, row.span) }
        for i in expected(window) { sorted.append(line: window[i].line, window[i].span) }
        let wanted: Set<Int> = [2, 3, 777, 4_999, 5_001, 9_999]
        let a = inOrder.spans(of: wanted)
        let b = sorted.spans(of: wanted)
        XCTAssertEqual(Set(a.keys), [2, 3, 777, 4_999, 5_001], "line 9 999 is not in the file")
        XCTAssertEqual(Set(b.keys), Set(a.keys))
        for (line, span) in a {
            XCTAssertEqual(span.offset, (line - 2) * 100)
            XCTAssertEqual(b[line]?.offset, span.offset)
            XCTAssertEqual(b[line]?.count, span.count)
        }
    }
}
