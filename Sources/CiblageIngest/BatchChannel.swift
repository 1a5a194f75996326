import CiblageModel
import Foundation

/// Declarations of one file (CSV, or XML) being read and checked on a producer thread, handed
/// over by batches through ``channel``. Without a fingerprint given, the thread first computes it
/// (SHA-256 and encoding, a full read of the file) and hands it over (``fingerprint()``) before
/// it parses: a file prefetched while another one commits costs the storing thread nothing.
final class DeclarationParse: @unchecked Sendable {
    /// Room for two sorted windows of rows (``KeyOrderWindow``): the parser fills the next
    /// window while the storer takes the last one.
    let channel = BatchChannel<ParsedDeclarationLine>(capacity: 2 * KeyOrderWindow.windowSize / KeyOrderWindow.batchSize)
    let result = ProducerResult()
    /// Ends when the producer does.
    let turn = ReadTurn()
    private let thread: ProducerThread
    private let handOver = FingerprintHandOver()

    /// `after`: the turn of the file read before this one, which this one's reading waits for
    /// (``ReadTurn``).
    /// `repeats`: for a file read ahead, how to tell that an earlier file of the run has the same
    /// content (``RunFingerprints``).
    init(
        url: URL, fingerprint known: FileFingerprint?, parser: DeclarationRowParser, fileName: String, after: ReadTurn? = nil,
        repeats: RunFingerprints.Check? = nil
    ) {
        let channel = self.channel
        let result = self.result
        let handOver = self.handOver
        let turn = self.turn
        thread = ProducerThread {
            defer { turn.end() }
            guard let fingerprint = handOver.compute(url, known: known, after: after, repeats: repeats, ending: channel) else { return }
            var sink = TableSink(
                columns: ExportColumns.declarations, encoding: fingerprint.encoding, rejects: RejectCollector(fileName: fileName),
                handler: DeclarationParseHandler(parser: parser, channel: channel))
            do {
                try CSVReader.readConcurrently(url, into: &sink)
                try sink.finish()
                try sink.handler.flush()
                result.set(rejects: sink.rejects, read: sink.read)
                channel.finish()
            } catch {
                channel.finish(error)
            }
        }
    }

    /// Declarations of one XML file, read and validated against the XSD on a producer thread.
    /// Rows reach ``channel`` without their text (a conflict found when storing fetches it by
    /// reading the file again); schema and field rejects keep theirs. A file libxml2 cannot read
    /// ends the channel with a ``Ingestor/FileRefusal``.
    init(
        xml url: URL, fingerprint known: FileFingerprint?, parser: DeclarationRowParser, fileName: String, after: ReadTurn? = nil,
        repeats: RunFingerprints.Check? = nil
    ) {
        let channel = self.channel
        let result = self.result
        let handOver = self.handOver
        let turn = self.turn
        thread = ProducerThread {
            defer { turn.end() }
            guard handOver.compute(url, known: known, after: after, repeats: repeats, ending: channel) != nil else { return }
            var rejects = RejectCollector(fileName: fileName)
            var read = 0
            var window = KeyOrderWindow()
            var parser = parser
            do {
                try XMLDeclarationReader(url: url).read { element in
                    read += 1
                    if let error = element.schemaErrors.first {
                        rejects.add(
                            line: element.line, field: error.field, reason: SchemaMessage.reason(error.message),
                            content: element.content)
                        return
                    }
                    do {
                        let row = try parser.parse(FieldReader(element))
                        try window.append(ParsedDeclarationLine(line: element.line, span: RawSpan(offset: 0, count: 0), row: row), to: channel)
                    } catch let reject as RowReject {
                        rejects.add(line: element.line, field: reject.field, reason: reject.reason, content: element.content)
                    }
                }
                try window.flush(to: channel)
                result.set(rejects: rejects, read: read)
                channel.finish()
            } catch let error as XMLFileError {
                channel.finish(Ingestor.FileRefusal(line: error.line, reason: error.message))
            } catch {
                channel.finish(error)
            }
        }
    }

    /// The file's fingerprint, once the producer has computed it (or its error).
    func fingerprint() throws -> FileFingerprint { try handOver.get() }

    /// Takes the reading for storing its file: `false` when the producer left the file unread as
    /// a repeat of an earlier file of the run (``RunFingerprints``), which the caller reads then.
    func claim() -> Bool { handOver.claim() }

