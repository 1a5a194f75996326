import CXLSXWriter
import CiblageModel
import Foundation

/// How a column's cells are typed and shown in an Excel workbook.
///
/// Codes (N_DOSSIER, SIREN, SIRET, COMMUNE, CAF, département) are ``text``: a text cell keeps
/// `01377`, `2A004` or a SIREN starting with 0 as they are, where a CSV opened by a spreadsheet
/// turns them into numbers. Amounts, scores and rates are numbers with a display format, so
/// that they sum, sort and filter; Excel shows them with the reader's separators (a French
/// Excel: `12 400 €`, `0,8731`, `31,7 %`).
public enum ExcelColumnKind: Sendable, Equatable {
    /// Text cell, text format (`@`): what is typed in it later stays text too.
    case text
    /// Whole number: `# ##0`.
    case integer
    /// Euros, no decimals: `# ##0 €`.
    case euros
    /// A ratio shown as a percentage with one decimal: `0,0 %`.
    case percent
    /// A decimal with `digits` decimals (a score: 4).
    case decimal(digits: Int)

    var numberFormat: String {
        switch self {
        case .text: "@"
        case .integer: "#,##0"
        case .euros: "#,##0\\ \"€\""
        case .percent: "0.0%"
        case .decimal(let digits): digits == 0 ? "0" : "0." + String(repeating: "0", count: digits)
        }
    }
}

/// A column of a sheet: its header, kind and width (in characters).
public struct ExcelColumn: Sendable {
    public var header: String
    public var kind: ExcelColumnKind
    public var width: Double

    public init(_ header: String, _ kind: ExcelColumnKind, width: Double? = nil) {
        self.header = header
        self.kind = kind
        self.width = width ?? max(8, min(60, Double(header.count) + 2))
    }
}

/// One cell's value.
public enum ExcelCell: Sendable, Equatable {
    case text(String)
    case number(Double)
    case empty

    /// A number, or an empty cell for `nil` or a non-finite value.
    public static func of(_ value: Double?) -> ExcelCell {
        guard let value, value.isFinite else { return .empty }
        return .number(value)
    }

    public static func of(_ value: Int?) -> ExcelCell { value.map { .number(Double($0)) } ?? .empty }
}

/// Errors of the workbook writer, in French.
public struct ExcelError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// An Excel workbook (`.xlsx`) written with libxlsxwriter, one sheet after another, each with a
/// frozen header row, an autofilter and column widths; published like every output of the
/// project (temporary name, sync, rename: ``OutputFile``).
///
/// libxlsxwriter assembles the file at close time from temporary files; it writes it under a
/// private temporary name, whose bytes then go through ``OutputFile`` (so that a symbolic link,
/// a FIFO or a device is handled as for the CSVs). Its creation date is the one given, never the
/// clock: the same data give the same bytes.
public final class ExcelWorkbook {
    private var workbook: UnsafeMutablePointer<lxw_workbook>?
    private let scratch: URL
    private var headerFormat: UnsafeMutablePointer<lxw_format>!
    private var titleFormat: UnsafeMutablePointer<lxw_format>!
    private var wrapFormat: UnsafeMutablePointer<lxw_format>!
    private var formats: [String: UnsafeMutablePointer<lxw_format>] = [:]
    private var sheetNames: Set<String> = []

