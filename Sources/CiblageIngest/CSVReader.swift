import CiblageModel
import CLibCSV
import Foundation

/// One CSV record, borrowed from the reader: valid only during the sink's call.
public struct CSVRecord {
    /// 1-based physical line where the record starts (quoted fields may span lines).
    public let line: Int
    /// The record's bytes as in the file, line ends excluded at its end.
    public let raw: UnsafeBufferPointer<UInt8>
    /// Byte offset in the file of the record's first byte (of `raw`): the record can be read
    /// again with `pread` (``CSVReader/rawText(of:in:encoding:)``) without parsing the file again.
    public let offset: Int
    public let fieldCount: Int
    let arena: UnsafePointer<UInt8>
    let starts: UnsafePointer<Int>
    let lengths: UnsafePointer<Int>

    /// The bytes of field `index` (empty when the field is empty or absent).
    public subscript(index: Int) -> UnsafeBufferPointer<UInt8> {
        guard index < fieldCount, lengths[index] > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: arena + starts[index], count: lengths[index])
    }
}

/// Receives what a ``CSVReader`` reads, in file order.
public protocol CSVRecordSink {
    /// A well-formed record (the first one is the header).
    mutating func record(_ record: CSVRecord) throws
    /// A record the CSV syntax rejects (quote misplaced or never closed, too long). `raw` is its
    /// first line; reading resumes on the next line.
    mutating func malformed(line: Int, reason: String, raw: UnsafeBufferPointer<UInt8>) throws
}

/// Streams a CSV file through libcsv in strict mode.
///
/// The file is read by large chunks and fed to libcsv one physical line at a time, so that each
/// record knows the line it starts on and its raw text (a CR ends the record of a CRLF line, the
/// LF after it is then skipped). Lines end with LF (or CRLF), or with a lone CR when the header
/// line does (Excel for Mac's former « CSV (Macintosh) »: read by LF, such a file was one line,
/// its rows taken for columns of the header and silently lost). Fields are copied into one arena
/// (no String per field), a UTF-8 BOM is skipped, the delimiter is taken from the header line
/// (`;`, else `,` or tab), blank lines between records are skipped (and lines of separators
/// only). A record broken by its quotes is reported as malformed and reading resumes on the line
/// after its first line; a record may not exceed ``maxRecordBytes``, so a stray quote cannot
/// swallow the file into memory.
public final class CSVReader {
    /// Largest record accepted, bytes.
    public static let maxRecordBytes = 1 << 20
    static let chunkSize = 1 << 20

    public let url: URL
    /// The separator found on the header line.
    public private(set) var delimiter: UInt8 = UInt8(ascii: ";")
    /// What ends a physical line: LF (and CRLF), or CR when the header line ends with a lone CR.
    public private(set) var lineEnd: UInt8 = 0x0A
    /// Physical lines read.
    public private(set) var lineCount = 0

    private let parser: UnsafeMutablePointer<csv_parser>
    private let state: UnsafeMutablePointer<ParseState>
    private var rawRecord: [UInt8] = []
    private var recordStartLine = 0
    private var recordStartOffset = 0
    private var options: UInt8 = UInt8(CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL)

    public init(url: URL) {
        self.url = url
        parser = .allocate(capacity: 1)
        state = .allocate(capacity: 1)
        state.initialize(to: ParseState())
        csv_init(parser, options)
    }