    /// Waits for the producer to end.
    func join() { thread.join() }

    /// Stops the producer (its next hand-over fails) and waits for it.
    func cancel() {
        channel.cancel()
        join()
    }
}

/// The fingerprint a reading thread computes before it reads a file (a file read ahead of its
/// turn), handed over to the storing thread as soon as it is known.
final class FingerprintHandOver: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private var result: Result<FileFingerprint, any Error>?
    /// Who settled first whether the file is read: the storing thread taking it (``claim()``),
    /// or the reading thread leaving it as a repeat of an earlier file of the run.
    private enum Fate { case open, claimed, leftUnread }
    private let fateLock = NSLock()
    private var fate = Fate.open

    /// Takes the reading for storing: `false` when the reading thread left the file unread.
    func claim() -> Bool { settle(as: .claimed) }

    /// Settles the fate as `wanted` unless the other thread settled it first; whether it is `wanted`.
    private func settle(as wanted: Fate) -> Bool {
        fateLock.withLock {
            if fate == .open { fate = wanted }
            return fate == wanted
        }
    }

    /// Computes the fingerprint of `url` (unless `known`) and hands it over, then waits for the
    /// reading before this one to end (`turn`, ``ReadTurn``) before the caller reads the file's
    /// rows; `nil` when either failed or the consumer gave up meanwhile, `channel` then ended
    /// with the error (nothing of the file is read).
    ///
    /// The fingerprint (one pass of SHA-256 and UTF-8 checks, a tenth of a file's reading) does
    /// not wait for the turn: computed while the file before is parsed, it no longer sits
    /// between two files' rows on the reading core.
    ///
    /// `repeats` (a file read ahead): the fingerprint is noted in the run's, and once the turn
    /// comes, a file whose content an earlier file of the run has is left unread unless the
    /// storing thread already took it (``claim()``). Such a copy is skipped as already ingested
    /// once the earlier file is stored, so its reading only took the reading core from the files
    /// after it; if the earlier file is refused, the storing thread reads the copy itself.
    func compute<Item>(
        _ url: URL, known: FileFingerprint?, after turn: ReadTurn?, repeats: RunFingerprints.Check? = nil,
        ending channel: BatchChannel<Item>
    ) -> FileFingerprint? {
        let fingerprint: FileFingerprint
        do {
            fingerprint = try known ?? FileFingerprint.compute(url)
            repeats?.note(fingerprint)
            result = .success(fingerprint)
            ready.signal()
        } catch {
            result = .failure(error)
            ready.signal()
            channel.finish(error)
            return nil
        }
        if let turn, !turn.wait(unless: { channel.isCancelled }) {
            channel.finish(CancellationError())
            return nil
        }
        if let repeats, repeats.isRepeat(fingerprint), settle(as: .leftUnread) {
            channel.finish(CancellationError())
            return nil
        }
        return fingerprint
    }

    /// The fingerprint once handed over, or its error.
    func get() throws -> FileFingerprint {
        ready.wait()
        ready.signal()
        return try result!.get()
    }
}

/// The content (SHA-256) of each file of a run, by its place in the run's plan, as soon as a
/// thread knows it: a file read ahead of its turn is left unread when an earlier file of the
/// run has the same content (a delivery made twice, as the national set's `livraison-2`).
final class RunFingerprints: @unchecked Sendable {
    private let lock = NSLock()
    private var contents: [Int: String] = [:]

    /// Notes the content of the file at `place` in the run's plan.
    func note(_ sha256: String, at place: Int) { lock.withLock { contents[place] = sha256 } }

    /// Whether a file before `place` in the run's plan has the content `sha256`, as far as known.
    func hasEarlier(_ sha256: String, before place: Int) -> Bool {
        lock.withLock { contents.contains { $0.key < place && $0.value == sha256 } }
    }

    /// The check of the file at `place`, for its reading thread.
    func check(at place: Int) -> Check { Check(run: self, place: place) }

    struct Check: Sendable {
        let run: RunFingerprints
        let place: Int

        func note(_ fingerprint: FileFingerprint) { run.note(fingerprint.sha256, at: place) }
        func isRepeat(_ fingerprint: FileFingerprint) -> Bool { run.hasEarlier(fingerprint.sha256, before: place) }
    }
}

