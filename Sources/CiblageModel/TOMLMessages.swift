import Foundation

/// TOML syntax errors said in French, with the line and the key they concern.
///
/// The configuration files (campaigns, pipelines) are read by TOMLKit, whose parser (toml++)
/// reports in English: `Error while parsing key-value pair: expected value, saw '\n'`. Its
/// messages have two parts, a context and a detail; both are mapped here through small tables
/// (the detail keeps what it quotes), and the key is read back from the file's text.
public enum TOMLMessages {
    /// A syntax error of `text` at `line` (1-based): the dotted key it concerns (empty when the
    /// line holds none) and the French message, e.g. key `plan_local.taux_controle`, message
    /// `ligne 6, colonne 18 : clé = valeur incorrecte : on attendait un commentaire ou la fin de la ligne, pas « , » — en TOML, un nombre décimal
    /// s'écrit avec un point (0.1)`.
    public static func french(_ message: String, line: Int, column: Int, text: String) -> (key: String, message: String) {
        let (context, detail) = split(message)
        var said = "ligne \(line)\(column > 0 ? ", colonne \(column)" : "") : " + (contexts[context] ?? "syntaxe TOML incorrecte")
        if let detail = translate(detail) { said += " : " + detail }
        let lines = text.components(separatedBy: "\n")
        let source = line >= 1 && line <= lines.count ? lines[line - 1] : ""
        if detail.contains("saw ','"), source.range(of: #"=\s*-?\d+,\d"#, options: .regularExpression) != nil {
            said += " — en TOML, un nombre décimal s'écrit avec un point (0.1, pas 0,1)"
        }
        return (key(of: source, in: lines.prefix(max(0, line - 1))), said)
    }

    static let contexts: [String: String] = [
        "key-value pair": "clé = valeur incorrecte",
        "table header": "en-tête de section [ … ] incorrect",
        "array-of-tables header": "en-tête [[ … ]] incorrect",
        "string": "texte incorrect",
        "literal string": "texte incorrect",
        "multi-line string": "texte sur plusieurs lignes incorrect",
        "array": "liste incorrecte",
        "inline table": "table { … } incorrecte",
        "integer": "nombre entier incorrect",
        "floating-point": "nombre décimal incorrect",
        "boolean": "booléen incorrect (true ou false)",
        "date-time": "date incorrecte",
        "value": "valeur incorrecte",
        "bare key": "clé incorrecte",
        "key": "clé incorrecte",
        "comment": "commentaire incorrect",
    ]

    /// `Error while parsing <context>: <detail>` → (context, detail).
    static func split(_ message: String) -> (String, String) {
        let prefix = "Error while parsing "
        guard message.hasPrefix(prefix), let colon = message.range(of: ": ") else { return ("", message) }
        return (String(message[message.index(message.startIndex, offsetBy: prefix.count)..<colon.lowerBound]), String(message[colon.upperBound...]))
    }

    /// The tokens the parser names, in French.
    static func token(_ text: String) -> String {
        switch text {
        case "'\\n'", "'\\r'": "la fin de ligne"
        case "value", "a value": "une valeur"
        case "a comment or whitespace": "un commentaire ou la fin de la ligne"
        case "end-of-file", "EOF", "'\\0'": "la fin du fichier"
        case "bare key character", "a bare key character": "un nom de clé"
        case "key", "a key": "une clé"
        default: text.hasPrefix("'") ? "« \(text.dropFirst().dropLast()) »" : "« \(text) »"
        }
    }

    static func translate(_ detail: String) -> String? {
        if let match = detail.firstMatch(of: /expected (.+), saw (.+)/) {
            return "on attendait \(token(String(match.1))), pas \(token(String(match.2)))"
        }
        if let match = detail.firstMatch(of: /cannot redefine existing \S+ '(.+)'/) {
            return "« \(match.1) » est déjà défini plus haut"
        }
        if detail.contains("unescaped control characters") || detail.contains("encountered end-of-line") {
            return "texte non fermé (guillemet manquant ?)"
        }
        if detail.contains("end-of-file") { return "fin du fichier inattendue" }
        if detail.contains("leading zeroes") { return "zéro en tête interdit dans un nombre" }
        if detail.contains("out of range") || detail.contains("overflow") { return "nombre hors limites" }
        return nil
    }

    /// `[plan_local.capacites]   # …` → `plan_local.capacites` (also `[[etape]]` → `etape`).
    static func header(_ line: String) -> String {
        let body = line.trimmingCharacters(in: .whitespaces).drop { $0 == "[" }
        return String(body.prefix { $0 != "]" && $0 != "\n" }).trimmingCharacters(in: .whitespaces)
    }

    /// The dotted key of a line: its section (`[plan_local]` above it) and the name before `=`,
    /// or the section header itself.
    static func key(of source: String, in above: ArraySlice<String>) -> String {
        let trimmed = source.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("[") { return header(trimmed) }
        guard let eq = trimmed.firstIndex(of: "=") else { return "" }
        let name = trimmed[..<eq].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\"", with: "")
        let section = above.last { $0.trimmingCharacters(in: .whitespaces).hasPrefix("[") }.map(header)
        guard let section, !section.isEmpty else { return name }
        return "\(section).\(name)"
    }
}
