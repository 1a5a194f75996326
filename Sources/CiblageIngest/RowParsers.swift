import CiblageModel

/// Reads one equipment row and checks every rule of `exports.md`.
public struct EquipementRowParser: Sendable {
    let referentiel: Referentiel
    let natures: Set<String>
    let statuts = Set(StatutGestionnaire.allCases.map(\.rawValue))

    public init(referentiel: Referentiel) {
        self.referentiel = referentiel
        natures = Set(referentiel.natures.keys)
    }

    enum C {
        static let nDossier = 0, nom = 1, nature = 2, siret = 3, siren = 4, nomGestionnaire = 5
        static let statut = 6, departementSiege = 7, caf = 8, commune = 9, places = 10
        static let ouverture = 11, fermeture = 12, qpv = 13, zrr = 14, ctg = 15
    }

    public func parse<S: FieldSource>(_ r: FieldReader<S>) throws(RowReject) -> Equipement {
        let nDossier = try r.requiredText(C.nDossier, maxLength: 20)
        let nom = try r.requiredText(C.nom)
        let nature = try r.code(C.nature, natures, unknown: "nature d'équipement inconnue")
        let siren = try Self.siren(r, C.siren)
        let siret = try r.requiredText(C.siret)
        guard siret.utf8.count == 14, siret.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw r.reject(C.siret, "le SIRET doit compter 14 chiffres : « \(siret) »")
        }
        guard CompanyIdentifier.isValidSiret(siret) else {
            throw r.reject(C.siret, "clé de contrôle du SIRET invalide : « \(siret) »")
        }
        guard siret.hasPrefix(siren) else {
            throw r.reject(C.siret, "le SIRET « \(siret) » ne commence pas par le SIREN du gestionnaire « \(siren) »")
        }
        let nomGestionnaire = try r.requiredText(C.nomGestionnaire)
        let statut = StatutGestionnaire(rawValue: try r.code(C.statut, statuts, unknown: "statut de gestionnaire inconnu"))!
        let siege = try departement(r, C.departementSiege)
        let caf = try departement(r, C.caf)
        let commune = try Self.commune(r, C.commune, caf: caf)
        let places = try r.integer(C.places, 1...500)
        if places == nil && referentiel.natures[nature]?.placesObligatoires == true {
            throw r.reject(C.places, "places agréées obligatoires pour la nature \(nature)")
        }
        let ouverture = try r.requiredDate(C.ouverture)
        let fermeture = try r.date(C.fermeture)
        if let fermeture, fermeture < ouverture {
            throw r.reject(C.fermeture, "date de fermeture \(fermeture.french) antérieure à l'ouverture \(ouverture.french)")
        }
        return Equipement(
            numeroDossier: nDossier, nom: nom, nature: nature, siret: siret, sirenGestionnaire: siren,
            nomGestionnaire: nomGestionnaire, statutGestionnaire: statut, departementSiege: siege, caf: caf,
            commune: commune, placesAgreees: places, dateOuverture: ouverture, dateFermeture: fermeture,
            qpv: try r.boolean(C.qpv), zrr: try r.boolean(C.zrr), ctg: try r.boolean(C.ctg))
    }

    /// A SIREN: 9 digits with a valid check digit.
    static func siren<S: FieldSource>(_ r: FieldReader<S>, _ column: Int) throws(RowReject) -> String {
        let siren = try r.requiredText(column)
        guard siren.utf8.count == 9, siren.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw r.reject(column, "le SIREN doit compter 9 chiffres : « \(siren) »")
        }
        guard CompanyIdentifier.isValidSiren(siren) else {
            throw r.reject(column, "clé de contrôle du SIREN invalide : « \(siren) »")
        }
        return siren
    }

    /// An INSEE commune code of 5 characters in the département of `caf` (`1053` read `01053`).
    static func commune<S: FieldSource>(_ r: FieldReader<S>, _ column: Int, caf: String) throws(RowReject) -> String {
        var commune = try r.requiredUppercased(column)
        if commune.utf8.count == 4, commune.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            commune = "0" + commune  // a leading zero lost by a spreadsheet
        }
        let bytes = Array(commune.utf8)
        let wellFormed =
            bytes.count == 5
            && bytes.enumerated().allSatisfy { i, b in (b >= 0x30 && b <= 0x39) || (i == 1 && bytes[0] == 0x32 && (b == 0x41 || b == 0x42)) }
        guard wellFormed else { throw r.reject(column, "code commune INSEE invalide (5 caractères) : « \(commune) »") }
        guard Referentiel.departementOfCommune(commune) == caf else {
            throw r.reject(column, "la commune « \(commune) » n'est pas dans le département de la Caf \(caf)")
        }
        return commune
    }

    /// A département code of the reference table (`1` is read as `01`: spreadsheets drop the zero).
    func departement<S: FieldSource>(_ r: FieldReader<S>, _ column: Int) throws(RowReject) -> String {
        let code = Referentiel.departementCode(try r.requiredText(column))
        guard referentiel.departements[code] != nil else {
            throw r.reject(column, "département inconnu : « \(code) »")
        }
        return code
    }
}

