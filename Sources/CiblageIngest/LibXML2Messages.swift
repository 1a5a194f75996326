import CLibXML2
import CiblageModel
import Foundation

/// A libxml2 schema-validity message, read back into what it names, and said in French the way
/// the CSV rejects say it: a Caf reads « valeur négative : « -12 » » for a negative hour count
/// whichever format its export came in, not libxml2's « Element '{urn:sppe:declarations:1}
/// heuresRealisees': [facet 'minInclusive'] The value '-12' is less than the minimum value
/// allowed ('0'). ».
///
/// The forms read are those libxml2 2.9 writes for what the export's XSD checks (facets, atomic
/// types, attributes, element order, text, the root); any other message is kept whole, after
/// « non conforme au schéma XSD ».
struct SchemaMessage {
    /// The element named (its local name, without the namespace).
    var element: String
    /// The attribute named, if the message is about one.
    var attribute: String?
    /// What follows the names.
    var detail: Substring

    /// Reads `Element '{ns}name'[, attribute 'name']: detail`; `nil` for any other shape.
    init?(_ message: String) {
        guard message.hasPrefix("Element '") else { return nil }
        let start = message.index(message.startIndex, offsetBy: 9)
        guard let close = message.range(of: "'", range: start..<message.endIndex) else { return nil }
        var name = message[start..<close.lowerBound]
        if let brace = name.lastIndex(of: "}") { name = name[name.index(after: brace)...] }
        element = String(name)
        var rest = message[close.upperBound...]
        if rest.hasPrefix(", attribute '"), let end = rest.dropFirst(13).firstIndex(of: "'") {
            attribute = String(rest[rest.index(rest.startIndex, offsetBy: 13)..<end])
            rest = rest[rest.index(after: end)...]
        }
        guard rest.hasPrefix(": ") else { return nil }
        detail = rest.dropFirst(2)
    }

    /// The field a reject names: the attribute, else the element (or, for an attribute
    /// required but missing or not allowed, that attribute).
    var field: String {
        if let attribute { return attribute }
        if let named = quoted(after: "The attribute '") { return String(named) }
        return element
    }

    /// The reason in French, as the CSV rejects give it.
    var french: String? {
        let what = attribute ?? element
        if detail.hasPrefix("[facet '") {
            guard let value = quoted(after: "The value '", before: ["' is ", "' has a length"]) else { return nil }
            if detail.hasPrefix("[facet 'minInclusive']"), let bound = quoted(after: "allowed ('", before: ["')"]) {
                return bound == "0" ? "valeur négative : « \(value) »" : "valeur inférieure à \(bound) : « \(value) »"
            }
            if detail.hasPrefix("[facet 'maxInclusive']"), let bound = quoted(after: "allowed ('", before: ["')"]) {
                return "valeur supérieure à \(bound) : « \(value) »"
            }
            if detail.hasPrefix("[facet 'enumeration']"), let set = quoted(after: "set {", before: ["}"]) {
                let expected = set.split(separator: ",").map { $0.trimmingCharacters(in: .init(charactersIn: " '")) }
                    .joined(separator: ", ")
                let unknown = what == "nature" ? "nature de déclaration inconnue" : "valeur inconnue"
                return "\(unknown) : « \(value) » (attendu : \(expected))"
            }
            if detail.hasPrefix("[facet 'maxLength']"), let length = quoted(after: "length of '", before: ["';"]),
                let bound = quoted(after: "maximum length of '", before: ["'"])
            {
                return "trop long : \(length) caractères, \(bound) au plus"
            }
            if detail.hasPrefix("[facet 'minLength']") { return value.isEmpty ? "champ obligatoire vide" : nil }
            if detail.hasPrefix("[facet 'pattern']") {
                return what == "caf"
                    ? "code de Caf invalide : « \(value) » (attendu : un code de département)" : "format invalide : « \(value) »"
            }
            return nil
        }
        if let value = quoted(after: "'", before: ["' is not a valid value of the atomic type '"]),
            let type = quoted(after: "atomic type '", before: ["'"])
        {
            let kind = type.split(separator: "}").last.map(String.init) ?? String(type)
            if value.trimmingCharacters(in: .whitespaces).isEmpty {
                return attribute == nil
                    ? "élément vide (une valeur manquante s'écrit en omettant l'élément)" : "champ obligatoire vide"
            }
            switch kind {
            case "xs:date": return "date invalide : « \(value) » (attendu aaaa-mm-jj)"
            case "xs:nonNegativeInteger" where value.hasPrefix("-"): return "valeur négative : « \(value) »"
            case "xs:nonNegativeInteger", "xs:int", "exercice", "jours": return "nombre entier attendu : « \(value) »"
            case "montant" where value.contains(","): return "nombre attendu, avec un point décimal : « \(value) »"
            case "montant", "xs:decimal": return "nombre attendu : « \(value) »"
            default: return "valeur invalide : « \(value) »"
            }
        }
        if detail.hasSuffix("is required but missing.") { return "attribut obligatoire absent : « \(field) »" }
        if detail.hasSuffix("is not allowed.") && detail.hasPrefix("The attribute '") {
            return "attribut inconnu : « \(field) »"
        }
        if detail.hasPrefix("This element is not expected.") {
            let expected = quoted(after: "( ", before: [" )"]).map { list in
                " (attendu ici : " + list.split(separator: ",").map { name in
                    name.split(separator: "}").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                }.joined(separator: ", ") + ")"
            } ?? ""
            // libxml2 lists ten names at most.
            let more = expected.filter { $0 == "," }.count >= 9 ? ", …" : ""
            let known = ExportColumns.declarations.contains { $0.xmlName == element }
            return (known ? "élément hors de l'ordre du format, ou répété : « \(element) »" : "élément inconnu : « \(element) »")
                + (expected.isEmpty ? "" : expected.dropLast() + more + ")")
        }
        if detail.hasPrefix("Character content other than whitespace is not allowed") {
            // In the root, between declarations: what the reader says of text it finds there.
            return element == XMLDeclarationReader.rootName
                ? "texte hors de tout élément declaration" : "texte entre les éléments de la déclaration"
        }
        if detail.hasPrefix("Element content is not allowed") { return "élément imbriqué dans la valeur de « \(element) »" }
        if detail.hasPrefix("No matching global declaration available for the validation root") {
            let namespace = "urn:sppe:declarations:1"
            return element == XMLDeclarationReader.rootName
                ? "élément racine « \(element) » hors de l'espace de noms \(namespace) (xmlns absent ou autre)"
                : "élément racine inattendu : « \(element) » (attendu : \(XMLDeclarationReader.rootName), espace de noms \(namespace))"
        }
        return nil
    }

