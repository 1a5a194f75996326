import CSQLiteConfig
import CiblageModel
import Foundation
import GRDB
import GRDBSQLite

/// The embedded store every stage reads and writes: one SQLite file, opened through GRDB.
///
/// Its schema is created and upgraded by versioned migrations (``Store/migrator``); a stage
/// opens it, checks it is at a known version, and does its work in one transaction.
public final class Store {
    /// The underlying GRDB queue (one writer, serialized accesses).
    public let dbQueue: DatabaseQueue
    /// The file path.
    public let path: String

    /// The default path: `$CIBLAGE_STORE`, or `data/ciblage.sqlite`.
    public static var defaultPath: String {
        if let env = ProcessInfo.processInfo.environment["CIBLAGE_STORE"], !env.isEmpty { return env }
        return "data/ciblage.sqlite"
    }

    /// How far ``init(path:verify:)`` checks the file before a stage writes to it.
    public enum Verification: Sendable {
        /// No check beyond SQLite's own on the pages it reads.
        case none
        /// `PRAGMA quick_check`: a damaged store is refused (``StoreFailure/damaged(_:_:)``)
        /// before anything is written to it. A store whose file still has the bytes of its
        /// ``StoreSeal`` is not checked again: those bytes passed the check, then changed only
        /// by the transactions of stages that sealed them.
        case quick
    }

    /// Done once, before the process's first connection: SQLite stops counting its memory.
    /// Counting takes a global mutex on every allocation, and the system SQLite (built without
    /// a lookaside allocator) allocates for every row it binds and reads: 3 % of the ingest's
    /// storing thread went to that mutex. Without effect if SQLite is already initialized.
    private static let sqliteConfigured: Bool = ciblage_sqlite3_config_memstatus(0) == SQLITE_OK

    /// How the store was found sound when it was opened with ``Verification/quick``.
    public enum Soundness: String, Sendable {
        /// Its file has the bytes of its seal.
        case sealed = "sceau"
        /// `PRAGMA quick_check` passed.
        case checked = "quick_check"
    }

    /// How the store was found sound at opening or by ``SealCheck/settle()``; `nil` when
    /// it was not checked.
    public private(set) var soundness: Soundness?

    /// The connection's `PRAGMA data_version` when the store was last known sound: while it
    /// has not moved, no other connection has committed since, and ``reseal()`` may seal what
    /// this one committed.
    private var soundVersion: Int?

