import CiblageModel
import CiblageReports
import Foundation
import GRDB

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
    /// The raw record text, cut at ``maxContentBytes`` (a cut text ends with `…`).
    public var content: String

    /// The most raw text kept for one reject: 4 KiB (`exports.md`), so that a hostile record
    /// cannot blow up the rejects file or the store.
    public static let maxContentBytes = 4096

    public init(file: String, line: Int, field: String, reason: String, content: String) {
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
        self.content = Self.cut(content)
    }

    /// `text` cut at ``maxContentBytes`` on a character boundary, `…` marking the cut.
    public static func cut(_ text: String) -> String {
        guard text.utf8.count > maxContentBytes else { return text }
        var cut = String(decoding: text.utf8.prefix(maxContentBytes - 3), as: UTF8.self)
        // A multi-byte character split by the cut decodes as U+FFFD: drop it.
        while cut.unicodeScalars.last == "\u{FFFD}" { cut.unicodeScalars.removeLast() }
        return cut + "…"
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
/// Opened before any input is read, as an unnamed temporary file: a rejects file that cannot
/// be written stops the command before the store changes, and a killed run leaves none.
/// Every reject is also in the store (table `rejet`), so none is lost when this file is not
/// written: the next run reports them again.
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

/// Rejects kept in the store with their file (table `rejet`, migration `v5-rejets`).
enum StoredRejects {
    /// Stores `rejects` of file `fileId`, in the caller's transaction.
    static func store(_ db: Database, fileId: Int64, _ rejects: [Reject]) throws {
        let statement = try db.makeStatement(sql: "INSERT INTO rejet (fichier_id, ligne, champ, motif, contenu) VALUES (?, ?, ?, ?, ?)")
        for r in rejects { try statement.execute(arguments: [fileId, r.line, r.field, r.reason, r.content]) }
        try db.execute(sql: "UPDATE fichier SET rejets_livres = ? WHERE id = ?", arguments: [rejects.isEmpty, fileId])
    }

    /// The rejects of file `fileId`, by line, named after the file.
    static func load(_ db: Database, fileId: Int64) throws -> [Reject] {
        let name = try String.fetchOne(db, sql: "SELECT nom FROM fichier WHERE id = ?", arguments: [fileId]) ?? ""
        return try Row.fetchAll(
            db, sql: "SELECT ligne, champ, motif, contenu FROM rejet WHERE fichier_id = ? ORDER BY ligne, rowid", arguments: [fileId]
        ).map { Reject(file: name, line: $0[0], field: $0[1], reason: $0[2], content: $0[3]) }
    }
}
