import CiblageModel
import CiblageStore

/// Rejects of one file, in the order found; some get their raw text only after the file is read.
struct RejectCollector: Sendable {
    let fileName: String
    var rejects: [Reject] = []
    /// Lines whose content must be fetched by reading the file again.
    var pendingContent: Set<Int> = []
    var unknownColumns: [String] = []
    /// Rows rejected as part of a key conflict.
    var conflictCount = 0

    init(fileName: String) { self.fileName = fileName }

    mutating func add(line: Int, field: String, reason: String, content: String?) {
        if content == nil { pendingContent.insert(line) }
        rejects.append(Reject(file: fileName, line: line, field: field, reason: reason, content: content ?? ""))
    }

    /// Adds the rejects another collector found in the same file.
    mutating func merge(_ other: RejectCollector) {
        rejects += other.rejects
        pendingContent.formUnion(other.pendingContent)
        conflictCount += other.conflictCount
    }

    mutating func fillContent(_ contents: [Int: String]) {
        for i in rejects.indices where pendingContent.contains(rejects[i].line) {
            rejects[i].content = contents[rejects[i].line] ?? ""
        }
        pendingContent.removeAll()
    }
}

/// A CSV record seen through the header map: columns of ``ExportColumns`` to field indices.
struct CSVFieldSource: FieldSource {
    let record: CSVRecord
    /// Not retained: the ``TableSink`` holding the map outlives every row it hands over. A
    /// source made for each row and released after it retained and released the map's arrays,
    /// 3 % of a national ingest's processor time.
    unowned(unsafe) let map: ColumnMap
    let encoding: TextEncoding

    /// Inlined: a call per field, some 20 million on a national ingest, was 2 % of its reading.
    @inline(__always)
    func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8> {
        let index = map.fieldIndex[column]
        return index < 0 ? UnsafeBufferPointer(start: nil, count: 0) : record[index]
    }

    func fieldName(_ column: Int) -> String { map.names[column] }
}

/// The columns of ``ExportColumns`` found in a file's header: their field index (-1 when
/// absent) and the names to report them by.
final class ColumnMap {
    let fieldIndex: UnsafeMutablePointer<Int>
    let names: [String]

    init(fieldIndex: [Int], names: [String]) {
        self.fieldIndex = .allocate(capacity: max(fieldIndex.count, 1))
        self.fieldIndex.initialize(from: fieldIndex, count: fieldIndex.count)
        self.names = names
    }

    deinit { fieldIndex.deallocate() }
}

/// Where a record's raw text lies in its file: read back with ``CSVReader/rawText(of:in:encoding:)``
/// when a reject found after the record was read needs it.
struct RawSpan: Sendable {
    var offset: Int
    var count: Int32

    init(_ record: CSVRecord) {
        offset = record.offset
        count = Int32(clamping: record.raw.count)
    }

    init(offset: Int, count: Int32) {
        self.offset = offset
        self.count = count
    }
}

/// The spans of the rows of one file, by line (8 + 4 + 4 bytes a row), so that the raw text of
/// any earlier row can be read back without parsing the file again. Rows come by windows sorted
/// by key (``DeclarationParseHandler``): lines are put in order only when asked for.
struct RawSpans {
    private var lines: [Int32] = []
    private var offsets: [Int] = []
    private var counts: [Int32] = []
    private var inOrder = true

    mutating func append(line: Int, _ span: RawSpan) {
        if let last = lines.last, Int(last) > line { inOrder = false }
        lines.append(Int32(clamping: line))
        offsets.append(span.offset)
        counts.append(span.count)
    }

    /// The spans of `wanted` lines that were appended.
    func spans(of wanted: Set<Int>) -> [Int: (offset: Int, count: Int)] {
        guard !wanted.isEmpty else { return [:] }
        var found: [Int: (offset: Int, count: Int)] = [:]
        guard inOrder else {
            // One pass over the file's rows: sorting them all by line to look up a few took the
            // storing thread 0.11 s over the four national files in random order.
            for i in lines.indices where wanted.contains(Int(lines[i])) {
                found[Int(lines[i])] = (offsets[i], Int(counts[i]))
            }
            return found
        }
        for line in wanted {
            let k = partitionPoint(lines.count) { Int(lines[$0]) < line }
            if k < lines.count, Int(lines[k]) == line { found[line] = (offsets[k], Int(counts[k])) }
        }
        return found
    }
}

