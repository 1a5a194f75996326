import CiblageModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One output file, written so that a reader never sees it half-written and a failure leaves
/// nothing behind (`commands.md`, "Common to every command").
///
/// - A regular target (or a missing one) is written to an unnamed temporary file in the
///   target's folder (`O_TMPFILE`: a process killed mid-write leaves no file at all; a named
///   hidden temporary where the filesystem lacks it), synced, then renamed over the target.
/// - A target that is a symbolic link is followed: the file it points to is replaced and the
///   link stays a link.
/// - A target that exists and is not a regular file (`/dev/stdout`, `/dev/null`, a FIFO) is
///   written directly, never replaced.
///
/// Every failure is a ``SystemError`` naming the path and the cause in French.
public final class OutputFile {
    /// The path as asked for.
    public let url: URL
    /// The file actually replaced (the link's target for a symbolic link).
    public let resolvedPath: String
    /// Whether the target is a device or FIFO written in place.
    public let isDirect: Bool
    private var fd: Int32
    private var temporaryPath: String?
    private var unnamed = false
    private var buffer: [UInt8] = []
    private var state = State.writing

    private enum State { case writing, finished, published, discarded }

    /// Opens `url` for writing; its folder is created when missing.
    public init(url: URL) throws {
        self.url = url
        resolvedPath = Self.resolveLinks(url.path)
        var info = stat()
        if stat(resolvedPath, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
            guard (info.st_mode & S_IFMT) != S_IFDIR else {
                throw SystemError(action: "écriture", path: url.path, code: EISDIR)
            }
            isDirect = true
            fd = open(resolvedPath, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SystemError.last("ouverture en écriture", url.path) }
            return
        }
        isDirect = false
        let folder = (resolvedPath as NSString).deletingLastPathComponent
        let folderPath = folder.isEmpty ? "." : folder
        try FileSystem.createFolder(folderPath)
        fd = open(folderPath, Self.oTmpfile | O_WRONLY | O_CLOEXEC, 0o644)
        if fd >= 0 {
            unnamed = true
        } else {
            let name = (resolvedPath as NSString).lastPathComponent
            let temporary = (folderPath as NSString).appendingPathComponent(".\(name).\(getpid()).tmp")
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw SystemError.last("écriture", url.path) }
            temporaryPath = temporary
        }
    }

    deinit { discard() }

    /// Appends bytes (buffered).
    public func write<Bytes: Sequence>(_ bytes: Bytes) throws where Bytes.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { try flush() }
    }

    /// Appends UTF-8 text.
    public func write(_ text: String) throws { try write(text.utf8) }

    /// Writes what is buffered and syncs the file to disk: after this, only ``publish()`` is left,
    /// which cannot run out of space.
    public func finish() throws {
        guard state == .writing else { return }
        try flush()
        if !isDirect, fsync(fd) != 0 { throw SystemError.last("écriture", url.path) }
        state = .finished
    }

    /// Renames the finished file into place (nothing to do for a device or FIFO).
    public func publish() throws {
        if state == .writing { try finish() }
        guard state == .finished else { return }
        defer { if state != .published { discard() } }
        if !isDirect {
            if unnamed {
                // Give the unnamed file a hidden name beside the target, then rename it over.
                let name = (resolvedPath as NSString).lastPathComponent
                let folder = (resolvedPath as NSString).deletingLastPathComponent
                let temporary = ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(".\(name).\(getpid()).tmp")
                unlink(temporary)
                guard linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, temporary, AT_SYMLINK_FOLLOW) == 0 else {
                    throw SystemError.last("écriture", url.path)
                }
                temporaryPath = temporary
            }
            guard rename(temporaryPath!, resolvedPath) == 0 else { throw SystemError.last("renommage", url.path) }
            temporaryPath = nil
        }
        close(fd)
        fd = -1
        state = .published
    }

    /// ``finish()`` then ``publish()``.
    public func commit() throws {
        try finish()
        try publish()
    }

    /// Drops the file: the temporary one is removed and the target left as it was.
    public func discard() {
        guard state != .published, state != .discarded else { return }
        if fd >= 0 { close(fd) }
        fd = -1
        if let temporaryPath { unlink(temporaryPath) }
        temporaryPath = nil
        state = .discarded
    }

    private func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                buffer.removeAll()
                throw SystemError(action: "écriture", path: url.path, code: code)
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// `open(2)`'s `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which Swift does not import.
    static let oTmpfile: Int32 = 0o20_000_000 | O_DIRECTORY

    /// Follows symbolic links (at most 40) to the path finally written; a dangling link gives
    /// the path it points to.
    static func resolveLinks(_ path: String) -> String {
        var current = path
        for _ in 0..<40 {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, buffer.count - 1)
            guard length > 0 else { return current }
            let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current =
                target.hasPrefix("/")
                ? target : ((current as NSString).deletingLastPathComponent as NSString).appendingPathComponent(target)
        }
        return current
    }
}

/// A folder of outputs written all or none: every file is written and synced first, and only
/// when all of them are complete are they renamed into place. Dropping the batch without
/// ``commit()`` leaves none of them.
public final class OutputBatch {
    private var files: [OutputFile] = []

    public init() {}

    /// Adds a file to the batch (see ``OutputFile``).
    public func file(_ url: URL) throws -> OutputFile {
        let file = try OutputFile(url: url)
        files.append(file)
        return file
    }

    /// Adds a file holding `bytes`.
    public func add(_ url: URL, _ bytes: some Sequence<UInt8>) throws {
        try file(url).write(bytes)
    }

    /// Writes and syncs every file (where a full disk shows), dropping them all on failure.
    /// A stage calls this before committing its store transaction, then ``publish()``.
    public func finish() throws { try each { try $0.finish() } }

    /// Renames every finished file into place.
    public func publish() throws { try each { try $0.publish() } }

    /// Applies `step` to every file; on the first failure, drops them all.
    private func each(_ step: (OutputFile) throws -> Void) throws {
        do {
            for file in files { try step(file) }
        } catch {
            discard()
            throw error
        }
    }

    /// ``finish()`` then ``publish()``.
    public func commit() throws {
        try finish()
        try publish()
    }

    /// Drops every file not yet published.
    public func discard() {
        for file in files { file.discard() }
    }
}
