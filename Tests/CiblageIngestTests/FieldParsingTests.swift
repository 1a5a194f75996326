import CiblageModel
import Foundation
import XCTest

@testable import CiblageIngest

final class FieldParsingTests: XCTestCase {
    func decimal(_ bytes: [UInt8]) throws -> Double? {
        try bytes.withUnsafeBufferPointer { try FieldParsing.decimal($0) }
    }

    func decimal(_ text: String) throws -> Double? { try decimal(Array(text.utf8)) }

    func integer(_ text: String) throws -> Int? {
        try Array(text.utf8).withUnsafeBufferPointer { try FieldParsing.integer($0) }
    }

    func date(_ text: String) throws -> CalendarDate? {
        try Array(text.utf8).withUnsafeBufferPointer { try FieldParsing.date($0) }
    }

    func testReadsDecimalCommaAndDot() throws {
        XCTAssertEqual(try decimal("1234,5"), 1234.5)
        XCTAssertEqual(try decimal("1234.5"), 1234.5)
        XCTAssertEqual(try decimal("531870,12"), 531_870.12)
        XCTAssertEqual(try decimal("0,1"), 0.1)
    }

    func testEveryScaleDividesByItsExactPowerOfTen() throws {
        for scale in 0...18 {
            XCTAssertEqual(FieldParsing.powerOfTen(scale), Double("1e\(scale)")!, "10^\(scale)")
        }
        // Fifteen digits (a mantissa a Double holds exactly, so one rounding, as the reading of
        // the decimal text has), at every scale.
        let digits = "123456789012345"
        for scale in 1..<15 {
            let text = digits.prefix(15 - scale) + "," + digits.suffix(scale)
            XCTAssertEqual(try decimal(String(text)), Double(String(text).replacingOccurrences(of: ",", with: "."))!, String(text))
        }
        // Eighteen digits at most, one of them before the comma: the smallest scale-17 number.
        XCTAssertEqual(try decimal("0,00000000000000001"), 1e-17)
        XCTAssertThrowsError(try decimal("0,000000000000000001"))
    }

    func testReadsThousandsGroupedBySpacesOfEveryKind() throws {
        XCTAssertEqual(try decimal("1 234 567,89"), 1_234_567.89)
        XCTAssertEqual(try decimal("1\u{00A0}234\u{00A0}567,89"), 1_234_567.89)
        XCTAssertEqual(try decimal("1\u{202F}234,5"), 1234.5)
        XCTAssertEqual(try decimal([0x31, 0xA0, 0x32, 0x33, 0x34]), 1234, "no-break space of Windows-1252")
    }

    func testIgnoresSpacesAroundNumbers() throws {
        XCTAssertEqual(try decimal("  42,5 "), 42.5)
        XCTAssertEqual(try integer(" 30 "), 30)
    }

    func testDeclarationNaturesAreReadInAnyCaseAndNothingElse() {
        let parser = DeclarationRowParser(equipements: EquipementIndex([:]))
        func nature(_ text: String) -> NatureDeclaration? {
            Array(text.utf8).withUnsafeBufferPointer { parser.nature($0) }
        }
        XCTAssertEqual(nature("REEL"), .reel)
        XCTAssertEqual(nature("reel"), .reel)
        XCTAssertEqual(nature("Actualise"), .actualise)
        XCTAssertEqual(nature("PREVISIONNEL"), .previsionnel)
        for other in ["REE", "REELS", "RÉEL", "", "PREVISIONNE", "ACTUALISÉ", "re el"] { XCTAssertNil(nature(other), other) }
    }