/// A declaration row read and checked, with its equipment resolved.
public struct ParsedDeclaration: Sendable {
    public var equipementId: Int64
    public var exercice: Int
    public var nature: NatureDeclaration
    public var dateDepot: CalendarDate
    public var figures: DeclarationFigures
}

/// N_DOSSIER → `equipement.id` for the equipments known to the store, looked up from a field's
/// bytes without making a String (the key packs up to 24 UTF-8 bytes in three words).
///
/// The equipments are also kept in the order they were added (the store's, by id: the order of
/// the registry that created them), so that a reader walking an export in that same order finds
/// the next equipment a few entries after the one before (``position(of:after:)``) rather than
/// by a hash and a probe into a table of the whole country, which missed the processor's caches
/// (2 to 2.5 % of a national ingest's processor time at ×1 and ×4).
public struct EquipementIndex: Sendable {
    struct Key: Hashable {
        var a: UInt64 = 0
        var b: UInt64 = 0
        var c: UInt64 = 0

        init?(_ bytes: UnsafeBufferPointer<UInt8>) {
            guard bytes.count <= 24, let base = bytes.baseAddress else { return nil }
            withUnsafeMutableBytes(of: &self) { $0.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
        }

        /// The key of `text`'s UTF-8 bytes.
        init?(_ text: String) {
            guard let key = Array(text.utf8).withUnsafeBufferPointer({ Key($0) }) else { return nil }
            self = key
        }

        /// The three words folded into one before hashing (equality still compares all three):
        /// one declaration row, one lookup, and SipHash over 8 bytes rather than 24.
        func hash(into hasher: inout Hasher) {
            hasher.combine(a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ (c &* 0xC2B2_AE3D_27D4_EB4F))
        }
    }

    /// Every equipment, in the order added.
    private var entries: [(key: Key, id: Int64)] = []
    /// Each key's place in `entries`.
    private var positions: [Key: Int] = [:]

    /// How many entries after the one found before ``position(of:after:)`` looks at first: an
    /// export skips the equipments with nothing to declare that year (closed, not yet open).
    static let lookAhead = 8

    public init(_ ids: [String: Int64]) {
        self.init(capacity: ids.count)
        for (n, id) in ids.sorted(by: { $0.value < $1.value }) { insert(n, id) }
    }

    /// An empty index sized for `capacity` equipments.
    public init(capacity: Int) {
        entries.reserveCapacity(capacity)
        positions.reserveCapacity(capacity)
    }

    /// Adds the equipment `nDossier` (ignored beyond 24 bytes: no export can name it).
    public mutating func insert(_ nDossier: String, _ id: Int64) {
        guard let key = Key(nDossier) else { return }
        if let p = positions[key] {
            entries[p].id = id
        } else {
            positions[key] = entries.count
            entries.append((key, id))
        }
    }

    public subscript(_ nDossier: String) -> Int64? {
        Key(nDossier).flatMap { positions[$0] }.map { entries[$0].id }
    }

    /// The id of the entry at `position` (from ``position(of:after:)``).
    func id(at position: Int) -> Int64 { entries[position].id }

    /// The place of `key` among the entries: one of the ``lookAhead`` entries after `hint` when
    /// there, else by the hash (`hint`: the place found for the row before, -1 for none).
    func position(of key: Key, after hint: Int) -> Int? {
        if hint >= 0 {
            var p = hint + 1
            let end = min(entries.count, hint + 1 + Self.lookAhead)
            while p < end {
                if entries[p].key == key { return p }
                p += 1
            }
        }
        return positions[key]
    }

    /// The place of the equipment whose N_DOSSIER is `bytes` (trimmed, in `encoding`), `key`
    /// being `bytes` as a key.
    func position(_ key: Key?, _ bytes: UnsafeBufferPointer<UInt8>, _ encoding: TextEncoding, after hint: Int) -> Int? {
        if encoding == .windows1252 && bytes.contains(where: { $0 >= 0x80 }) {
            return Key(encoding.decode(bytes)).flatMap { positions[$0] }
        }
        return key.flatMap { position(of: $0, after: hint) }
    }
}

/// Reads one declaration row (CSV or XML) and checks every rule of `exports.md`.
public struct DeclarationRowParser: Sendable {
    let equipements: EquipementIndex

