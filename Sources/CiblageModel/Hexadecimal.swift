extension String {
    /// `value` in hexadecimal, padded with zeros to at least `digits` digits: a byte in a
    /// message (`0x1F`), a hash in a file (`00c4…`, sixteen digits for 64 bits).
    public init(hexadecimal value: some BinaryInteger, digits: Int, uppercase: Bool = false) {
        let text = String(value, radix: 16, uppercase: uppercase)
        self = String(repeating: "0", count: Swift.max(0, digits - text.count)) + text
    }
}