    deinit {
        csv_free(parser)
        parser.deallocate()
        state.pointee.release()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Reads the whole file into `sink`.
    public func read<Sink: CSVRecordSink>(into sink: inout Sink) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw CSVReadError.unreadable(url.path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var capacity = Self.chunkSize
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var filled = 0
        /// File offset of `buffer[0]`.
        var bufferOffset = 0
        var first = true
        var discardingLongLine = false
        var parserReady = false

        while true {
            if filled == capacity {
                // One line longer than the buffer: grow up to the cap, then give up on the line.
                if capacity < Self.maxRecordBytes * 2 {
                    let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                    bigger.update(from: buffer, count: filled)
                    buffer.deallocate()
                    buffer = bigger
                    capacity *= 2
                } else {
                    if !discardingLongLine {
                        lineCount += 1
                        try sink.malformed(
                            line: lineCount, reason: "ligne trop longue (plus de \(Self.maxRecordBytes) octets)",
                            raw: UnsafeBufferPointer(start: buffer, count: min(filled, 200)))
                        discardingLongLine = true
                    }
                    bufferOffset += filled
                    filled = 0
                }
            }
            let n = Foundation.read(fd, buffer + filled, capacity - filled)
            if n < 0 { throw CSVReadError.unreadable(url.path, String(cString: strerror(errno))) }
            let atEnd = n == 0
            filled += n
            var start = 0
            if first && filled > 0 {
                if filled >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF { start = 3 }
                let head = UnsafeBufferPointer(start: buffer + start, count: filled - start)
                guard let end = Self.lineEnd(of: head, complete: atEnd || filled == capacity) else { continue }
                lineEnd = end
                delimiter = Self.detectDelimiter(head, lineEnd: end)
                try resetParser()
                parserReady = true
                first = false
            }
            while start < filled {
                guard let lf = memchr(buffer + start, Int32(lineEnd), filled - start) else { break }
                let end = UnsafeMutablePointer<UInt8>(lf.assumingMemoryBound(to: UInt8.self)) - buffer + 1
                lineCount += 1
                if discardingLongLine {
                    discardingLongLine = false
                } else {
                    try feedLine(UnsafeBufferPointer(start: buffer + start, count: end - start), lineCount, bufferOffset + start, &sink)
                }
                start = end
            }
            if atEnd {
                if start < filled {
                    lineCount += 1
                    if !discardingLongLine {
                        try feedLine(UnsafeBufferPointer(start: buffer + start, count: filled - start), lineCount, bufferOffset + start, &sink)
                    }
                }
                if parserReady { try finish(&sink) }
                return
            }
            if start > 0 {
                (buffer).update(from: buffer + start, count: filled - start)
                filled -= start
                bufferOffset += start
            }
        }
    }

    /// The raw text of records already read, by their span (offset, byte count) in the file at
    /// `path`: read back with `pread`, without parsing the file again.
    public static func rawText(of spans: [Int: (offset: Int, count: Int)], in path: String, encoding: TextEncoding) throws -> [Int: String] {
        guard !spans.isEmpty else { return [:] }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CSVReadError.unreadable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var texts: [Int: String] = [:]
        for (line, span) in spans {
            var bytes = [UInt8](repeating: 0, count: span.count)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, span.count, off_t(span.offset)) }
            if n < 0 { throw CSVReadError.unreadable(path, String(cString: strerror(errno))) }
            texts[line] = bytes.withUnsafeBufferPointer { encoding.decode(UnsafeBufferPointer(rebasing: $0[0..<n])) }
        }
        return texts
    }

    /// What ends the lines of a file starting with `bytes`: CR when its first line ends with a
    /// CR not followed by LF, else LF; nil while `bytes` holds no line end yet and more may come
    /// (`complete`: nothing more will).
    static func lineEnd(of bytes: UnsafeBufferPointer<UInt8>, complete: Bool) -> UInt8? {
        guard let i = bytes.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) else { return complete ? 0x0A : nil }
        if bytes[i] == 0x0A { return 0x0A }
        if i + 1 < bytes.count { return bytes[i + 1] == 0x0A ? 0x0A : 0x0D }
        return complete ? 0x0D : nil
    }

    static func detectDelimiter(_ bytes: UnsafeBufferPointer<UInt8>, lineEnd: UInt8) -> UInt8 {
        let header = bytes.prefix { $0 != lineEnd }
        if header.contains(UInt8(ascii: ";")) { return UInt8(ascii: ";") }
        if header.contains(0x09) { return 0x09 }
        if header.contains(UInt8(ascii: ",")) { return UInt8(ascii: ",") }
        return UInt8(ascii: ";")
    }

    private func resetParser() throws {
        csv_free(parser)
        guard csv_init(parser, options) == 0 else { throw CSVReadError.parserInit }
        csv_set_delim(parser, delimiter)
        // libcsv's own checks (spaces: space and tab; terminators: CR and LF) are inlined; a
        // custom function costs a call per byte, so it is set only where the default is wrong.
        if delimiter == 0x09 { csv_set_space_func(parser, csvIsSpaceNoTab) }
        csv_set_realloc_func(parser, csvCappedRealloc)
        state.pointee.clearRecord()
    }

    /// A line holding nothing but blanks and separators: a spreadsheet writes `;;;;` for a row
    /// whose cells were only formatted. Skipped as a blank line (each was rejected for its
    /// missing N_DOSSIER, counting towards `--max-rejets`).
    private func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        let delimiter = delimiter
        return line.allSatisfy { FieldParsing.isASCIIBlank($0) || $0 == delimiter }
    }

    /// Feeds one physical line. The raw text of a record on one line is the line itself; only a
    /// record spanning lines is copied into `rawRecord`.
    private func feedLine<Sink: CSVRecordSink>(
        _ line: UnsafeBufferPointer<UInt8>, _ number: Int, _ offset: Int, _ sink: inout Sink
    ) throws {
        let continuing = !rawRecord.isEmpty
        if !continuing {
            if isBlank(line) { return }
            recordStartLine = number
            recordStartOffset = offset
        }
        let consumed = csv_parse(parser, line.baseAddress, line.count, csvFieldCallback, csvRecordCallback, state)
        if consumed < line.count {
            rawRecord.append(contentsOf: line)
            return try resync(Self.reason(csv_error(parser)), &sink)
        }
        if state.pointee.recordEnded {
            if continuing {
                var pending = rawRecord
                rawRecord.removeAll(keepingCapacity: true)
                pending.append(contentsOf: line)
                try pending.withUnsafeBufferPointer { try deliver($0, &sink) }
            } else {
                try deliver(line, &sink)
            }
            return
        }
        rawRecord.append(contentsOf: line)
        if rawRecord.count > Self.maxRecordBytes {
            return try resync("enregistrement trop long (guillemet non fermé ?)", &sink)
        }
    }

    private func finish<Sink: CSVRecordSink>(_ sink: inout Sink) throws {
        if csv_fini(parser, csvFieldCallback, csvRecordCallback, state) != 0 {
            try resync("guillemet ouvert et jamais fermé", &sink)
            return try finish(&sink)
        }
        if state.pointee.recordEnded {
            let pending = rawRecord
            rawRecord.removeAll(keepingCapacity: true)
            try pending.withUnsafeBufferPointer { try deliver($0, &sink) }
        }
    }

    private func deliver<Sink: CSVRecordSink>(_ raw: UnsafeBufferPointer<UInt8>, _ sink: inout Sink) throws {
        var rawCount = raw.count
        while rawCount > 0 && (raw[rawCount - 1] == 0x0A || raw[rawCount - 1] == 0x0D) { rawCount -= 1 }
        let s = state.pointee
        state.pointee.clearRecord()  // counters only: the arena stays valid for the sink's call
        try sink.record(
            CSVRecord(
                line: recordStartLine, raw: UnsafeBufferPointer(rebasing: raw[0..<rawCount]), offset: recordStartOffset,
                fieldCount: s.fieldCount, arena: s.arena, starts: s.starts, lengths: s.lengths))
    }

    /// Reports the current record as malformed and feeds again the lines after its first line.
    private func resync<Sink: CSVRecordSink>(_ reason: String, _ sink: inout Sink) throws {
        let pending = rawRecord
        let startLine = recordStartLine
        let startOffset = recordStartOffset
        rawRecord.removeAll(keepingCapacity: true)
        try resetParser()
        let firstEnd = (pending.firstIndex(of: lineEnd).map { $0 + 1 }) ?? pending.count
        var firstLineEnd = firstEnd
        while firstLineEnd > 0 && (pending[firstLineEnd - 1] == 0x0A || pending[firstLineEnd - 1] == 0x0D) { firstLineEnd -= 1 }
        try pending.withUnsafeBufferPointer { all in
            try sink.malformed(line: startLine, reason: reason, raw: UnsafeBufferPointer(rebasing: all[0..<firstLineEnd]))
            var start = firstEnd
            var number = startLine + 1
            while start < all.count {
                let end = (all[start...].firstIndex(of: lineEnd).map { $0 + 1 }) ?? all.count
                try feedLine(UnsafeBufferPointer(rebasing: all[start..<end]), number, startOffset + start, &sink)
                number += 1
                start = end
            }
        }
    }

    static func reason(_ code: Int32) -> String {
        switch code {
        case Int32(CSV_EPARSE): "guillemets mal placés (un champ entre guillemets doit être suivi du séparateur)"
        case Int32(CSV_ENOMEM), Int32(CSV_ETOOBIG): "champ trop long (guillemet non fermé ?)"
        default: "CSV illisible"
        }
    }
}

