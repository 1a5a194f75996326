import CiblageModel
import Foundation

/// A bounded FIFO of batches between one producer thread and one consumer, so that parsing
/// (one core) and storing (the other) overlap while memory stays bounded by `capacity` batches.
final class BatchChannel<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var batches: [[Item]] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    let capacity: Int

    init(capacity: Int = 4) { self.capacity = capacity }

    /// Blocks while the channel is full. Returns `false` once the consumer has cancelled.
    func send(_ batch: [Item]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        batches.append(batch)
        condition.broadcast()
        return true
    }

    /// Ends the stream, with the producer's error if it failed.
    func finish(_ error: (any Error)? = nil) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, `nil` at the end; rethrows the producer's error.
    func receive() throws -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while batches.isEmpty && !finished { condition.wait() }
        if !batches.isEmpty {
            condition.broadcast()
            return batches.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    /// The consumer gives up: the producer's next `send` returns `false`.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Runs `body` on a thread of its own and lets the caller wait for it.
final class ProducerThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [done] in
            body()
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func join() { done.wait() }
}

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