    func testEquipmentsAreFoundWhateverTheOrderOfTheExport() {
        // Ids in the registry's order, which is not the order of the numbers' text.
        let numbers = (0..<40).map { k in "\(["72", "65", "971", "2A"][k % 4])-\(String(format: "%06d", k))" }
        var known = Dictionary(uniqueKeysWithValues: numbers.enumerated().map { ($0.element, Int64($0.offset + 1)) })
        known["13-ÉTÉ"] = 41
        let index = EquipementIndex(known)
        func ids(_ order: [String], encoding: TextEncoding = .utf8) -> [Int64?] {
            var parser = DeclarationRowParser(equipements: index)
            return order.map { number in
                let bytes = encoding == .windows1252 ? Windows1252.encode(number) : Array(number.utf8)
                return bytes.withUnsafeBufferPointer { parser.equipement($0, encoding) }
            }
        }
        func expected(_ order: [String]) -> [Int64?] { order.map { known[$0] } }
        // Four rows an equipment, in the registry's order, skipping some (nothing declared).
        let inOrder = numbers.enumerated().filter { $0.offset % 7 != 3 }.flatMap { Array(repeating: $0.element, count: 4) }
        XCTAssertEqual(ids(inOrder), expected(inOrder))
        // Reversed, shuffled, far jumps, unknown numbers between known ones.
        XCTAssertEqual(ids(inOrder.reversed()), expected(inOrder.reversed()))
        var random = SeededRandom(seed: 7)
        var mixed = inOrder
        for k in stride(from: mixed.count - 1, to: 0, by: -1) { mixed.swapAt(k, Int(random.next() % UInt64(k + 1))) }
        let shuffled = mixed + ["99-000001", numbers[0], "", numbers[39], "72-000000x", numbers[1]]
        XCTAssertEqual(ids(shuffled), expected(shuffled))
        // The same equipment's number in Windows-1252 and in UTF-8: its own id either way; its
        // UTF-8 bytes read as Windows-1252 are another number, unknown.
        XCTAssertEqual(ids(["13-ÉTÉ", numbers[2], "13-ÉTÉ", "13-ÉTÉ"], encoding: .windows1252), [41, 3, 41, 41])
        XCTAssertEqual(ids([numbers[2], "13-ÉTÉ", "13-ÉTÉ"]), [3, 41, 41])
        var parser = DeclarationRowParser(equipements: index)
        XCTAssertEqual(Windows1252.encode(numbers[5]).withUnsafeBufferPointer { parser.equipement($0, .windows1252) }, 6)
        XCTAssertNil(Array("13-ÉTÉ".utf8).withUnsafeBufferPointer { parser.equipement($0, .windows1252) })
    }

    func testEmptyMeansMissingNotZero() throws {
        XCTAssertNil(try decimal(""))
        XCTAssertNil(try decimal("   "))
        XCTAssertNil(try integer(""))
    }

    func testRejectsMalformedNumbers() {
        for text in ["12a", "1,2,3", "1 23", "12 34 567", "1.234,5", ",5", "5,", "--5", "1 234 ,5", "abc"] {
            XCTAssertThrowsError(try decimal(text), text)
        }
    }

    func testAmountsMayEndWithTheEuroSignInUTF8OrWindows1252AndNothingElse() throws {
        func euros(_ bytes: [UInt8]) throws -> Double? {
            try bytes.withUnsafeBufferPointer { try FieldParsing.euros($0) }
        }
        // What French Excel writes for a currency-formatted cell: a narrow or plain no-break space.
        XCTAssertEqual(try euros(Array("1 200,00 €".utf8)), 1200)
        XCTAssertEqual(try euros(Array("1\u{A0}200,00\u{A0}€".utf8)), 1200)
        XCTAssertEqual(try euros(Array("1\u{202F}200,50\u{202F}€ ".utf8)), 1200.5)
        XCTAssertEqual(try euros(Array("1200€".utf8)), 1200)
        XCTAssertEqual(try euros(Array("1 200,00 ".utf8) + [0x80]), 1200, "Windows-1252")
        XCTAssertEqual(try euros(Array("1200".utf8)), 1200)
        XCTAssertNil(try euros(Array(" € ".utf8)), "a sign alone is an empty amount")
        for text in ["€1200", "1200 € €", "1200 $", "1200 EUR", "12 €00"] {
            XCTAssertThrowsError(try euros(Array(text.utf8)), text)
        }
        XCTAssertThrowsError(try decimal("1200 €"), "only amounts take the sign")
    }

