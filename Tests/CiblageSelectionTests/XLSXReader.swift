import CZlib
import Foundation

/// A small reader of `.xlsx` files for the tests: the zip's central directory, raw-deflate
/// entries inflated with zlib, then each sheet's cells with their type as Excel stores them
/// (`s`: shared string, `inlineStr`: inline string, `str`: formula string, absent: number).
struct XLSXReader {
    struct Cell: Equatable {
        /// `t` attribute of the cell: "inlineStr", "s", "str", "b", or "" for a number.
        var type: String
        var value: String
        var isText: Bool { ["inlineStr", "s", "str"].contains(type) }
    }

    /// Sheet name → row (1-based) → column letter(s) → cell.
    var sheets: [(name: String, rows: [Int: [String: Cell]])] = []
    var entries: [String: Data] = [:]

    init(_ url: URL) throws {
        let data = try Data(contentsOf: url)
        entries = try Self.unzip([UInt8](data))
        let shared = Self.sharedStrings(entries["xl/sharedStrings.xml"].map { String(decoding: $0, as: UTF8.self) } ?? "")
        let workbook = String(decoding: entries["xl/workbook.xml"] ?? Data(), as: UTF8.self)
        let names = workbook.matches(of: /<sheet [^>]*name="([^"]*)"/).map { Self.unescape(String($0.1)) }
        for (i, name) in names.enumerated() {
            let xml = String(decoding: entries["xl/worksheets/sheet\(i + 1).xml"] ?? Data(), as: UTF8.self)
            var rows: [Int: [String: Cell]] = [:]
            for match in xml.matches(of: /<c r="([A-Z]+)(\d+)"([^>]*?)(?:\/>|>(.*?)<\/c>)/) {
                let attributes = String(match.3)
                let type = attributes.firstMatch(of: /t="([^"]*)"/).map { String($0.1) } ?? ""
                let body = match.4.map(String.init) ?? ""
                var value: String
                if type == "inlineStr" {
                    value = body.matches(of: /<t[^>]*>(.*?)<\/t>/).map { Self.unescape(String($0.1)) }.joined()
                } else {
                    value = body.firstMatch(of: /<v>(.*?)<\/v>/).map { Self.unescape(String($0.1)) } ?? ""
                    if type == "s", let index = Int(value), index < shared.count { value = shared[index] }
                }
                rows[Int(match.2)!, default: [:]][String(match.1)] = Cell(type: type, value: value)
            }
            sheets.append((name, rows))
        }
    }

    func sheet(_ name: String) -> [Int: [String: Cell]]? { sheets.first { $0.name == name }?.rows }

    static func sharedStrings(_ xml: String) -> [String] {
        xml.matches(of: /<si>(.*?)<\/si>/).map { si in
            String(si.1).matches(of: /<t[^>]*>(.*?)<\/t>/).map { unescape(String($0.1)) }.joined()
        }
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    struct ZipError: Error { var message: String }

    static func unzip(_ bytes: [UInt8]) throws -> [String: Data] {
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        // End of central directory: signature 0x06054b50 within the last 64 KiB.
        guard let end = stride(from: bytes.count - 22, through: max(0, bytes.count - 65_557), by: -1).first(where: { u32($0) == 0x0605_4b50 })
        else { throw ZipError(message: "pas de répertoire central") }
        var p = u32(end + 16)
        var out: [String: Data] = [:]
        for _ in 0..<u16(end + 10) {
            guard u32(p) == 0x0201_4b50 else { throw ZipError(message: "entrée du répertoire central invalide") }
            let method = u16(p + 10), compressed = u32(p + 20), size = u32(p + 24)
            let nameLength = u16(p + 28), extra = u16(p + 30), comment = u16(p + 32), local = u32(p + 42)
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            let raw = Array(bytes[start..<(start + compressed)])
            out[name] = method == 0 ? Data(raw) : try inflate(raw, size: size)
            p += 46 + nameLength + extra + comment
        }
        return out
    }

    static func inflate(_ input: [UInt8], size: Int) throws -> Data {
        var output = [UInt8](repeating: 0, count: max(size, 1))
        var stream = z_stream()
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return Z_STREAM_ERROR }
                let result = CZlib.inflate(&stream, Z_FINISH)
                inflateEnd(&stream)
                return result
            }
        }
        guard status == Z_STREAM_END else { throw ZipError(message: "inflate: \(status)") }
        return Data(output.prefix(size))
    }
}
