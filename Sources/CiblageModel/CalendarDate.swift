/// A calendar day, without time or zone. Stored as the integer `yyyymmdd` (e.g. `20250328`),
/// which sorts like the date and stays readable in SQL.
public struct CalendarDate: Hashable, Comparable, Sendable {
    /// year × 512 + month × 32 + day: chronological order as an integer, in 4 bytes where three
    /// `Int`s took 24. Dates are held in every declaration, control and project a stage reads,
    /// and copied with them (a national first score copied its equipment-years' declarations
    /// about ten times each, a sixth of them dates).
    private let packed: Int32

    public var year: Int { Int(packed >> 9) }
    public var month: Int { Int((packed >> 5) & 0xF) }
    public var day: Int { Int(packed & 0x1F) }

    /// `month` in 1…12, `day` in 1…31 and `year` within ±4 million: checked by the callers.
    private init(unchecked year: Int, month: Int, day: Int) {
        packed = Int32(year) << 9 | Int32(month) << 5 | Int32(day)
    }

    /// A valid Gregorian date, or `nil` (e.g. 31/02/2024).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= CalendarDate.daysInMonth(year: year, month: month)
        else { return nil }
        self.init(unchecked: year, month: month, day: day)
    }

    /// From the stored `yyyymmdd` integer.
    public init?(yyyymmdd: Int) {
        self.init(year: yyyymmdd / 10000, month: (yyyymmdd / 100) % 100, day: yyyymmdd % 100)
    }

    /// From `dd/mm/yyyy` as a person types it on a command line (`nil` when it is not one).
    public init?(french text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].count == 4, let d = Int(parts[0]), let m = Int(parts[1]), let y = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The stored form, `yyyymmdd`.
    public var yyyymmdd: Int { year * 10000 + month * 100 + day }

    /// `dd/mm/yyyy`, the French form used in every output file.
    public var french: String {
        "\(Self.pad2(day))/\(Self.pad2(month))/\(year)"
    }

    /// `yyyy-mm-dd`.
    public var iso: String { "\(year)-\(Self.pad2(month))-\(Self.pad2(day))" }

    /// Days since 1970-01-01 (proleptic Gregorian), for date arithmetic.
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The date `dayNumber` days after 1970-01-01 (years beyond ±4 million trap).
    public init(dayNumber: Int) {
        let z = dayNumber + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(unchecked: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        lhs.packed < rhs.packed
    }

    public static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// Encoded as three numbers, `year`, `month` and `day`, as before the date was packed: a
/// stored or exchanged JSON reads the same.
extension CalendarDate: Codable {
    private enum CodingKeys: String, CodingKey {
        case year, month, day
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let (year, month, day) = (
            try container.decode(Int.self, forKey: .year), try container.decode(Int.self, forKey: .month),
            try container.decode(Int.self, forKey: .day)
        )
        guard let date = CalendarDate(year: year, month: month, day: day) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "date impossible : \(day)/\(month)/\(year)"))
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(year, forKey: .year)
        try container.encode(month, forKey: .month)
        try container.encode(day, forKey: .day)
    }
}