    func testIntegersAcceptAZeroFractionOnly() throws {
        XCTAssertEqual(try integer("30,0"), 30)
        XCTAssertEqual(try integer("-4"), -4)
        XCTAssertThrowsError(try integer("30,5"))
    }

    func testReadsFrenchAndISODates() throws {
        XCTAssertEqual(try date("28/03/2025"), CalendarDate(year: 2025, month: 3, day: 28))
        XCTAssertEqual(try date("1/2/2011"), CalendarDate(year: 2011, month: 2, day: 1))
        XCTAssertEqual(try date("2025-03-28"), CalendarDate(year: 2025, month: 3, day: 28))
        XCTAssertNil(try date(""))
    }

    func testRejectsImpossibleOrMalformedDates() {
        for text in [
            "31/02/2024", "28/13/2025", "2025/03/28", "28-03/2025", "28/03/25", "2025-3-28", "hier", "1/2/3/2024", "28/03/2025/",
            "/28/03/2025", "28//03/2025", "28/03", "12025-03-28", " 28 /03/2025",
        ] {
            XCTAssertThrowsError(try date(text), text)
        }
    }

    func testReadsBooleansOfEveryAcceptedForm() throws {
        for (text, value) in [("O", true), ("oui", true), ("1", true), ("N", false), ("non", false), ("0", false), ("", false)] {
            XCTAssertEqual(try Array(text.utf8).withUnsafeBufferPointer { try FieldParsing.boolean($0) }, value, text)
        }
        for (text, value) in [(" Oui ", true), ("oUi", true), ("nOn\t", false), ("  ", false), ("n", false), ("o", true)] {
            XCTAssertEqual(try Array(text.utf8).withUnsafeBufferPointer { try FieldParsing.boolean($0) }, value, text)
        }
        for text in ["peut-être", "\0", "O\0", "OU", "OUII", "NO", "00", "2", "vrai", "ouı", "ＯＵＩ", "é"] {
            XCTAssertThrowsError(try Array(text.utf8).withUnsafeBufferPointer { try FieldParsing.boolean($0) }, text)
        }
    }

    /// The plain path (digits, one separator, digits) must read what the full rules read and
    /// leave them everything else: random fields of digits, separators, signs and blanks.
    /// Reads `field` by a fast `path` of the number reading and by the full rules
    /// (``FieldParsing/groupedNumber(_:_:)``), and fails the test when the fast path reads what the
    /// full rules refuse or read otherwise. Returns whether the fast path read the field, and
    /// whether the full rules refuse it.
    func checkAgainstTheFullRules(
        _ field: [UInt8], path: String, _ fast: (UnsafePointer<UInt8>, Int) -> FieldParsing.ScannedNumber?
    ) -> (read: Bool, refused: Bool) {
        field.withUnsafeBufferPointer { bytes in
            guard let p = bytes.baseAddress, bytes.count > 0 else { return (false, false) }
            let full = Result { () throws(FieldProblem) in try FieldParsing.groupedNumber(p, bytes.count) }
            let refused = if case .failure = full { true } else { false }
            guard let value = fast(p, bytes.count) else { return (false, refused) }
            let text = String(decoding: field, as: UTF8.self)
            guard case .success(let read?) = full else {
                XCTFail("« \(text) » : lu par \(path), refusé par les règles")
                return (true, refused)
            }
            XCTAssertEqual(
                [read.negative ? 1 : 0, Int(read.mantissa), read.scale], [value.negative ? 1 : 0, Int(value.mantissa), value.scale], text)
            return (true, refused)
        }
    }

