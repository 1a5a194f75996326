import CiblageModel
import Foundation

/// Declarations of one CSV file being read and checked on a producer thread, handed over by
/// batches through ``channel``. Without a fingerprint given, the thread first computes it
/// (SHA-256 and encoding, a full read of the file) and hands it over (``fingerprint()``) before
/// it parses: a file prefetched while another one commits costs the storing thread nothing.
final class DeclarationParse: @unchecked Sendable {
    let channel = BatchChannel<ParsedDeclarationLine>()
    let result = ProducerResult()
    private let thread: ProducerThread
    private let fingerprinted = DispatchSemaphore(value: 0)
    private var joined = false

    init(url: URL, fingerprint known: FileFingerprint?, parser: DeclarationRowParser, fileName: String) {
        let channel = self.channel
        let result = self.result
        let fingerprinted = self.fingerprinted
        thread = ProducerThread {
            let fingerprint: FileFingerprint
            do {
                fingerprint = try known ?? FileFingerprint.compute(url)
                result.fingerprint = .success(fingerprint)
                fingerprinted.signal()
            } catch {
                result.fingerprint = .failure(error)
                fingerprinted.signal()
                channel.finish(error)
                return
            }
            var sink = TableSink(
                columns: ExportColumns.declarations, encoding: fingerprint.encoding, rejects: RejectCollector(fileName: fileName),
                handler: DeclarationParseHandler(parser: parser, channel: channel))
            do {
                try CSVReader(url: url).read(into: &sink)
                try sink.finish()
                try sink.handler.flush()
                result.set(rejects: sink.rejects, read: sink.read)
                channel.finish()
            } catch {
                channel.finish(error)
            }
        }
    }

    /// The file's fingerprint, once the producer has computed it (or its error).
    func fingerprint() throws -> FileFingerprint {
        fingerprinted.wait()
        fingerprinted.signal()
        return try result.fingerprint!.get()
    }

    /// Waits for the producer to end.
    func join() {
        guard !joined else { return }
        thread.join()
        joined = true
    }

    /// Stops the producer (its next hand-over fails) and waits for it.
    func cancel() {
        channel.cancel()
        join()
    }
}

/// What the producer thread hands back once done (read after `join`).
final class ProducerResult: @unchecked Sendable {
    /// Set before the first batch is sent (read after ``DeclarationParse/fingerprint()``).
    var fingerprint: Result<FileFingerprint, any Error>?
    private(set) var rejects: RejectCollector?
    private(set) var read = 0

    func set(rejects: RejectCollector, read: Int) {
        self.rejects = rejects
        self.read = read
    }
}
