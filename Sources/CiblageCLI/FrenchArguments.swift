import ArgumentParser
import Foundation

/// swift-argument-parser's messages and help labels said in French, in one place: a table of
/// its English templates (its suggestions kept), applied to whatever it prints.
public enum FrenchArguments {
    /// (pattern, template): `$1`, `$2` are the captured names and values.
    static let templates: [(String, String)] = [
        (#"Unknown option '([^']*)'\. Did you mean '([^']*)'\?"#, "option inconnue « $1 » ; vouliez-vous dire « $2 » ?"),
        (#"Unknown option '([^']*)'"#, "option inconnue « $1 »"),
        (#"Missing expected argument '([^']*)'"#, "argument obligatoire manquant : « $1 »"),
        (#"Missing value for '([^']*)'"#, "valeur manquante pour « $1 »"),
        (#"The value '([^']*)' is invalid for '([^']*)'"#, "la valeur « $1 » n'est pas valide pour « $2 »"),
        (#"Unexpected arguments? '([^']*)'"#, "argument inattendu : « $1 »"),
        (#"(?m)^Usage: "#, "Utilisation : "),
        (#"(?m)^  See '([^']*)' for more information\."#, "  Voir « $1 » pour plus d'informations."),
        (#"(?m)^Help:  "#, "Aide :  "),
        (#"(?m)^OVERVIEW: "#, "RÉSUMÉ : "),
        (#"(?m)^USAGE: "#, "UTILISATION : "),
        (#"(?m)^OPTIONS:$"#, "OPTIONS :"),
        (#"(?m)^ARGUMENTS:$"#, "ARGUMENTS :"),
        (#"(?m)^SUBCOMMANDS:$"#, "SOUS-COMMANDES :"),
        (#"Show help information\."#, "Affiche cette aide."),
    ]

    static let compiled: [(NSRegularExpression, String)] = templates.map { (try! NSRegularExpression(pattern: $0.0), $0.1) }

    /// `text` with every known template in French; an option whose help already says its
    /// default (« défaut ») loses the parser's « (default: …) », the others get « (défaut : …) ».
    public static func translate(_ text: String) -> String {
        var out = defaults(text)
        for (regex, template) in compiled {
            out = regex.stringByReplacingMatches(in: out, range: NSRange(out.startIndex..., in: out), withTemplate: template)
        }
        return out
    }

    /// The parser's « (default: X) », possibly wrapped over lines, per option of the help.
    static func defaults(_ text: String) -> String {
        let regex = try! NSRegularExpression(pattern: #"\s*\(default:\s+([^)]*)\)"#)
        var out = text
        // From the end, so that earlier ranges stay valid.
        for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed() {
            guard let whole = Range(match.range, in: out), let value = Range(match.range(at: 1), in: out) else { continue }
            // The option's own help: from the line that starts it (« -… ») to the match.
            let before = out[..<whole.lowerBound]
            let start = before.range(of: "\n  -", options: .backwards)?.lowerBound ?? before.startIndex
            let saysDefault = out[start..<whole.lowerBound].contains("défaut")
            var cleaned = out[value].split(whereSeparator: \.isWhitespace).joined(separator: " ")
            // A decimal default is written the French way: 0,003.
            if Double(cleaned) != nil, cleaned.contains(".") { cleaned = cleaned.replacingOccurrences(of: ".", with: ",") }
            out.replaceSubrange(whole, with: saysDefault ? "" : " (défaut : \(cleaned))")
        }
        return out
    }
}

/// A decimal option that takes a French decimal comma as well as a dot: `0,5` or `0.5`.
public struct DecimalOption: ExpressibleByArgument, Sendable, Equatable {
    public var value: Double

    public init(_ value: Double) { self.value = value }

    public init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: ".")
        guard let value = Double(text), value.isFinite else { return nil }
        self.value = value
    }

    public var defaultValueDescription: String {
        let text = value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        return text.replacingOccurrences(of: ".", with: ",")
    }
}