    func testThePlainNumberPathAgreesWithTheFullRules() {
        let alphabet: [[UInt8]] = [
            [0x30], [0x31], [0x35], [0x39], [0x2C], [0x2E], [0x20], [0x2D], [0x2B], [0xC2, 0xA0], [0xE2, 0x80, 0xAF], [0x61],
        ]
        var random = SeededRandom(seed: 2026)
        var plainCount = 0
        for _ in 0..<200_000 {
            var field: [UInt8] = []
            for _ in 0..<Int(random.next() % 22) {
                // Digits most of the time, as in the exports.
                let k = Int(random.next() % 20)
                field += k < 10 ? [UInt8(0x30 + k)] : alphabet[k - 10]
            }
            if checkAgainstTheFullRules(field, path: "le chemin simple", FieldParsing.plainNumber).read { plainCount += 1 }
        }
        XCTAssertGreaterThan(plainCount, 5_000)
        XCTAssertThrowsError(try decimal("12,"))
        XCTAssertThrowsError(try decimal("1234567890123456789"))
        XCTAssertEqual(try decimal("123456789012345678"), 123_456_789_012_345_678)
        XCTAssertEqual(try decimal("00012,50"), 12.5)
    }

    func testTheThousandsPathAgreesWithTheFullRules() {
        let blanks: [[UInt8]] = [[0x20], [0xA0], [0xC2, 0xA0], [0xE2, 0x80, 0xAF], [0x09], [0x20, 0x20]]
        var random = SeededRandom(seed: 1252)
        func digits(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(0x30 + Int(random.next() % 10)) } }
        var fastCount = 0
        var refused = 0
        for _ in 0..<200_000 {
            // Mostly well-formed grouped amounts, with now and then a group of the wrong size, a
            // doubled blank, a sign, a second separator or a letter.
            var field = digits(1 + Int(random.next() % 4))
            for _ in 0..<Int(random.next() % 7) {
                field += blanks[Int(random.next() % UInt64(blanks.count))]
                field += digits(random.next() % 12 == 0 ? 2 + Int(random.next() % 3) * 1 : 3)
            }
            if random.next() % 2 == 0 { field += [random.next() % 2 == 0 ? 0x2C : 0x2E] + digits(Int(random.next() % 4)) }
            switch random.next() % 30 {
            case 0: field.insert(0x2D, at: 0)
            case 1: field += [0x2C, 0x35]
            case 2: field.insert(0x61, at: Int(random.next() % UInt64(field.count + 1)))
            default: break
            }
            let outcome = checkAgainstTheFullRules(field, path: "le chemin des milliers", FieldParsing.thousandsNumber)
            if outcome.read { fastCount += 1 } else if outcome.refused { refused += 1 }
        }
        XCTAssertGreaterThan(fastCount, 30_000)
        XCTAssertGreaterThan(refused, 5_000)
        XCTAssertEqual(try decimal("80\u{A0}112"), 80_112)
        XCTAssertEqual(try decimal("1\u{202F}234\u{202F}567,25"), 1_234_567.25)
        XCTAssertThrowsError(try decimal("1 2345"))
        XCTAssertThrowsError(try decimal("1 234,"))
        XCTAssertThrowsError(try decimal("1234 567"))
    }
}

final class ControlPartTrimTests: XCTestCase {
    func testControlPartsLoseTheBlanksAroundThemAsFoundationTrimsThem() {
        let parts: [Substring] = [
            "2022", " 2022", "2022 ", "\t2022\t", "\u{00A0}2022\u{202F}", " ", "", "AB CD", "é", " é ", "2022\n", "\u{7F}",
        ]
        for part in parts {
            XCTAssertEqual(
                ControleRowParser.trimmed(part), Substring(part.trimmingCharacters(in: .whitespaces)), "« \(part) »")
        }
        XCTAssertEqual(Int(ControleRowParser.trimmed("\u{00A0}2023 ")), 2023)
        XCTAssertNil(Int(ControleRowParser.trimmed("2023\n")), "a line break is not a blank here")
    }
}

final class TextDecodingTests: XCTestCase {
    func testDecodesWindows1252Punctuation() {
        let bytes: [UInt8] = [0x9C, 0x75, 0x76, 0x72, 0x65, 0x20, 0x92, 0x20, 0x80]  // œuvre ’ €
        XCTAssertEqual(bytes.withUnsafeBufferPointer { Windows1252.decode($0) }, "œuvre ’ €")
        XCTAssertEqual(Windows1252.encode("Cœur d’été €"), [0x43, 0x9C, 0x75, 0x72, 0x20, 0x64, 0x92, 0xE9, 0x74, 0xE9, 0x20, 0x80])
    }

