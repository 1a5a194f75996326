import CiblageModel
import CiblageReports
import Foundation
import GRDB

/// A fixed piece of work, timed before and after a benchmark on one core, then on every core at
/// once: how fast this host runs code like ciblage's at that moment.
///
/// The steal share (``HostLoad``) does not tell it all: on the evening of 2 December 2026, with
/// 0.5 % steal, binaries of the same code took nearly twice the processor time of that
/// afternoon (national ingest 3.5 → 6.4–6.8 s of processor). The étalon's seconds, printed on
/// each benchmark's `machine` line, let two runs be compared: figures measured when the étalon
/// took twice as long come from a host running at half speed.
///
/// The work: sorting 2²⁰ pseudo-random doubles (branches and memory, like the stages' sorts and
/// peer medians), then 100 000 rows written to and summed from an in-memory SQLite table keyed
/// like `declaration` (the store's share of ingest and score). Deterministic: the same
/// ``checksum`` on every run.
public struct Calibration: Sendable {
    /// Processor seconds of the work on one core, the other idle: fastest of the rounds (the
    /// least disturbed).
    public var seconds: Double
    /// Processor seconds of the same work run on every core at once (the slowest core's),
    /// fastest of the rounds. About ``seconds`` when the cores are the machine's own; nearly
    /// twice when they are two hyperthreads of one physical core, which then share it.
    public var together: Double
    /// A digest of the work's results, the same on every run: the work was done, not skipped.
    public var checksum: UInt64

    /// Runs the work `rounds` times alone, then `rounds` times on `cores` threads at once.
    public static func measure(rounds: Int = 3, cores: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> Calibration {
        var alone = Double.infinity
        var checksum: UInt64 = 0
        for _ in 0..<max(1, rounds) {
            let start = threadSeconds()
            checksum = try work()
            alone = min(alone, threadSeconds() - start)
        }
        var together = Double.infinity
        let threads = max(1, cores)
        for _ in 0..<max(1, rounds) {
            // Each thread's processor seconds and checksum (or the error that stopped its work).
            let results = LockedBox([(seconds: Double, checksum: Result<UInt64, any Error>)](
                repeating: (0, .failure(CalibrationFailure())), count: threads))
            DispatchQueue.concurrentPerform(iterations: threads) { k in
                let start = threadSeconds()
                let digest = Result { try work() }
                let seconds = threadSeconds() - start
                results.lock.withLock { results.value[k] = (seconds, digest) }
            }
            let measured = results.lock.withLock { results.value }
            for result in measured where try result.checksum.get() != checksum { throw CalibrationFailure() }
            together = min(together, measured.map(\.seconds).max() ?? 0)
        }
        return Calibration(seconds: alone, together: together, checksum: checksum)
    }

    /// The work gave another checksum on a thread than alone: its figures would not compare.
    struct CalibrationFailure: Error, CustomStringConvertible {
        var description: String { "étalon processeur : le même travail a donné des résultats différents d'un fil à l'autre" }
    }

    /// The processor time of the calling thread, seconds: what the host gave the work, whatever
    /// else ran on the machine meanwhile.
    static func threadSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// The work itself; returns its checksum.
    static func work(values: Int = 1 << 20, rows: Int = 100_000) throws -> UInt64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        var numbers = (0..<values).map { _ in Double(next() >> 11) / Double(1 << 53) }
        numbers.sort()
        var checksum = numbers[values / 2].bitPattern ^ numbers[values / 10].bitPattern

        let db = try DatabaseQueue()
        let total = try db.write { db -> Double in
            try db.execute(sql: """
                CREATE TABLE t (a INTEGER NOT NULL, b INTEGER NOT NULL, x REAL, y REAL, PRIMARY KEY (a, b)) WITHOUT ROWID
                """)
            let insert = try db.makeStatement(sql: "INSERT INTO t VALUES (?, ?, ?, ?)")
            for k in 0..<rows {
                let r = next()
                // Unique keys: four rows per `a`, told apart by the low bits of `b`.
                try insert.execute(arguments: [k / 4, Int(r & 0xFFFF) << 2 | k & 3, Double(r >> 40) / 100, Double(k) * 0.5])
            }
            return try Double.fetchOne(db, sql: "SELECT sum(x) + sum(y) FROM t") ?? 0
        }
        checksum ^= total.bitPattern
        return checksum
    }

    /// « 0,362 s sur un cœur, 0,598 s sur tous à la fois » : both figures, in French.
    public var text: String {
        func s(_ v: Double) -> String { FrenchFormat.readable(v, fractionDigits: 3) + " s" }
        return "\(s(seconds)) sur un cœur, \(s(together)) sur tous à la fois"
    }
}