/// Errors that stop reading a file.
public enum CSVReadError: Error, CustomStringConvertible {
    case unreadable(String, String)
    case parserInit

    public var description: String {
        switch self {
        case .unreadable(let path, let why): "\(path) : lecture impossible (\(why))"
        case .parserInit: "initialisation de libcsv impossible"
        }
    }
}

/// State the C callbacks write into: a plain struct behind a pointer, so that the hot path has no
/// dynamic exclusivity checks.
struct ParseState {
    var arena = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
    var arenaCapacity = 4096
    var arenaCount = 0
    var starts = UnsafeMutablePointer<Int>.allocate(capacity: 64)
    var lengths = UnsafeMutablePointer<Int>.allocate(capacity: 64)
    var fieldCapacity = 64
    var fieldCount = 0
    var recordEnded = false

    mutating func clearRecord() {
        arenaCount = 0
        fieldCount = 0
        recordEnded = false
    }

    /// Called by libcsv for every field (13 million at the national scale): the room is made by
    /// a call of its own, rarely taken, and a short field is copied in place by words, where a
    /// call to `memmove` for a few bytes cost about as much as the rest of this method.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawPointer?, _ count: Int) {
        if fieldCount == fieldCapacity || arenaCount + count > arenaCapacity { makeRoom(count) }
        starts[fieldCount] = arenaCount
        guard let bytes, count > 0 else {
            lengths[fieldCount] = 0
            fieldCount += 1
            return
        }
        lengths[fieldCount] = count
        fieldCount += 1
        let target = UnsafeMutableRawPointer(arena + arenaCount)
        // Up to 16 bytes by two words that overlap (the first and the last bytes), never
        // reading past the field.
        if count >= 8 && count <= 16 {
            let head = bytes.loadUnaligned(as: UInt64.self)
            let tail = bytes.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            target.storeBytes(of: head, as: UInt64.self)
            target.storeBytes(of: tail, toByteOffset: count - 8, as: UInt64.self)
        } else if count >= 4 && count < 8 {
            let head = bytes.loadUnaligned(as: UInt32.self)
            let tail = bytes.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
            target.storeBytes(of: head, as: UInt32.self)
            target.storeBytes(of: tail, toByteOffset: count - 4, as: UInt32.self)
        } else if count < 4 {
            let source = bytes.assumingMemoryBound(to: UInt8.self)
            let bytes = target.assumingMemoryBound(to: UInt8.self)
            for k in 0..<count { bytes[k] = source[k] }
        } else {
            target.copyMemory(from: bytes, byteCount: count)
        }
        arenaCount += count
    }

    /// Room for one more field of `count` bytes.
    @inline(never)
    mutating func makeRoom(_ count: Int) {
        if fieldCount == fieldCapacity {
            let newCapacity = fieldCapacity * 2
            let s = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
            let l = UnsafeMutablePointer<Int>.allocate(capacity: newCapacity)
            s.update(from: starts, count: fieldCount)
            l.update(from: lengths, count: fieldCount)
            starts.deallocate()
            lengths.deallocate()
            starts = s
            lengths = l
            fieldCapacity = newCapacity
        }
        if arenaCount + count > arenaCapacity {
            var newCapacity = arenaCapacity * 2
            while newCapacity < arenaCount + count { newCapacity *= 2 }
            let a = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            a.update(from: arena, count: arenaCount)
            arena.deallocate()
            arena = a
            arenaCapacity = newCapacity
        }
    }

    func release() {
        arena.deallocate()
        starts.deallocate()
        lengths.deallocate()
    }
}

private func csvFieldCallback(_ field: UnsafeMutableRawPointer?, _ length: Int, _ data: UnsafeMutableRawPointer?) {
    data!.assumingMemoryBound(to: ParseState.self).pointee.append(field, length)
}

private func csvRecordCallback(_ terminator: Int32, _ data: UnsafeMutableRawPointer?) {
    data!.assumingMemoryBound(to: ParseState.self).pointee.recordEnded = true
}

private func csvIsSpaceNoTab(_ c: UInt8) -> Int32 { c == 0x20 ? 1 : 0 }
private func csvCappedRealloc(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    size > 2 * CSVReader.maxRecordBytes ? nil : realloc(pointer, size)
}
