/// The columns of the upstream export formats (`shared/spec/exports.md`).

/// A column of an export: its CSV name, its XML name where the XML format has it, and whether
/// it is required in the header.
public struct ColumnSpec: Sendable {
    public let name: String
    public let xmlName: String?
    public let required: Bool

    public init(_ name: String, xml: String? = nil, required: Bool = true) {
        self.name = name
        self.xmlName = xml
        self.required = required
    }
}

/// The columns of each export kind (`exports.md`), in the order the row readers index them.
public enum ExportColumns {
    public static let equipements: [ColumnSpec] = [
        .init("N_DOSSIER"), .init("NOM"), .init("NATURE"), .init("SIRET"), .init("SIREN_GESTIONNAIRE"),
        .init("NOM_GESTIONNAIRE"), .init("STATUT_GESTIONNAIRE"), .init("DEPARTEMENT_SIEGE"), .init("CAF"),
        .init("COMMUNE"), .init("PLACES_AGREEES"), .init("DATE_OUVERTURE"),
        .init("DATE_FERMETURE", required: false), .init("QPV", required: false),
        .init("ZRR", required: false), .init("CTG", required: false),
    ]

    public static let declarations: [ColumnSpec] = [
        .init("N_DOSSIER", xml: "numeroDossier"), .init("EXERCICE", xml: "exercice"),
        .init("NATURE_DECLARATION", xml: "nature"), .init("DATE_DEPOT", xml: "dateDepot"),
        .init("PLACES", xml: "places"), .init("JOURS_OUVERTURE", xml: "joursOuverture"),
        .init("HEURES_OUVERTURE", xml: "heuresOuverture"), .init("HEURES_REALISEES", xml: "heuresRealisees"),
        .init("HEURES_FACTUREES", xml: "heuresFacturees"), .init("NB_ENFANTS", xml: "enfants"),
        .init("TOTAL_CHARGES", xml: "totalCharges"), .init("CHARGES_PERSONNEL", xml: "chargesPersonnel"),
        .init("TOTAL_PRODUITS", xml: "totalProduits"),
        .init("PARTICIPATIONS_FAMILLES", xml: "participationsFamilles"),
        .init("PRESTATION_CAF", xml: "prestationCaf"), .init("BONUS_CAF", xml: "bonusCaf"),
        .init("SUBVENTIONS_COLLECTIVITES", xml: "subventionsCollectivites"), .init("ETP", xml: "etp"),
    ]

    public static let controles: [ColumnSpec] = [
        .init("ID_CONTROLE"), .init("N_DOSSIER"), .init("EXERCICES"), .init("DATE_CONTROLE"),
        .init("TYPE_CONTROLE"), .init("ORIGINE"), .init("CAMPAGNE", required: false), .init("RESULTAT"),
        .init("MONTANT_INDU", required: false), .init("MONTANT_RAPPEL", required: false),
        .init("ANOMALIES", required: false),
    ]

    public static let projets: [ColumnSpec] = [
        .init("N_PROJET"), .init("CAF"), .init("COMMUNE"), .init("SIREN_PORTEUR"), .init("NOM_PORTEUR"),
        .init("STATUT_PORTEUR"), .init("NATURE"), .init("PLACES_DECIDEES"), .init("DATE_DECISION"),
        .init("AIDE_INVESTISSEMENT", required: false), .init("DATE_OUVERTURE_PREVUE"), .init("ETAT"),
        .init("PLACES_OUVERTES", required: false), .init("DATE_OUVERTURE", required: false),
        .init("DATE_ABANDON", required: false), .init("N_DOSSIER", required: false), .init("QPV", required: false),
        .init("ZRR", required: false),
    ]

    public static func columns(of kind: ExportKind) -> [ColumnSpec] {
        switch kind {
        case .equipements: equipements
        case .declarations: declarations
        case .controles: controles
        case .projets: projets
        }
    }

    /// The kind whose distinctive column the header holds (names already trimmed, upper-cased).
    public static func kind(ofHeader names: [String]) -> ExportKind? {
        let set = Set(names)
        if set.contains("N_PROJET") { return .projets }
        if set.contains("ID_CONTROLE") { return .controles }
        if set.contains("NATURE_DECLARATION") { return .declarations }
        if set.contains("SIRET") || set.contains("PLACES_AGREES") || set.contains("NOM_GESTIONNAIRE") {
            return .equipements
        }
        return nil
    }
}