    /// Each nature's code as bytes, held by the parser: read per row, a static table cost a
    /// `swift_once`, and a dictionary an array and a hash per row.
    let natureCodes = NatureDeclaration.allCases.map { (code: Array($0.code.utf8), nature: $0) }

    /// The row before's equipment, by its N_DOSSIER's bytes as read (the same bytes of one file
    /// name the same equipment), and its place in the index: an export lists each equipment's
    /// declarations one after the other (four per exercice), in the registry's order, so the
    /// next equipment is found a few places after (``EquipementIndex/position(of:after:)``).
    private var last: (key: EquipementIndex.Key, position: Int)?

    public init(equipements: EquipementIndex) { self.equipements = equipements }

    /// The id of the equipment whose N_DOSSIER is `bytes` (trimmed): the row before's when the
    /// bytes are the same, else looked up from its place.
    mutating func equipement(_ bytes: UnsafeBufferPointer<UInt8>, _ encoding: TextEncoding) -> Int64? {
        let key = EquipementIndex.Key(bytes)
        if let key, let last, last.key == key { return equipements.id(at: last.position) }
        guard let p = equipements.position(key, bytes, encoding, after: last?.position ?? -1) else { return nil }
        if let key { last = (key, p) }
        return equipements.id(at: p)
    }

    enum C {
        static let nDossier = 0, exercice = 1, nature = 2, dateDepot = 3, places = 4, jours = 5
        static let heuresOuverture = 6, heuresRealisees = 7, heuresFacturees = 8, enfants = 9
        static let firstAmount = 10, etp = 17
    }

    /// The nature whose code `bytes` spell, in any case. Compared byte by byte in place: through
    /// `first`, `zip` and `allSatisfy`, some 180 instructions a row.
    func nature(_ bytes: UnsafeBufferPointer<UInt8>) -> NatureDeclaration? {
        for i in natureCodes.indices where natureCodes[i].code.count == bytes.count {
            let matches = natureCodes[i].code.withUnsafeBufferPointer { code in
                var k = 0
                while k < code.count && code[k] == bytes[k].asciiUppercased { k += 1 }
                return k == code.count
            }
            if matches { return natureCodes[i].nature }
        }
        return nil
    }

    public mutating func parse<S: FieldSource>(_ r: FieldReader<S>) throws(RowReject) -> ParsedDeclaration {
        let nDossierBytes = FieldParsing.trimmed(r.source.bytes(C.nDossier))
        guard let equipementId = equipement(nDossierBytes, r.source.encoding) else {
            // Slow path, for the reason: empty, too long, or unknown.
            let nDossier = try r.requiredText(C.nDossier, maxLength: 20)
            throw r.reject(C.nDossier, "équipement inconnu : « \(nDossier) »")
        }
        let exercice = try r.requiredInteger(C.exercice, 2000...2100)
        let natureBytes = FieldParsing.trimmed(r.source.bytes(C.nature))
        guard natureBytes.count > 0 else { throw r.missing(C.nature) }
        guard let nature = nature(natureBytes) else {
            throw r.reject(
                C.nature, "nature de déclaration inconnue : \(r.shown(C.nature)) (attendu : PREVISIONNEL, ACTUALISE, REEL)")
        }
        let dateDepot = try r.requiredDate(C.dateDepot)
        var f = DeclarationFigures()
        f.places = try r.integer(C.places, 0...Int.max)
        f.joursOuverture = try r.integer(C.jours, 0...366)
        f.heuresOuverture = try r.decimal(C.heuresOuverture)
        f.heuresRealisees = try r.decimal(C.heuresRealisees)
        f.heuresFacturees = try r.decimal(C.heuresFacturees)
        f.nbEnfants = try r.integer(C.enfants, 0...Int.max)
        f.totalCharges = try r.decimal(C.firstAmount, euros: true)
        f.chargesPersonnel = try r.decimal(C.firstAmount + 1, euros: true)
        f.totalProduits = try r.decimal(C.firstAmount + 2, euros: true)
        f.participationsFamilles = try r.decimal(C.firstAmount + 3, euros: true)
        f.prestationCaf = try r.decimal(C.firstAmount + 4, euros: true)
        f.bonusCaf = try r.decimal(C.firstAmount + 5, euros: true)
        f.subventionsCollectivites = try r.decimal(C.firstAmount + 6, euros: true)
        f.etp = try r.decimal(C.etp)
        return ParsedDeclaration(
            equipementId: equipementId, exercice: exercice, nature: nature, dateDepot: dateDepot, figures: f)
    }
}

/// A control row read and checked, with its equipment resolved.
public struct ParsedControle: Hashable, Sendable {
    public var equipementId: Int64
    public var controle: Controle
}

/// Reads one control outcome row and checks every rule of `exports.md`.
public struct ControleRowParser: Sendable {
    let equipements: EquipementIndex
    let anomalyCodes: Set<String>
    // The closed sets of codes, made once rather than for every row.
    let types = Set(TypeControle.allCases.map(\.rawValue))
    let origines = Set(OrigineControle.allCases.map(\.rawValue))
    let resultats = Set(ResultatControle.allCases.map(\.rawValue))