    /// Opens (creating it and its folder if needed) and migrates the store at `path`.
    ///
    /// Several processes may create and migrate one new store at once: a migration that
    /// another process applied first is taken as done (each migration is its own transaction).
    public init(path: String, verify: Verification = .none) throws {
        _ = Self.sqliteConfigured
        self.path = path
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileSystem.createFolder(folder.path)
        var configuration = Configuration()
        // A reader (an analyst's sqlite3, a report) may hold the file a moment: wait for it
        // rather than fail the stage.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // A rollback journal: stages are batch writers, one at a time, and a bulk load into
            // new pages journals almost nothing (WAL would write every page twice: measured
            // 1.7 s against 1.2 s for one exercice of the national set).
            try db.execute(sql: "PRAGMA journal_mode = DELETE")
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Pages of 16 KiB for a new store (an existing one keeps its own): the national
            // store takes 110 MB instead of 138, and its ingest 4.9 s instead of 5.0. Set before
            // the cache size: set after, the cache kept its count of 4 KiB pages, four times the
            // memory (ingest at ×2: 341 MB instead of 201).
            try db.execute(sql: "PRAGMA page_size = 16384")
            try db.execute(sql: "PRAGMA cache_size = -65536")  // 64 MiB
            // A statement that writes many rows and may abort half-way (a multi-row upsert, an
            // insert under a unique index) makes SQLite keep a journal of the pages it changes
            // until it ends. Past 64 KiB that journal went to a temporary file in /var/tmp:
            // 11 337 page writes (102 MiB) for one national first score, a tenth of its
            // processor time in the kernel copying them; the ingest of a registry, 84 000 page
            // writes. Held in memory, it is what one statement changes, freed when it ends.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // `chiffre(chiffres, k)`: the views `declaration_chiffres`, `declaration_courante`
            // and `declaration_correction_chiffres` read the packed figures with it.
            db.add(function: PackedFigures.sqlFunction)
        }
        dbQueue = try DatabaseQueue(path: path, configuration: configuration)
        if verify == .quick {
            do {
                (soundness, soundVersion) = try dbQueue.read { db in
                    let version = try Self.holdFile(db)
                    if StoreSeal.holds(for: path) { return (.sealed, version) }
                    try Self.quickCheck(db, path: path)
                    return (.checked, version)
                }
            } catch let error as DatabaseError where [ResultCode.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode.primaryResultCode) {
                throw StoreFailure.damaged(path, [error.message ?? "\(error.resultCode)"])
            }
        }
        do {
            try Self.migrate(dbQueue)
        } catch let error as DatabaseError {
            // A store made by an earlier version whose schema could not be brought up to date
            // (a full disk, mostly: a migration may rewrite whole tables).
            let applied = try? dbQueue.read { db in
                try db.tableExists("grdb_migrations") ? try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") : 0
            }
            guard let applied, applied > 0 else { throw error }
            throw StoreFailure.schemaUpdate(path, StoreFailure.describe(error))
        }
    }

    /// Runs `body` in one write transaction with the connection's foreign-key checks off,
    /// turned on again after whatever happens. For a stage whose rows refer only to rows it read
    /// or inserted in that transaction (the ingest's files, the score): the checks cost a lookup
    /// per reference, and a statement journal for every multi-row insert (SQLite must be able to
    /// undo a statement that a violation stops halfway). The pragma has no effect inside a
    /// transaction, hence this method rather than a statement in `body`.
    public func writeWithoutForeignKeyChecks<T>(_ body: (Database) throws -> T) throws -> T {
        try dbQueue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
            var result: T?
            try db.inTransaction {
                result = try body(db)
                return .commit
            }
            return result!
        }
    }

    /// Reads the schema, which takes SQLite's shared lock on the file for the rest of the
    /// transaction (rolling back a hot journal first): no other connection can commit until
    /// it ends. Returns the connection's `PRAGMA data_version`.
    static func holdFile(_ db: Database) throws -> Int {
        _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
        return try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0
    }

    /// A read-only connection to the file `db` reads, for a second thread to read while `db`'s
    /// own thread reads on; `nil` outside a transaction of `db`, for a database in memory or
    /// one that will not open. Inside a transaction that holds the file (a stage's, begun
    /// `IMMEDIATE` by GRDB, or one that has read) no other connection can commit, so both see
    /// the same store, provided `db` has not written yet: the second connection would not see
    /// what it changed. Close it (let it go) before `db` writes: a reader still open would hold
    /// up the commit.
    public static func secondReader(of db: Database) -> DatabaseQueue? {
        guard sqlite3_txn_state(db.sqliteConnection, "main") != SQLITE_TXN_NONE,
            let name = sqlite3_db_filename(db.sqliteConnection, "main"), name.pointee != 0
        else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { $0.add(function: PackedFigures.sqlFunction) }
        return try? DatabaseQueue(path: String(cString: name), configuration: configuration)
    }

    /// Whether the store's file has the bytes of its seal, computed on other threads while
    /// the caller's transaction reads.
    public final class SealCheck {
        private let store: Store
        private let version: Int
        private let work: BackgroundWork<Bool>

        fileprivate init(store: Store, version: Int) {
            self.store = store
            self.version = version
            let path = store.path
            work = BackgroundWork { StoreSeal.holds(for: path) }
        }

        /// Waits for the answer; call it before the transaction's first write (which may change
        /// the file's pages). When the seal held, ``Store/reseal()`` will seal the store again
        /// after the commit.
        public func settle() {
            guard (try? work.wait()) == true else { return }
            store.soundness = .sealed
            store.soundVersion = version
        }
    }

    /// Starts checking whether the store still has the bytes of its seal, for a stage that
    /// writes without `PRAGMA quick_check` and would keep the seal. `db` is a transaction of
    /// that stage: the connection's `PRAGMA data_version` is noted there, and ``reseal()``
    /// seals again only if no other connection has committed since (so the file read was the
    /// file this stage then wrote to). Call ``SealCheck/settle()`` before the first write.
    public func checkSeal(_ db: Database) throws -> SealCheck {
        SealCheck(store: self, version: try Self.holdFile(db))
    }

    /// Once the stage's last transaction has committed: seals the store as it is now when it
    /// was known sound and no other connection has committed since (see ``StoreSeal``);
    /// otherwise removes any seal. Never fails: without a seal, the next ingest checks the
    /// whole store.
    public func reseal() {
        do {
            try dbQueue.read { db in
                guard let sound = soundVersion, try Self.holdFile(db) == sound else {
                    StoreSeal.discard(for: path)
                    return
                }
                try StoreSeal.of(file: path).record(for: path)
            }
        } catch {
            StoreSeal.discard(for: path)
        }
    }

    /// Runs the migrations, taking those that a concurrent process applied meanwhile as done:
    /// two stages starting on one new store both see it empty, the second's `CREATE TABLE`
    /// then fails once the first has committed, and a new pass finds the migration applied.
    static func migrate(_ dbQueue: DatabaseQueue) throws {
        let migrator = Self.migrator
        // The migrations applied, as one state of the file. GRDB's `appliedIdentifiers` prepares
        // its SELECT (which fails while `grdb_migrations` does not exist) before its read holds
        // the file; when another process created the table in between, its check found the
        // table and it rethrew « no such table » (1 or 2 new stores in 150–300 created by an
        // ingest and a study at once). Reading `sqlite_master` first holds the file (a shared
        // lock) for the rest of the read: both answers come from the same file.
        func applied() throws -> Set<String> {
            try dbQueue.read { db in
                let exists = try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'grdb_migrations'")
                guard exists ?? false else { return [] }
                return try String.fetchSet(db, sql: "SELECT identifier FROM grdb_migrations")
            }
        }
        var attempt = 0
        while true {
            let before = try applied()
            do {
                try migrator.migrate(dbQueue)
                return
            } catch let error as DatabaseError {
                let after = try applied()
                attempt += 1
                // Another process moved the schema on: try again from where it is now.
                guard after != before || attempt < 3, attempt < 20 else { throw error }
                usleep(20_000)
            }
        }
    }

    /// `PRAGMA quick_check`; a store that fails it is refused before any write.
    static func quickCheck(_ db: Database, path: String) throws {
        let messages = try String.fetchAll(db, sql: "PRAGMA quick_check(5)")
        guard messages == ["ok"] else { throw StoreFailure.damaged(path, messages) }
    }

    /// The schema's migrations, in order. Never edit a shipped migration: add one.
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-ingestion") { db in
            try db.execute(sql: Schema.v1)
        }
        migrator.registerMigration("v2-indicateurs") { db in
            try db.execute(sql: Schema.v2)
        }
        migrator.registerMigration("v3-score") { db in
            try db.execute(sql: Schema.v3)
        }
        migrator.registerMigration("v4-campagne") { db in
            try db.execute(sql: Schema.v4)
        }
        migrator.registerMigration("v5-rejets") { db in
            try db.execute(sql: Schema.v5)
        }
        migrator.registerMigration("v6-projets") { db in
            try db.execute(sql: Schema.v6)
        }
        migrator.registerMigration("v7-exemples") { db in
            try db.execute(sql: Schema.v7)
        }
        migrator.registerMigration("v8-indicateurs-relus") { db in
            try db.execute(sql: Schema.v8)
        }
        migrator.registerMigration("v9-rang-calcule") { db in
            try db.execute(sql: Schema.v9)
        }
        migrator.registerMigration("v10-chiffres-compactes") { db in
            // The rows of a store made before are packed by SQL, with a function of this
            // migration only.
            db.add(function: Schema.packFunction)
            defer { db.remove(function: Schema.packFunction) }
            try db.execute(sql: Schema.v10)
        }
        return migrator
    }
}

