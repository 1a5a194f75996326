import Foundation
import XCTest

@testable import CiblageModel

/// Windows-1252 decoding and département codes, read byte by byte.
final class TextCodesTests: XCTestCase {
    func testAsciiUppercasingIsUppercasedOnAsciiAndLeavesOtherBytesAlone() {
        for byte in UInt8.min...UInt8.max {
            if byte < 0x80 {
                XCTAssertEqual([byte.asciiUppercased], Array(String(Unicode.Scalar(byte)).uppercased().utf8), "byte \(byte)")
            } else {
                XCTAssertEqual(byte.asciiUppercased, byte, "byte \(byte)")
            }
        }
    }

    func testEveryWindows1252ByteDecodesToItsCharacter() {
        for byte in 0...255 {
            let expected = String(Unicode.Scalar(Windows1252.scalars[byte])!)
            // Alone, and between ASCII and other non-ASCII characters.
            for bytes in [[UInt8(byte)], [0x41, UInt8(byte), 0xE9, 0x80, 0x7A]] {
                let decoded = bytes.withUnsafeBufferPointer { Windows1252.decode($0) }
                let reference = bytes.map { String(Unicode.Scalar(Windows1252.scalars[Int($0)])!) }.joined()
                XCTAssertEqual(decoded, reference, "byte \(byte)")
                XCTAssertTrue(decoded.contains(expected) || byte == 0, "byte \(byte)")
            }
        }
        let long = [UInt8](repeating: 0x80, count: 1000)  // € takes three UTF-8 bytes
        XCTAssertEqual(long.withUnsafeBufferPointer { Windows1252.decode($0) }, String(repeating: "€", count: 1000))
        XCTAssertEqual([UInt8]().withUnsafeBufferPointer { Windows1252.decode($0) }, "")
    }

    func testDepartementCodesAreTrimmedUpperCasedAndPadded() {
        let cases: [(String, String)] = [
            ("75", "75"), (" 1 ", "01"), ("\t9", "09"), ("0", "0"), ("2a", "2A"), ("2B", "2B"), ("971", "971"),
            ("  974\t", "974"), ("", ""), ("12345", "12345"), ("1 2", "1 2"), ("é1", "É1"), (" ９ ", "９"),
        ]
        for (text, code) in cases {
            XCTAssertEqual(Referentiel.departementCode(text), code, text)
            XCTAssertEqual(Referentiel.departementCode(Substring(text)), code, text)
        }
    }
}
