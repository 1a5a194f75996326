import CiblageModel
import Foundation

/// Writes one synthetic export file byte by byte, knowing the line each record starts on.
final class ExportFileWriter {
    enum Encoding {
        case utf8
        case utf8WithBOM
        case windows1252
    }

    let url: URL
    let encoding: Encoding
    let lineEnd: [UInt8]
    private var buffer: [UInt8] = []
    private let handle: FileHandle
    /// The line the next record starts on (1-based).
    private(set) var nextLine = 1
    private(set) var records = 0

    init(url: URL, encoding: Encoding, crlf: Bool) throws {
        self.url = url
        self.encoding = encoding
        lineEnd = crlf ? [0x0D, 0x0A] : [0x0A]
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
        }
        handle = try FileHandle(forWritingTo: url)
        if encoding == .utf8WithBOM { buffer += [0xEF, 0xBB, 0xBF] }
    }

    var allowsNarrowNoBreakSpace: Bool { encoding != .windows1252 }

    /// Writes a record of fields (quoted where needed); returns the line it starts on.
    @discardableResult
    func row(_ fields: [String], separator: String = ";") -> Int {
        raw(fields.map { Self.quoted($0, separator) }.joined(separator: separator))
    }

    /// Writes one record's text as is; returns the line it starts on.
    @discardableResult
    func raw(_ text: String) -> Int {
        let start = nextLine
        append(text)
        buffer += lineEnd
        nextLine += 1 + text.utf8.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        records += 1
        if buffer.count > 1 << 20 { flush() }
        return start
    }

    /// Text with no line end (e.g. a record cut short in transfer).
    func unterminated(_ text: String) -> Int {
        let start = nextLine
        append(text)
        records += 1
        return start
    }

    func blankLines(_ count: Int) {
        for _ in 0..<count { buffer += lineEnd }
    }

    func close(dropFinalLineEnd: Bool = false) throws {
        if dropFinalLineEnd, buffer.count >= lineEnd.count { buffer.removeLast(lineEnd.count) }
        flush()
        try handle.close()
    }

    private func append(_ text: String) {
        switch encoding {
        case .windows1252: buffer += Windows1252.encode(text)
        default: buffer += Array(text.utf8)
        }
    }

    private func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    static func quoted(_ field: String, _ separator: String) -> String {
        guard field.contains(separator) || field.contains("\"") || field.contains("\n") else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// How numbers are written in one file or row: the quirks of French exports.
struct NumberStyle {
    enum Grouping { case none, space, noBreakSpace, narrowNoBreakSpace }
    var grouping: Grouping = .none
    var decimalDot = false
    var paddedWithSpaces = false

    /// `value` with at most `decimals` digits after the separator (trailing zeros dropped).
    func format(_ value: Double?, decimals: Int) -> String {
        guard let value else { return "" }
        let scale = pow(10, Double(decimals))
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale)
        var fraction = decimals > 0 ? String(scaled % Int64(scale)) : ""
        if decimals > 0 {
            fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
        }
        var digits = String(whole)
        let separator: String =
            switch grouping {
            case .none: ""
            case .space: " "
            case .noBreakSpace: "\u{00A0}"
            case .narrowNoBreakSpace: "\u{202F}"
            }
        if !separator.isEmpty && digits.count > 3 {
            var grouped = ""
            for (i, ch) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { grouped += separator }
                grouped.append(ch)
            }
            digits = grouped
        }
        var text = (value < 0 ? "-" : "") + digits + (fraction.isEmpty ? "" : (decimalDot ? "." : ",") + fraction)
        if paddedWithSpaces { text = " \(text) " }
        return text
    }
}