/// What a ``TableSink`` does with each well-formed row of the right width.
protocol RowHandler {
    mutating func handle(
        _ reader: FieldReader<CSVFieldSource>, line: Int, span: RawSpan, _ rejects: inout RejectCollector, raw: () -> String
    ) throws
}

/// Maps the header, checks each record's width, and hands rows to a ``RowHandler``.
struct TableSink<Handler: RowHandler>: CSVRecordSink {
    let columns: [ColumnSpec]
    let encoding: TextEncoding
    var rejects: RejectCollector
    var handler: Handler
    let columnNames: [String]
    /// Set once the header is read.
    var columnMap: ColumnMap?
    var headerWidth = 0
    /// The file's column names, in file order.
    var headerNames: [String] = []
    /// Records read, header excluded.
    var read = 0

    init(columns: [ColumnSpec], encoding: TextEncoding, rejects: RejectCollector, handler: Handler) {
        self.columns = columns
        self.columnNames = columns.map(\.name)
        self.encoding = encoding
        self.rejects = rejects
        self.handler = handler
    }

    mutating func record(_ record: CSVRecord) throws {
        guard columnMap != nil else {
            try readHeader(record)
            return
        }
        read += 1
        guard record.fieldCount == headerWidth else {
            rejects.add(
                line: record.line, field: "",
                reason: "\(headerWidth) champs attendus, \(record.fieldCount) trouvés", content: encoding.decode(record.raw))
            return
        }
        if let reject = Self.byteReject(record, encoding: encoding, names: headerNames) {
            rejects.add(line: record.line, field: reject.field, reason: reject.reason, content: encoding.decode(record.raw))
            return
        }
        let encoding = self.encoding
        let source = CSVFieldSource(record: record, map: columnMap.unsafelyUnwrapped, encoding: encoding)
        try handler.handle(FieldReader(source), line: record.line, span: RawSpan(record), &rejects) { encoding.decode(record.raw) }
    }

    /// Control characters (C0 but tab, CR and LF: NUL…) reject a row, and so do invalid bytes in
    /// a UTF-8 file with damaged rows: the field at fault and why, or nil for a clean row.
    static func byteReject(_ record: CSVRecord, encoding: TextEncoding, names: [String]) -> RowReject? {
        let raw = record.raw
        guard let start = raw.baseAddress else { return nil }
        // Eight bytes at a time: any byte below 0x20 sets its high bit in (word − 0x20…) & ~word.
        var suspicious = false
        var i = 0
        while i + 8 <= raw.count {
            let word = UnsafeRawPointer(start + i).loadUnaligned(as: UInt64.self)
            if (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080 != 0 {
                suspicious = true
                break
            }
            i += 8
        }
        if !suspicious { suspicious = raw[i...].contains { $0 < 0x20 } }
        let damaged = encoding == .utf8Damaged && !UTF8Validator.isValid(raw)
        guard suspicious || damaged else { return nil }
        for index in 0..<record.fieldCount {
            let field = record[index]
            let name = index < names.count ? names[index] : ""
            if let control = field.first(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) {
                return RowReject(field: name, reason: "caractère de contrôle interdit (octet 0x\(String(hexadecimal: control, digits: 2, uppercase: true)))")
            }
            if damaged, !UTF8Validator.isValid(field) {
                return RowReject(field: name, reason: "octets invalides : le fichier est en UTF-8 mais cette ligne ne l'est pas")
            }
        }
        return damaged ? RowReject(field: "", reason: "octets invalides : le fichier est en UTF-8 mais cette ligne ne l'est pas") : nil
    }

    mutating func malformed(line: Int, reason: String, raw: UnsafeBufferPointer<UInt8>) throws {
        guard columnMap != nil else { throw Ingestor.FileRefusal(line: line, reason: "en-tête illisible : \(reason)") }
        read += 1
        rejects.add(line: line, field: "", reason: reason, content: encoding.decode(raw))
    }

    mutating func finish() throws {
        if columnMap == nil { throw Ingestor.FileRefusal(line: 1, reason: "fichier vide, sans en-tête") }
    }

    private mutating func readHeader(_ record: CSVRecord) throws {
        let names = (0..<record.fieldCount).map {
            encoding.decode(FieldParsing.trimmed(record[$0])).uppercased()
        }
        var index = Array(repeating: -1, count: columns.count)
        for (i, column) in columns.enumerated() {
            if let position = names.firstIndex(of: column.name) { index[i] = position }
        }
        // A column named twice: which of its values the file means is anybody's guess.
        let twice = columns.map(\.name).filter { name in names.lazy.filter { $0 == name }.count > 1 }
        guard twice.isEmpty else {
            throw Ingestor.FileRefusal(
                line: record.line, reason: "colonne\(twice.count > 1 ? "s" : "") en double dans l'en-tête : \(twice.joined(separator: ", "))")
        }
        let missing = columns.enumerated().filter { $0.element.required && index[$0.offset] < 0 }.map(\.element.name)
        guard missing.isEmpty else {
            throw Ingestor.FileRefusal(
                line: record.line, reason: "colonne\(missing.count > 1 ? "s" : "") obligatoire\(missing.count > 1 ? "s" : "") absente\(missing.count > 1 ? "s" : "") : \(missing.joined(separator: ", "))")
        }
        let known = Set(columns.map(\.name))
        rejects.unknownColumns = names.filter { !known.contains($0) && !$0.isEmpty }
        columnMap = ColumnMap(fieldIndex: index, names: columnNames)
        headerNames = names
        headerWidth = record.fieldCount
    }
}

/// A row kept in memory until the whole file is read (registry and controls: small files whose
/// duplicate keys are resolved after reading). Its raw text is read again from its span only if
/// a key conflict rejects it.
struct CollectedRow<Value> {
    var line: Int
    var value: Value
}

struct CollectingHandler<Value>: RowHandler {
    let parse: (FieldReader<CSVFieldSource>) throws(RowReject) -> Value
    var rows: [CollectedRow<Value>] = []
    var spans = RawSpans()

