import CiblageModel
import Foundation

extension CSVReader {
    /// Reads the file at `url` as ``read(into:)`` does, in two steps on two threads: a thread of
    /// its own splits the file into records (libcsv), copies them by batches and hands them
    /// over; the calling thread gives them to `sink`, in file order. What `sink` sees is the
    /// same, records and malformed lines alike; an error of the reading is thrown after the
    /// records read before it, and an error of `sink` stops the reading thread.
    ///
    /// Reading a CSV file was one thread's work while the thread storing its rows waited for it
    /// a third of the time: libcsv, the copy of the fields and the file's reading are about two
    /// fifths of that thread, and now run beside the checks of the fields (numbers, dates,
    /// equipments) instead of before them.
    ///
    /// Begun ahead of its turn, while the registry was stored (its second core partly idle), the
    /// splitting of the first declarations file made no difference measurable on the national
    /// set nor at four times its size, and held up to 100 MiB more: not kept.
    public static func readConcurrently<Sink: CSVRecordSink>(_ url: URL, into sink: inout Sink) throws {
        let channel = BatchChannel<RecordBatch>(capacity: RecordBatch.inFlight)
        let pool = RecordBatch.Pool()
        let reading = ProducerThread {
            var batching = BatchingSink(channel: channel, pool: pool)
            do {
                try CSVReader(url: url).read(into: &batching)
                try batching.flush()
                channel.finish()
            } catch {
                channel.finish(error)
            }
        }
        // Waited for on every path: the reading thread must not outlive the sink it fills.
        defer { reading.join() }
        do {
            while let batches = try channel.receive() {
                for batch in batches {
                    try batch.replay(into: &sink)
                    pool.giveBack(batch)
                }
            }
        } catch {
            channel.cancel()
            throw error
        }
    }
}

/// Records of a CSV file copied out of the reader (its buffers are reused for the next record):
/// their bytes as in the file, their fields, and the malformed lines in between, in file order.
///
/// Fixed buffers behind pointers, filled by a ``BatchingSink`` that keeps the counts: arrays in
/// a class, appended to a field at a time, took as long as libcsv itself (exclusivity checks and
/// capacity checks for every field).
final class RecordBatch: @unchecked Sendable {
    /// Batches handed over and not yet replayed, at most: with ``byteBudget``, about a megabyte
    /// of file in flight.
    static let inFlight = 4
    /// Room of a batch: bytes (raw text and fields), fields, entries.
    static let byteBudget = 1 << 18
    static let fieldBudget = 1 << 15
    static let entryBudget = 1 << 12

    struct Entry {
        var line: Int
        var offset: Int
        /// The raw text: `bytes[rawStart ..< rawStart + rawCount]`.
        var rawStart: Int
        var rawCount: Int
        /// The fields: `starts` (from `arenaStart` in `bytes`) and `lengths`, from `firstField`,
        /// `fieldCount` of them.
        var arenaStart: Int
        var firstField: Int
        var fieldCount: Int
        /// For a line the CSV syntax rejects, its reason's index in `reasons` (-1 for a
        /// record); its raw text is then the line.
        var malformed: Int
    }

    let byteCapacity: Int
    let fieldCapacity: Int
    let entryCapacity: Int
    let bytes: UnsafeMutablePointer<UInt8>
    let starts: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>
    let entries: UnsafeMutablePointer<Entry>
    /// Set by the reading thread when it hands the batch over.
    var entryCount = 0
    var reasons: [String] = []

    /// A batch with room for at least `bytes` bytes and `fields` fields (one record larger than
    /// the budget gets a batch of its own).
    init(bytes: Int = RecordBatch.byteBudget, fields: Int = RecordBatch.fieldBudget) {
        byteCapacity = max(bytes, Self.byteBudget)
        fieldCapacity = max(fields, Self.fieldBudget)
        entryCapacity = Self.entryBudget
        self.bytes = .allocate(capacity: byteCapacity)
        starts = .allocate(capacity: fieldCapacity)
        lengths = .allocate(capacity: fieldCapacity)
        entries = .allocate(capacity: entryCapacity)
    }

    deinit {
        bytes.deallocate()
        starts.deallocate()
        lengths.deallocate()
        entries.deallocate()
    }

    /// Gives the batch's records and malformed lines to `sink`, in order.
    func replay<Sink: CSVRecordSink>(into sink: inout Sink) throws {
        for k in 0..<entryCount {
            let entry = entries[k]
            let raw = UnsafeBufferPointer(start: bytes + entry.rawStart, count: entry.rawCount)
            if entry.malformed >= 0 {
                try sink.malformed(line: entry.line, reason: reasons[entry.malformed], raw: raw)
                continue
            }
            try sink.record(
                CSVRecord(
                    line: entry.line, raw: raw, offset: entry.offset, fieldCount: entry.fieldCount, arena: bytes + entry.arenaStart,
                    starts: starts + entry.firstField, lengths: lengths + entry.firstField))
        }
    }

