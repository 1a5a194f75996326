import CLinuxProcess
import CiblageModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A stage started by `ciblage-run` ends with the run. The run names itself to its stages in
/// ``StageEnvironment/runnerPID``; the stage asks the kernel for SIGTERM when the run dies, even
/// killed by SIGKILL.
/// Before, a stage whose run was killed went on alone: the run's lock was released with it, so
/// that the next run could start beside the orphan, and the run's manifest stayed « EN_COURS ».
enum ParentWatch {
    /// Follows the run named in ``StageEnvironment/runnerPID``, if any (removed from the
    /// environment: the stage's own children, if it has any, are not the run's).
    static func follow() {
        let variable = StageEnvironment.runnerPID
        guard let text = getenv(variable).map({ String(cString: $0) }) else { return }
        unsetenv(variable)
        guard let parent = pid_t(text) else { return }
        _ = ciblage_set_parent_death_signal(SIGTERM)
        // The run died before the request took: end as the signal would have ended the stage.
        if getppid() != parent { kill(getpid(), SIGTERM) }
    }
}