/// What the producer thread hands back once done (read after `join`).
final class ProducerResult: @unchecked Sendable {
    private(set) var rejects: RejectCollector?
    private(set) var read = 0

    func set(rejects: RejectCollector, read: Int) {
        self.rejects = rejects
        self.read = read
    }
}

/// The rows of a keyed file (registry, controls, projects) read and checked on a producer
/// thread, handed over by batches through ``channel`` (and all kept, with their spans, for the
/// check of repeated keys once the file is read). Without a fingerprint given, the thread first
/// computes it (``fingerprint()``), as ``DeclarationParse`` does for a file read ahead of its turn.
final class KeyedRead<Value: Sendable>: @unchecked Sendable {
    let channel = BatchChannel<CollectedRow<Value>>(capacity: 8)
    /// Ends when the producer does.
    let turn = ReadTurn()
    private let handOver = FingerprintHandOver()
    private let reading: BackgroundWork<TableSink<StreamingHandler<Value>>>

    /// `after`: the turn of the file read before this one (``ReadTurn``).
    init(
        url: URL, fingerprint known: FileFingerprint?, columns: [ColumnSpec], fileName: String, after: ReadTurn? = nil,
        parse: @escaping @Sendable (FieldReader<CSVFieldSource>) throws(RowReject) -> Value
    ) {
        let channel = self.channel
        let handOver = self.handOver
        let turn = self.turn
        reading = BackgroundWork {
            defer { turn.end() }
            // A failure is handed over (and ends the channel): the error is read there.
            guard let fingerprint = handOver.compute(url, known: known, after: after, ending: channel) else { throw CancellationError() }
            var sink = TableSink(
                columns: columns, encoding: fingerprint.encoding, rejects: RejectCollector(fileName: fileName),
                handler: StreamingHandler(parse, channel: channel))
            do {
                try CSVReader.readConcurrently(url, into: &sink)
                try sink.finish()
                try sink.handler.flush()
                channel.finish()
            } catch {
                channel.finish(error)
                throw error
            }
            return sink
        }
    }

    /// The file's fingerprint, once the producer has computed it (or its error).
    func fingerprint() throws -> FileFingerprint { try handOver.get() }

    /// Waits for the producer to end: what it read, or its error. Once.
    func finish() throws -> TableSink<StreamingHandler<Value>> { try reading.wait() }

    /// Stops the producer (its next hand-over fails) and waits for it, unless already waited for.
    func cancel() {
        channel.cancel()
        reading.discard()
    }
}

/// The end of a file's reading thread, which the reading of the next file waits for before it
/// starts: a CSV file is parsed faster than it is stored, so one reading thread keeps the
/// storing thread fed, and a second one reading ahead at the same time only takes the core
/// from the first (on the national set, the storing thread waited 0.4 s in all for rows the
/// two readings shared a core to parse).
final class ReadTurn: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    /// Marks the reading ended (once).
    func end() { done.signal() }

    /// Waits for the reading to end; `false` when `cancelled` turned true first (checked every
    /// 20 ms while waiting).
    func wait(unless cancelled: () -> Bool) -> Bool {
        while done.wait(timeout: .now() + .milliseconds(20)) == .timedOut {
            if cancelled() { return false }
        }
        done.signal()
        return true
    }
}

/// A file whose reading started ahead of its turn, while an earlier file committed.
enum AheadRead {
    case declarations(DeclarationParse)
    case controles(KeyedRead<ParsedControle>)
    case projets(KeyedRead<Projet>)

    var declarations: DeclarationParse? { if case .declarations(let parse) = self { parse } else { nil } }
    var controles: KeyedRead<ParsedControle>? { if case .controles(let read) = self { read } else { nil } }
    var projets: KeyedRead<Projet>? { if case .projets(let read) = self { read } else { nil } }

    /// The file's fingerprint, computed by the reading thread first.
    func fingerprint() throws -> FileFingerprint {
        switch self {
        case .declarations(let parse): try parse.fingerprint()
        case .controles(let read): try read.fingerprint()
        case .projets(let read): try read.fingerprint()
        }
    }

    /// Stops the reading, or marks it stopped once read to its end.
    func cancel() {
        switch self {
        case .declarations(let parse): parse.cancel()
        case .controles(let read): read.cancel()
        case .projets(let read): read.cancel()
        }
    }
}
