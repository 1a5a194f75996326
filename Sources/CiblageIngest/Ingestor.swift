import CiblageModel
import CiblageReports
import CiblageStore
import Foundation
import GRDB
import Logging

/// What became of one input file.
public struct FileSummary: Sendable {
    public enum Status: Equatable, Sendable {
        /// Stored (its valid rows; rejected rows are in the rejects file).
        case stored
        /// Same content as a file already in the store: nothing read.
        case alreadyIngested(previousName: String, on: String)
        /// Nothing stored from the file, for this reason (exit code 3).
        case refused(String)
    }

    /// The file's id in the store (stored, or already ingested).
    public var fileId: Int64?
    /// Rejects of an already ingested file reported again by this run (they had never reached
    /// a rejects file, or ``Ingestor/recallRejects`` asked for them).
    public var recalled = 0

    public var url: URL
    public var kind: ExportKind?
    /// `CSV` or `XML`.
    public var format: String
    public var encoding: TextEncoding?
    public var status: Status = .stored
    /// Records read (header excluded).
    public var read = 0
    public var stored = 0
    public var rejected = 0
    /// Records identical to an earlier one of the same file (duplicates), kept once.
    public var ignored = 0
    /// Earlier files' values that this file replaced (recorded in the store).
    public var corrections = 0

    /// The French line printed for this file.
    public var line: String {
        let kindText = (kind?.rawValue ?? "inconnu").padding(toLength: 12, withPad: " ", startingAt: 0)
        let counts = [
            FrenchFormat.count(read, "lue", "lues"), FrenchFormat.count(stored, "stockée", "stockées"),
            FrenchFormat.count(rejected, "rejetée", "rejetées"), FrenchFormat.count(ignored, "ignorée", "ignorées"),
        ].joined(separator: ", ")
        switch status {
        case .stored:
            let extra = corrections > 0 ? " (\(FrenchFormat.count(corrections, "correction", "corrections")) de valeurs déjà stockées)" : ""
            return "\(kindText) \(url.relativePath) : \(counts)\(extra)"
        case .alreadyIngested(let previous, let date):
            let extra = recalled > 0 ? " ; ses rejets (\(recalled)) sont repris dans le fichier des rejets" : ""
            return "\(kindText) \(url.relativePath) : fichier ignoré, contenu identique à « \(previous) » déjà ingéré le \(date)\(extra)"
        case .refused(let reason):
            return "\(kindText) \(url.relativePath) : REFUSÉ, rien n'est stocké — \(reason) (\(counts))"
        }
    }
}

/// The outcome of a ``Ingestor/ingest(_:)`` run.
public struct IngestReport: Sendable {
    public var files: [FileSummary] = []
    /// Every reject, by file (in processing order) then line.
    public var rejects: [Reject] = []
    /// Whether a file was refused whole.
    public var anyRefused: Bool { files.contains { if case .refused = $0.status { true } else { false } } }
    /// The stored files whose rejects are all in ``rejects``: once these are written to a
    /// rejects file, ``Ingestor/markRejectsDelivered(_:)`` records it.
    public var reportedFileIds: [Int64] { files.compactMap { $0.fileId } }
}

/// Errors of the ingestion command as a whole (not of one row).
public enum IngestError: Error, CustomStringConvertible {
    case noInput(String)
    /// A file could not be stored (disk full, store damaged…): the files before it are
    /// stored and named in `report`, the others untouched.
    case interrupted(file: String, cause: String, report: IngestReport)

    public var description: String {
        switch self {
        case .noInput(let path): return "entrée introuvable : \(path)"
        case .interrupted(let file, let cause, let report):
            let stored = report.files.filter { $0.status == .stored }.map { $0.url.relativePath }
            return "ingestion interrompue sur \(file) : \(cause) ; rien n'est stocké de ce fichier ni des suivants"
                + (stored.isEmpty ? " ; aucun fichier n'a été stocké" : " ; fichiers stockés avant l'erreur : \(stored.joined(separator: ", "))")
        }
    }
}

/// Ingests upstream exports into the store: every row is stored or rejected with its file,
/// line, field and reason.
///
/// Files are recognised from their header (XML files are declarations), ordered so that the
/// registry comes before declarations and controls, and each is ingested in its own
/// transaction. A file whose content (SHA-256) is already in the store is skipped. A file that
/// cannot be read as its kind (missing column, broken XML) or whose rejected share exceeds
/// ``maxRejectPercent`` stores nothing.
public final class Ingestor {
    public let store: Store
    public let referentiel: Referentiel
    /// Highest share of rejected rows, percent, above which a file is refused whole.
    public var maxRejectPercent: Double?
    /// Report the stored rejects of every file skipped as already ingested, not only of those
    /// whose rejects never reached a rejects file.
    public var recallRejects = false
    /// Called at the points where a crash is most likely to lose something: inside a file's
    /// transaction once its first rows are stored (a registry loaded into an empty store has its
    /// indexes dropped then) and just before it commits, and right after it committed (`index`
    /// counts the files stored so far, the one being stored included inside its transaction).
    /// The command uses it for fault injection in its tests.
    public var checkpoint: (_ point: Checkpoint, _ index: Int) -> Void = { _, _ in }

