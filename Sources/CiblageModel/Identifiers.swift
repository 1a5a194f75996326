/// Check digits of French company identifiers.
public enum CompanyIdentifier {
    /// SIREN of La Poste, whose establishments' SIRETs follow their own rule.
    static let laPosteSiren = "356000000"

    /// `true` when `digits` (ASCII digits only) passes the Luhn check.
    public static func luhnIsValid<C: Collection>(_ digits: C) -> Bool where C.Element == UInt8 {
        var sum = 0
        var double = false
        for byte in digits.reversed() {
            guard byte >= 0x30, byte <= 0x39 else { return false }
            var d = Int(byte - 0x30)
            if double {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
            double.toggle()
        }
        return sum % 10 == 0
    }

    /// A SIREN: exactly 9 digits with a valid Luhn check digit.
    public static func isValidSiren(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 9 && luhnIsValid(bytes)
    }

    /// A SIRET: exactly 14 digits with a valid Luhn check digit (La Poste's establishments,
    /// SIREN 356000000, use instead "sum of the digits is a multiple of 5").
    public static func isValidSiret(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 14, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
        if text.hasPrefix(laPosteSiren) {
            return bytes.reduce(0) { $0 + Int($1 - 0x30) } % 5 == 0
        }
        return luhnIsValid(bytes)
    }

    /// Appends the Luhn check digit to `body` (digits only), for generators and fixtures.
    public static func withLuhnDigit(_ body: String) -> String {
        for d in 0...9 {
            let candidate = body + String(d)
            if luhnIsValid(Array(candidate.utf8)) { return candidate }
        }
        preconditionFailure("a Luhn digit always exists")
    }
}