/// The SQL of each schema version.
enum Schema {
    /// The fourteen figures of a declaration, and of a correction's former values, in one
    /// column `chiffres` (``PackedFigures``): SQLite wrote and read them one by one, the largest
    /// part of the national ingest's and first score's work in SQLite. The views
    /// `declaration_chiffres` and `declaration_correction_chiffres` show the columns of before,
    /// in the same order, and `declaration_courante` shows them as before. A correction's
    /// `valeurs_modifiees` now compares the packed bytes, equal exactly when every figure is.
    static var v10: String {
        let figures = DeclarationWriter.figureColumns
        let packing = "compacter_chiffres(\(figures.joined(separator: ", ")))"
        let unpacked = figures.enumerated().map { k, name in "chiffre(chiffres, \(k)) AS \(name)" }.joined(separator: ", ")
        return """
            DROP VIEW declaration_courante;
            DROP TRIGGER declaration_garde_correction;
            DROP INDEX declaration_correction_fichier;
            ALTER TABLE declaration RENAME TO declaration_v9;
            ALTER TABLE declaration_correction RENAME TO declaration_correction_v9;

            CREATE TABLE declaration (
                equipement_id INTEGER NOT NULL REFERENCES equipement(id),
                exercice INTEGER NOT NULL,
                nature INTEGER NOT NULL,
                date_depot INTEGER NOT NULL,
                -- places … etp, packed (PackedFigures); read in SQL by chiffre(chiffres, k) and
                -- the view declaration_chiffres.
                chiffres BLOB NOT NULL,
                fichier_id INTEGER NOT NULL,
                ligne INTEGER NOT NULL,
                PRIMARY KEY (exercice, equipement_id, nature, date_depot)
            ) WITHOUT ROWID;
            INSERT INTO declaration
            SELECT equipement_id, exercice, nature, date_depot, \(packing), fichier_id, ligne
            FROM declaration_v9 ORDER BY exercice, equipement_id, nature, date_depot;
            DROP TABLE declaration_v9;

            CREATE TABLE declaration_correction (
                id INTEGER PRIMARY KEY,
                equipement_id INTEGER NOT NULL, exercice INTEGER NOT NULL, nature INTEGER NOT NULL,
                date_depot INTEGER NOT NULL,
                chiffres BLOB NOT NULL,
                ancien_fichier_id INTEGER NOT NULL, ancienne_ligne INTEGER NOT NULL,
                fichier_id INTEGER NOT NULL, ligne INTEGER NOT NULL,
                valeurs_modifiees INTEGER NOT NULL
            );
            INSERT INTO declaration_correction
            SELECT id, equipement_id, exercice, nature, date_depot, \(packing), ancien_fichier_id, ancienne_ligne,
                fichier_id, ligne, valeurs_modifiees
            FROM declaration_correction_v9 ORDER BY id;
            DROP TABLE declaration_correction_v9;
            CREATE INDEX declaration_correction_fichier ON declaration_correction(fichier_id);

            CREATE TRIGGER declaration_garde_correction AFTER UPDATE ON declaration
            WHEN OLD.fichier_id <> NEW.fichier_id
            BEGIN
                INSERT INTO declaration_correction (
                    equipement_id, exercice, nature, date_depot, chiffres, ancien_fichier_id, ancienne_ligne,
                    fichier_id, ligne, valeurs_modifiees)
                VALUES (
                    OLD.equipement_id, OLD.exercice, OLD.nature, OLD.date_depot, OLD.chiffres, OLD.fichier_id,
                    OLD.ligne, NEW.fichier_id, NEW.ligne, OLD.chiffres IS NOT NEW.chiffres);
            END;

            -- The declarations with their figures as columns (places … etp).
            CREATE VIEW declaration_chiffres AS
            SELECT equipement_id, exercice, nature, date_depot, \(unpacked), fichier_id, ligne
            FROM declaration;
            -- Former values replaced by a later file, with their figures as columns.
            CREATE VIEW declaration_correction_chiffres AS
            SELECT id, equipement_id, exercice, nature, date_depot, \(unpacked), ancien_fichier_id, ancienne_ligne,
                fichier_id, ligne, valeurs_modifiees
            FROM declaration_correction;
            -- The current declaration of each nature: the one with the latest date de dépôt.
            CREATE VIEW declaration_courante AS
            SELECT d.* FROM declaration_chiffres d
            WHERE d.date_depot = (
                SELECT max(d2.date_depot) FROM declaration d2
                WHERE d2.equipement_id = d.equipement_id AND d2.exercice = d.exercice
                  AND d2.nature = d.nature);
            """
    }

