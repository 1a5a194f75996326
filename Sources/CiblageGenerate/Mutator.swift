import CiblageModel

/// A seeded mutator of export files, for fuzzing the readers: each call takes a file of the
/// corpus and applies one to five mutations — bit flips, bytes that matter to the formats
/// (quotes, separators, line ends, NUL, invalid UTF-8, markup), tokens (DOCTYPE, entities,
/// CDATA, huge numbers, impossible dates, formulas), deleted, repeated or spliced ranges, cuts.
/// The same seed gives the same inputs.
public struct Mutator {
    public let corpus: [[UInt8]]
    private var random: SeededRandom

    static let bytes: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x22, 0x3B, 0x2C, 0x7C, 0x20, 0x3C, 0x3E, 0x26, 0x2F, 0x21, 0x80, 0xC3, 0xE9, 0xFF, 0xEF, 0xBB, 0xBF, 0x1B]
    static let tokens: [[UInt8]] = [
        "\"", "\"\"", ";", ";;", "\r\n", "\n", "\r", "\u{FEFF}", "é", "’", "€", " ", "\u{00A0}", "\u{202F}", "-", "+", "=cmd|' /C calc'!A0",
        "1e308", "99999999999999999999", "-0", "NaN", "31/02/2024", "2024-13-01", "0000", "|", "||",
        "<!DOCTYPE a [<!ENTITY e \"xxxxxxxxxxxxxxxx\">]>", "&e;", "&#0;", "&#x110000;", "&amp;", "<![CDATA[", "]]>", "<!--", "-->",
        "<declaration>", "</declaration>", "<places>", "</places>", "<?xml version=\"1.0\" encoding=\"UTF-16\"?>", "xmlns=\"urn:x\"",
        "<a><a><a><a><a><a><a><a><a><a>",
    ].map { Array($0.utf8) } + [[0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xC0, 0xAF]]

    public init(corpus: [[UInt8]], seed: UInt64) {
        precondition(!corpus.isEmpty, "a corpus is needed")
        self.corpus = corpus
        random = SeededRandom(seed: seed)
    }

    /// The next input.
    public mutating func next() -> [UInt8] {
        var data = random.pick(corpus)
        for _ in 0..<random.int(1...5) { mutate(&data) }
        return data
    }

    private mutating func position(_ data: [UInt8]) -> Int { data.isEmpty ? 0 : random.int(0...data.count) }

    private mutating func mutate(_ data: inout [UInt8]) {
        switch random.int(0...8) {
        case 0 where !data.isEmpty:
            let i = random.int(0...(data.count - 1))
            data[i] ^= UInt8(1) << UInt8(random.int(0...7))
        case 1 where !data.isEmpty:
            data[random.int(0...(data.count - 1))] = random.pick(Self.bytes)
        case 2:
            data.insert(contentsOf: random.pick(Self.tokens), at: position(data))
        case 3 where data.count > 1:
            let start = random.int(0...(data.count - 1))
            let length = min(data.count - start, random.int(1...64))
            data.removeSubrange(start..<(start + length))
        case 4 where data.count > 1:
            let start = random.int(0...(data.count - 1))
            let length = min(data.count - start, random.int(1...256))
            let piece = Array(data[start..<(start + length)])
            let times = random.chance(0.1) ? random.int(2...200) : 1
            data.insert(contentsOf: Array([[UInt8]](repeating: piece, count: times).joined()), at: position(data))
        case 5:
            let other = random.pick(corpus)
            guard !other.isEmpty else { return }
            let start = random.int(0...(other.count - 1))
            let length = min(other.count - start, random.int(1...512))
            data.insert(contentsOf: other[start..<(start + length)], at: position(data))
        case 6 where !data.isEmpty:
            data.removeSubrange(random.int(0...(data.count - 1))...)
        case 7:
            // A long run of one byte: huge fields, huge lines.
            data.insert(contentsOf: [UInt8](repeating: random.pick(Self.bytes + [0x41, 0x30]), count: random.int(1_000...200_000)), at: position(data))
        default:
            data.insert(random.pick(Self.bytes), at: position(data))
        }
    }
}