    public init(equipements: EquipementIndex, referentiel: Referentiel) {
        self.equipements = equipements
        anomalyCodes = Set(referentiel.anomalies.keys)
    }

    /// `part` without the blanks around it (`CharacterSet.whitespaces`); a part that neither
    /// starts nor ends with one, the common case, is returned as it is without Foundation.
    static func trimmed(_ part: Substring) -> Substring {
        guard let first = part.utf8.first, let last = part.utf8.last else { return part }
        func plain(_ b: UInt8) -> Bool { b > 0x20 && b < 0x80 }
        if plain(first) && plain(last) { return part }
        return Substring(part.trimmingCharacters(in: .whitespaces))
    }

    enum C {
        static let id = 0, nDossier = 1, exercices = 2, date = 3, type = 4, origine = 5, campagne = 6
        static let resultat = 7, indu = 8, rappel = 9, anomalies = 10
    }

    public func parse<S: FieldSource>(_ r: FieldReader<S>) throws(RowReject) -> ParsedControle {
        let id = try r.requiredText(C.id)
        let nDossier = try r.requiredText(C.nDossier, maxLength: 20)
        guard let equipementId = equipements[nDossier] else {
            throw r.reject(C.nDossier, "équipement inconnu : « \(nDossier) »")
        }
        let exercicesText = try r.requiredText(C.exercices)
        var exercices: [Int] = []
        for part in exercicesText.split(separator: "|", omittingEmptySubsequences: false) {
            let year = Int(Self.trimmed(part))
            guard let year, (2000...2100).contains(year) else {
                throw r.reject(C.exercices, "exercice invalide dans « \(exercicesText) » (années 2000 à 2100 séparées par |)")
            }
            exercices.append(year)
        }
        exercices = Array(Set(exercices)).sorted()
        guard (1...3).contains(exercices.count) else {
            throw r.reject(C.exercices, "un contrôle couvre 1 à 3 exercices : « \(exercicesText) »")
        }
        let date = try r.requiredDate(C.date)
        let type = TypeControle(rawValue: try r.code(C.type, types, unknown: "type de contrôle inconnu"))!
        let origine = OrigineControle(rawValue: try r.code(C.origine, origines, unknown: "origine inconnue"))!
        let campagne = try r.text(C.campagne)
        let resultat = ResultatControle(rawValue: try r.code(C.resultat, resultats, unknown: "résultat inconnu"))!
        let indu = try r.decimal(C.indu, euros: true) ?? 0
        let rappel = try r.decimal(C.rappel, euros: true) ?? 0
        var anomalies: [String] = []
        if let text = try r.text(C.anomalies) {
            for part in text.split(separator: "|") {
                let code = Self.trimmed(part).uppercased()
                guard anomalyCodes.contains(code) else {
                    throw r.reject(C.anomalies, "code d'anomalie inconnu : « \(code) »")
                }
                if !anomalies.contains(code) { anomalies.append(code) }
            }
        }
        if resultat == .anomalie && anomalies.isEmpty {
            throw r.reject(C.anomalies, "codes d'anomalie obligatoires quand le résultat est ANOMALIE")
        }
        if resultat == .conforme && !anomalies.isEmpty {
            throw r.reject(C.anomalies, "aucun code d'anomalie attendu quand le résultat est CONFORME")
        }
        return ParsedControle(
            equipementId: equipementId,
            controle: Controle(
                idControle: id, numeroDossier: nDossier, exercices: exercices, dateControle: date, type: type,
                origine: origine, campagne: campagne, resultat: resultat, montantIndu: indu, montantRappel: rappel,
                anomalies: anomalies))
    }
}

/// Reads one place-creation project row and checks every rule of `exports.md`.
public struct ProjetRowParser: Sendable {
    let registry: EquipementRowParser
    let equipements: EquipementIndex
    let statuts = Set(StatutGestionnaire.allCases.map(\.rawValue))
    let etats = Set(EtatProjet.allCases.map(\.rawValue))
    /// EAJE natures, the two micro-crèches and MAM.
    public static let natures: Set<String> = [
        "EAJE_COLLECTIF", "EAJE_FAMILIAL", "EAJE_PARENTAL", "HALTE_GARDERIE", "MICRO_CRECHE_PSU", "MICRO_CRECHE_PAJE", "MAM",
    ]