    init(_ parse: @escaping (FieldReader<CSVFieldSource>) throws(RowReject) -> Value) { self.parse = parse }

    mutating func handle(
        _ reader: FieldReader<CSVFieldSource>, line: Int, span: RawSpan, _ rejects: inout RejectCollector, raw: () -> String
    ) throws {
        do {
            rows.append(CollectedRow(line: line, value: try parse(reader)))
            spans.append(line: line, span)
        } catch {
            rejects.add(line: line, field: error.field, reason: error.reason, content: raw())
        }
    }
}

/// Collects rows as ``CollectingHandler`` does and also hands each one over by batches, so
/// that they can be stored while the rest of the file is read.
struct StreamingHandler<Value>: RowHandler {
    var collecting: CollectingHandler<Value>
    let channel: BatchChannel<CollectedRow<Value>>
    private var batch: [CollectedRow<Value>] = []
    static var batchSize: Int { 2048 }

    init(_ parse: @escaping (FieldReader<CSVFieldSource>) throws(RowReject) -> Value, channel: BatchChannel<CollectedRow<Value>>) {
        collecting = CollectingHandler(parse)
        self.channel = channel
    }

    mutating func handle(
        _ reader: FieldReader<CSVFieldSource>, line: Int, span: RawSpan, _ rejects: inout RejectCollector, raw: () -> String
    ) throws {
        let before = collecting.rows.count
        try collecting.handle(reader, line: line, span: span, &rejects, raw: raw)
        if collecting.rows.count > before { batch.append(collecting.rows[before]) }
        if batch.count == Self.batchSize { try flush() }
    }

    mutating func flush() throws {
        guard !batch.isEmpty else { return }
        guard channel.send(batch) else { throw CancellationError() }
        batch.removeAll(keepingCapacity: true)
    }
}

/// Parses declaration rows on the producer thread and hands them over through a
/// ``KeyOrderWindow``.
struct DeclarationParseHandler: RowHandler {
    var parser: DeclarationRowParser
    let channel: BatchChannel<ParsedDeclarationLine>
    var window = KeyOrderWindow()

    mutating func handle(
        _ reader: FieldReader<CSVFieldSource>, line: Int, span: RawSpan, _ rejects: inout RejectCollector, raw: () -> String
    ) throws {
        do {
            try window.append(ParsedDeclarationLine(line: line, span: span, row: try parser.parse(reader)), to: channel)
        } catch let error as RowReject {
            rejects.add(line: line, field: error.field, reason: error.reason, content: raw())
        }
    }

