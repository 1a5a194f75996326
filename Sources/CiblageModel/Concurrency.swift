import Foundation

/// A bounded FIFO of batches between one producer thread and one consumer, so that parsing
/// (one core) and storing (the other) overlap while memory stays bounded by `capacity` batches.
public final class BatchChannel<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var batches: [[Item]] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    public let capacity: Int

    public init(capacity: Int = 4) { self.capacity = capacity }

    /// Blocks while the channel is full. Returns `false` once the consumer has cancelled.
    public func send(_ batch: [Item]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        batches.append(batch)
        condition.broadcast()
        return true
    }

    /// Ends the stream, with the producer's error if it failed.
    public func finish(_ error: (any Error)? = nil) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, `nil` at the end; rethrows the producer's error.
    public func receive() throws -> [Item]? {
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

    /// Whether the consumer gave up (``cancel()``).
    public var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// The consumer gives up: the producer's next `send` returns `false`.
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Runs `body` on a thread of its own and lets the caller wait for it.
public final class ProducerThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    public init(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [done] in
            body()
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Waits for `body` to end; returns at once when it has (it may be called again).
    public func join() {
        done.wait()
        done.signal()
    }
}

/// Work run on a thread of its own (``ProducerThread``) while the caller goes on; ``wait()``
/// gives its result or rethrows its error.
public final class BackgroundWork<Output>: @unchecked Sendable {
    private final class Box: @unchecked Sendable {
        var result: Result<Output, any Error>?
    }

    private let box: Box
    private let thread: ProducerThread

    public init(_ work: @escaping @Sendable () throws -> Output) {
        let box = Box()
        self.box = box
        thread = ProducerThread { box.result = Result { try work() } }
    }

    /// Waits for the work to end; its result, or its error rethrown. Call it once: the result
    /// is handed over, not kept (a large array stays uniquely referenced, mutable in place).
    public func wait() throws -> Output {
        thread.join()
        let result = box.result!
        box.result = nil
        return try result.get()
    }

    /// Waits for the work to end, if ``wait()`` has not, and lets its result or error go: for the
    /// paths that leave early (a work reading on a second connection must not outlive the
    /// transaction that opened it). Safe after ``wait()``; ``wait()`` is not, after this.
    public func discard() {
        thread.join()
        box.result = nil
    }
}

/// A value shared between threads: guarded by its lock, or handed over at a point that orders
/// the accesses (a join).
public final class LockedBox<Value>: @unchecked Sendable {
    public let lock = NSLock()
    public var value: Value
    public init(_ value: Value) { self.value = value }
}

/// Values kept referenced until the process exits, at most one per key: keeping a value under
/// a key lets go of the one kept before under it (see ``Memory/keepUntilExit(_:as:)``).
public final class ExitKeeper: Sendable {
    private let kept = LockedBox<[String: Any]>([:])

    public init() {}

    /// Keeps `value` under `key`, in place of what was kept under it (let go here, after the lock).
    public func keep(_ value: Any, as key: String) {
        _ = kept.lock.withLock { kept.value.updateValue(value, forKey: key) }
    }
}

/// Memory the allocator keeps after a phase frees it.
public enum Memory {
    /// Keeps glibc to `count` malloc arenas instead of up to eight per core: every thread that
    /// allocates under contention otherwise gets an arena of its own, whose freed memory the
    /// others cannot reuse. Two (one per core of the machines this runs on) for most stages.
    /// Measured on the first score at ×4 (240 000 equipments), peak resident memory: with two
    /// other processes keeping both cores busy, 491–499 Mio in 4 runs without the limit,
    /// 429–475 Mio in 5 with it; on a quiet host, 459–473 Mio against 434–472 Mio (it varies by
    /// ±20 Mio from run to run). The score asks for four (``CommandRunner/main(_:mallocArenas:)``):
    /// see there. Call before any thread is started.
    public static func limitArenas(to count: Int32 = 2) {
        #if os(Linux)
        _ = glibcMallopt(-8, count)  // M_ARENA_MAX
        #endif
    }

    /// Makes ``keepUntilExit(_:as:)`` keep what it is given: for a process that ends with `exit`
    /// once its command is done (``CommandRunner``), never for the tests.
    public static func keepLargeValuesUntilExit() {
        kept.lock.withLock { kept.value = ExitKeeper() }
    }

    /// Keeps `value` (its arrays' storage, its strings) referenced until the process exits,
    /// when ``keepLargeValuesUntilExit()`` was called; otherwise does nothing. One value per
    /// `key` (``ExitKeeper``): a command that runs a stage again and again in its process
    /// (`ciblage-bench bilan` scores world after world) lets the previous run's go, and holds
    /// no more than one run's.
    ///
    /// The system takes back a process's memory at exit at once; freed one by one, the
    /// hundreds of thousands of small blocks of a stage's records cost time on its critical
    /// path for nothing. Measured on the national store (`strace -tt`, 2 December 2026): the
    /// repères freed their 57 455 equipments in 62 ms between their study and their files, and
    /// the score its lines and features in about 50 ms after its commit.
    public static func keepUntilExit(_ value: Any, as key: String) {
        let keeper = kept.lock.withLock { kept.value }
        keeper?.keep(value, as: key)
    }

    private static let kept = LockedBox<ExitKeeper?>(nil)

    /// Gives freed heap memory back to the system (glibc keeps it in its per-thread arenas
    /// otherwise, and a stage's peak then adds the phases' leftovers).
    public static func returnFreed() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }
}

#if os(Linux)
/// glibc's `malloc_trim` (declared in `malloc.h`, which the Glibc module leaves out).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32

/// glibc's `mallopt` (`malloc.h`, likewise).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