    /// `compacter_chiffres(places, …, etp)`: the packed figures of a row of the columns of
    /// before (``v10``).
    static let packFunction = DatabaseFunction("compacter_chiffres", argumentCount: 14, pure: true) { values in
        var f = DeclarationFigures()
        func count(_ k: Int) -> Int? { Int.fromDatabaseValue(values[k]) }
        func amount(_ k: Int) -> Double? { Double.fromDatabaseValue(values[k]) }
        f.places = count(0)
        f.joursOuverture = count(1)
        f.nbEnfants = count(2)
        f.heuresOuverture = amount(3)
        f.heuresRealisees = amount(4)
        f.heuresFacturees = amount(5)
        f.totalCharges = amount(6)
        f.chargesPersonnel = amount(7)
        f.totalProduits = amount(8)
        f.participationsFamilles = amount(9)
        f.prestationCaf = amount(10)
        f.bonusCaf = amount(11)
        f.subventionsCollectivites = amount(12)
        f.etp = amount(13)
        return Data(PackedFigures.packed(f))
    }

    /// A score row no longer holds its rank: the rank is the row's place in the order
    /// `priorite DESC, score DESC, n_dossier` (the ranked list's), and stored it made every row
    /// change whenever one equipment moved, so that each night rewrote the whole table (13 MB,
    /// 0.7 s with its commit on the national store). Now a night writes only the rows whose
    /// model, figures or reasons changed.
    static let v9 = """
        ALTER TABLE score DROP COLUMN rang;
        """

    /// What lets the score read back the indicators of the equipments whose inputs have not
    /// changed since it last stored them (`indicateur`), instead of reading every declaration:
    /// - `indicateur_exercice`: for the exercice, what its stored indicators were computed from
    ///   besides the declarations (signature: date, registry, controls) and the last
    ///   declarations file of N-2…N they saw;
    /// - `chiffres_indicateur`: each equipment-year's first-two digits of its amounts (a byte
    ///   each, the first in the low byte), which the managers' digit test adds up;
    /// - `modele_score.entrainement`: a digest of the examples a trained model was fitted on, so
    ///   that a run with the same examples reads the model back instead of fitting it again.
    static let v8 = """
        ALTER TABLE modele_score ADD COLUMN entrainement TEXT;
        CREATE INDEX modele_score_entrainement ON modele_score(entrainement);
        CREATE TABLE indicateur_exercice (
            exercice INTEGER PRIMARY KEY,
            signature TEXT NOT NULL,
            dernier_fichier INTEGER NOT NULL,
            calcule_le TEXT NOT NULL
        );
        CREATE TABLE chiffres_indicateur (
            exercice INTEGER NOT NULL,
            equipement_id INTEGER NOT NULL,
            chiffres INTEGER NOT NULL,
            PRIMARY KEY (exercice, equipement_id)
        ) WITHOUT ROWID;
        """

    /// What lets the score stage reuse the labelled examples of closed exercices instead of
    /// computing them again every night:
    /// - `fichier_exercice`: the exercices each declarations file stored or corrected rows of
    ///   (so that "has a declaration of exercice N changed since?" is one indexed lookup);
    /// - `exemple_entrainement`: the labelled controls of an exercice with the features of the
    ///   equipment at its end (`valeurs`: the features in ``Feature`` order, 8-byte
    ///   little-endian doubles, a missing value as a reserved NaN), in their training order
    ///   (`rang`);
    /// - `exemple_exercice`: for each exercice whose examples are stored, the signature of
    ///   everything they were computed from (feature set, declarations files of N-2…N,
    ///   registry, controls, référentiel). A different signature means: compute them again.
    static let v7 = """
        CREATE TABLE fichier_exercice (
            exercice INTEGER NOT NULL,
            fichier_id INTEGER NOT NULL REFERENCES fichier(id),
            PRIMARY KEY (exercice, fichier_id)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO fichier_exercice SELECT DISTINCT exercice, fichier_id FROM declaration;
        INSERT OR IGNORE INTO fichier_exercice SELECT DISTINCT exercice, fichier_id FROM declaration_correction;
        CREATE TABLE exemple_exercice (
            exercice INTEGER PRIMARY KEY,
            signature TEXT NOT NULL,
            exemples INTEGER NOT NULL,
            calcule_le TEXT NOT NULL
        );
        CREATE TABLE exemple_entrainement (
            exercice INTEGER NOT NULL REFERENCES exemple_exercice(exercice) ON DELETE CASCADE,
            rang INTEGER NOT NULL,
            equipement_id INTEGER NOT NULL,
            date_controle INTEGER NOT NULL,
            origine TEXT NOT NULL,
            type_controle TEXT NOT NULL,
            positif INTEGER NOT NULL,
            indu REAL NOT NULL,
            enjeu REAL NOT NULL,
            nature TEXT NOT NULL,
            regles REAL NOT NULL,
            valeurs BLOB NOT NULL,
            PRIMARY KEY (exercice, rang)
        ) WITHOUT ROWID;
        """

