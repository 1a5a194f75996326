/// Closed sets of codes fixed by the upstream export formats (`shared/spec/exports.md`).
///
/// Natures of equipment and anomaly codes are *reference data* instead (see ``Referentiel``):
/// the Cnaf may add to them without a new release.

/// Legal status of the manager (gestionnaire) of an equipment.
public enum StatutGestionnaire: String, CaseIterable, Sendable, Codable {
    case publicManager = "PUBLIC"
    case associatif = "ASSOCIATIF"
    case entreprise = "ENTREPRISE"
    case mutualiste = "MUTUALISTE"
}

/// The kind of a declaration within an exercice. Stored as its integer ``rawValue``,
/// ordered as declarations are made during the year.
public enum NatureDeclaration: Int, CaseIterable, Sendable, Codable {
    case previsionnel = 1
    case actualise = 2
    case reel = 3

    /// The code as written in exports: `PREVISIONNEL`, `ACTUALISE`, `REEL`.
    public var code: String {
        switch self {
        case .previsionnel: "PREVISIONNEL"
        case .actualise: "ACTUALISE"
        case .reel: "REEL"
        }
    }

    public init?(code: String) {
        guard let found = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = found
    }
}

/// How a control was carried out.
public enum TypeControle: String, CaseIterable, Sendable, Codable {
    case surPlace = "SUR_PLACE"
    case surPieces = "SUR_PIECES"
}

/// Why an equipment was controlled.
public enum OrigineControle: String, CaseIterable, Sendable, Codable {
    case ciblage = "CIBLAGE"
    case aleatoire = "ALEATOIRE"
    case signalement = "SIGNALEMENT"
    case multiDepartemental = "MULTI_DEPARTEMENTAL"
    case autre = "AUTRE"
}

/// What a control concluded.
public enum ResultatControle: String, CaseIterable, Sendable, Codable {
    case conforme = "CONFORME"
    case anomalie = "ANOMALIE"
}

/// The kinds of upstream export, recognised from their header columns.
public enum ExportKind: String, CaseIterable, Sendable, Codable {
    case equipements
    case declarations
    case controles
    /// Place-creation projects (IDA).
    case projets

    /// Ingestion order inside one batch: equipments first, so that declarations and controls of
    /// the same batch find their equipment.
    public var batchRank: Int {
        switch self {
        case .equipements: 0
        case .declarations: 1
        case .controles: 2
        case .projets: 3
        }
    }
}

/// The state of a place-creation project (`projets` export).
public enum EtatProjet: String, CaseIterable, Sendable, Codable {
    /// Decided, not open yet.
    case enCours = "EN_COURS"
    /// Open (PLACES_OUVERTES and DATE_OUVERTURE given).
    case ouvert = "OUVERT"
    /// On hold: not open yet either (its delay is censored, not missing).
    case suspendu = "SUSPENDU"
    /// Given up (DATE_ABANDON given).
    case abandonne = "ABANDONNE"
}