    /// - Parameters:
    ///   - title: the document's title (file properties).
    ///   - created: the creation date recorded in the file (seconds since 1970, UTC).
    public init(title: String, created: Date) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ciblage-xlsx-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        var options = lxw_workbook_options()
        options.constant_memory = 1
        let book = scratch.path.withCString { dir -> UnsafeMutablePointer<lxw_workbook>? in
            options.tmpdir = UnsafeMutablePointer(mutating: dir)
            return scratch.appendingPathComponent("classeur.xlsx").path.withCString { workbook_new_opt($0, &options) }
        }
        guard let book else {
            try? FileManager.default.removeItem(at: scratch)
            throw ExcelError(message: "classeur Excel : création impossible dans \(scratch.path)")
        }
        workbook = book
        title.withCString { t in
            "Cnaf – mission SPPE (ciblage)".withCString { a in
                var properties = lxw_doc_properties()
                properties.title = UnsafeMutablePointer(mutating: t)
                properties.author = UnsafeMutablePointer(mutating: a)
                properties.created = time_t(created.timeIntervalSince1970)
                _ = workbook_set_properties(book, &properties)
            }
        }
        headerFormat = workbook_add_format(book)
        format_set_bold(headerFormat)
        format_set_bg_color(headerFormat, 0xEEF1F7)
        format_set_border(headerFormat, UInt8(LXW_BORDER_THIN.rawValue))
        titleFormat = workbook_add_format(book)
        format_set_bold(titleFormat)
        format_set_font_size(titleFormat, 14)
        wrapFormat = workbook_add_format(book)
        format_set_text_wrap(wrapFormat)
        format_set_align(wrapFormat, UInt8(LXW_ALIGN_VERTICAL_TOP.rawValue))
    }

    deinit {
        if let workbook { _ = workbook_close(workbook) }
        try? FileManager.default.removeItem(at: scratch)
    }

    private func format(_ kind: ExcelColumnKind) -> UnsafeMutablePointer<lxw_format> {
        let code = kind.numberFormat
        if let f = formats[code] { return f }
        let f = workbook_add_format(workbook)!
        format_set_num_format(f, code)
        formats[code] = f
        return f
    }

    /// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, unique.
    func sheetName(_ wanted: String) -> String {
        var name = String(wanted.map { "[]:*?/\\".contains($0) ? "-" : $0 }.prefix(31))
        if name.isEmpty { name = "Feuille" }
        var unique = name
        var n = 1
        while sheetNames.contains(unique.lowercased()) {
            n += 1
            unique = String(name.prefix(31 - String(n).count - 1)) + "-\(n)"
        }
        sheetNames.insert(unique.lowercased())
        return unique
    }

    /// The first sheet: what the file is, as label–value lines under a title.
    public func addAbout(title: String, lines: [(String, String)]) {
        let sheet = sheetName("À propos").withCString { workbook_add_worksheet(workbook, $0) }!
        worksheet_set_column(sheet, 0, 0, 34, nil)
        worksheet_set_column(sheet, 1, 1, 90, wrapFormat)
        write(sheet, 0, 0, title, titleFormat)
        for (i, line) in lines.enumerated() {
            write(sheet, UInt32(i + 2), 0, line.0, headerFormat)
            write(sheet, UInt32(i + 2), 1, line.1, wrapFormat)
        }
    }

    /// A data sheet: header row frozen, autofilter over the columns, one row per element of
    /// `rows` (cells in the order of `columns`). An empty sheet says so on its second row.
    public func addSheet(name: String, columns: [ExcelColumn], rows: some Sequence<[ExcelCell]>, whenEmpty: String = "aucune ligne") {
        let sheet = sheetName(name).withCString { workbook_add_worksheet(workbook, $0) }!
        for (c, column) in columns.enumerated() {
            worksheet_set_column(sheet, UInt16(c), UInt16(c), column.width, format(column.kind))
        }
        worksheet_freeze_panes(sheet, 1, 0)
        for (c, column) in columns.enumerated() { write(sheet, 0, UInt16(c), column.header, headerFormat) }
        var r: UInt32 = 0
        for row in rows {
            r += 1
            for (c, cell) in row.enumerated() where c < columns.count {
                switch cell {
                case .text(let text): write(sheet, r, UInt16(c), text, format(.text))
                case .number(let value): worksheet_write_number(sheet, r, UInt16(c), value, format(columns[c].kind))
                case .empty: break
                }
            }
        }
        if r == 0 {
            write(sheet, 1, 0, whenEmpty, nil)
        } else if !columns.isEmpty {
            worksheet_autofilter(sheet, 0, 0, r, UInt16(columns.count - 1))
        }
    }

    /// A text cell: always a string (never a formula or a number), cut at Excel's 32 767 characters.
    private func write(_ sheet: UnsafeMutablePointer<lxw_worksheet>, _ row: UInt32, _ col: UInt16, _ text: String, _ format: UnsafeMutablePointer<lxw_format>?) {
        let cut = text.utf16.count > 32_767 ? String(text.prefix(32_000)) + "…" : text
        _ = cut.withCString { worksheet_write_string(sheet, row, col, $0, format) }
    }

    /// Closes the workbook and returns its bytes.
    public func bytes() throws -> Data {
        guard let book = workbook else { throw ExcelError(message: "classeur Excel déjà fermé") }
        workbook = nil
        let status = workbook_close(book)
        let code = errno
        guard status == LXW_NO_ERROR else { throw ExcelError(message: Self.closeFailure(status, errno: code, in: scratch.path)) }
        return try Data(contentsOf: scratch.appendingPathComponent("classeur.xlsx"))
    }

    /// Why `workbook_close` failed, in French. libxlsxwriter builds the file in `directory` (the
    /// temporary folder) and, on a full disk there, said only « Zip generic error ZIP_ERRNO while
    /// creating the xlsx file. »: the system's cause is read from `errno` as it left it, else from
    /// the folder's free space.
    static func closeFailure(_ status: lxw_error, errno code: Int32, in directory: String) -> String {
        let files: [lxw_error] = [
            LXW_ERROR_CREATING_XLSX_FILE, LXW_ERROR_CREATING_TMPFILE, LXW_ERROR_READING_TMPFILE, LXW_ERROR_ZIP_FILE_OPERATION,
            LXW_ERROR_ZIP_FILE_ADD, LXW_ERROR_ZIP_CLOSE, LXW_ERROR_ZIP_INTERNAL_ERROR,
        ]
        if status == LXW_ERROR_MEMORY_MALLOC_FAILED { return "classeur Excel non écrit : mémoire insuffisante" }
        guard files.contains(status) else {
            return "classeur Excel non écrit (libxlsxwriter : « \(String(cString: lxw_strerror(status))) »)"
        }
        var space = statvfs()
        let full = statvfs(directory, &space) == 0 && UInt64(space.f_bavail) * UInt64(space.f_frsize) < 1 << 20
        let cause = full ? SystemError.cause(ENOSPC) : code != 0 ? SystemError.cause(code) : "écriture impossible"
        return "classeur Excel non écrit dans le dossier temporaire (\(directory)) : \(cause)"
    }

    /// Writes the workbook to `url` (temporary name, sync, rename), or adds it to `batch`, which
    /// publishes it with its other files.
    public func write(to url: URL, in batch: OutputBatch? = nil) throws {
        let data = try bytes()
        if let batch {
            try batch.add(url, data)
        } else {
            let file = try OutputFile(url: url)
            try file.write(data)
            try file.commit()
        }
    }

    /// Finishes the workbook into an unpublished ``OutputFile`` at `url` (written and synced
    /// under its temporary name); the caller commits it.
    public func finish(to url: URL) throws -> OutputFile {
        let data = try bytes()
        let file = try OutputFile(url: url)
        do {
            try file.write(data)
            try file.finish()
        } catch {
            file.discard()
            throw error
        }
        return file
    }
}