    public enum Checkpoint: String, Sendable {
        case whileStoring = "pendant-stockage"
        case beforeCommit = "avant-validation"
        case afterCommit = "apres-validation"
    }
    private var committedFiles = 0
    /// Files whose rejects this run already reports.
    private var reportedThisRun: Set<Int64> = []

    var logger: Logger
    private var cachedIndex: EquipementIndex?
    /// Readings started ahead, by the file's place in the run's plan: while a file commits, the
    /// next ``prefetchDepth`` files (declarations, controls, projects) start being read.
    private var prefetched: [Int: AheadRead] = [:]
    /// Files read ahead of the one being stored. Two: the small XML files of a night are read
    /// (libxml2, against the XSD) more slowly than they are stored, so with one read at a time
    /// the storing core waited; two keep both cores busy.
    static let prefetchDepth = 2
    /// The end of the last CSV file's reading started (nil after an XML file's): the next reading
    /// waits for it (``ReadTurn``). An XML file is read more slowly than it is stored, so the
    /// reading after it starts at once and two keep both cores busy.
    private var lastCSVTurn: ReadTurn?
    /// The run's files in the order they are ingested (``ingest(_:)``).
    private var plan: [(url: URL, head: FileHead)] = []
    /// The fingerprint of the CSV declarations file that follows a registry file, by its place in
    /// the plan: computed from the moment the registry's reading ends, while its rows are still
    /// being stored (the storing thread alone then kept a core; this file's reading, started as
    /// the registry commits, began with its fingerprint: 0.03 s of the national ingest on the
    /// path of every later row). `nil` when it failed: its reading then computes it, and says why.
    private var fingerprintsAhead: [Int: BackgroundWork<FileFingerprint?>] = [:]
    /// The content of each file of the run being ingested, by its place in the plan.
    private var runFingerprints = RunFingerprints()

    public init(store: Store, referentiel: Referentiel, maxRejectPercent: Double? = nil, logger: Logger? = nil) {
        self.store = store
        self.referentiel = referentiel
        self.maxRejectPercent = maxRejectPercent
        self.logger = logger ?? Logger(label: "ciblage.ingest")
    }

