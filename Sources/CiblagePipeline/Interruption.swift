import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The signals that stop a run: SIGTERM (`kill`, a service manager), SIGINT (Ctrl-C), SIGHUP
/// (the terminal closed). While a run's stages go, each is caught: SIGTERM is passed on to the
/// stage running, the run waits for it to end, records it, marks the run « INTERROMPU » and
/// launches no other stage. Before, the run died at once and its stage went on alone.
enum Interruption {
    /// The signal received, 0 if none.
    static let received = Atomic<Int32>(0)
    /// The stage's process id while one runs, else 0.
    static let child = Atomic<Int32>(0)
    static let signals = [SIGTERM, SIGINT, SIGHUP]

    /// Catches ``signals`` until ``restore()``.
    static func install() {
        // Initialised here, not in the handler (a first use runs Swift's one-time initialisation).
        received.store(0, ordering: .relaxed)
        child.store(0, ordering: .relaxed)
        for s in signals { signal(s, interruptionHandler) }
    }

    /// Puts back the default action of ``signals``.
    static func restore() {
        for s in signals { signal(s, SIG_DFL) }
    }

    /// Notes the stage's process once started; if a signal came meanwhile, passes it on at once.
    static func started(_ pid: pid_t) {
        child.store(pid, ordering: .relaxed)
        if received.load(ordering: .relaxed) != 0 { kill(pid, SIGTERM) }
    }

    /// The stage has ended.
    static func ended() { child.store(0, ordering: .relaxed) }

    /// The signal received so far, if any.
    static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// The name a person knows a signal by.
    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT (Ctrl-C)"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }
}

/// Runs in the signal's context: only atomics and kill(2), both safe there.
private func interruptionHandler(_ signal: Int32) {
    Interruption.received.store(signal, ordering: .relaxed)
    let pid = Interruption.child.load(ordering: .relaxed)
    if pid > 0 { kill(pid, SIGTERM) }
}