    mutating func flush() throws { try window.flush(to: channel) }
}

/// Declarations read on a producer thread, handed over by batches in the file's order while it
/// follows the store's key, and by windows sorted in the key's order once it does not.
///
/// The store keeps declarations in a tree ordered by (exercice, equipment, nature, date de
/// dépôt). A file listed in that order is appended at the end of the tree; one listed otherwise
/// (by date de dépôt, or by N_DOSSIER when the registry came in another order) put each row on
/// a random page of it: the national 2024 file sorted by date took 0.91–0.96 s to store against
/// 0.50–0.53 s. Rows sorted window by window come back to 0.47–0.59 s (windows of 32 768 rows;
/// 0.69–0.75 s with 4 096). A file in the key's order but for a few rows is sent as read (the
/// generated ones: 74 rows of 236 965 behind an equipment already read; sorted, they took a
/// tenth longer). The date-sorted file had 95 % of its rows behind from its second date on.
///
/// The rows of one key keep their order in the file (the line breaks ties), and batches and
/// windows go in file order, so every key meets its rows as the file lists them: duplicates,
/// conflicts and their rejects are those of the file's order.
struct KeyOrderWindow {
    private var rows: [ParsedDeclarationLine] = []
    static let batchSize = 4096
    /// Rows sorted together (≈ 9 MB held on the producer thread, whatever the file's size).
    static let windowSize = 32_768
    /// The greatest (exercice, equipment) read so far in the file, and how many rows of the
    /// batch being filled came behind it.
    private var frontier = (exercice: Int.min, equipement: Int64.min)
    private var behind = 0
    /// Whether the file's order was found too far from the key's: then every window is sorted.
    private var sorting = false
    /// The size of the window being filled: one batch, and once sorting, doubled after each
    /// window up to ``windowSize`` (the storer does not wait for a whole window at once).
    private var limit = batchSize

    /// Adds a row; hands the batch or the window over once it is full.
    mutating func append(_ row: ParsedDeclarationLine, to channel: BatchChannel<ParsedDeclarationLine>) throws {
        if (row.row.exercice, row.row.equipementId) < frontier {
            behind += 1
        } else {
            frontier = (row.row.exercice, row.row.equipementId)
        }
        rows.append(row)
        if rows.count == limit { try flush(to: channel) }
    }

    /// Hands over the rows held: as they came while the file follows the key's order (a tenth of
    /// a batch's rows behind an equipment already read at most), else sorted, by batches of
    /// ``batchSize``.
    mutating func flush(to channel: BatchChannel<ParsedDeclarationLine>) throws {
        guard !rows.isEmpty else { return }
        if !sorting && behind * 10 > rows.count { sorting = true }
        behind = 0
        guard sorting else {
            guard channel.send(rows) else { throw CancellationError() }
            rows.removeAll(keepingCapacity: true)
            return
        }
        // Positions are sorted, not the rows (≈ 270 bytes each: moved by the sort, they cost more
        // than the tree saved), and the window's buffer is read in place and kept for the next
        // window (a copy would be a fresh 9 MB, each page of it faulted in again).
        try rows.withUnsafeBufferPointer { rows in
            let order = Self.sortedPositions(rows)
            var start = 0
            while start < order.count {
                let end = min(start + Self.batchSize, order.count)
                guard channel.send(order[start..<end].map { rows[$0] }) else { throw CancellationError() }
                start = end
            }
        }
        rows.removeAll(keepingCapacity: true)
        limit = min(2 * limit, Self.windowSize)
    }

    /// The positions of `rows` in the order of ``ParsedDeclarationLine/storedBefore(_:_:)``.
    ///
    /// Each row's key and position are packed in one 128-bit number (exercice 16 bits,
    /// equipment 64, nature 2, date de dépôt as yyyymmdd 27, position 19) and the numbers are
    /// sorted: the comparator read two rows 270 bytes apart at each step, and a file in random
    /// order spent 0.18 s of its reading sorting its windows. The position, in file order, breaks
    /// ties as the line does. A window whose keys do not fit (an exercice outside 0…65 535) is
    /// sorted with the comparator.
    static func sortedPositions(_ rows: UnsafeBufferPointer<ParsedDeclarationLine>) -> [Int] {
        let positionBits = 19
        func byComparator() -> [Int] { rows.indices.sorted { ParsedDeclarationLine.storedBefore(rows[$0], rows[$1]) } }
        guard rows.count < 1 << positionBits else { return byComparator() }
        var packed: [UInt128] = []
        packed.reserveCapacity(rows.count)
        for (position, line) in rows.enumerated() {
            let row = line.row
            let date = row.dateDepot.yyyymmdd
            guard (0..<(1 << 16)).contains(row.exercice), (0..<(1 << 27)).contains(date) else { return byComparator() }
            var key = UInt128(row.exercice) << 112
            key |= UInt128(UInt64(bitPattern: row.equipementId) ^ (1 << 63)) << 48
            key |= UInt128(row.nature.rawValue) << 46
            key |= UInt128(date) << positionBits
            key |= UInt128(position)
            packed.append(key)
        }
        packed.sort()
        let mask = UInt128((1 << positionBits) - 1)
        return packed.map { Int($0 & mask) }
    }
}

/// A declaration read at `line`, whose raw text lies at `span` in its file.
struct ParsedDeclarationLine: Sendable {
    var line: Int
    var span: RawSpan
    var row: ParsedDeclaration

