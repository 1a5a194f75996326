/// An equipment of the registry (one establishment funded by a Caf).
public struct Equipement: Hashable, Sendable {
    /// Dossier number, the nationwide key (≤ 20 characters).
    public var numeroDossier: String
    public var nom: String
    /// Nature code from the reference table, e.g. `EAJE_COLLECTIF`.
    public var nature: String
    /// 14 digits; its first 9 are the manager's SIREN.
    public var siret: String
    /// 9 digits, the manager (gestionnaire).
    public var sirenGestionnaire: String
    public var nomGestionnaire: String
    public var statutGestionnaire: StatutGestionnaire
    /// Département code of the manager's head office.
    public var departementSiege: String
    /// Département code of the Caf funding the equipment.
    public var caf: String
    /// INSEE commune code (5 characters).
    public var commune: String
    /// Places agréées (approved capacity), `nil` where the nature has none.
    public var placesAgreees: Int?
    public var dateOuverture: CalendarDate
    public var dateFermeture: CalendarDate?
    /// In a quartier prioritaire de la politique de la ville.
    public var qpv: Bool
    /// In a zone de revitalisation rurale.
    public var zrr: Bool
    /// Covered by a convention territoriale globale.
    public var ctg: Bool

    public init(
        numeroDossier: String, nom: String, nature: String, siret: String, sirenGestionnaire: String,
        nomGestionnaire: String, statutGestionnaire: StatutGestionnaire, departementSiege: String,
        caf: String, commune: String, placesAgreees: Int?, dateOuverture: CalendarDate,
        dateFermeture: CalendarDate?, qpv: Bool, zrr: Bool, ctg: Bool
    ) {
        self.numeroDossier = numeroDossier
        self.nom = nom
        self.nature = nature
        self.siret = siret
        self.sirenGestionnaire = sirenGestionnaire
        self.nomGestionnaire = nomGestionnaire
        self.statutGestionnaire = statutGestionnaire
        self.departementSiege = departementSiege
        self.caf = caf
        self.commune = commune
        self.placesAgreees = placesAgreees
        self.dateOuverture = dateOuverture
        self.dateFermeture = dateFermeture
        self.qpv = qpv
        self.zrr = zrr
        self.ctg = ctg
    }
}

/// The figures of one declaration. Every figure is optional: missing is never zero. The
/// figures are held in 8 bytes each (amounts ``NaNCoded``, counts ``MinCoded``: 112 bytes a
/// declaration instead of 224), for the score keeps two of them per equipment while it reads
/// (240 000 at four times the country), and copies them along its largest read.
public struct DeclarationFigures: Hashable, Sendable {
    /// Places declared.
    @MinCoded public var places: Int? = nil
    /// Opening days in the year (0–366).
    @MinCoded public var joursOuverture: Int? = nil
    /// Opening hours of the year (days × daily amplitude), hours.
    @NaNCoded public var heuresOuverture: Double? = nil
    /// Hours children actually attended, hours.
    @NaNCoded public var heuresRealisees: Double? = nil
    /// Hours billed to families, hours.
    @NaNCoded public var heuresFacturees: Double? = nil
    /// Children enrolled.
    @MinCoded public var nbEnfants: Int? = nil
    /// Total costs, euros.
    @NaNCoded public var totalCharges: Double? = nil
    /// Staff costs, euros.
    @NaNCoded public var chargesPersonnel: Double? = nil
    /// Total income, euros.
    @NaNCoded public var totalProduits: Double? = nil
    /// Family participations, euros.
    @NaNCoded public var participationsFamilles: Double? = nil
    /// Prestation de service paid by the Caf, euros.
    @NaNCoded public var prestationCaf: Double? = nil
    /// Bonuses paid by the Caf (mixité, handicap, territoire, attractivité), euros.
    @NaNCoded public var bonusCaf: Double? = nil
    /// Local-authority subsidies, euros.
    @NaNCoded public var subventionsCollectivites: Double? = nil
    /// Staff full-time equivalents.
    @NaNCoded public var etp: Double? = nil

    public init() {}
}

