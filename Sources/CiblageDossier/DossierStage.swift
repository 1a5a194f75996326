import CiblageModel
import CiblageReports
import CiblageStore
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// The first error of concurrent workers.
final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?

    var happened: Bool { lock.withLock { error != nil } }
    func record(_ e: any Error) { lock.withLock { if error == nil { error = e } } }
    func rethrow() throws { if let error = lock.withLock({ error }) { throw error } }
}

/// What `ciblage-dossier` wrote.
public struct DossierSummary: Sendable {
    public var dossiers: Int
    public var groupes: Int
    public var cafs: [String]
}

/// The `ciblage-dossier` stage: one dossier per planned line of a stored campaign
/// (`DIR/<CAF>/dossier-<N_DOSSIER>.html`), one per multi-departmental group
/// (`DIR/groupes/groupe-<SIREN>.html`), an index per Caf (`DIR/<CAF>/index.html`).
///
/// Everything is written under a hidden staging folder in `DIR` first, then published: each
/// Caf folder replaces the previous one whole (a dossier of a line no longer planned does not
/// linger), group dossiers and a single `--n-dossier` dossier replace their file. A failure
/// before publication (full disk, unwritable folder) leaves `DIR` as it was.
public struct DossierStage {
    public var store: Store
    public var referentiel: Referentiel

    public init(store: Store, referentiel: Referentiel) {
        self.store = store
        self.referentiel = referentiel
    }

    /// A file name from a code: letters, digits, `-`, `_` and `.` kept, anything else `_`.
    static func safe(_ code: String) -> String {
        String(code.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" })
    }

    public func run(campagne: String, caf: String? = nil, nDossier: String? = nil, output: URL) throws -> DossierSummary {
        // inDatabase, not read: the ids go into a temporary table (the store file is not written).
        let data = try store.dbQueue.inDatabase { db in
            try DossierData.load(db, campagne: campagne, caf: caf, nDossier: nDossier, referentiel: referentiel)
        }
        try FileSystem.createFolder(output.path)
        let staging = output.appendingPathComponent(".dossiers-\(getpid())-\(UUID().uuidString)")
        try FileSystem.createFolder(staging.path)
        do {
            let summary = try write(data, into: staging, single: nDossier != nil)
            try publish(staging, into: output, wholeFolders: nDossier == nil ? summary.cafs : [])
            try? FileManager.default.removeItem(at: staging)
            return summary
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
    }

    /// `<CAF>/dossier-<N_DOSSIER>.html`, relative to the output folder.
    static func link(_ line: PlannedLine, _ data: DossierData) -> String {
        let eq = data.equipments[line.equipementId]
        return Self.safe(eq?.caf ?? "") + "/dossier-" + Self.safe(eq?.nDossier ?? "") + ".html"
    }

    /// Writes and syncs `bytes` to a new file at `path` (the staging folder is private), errors
    /// in French.
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.last("écriture", path) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else {
                if n < 0 && errno == EINTR { continue }
                throw SystemError.last("écriture", path)
            }
            offset += n
        }
        // Synced one by one: sync() would wait for every dirty page of the machine.
        guard fsync(fd) == 0 else { throw SystemError.last("écriture", path) }
    }

    func write(_ data: DossierData, into folder: URL, single: Bool) throws -> DossierSummary {
        func put(_ relative: String, _ html: String) throws {
            let url = folder.appendingPathComponent(relative)
            try FileSystem.createFolder(url.deletingLastPathComponent().path)
            try Self.writeFile(url.path, Array(html.utf8))
        }
        let groups = Dictionary(grouping: data.lines.filter { $0.plan == "MULTI" && $0.sirenGroupe != nil }, by: { $0.sirenGroupe! })
        // The line dossiers on every core: each page depends on the data only.
        for caf in Set(data.equipments.values.map(\.caf)) { try FileSystem.createFolder(folder.appendingPathComponent(Self.safe(caf)).path) }
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let failures = FirstFailure()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: data.lines.count, by: workers) where !failures.happened {
                let line = data.lines[index]
                let group = line.sirenGroupe.map { "../groupes/groupe-\(Self.safe($0)).html" }
                do {
                    try Self.writeFile(
                        folder.appendingPathComponent(Self.link(line, data)).path,
                        Array(DossierPages.dossier(line, data, groupLink: line.plan == "MULTI" ? group : nil).utf8))
                } catch { failures.record(error) }
            }
        }
        try failures.rethrow()
        var cafs: [String] = []
        if !single {
            for siren in groups.keys.sorted() {
                try put("groupes/groupe-\(Self.safe(siren)).html", DossierPages.group(siren: siren, lines: groups[siren]!, data) { "../" + Self.link($0, data) })
            }
            let byCaf = Dictionary(grouping: data.lines) { data.equipments[$0.equipementId]?.caf ?? "" }
            cafs = byCaf.keys.sorted()
            for caf in cafs {
                try put(
                    "\(Self.safe(caf))/index.html",
                    DossierPages.index(
                        caf: caf, lines: byCaf[caf]!, data, link: { String(Self.link($0, data).drop { $0 != "/" }.dropFirst()) },
                        groupLink: { "../groupes/groupe-\(Self.safe($0)).html" }))
            }
        }
        return DossierSummary(dossiers: data.lines.count, groupes: single ? 0 : groups.count, cafs: cafs)
    }

    /// Moves the staged outputs into `output`: the folders of `wholeFolders` replace theirs
    /// whole, every other staged file replaces its own.
    func publish(_ staging: URL, into output: URL, wholeFolders: [String]) throws {
        let fm = FileManager.default
        var retired: [URL] = []
        func replace(_ source: URL, _ target: URL) throws {
            if fm.fileExists(atPath: target.path) || (try? fm.destinationOfSymbolicLink(atPath: target.path)) != nil {
                let old = output.appendingPathComponent(".ancien-\(UUID().uuidString)")
                guard rename(target.path, old.path) == 0 else { throw SystemError.last("remplacement", target.path) }
                retired.append(old)
            }
            guard rename(source.path, target.path) == 0 else { throw SystemError.last("publication", target.path) }
        }
        let whole = Set(wholeFolders.map(Self.safe))
        for entry in try fm.contentsOfDirectory(atPath: staging.path).sorted() {
            let source = staging.appendingPathComponent(entry)
            if whole.contains(entry) {
                try replace(source, output.appendingPathComponent(entry))
            } else {
                try FileSystem.createFolder(output.appendingPathComponent(entry).path)
                for file in try fm.contentsOfDirectory(atPath: source.path).sorted() {
                    try replace(source.appendingPathComponent(file), output.appendingPathComponent(entry).appendingPathComponent(file))
                }
            }
        }
        for old in retired { try? fm.removeItem(at: old) }
    }
}
