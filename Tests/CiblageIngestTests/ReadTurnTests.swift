import CiblageModel
import Foundation
import XCTest

@testable import CiblageIngest

/// A file's reading that waits for the one before it (``ReadTurn``): it starts once that one
/// has ended, and a reading given up before its turn ends at once, without reading.
final class ReadTurnTests: XCTestCase {
    static let controls = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/controles.csv")

    func read(after turn: ReadTurn) -> KeyedRead<String> {
        KeyedRead(
            url: Self.controls, fingerprint: nil, columns: ExportColumns.controles, fileName: "controles.csv", after: turn,
            parse: { (reader) throws(RowReject) in "ligne" })
    }

    func testAReadingStartsOnlyOnceTheOneBeforeItHasEnded() throws {
        let before = ReadTurn()
        let read = read(after: before)
        let fingerprinted = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? read.fingerprint()
            fingerprinted.signal()
        }
        // The file is small: unwaited, its fingerprint would be there in a few milliseconds.
        XCTAssertEqual(fingerprinted.wait(timeout: .now() + .milliseconds(300)), .timedOut, "lu avant son tour")
        before.end()
        XCTAssertEqual(fingerprinted.wait(timeout: .now() + .seconds(10)), .success, "jamais lu après son tour")
        var rows = 0
        while let batch = try read.channel.receive() { rows += batch.count }
        let sink = try read.finish()
        XCTAssertGreaterThan(rows, 0)
        XCTAssertEqual(rows + sink.rejects.rejects.count, sink.read)
    }

    func testAReadingGivenUpBeforeItsTurnEndsWithoutReading() throws {
        let never = ReadTurn()
        let read = read(after: never)
        let cancelled = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            read.cancel()
            cancelled.signal()
        }
        XCTAssertEqual(cancelled.wait(timeout: .now() + .seconds(10)), .success, "l'abandon attend un tour qui ne vient pas")
        XCTAssertThrowsError(try read.fingerprint()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        XCTAssertThrowsError(try read.channel.receive())
    }
}