    /// The text between `start` and the last of `ends` found after it (values may hold quotes:
    /// the end is sought from the end of the detail), or `nil`.
    private func quoted(after start: String, before ends: [String] = ["'"]) -> Substring? {
        guard let open = detail.range(of: start) else { return nil }
        let tail = detail[open.upperBound...]
        for end in ends {
            let found = end == "'" ? tail.range(of: end) : tail.range(of: end, options: .backwards)
            if let found { return tail[..<found.lowerBound] }
        }
        return nil
    }

    /// A reject's reason for a libxml2 schema message: French when its form is known, else the
    /// message whole after « non conforme au schéma XSD ».
    static func reason(_ message: String) -> String {
        SchemaMessage(message)?.french ?? "non conforme au schéma XSD : \(message)"
    }

    /// The reason a whole file is refused for a libxml2 schema message about its root, which no
    /// field column names: the attribute at fault first (« attribut « dateExport » : date
    /// invalide : … »).
    static func fileReason(_ message: String) -> String {
        guard let parsed = SchemaMessage(message), let french = parsed.french else { return "non conforme au schéma XSD : \(message)" }
        return parsed.attribute.map { "attribut « \($0) » : \(french)" } ?? french
    }

    /// The field a libxml2 schema message names (empty when none).
    static func field(_ message: String) -> String {
        SchemaMessage(message)?.field ?? ""
    }
}

/// What makes a document malformed, in French, from libxml2's error code, with libxml2's own
/// words after it (they name the tag, the line or the character): « XML mal formé : balise
/// fermante qui ne correspond pas à la balise ouverte (libxml2 : « Opening and ending tag
/// mismatch: declaration line 2 and exportDeclarations ») ».
enum ParserMessage {
    /// `code`: the error's `xmlParserErrors` code; `message`: its text, trimmed.
    static func describe(code: Int32, _ message: String) -> String {
        let known: [xmlParserErrors: String] = [
            XML_ERR_DOCUMENT_EMPTY: "document vide, ou qui ne commence pas par une balise",
            // Read by chunks, libxml2 also says so of a document that stops before its root is
            // closed: a file cut short, or empty.
            XML_ERR_DOCUMENT_END:
                "document incomplet (fichier tronqué ?) ou suivi d'autre chose que des blancs après la balise fermante de la racine",
            XML_ERR_INVALID_HEX_CHARREF: "référence de caractère invalide",
            XML_ERR_INVALID_DEC_CHARREF: "référence de caractère invalide",
            XML_ERR_INVALID_CHARREF: "référence de caractère invalide",
            XML_ERR_INVALID_CHAR: "caractère interdit en XML, ou octets invalides pour l'encodage déclaré",
            XML_ERR_ENTITYREF_SEMICOL_MISSING: "« & » non échappé (un « & » dans un texte s'écrit &amp;)",
            XML_ERR_UNDECLARED_ENTITY: "entité non déclarée",
            XML_ERR_UNSUPPORTED_ENCODING: "encodage non pris en charge",
            XML_ERR_INVALID_ENCODING: "octets invalides pour l'encodage déclaré",
            XML_ERR_LT_IN_ATTRIBUTE: "« < » dans la valeur d'un attribut",
            XML_ERR_ATTRIBUTE_NOT_STARTED: "valeur d'attribut sans guillemets",
            XML_ERR_ATTRIBUTE_WITHOUT_VALUE: "attribut sans valeur",
            XML_ERR_ATTRIBUTE_REDEFINED: "attribut répété dans une même balise",
            XML_ERR_RESERVED_XML_NAME: "déclaration XML ailleurs qu'au début du fichier",
            XML_ERR_NAME_REQUIRED: "nom de balise invalide",
            XML_ERR_LT_REQUIRED: "balise attendue",
            XML_ERR_GT_REQUIRED: "balise non terminée (« > » manquant)",
            XML_ERR_TAG_NAME_MISMATCH: "balise fermante qui ne correspond pas à la balise ouverte",
            XML_ERR_TAG_NOT_FINISHED: "fin du fichier avant la fermeture des balises (fichier tronqué ?)",
            XML_ERR_NOT_WELL_BALANCED: "balises mal imbriquées",
            XML_ERR_UNKNOWN_VERSION: "version XML non prise en charge (le format est XML 1.0)",
        ]
        guard let french = known[xmlParserErrors(rawValue: UInt32(bitPattern: code))] else { return "« \(message) »" }
        return "\(french) (libxml2 : « \(message) »)"
    }
}
