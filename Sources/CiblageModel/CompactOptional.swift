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

/// An `Int?` held in 8 bytes instead of 16: `Int.min` stands for `nil`.
///
/// For the counts of a declaration's figures (places, days, children), copied with them through
/// every stage's largest read and write. A value written as `Int.min` reads back as `nil`: the
/// counts it holds are bounded far from it.
@propertyWrapper
public struct MinCoded: Hashable, Sendable {
    private var bits: Int

    public init(wrappedValue: Int?) { bits = wrappedValue ?? .min }

    public var wrappedValue: Int? {
        get { bits == .min ? nil : bits }
        set { bits = newValue ?? .min }
    }
}
