import CiblageModel
import GRDB

/// Stores equipments of one file: a new N_DOSSIER is inserted, a known one takes the new values
/// and the trigger `equipement_garde_historique` keeps the former ones. The caller hands each
/// N_DOSSIER once (duplicates are resolved before): rows go by ``BatchInsert`` statements.
public final class EquipementWriter {
    private let db: Database
    private let historyBefore: Int
    private let batch: BatchInsert<(equipement: Equipement, line: Int)>
    /// The secondary indexes of `equipement` (by Caf, by SIREN), as their `CREATE INDEX`
    /// statements, while they are dropped for a load into an empty registry; ``restoreIndexes()``
    /// builds them again.
    private var droppedIndexes: [String] = []
    /// Whether the indexes are still to be dropped before the first row (into an empty registry).
    private var bulkLoad: Bool

    public init(db: Database, fileId: Int64) throws {
        self.db = db
        historyBefore = try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement_historique") ?? 0
        // Into an empty registry no N_DOSSIER can collide: rows go `OR FAIL`, without the
        // upsert clause, in statements that need no statement journal (see
        // ``DeclarationWriter``'s fresh exercices). Its three indexes take rows all over their
        // trees, so the upsert's journal copied many pages per statement.
        let empty = try Bool.fetchOne(db, sql: "SELECT NOT EXISTS (SELECT 1 FROM equipement)") ?? false
        bulkLoad = empty
        batch = BatchInsert(
            db,
            head: """
                INSERT\(empty ? " OR FAIL" : "") INTO equipement (n_dossier, nom, nature, siret, siren_gestionnaire, nom_gestionnaire,
                    statut_gestionnaire, departement_siege, caf, commune, places_agreees, date_ouverture,
                    date_fermeture, qpv, zrr, ctg, fichier_id, ligne)
                """, columns: 18,
            tail: empty
                ? ""
                : """
                ON CONFLICT (n_dossier) DO UPDATE SET nom = excluded.nom, nature = excluded.nature,
                    siret = excluded.siret, siren_gestionnaire = excluded.siren_gestionnaire,
                    nom_gestionnaire = excluded.nom_gestionnaire, statut_gestionnaire = excluded.statut_gestionnaire,
                    departement_siege = excluded.departement_siege, caf = excluded.caf, commune = excluded.commune,
                    places_agreees = excluded.places_agreees, date_ouverture = excluded.date_ouverture,
                    date_fermeture = excluded.date_fermeture, qpv = excluded.qpv, zrr = excluded.zrr,
                    ctg = excluded.ctg, fichier_id = excluded.fichier_id, ligne = excluded.ligne
                """
        ) { s, o, row in
            let e = row.equipement
            s.bind(o + 1, e.numeroDossier)
            s.bind(o + 2, e.nom)
            s.bind(o + 3, e.nature)
            s.bind(o + 4, e.siret)
            s.bind(o + 5, e.sirenGestionnaire)
            s.bind(o + 6, e.nomGestionnaire)
            s.bind(o + 7, e.statutGestionnaire.rawValue)
            s.bind(o + 8, e.departementSiege)
            s.bind(o + 9, e.caf)
            s.bind(o + 10, e.commune)
            s.bind(o + 11, e.placesAgreees)
            s.bind(o + 12, e.dateOuverture.yyyymmdd)
            s.bind(o + 13, e.dateFermeture?.yyyymmdd)
            s.bind(o + 14, e.qpv)
            s.bind(o + 15, e.zrr)
            s.bind(o + 16, e.ctg)
            s.bind(o + 17, fileId)
            s.bind(o + 18, Int64(row.line))
        }
    }

    /// Stores one equipment read at `line` of this writer's file (queued; written by
    /// ``flush()``, which ``corrections()`` calls).
    public func upsert(_ e: Equipement, line: Int) throws {
        if bulkLoad { try dropIndexes() }
        try batch.append((e, line))
    }

    /// A bulk load: the rows come in the file's order, so each of them went to another place of
    /// the indexes by Caf and by SIREN. Built once from the loaded table (SQLite sorts the
    /// keys), they cost the national registry 62 million instructions less (3.697 → 3.635
    /// billion, `callgrind`), on the storing thread the ingest waits for. Dropped at
    /// the first row, inside the caller's savepoint or transaction: rolled back with it, they
    /// are there again (and a writer started again drops them again).
    private func dropIndexes() throws {
        bulkLoad = false
        let indexes = try Row.fetchAll(
            db,
            sql: """
                SELECT name, sql FROM sqlite_master
                WHERE type = 'index' AND tbl_name = 'equipement' AND sql IS NOT NULL ORDER BY name
                """)
        for index in indexes {
            let name: String = index["name"]
            try db.execute(sql: "DROP INDEX \(name.quotedDatabaseIdentifier)")
            droppedIndexes.append(index["sql"])
        }
    }

    /// Stores the queued equipments.
    public func flush() throws { try batch.flush() }