    /// Files to read from the given inputs: files as given, folders searched recursively for
    /// `.csv` and `.xml` files (sorted by path).
    public static func expand(_ inputs: [URL]) throws -> [URL] {
        var files: [URL] = []
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input.path, isDirectory: &isDirectory) else {
                throw IngestError.noInput(input.path)
            }
            if !isDirectory.boolValue {
                files.append(input)
                continue
            }
            // Paths relative to the folder given, so that summaries name files as the user does.
            let enumerator = FileManager.default.enumerator(atPath: input.path)
            var found: [String] = []
            while let relative = enumerator?.nextObject() as? String {
                let ext = (relative as NSString).pathExtension.lowercased()
                if ext == "csv" || ext == "xml" { found.append(relative) }
            }
            files += found.sorted().map { input.appendingPathComponent($0) }
        }
        return files
    }

    /// Ingests `inputs` (files or folders).
    public func ingest(_ inputs: [URL]) throws -> IngestReport {
        var report = IngestReport()
        var planned: [(url: URL, head: FileHead)] = []
        for url in try Self.expand(inputs) { planned.append((url, FileHead(url))) }
        // Registry first, then declarations, then controls; unknown kinds last. Within a kind, CSV
        // files come before XML ones, so that consecutive CSV declarations overlap (one is parsed
        // while the previous one commits); then by path, the order in which later values replace
        // earlier ones.
        planned.sort { a, b in
            let ra = a.head.kind?.batchRank ?? 9
            let rb = b.head.kind?.batchRank ?? 9
            if ra != rb { return ra < rb }
            if a.head.isXML != b.head.isXML { return !a.head.isXML }
            return a.url.path < b.url.path
        }
        defer {
            for read in prefetched.values { read.cancel() }
            prefetched = [:]
            for work in fingerprintsAhead.values { work.discard() }
            fingerprintsAhead = [:]
        }
        plan = planned
        runFingerprints = RunFingerprints()
        for (index, item) in planned.enumerated() {
            var summary = FileSummary(url: item.url, kind: item.head.kind, format: item.head.isXML ? "XML" : "CSV")
            var rejects: [Reject] = []
            let ahead = prefetched.removeValue(forKey: index)
            do {
                try ingestFile(item.url, place: index, head: item.head, ahead: ahead, &summary, &rejects) { db in
                    // While this file commits, the next files start being read, up to a registry
                    // file or a file of unknown kind: the equipments they are read against are
                    // those of this commit.
                    for later in index + 1..<min(planned.count, index + 1 + Self.prefetchDepth) {
                        if self.prefetched[later] != nil { continue }
                        guard
                            let read = try self.readAhead(
                                planned[later].url, place: later, kind: planned[later].head.kind, isXML: planned[later].head.isXML, db)
                        else { break }
                        self.prefetched[later] = read
                    }
                }
            } catch let refusal as FileRefusal {
                summary.status = .refused(refusal.reason)
                summary.stored = 0
                rejects.append(
                    Reject(file: item.url.lastPathComponent, line: refusal.line, field: "",
                        reason: "fichier refusé : \(refusal.reason)", content: ""))
            } catch {
                throw IngestError.interrupted(file: item.url.relativePath, cause: StoreFailure.french(error), report: report)
            }
            rejects.sort { $0.line < $1.line }
            report.rejects += rejects
            report.files.append(summary)
        }
        return report
    }

    /// Records that the rejects of `fileIds` are now in a rejects file: later runs that skip
    /// these files as already ingested do not report them again.
    public func markRejectsDelivered(_ fileIds: [Int64]) throws {
        guard !fileIds.isEmpty else { return }
        try store.dbQueue.write { db in
            let statement = try db.makeStatement(sql: "UPDATE fichier SET rejets_livres = 1 WHERE id = ?")
            for id in fileIds { try statement.execute(arguments: [id]) }
        }
    }

    struct FileRefusal: Error {
        var line: Int
        var reason: String
    }

    /// Ingests one file in its own transaction. `ahead`: its reading, started while an earlier
    /// file committed; stopped here whatever happens (a file refused, already stored, an error).
    private func ingestFile(
        _ url: URL, place: Int, head: FileHead, ahead: AheadRead?, _ summary: inout FileSummary,
        _ rejects: inout [Reject], beforeCommit: (Database) throws -> Void
    ) throws {
        let (kind, isXML) = (head.kind, head.isXML)
        let t0 = Date()
        defer { logger.debug("\(url.lastPathComponent) : \(String(format: "%.2f", Date().timeIntervalSince(t0))) s au total") }
        // Once read to its end the reading has ended, and this only marks it so.
        defer { ahead?.cancel() }
        let fingerprint: FileFingerprint
        do {
            fingerprint = try ahead?.fingerprint() ?? fingerprintsAhead.removeValue(forKey: place)?.wait() ?? FileFingerprint.compute(url)
        } catch {
            throw FileRefusal(line: 0, reason: "\(error)")
        }
        runFingerprints.note(fingerprint.sha256, at: place)
        logger.debug("\(url.lastPathComponent) : empreinte en \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
        summary.encoding = isXML ? nil : fingerprint.encoding
        let recall = recallRejects
        if let previous = try store.dbQueue.read({ db -> (Row, [Reject])? in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT id, nom, ingere_le, rejets_livres FROM fichier WHERE sha256 = ?", arguments: [fingerprint.sha256])
            else { return nil }
            // Rejects that never reached a rejects file (a killed run, a full disk) come again.
            let undelivered = (row["rejets_livres"] as Int64) == 0
            return (row, recall || undelivered ? try StoredRejects.load(db, fileId: row["id"]) : [])
        }) {
            summary.status = .alreadyIngested(previousName: previous.0["nom"], on: previous.0["ingere_le"])
            let id: Int64 = previous.0["id"]
            // A file delivered twice in one run: its rejects are reported once.
            if !previous.1.isEmpty, !reportedThisRun.contains(id) {
                reportedThisRun.insert(id)
                summary.fileId = id
                summary.recalled = previous.1.count
                rejects = previous.1
            }
            return
        }
        if head.isBlank { throw FileRefusal(line: 1, reason: "fichier vide (coupé pendant le transfert ?)") }
        guard let kind else {
            if head.startsWithUTF16Mark {
                throw FileRefusal(
                    line: 1,
                    reason: "fichier en UTF-16 (le « Texte Unicode » d'Excel) : à enregistrer en « CSV UTF-8 » ou en CSV (séparateur ;)")
            }
            throw FileRefusal(
                line: 1,
                reason: "type de fichier non reconnu d'après son en-tête (ni équipements, ni déclarations, ni contrôles, ni projets)")
        }
        let name = url.lastPathComponent
        // A registry file changes the equipments: the index is made again from its rows (before
        // its commit, when the next files are read ahead) and kept once it has committed; a
        // registry file that did not commit leaves no index behind (at four times the country,
        // making it again for the next file took 0.1 s on the storing thread).
        if kind == .equipements { cachedIndex = nil }
        var committed = false
        defer { if kind == .equipements && !committed { cachedIndex = nil } }
        var outcome = Counts()
        var fileRejects = RejectCollector(fileName: name)
        let progress = Progress.shared.step("ingestion de \(name)", unit: "lignes")
        defer { progress.finish() }
        var storedId: Int64?
        // What a kind leaves to do last before the commit, once the next files are read ahead.
        var lastStep: (() throws -> Void)?
        // The foreign-key checks would prove nothing: declarations and controls resolve their
        // equipment in memory before they are stored (the check was about 10 % of the
        // declarations' hot path), a control's exercices and anomalies refer to the control
        // just inserted, and the other keys to the `fichier` row inserted just below. With the
        // checks on, every statement of a multi-row insert kept a statement journal, and the
        // national projects file (15 000 rows, two statements each) took 0.12–0.18 s instead of
        // 0.10–0.13 s.
        try store.writeWithoutForeignKeyChecks { db in
            try db.execute(
                sql: """
                    INSERT INTO fichier (nom, chemin, sha256, type_fichier, format, encodage, octets, ingere_le)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    name, url.path, fingerprint.sha256, kind.rawValue, isXML ? "XML" : "CSV",
                    isXML ? "XML" : fingerprint.encoding.rawValue, fingerprint.size,
                    ISO8601DateFormatter().string(from: Date()),
                ])
            let fileId = db.lastInsertedRowID
            switch (kind, isXML) {
            case (.declarations, _):
                outcome = try ingestDeclarations(
                    url, isXML: isXML, fingerprint, ahead: ahead?.declarations, progress: progress, db: db, fileId: fileId,
                    &fileRejects)
            case (.equipements, _):
                outcome = try ingestEquipements(url, fingerprint, place: place, db: db, fileId: fileId, &fileRejects, &lastStep)
            case (.controles, _):
                outcome = try ingestControles(url, fingerprint, ahead: ahead?.controles, db: db, fileId: fileId, &fileRejects)
            case (.projets, _):
                outcome = try ingestProjets(url, fingerprint, ahead: ahead?.projets, db: db, fileId: fileId, &fileRejects)
            }
            summary.read = outcome.read
            summary.stored = outcome.stored
            summary.rejected = fileRejects.rejects.count
            summary.ignored = outcome.ignored
            summary.corrections = outcome.corrections
            rejects = fileRejects.rejects
            storedId = fileId
            if let max = maxRejectPercent, summary.read > 0,
                Double(summary.rejected) * 100 > max * Double(summary.read)
            {
                let share = FrenchPercent.format(Double(summary.rejected) * 100 / Double(summary.read))
                throw FileRefusal(
                    line: 0, reason: "\(share) des lignes rejetées, au-delà du seuil --max-rejets \(FrenchPercent.format(max))")
            }
            try db.execute(
                sql: """
                    UPDATE fichier SET lignes_lues = ?, lignes_stockees = ?, lignes_rejetees = ?, lignes_ignorees = ?
                    WHERE id = ?
                    """, arguments: [summary.read, summary.stored, summary.rejected, summary.ignored, fileId])
            try StoredRejects.store(db, fileId: fileId, rejects.sorted { $0.line < $1.line })
            try beforeCommit(db)
            try lastStep?()
            logger.debug("\(url.lastPathComponent) : prêt à valider à \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
            checkpoint(.beforeCommit, committedFiles + 1)
        }
        committed = true
        // Known only once committed: a file refused inside its transaction threw above.
        summary.fileId = storedId
        if let storedId { reportedThisRun.insert(storedId) }
        committedFiles += 1
        checkpoint(.afterCommit, committedFiles)
        if !fileRejects.unknownColumns.isEmpty {
            // Names cut at 40 characters, 10 at most: a damaged header cannot flood the log.
            let unknown = fileRejects.unknownColumns
            let shown = unknown.prefix(10).map { $0.count > 40 ? String($0.prefix(40)) + "…" : $0 }
            let more = unknown.count > 10 ? " (et \(unknown.count - 10) autres)" : ""
            logger.warning("\(name) : colonnes inconnues ignorées : \(shown.joined(separator: ", "))\(more)")
        }
    }

    // MARK: Kinds

    struct Counts {
        var read = 0
        var stored = 0
        var ignored = 0
        var corrections = 0
    }

    /// Parses (CSV, or XML validated against the XSD) on a producer thread while this one
    /// stores: the two halves take about the same time, so the file goes through in about half
    /// the time of doing both in turn. The parse was usually started while the previous file
    /// committed (`ahead`).
    private func ingestDeclarations(
        _ url: URL, isXML: Bool, _ fingerprint: FileFingerprint, ahead: DeclarationParse?, progress: ProgressStep, db: Database,
        fileId: Int64, _ rejects: inout RejectCollector
    ) throws -> Counts {
        let t0 = Date()
        // A reading started ahead may have left the file unread, as a copy of an earlier file of
        // the run: that file was refused, so this one is read now.
        let parse = try ahead.flatMap { $0.claim() ? $0 : nil } ?? startParse(url, isXML: isXML, fingerprint: fingerprint, db)
        var storer = DeclarationStorer(writer: try DeclarationWriter(db: db, fileId: fileId))
        var stored = RejectCollector(fileName: rejects.fileName)
        var spans = RawSpans()
        var rows = 0
        var furthest = 0
        do {
            while let batch = try parse.channel.receive() {
                for item in batch {
                    if !isXML { spans.append(line: item.line, item.span) }
                    try storer.store(item.row, line: item.line, content: nil, &stored)
                }
                rows += batch.count
                if rows == batch.count { checkpoint(.whileStoring, committedFiles + 1) }  // the first batch
                // Batches come by windows sorted by key: the furthest row read tells the progress.
                furthest = batch.reduce(furthest) { max($0, $1.span.offset) }
                let share = isXML || fingerprint.size == 0 ? nil : Double(furthest) / Double(fingerprint.size)
                progress.advance(to: rows, fraction: share)
            }
        } catch {
            parse.cancel()
            throw error
        }
        parse.join()
        logger.debug("\(url.lastPathComponent) : lecture, contrôles et stockage en \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
        var collector = parse.result.rejects!
        collector.merge(stored)
        var counts = storer.counts
        counts.read = parse.result.read
        counts.corrections = try storer.writer.finish()
        // Rejects found after their row was read (the first row of a conflict) get its text: from
        // its span in a CSV file, by reading an XML file again (its elements have no span).
        if isXML {
            if !collector.pendingContent.isEmpty {
                // A line where several declarations start (an export on one line) names none of
                // them: its rejects say so rather than show another declaration's text.
                var contents: [Int: String] = [:]
                try XMLDeclarationReader(url: url).read { element in
                    guard collector.pendingContent.contains(element.line) else { return }
                    contents[element.line] =
                        contents[element.line] == nil
                        ? element.content : "(plusieurs déclarations commencent à la ligne \(element.line) : texte non attribuable)"
                }
                collector.fillContent(contents)
            }
        } else {
            collector.fillContent(
                try CSVReader.rawText(of: spans.spans(of: collector.pendingContent), in: url.path, encoding: fingerprint.encoding))
        }
        rejects = collector
        return counts
    }

    /// Starts parsing `url` (declarations) on a producer thread, with the equipments the store
    /// knows now; `fingerprint` when already computed, else the thread computes it first.
    private func startParse(
        _ url: URL, isXML: Bool, fingerprint: FileFingerprint?, repeats: RunFingerprints.Check? = nil, _ db: Database
    ) throws -> DeclarationParse {
        let parser = DeclarationRowParser(equipements: try equipementIds(db))
        let name = url.lastPathComponent
        let parse =
            isXML
            ? DeclarationParse(xml: url, fingerprint: fingerprint, parser: parser, fileName: name, after: lastCSVTurn, repeats: repeats)
            : DeclarationParse(url: url, fingerprint: fingerprint, parser: parser, fileName: name, after: lastCSVTurn, repeats: repeats)
        lastCSVTurn = isXML ? nil : parse.turn
        return parse
    }

    /// Stores a registry file; the indexes a load into an empty registry dropped are built
    /// again by the step left in `lastStep` (see ``EquipementWriter/restoreIndexes()``).
    private func ingestEquipements(
        _ url: URL, _ fingerprint: FileFingerprint, place: Int, db: Database, fileId: Int64, _ rejects: inout RejectCollector,
        _ lastStep: inout (() throws -> Void)?
    ) throws -> Counts {
        let parser = EquipementRowParser(referentiel: referentiel)
        var writer = try EquipementWriter(db: db, fileId: fileId)
        let read = keyedRead(url, fingerprint: fingerprint, columns: ExportColumns.equipements) { (reader) throws(RowReject) in
            try parser.parse(reader)
        }
        let next = place + 1
        if next < plan.count, plan[next].head.kind == .declarations, !plan[next].head.isXML, fingerprintsAhead[next] == nil,
            prefetched[next] == nil
        {
            let (turn, file) = (read.turn, plan[next].url)
            fingerprintsAhead[next] = BackgroundWork {
                _ = turn.wait(unless: { false })
                return try? FileFingerprint.compute(file)
            }
        }
        let rows = try storeKeyedAsRead(
            read, url, fingerprint.encoding, key: \Equipement.numeroDossier, db: db, &rejects,
            restart: { writer = try EquipementWriter(db: db, fileId: fileId) },
            store: { try writer.upsert($0.value, line: $0.line) }, finish: { try writer.flush() })
        // The writer of the rows stored last (after a restart, the second one).
        lastStep = { [writer] in try writer.restoreIndexes() }
        return Counts(read: rows.read, stored: rows.kept.count, ignored: rows.ignored, corrections: try writer.corrections())
    }

    /// Starts reading a file ahead of its turn (its fingerprint first, then its rows), against
    /// the equipments the store knows now; `nil` for a kind not read ahead (a registry file,
    /// whose rows change those equipments, or a file of unknown kind). The file is checked
    /// against the store's fingerprints when its turn comes, and its reading stopped if it is
    /// already there.
    ///
    /// Called last before the current file commits, so the equipment index may hold rows of a
    /// registry file not yet committed. That is safe: a file refused whole throws before this
    /// point, and a commit that fails throws out of ``ingest(_:)``, whose `defer` stops the
    /// readings started ahead before anything of them is stored.
    private func readAhead(_ url: URL, place: Int, kind: ExportKind?, isXML: Bool, _ db: Database) throws -> AheadRead? {
        switch kind {
        case .declarations:
            .declarations(
                try startParse(
                    url, isXML: isXML, fingerprint: try fingerprintsAhead.removeValue(forKey: place)?.wait() ?? nil,
                    repeats: runFingerprints.check(at: place), db))
        case .controles: .controles(try controlesRead(url, fingerprint: nil, db))
        case .projets: .projets(try projetsRead(url, fingerprint: nil, db))
        case .equipements, nil: nil
        }
    }

    private func controlesRead(_ url: URL, fingerprint: FileFingerprint?, _ db: Database) throws -> KeyedRead<ParsedControle> {
        let parser = ControleRowParser(equipements: try equipementIds(db), referentiel: referentiel)
        return keyedRead(url, fingerprint: fingerprint, columns: ExportColumns.controles) { (reader) throws(RowReject) in
            try parser.parse(reader)
        }
    }

    private func projetsRead(_ url: URL, fingerprint: FileFingerprint?, _ db: Database) throws -> KeyedRead<Projet> {
        let parser = ProjetRowParser(equipements: try equipementIds(db), referentiel: referentiel)
        return keyedRead(url, fingerprint: fingerprint, columns: ExportColumns.projets) { (reader) throws(RowReject) in
            try parser.parse(reader)
        }
    }

    /// Starts reading a keyed CSV file (registry, controls, projects) once the CSV reading
    /// before it has ended (``ReadTurn``), and makes its own the turn the next reading waits for.
    private func keyedRead<Value: Sendable>(
        _ url: URL, fingerprint: FileFingerprint?, columns: [ColumnSpec],
        parse: @escaping @Sendable (FieldReader<CSVFieldSource>) throws(RowReject) -> Value
    ) -> KeyedRead<Value> {
        let read = KeyedRead(
            url: url, fingerprint: fingerprint, columns: columns, fileName: url.lastPathComponent, after: lastCSVTurn, parse: parse)
        lastCSVTurn = read.turn
        return read
    }

    private func ingestControles(
        _ url: URL, _ fingerprint: FileFingerprint, ahead: KeyedRead<ParsedControle>?, db: Database, fileId: Int64,
        _ rejects: inout RejectCollector
    ) throws -> Counts {
        var writer = try ControleWriter(db: db, fileId: fileId)
        let read = try ahead ?? controlesRead(url, fingerprint: fingerprint, db)
        let rows = try storeKeyedAsRead(
            read, url, fingerprint.encoding, key: \ParsedControle.controle.idControle, db: db, &rejects,
            restart: { writer = try ControleWriter(db: db, fileId: fileId) },
            store: { try writer.upsert($0.value.controle, equipementId: $0.value.equipementId, line: $0.line) }, finish: {})
        return Counts(read: rows.read, stored: rows.kept.count, ignored: rows.ignored, corrections: writer.corrections)
    }

    private func ingestProjets(
        _ url: URL, _ fingerprint: FileFingerprint, ahead: KeyedRead<Projet>?, db: Database, fileId: Int64,
        _ rejects: inout RejectCollector
    ) throws -> Counts {
        var writer = try ProjetWriter(db: db, fileId: fileId)
        let read = try ahead ?? projetsRead(url, fingerprint: fingerprint, db)
        let rows = try storeKeyedAsRead(
            read, url, fingerprint.encoding, key: \Projet.numeroProjet, db: db, &rejects,
            restart: { writer = try ProjetWriter(db: db, fileId: fileId) },
            store: { try writer.upsert($0.value, line: $0.line) }, finish: {})
        return Counts(read: rows.read, stored: rows.kept.count, ignored: rows.ignored, corrections: writer.corrections)
    }

    /// Stores the rows of a whole file of a small keyed kind (registry, controls, projects) as
    /// `read` hands them over from its thread (started now, or ahead of the file's turn), each as
    /// it comes (`store`, then `finish`), inside a savepoint, on the bet
    /// that no key repeats in the file (an export lists each equipment, control or project
    /// once): reading and storing overlap. A repeated key undoes what was stored; then, after
    /// `restart` (a new writer: the former one counted and queued what was undone), the rows kept
    /// once duplicates and conflicts are resolved (``resolveDuplicates(_:key:_:)``) are stored
    /// the same way. Returns the rows kept, the records read and the identical duplicates left
    /// out; the file's rejects go to `rejects` (empty when called: `read` collects them from the
    /// start). `read` is stopped on every path.
    private func storeKeyedAsRead<Value: Hashable & Sendable>(
        _ read: KeyedRead<Value>, _ url: URL, _ encoding: TextEncoding, key: KeyPath<Value, String>, db: Database,
        _ rejects: inout RejectCollector,
        restart: () throws -> Void, store: (CollectedRow<Value>) throws -> Void, finish: () throws -> Void
    ) throws -> (kept: [CollectedRow<Value>], read: Int, ignored: Int) {
        let t0 = Date()
        let channel = read.channel
        do {
            try db.execute(sql: "SAVEPOINT lecture_stockage")
        } catch {
            read.cancel()
            throw error
        }
        var seen = Set<String>()
        var repeated = false
        do {
            while let batch = try channel.receive() {
                if repeated { continue }  // drained: the reading thread ends
                for row in batch {
                    guard seen.insert(row.value[keyPath: key]).inserted else {
                        repeated = true
                        break
                    }
                    try store(row)
                }
                if !repeated, seen.count == batch.count { checkpoint(.whileStoring, committedFiles + 1) }  // the first batch
            }
            if !repeated { try finish() }
        } catch {
            read.cancel()
            throw error
        }
        let sink = try read.finish()
        logger.debug("\(url.lastPathComponent) : lecture, contrôles et stockage en \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
        // Without a repeated key, every row is kept as it was stored.
        let rows = try keptRows(of: sink, url, encoding, key: repeated ? key : nil, &rejects)
        if repeated {
            try db.execute(sql: "ROLLBACK TO lecture_stockage")
            try db.execute(sql: "RELEASE lecture_stockage")
            try restart()
            for row in rows.kept { try store(row) }
            try finish()
            logger.debug("\(url.lastPathComponent) : clés répétées, stocké à nouveau une fois les doublons résolus")
        } else {
            try db.execute(sql: "RELEASE lecture_stockage")
        }
        return rows
    }

    /// The rows of a file read whole, once its duplicate keys are resolved (see
    /// ``resolveDuplicates(_:key:_:)``; every row without `key`), with the records read and the
    /// identical duplicates left out; its rejects go to `rejects`.
    private func keptRows<Value: Hashable>(
        of sink: TableSink<StreamingHandler<Value>>, _ url: URL, _ encoding: TextEncoding, key: KeyPath<Value, String>?,
        _ rejects: inout RejectCollector
    ) throws -> (kept: [CollectedRow<Value>], read: Int, ignored: Int) {
        var collector = sink.rejects
        let collected = sink.handler.collecting
        let kept = key.map { Self.resolveDuplicates(collected.rows, key: $0, &collector) } ?? collected.rows
        collector.fillContent(
            try CSVReader.rawText(of: collected.spans.spans(of: collector.pendingContent), in: url.path, encoding: encoding))
        rejects = collector
        return (kept, sink.read, collected.rows.count - kept.count - collector.conflictCount)
    }

    /// Keeps one row per key: a key repeated with identical values is kept once; a key repeated
    /// with different values is a conflict and all its rows are rejected.
    static func resolveDuplicates<Value: Hashable>(
        _ rows: [CollectedRow<Value>], key: KeyPath<Value, String>, _ rejects: inout RejectCollector
    ) -> [CollectedRow<Value>] {
        var groups: [String: [Int]] = [:]
        for (i, row) in rows.enumerated() { groups[row.value[keyPath: key], default: []].append(i) }
        var kept: [CollectedRow<Value>] = []
        for (i, row) in rows.enumerated() {
            let group = groups[row.value[keyPath: key]]!
            if group.count == 1 {
                kept.append(row)
                continue
            }
            let distinct = Set(group.map { rows[$0].value })
            if distinct.count == 1 {
                if group[0] == i { kept.append(row) }
            } else {
                let others = group.filter { $0 != i }.map { String(rows[$0].line) }.joined(separator: ", ")
                rejects.add(
                    line: row.line, field: "",
                    reason: "conflit : même clé « \(row.value[keyPath: key]) » qu'à la ligne \(others), avec des valeurs différentes",
                    content: nil)
                rejects.conflictCount += 1
            }
        }
        return kept
    }

    /// The equipments known to the store, loaded once per run and again only after a registry
    /// file (the only kind that changes them) went through.
    private func equipementIds(_ db: Database) throws -> EquipementIndex {
        if let cachedIndex { return cachedIndex }
        // Read on the storing thread before the first declaration is stored: one table, sized
        // once, filled from the raw rows in the order of their ids, the order of the registry
        // that created them (the scan, on the covering index of N_DOSSIER, reads them in the
        // order of the numbers' text).
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement") ?? 0
        var index = EquipementIndex(capacity: count)
        var known: [(nDossier: String, id: Int64)] = []
        known.reserveCapacity(count)
        let rows = try RawStatement(db, sql: "SELECT n_dossier, id FROM equipement")
        defer { rows.reset() }
        while try rows.step() {
            if let nDossier = rows.text(0), let id = rows.int(1) { known.append((nDossier, Int64(id))) }
        }
        known.sort { $0.id < $1.id }
        for (nDossier, id) in known { index.insert(nDossier, id) }
        cachedIndex = index
        return index
    }

    // MARK: Sniffing

    /// The first bytes of an input file, read once when the run is planned, and what they tell:
    /// its format and kind, and why a file no kind fits is refused.
    struct FileHead {
        /// Bytes read: enough for a header line.
        static let size = 8192
        /// An XML export: named `.xml`, or starting with `<` (after a UTF-8 BOM and blanks).
        let isXML: Bool
        /// The kind of a CSV file, from the column names of its first line (XML: declarations).
        let kind: ExportKind?
        /// Nothing but blanks (spaces, tabs, line ends; under 4 KiB of them) after a UTF-8 byte
        /// order mark if any: an empty delivery, which an XML file's reader took for a document cut
        /// short and a CSV file's for an unknown header.
        let isBlank: Bool
        /// Starts with a UTF-16 byte order mark (FF FE or FE FF).
        let startsWithUTF16Mark: Bool

        /// Reads the head of `url`; a file that cannot be read has no kind (refused as such).
        init(_ url: URL) {
            // `nil`: the file could not be opened or read.
            var head: [UInt8]?
            if let handle = FileHandle(forReadingAtPath: url.path) {
                // The read gives `nil` for a file with nothing to read: an empty head.
                do { head = [UInt8](try handle.read(upToCount: Self.size) ?? Data()) } catch {}
            }
            let bytes = head ?? []
            let afterMark = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes.dropFirst(3) : bytes[...]
            isXML =
                url.pathExtension.lowercased() == "xml"
                || bytes.prefix(64).drop { $0 == 0xEF || $0 == 0xBB || $0 == 0xBF || $0 == 0x20 || $0 == 0x0A || $0 == 0x0D }.first
                    == UInt8(ascii: "<")
            kind = isXML ? .declarations : bytes.isEmpty ? nil : Self.kind(ofHeaderIn: Array(afterMark))
            isBlank = head != nil && bytes.count < 4096 && afterMark.allSatisfy(FieldParsing.isASCIIBlank)
            startsWithUTF16Mark = bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF])
        }

        /// The kind of a CSV file whose text (after its BOM) starts with `bytes`.
        static func kind(ofHeaderIn bytes: [UInt8]) -> ExportKind? {
            let lineEnd = bytes.withUnsafeBufferPointer { CSVReader.lineEnd(of: $0, complete: true) } ?? 0x0A
            let line = bytes.prefix { $0 != lineEnd }
            let delimiter = line.withContiguousStorageIfAvailable { CSVReader.detectDelimiter($0, lineEnd: lineEnd) } ?? UInt8(ascii: ";")
            let names = line.split(separator: delimiter).map {
                String(decoding: $0, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \t\r\"")).uppercased()
            }
            return ExportColumns.kind(ofHeader: names)
        }
    }
}

/// French percentages for messages: `12,5 %`.
enum FrenchPercent {
    static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded).replacingOccurrences(of: ".", with: ",")
        return "\(text) %"
    }
}