    /// Place-creation projects (IDA): the current row of each project, every earlier row a later
    /// file replaced, and each project's states with the file (and its ingestion time) that
    /// brought them, so that decided → suspended → open can be read back. Dates `yyyymmdd`.
    static let v6 = """
        CREATE TABLE projet (
            n_projet TEXT PRIMARY KEY,
            caf TEXT NOT NULL,
            commune TEXT NOT NULL,
            siren_porteur TEXT NOT NULL,
            nom_porteur TEXT NOT NULL,
            statut_porteur TEXT NOT NULL,
            nature TEXT NOT NULL,
            places_decidees INTEGER NOT NULL,
            date_decision INTEGER NOT NULL,
            aide_investissement REAL,
            date_ouverture_prevue INTEGER NOT NULL,
            etat TEXT NOT NULL,
            places_ouvertes INTEGER,
            date_ouverture INTEGER,
            date_abandon INTEGER,
            n_dossier TEXT,
            qpv INTEGER NOT NULL,
            zrr INTEGER NOT NULL,
            fichier_id INTEGER NOT NULL REFERENCES fichier(id),
            ligne INTEGER NOT NULL
        );
        CREATE INDEX projet_caf ON projet(caf);
        CREATE TABLE projet_historique AS SELECT *, 0 AS remplace_par_fichier_id FROM projet WHERE 0;
        CREATE INDEX projet_historique_projet ON projet_historique(n_projet);
        CREATE TABLE projet_etat (
            n_projet TEXT NOT NULL,
            fichier_id INTEGER NOT NULL REFERENCES fichier(id),
            etat TEXT NOT NULL,
            PRIMARY KEY (n_projet, fichier_id)
        ) WITHOUT ROWID;
        """

    /// Rejects kept with their file, in the file's transaction, so that a rejects file can be
    /// written again at any time and a killed or failed run never loses one.
    /// `fichier.rejets_livres` is 1 once the file's rejects went into a rejects file (or it had
    /// none): a later run that skips the file as already ingested reports those still at 0.
    static let v5 = """
        CREATE TABLE rejet (
            fichier_id INTEGER NOT NULL REFERENCES fichier(id),
            ligne INTEGER NOT NULL,
            champ TEXT NOT NULL,
            motif TEXT NOT NULL,
            contenu TEXT NOT NULL
        );
        CREATE INDEX rejet_fichier ON rejet(fichier_id, ligne);
        ALTER TABLE fichier ADD COLUMN rejets_livres INTEGER NOT NULL DEFAULT 1;
        """

    /// Campaigns and their plans. Each planned line records how it was drawn (`tirage`) and its
    /// inclusion probability (1 for lines chosen by rule or rank), so that the bilan can weight
    /// the random share (Horvitz–Thompson).
    static let v4 = """
        CREATE TABLE campagne (
            id TEXT PRIMARY KEY,
            exercice INTEGER NOT NULL,
            graine INTEGER NOT NULL,
            date_reference INTEGER NOT NULL,
            configuration TEXT NOT NULL,
            manifeste TEXT NOT NULL,
            cree_le TEXT NOT NULL
        );
        CREATE TABLE campagne_ligne (
            campagne_id TEXT NOT NULL REFERENCES campagne(id) ON DELETE CASCADE,
            equipement_id INTEGER NOT NULL REFERENCES equipement(id),
            plan TEXT NOT NULL,
            code_plan TEXT NOT NULL,
            rang INTEGER NOT NULL,
            tirage TEXT NOT NULL,
            probabilite_inclusion REAL NOT NULL,
            siren_groupe TEXT,
            score REAL NOT NULL,
            enjeu_euros REAL NOT NULL,
            priorite REAL NOT NULL,
            motifs TEXT NOT NULL,
            PRIMARY KEY (campagne_id, equipement_id)
        ) WITHOUT ROWID;
        CREATE INDEX campagne_ligne_plan ON campagne_ligne(campagne_id, plan, code_plan, rang);
        """

    /// Risk scores per equipment and exercice, and the model each was computed with.
    /// `modele_score.parametres` is the model as JSON (features, standardisation, coefficients,
    /// training counts); `score.contributions` holds each feature's contribution to the
    /// log-odds, in thousandths, comma-separated in the model's feature order.
    static let v3 = """
        CREATE TABLE modele_score (
            id INTEGER PRIMARY KEY,
            exercice INTEGER NOT NULL,
            version TEXT NOT NULL,
            nature_modele TEXT NOT NULL,
            date_reference INTEGER NOT NULL,
            cible TEXT NOT NULL,
            n_controles INTEGER NOT NULL,
            n_positifs INTEGER NOT NULL,
            n_aleatoires INTEGER NOT NULL,
            parametres TEXT NOT NULL,
            cree_le TEXT NOT NULL
        );
        CREATE TABLE score (
            exercice INTEGER NOT NULL,
            equipement_id INTEGER NOT NULL REFERENCES equipement(id),
            modele_id INTEGER NOT NULL REFERENCES modele_score(id),
            rang INTEGER NOT NULL,
            score REAL NOT NULL,
            enjeu_euros REAL NOT NULL,
            priorite REAL NOT NULL,
            motifs TEXT NOT NULL,
            contributions TEXT NOT NULL,
            PRIMARY KEY (exercice, equipement_id)
        ) WITHOUT ROWID;
        """

