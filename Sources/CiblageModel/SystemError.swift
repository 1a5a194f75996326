import Foundation

/// A failed system call on a path, said in French: what was done, on which path, and why
/// (disk full, permission, name too long, not a directory…), never a raw system message.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    /// What was being done, in French (« écriture », « création du dossier »…).
    public var action: String
    /// The path concerned.
    public var path: String
    /// The `errno` value.
    public var code: Int32

    public init(action: String, path: String, code: Int32) {
        self.action = action
        self.path = path
        self.code = code
    }

    /// The error of the last failed system call (`errno`).
    public static func last(_ action: String, _ path: String) -> SystemError {
        SystemError(action: action, path: path, code: errno)
    }

    public var description: String { "\(action) impossible (\(path)) : \(Self.cause(code))" }

    /// The cause in French for an `errno` value.
    public static func cause(_ code: Int32) -> String {
        switch code {
        case ENOSPC: "disque plein"
        case EDQUOT: "quota disque dépassé"
        case EACCES, EPERM: "permission refusée"
        case EROFS: "système de fichiers en lecture seule"
        case ENAMETOOLONG: "nom de fichier trop long"
        case ENOTDIR: "un élément du chemin n'est pas un dossier"
        case EISDIR: "c'est un dossier"
        case ENOENT: "fichier ou dossier introuvable"
        case EEXIST: "existe déjà"
        case ELOOP: "trop de liens symboliques"
        case EIO: "erreur d'entrée-sortie du disque"
        case EFBIG: "fichier trop grand"
        case EMFILE, ENFILE: "trop de fichiers ouverts"
        case ENXIO: "périphérique sans lecteur"
        case EPIPE: "le lecteur a fermé le tube"
        case EXDEV: "le fichier temporaire et la cible sont sur deux disques différents"
        default: "erreur système \(code)"
        }
    }

    /// Any error said in French: a ``SystemError`` as it is, a Foundation file error by the
    /// POSIX code underneath it (or its own code), anything else as it describes itself.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? SystemError { return error.description }
        let ns = error as NSError
        let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        let suffix = path.map { " (\($0))" } ?? ""
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return "\(cause(Int32(underlying.code)))\(suffix)"
        }
        if ns.domain == NSPOSIXErrorDomain { return "\(cause(Int32(ns.code)))\(suffix)" }
        if ns.domain == NSCocoaErrorDomain {
            let cause: String? =
                switch ns.code {
                case NSFileNoSuchFileError, NSFileReadNoSuchFileError: "fichier ou dossier introuvable"
                case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: "permission refusée"
                case NSFileWriteOutOfSpaceError: "disque plein"
                case NSFileWriteVolumeReadOnlyError: "système de fichiers en lecture seule"
                case NSFileWriteInvalidFileNameError, NSFileReadInvalidFileNameError: "nom de fichier invalide ou trop long"
                case NSFileWriteFileExistsError: "existe déjà"
                case NSFileReadTooLargeError: "fichier trop grand"
                case NSFileReadCorruptFileError: "fichier illisible"
                case NSFileWriteUnknownError: "écriture impossible"
                case NSFileReadUnknownError: "lecture impossible"
                default: nil
                }
            if let cause { return "\(cause)\(suffix)" }
        }
        return "\(error)"
    }
}

/// Small file-system helpers with French errors.
public enum FileSystem {
    /// Creates `path` and its parents; an existing folder is fine, an existing file is not.
    public static func createFolder(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw SystemError(action: "création du dossier", path: path, code: ENOTDIR) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try createFolder(parent) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw SystemError.last("création du dossier", path) }
    }
}
