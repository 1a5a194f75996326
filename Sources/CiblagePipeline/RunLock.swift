import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock beside the store (`<store>.lock`, flock(2)), so that two runs never use a
/// store at once. The file says who holds it; the kernel releases the lock when the holder dies,
/// even killed.
public final class RunLock {
    public let path: String
    private let fd: Int32

    /// Takes the lock, or throws ``PipelineError/locked(holder:)`` with what the holder wrote.
    public init(store: String, holder: String) throws {
        path = store + ".lock"
        try? FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PipelineError.unwritable(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw PipelineError.locked(holder: text.isEmpty ? "inconnu" : text)
        }
        update(holder)
    }

    /// Rewrites what the lock file says of its holder (pipeline, pid, stage).
    public func update(_ holder: String) {
        _ = ftruncate(fd, 0)
        let data = Array((holder + "\n").utf8)
        _ = pwrite(fd, data, data.count, 0)
    }

    deinit {
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }
}
