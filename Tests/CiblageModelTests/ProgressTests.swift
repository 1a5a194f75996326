import CiblageReports
import Foundation
import XCTest

/// The progress line of long steps: nothing off a terminal, the line in the file
/// `CIBLAGE_PROGRESSION` names (how `ciblage-run` shows it), nothing with `--quiet`.
final class ProgressTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("progression-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testTheLineGoesToTheNamedFileWithCountRateShareAndTimeLeftAndIsErasedAtTheEnd() throws {
        try XCTSkipIf(isatty(STDERR_FILENO) == 1, "stderr is a terminal: the line would go there")
        let file = folder.appendingPathComponent("ligne")
        let progress = Progress()
        progress.enable(quiet: false, environment: ["CIBLAGE_PROGRESSION": file.path])
        XCTAssertTrue(progress.isEnabled)
        let step = progress.step("ingestion de declarations-2024.csv", unit: "lignes")
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "ingestion de declarations-2024.csv")
        usleep(600_000)
        step.advance(to: 120_000, fraction: 0.5)
        let line = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(line.hasPrefix("ingestion de declarations-2024.csv : 120 000 lignes, "), line)
        XCTAssertTrue(line.contains("lignes/s"), line)
        XCTAssertTrue(line.contains(", 50 %, reste ≈ "), line)
        step.finish()
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "", "the step is over: the line is erased")
    }

    func testQuietOrNoTerminalAndNoFileShowNothing() throws {
        try XCTSkipIf(isatty(STDERR_FILENO) == 1, "stderr is a terminal")
        let quiet = Progress()
        quiet.enable(quiet: true, environment: ["CIBLAGE_PROGRESSION": folder.appendingPathComponent("q").path])
        XCTAssertFalse(quiet.isEnabled)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("q").path))
        let silent = Progress()
        silent.enable(quiet: false, environment: [:])
        XCTAssertFalse(silent.isEnabled, "off a terminal, without CIBLAGE_PROGRESSION: nothing")
    }
}