    /// Indicators per equipment and exercice. Each row names the declaration it was computed
    /// from (`source_nature`, `source_date_depot`), so its inputs can be read back.
    static let v2 = """
        CREATE TABLE indicateur (
            exercice INTEGER NOT NULL,
            equipement_id INTEGER NOT NULL REFERENCES equipement(id),
            source_nature INTEGER,
            source_date_depot INTEGER,
            places INTEGER,
            taux_facturation REAL,
            bande_psu INTEGER,
            taux_occupation REAL,
            heures_par_place REAL,
            variation_heures_par_place REAL,
            cout_heure REAL,
            cout_place REAL,
            ecart_previsionnel_heures REAL,
            ecart_previsionnel_charges REAL,
            participation_horaire REAL,
            variation_participation_horaire REAL,
            enfants_par_place REAL,
            etp_par_place REAL,
            reel_manquant INTEGER NOT NULL,
            jours_retard_reel INTEGER,
            chiffres_ronds INTEGER NOT NULL,
            chiffres_examines INTEGER NOT NULL,
            dernier_controle INTEGER,
            controles_passes INTEGER NOT NULL,
            anomalies_passees INTEGER NOT NULL,
            indus_passes REAL NOT NULL,
            enjeu_euros REAL NOT NULL,
            calcule_le TEXT NOT NULL,
            PRIMARY KEY (exercice, equipement_id)
        ) WITHOUT ROWID;
        """