    public init(equipements: EquipementIndex, referentiel: Referentiel) {
        registry = EquipementRowParser(referentiel: referentiel)
        self.equipements = equipements
    }

    enum C {
        static let nProjet = 0, caf = 1, commune = 2, siren = 3, nom = 4, statut = 5, nature = 6, places = 7, decision = 8
        static let aide = 9, prevue = 10, etat = 11, ouvertes = 12, ouverture = 13, abandon = 14, nDossier = 15, qpv = 16, zrr = 17
    }

    public func parse<S: FieldSource>(_ r: FieldReader<S>) throws(RowReject) -> Projet {
        let nProjet = try r.requiredText(C.nProjet, maxLength: 20)
        let caf = try registry.departement(r, C.caf)
        let commune = try EquipementRowParser.commune(r, C.commune, caf: caf)
        let siren = try EquipementRowParser.siren(r, C.siren)
        let nom = try r.requiredText(C.nom)
        let statut = StatutGestionnaire(rawValue: try r.code(C.statut, statuts, unknown: "statut de porteur inconnu"))!
        let nature = try r.code(C.nature, Self.natures, unknown: "nature de projet inconnue")
        let places = try r.requiredInteger(C.places, 1...500)
        let decision = try r.requiredDate(C.decision)
        let aide = try r.decimal(C.aide, euros: true)
        let prevue = try r.requiredDate(C.prevue)
        guard !(prevue < decision) else {
            throw r.reject(C.prevue, "ouverture prévue le \(prevue.french), avant la décision du \(decision.french)")
        }
        let etat = EtatProjet(rawValue: try r.code(C.etat, etats, unknown: "état de projet inconnu"))!
        let ouvertes = try r.integer(C.ouvertes, 0...500)
        let ouverture = try r.date(C.ouverture)
        let abandon = try r.date(C.abandon)
        if etat == .ouvert {
            guard ouvertes != nil else { throw r.reject(C.ouvertes, "places ouvertes obligatoires quand l'état est OUVERT") }
            guard let ouverture else { throw r.reject(C.ouverture, "date d'ouverture obligatoire quand l'état est OUVERT") }
            guard !(ouverture < decision) else {
                throw r.reject(C.ouverture, "ouverture le \(ouverture.french), avant la décision du \(decision.french)")
            }
        } else {
            if ouvertes != nil { throw r.reject(C.ouvertes, "places ouvertes attendues vides quand l'état est \(etat.rawValue)") }
            if ouverture != nil { throw r.reject(C.ouverture, "date d'ouverture attendue vide quand l'état est \(etat.rawValue)") }
        }
        if etat == .abandonne {
            guard let abandon else { throw r.reject(C.abandon, "date d'abandon obligatoire quand l'état est ABANDONNE") }
            guard !(abandon < decision) else {
                throw r.reject(C.abandon, "abandon le \(abandon.french), avant la décision du \(decision.french)")
            }
        } else if abandon != nil {
            throw r.reject(C.abandon, "date d'abandon attendue vide quand l'état est \(etat.rawValue)")
        }
        let nDossier = try r.text(C.nDossier, maxLength: 20)
        if let nDossier, equipements[nDossier] == nil {
            throw r.reject(C.nDossier, "équipement inconnu : « \(nDossier) »")
        }
        return Projet(
            numeroProjet: nProjet, caf: caf, commune: commune, sirenPorteur: siren, nomPorteur: nom, statutPorteur: statut, nature: nature,
            placesDecidees: places, dateDecision: decision, aideInvestissement: aide, dateOuverturePrevue: prevue, etat: etat,
            placesOuvertes: ouvertes, dateOuverture: ouverture, dateAbandon: abandon, numeroDossier: nDossier, qpv: try r.boolean(C.qpv),
            zrr: try r.boolean(C.zrr))
    }
}
