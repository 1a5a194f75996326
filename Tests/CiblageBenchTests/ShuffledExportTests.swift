import Foundation
import XCTest

@testable import CiblageBench

/// The copy of an export whose rows the ingestion benchmark stores in random order.
final class ShuffledExportTests: XCTestCase {
    private func rows(_ count: Int) -> [String] {
        (1...count).map { "\(String(format: "%02d", $0 % 100))-\(String(format: "%06d", $0));2024;REEL;15/12/2025;12;1 234,5" }
    }

    func testKeepsTheHeaderFirstAndEveryRowOnceInAnotherOrder() {
        let header = "\u{FEFF}N_DOSSIER;EXERCICE;NATURE_DECLARATION;DATE_DEPOT;PLACES;TOTAL_CHARGES"
        let body = rows(500)
        let text = Data(([header] + body).joined(separator: "\r\n").appending("\r\n").utf8)
        let shuffled = ExportShuffle.shuffledLines(text, seed: 11)
        let lines = String(decoding: shuffled, as: UTF8.self).components(separatedBy: "\r\n")
        XCTAssertEqual(lines.first, header)
        XCTAssertEqual(lines.last, "", "every line ends with CRLF, the last one too")
        let out = Array(lines.dropFirst().dropLast())
        XCTAssertEqual(out.sorted(), body.sorted(), "the same rows, each once")
        XCTAssertNotEqual(out, body)
        XCTAssertEqual(shuffled.count, text.count)
        XCTAssertEqual(ExportShuffle.shuffledLines(text, seed: 11), shuffled, "the same seed gives the same bytes")
        XCTAssertNotEqual(ExportShuffle.shuffledLines(text, seed: 12), shuffled)
    }

    /// Windows-1252 bytes go through untouched; LF stays LF; a last row without its line
    /// break gets one.
    func testKeepsBytesAndTheFilesLineBreak() {
        var text = Data("N_DOSSIER;NOM\n".utf8)
        let names: [[UInt8]] = [[0x43, 0x72, 0xE8, 0x63, 0x68, 0x65], [0x80, 0x20, 0x9C, 0x75, 0x76, 0x72, 0x65], [0x41]]
        for (i, name) in names.enumerated() {
            text.append(contentsOf: Array("0\(i);".utf8) + name)
            if i < names.count - 1 { text.append(0x0A) }
        }
        let shuffled = ExportShuffle.shuffledLines(text, seed: 3)
        XCTAssertFalse(shuffled.contains(0x0D))
        let lines = shuffled.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        XCTAssertEqual(lines.count, 5, "header, three rows, and the empty tail after the last line break")
        XCTAssertEqual(lines[0], Array("N_DOSSIER;NOM".utf8))
        XCTAssertEqual(Set(lines[1...3]), Set(names.enumerated().map { Array("0\($0.offset);".utf8) + $0.element }))
    }
}
