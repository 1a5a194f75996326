import Foundation

/// The time the cores of this (virtual) machine spent, from the kernel's counters
/// (`/proc/stat`, first line `cpu`, in clock ticks summed over the cores): read before and
/// after a benchmark, it tells how much of the cores the host took for other machines meanwhile
/// (`steal`). Timings of the same binaries vary with it by a third on the shared host these
/// benchmarks run on, so a run says what it was measured under.
public struct HostLoad: Equatable, Sendable {
    /// Ticks of every kind (user, nice, system, idle, iowait, irq, softirq, steal).
    public var total: UInt64
    /// Ticks the hypervisor ran something else while this machine wanted the core.
    public var steal: UInt64

    /// The counters of `/proc/stat`'s text; `nil` when its first line is not the `cpu` total
    /// with at least the eight fields up to `steal`.
    public static func parse(_ text: String) -> HostLoad? {
        guard let first = text.split(separator: "\n", maxSplits: 1).first else { return nil }
        let fields = first.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.first == "cpu", fields.count >= 9 else { return nil }
        let ticks = fields[1...8].compactMap { UInt64($0) }
        guard ticks.count == 8 else { return nil }
        return HostLoad(total: ticks.reduce(0, +), steal: ticks[7])
    }

    /// The counters now; `nil` off Linux or when they cannot be read.
    public static func now() -> HostLoad? {
        (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap(parse)
    }

    /// The share of the cores' time the host took between `self` and `later` (0…1); `nil`
    /// when no time passed between them or the counters went back.
    public func stealShare(until later: HostLoad) -> Double? {
        guard later.total > total, later.steal >= steal else { return nil }
        return Double(later.steal - steal) / Double(later.total - total)
    }
}