    /// Dates are stored as `yyyymmdd` integers, amounts in euros (REAL), hours in hours (REAL),
    /// declaration natures as 1 (prévisionnel), 2 (actualisé), 3 (réel).
    static let v1 = """
        CREATE TABLE fichier (
            id INTEGER PRIMARY KEY,
            nom TEXT NOT NULL,
            chemin TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            type_fichier TEXT NOT NULL,
            format TEXT NOT NULL,
            encodage TEXT NOT NULL,
            octets INTEGER NOT NULL,
            lignes_lues INTEGER NOT NULL DEFAULT 0,
            lignes_stockees INTEGER NOT NULL DEFAULT 0,
            lignes_rejetees INTEGER NOT NULL DEFAULT 0,
            lignes_ignorees INTEGER NOT NULL DEFAULT 0,
            ingere_le TEXT NOT NULL
        );
        CREATE UNIQUE INDEX fichier_sha256 ON fichier(sha256);

        CREATE TABLE equipement (
            id INTEGER PRIMARY KEY,
            n_dossier TEXT NOT NULL UNIQUE,
            nom TEXT NOT NULL,
            nature TEXT NOT NULL,
            siret TEXT NOT NULL,
            siren_gestionnaire TEXT NOT NULL,
            nom_gestionnaire TEXT NOT NULL,
            statut_gestionnaire TEXT NOT NULL,
            departement_siege TEXT NOT NULL,
            caf TEXT NOT NULL,
            commune TEXT NOT NULL,
            places_agreees INTEGER,
            date_ouverture INTEGER NOT NULL,
            date_fermeture INTEGER,
            qpv INTEGER NOT NULL,
            zrr INTEGER NOT NULL,
            ctg INTEGER NOT NULL,
            fichier_id INTEGER NOT NULL REFERENCES fichier(id),
            ligne INTEGER NOT NULL
        );
        CREATE INDEX equipement_caf ON equipement(caf);
        CREATE INDEX equipement_siren ON equipement(siren_gestionnaire);

        -- Former values of an equipment, kept when a later file changes them.
        CREATE TABLE equipement_historique (
            id INTEGER PRIMARY KEY,
            equipement_id INTEGER NOT NULL REFERENCES equipement(id),
            nom TEXT NOT NULL, nature TEXT NOT NULL, siret TEXT NOT NULL,
            siren_gestionnaire TEXT NOT NULL, nom_gestionnaire TEXT NOT NULL,
            statut_gestionnaire TEXT NOT NULL, departement_siege TEXT NOT NULL, caf TEXT NOT NULL,
            commune TEXT NOT NULL, places_agreees INTEGER, date_ouverture INTEGER NOT NULL,
            date_fermeture INTEGER, qpv INTEGER NOT NULL, zrr INTEGER NOT NULL, ctg INTEGER NOT NULL,
            fichier_id INTEGER NOT NULL, ligne INTEGER NOT NULL,
            remplace_par_fichier_id INTEGER NOT NULL
        );
        CREATE TRIGGER equipement_garde_historique AFTER UPDATE ON equipement
        WHEN OLD.fichier_id <> NEW.fichier_id AND (
            OLD.nom IS NOT NEW.nom OR OLD.nature IS NOT NEW.nature OR OLD.siret IS NOT NEW.siret
            OR OLD.siren_gestionnaire IS NOT NEW.siren_gestionnaire
            OR OLD.nom_gestionnaire IS NOT NEW.nom_gestionnaire
            OR OLD.statut_gestionnaire IS NOT NEW.statut_gestionnaire
            OR OLD.departement_siege IS NOT NEW.departement_siege OR OLD.caf IS NOT NEW.caf
            OR OLD.commune IS NOT NEW.commune OR OLD.places_agreees IS NOT NEW.places_agreees
            OR OLD.date_ouverture IS NOT NEW.date_ouverture
            OR OLD.date_fermeture IS NOT NEW.date_fermeture OR OLD.qpv IS NOT NEW.qpv
            OR OLD.zrr IS NOT NEW.zrr OR OLD.ctg IS NOT NEW.ctg)
        BEGIN
            INSERT INTO equipement_historique (
                equipement_id, nom, nature, siret, siren_gestionnaire, nom_gestionnaire,
                statut_gestionnaire, departement_siege, caf, commune, places_agreees, date_ouverture,
                date_fermeture, qpv, zrr, ctg, fichier_id, ligne, remplace_par_fichier_id)
            VALUES (
                OLD.id, OLD.nom, OLD.nature, OLD.siret, OLD.siren_gestionnaire, OLD.nom_gestionnaire,
                OLD.statut_gestionnaire, OLD.departement_siege, OLD.caf, OLD.commune,
                OLD.places_agreees, OLD.date_ouverture, OLD.date_fermeture, OLD.qpv, OLD.zrr,
                OLD.ctg, OLD.fichier_id, OLD.ligne, NEW.fichier_id);
        END;

        CREATE TABLE declaration (
            equipement_id INTEGER NOT NULL REFERENCES equipement(id),
            exercice INTEGER NOT NULL,
            nature INTEGER NOT NULL,
            date_depot INTEGER NOT NULL,
            places INTEGER,
            jours_ouverture INTEGER,
            nb_enfants INTEGER,
            heures_ouverture REAL,
            heures_realisees REAL,
            heures_facturees REAL,
            total_charges REAL,
            charges_personnel REAL,
            total_produits REAL,
            participations_familles REAL,
            prestation_caf REAL,
            bonus_caf REAL,
            subventions_collectivites REAL,
            etp REAL,
            fichier_id INTEGER NOT NULL,
            ligne INTEGER NOT NULL,
            -- exercice first: a year's file is loaded as an append at the end of the tree, and
            -- stages read one exercice (and its N-1) at a time.
            PRIMARY KEY (exercice, equipement_id, nature, date_depot)
        ) WITHOUT ROWID;

        -- Values a later file replaced (same key): the correction is recorded here.
        -- Rows with valeurs_modifiees = 0 exist only while their file is being ingested.
        CREATE TABLE declaration_correction (
            id INTEGER PRIMARY KEY,
            equipement_id INTEGER NOT NULL, exercice INTEGER NOT NULL, nature INTEGER NOT NULL,
            date_depot INTEGER NOT NULL,
            places INTEGER, jours_ouverture INTEGER, nb_enfants INTEGER, heures_ouverture REAL,
            heures_realisees REAL, heures_facturees REAL, total_charges REAL,
            charges_personnel REAL, total_produits REAL, participations_familles REAL,
            prestation_caf REAL, bonus_caf REAL, subventions_collectivites REAL, etp REAL,
            ancien_fichier_id INTEGER NOT NULL, ancienne_ligne INTEGER NOT NULL,
            fichier_id INTEGER NOT NULL, ligne INTEGER NOT NULL,
            valeurs_modifiees INTEGER NOT NULL
        );
        CREATE INDEX declaration_correction_fichier ON declaration_correction(fichier_id);
        CREATE TRIGGER declaration_garde_correction AFTER UPDATE ON declaration
        WHEN OLD.fichier_id <> NEW.fichier_id
        BEGIN
            INSERT INTO declaration_correction (
                equipement_id, exercice, nature, date_depot, places, jours_ouverture, nb_enfants,
                heures_ouverture, heures_realisees, heures_facturees, total_charges,
                charges_personnel, total_produits, participations_familles, prestation_caf,
                bonus_caf, subventions_collectivites, etp, ancien_fichier_id, ancienne_ligne,
                fichier_id, ligne, valeurs_modifiees)
            VALUES (
                OLD.equipement_id, OLD.exercice, OLD.nature, OLD.date_depot, OLD.places,
                OLD.jours_ouverture, OLD.nb_enfants, OLD.heures_ouverture, OLD.heures_realisees,
                OLD.heures_facturees, OLD.total_charges, OLD.charges_personnel,
                OLD.total_produits, OLD.participations_familles, OLD.prestation_caf,
                OLD.bonus_caf, OLD.subventions_collectivites, OLD.etp, OLD.fichier_id, OLD.ligne,
                NEW.fichier_id, NEW.ligne,
                OLD.places IS NOT NEW.places OR OLD.jours_ouverture IS NOT NEW.jours_ouverture
                OR OLD.nb_enfants IS NOT NEW.nb_enfants
                OR OLD.heures_ouverture IS NOT NEW.heures_ouverture
                OR OLD.heures_realisees IS NOT NEW.heures_realisees
                OR OLD.heures_facturees IS NOT NEW.heures_facturees
                OR OLD.total_charges IS NOT NEW.total_charges
                OR OLD.charges_personnel IS NOT NEW.charges_personnel
                OR OLD.total_produits IS NOT NEW.total_produits
                OR OLD.participations_familles IS NOT NEW.participations_familles
                OR OLD.prestation_caf IS NOT NEW.prestation_caf OR OLD.bonus_caf IS NOT NEW.bonus_caf
                OR OLD.subventions_collectivites IS NOT NEW.subventions_collectivites
                OR OLD.etp IS NOT NEW.etp);
        END;

        -- The current declaration of each nature: the one with the latest date de dépôt.
        CREATE VIEW declaration_courante AS
        SELECT d.* FROM declaration d
        WHERE d.date_depot = (
            SELECT max(d2.date_depot) FROM declaration d2
            WHERE d2.equipement_id = d.equipement_id AND d2.exercice = d.exercice
              AND d2.nature = d.nature);

        CREATE TABLE controle (
            id INTEGER PRIMARY KEY,
            id_controle TEXT NOT NULL UNIQUE,
            equipement_id INTEGER NOT NULL REFERENCES equipement(id),
            exercices TEXT NOT NULL,
            date_controle INTEGER NOT NULL,
            type_controle TEXT NOT NULL,
            origine TEXT NOT NULL,
            campagne TEXT,
            resultat TEXT NOT NULL,
            montant_indu REAL NOT NULL,
            montant_rappel REAL NOT NULL,
            anomalies TEXT NOT NULL,
            fichier_id INTEGER NOT NULL,
            ligne INTEGER NOT NULL
        );
        CREATE INDEX controle_equipement ON controle(equipement_id);
        CREATE TABLE controle_exercice (
            controle_id INTEGER NOT NULL REFERENCES controle(id) ON DELETE CASCADE,
            exercice INTEGER NOT NULL,
            PRIMARY KEY (controle_id, exercice)
        ) WITHOUT ROWID;
        CREATE TABLE controle_anomalie (
            controle_id INTEGER NOT NULL REFERENCES controle(id) ON DELETE CASCADE,
            code TEXT NOT NULL,
            PRIMARY KEY (controle_id, code)
        ) WITHOUT ROWID;
        -- Former values of a control, kept when a later file changes them.
        CREATE TABLE controle_historique (
            id INTEGER PRIMARY KEY,
            id_controle TEXT NOT NULL,
            equipement_id INTEGER NOT NULL, exercices TEXT NOT NULL, date_controle INTEGER NOT NULL,
            type_controle TEXT NOT NULL, origine TEXT NOT NULL, campagne TEXT,
            resultat TEXT NOT NULL, montant_indu REAL NOT NULL, montant_rappel REAL NOT NULL,
            anomalies TEXT NOT NULL, fichier_id INTEGER NOT NULL, ligne INTEGER NOT NULL,
            remplace_par_fichier_id INTEGER NOT NULL
        );
        """
}

