import CiblageModel
import Foundation

/// Declarations of one CSV file being read and checked on a producer thread, handed over by
/// batches through ``channel``.
final class DeclarationParse: @unchecked Sendable {
    let channel = BatchChannel<(line: Int, row: ParsedDeclaration)>()
    let result = ProducerResult()
    private let thread: ProducerThread
    private var joined = false

    init(url: URL, encoding: TextEncoding, parser: DeclarationRowParser, fileName: String) {
        let channel = self.channel
        let result = self.result
        thread = ProducerThread {
            var sink = TableSink(
                columns: ExportColumns.declarations, encoding: encoding, rejects: RejectCollector(fileName: fileName),
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
    private(set) var rejects: RejectCollector?
    private(set) var read = 0

    func set(rejects: RejectCollector, read: Int) {
        self.rejects = rejects
        self.read = read
    }
}
