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
            field.withUnsafeBufferPointer { bytes in
                guard let p = bytes.baseAddress, bytes.count > 0 else { return }
                let full = Result { () throws(FieldProblem) in try FieldParsing.groupedNumber(p, bytes.count) }
                guard let plain = FieldParsing.plainNumber(p, bytes.count) else { return }
                plainCount += 1
                guard case .success(let read?) = full else {
                    return XCTFail("« \(String(decoding: field, as: UTF8.self)) » : lu par le chemin simple, refusé par les règles")
                }
                XCTAssertEqual(
                    [read.negative ? 1 : 0, Int(read.mantissa), read.scale], [plain.negative ? 1 : 0, Int(plain.mantissa), plain.scale],
                    String(decoding: field, as: UTF8.self))
            }
        }
        XCTAssertGreaterThan(plainCount, 5_000)
        XCTAssertThrowsError(try decimal("12,"))
        XCTAssertThrowsError(try decimal("1234567890123456789"))
        XCTAssertEqual(try decimal("123456789012345678"), 123_456_789_012_345_678)
        XCTAssertEqual(try decimal("00012,50"), 12.5)
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