/// One declaration of an equipment for an exercice.
/// Key: (equipment, exercice, nature, date de dépôt).
public struct Declaration: Hashable, Sendable {
    public var numeroDossier: String
    /// Calendar year declared (2000–2100).
    public var exercice: Int
    public var nature: NatureDeclaration
    /// Day the declaration was filed.
    public var dateDepot: CalendarDate
    public var figures: DeclarationFigures

    public init(
        numeroDossier: String, exercice: Int, nature: NatureDeclaration, dateDepot: CalendarDate,
        figures: DeclarationFigures
    ) {
        self.numeroDossier = numeroDossier
        self.exercice = exercice
        self.nature = nature
        self.dateDepot = dateDepot
        self.figures = figures
    }
}

/// The outcome of one control.
public struct Controle: Hashable, Sendable {
    public var idControle: String
    public var numeroDossier: String
    /// 1 to 3 exercices covered, ascending.
    public var exercices: [Int]
    public var dateControle: CalendarDate
    public var type: TypeControle
    public var origine: OrigineControle
    /// The campaign that planned it, if any.
    public var campagne: String?
    public var resultat: ResultatControle
    /// Overpayment to recover, euros (missing = 0).
    public var montantIndu: Double
    /// Underpayment owed to the partner, euros (missing = 0).
    public var montantRappel: Double
    /// Anomaly codes found (reference table), empty when conforme.
    public var anomalies: [String]

    public init(
        idControle: String, numeroDossier: String, exercices: [Int], dateControle: CalendarDate,
        type: TypeControle, origine: OrigineControle, campagne: String?, resultat: ResultatControle,
        montantIndu: Double, montantRappel: Double, anomalies: [String]
    ) {
        self.idControle = idControle
        self.numeroDossier = numeroDossier
        self.exercices = exercices
        self.dateControle = dateControle
        self.type = type
        self.origine = origine
        self.campagne = campagne
        self.resultat = resultat
        self.montantIndu = montantIndu
        self.montantRappel = montantRappel
        self.anomalies = anomalies
    }
}

/// A place-creation project, as the `projets` export describes it at the date of its file.
public struct Projet: Hashable, Sendable {
    public var numeroProjet: String
    public var caf: String
    public var commune: String
    public var sirenPorteur: String
    public var nomPorteur: String
    public var statutPorteur: StatutGestionnaire
    /// EAJE natures, MICRO_CRECHE_PSU, MICRO_CRECHE_PAJE or MAM.
    public var nature: String
    /// Places in the funding decision (1–500).
    public var placesDecidees: Int
    public var dateDecision: CalendarDate
    /// Investment aid decided, euros.
    public var aideInvestissement: Double?
    public var dateOuverturePrevue: CalendarDate
    public var etat: EtatProjet
    /// Places actually opened (OUVERT only).
    public var placesOuvertes: Int?
    public var dateOuverture: CalendarDate?
    public var dateAbandon: CalendarDate?
    /// The equipment once open.
    public var numeroDossier: String?
    public var qpv: Bool
    public var zrr: Bool

    public init(
        numeroProjet: String, caf: String, commune: String, sirenPorteur: String, nomPorteur: String, statutPorteur: StatutGestionnaire,
        nature: String, placesDecidees: Int, dateDecision: CalendarDate, aideInvestissement: Double?, dateOuverturePrevue: CalendarDate,
        etat: EtatProjet, placesOuvertes: Int?, dateOuverture: CalendarDate?, dateAbandon: CalendarDate?, numeroDossier: String?,
        qpv: Bool, zrr: Bool
    ) {
        self.numeroProjet = numeroProjet
        self.caf = caf
        self.commune = commune
        self.sirenPorteur = sirenPorteur
        self.nomPorteur = nomPorteur
        self.statutPorteur = statutPorteur
        self.nature = nature
        self.placesDecidees = placesDecidees
        self.dateDecision = dateDecision
        self.aideInvestissement = aideInvestissement
        self.dateOuverturePrevue = dateOuverturePrevue
        self.etat = etat
        self.placesOuvertes = placesOuvertes
        self.dateOuverture = dateOuverture
        self.dateAbandon = dateAbandon
        self.numeroDossier = numeroDossier
        self.qpv = qpv
        self.zrr = zrr
    }
}