    /// Whether `a` comes before `b` in the store's key order (exercice, equipment, nature, date
    /// de dépôt), then in the file.
    static func storedBefore(_ a: Self, _ b: Self) -> Bool {
        if a.row.exercice != b.row.exercice { return a.row.exercice < b.row.exercice }
        if a.row.equipementId != b.row.equipementId { return a.row.equipementId < b.row.equipementId }
        if a.row.nature != b.row.nature { return a.row.nature.rawValue < b.row.nature.rawValue }
        if a.row.dateDepot != b.row.dateDepot { return a.row.dateDepot < b.row.dateDepot }
        return a.line < b.line
    }
}

/// Stores parsed declarations; a key met twice in the file with other values rejects every row
/// of that key, before or after. Rows whose content is not at hand get it from their span in the file.
struct DeclarationStorer {
    let writer: DeclarationWriter
    var counts = Ingestor.Counts()
    /// Keys in conflict in this file → their first row's line and the line of the row that
    /// differed from it.
    var conflicts: [DeclarationKey: (first: Int, other: Int)] = [:]
    /// The keys of ``conflicts``, asked first: once a file has a conflict, every later row is
    /// looked up, and the dictionary's hashing cost 0.1 s on the national files.
    var conflictKeys = DeclarationKeySet(expected: 0)
    /// Keys met so far in this file: a new one is queued for a multi-row insert, one met again
    /// goes through the single-row upsert that tells a duplicate from a conflict.
    var seen = DeclarationKeySet()
    /// Lines of the identical re-deliveries skipped so far, by key: should a later row of the
    /// key conflict, they are rejected with it, as they would be had they come after it.
    var identicalCopies: [DeclarationKey: [Int]] = [:]

    /// `content` is the row's raw text for a reject, computed only if one is made (`nil`: fetched later).
    mutating func store(
        _ row: ParsedDeclaration, line: Int, content: @autoclosure () -> String?, _ rejects: inout RejectCollector
    ) throws {
        let key = DeclarationKey(
            equipementId: row.equipementId, exercice: row.exercice, nature: row.nature, dateDepot: row.dateDepot.yyyymmdd)
        if !conflicts.isEmpty, conflictKeys.contains(key), let pair = conflicts[key] {
            // It may equal either row: both are named.
            rejects.add(line: line, field: "", reason: Self.conflictReason(pair.first, pair.other), content: content())
            return
        }
        if seen.insert(key) {
            try writer.insertNew(key, row.figures, line: line)
            counts.stored += 1
            return
        }
        switch try writer.upsert(key, row.figures, line: line) {
        case .stored:
            counts.stored += 1
        case .duplicateInFile(_, identical: true):
            counts.ignored += 1
            identicalCopies[key, default: []].append(line)
        case .duplicateInFile(let first, identical: false):
            try writer.undo(key)
            counts.stored -= 1
            conflicts[key] = (first, line)
            _ = conflictKeys.insert(key)
            rejects.add(line: first, field: "", reason: Self.conflictReason(line), content: nil)
            for copy in identicalCopies.removeValue(forKey: key) ?? [] {
                counts.ignored -= 1
                rejects.add(line: copy, field: "", reason: Self.conflictReason(line), content: nil)
            }
            rejects.add(line: line, field: "", reason: Self.conflictReason(first), content: content())
        }
    }

    static func conflictReason(_ other: Int) -> String {
        "conflit : même clé (N_DOSSIER, EXERCICE, NATURE_DECLARATION, DATE_DEPOT) qu'à la ligne \(other), avec des valeurs différentes"
    }

    /// The reason of a row met once its key is known in conflict (lines `a` and `b` differ).
    static func conflictReason(_ a: Int, _ b: Int) -> String {
        "conflit : même clé (N_DOSSIER, EXERCICE, NATURE_DECLARATION, DATE_DEPOT) qu'aux lignes \(a) et \(b), dont les valeurs diffèrent"
    }
}