/// A store that cannot be used, said in French.
extension Store {
    /// The latest exercice with at least one réel declaration, or `nil` when there is none:
    /// the exercice a nightly run scores by default (`{exercice}` in pipelines).
    public static func latestExerciceWithReel(_ db: Database) throws -> Int? {
        var year = try Int.fetchOne(db, sql: "SELECT max(exercice) FROM declaration")
        while let y = year {
            let reel = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM declaration WHERE exercice = ? AND nature = ? LIMIT 1",
                arguments: [y, NatureDeclaration.reel.rawValue]) ?? false
            if reel { return y }
            year = try Int.fetchOne(db, sql: "SELECT max(exercice) FROM declaration WHERE exercice < ?", arguments: [y])
        }
        return nil
    }
}

public enum StoreFailure: Error, CustomStringConvertible {
    /// The file fails SQLite's quick check: nothing is written to it.
    case damaged(String, [String])
    /// The schema of a store made by an earlier version could not be brought up to date (the
    /// cause said in French): the migration rolled back, the store is as it was.
    case schemaUpdate(String, String)

    public var description: String {
        switch self {
        case .schemaUpdate(let path, let cause):
            "mise à jour du schéma du store impossible (\(path)) : \(cause) ; le store est resté tel qu'il était. "
                + "Une mise à jour peut réécrire des tables entières (celle des chiffres des déclarations, à la version 10) : "
                + "libérer autant d'espace que le store en occupe, puis relancer."
        case .damaged(let path, let messages):
            "store endommagé (\(path)) : la vérification d'intégrité de SQLite échoue (\(messages.prefix(3).joined(separator: " ; "))) ; "
                + "rien n'y est écrit. Restaurer la dernière sauvegarde, ou repartir d'un store neuf et ré-ingérer les fichiers."
        }
    }

    /// Any error said in French: SQLite errors by their result code, the others as
    /// ``SystemError/describe(_:)`` says them (disk full, permission, name too long…).
    public static func french(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return describe(error) }
        return SystemError.describe(error)
    }

    /// A SQLite error said in French by its result code.
    public static func describe(_ error: DatabaseError) -> String {
        switch error.resultCode.primaryResultCode {
        case .SQLITE_FULL: "disque plein"
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: "fichier endommagé ou qui n'est pas un store SQLite"
        case .SQLITE_READONLY: "store en lecture seule (permission refusée)"
        case .SQLITE_CANTOPEN: "ouverture impossible (dossier introuvable ou permission refusée)"
        case .SQLITE_PERM, .SQLITE_AUTH: "permission refusée"
        case .SQLITE_BUSY, .SQLITE_LOCKED: "store occupé par un autre processus"
        case .SQLITE_IOERR: "erreur d'entrée-sortie du disque"
        case .SQLITE_NOMEM: "mémoire insuffisante"
        default: "erreur SQLite \(error.resultCode.rawValue) (\(error.message ?? ""))"
        }
    }
}
