import CiblageModel
import CiblageReports
import Foundation

/// One rejected row (or XML element), as written to the rejects file.
public struct Reject: Hashable, Sendable {
    /// The file's name.
    public var file: String
    /// 1-based line where the record starts.
    public var line: Int
    /// The column (or XML element/attribute) at fault, empty when the whole record is.
    public var field: String
    /// Why, in French.
    public var reason: String
    /// The raw record text.
    public var content: String

    public init(file: String, line: Int, field: String, reason: String, content: String) {
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
        self.content = content
    }
}

/// The reason a row is rejected: the field at fault (empty for the whole row) and why.
public struct RowReject: Error, Equatable, Sendable {
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}

/// Writes rejects in the format of `exports.md`: `FICHIER;LIGNE;CHAMP;MOTIF;CONTENU`
/// (`;`, UTF-8 with BOM and CRLF, like every output meant for French Excel).
///
/// Opened before any input is read, under a temporary name: a rejects file that cannot be
/// written stops the command before the store changes.
public final class RejectsFile {
    public static let header = ["FICHIER", "LIGNE", "CHAMP", "MOTIF", "CONTENU"]
    private let writer: FrenchCSVWriter

    public init(url: URL) throws {
        writer = try FrenchCSVWriter(url: url, header: Self.header)
    }

    /// Writes the rejects and renames the file into place. Without this call nothing is left.
    public func commit(_ rejects: [Reject]) throws {
        for r in rejects {
            try writer.writeRow([r.file, String(r.line), r.field, r.reason, r.content])
        }
        try writer.commit()
    }
}