    /// Batches replayed, kept for the reading thread to fill again (no fresh pages to fault in
    /// for every batch).
    final class Pool: @unchecked Sendable {
        private let lock = NSLock()
        private var free: [RecordBatch] = []

        /// A batch of the standard room, emptied.
        func take() -> RecordBatch {
            let batch = lock.withLock { free.popLast() } ?? RecordBatch()
            batch.entryCount = 0
            batch.reasons.removeAll(keepingCapacity: true)
            return batch
        }

        /// Keeps `batch` for later, unless it was one made larger for a single record.
        func giveBack(_ batch: RecordBatch) {
            guard batch.byteCapacity == RecordBatch.byteBudget, batch.fieldCapacity == RecordBatch.fieldBudget else { return }
            lock.withLock { free.append(batch) }
        }
    }
}

/// The reading thread's sink: copies records into batches and hands each over when full.
///
/// The batch's buffers are held as plain pointers (``Buffers``) and its counts here: reached
/// through the batch for every record, its references were retained and released each time.
private struct BatchingSink: CSVRecordSink {
    let channel: BatchChannel<RecordBatch>
    let pool: RecordBatch.Pool
    var current: RecordBatch
    var buffers: Buffers
    var byteCount = 0
    var fieldCount = 0
    var entryCount = 0

    struct Buffers {
        let bytes: UnsafeMutablePointer<UInt8>
        let starts: UnsafeMutablePointer<Int>
        let lengths: UnsafeMutablePointer<Int>
        let entries: UnsafeMutablePointer<RecordBatch.Entry>
        let byteCapacity: Int
        let fieldCapacity: Int
        let entryCapacity: Int

        init(_ batch: RecordBatch) {
            (bytes, starts, lengths, entries) = (batch.bytes, batch.starts, batch.lengths, batch.entries)
            (byteCapacity, fieldCapacity, entryCapacity) = (batch.byteCapacity, batch.fieldCapacity, batch.entryCapacity)
        }
    }

    init(channel: BatchChannel<RecordBatch>, pool: RecordBatch.Pool) {
        self.channel = channel
        self.pool = pool
        current = pool.take()
        buffers = Buffers(current)
    }

    mutating func record(_ record: CSVRecord) throws {
        // A record's fields lie one after the other in the reader's arena, from its start.
        let n = record.fieldCount
        let fieldBytes = n == 0 ? 0 : record.starts[n - 1] + record.lengths[n - 1]
        let rawCount = record.raw.count
        if byteCount + rawCount + fieldBytes > buffers.byteCapacity || fieldCount + n > buffers.fieldCapacity
            || entryCount == buffers.entryCapacity
        {
            try makeRoom(bytes: rawCount + fieldBytes, fields: n)
        }
        let b = buffers
        let rawStart = byteCount
        if let raw = record.raw.baseAddress { (b.bytes + rawStart).update(from: raw, count: rawCount) }
        let arenaStart = rawStart + rawCount
        (b.bytes + arenaStart).update(from: record.arena, count: fieldBytes)
        byteCount = arenaStart + fieldBytes
        // The fields' places in the arena, as the reader has them (the entry says where it starts).
        (b.starts + fieldCount).update(from: record.starts, count: n)
        (b.lengths + fieldCount).update(from: record.lengths, count: n)
        b.entries[entryCount] = RecordBatch.Entry(
            line: record.line, offset: record.offset, rawStart: rawStart, rawCount: rawCount, arenaStart: arenaStart,
            firstField: fieldCount, fieldCount: n, malformed: -1)
        fieldCount += n
        entryCount += 1
    }

    mutating func malformed(line: Int, reason: String, raw: UnsafeBufferPointer<UInt8>) throws {
        if byteCount + raw.count > buffers.byteCapacity || entryCount == buffers.entryCapacity {
            try makeRoom(bytes: raw.count, fields: 0)
        }
        if let base = raw.baseAddress { (buffers.bytes + byteCount).update(from: base, count: raw.count) }
        buffers.entries[entryCount] = RecordBatch.Entry(
            line: line, offset: 0, rawStart: byteCount, rawCount: raw.count, arenaStart: byteCount, firstField: fieldCount, fieldCount: 0,
            malformed: current.reasons.count)
        current.reasons.append(reason)
        byteCount += raw.count
        entryCount += 1
    }

    /// Hands the current batch over, and takes one with room for an entry of `bytes` bytes and
    /// `fields` fields (made for it when larger than a batch's room).
    private mutating func makeRoom(bytes: Int, fields: Int) throws {
        try flush()
        if bytes > buffers.byteCapacity || fields > buffers.fieldCapacity {
            current = RecordBatch(bytes: bytes, fields: fields)
            buffers = Buffers(current)
        }
    }

    /// Hands the current batch over; throws once the consumer has given up.
    mutating func flush() throws {
        guard entryCount > 0 else { return }
        current.entryCount = entryCount
        guard channel.send([current]) else { throw CancellationError() }
        current = pool.take()
        buffers = Buffers(current)
        (byteCount, fieldCount, entryCount) = (0, 0, 0)
    }
}
