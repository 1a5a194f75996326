import CiblageModel
@testable import CiblageReports
import Foundation
import XCTest

final class FrenchWordingTests: XCTestCase {
    func testCountsAgreeWithTheirNoun() {
        XCTAssertEqual(FrenchFormat.count(0, "fichier", "fichiers"), "0 fichier")
        XCTAssertEqual(FrenchFormat.count(1, "ligne prévue", "lignes prévues"), "1 ligne prévue")
        XCTAssertEqual(FrenchFormat.count(2, "fichier", "fichiers"), "2 fichiers")
        XCTAssertEqual(FrenchFormat.count(12_400, "ligne", "lignes"), FrenchFormat.readable(12_400) + " lignes")
    }

    func testAxisTicksAreRoundAndCoverTheRange() {
        for (lo, hi) in [(1633.0, 8491.0), (0.12, 0.87), (17_250.0, 17_900.0), (-3.0, 41.0), (5.0, 5.0)] {
            let ticks = HTMLReport.roundTicks(lo, hi)
            XCTAssertLessThanOrEqual(ticks.first!, lo)
            XCTAssertGreaterThanOrEqual(ticks.last!, hi)
            XCTAssertTrue((3...11).contains(ticks.count), "\(ticks)")
            let step = ticks[1] - ticks[0]
            let mantissa = step / pow(10, log10(step).rounded(.down))
            XCTAssertTrue([1, 2, 2.5, 5].contains { abs($0 - mantissa) < 1e-9 }, "step \(step) of \(ticks)")
            for t in ticks { XCTAssertEqual((t / step).rounded() * step, t, accuracy: 1e-9 * max(1, abs(t))) }
        }
        XCTAssertEqual(HTMLReport.roundTicks(1633, 8491), [0, 2000, 4000, 6000, 8000, 10000])
    }
}

final class CalendarDateTests: XCTestCase {
    func testRejectsImpossibleDays() {
        XCTAssertNil(CalendarDate(year: 2023, month: 2, day: 29))
        XCTAssertNotNil(CalendarDate(year: 2024, month: 2, day: 29))
        XCTAssertNil(CalendarDate(year: 2100, month: 2, day: 29))
        XCTAssertNil(CalendarDate(year: 2024, month: 4, day: 31))
        XCTAssertNil(CalendarDate(year: 2024, month: 13, day: 1))
    }

    func testStoredFormRoundTrips() {
        let date = CalendarDate(year: 2025, month: 3, day: 8)!
        XCTAssertEqual(date.yyyymmdd, 20_250_308)
        XCTAssertEqual(CalendarDate(yyyymmdd: 20_250_308), date)
        XCTAssertEqual(date.french, "08/03/2025")
        XCTAssertEqual(date.iso, "2025-03-08")
    }

    func testDayNumbersCountDaysAcrossLeapYears() {
        let a = CalendarDate(year: 2024, month: 2, day: 28)!
        let b = CalendarDate(year: 2024, month: 3, day: 1)!
        XCTAssertEqual(b.dayNumber - a.dayNumber, 2)
        XCTAssertEqual(CalendarDate(year: 1970, month: 1, day: 1)!.dayNumber, 0)
        XCTAssertEqual(CalendarDate(dayNumber: b.dayNumber), b)
    }

    func testAPackedDateKeepsItsPartsAndTheOrderOfDaysInFourBytes() {
        XCTAssertEqual(MemoryLayout<CalendarDate>.size, 4)
        // Every day from 1600 to 2400, and the ends of the years a date may have.
        let first = CalendarDate(year: 1600, month: 1, day: 1)!.dayNumber
        var previous: CalendarDate?
        for n in first...CalendarDate(year: 2400, month: 12, day: 31)!.dayNumber {
            let date = CalendarDate(dayNumber: n)
            XCTAssertEqual(CalendarDate(year: date.year, month: date.month, day: date.day), date)
            XCTAssertEqual(date.dayNumber, n)
            if let previous {
                XCTAssertLessThan(previous, date)
                XCTAssertLessThan(previous.yyyymmdd, date.yyyymmdd)
            }
            previous = date
        }
        for (y, m, d) in [(1, 1, 1), (9999, 12, 31)] {
            let date = CalendarDate(year: y, month: m, day: d)!
            XCTAssertEqual([date.year, date.month, date.day], [y, m, d])
        }
        // Before year 1 (date arithmetic only): the parts still read back, the order still holds.
        let early = CalendarDate(dayNumber: CalendarDate(year: 1, month: 1, day: 1)!.dayNumber - 1)
        XCTAssertEqual([early.year, early.month, early.day], [0, 12, 31])
        XCTAssertLessThan(CalendarDate(dayNumber: early.dayNumber - 400 * 366), early)
    }

