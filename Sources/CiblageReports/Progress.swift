import CiblageModel
import Foundation

/// Progress of a long stage, for a person waiting at a terminal: one line on stderr, rewritten
/// in place at most five times a second (what is done, the rate, the share done and the time
/// left when the total is known), erased when the step ends.
///
/// Off a terminal (cron, a log file) nothing is written, unless `CIBLAGE_PROGRESSION` names a
/// file: the line is then kept there (rewritten whole), which is how `ciblage-run` shows the
/// progress of the stage it runs. `--quiet` turns it off.
public final class Progress: @unchecked Sendable {
    /// The process's progress line (``enable(quiet:)`` decides where it goes).
    public static let shared = Progress()

    enum Destination {
        case none
        case terminal
        case file(Int32)
    }

    private let lock = NSLock()
    private var destination = Destination.none
    private var lastWrite: UInt64 = 0

    /// A progress line shown nowhere until ``enable(quiet:environment:)``.
    public init() {}

    /// Shows progress on stderr when it is a terminal and `quiet` is off, else in the file
    /// `CIBLAGE_PROGRESSION` names, else nowhere.
    public func enable(quiet: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) {
        lock.withLock {
            guard !quiet else { return destination = .none }
            if isatty(STDERR_FILENO) == 1 { return destination = .terminal }
            if let path = environment["CIBLAGE_PROGRESSION"], !path.isEmpty {
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                destination = fd >= 0 ? .file(fd) : .none
            }
        }
    }

    /// Whether anything is shown (callers skip the work of counting otherwise).
    public var isEnabled: Bool {
        lock.withLock {
            if case .none = destination { return false }
            return true
        }
    }

    /// A step of `total` units (or unknown), named `label`, counted in `unit` (plural, French).
    public func step(_ label: String, total: Int? = nil, unit: String) -> ProgressStep {
        ProgressStep(progress: self, label: label, total: total, unit: unit)
    }

    /// Writes `line` (throttled unless `force`).
    func show(_ line: String, force: Bool = false) {
        lock.withLock {
            let now = DispatchTime.now().uptimeNanoseconds
            guard force || now - lastWrite >= 200_000_000 else { return }
            lastWrite = now
            switch destination {
            case .none: return
            case .terminal: FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            case .file(let fd):
                let bytes = Array(line.utf8)
                _ = ftruncate(fd, 0)
                _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            }
        }
    }

    /// Erases the line (the step is over).
    func clear() {
        lock.withLock {
            lastWrite = 0
            switch destination {
            case .none: return
            case .terminal: FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            case .file(let fd): _ = ftruncate(fd, 0)
            }
        }
    }
}

/// One step of a ``Progress``: call ``advance(to:)`` as work is done (cheap: the line is
/// written at most five times a second), ``finish()`` at the end.
public final class ProgressStep: @unchecked Sendable {
    let progress: Progress
    let label: String
    let total: Int?
    let unit: String
    let start = DispatchTime.now().uptimeNanoseconds
    let enabled: Bool

    init(progress: Progress, label: String, total: Int?, unit: String) {
        self.progress = progress
        self.label = label
        self.total = total
        self.unit = unit
        enabled = progress.isEnabled
        if enabled { progress.show(label, force: true) }
    }

    /// `done` units so far; `fraction` the share done when it is known otherwise than by
    /// `done / total` (bytes of a file read, for rows).
    public func advance(to done: Int, fraction: Double? = nil) {
        guard enabled else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var line = "\(label) : \(FrenchFormat.readable(Double(done))) \(unit)"
        if seconds > 0.2 { line += ", \(FrenchFormat.readable(Double(done) / seconds)) \(unit)/s" }
        if let share = fraction ?? total.map({ $0 > 0 ? Double(done) / Double($0) : 1 }), share > 0 {
            line += ", \(Int((min(share, 1) * 100).rounded(.down))) %"
            if seconds > 0.5, share < 1 {
                line += ", reste ≈ \(Int((seconds * (1 - share) / share).rounded(.up))) s"
            }
        }
        progress.show(line)
    }

    public func finish() {
        guard enabled else { return }
        progress.clear()
    }
}

