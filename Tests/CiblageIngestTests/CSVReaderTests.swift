import CiblageIngest
import Foundation
import XCTest

/// Collects what a reader yields, as text.
struct Collected: CSVRecordSink {
    var records: [(line: Int, fields: [String], raw: String)] = []
    var malformed: [(line: Int, reason: String, raw: String)] = []

    mutating func record(_ record: CSVRecord) throws {
        let fields = (0..<record.fieldCount).map { String(decoding: record[$0], as: UTF8.self) }
        records.append((record.line, fields, String(decoding: record.raw, as: UTF8.self)))
    }

    mutating func malformed(line: Int, reason: String, raw: UnsafeBufferPointer<UInt8>) throws {
        malformed.append((line, reason, String(decoding: raw, as: UTF8.self)))
    }
}

final class CSVReaderTests: XCTestCase {
    func read(_ bytes: [UInt8]) throws -> (Collected, CSVReader) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString).csv")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = CSVReader(url: url)
        var sink = Collected()
        try reader.read(into: &sink)
        return (sink, reader)
    }

    func read(_ text: String) throws -> (Collected, CSVReader) { try read(Array(text.utf8)) }

    func testSkipsTheBOMAndCountsPhysicalLinesAcrossQuotedLineBreaks() throws {
        let (sink, _) = try read("\u{FEFF}A;B\r\n\"deux\r\nlignes\";x\r\n\r\nsuite;y\r\n")
        XCTAssertEqual(sink.records.map(\.line), [1, 2, 5])
        XCTAssertEqual(sink.records[0].fields, ["A", "B"])
        XCTAssertEqual(sink.records[1].fields, ["deux\r\nlignes", "x"])
        XCTAssertEqual(sink.records[2].fields, ["suite", "y"])
    }

    func testKeepsQuotedSeparatorsAndDoubledQuotes() throws {
        let (sink, _) = try read("A;B\n\"Crèche \"\"Les Lutins\"\"; nord\";2\n")
        XCTAssertEqual(sink.records[1].fields, ["Crèche \"Les Lutins\"; nord", "2"])
        XCTAssertEqual(sink.records[1].raw, "\"Crèche \"\"Les Lutins\"\"; nord\";2")
    }

    func testReadsALastLineWithoutLineEnd() throws {
        let (sink, reader) = try read("A;B\n1;2\n3;4")
        XCTAssertEqual(sink.records.count, 3)
        XCTAssertEqual(sink.records[2].fields, ["3", "4"])
        XCTAssertEqual(reader.lineCount, 3)
    }

    func testTakesTheDelimiterFromTheHeader() throws {
        let (comma, r1) = try read("A,B\n\"1,5\",2\n")
        XCTAssertEqual(r1.delimiter, UInt8(ascii: ","))
        XCTAssertEqual(comma.records[1].fields, ["1,5", "2"])
        let (tab, r2) = try read("A\tB\n 1 \t2\n")
        XCTAssertEqual(r2.delimiter, 0x09)
        XCTAssertEqual(tab.records[1].fields, ["1", "2"])
    }

    func testEmptyUnquotedFieldIsEmpty() throws {
        let (sink, _) = try read("A;B;C\n;\"\";x\n")
        XCTAssertEqual(sink.records[1].fields, ["", "", "x"])
    }

    func testAMisplacedQuoteRejectsItsRecordOnly() throws {
        let (sink, _) = try read("A;B\n\"ab\"c;1\nok;2\n")
        XCTAssertEqual(sink.malformed.map(\.line), [2])
        XCTAssertEqual(sink.malformed[0].raw, "\"ab\"c;1")
        XCTAssertEqual(sink.records.map(\.line), [1, 3])
    }

    func testAQuoteNeverClosedRejectsItsRecordAndReadingResumesOnTheNextLine() throws {
        let (sink, _) = try read("A;B\n1;\"ouvert\n2;b\n3;c\n")
        XCTAssertEqual(sink.malformed.map(\.line), [2])
        XCTAssertEqual(sink.records.map(\.line), [1, 3, 4])
        XCTAssertEqual(sink.records[2].fields, ["3", "c"])
    }

    func testAFieldBeyondTheCapStopsInsteadOfEatingMemory() throws {
        var text = "A;B\n1;\"" + String(repeating: "x", count: CSVReader.maxRecordBytes + 10) + "\n2;b\n"
        text += "3;c\n"
        let (sink, _) = try read(text)
        XCTAssertEqual(sink.malformed.map(\.line), [2])
        XCTAssertTrue(sink.malformed[0].reason.contains("trop long"), sink.malformed[0].reason)
        XCTAssertEqual(sink.records.map(\.line), [1, 3, 4])
    }

    // MARK: Reading on a thread of its own (readConcurrently)

    /// A file of several batches: short rows, quoted fields over lines, malformed lines, a
    /// record larger than a batch's room, a line of separators only, an empty last field.
    func mixedFile() -> String {
        var text = "N;NOM;MONTANT\n"
        for i in 1...30_000 {
            switch i % 997 {
            case 5: text += "\(i);\"sur\ndeux lignes; avec \"\"guillemets\"\"\";1,5\n"
            case 7: text += "\(i);\"ab\"c;2\n"
            case 11: text += ";;\n"
            case 13: text += "\(i);\(String(repeating: "é", count: 200_000));3\n"
            default: text += "\(i);Crèche \(i);\(i),25\n"
            }
        }
        return text + "fin;;\n\"jamais fermé;4\n"
    }

    func testReadingOnAThreadOfItsOwnGivesTheSameRecordsAndMalformedLinesInTheSameOrder() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString).csv")
        try Data(mixedFile().utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var direct = Collected()
        try CSVReader(url: url).read(into: &direct)
        var concurrent = Collected()
        try CSVReader.readConcurrently(url, into: &concurrent)

        XCTAssertEqual(concurrent.records.count, direct.records.count)
        XCTAssertGreaterThan(direct.records.count, 29_000)
        for (a, b) in zip(direct.records, concurrent.records) {
            XCTAssertEqual(a.line, b.line)
            XCTAssertEqual(a.fields, b.fields, "ligne \(a.line)")
            XCTAssertEqual(a.raw, b.raw, "ligne \(a.line)")
        }
        XCTAssertEqual(concurrent.malformed.map(\.line), direct.malformed.map(\.line))
        XCTAssertEqual(concurrent.malformed.map(\.reason), direct.malformed.map(\.reason))
        XCTAssertEqual(concurrent.malformed.map(\.raw), direct.malformed.map(\.raw))
        XCTAssertGreaterThan(direct.malformed.count, 30)
        // The rows of 400 000 bytes went through whole.
        XCTAssertTrue(concurrent.records.contains { $0.fields.count == 3 && $0.fields[1].utf8.count == 400_000 })
    }

    /// A sink that gives up after `limit` records.
    struct Refusing: CSVRecordSink {
        struct Stop: Error {}
        var limit: Int
        var seen = 0
        mutating func record(_ record: CSVRecord) throws {
            seen += 1
            if seen == limit { throw Stop() }
        }
        mutating func malformed(line: Int, reason: String, raw: UnsafeBufferPointer<UInt8>) throws {}
    }

    func testASinkThatThrowsStopsTheReadingThreadAndItsErrorComesOut() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString).csv")
        try Data(mixedFile().utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var sink = Refusing(limit: 10)
        XCTAssertThrowsError(try CSVReader.readConcurrently(url, into: &sink)) { XCTAssertTrue($0 is Refusing.Stop, "\($0)") }
        XCTAssertEqual(sink.seen, 10)
    }

    func testAnUnreadableFileIsAnErrorOfTheCaller() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("absent-\(UUID().uuidString).csv")
        var sink = Collected()
        XCTAssertThrowsError(try CSVReader.readConcurrently(url, into: &sink)) {
            XCTAssertTrue("\($0)".contains("lecture impossible"), "\($0)")
        }
        XCTAssertTrue(sink.records.isEmpty)
    }
}