    func testADateIsEncodedAsItsThreeNumbersAndAnImpossibleOneIsNotDecoded() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let date = CalendarDate(year: 2024, month: 2, day: 29)!
        XCTAssertEqual(String(decoding: try encoder.encode(date), as: UTF8.self), #"{"day":29,"month":2,"year":2024}"#)
        XCTAssertEqual(try JSONDecoder().decode(CalendarDate.self, from: Data(#"{"year":2024,"month":2,"day":29}"#.utf8)), date)
        XCTAssertThrowsError(try JSONDecoder().decode(CalendarDate.self, from: Data(#"{"year":2023,"month":2,"day":29}"#.utf8)))
    }
}

final class CompanyIdentifierTests: XCTestCase {
    func testAcceptsValidSirenAndRejectsOneChangedDigit() {
        XCTAssertTrue(CompanyIdentifier.isValidSiren("732829320"))
        XCTAssertFalse(CompanyIdentifier.isValidSiren("732829321"))
        XCTAssertFalse(CompanyIdentifier.isValidSiren("73282932"))
        XCTAssertFalse(CompanyIdentifier.isValidSiren("73282932A"))
    }

    func testSiretOfLaPosteFollowsItsOwnRule() {
        // La Poste: the digits add up to a multiple of 5, whatever Luhn says.
        XCTAssertTrue(CompanyIdentifier.isValidSiret("35600000000010"))
        XCTAssertFalse(CompanyIdentifier.isValidSiret("35600000000011"))
    }

    func testAppendsTheLuhnDigit() {
        let siren = CompanyIdentifier.withLuhnDigit("21660001")
        XCTAssertEqual(siren.count, 9)
        XCTAssertTrue(CompanyIdentifier.isValidSiren(siren))
    }
}

final class ReferentielTests: XCTestCase {
    func testShippedTablesCover101DepartementsInFivePoles() throws {
        let ref = try Referentiel.load()
        XCTAssertEqual(ref.departements.count, 101)
        XCTAssertEqual(Set(ref.departements.values.map(\.pole)).count, 5)
        XCTAssertEqual(ref.departements["66"]?.pole, "MEDITERRANEE")
        XCTAssertEqual(ref.departements["2A"]?.pole, "MEDITERRANEE")
        XCTAssertEqual(ref.departements["974"]?.pole, "CENTRE_EST_AURA")
        XCTAssertEqual(ref.departements["29"]?.pole, "CENTRE_OUEST")
        XCTAssertEqual(ref.natures.count, 11)
        XCTAssertEqual(ref.natures["MICRO_CRECHE_PAJE"]?.psu, false)
        XCTAssertEqual(ref.anomalies.count, 9)
    }

    func testSizeBandsFollowThePlaces() throws {
        let ref = try Referentiel.load()
        XCTAssertEqual(ref.sizeBand(places: 12)?.code, "T1_12")
        XCTAssertEqual(ref.sizeBand(places: 13)?.code, "T13_24")
        XCTAssertEqual(ref.sizeBand(places: 60)?.code, "T41_60")
        XCTAssertEqual(ref.sizeBand(places: 400)?.code, "T61_PLUS")
        XCTAssertNil(ref.sizeBand(places: 0))
    }

    func testCommuneCodeGivesItsDepartement() {
        XCTAssertEqual(Referentiel.departementOfCommune("66136"), "66")
        XCTAssertEqual(Referentiel.departementOfCommune("2A004"), "2A")
        XCTAssertEqual(Referentiel.departementOfCommune("97411"), "974")
    }

    func testAUserCopyReplacesTheShippedTables() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ref-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Referentiel.bundledDirectory, to: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let departements = folder.appendingPathComponent("departements.csv")
        let text = try String(contentsOf: departements, encoding: .utf8)
            .replacingOccurrences(of: "66;Occitanie;MEDITERRANEE", with: "66;Occitanie;ATLANTIQUE")
        try text.write(to: departements, atomically: true, encoding: .utf8)
        try "test-1".write(to: folder.appendingPathComponent("VERSION"), atomically: true, encoding: .utf8)
        let ref = try Referentiel.load(from: folder)
        XCTAssertEqual(ref.departements["66"]?.pole, "ATLANTIQUE")
        XCTAssertEqual(ref.version, "test-1")
    }

    func testRejectsAReferenceFileWithAnUnknownPole() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ref-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Referentiel.bundledDirectory, to: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "CODE;REGION;POLE\n66;Occitanie;NULLE_PART\n".write(
            to: folder.appendingPathComponent("departements.csv"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Referentiel.load(from: folder)) { error in
            XCTAssertTrue("\(error)".contains("ligne 2"), "\(error)")
        }
    }
}

final class FrenchCSVTests: XCTestCase {
    func testWritesBOMCRLFSemicolonsAndQuotesForExcel() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fr-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        let writer = try FrenchCSVWriter(url: url, header: ["NOM", "MONTANT"])
        try writer.writeRow(["Crèche \"Les Lutins\"; nord", FrenchFormat.decimal(1234.5)])
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "written under a temporary name until committed")
        try writer.commit()
        let bytes = try Data(contentsOf: url)
        XCTAssertEqual(Array(bytes.prefix(3)), [0xEF, 0xBB, 0xBF])
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        XCTAssertEqual(text, "NOM;MONTANT\r\n\"Crèche \"\"Les Lutins\"\"; nord\";1234,5\r\n")
    }

    func testFormulaLikeTextIsNeutralisedAndNumbersAreNot() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("formules-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        let writer = try FrenchCSVWriter(url: url, header: ["NOM", "MONTANT"])
        let hostile = ["=HYPERLINK(\"http://x\",\"clic\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tx", "\rx", "- tiret"]
        for cell in hostile { try writer.writeRow([cell, "-12,5"]) }
        try writer.writeRow(["+33 4 68", "+12"])
        try writer.writeRow(["Crèche", "-0,5"])
        try writer.commit()
        let lines = String(decoding: try Data(contentsOf: url).dropFirst(3), as: UTF8.self).components(separatedBy: "\r\n")
        XCTAssertEqual(lines[1], #""'=HYPERLINK(""http://x"",""clic"")";-12,5"#)
        XCTAssertEqual(lines[2], "'+cmd|' /C calc'!A0;-12,5")
        XCTAssertEqual(lines[3], "'@SUM(1+1);-12,5")
        XCTAssertEqual(lines[4], "'-2+3;-12,5")
        XCTAssertEqual(lines[5], "'\tx;-12,5")
        XCTAssertEqual(lines[6], "\"'\rx\";-12,5")
        XCTAssertEqual(lines[7], "'- tiret;-12,5")
        XCTAssertEqual(lines[8], "'+33 4 68;+12", "a phone number is text; a signed number stays a number")
        XCTAssertEqual(lines[9], "Crèche;-0,5")
    }

    func testARowBuiltCellByCellIsTheRowOfFormattedStrings() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cellules-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let strings = try FrenchCSVWriter(url: folder.appendingPathComponent("a.csv"), header: ["A", "B", "C", "D"])
        let cells = try FrenchCSVWriter(url: folder.appendingPathComponent("b.csv"), header: ["A", "B", "C", "D"])
        var generator = SystemRandomNumberGenerator()
        let texts = ["Crèche \"Les Lutins\"; nord", "=SOMME(A1)", "-12,5", "", "EAJE_COLLECTIF"]
        for k in 0..<2_000 {
            let value: Double? = k % 97 == 0 ? nil : Double.random(in: -1e7...1e7, using: &generator) / [1, 10, 1e4, 1e9][k % 4]
            let digits = k % 5
            let integer = Int.random(in: -1_000_000...1_000_000, using: &generator)
            let text = texts[k % texts.count]
            try strings.writeRow([String(integer), text, FrenchFormat.decimal(value, fractionDigits: digits), text])
            try cells.writeRow { row in
                row.integer(integer)
                row.text(text)
                row.decimal(value, fractionDigits: digits)
                row.text(text)
            }
        }
        try strings.commit()
        try cells.commit()
        XCTAssertEqual(
            try Data(contentsOf: folder.appendingPathComponent("a.csv")), try Data(contentsOf: folder.appendingPathComponent("b.csv")))
    }

    func testFormatsDecimalsWithACommaAndNoTrailingZeros() {
        XCTAssertEqual(FrenchFormat.decimal(0.00012, fractionDigits: 4), "0,0001", "zeros kept before the last digit")
        XCTAssertEqual(FrenchFormat.decimal(1.05), "1,05")
        XCTAssertEqual(FrenchFormat.decimal(-1e17), "-100000000000000000", "beyond exact integers")
        XCTAssertEqual(FrenchFormat.decimal(17500), "17500")
        XCTAssertEqual(FrenchFormat.decimal(0.126, fractionDigits: 2), "0,13")
        XCTAssertEqual(FrenchFormat.decimal(-0.001), "0")
        XCTAssertEqual(FrenchFormat.decimal(nil), "")
        XCTAssertEqual(FrenchFormat.decimal(-1234.5678, fractionDigits: 3), "-1234,568")
        XCTAssertEqual(FrenchFormat.decimal(0.9108, fractionDigits: 4), "0,9108")
        XCTAssertEqual(FrenchFormat.decimal(2.5, fractionDigits: 0), "3")
        XCTAssertEqual(FrenchFormat.readable(1_521_789.4), "1 521 789")
        XCTAssertEqual(FrenchFormat.readable(0.954, fractionDigits: 2), "0,95")
        XCTAssertEqual(FrenchFormat.readable(-0.3), "0", "no sign on a value that rounds to 0")
        XCTAssertEqual(FrenchFormat.percent(1.2449), "124 %")
        XCTAssertEqual(FrenchFormat.percent(-0.3, signed: true), "−30 %")
        XCTAssertEqual(FrenchFormat.percent(0.31, signed: true), "+31 %")
        XCTAssertEqual(FrenchFormat.euros(12_400.5), "12 401 €")
        XCTAssertEqual(FrenchFormat.date(CalendarDate(year: 2024, month: 1, day: 5)), "05/01/2024")
        XCTAssertEqual(FrenchFormat.readable(-1_234_567.891, fractionDigits: 2), "−1 234 567,89")
        XCTAssertEqual(FrenchFormat.readable(999.5), "1 000")
        XCTAssertEqual(FrenchFormat.readable(-1e17), "−100 000 000 000 000 000", "beyond exact integers")
        XCTAssertEqual(FrenchFormat.readable(.nan), "")
    }

    /// The readable figures of the reasons, written digit by digit, are those the grouping of
    /// strings three by three gave (kept here as the reference), on every magnitude and sign.
    func testReadableFiguresAreThoseOfTheStringGrouping() {
        func reference(_ value: Double, _ fractionDigits: Int) -> String {
            guard value.isFinite else { return "" }
            let (sign, digits, fraction) = FrenchFormat.fixedPoint(value, fractionDigits: fractionDigits)
            var integer = digits
            var grouped = ""
            while integer.count > 3 {
                grouped = " " + integer.suffix(3) + grouped
                integer.removeLast(3)
            }
            grouped = integer + grouped
            return (sign.isEmpty ? "" : "−") + grouped + (fraction.isEmpty ? "" : "," + fraction)
        }
        var random = SeededRandom(seed: 20_261_203)
        var values: [Double] = [0, -0.0, 0.5, -0.5, 999.4999, 999.5, 1000, 123_456, -987_654.321, 9e15, 1e17, -3.3e20]
        for _ in 0..<20_000 {
            let magnitude = pow(10, Double(Int(random.next() % 19) - 3))
            let unit = Double(random.next() % 1_000_000) / 1_000_000
            values.append((random.next() % 2 == 0 ? 1 : -1) * unit * magnitude)
        }
        for value in values {
            for digits in 0...4 {
                XCTAssertEqual(FrenchFormat.readable(value, fractionDigits: digits), reference(value, digits), "\(value), \(digits)")
            }
            let rounded = (value * 100).rounded()
            XCTAssertEqual(FrenchFormat.percent(value, signed: true), (rounded > 0 ? "+" : "") + reference(rounded, 0) + " %")
            XCTAssertEqual(FrenchFormat.euros(value), reference(value.rounded(), 0) + " €")
        }
    }
}

final class DeclarationFiguresTests: XCTestCase {
    /// The figures are held in 8 bytes each, and a missing figure stays missing, never zero.
    func testFiguresAreHeldInEightBytesAndMissingStaysMissing() {
        XCTAssertEqual(MemoryLayout<DeclarationFigures>.size, 14 * 8)
        var f = DeclarationFigures()
        XCTAssertNil(f.totalCharges)
        XCTAssertNil(f.places)
        f.totalCharges = 0
        f.etp = 2.5
        f.places = 0
        f.nbEnfants = -1
        f.joursOuverture = Int.max
        XCTAssertEqual(f.totalCharges, 0)
        XCTAssertEqual(f.etp, 2.5)
        XCTAssertEqual(f.places, 0)
        XCTAssertEqual(f.nbEnfants, -1)
        XCTAssertEqual(f.joursOuverture, Int.max)
        var h = f
        h.places = nil
        XCTAssertNil(h.places)
        XCTAssertNotEqual(f, h, "0 places and missing places differ")
        var g = f
        g.totalCharges = nil
        XCTAssertNil(g.totalCharges)
        XCTAssertNotEqual(f, g, "0 € and a missing amount differ")
        XCTAssertNotEqual(Set([f, g]).count, 1)
    }
}

final class BackgroundWorkTests: XCTestCase {
    func testDiscardWaitsForTheWorkAndIsSafeAfterWait() throws {
        let done = LockedBox(false)
        let left = BackgroundWork { () -> Int in
            Thread.sleep(forTimeInterval: 0.05)
            done.lock.withLock { done.value = true }
            return 1
        }
        left.discard()
        XCTAssertTrue(done.lock.withLock { done.value }, "discard returns once the work has ended")
        left.discard()

        let waited = BackgroundWork { 42 }
        XCTAssertEqual(try waited.wait(), 42)
        waited.discard()

        let thread = ProducerThread {}
        thread.join()
        thread.join()
    }
}

final class MemoryTests: XCTestCase {
    /// A process that runs stage after stage (these tests) never called
    /// `keepLargeValuesUntilExit()`: what a stage hands to `keepUntilExit` is let go as usual,
    /// not kept for the rest of the process.
    func testValuesAreLetGoWhenTheProcessDoesNotKeepThemUntilExit() {
        final class Lines {}
        weak var weakLines: Lines?
        do {
            let lines = Lines()
            weakLines = lines
            Memory.keepUntilExit(lines, as: "lines")
            XCTAssertNotNil(weakLines)
        }
        XCTAssertNil(weakLines, "kept although the process did not ask for it")
    }

    /// A command that runs a stage again and again in its process (`ciblage-bench bilan`, world
    /// after world) holds one run's values, not every run's.
    func testKeepingAValueLetsGoOfTheOneKeptBeforeUnderItsKey() {
        final class Lines {}
        let keeper = ExitKeeper()
        weak var first: Lines?
        weak var second: Lines?
        weak var other: Lines?
        do {
            let (a, b, c) = (Lines(), Lines(), Lines())
            (first, second, other) = (a, b, c)
            keeper.keep(a, as: "score.lines")
            keeper.keep(c, as: "reperes.equipments")
            keeper.keep(b, as: "score.lines")
        }
        XCTAssertNil(first, "the previous run's lines are let go")
        XCTAssertNotNil(second, "the last run's lines are kept")
        XCTAssertNotNil(other, "another key is kept too")
        withExtendedLifetime(keeper) {}
    }
}

final class HexadecimalTests: XCTestCase {
    func testHexadecimalIsPaddedWithZerosToItsDigits() {
        XCTAssertEqual(String(hexadecimal: UInt8(0x0A), digits: 2, uppercase: true), "0A")
        XCTAssertEqual(String(hexadecimal: UInt64(0xC4), digits: 16), "00000000000000c4")
        XCTAssertEqual(String(hexadecimal: UInt64.max, digits: 16), "ffffffffffffffff")
        XCTAssertEqual(String(hexadecimal: 0x1234, digits: 2), "1234", "never cut")
    }
}