    func testValidatesUTF8AcrossChunkBoundaries() {
        let text = Array("Crèche Cœur – €".utf8)
        for split in 1..<text.count {
            var validator = UTF8Validator()
            text[..<split].withUnsafeBytes { validator.feed($0) }
            text[split...].withUnsafeBytes { validator.feed($0) }
            XCTAssertTrue(validator.finish(), "split at \(split)")
        }
    }

    func testEverySequenceIsCountedWhereverItFallsInAnEightByteWord() {
        // Multi-byte sequences (é, U+202F, 😀), a Windows-1252 é and a lone continuation byte, at
        // every offset of three words of ASCII, alone and two at once.
        let valid: [[UInt8]] = [[0xC3, 0xA9], [0xE2, 0x80, 0xAF], [0xF0, 0x9F, 0x98, 0x80]]
        let invalid: [[UInt8]] = [[0xE9], [0x80]]
        func counts(_ bytes: [UInt8]) -> (invalid: Int, multibyte: Int) {
            var validator = UTF8Validator()
            bytes.withUnsafeBytes { validator.feed($0) }
            _ = validator.finish()
            return (validator.invalidBytes, validator.multibyteSequences)
        }
        for offset in 0..<24 {
            for sequence in valid + invalid {
                var bytes = [UInt8](repeating: 0x61, count: 24)
                bytes.insert(contentsOf: sequence, at: offset)
                let expected = valid.contains(sequence) ? (0, 1) : (1, 0)
                XCTAssertTrue(counts(bytes) == expected, "\(sequence) at \(offset): \(counts(bytes))")
                // A second one a few bytes further, in the same word or the next.
                for gap in [0, 1, 5, 9] where offset + sequence.count + gap <= bytes.count {
                    var two = bytes
                    two.insert(contentsOf: valid[1], at: offset + sequence.count + gap)
                    XCTAssertTrue(counts(two) == (expected.0, expected.1 + 1), "\(sequence) at \(offset), gap \(gap): \(counts(two))")
                }
            }
        }
    }

    func testWindows1252BytesAreNotUTF8() {
        var validator = UTF8Validator()
        Windows1252.encode("Crèche Cœur").withUnsafeBytes { validator.feed($0) }
        XCTAssertFalse(validator.finish())
        var truncated = UTF8Validator()
        Array("é".utf8).prefix(1).withUnsafeBytes { truncated.feed($0) }
        XCTAssertFalse(truncated.finish())
    }
}

/// One field of bytes, as a CSV record or an XML element would give it.
private struct OneField: FieldSource {
    var field: UnsafeBufferPointer<UInt8>
    var encoding: TextEncoding
    func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8> { field }
    func fieldName(_ column: Int) -> String { "CHAMP" }
}

final class UppercasedFieldTests: XCTestCase {
    func testUppercasedFieldsAreWhatUppercasedTextGives() throws {
        let texts = ["sur_place", " Ciblage ", "2a004", "crèche", "œuvre", "Ärzte straße", "abc\u{0131}", "ZZ-09", "\t x \t"]
        for encoding in [TextEncoding.utf8, .windows1252] {
            for text in texts {
                let bytes = encoding == .utf8 ? Array(text.utf8) : Windows1252.encode(text)
                try bytes.withUnsafeBufferPointer { field in
                    let reader = FieldReader(OneField(field: field, encoding: encoding))
                    XCTAssertEqual(try reader.requiredUppercased(0), try reader.requiredText(0).uppercased(), "\(text) \(encoding)")
                }
            }
            try Array("  ".utf8).withUnsafeBufferPointer { field in
                XCTAssertThrowsError(try FieldReader(OneField(field: field, encoding: encoding)).requiredUppercased(0)) { error in
                    XCTAssertEqual((error as? RowReject)?.reason, "champ obligatoire vide")
                }
            }
        }
    }
}
