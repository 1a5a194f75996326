/// A `Double?` held in 8 bytes instead of 16: NaN stands for `nil`.
///
/// For the optional figures of records held by the hundred thousand (an equipment's
/// indicators, 240 000 of them at four times the country, twice over at the score's peak). A
/// value written as NaN reads back as `nil`: the figures it holds are finite or missing.
@propertyWrapper
public struct NaNCoded: Hashable, Sendable {
    private var bits: Double

    public init(wrappedValue: Double?) { bits = wrappedValue ?? .nan }

    public var wrappedValue: Double? {
        get { bits.isNaN ? nil : bits }
        set { bits = newValue ?? .nan }
    }

    public static func == (a: NaNCoded, b: NaNCoded) -> Bool { a.wrappedValue == b.wrappedValue }

    public func hash(into hasher: inout Hasher) { hasher.combine(wrappedValue) }
}