    /// Builds again the indexes a load into an empty registry dropped (nothing otherwise): to be
    /// called before the commit, once the rows are stored (``flush()``). The ingest calls it
    /// once the next files have started being read against the stored rows: the two sorts
    /// (0.18 s at four times the country) then no longer hold back the reading of the first
    /// declarations.
    public func restoreIndexes() throws {
        for sql in droppedIndexes { try db.execute(sql: sql) }
        droppedIndexes = []
    }

    /// Equipments whose values this file changed (their former values are in the history).
    public func corrections() throws -> Int {
        try flush()
        return (try Int.fetchOne(db, sql: "SELECT count(*) FROM equipement_historique") ?? 0) - historyBefore
    }
}

/// Stores control outcomes of one file: a new ID_CONTROLE is inserted; a known one with other
/// values is replaced and its former values go to `controle_historique`; identical, it is left.
public final class ControleWriter {
    private let db: Database
    private let fileId: Int64
    private let insert: RawStatement
    private let insertExercice: RawStatement
    private let insertAnomalie: RawStatement
    /// Controls whose values this file changed.
    public private(set) var corrections = 0

    /// ID_CONTROLE already in the store (a new one needs no lookup of its former values).
    private let known: Set<String>

    public init(db: Database, fileId: Int64) throws {
        self.db = db
        self.fileId = fileId
        known = Set(try String.fetchAll(db, sql: "SELECT id_controle FROM controle"))
        insert = try RawStatement(
            db,
            sql: """
                INSERT INTO controle (id_controle, equipement_id, exercices, date_controle, type_controle, origine,
                    campagne, resultat, montant_indu, montant_rappel, anomalies, fichier_id, ligne)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        insertExercice = try RawStatement(db, sql: "INSERT INTO controle_exercice VALUES (?, ?)")
        insertAnomalie = try RawStatement(db, sql: "INSERT INTO controle_anomalie VALUES (?, ?)")
    }

    /// Stores one control of equipment `equipementId`, read at `line`.
    public func upsert(_ c: Controle, equipementId: Int64, line: Int) throws {
        let exercices = c.exercices.map(String.init).joined(separator: "|")
        let anomalies = c.anomalies.joined(separator: "|")
        if known.contains(c.idControle), let existing = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM controle WHERE id_controle = ?"), arguments: [c.idControle])
        {
            let same =
                existing["equipement_id"] == equipementId && existing["exercices"] == exercices
                && existing["date_controle"] == c.dateControle.yyyymmdd && existing["type_controle"] == c.type.rawValue
                && existing["origine"] == c.origine.rawValue && existing["campagne"] == c.campagne
                && existing["resultat"] == c.resultat.rawValue && existing["montant_indu"] == c.montantIndu
                && existing["montant_rappel"] == c.montantRappel && existing["anomalies"] == anomalies
            if same { return }
            corrections += 1
            try db.execute(
                sql: """
                    INSERT INTO controle_historique (id_controle, equipement_id, exercices, date_controle,
                        type_controle, origine, campagne, resultat, montant_indu, montant_rappel, anomalies,
                        fichier_id, ligne, remplace_par_fichier_id)
                    SELECT id_controle, equipement_id, exercices, date_controle, type_controle, origine, campagne,
                        resultat, montant_indu, montant_rappel, anomalies, fichier_id, ligne, ?
                    FROM controle WHERE id_controle = ?
                    """, arguments: [fileId, c.idControle])
            // Its exercices and anomalies go with it, said here rather than left to `ON DELETE
            // CASCADE`: controls are stored with the foreign-key checks off.
            for child in ["controle_exercice", "controle_anomalie"] {
                try db.execute(
                    sql: "DELETE FROM \(child) WHERE controle_id = (SELECT id FROM controle WHERE id_controle = ?)",
                    arguments: [c.idControle])
            }
            try db.execute(sql: "DELETE FROM controle WHERE id_controle = ?", arguments: [c.idControle])
        }
        let s = insert
        s.reset()
        s.bind(1, c.idControle)
        s.bind(2, equipementId)
        s.bind(3, exercices)
        s.bind(4, c.dateControle.yyyymmdd)
        s.bind(5, c.type.rawValue)
        s.bind(6, c.origine.rawValue)
        s.bind(7, c.campagne)
        s.bind(8, c.resultat.rawValue)
        s.bind(9, c.montantIndu)
        s.bind(10, c.montantRappel)
        s.bind(11, anomalies)
        s.bind(12, fileId)
        s.bind(13, Int64(line))
        try s.run()
        let id = db.lastInsertedRowID
        for exercice in c.exercices {
            insertExercice.reset()
            insertExercice.bind(1, id)
            insertExercice.bind(2, exercice)
            try insertExercice.run()
        }
        for code in c.anomalies {
            insertAnomalie.reset()
            insertAnomalie.bind(1, id)
            insertAnomalie.bind(2, code)
            try insertAnomalie.run()
        }
    }
}

/// Stores place-creation projects of one file: a new N_PROJET is inserted; a known one with other
/// values is replaced and its former row goes to `projet_historique`; every new state (first
/// sight included) is recorded in `projet_etat` with this file.
public final class ProjetWriter {
    private let db: Database
    private let fileId: Int64
    private let insert: RawStatement
    private let insertState: RawStatement
    // For a project the store already holds (every row of a file delivered again).
    private let select: Statement
    private let keepHistory: Statement
    private let delete: Statement
    /// N_PROJET already in the store (a new one needs no lookup of its former values).
    private let known: Set<String>
    /// Projects whose values this file changed.
    public private(set) var corrections = 0

    static let columns = [
        "n_projet", "caf", "commune", "siren_porteur", "nom_porteur", "statut_porteur", "nature", "places_decidees",
        "date_decision", "aide_investissement", "date_ouverture_prevue", "etat", "places_ouvertes", "date_ouverture",
        "date_abandon", "n_dossier", "qpv", "zrr",
    ]
    /// The position of `etat` in ``columns`` (and in the stored row read back).
    static let etatColumn = columns.firstIndex(of: "etat")!

    public init(db: Database, fileId: Int64) throws {
        self.db = db
        self.fileId = fileId
        known = Set(try String.fetchAll(db, sql: "SELECT n_projet FROM projet"))
        let placeholders = Array(repeating: "?", count: Self.columns.count + 2).joined(separator: ", ")
        insert = try RawStatement(
            db, sql: "INSERT INTO projet (\(Self.columns.joined(separator: ", ")), fichier_id, ligne) VALUES (\(placeholders))")
        // Primary-key columns first: SQLite's quick_check misreads a WITHOUT ROWID table otherwise.
        insertState = try RawStatement(db, sql: "INSERT OR REPLACE INTO projet_etat (n_projet, fichier_id, etat) VALUES (?, ?, ?)")
        select = try db.makeStatement(sql: "SELECT \(Self.columns.joined(separator: ", ")) FROM projet WHERE n_projet = ?")
        keepHistory = try db.makeStatement(sql: "INSERT INTO projet_historique SELECT *, ? FROM projet WHERE n_projet = ?")
        delete = try db.makeStatement(sql: "DELETE FROM projet WHERE n_projet = ?")
    }

    static func values(_ p: Projet) -> [DatabaseValueConvertible?] {
        [
            p.numeroProjet, p.caf, p.commune, p.sirenPorteur, p.nomPorteur, p.statutPorteur.rawValue, p.nature, p.placesDecidees,
            p.dateDecision.yyyymmdd, p.aideInvestissement, p.dateOuverturePrevue.yyyymmdd, p.etat.rawValue, p.placesOuvertes,
            p.dateOuverture?.yyyymmdd, p.dateAbandon?.yyyymmdd, p.numeroDossier, p.qpv, p.zrr,
        ]
    }

    /// Stores one project read at `line`.
    public func upsert(_ p: Projet, line: Int) throws {
        if known.contains(p.numeroProjet), let existing = try Row.fetchOne(select, arguments: [p.numeroProjet]) {
            let same = zip(Self.columns.indices, Self.values(p)).allSatisfy { i, v in existing[i] == (v?.databaseValue ?? .null) }
            if same { return }
            corrections += 1
            try keepHistory.execute(arguments: [fileId, p.numeroProjet])
            try delete.execute(arguments: [p.numeroProjet])
            if existing[Self.etatColumn] as String != p.etat.rawValue { try recordState(p) }
        } else {
            try recordState(p)
        }
        // Bound value by value, in the order of `columns` (as `values(_:)` lists them).
        let s = insert
        s.reset()
        s.bind(1, p.numeroProjet)
        s.bind(2, p.caf)
        s.bind(3, p.commune)
        s.bind(4, p.sirenPorteur)
        s.bind(5, p.nomPorteur)
        s.bind(6, p.statutPorteur.rawValue)
        s.bind(7, p.nature)
        s.bind(8, p.placesDecidees)
        s.bind(9, p.dateDecision.yyyymmdd)
        s.bind(10, p.aideInvestissement)
        s.bind(11, p.dateOuverturePrevue.yyyymmdd)
        s.bind(12, p.etat.rawValue)
        s.bind(13, p.placesOuvertes)
        s.bind(14, p.dateOuverture?.yyyymmdd)
        s.bind(15, p.dateAbandon?.yyyymmdd)
        s.bind(16, p.numeroDossier)
        s.bind(17, p.qpv)
        s.bind(18, p.zrr)
        s.bind(19, fileId)
        s.bind(20, Int64(line))
        try s.run()
    }

    private func recordState(_ p: Projet) throws {
        let s = insertState
        s.reset()
        s.bind(1, p.numeroProjet)
        s.bind(2, fileId)
        s.bind(3, p.etat.rawValue)
        try s.run()
    }
}
