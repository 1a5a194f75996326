import CiblageModel
import Foundation
import XCTest

@testable import CiblageIngest

/// A file's reading that waits for the one before it (``ReadTurn``): its fingerprint is computed
/// at once, its rows are read once that one has ended, and a reading given up before its turn
/// ends at once, without reading a row.
final class ReadTurnTests: XCTestCase {
    static let controls = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/controles.csv")

    func read(after turn: ReadTurn) -> KeyedRead<String> {
        KeyedRead(
            url: Self.controls, fingerprint: nil, columns: ExportColumns.controles, fileName: "controles.csv", after: turn,
            parse: { (reader) throws(RowReject) in "ligne" })
    }

    func testTheRowsAreReadOnlyOnceTheReadingBeforeHasEndedButTheFingerprintAtOnce() throws {
        let before = ReadTurn()
        let read = read(after: before)
        // The fingerprint does not wait for the turn: the storing thread checks the file against
        // the store while the file before is still being read.
        let fingerprinted = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? read.fingerprint()
            fingerprinted.signal()
        }
        if fingerprinted.wait(timeout: .now() + .seconds(10)) == .timedOut {
            before.end()
            return XCTFail("empreinte calculée seulement à son tour")
        }
        let fingerprint = try read.fingerprint()
        XCTAssertEqual(fingerprint.size, try Data(contentsOf: Self.controls).count)
        // Rows and outcome handed over by `ended` (the semaphore orders the accesses).
        let received = DispatchSemaphore(value: 0)
        let ended = DispatchSemaphore(value: 0)
        let outcome = LockedBox<Result<Int, any Error>>(.success(0))
        Thread.detachNewThread {
            outcome.value = Result {
                var rows = 0
                while let batch = try read.channel.receive() {
                    if rows == 0 { received.signal() }
                    rows += batch.count
                }
                return rows
            }
            ended.signal()
        }
        // The file is small: unwaited, its rows would be there in a few milliseconds.
        XCTAssertEqual(received.wait(timeout: .now() + .milliseconds(300)), .timedOut, "lu avant son tour")
        before.end()
        XCTAssertEqual(ended.wait(timeout: .now() + .seconds(10)), .success, "jamais lu après son tour")
        let rows = try outcome.value.get()
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
        // Fingerprinted before the turn, but not one row read.
        XCTAssertNoThrow(try read.fingerprint())
        XCTAssertThrowsError(try read.channel.receive()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
    }
}

/// A file read ahead of its turn whose content an earlier file of the run has (a delivery made
/// twice): its reading leaves it unread, unless the storing thread took the reading first.
final class RunFingerprintsTests: XCTestCase {
    static let declarations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/declarations-ok.csv")

    func testOnlyAnEarlierPlaceMakesAFileARepeat() {
        let run = RunFingerprints()
        run.note("aa", at: 3)
        XCTAssertTrue(run.hasEarlier("aa", before: 4))
        XCTAssertFalse(run.hasEarlier("aa", before: 3), "a file is not a repeat of itself")
        XCTAssertFalse(run.hasEarlier("aa", before: 2), "the copy comes first in the plan")
        XCTAssertFalse(run.hasEarlier("bb", before: 9))
    }

    func fingerprint() throws -> FileFingerprint { try FileFingerprint.compute(Self.declarations) }

    func testARepeatIsLeftUnreadAndTheStoringThreadCannotTakeItAfterwards() throws {
        let run = RunFingerprints()
        run.note(try fingerprint().sha256, at: 1)
        let handOver = FingerprintHandOver()
        let channel = BatchChannel<Int>(capacity: 1)
        XCTAssertNil(handOver.compute(Self.declarations, known: nil, after: nil, repeats: run.check(at: 2), ending: channel))
        XCTAssertFalse(handOver.claim(), "left unread: the storing thread reads the file itself")
        XCTAssertThrowsError(try channel.receive())
        XCTAssertEqual(try handOver.get().sha256, try fingerprint().sha256, "the fingerprint is handed over all the same")
    }

    func testARepeatTheStoringThreadTookFirstIsRead() throws {
        let run = RunFingerprints()
        run.note(try fingerprint().sha256, at: 1)
        let handOver = FingerprintHandOver()
        XCTAssertTrue(handOver.claim())
        let channel = BatchChannel<Int>(capacity: 1)
        XCTAssertNotNil(handOver.compute(Self.declarations, known: nil, after: nil, repeats: run.check(at: 2), ending: channel))
        XCTAssertTrue(handOver.claim(), "taken once, it stays taken")
    }

    func testAFileWithoutAnEarlierCopyIsReadAndNotesItsContent() throws {
        let run = RunFingerprints()
        run.note("autre", at: 0)
        let handOver = FingerprintHandOver()
        let channel = BatchChannel<Int>(capacity: 1)
        XCTAssertNotNil(handOver.compute(Self.declarations, known: nil, after: nil, repeats: run.check(at: 1), ending: channel))
        XCTAssertTrue(run.hasEarlier(try fingerprint().sha256, before: 2), "noted for the files after it")
        XCTAssertTrue(handOver.claim())
    }
}
