import CLibXML2
import CiblageModel
import Foundation

/// One `declaration` element read from an XML export, with the schema errors found in it.
public struct XMLDeclarationElement: FieldSource {
    /// Line of the element's start tag.
    public var line: Int
    /// Values by column of ``ExportColumns/declarations`` (UTF-8; empty when absent), in one buffer.
    let storage = XMLValueStorage(columns: ExportColumns.declarations.count)
    /// Schema violations reported inside the element: (field, libxml2 message).
    public var schemaErrors: [(field: String, message: String)]
    /// For text between declarations (rejected as a row of its own), its first
    /// ``XMLDeclarationReader/maxStrayBytes`` bytes; nil for a declaration.
    public var strayText: String? = nil

    public var encoding: TextEncoding { .utf8 }

    public func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8> { storage.bytes(column) }

    public func fieldName(_ column: Int) -> String { ExportColumns.declarations[column].xmlName ?? "" }

    /// A short rendering of the element for the rejects file.
    public var content: String {
        if let strayText { return strayText }
        return ExportColumns.declarations.indices.compactMap { i in
            bytes(i).isEmpty ? nil : "\(fieldName(i))=\(String(decoding: bytes(i), as: UTF8.self))"
        }.joined(separator: " ")
    }
}

/// Why an XML file is refused whole.
public struct XMLFileError: Error, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "ligne \(line) : \(message)" }
}

/// Streams an XML export of declarations through libxml2's SAX2 push parser, validating it against
/// the shipped XSD as it goes (`xmlSchemaSAXPlug`; `XML_PARSE_NONET`, no tree built, entities
/// never expanded, a DOCTYPE refused).
///
/// Every piece of the root is a row: a `declaration`, or text between them, handed over as a
/// ``XMLDeclarationElement/strayText`` row that the schema rejects on its own line. Any other
/// element among the declarations refuses the file: after it, libxml2's validator checks nothing
/// more of the root (a declaration with its children out of order, or one repeated, would be
/// stored unchecked). A schema error belongs to the row being read when the validator reports
/// it: the plug calls our callbacks before validating each event, so a row's errors come from
/// its start tag (attributes) to its end tag (children, values), and a row is handed to the sink
/// once the next one starts (or the document ends). Ownership by event rather than by line: with
/// several elements on one line (an export written without line breaks), errors matched by line
/// went to the last element of the line, and the faulty ones were stored. Lines are the parser's
/// own, in full (`xmlTextReader`'s nodes keep theirs in 16 bits: past line 65 535 every element
/// had line 65535).
/// A document that is not well-formed, or whose root breaks the schema, throws ``XMLFileError``.
public final class XMLDeclarationReader {
    public let url: URL
    /// The XSD shipped for the format, against which every file is validated.
    public static let schemaURL = Bundle.module.url(forResource: "Schemas/declarations-1", withExtension: "xsd")!
    nonisolated(unsafe) static let schema: xmlSchemaPtr? = {
        xmlInitParser()
        guard let context = xmlSchemaNewParserCtxt(schemaURL.path) else { return nil }
        defer { xmlSchemaFreeParserCtxt(context) }
        return xmlSchemaParse(context)
    }()

    /// What the SAX callbacks of one reading collect, on the reading thread only (hence no
    /// dynamic exclusivity checks): reached through the parser's user data.
    final class Events {
        /// The parser, for its current line (set once created).
        @exclusivity(unchecked) var parser: xmlParserCtxtPtr?
        /// Errors of the file rather than of a row, in order: (line, fatal, message): those of the
        /// parser that stop it, and those reported before the first row (the root's).
        @exclusivity(unchecked) var errors: [(line: Int, fatal: Bool, message: String)] = []
        /// Elements already open: 0 outside the root.
        @exclusivity(unchecked) var depth = 0
        @exclusivity(unchecked) var sawRoot = false
        /// A reason to refuse the file found in a callback (a DOCTYPE, another root); the parser
        /// is stopped there.
        @exclusivity(unchecked) var refusal: XMLFileError?
        /// The row being read, which owns the schema errors reported meanwhile.
        @exclusivity(unchecked) var current: XMLDeclarationElement?
        /// Rows whose next one has started: to hand over.
        @exclusivity(unchecked) var completed: [XMLDeclarationElement] = []
        /// The column of the child element being read, nil outside one or for an unknown name.
        @exclusivity(unchecked) var currentColumn: Int?
        // libxml2 interns names in the parser's dictionary: one pointer per distinct name, so a
        // name is looked up once per file, then found again by its pointer among the few the file
        // uses (a linear search: no hashing per element).
        @exclusivity(unchecked) var namePointers: [UnsafePointer<xmlChar>] = []
        @exclusivity(unchecked) var nameCodes: [Int] = []
        let columnOfName: [String: Int] = Dictionary(
            uniqueKeysWithValues: ExportColumns.declarations.enumerated().compactMap { i, c in c.xmlName.map { ($0, i) } })
        static let declarationCode = -2

        /// The column named `name`; ``declarationCode`` for `declaration`, -1 for any other name.
        func code(_ name: UnsafePointer<xmlChar>) -> Int {
            if let i = namePointers.firstIndex(of: name) { return nameCodes[i] }
            let text = String(cString: name)
            let found = text == "declaration" ? Self.declarationCode : columnOfName[text] ?? -1
            namePointers.append(name)
            nameCodes.append(found)
            return found
        }

        /// The parser's line now (in full).
        var line: Int { parser.map { Int(xmlSAX2GetLineNumber(UnsafeMutableRawPointer($0))) } ?? 0 }

        /// Makes `row` the row being read; the one before is complete.
        func start(_ row: XMLDeclarationElement) {
            if let open = current { completed.append(open) }
            current = row
        }

        /// Text between declarations: blanks (indentation) are passed over, as the schema lets
        /// them by; anything else is a row, its first ``XMLDeclarationReader/maxStrayBytes``
        /// bytes kept to show in the reject. Text following a text row with no tag between
        /// (a comment, say) goes on that row: only a tag starts another row.
        func strayText(_ text: UnsafeBufferPointer<UInt8>) {
            var shown = text[...]
            if current?.strayText == nil {
                guard let first = text.firstIndex(where: { !FieldParsing.isASCIIBlank($0) }) else { return }
                // The parser's line is where the piece ends: back to its first character shown.
                let after = text[first...].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                start(XMLDeclarationElement(line: line - after, schemaErrors: [], strayText: ""))
                shown = text[first...]
            }
            guard let kept = current?.strayText?.utf8.count, kept < XMLDeclarationReader.maxStrayBytes else { return }
            // Cut before a character, not inside one (the parser hands over whole characters).
            var end = min(shown.endIndex, shown.startIndex + XMLDeclarationReader.maxStrayBytes - kept)
            while end < shown.endIndex, end > shown.startIndex, shown[end] & 0xC0 == 0x80 { end -= 1 }
            current?.strayText! += String(decoding: shown[..<end], as: UTF8.self)
        }

        func refuse(_ error: XMLFileError) {
            if refusal == nil { refusal = error }
            if let parser { xmlStopParser(parser) }
        }

        static func of(_ context: UnsafeMutableRawPointer?) -> Events {
            Unmanaged<Events>.fromOpaque(context!).takeUnretainedValue()
        }
    }

    public init(url: URL) { self.url = url }

    /// The export's root element.
    static let rootName = "exportDeclarations"

    /// Schema errors kept for one row (only the first is shown).
    static let maxErrorsPerRow = 8

    /// Most bytes of the text between declarations kept to show in a reject.
    static let maxStrayBytes = 200

    /// Most bytes of values one `declaration` element may hold (its values are a few dozen).
    static let maxElementBytes = 1 << 20

    /// Reads every `declaration` element, in order, into `handle`.
    public func read(_ handle: (XMLDeclarationElement) throws -> Void) throws {
        guard let schema = Self.schema else {
            throw XMLFileError(line: 0, message: "schéma XSD livré illisible : \(Self.schemaURL.path)")
        }
        ciblage_xml_silence_generic_errors()
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw XMLFileError(line: 0, message: "fichier XML illisible") }
        defer { close(fd) }
        let events = Events()
        // The callbacks reach it unretained: kept alive until the parser is freed.
        defer { withExtendedLifetime(events) {} }
        let eventsPointer = Unmanaged.passUnretained(events).toOpaque()

        var handler = xmlSAXHandler()
        handler.initialized = XML_SAX2_MAGIC
        handler.startElementNs = xmlStartElement
        handler.endElementNs = xmlEndElement
        handler.characters = xmlCharacters
        handler.cdataBlock = xmlCharacters
        handler.internalSubset = xmlDoctype
        // The first bytes tell libxml2 the encoding before the declaration is read.
        let chunkSize = 1 << 16
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: chunkSize)
        defer { buffer.deallocate() }
        var count = Self.fill(fd, buffer, 4)
        guard let parser = xmlCreatePushParserCtxt(&handler, eventsPointer, buffer, Int32(count), url.path) else {
            throw XMLFileError(line: 0, message: "fichier XML illisible")
        }
        defer { xmlFreeParserCtxt(parser) }
        events.parser = parser
        parser.pointee._private = eventsPointer
        xmlCtxtUseOptions(parser, Int32(XML_PARSE_NONET.rawValue))
        guard let validation = xmlSchemaNewValidCtxt(schema) else {
            throw XMLFileError(line: 0, message: "activation de la validation XSD impossible")
        }
        defer { xmlSchemaFreeValidCtxt(validation) }
        xmlSchemaSetValidStructuredErrors(validation, xmlCollectError, eventsPointer)
        xmlSchemaValidateSetLocator(validation, xmlParserLine, UnsafeMutableRawPointer(parser))
        guard let plug = xmlSchemaSAXPlug(validation, &parser.pointee.sax, &parser.pointee.userData) else {
            throw XMLFileError(line: 0, message: "activation de la validation XSD impossible")
        }
        defer { xmlSchemaSAXUnplug(plug) }
        // The parser's own errors go through its (now the plug's) handler, with the plug as user
        // data: they find the events through the parser (`_private`).
        parser.pointee.sax.pointee.serror = xmlCollectParserError

        /// Hands a row over; text between declarations is rejected even if the schema let it by.
        func handOver(_ row: XMLDeclarationElement) throws {
            var row = row
            if let text = row.strayText {
                row.strayText = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if row.schemaErrors.isEmpty { row.schemaErrors = [(Self.rootName, "texte hors de tout élément declaration")] }
            }
            try handle(row)
        }
        /// Hands over the rows completed by the last chunk; throws what refuses the file.
        func drain(status: Int32) throws {
            if let refusal = events.refusal { throw refusal }
            if status != 0, !events.errors.contains(where: { $0.fatal }) {
                let last = xmlCtxtGetLastError(UnsafeMutableRawPointer(parser))
                let message = last.flatMap { error in
                    error.pointee.message.map {
                        let text = String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines)
                        return ParserMessage.describe(code: error.pointee.code, text)
                    }
                } ?? "lecture interrompue"
                events.errors.append((last.map { Int($0.pointee.line) } ?? events.line, true, message))
            }
            if let fatal = events.errors.first(where: { $0.fatal }) {
                throw XMLFileError(line: fatal.line, message: "XML mal formé : \(fatal.message)")
            }
            if let error = events.errors.first {
                throw XMLFileError(line: error.line, message: SchemaMessage.fileReason(error.message))
            }
            for row in events.completed { try handOver(row) }
            events.completed.removeAll(keepingCapacity: true)
        }

        while true {
            count = Self.fill(fd, buffer, chunkSize)
            if count < 0 { throw XMLFileError(line: events.line, message: "lecture interrompue") }
            if count == 0 { break }
            try drain(status: xmlParseChunk(parser, buffer, Int32(count), 0))
        }
        try drain(status: xmlParseChunk(parser, nil, 0, 1))
        guard events.sawRoot else { throw XMLFileError(line: 1, message: "document XML vide") }
        if let last = events.current {
            events.current = nil
            try handOver(last)
        }
    }

    /// Reads up to `capacity` bytes of `fd` into `buffer`: how many (0 at the end, -1 on error).
    private static func fill(_ fd: Int32, _ buffer: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
        var total = 0
        while total < capacity {
            let n = Foundation.read(fd, buffer + total, capacity - total)
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

}

/// An element's values, end to end in one buffer, with each column's range. A column's text
/// arrives at once (its attribute, or the pieces the parser hands over for its one child
/// element, one after the other), so ranges stay contiguous. Read only once the element is
/// complete, when the buffer no longer moves.
final class XMLValueStorage {
    // Appended to for every value of the file, on one thread: without the dynamic exclusivity
    // check of a class's properties.
    @exclusivity(unchecked) private var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var capacity = 512
    @exclusivity(unchecked) private var count = 0
    @exclusivity(unchecked) private var starts: [Int]
    @exclusivity(unchecked) private var lengths: [Int]

    init(columns: Int) {
        base = .allocate(capacity: capacity)
        starts = Array(repeating: 0, count: columns)
        lengths = Array(repeating: 0, count: columns)
    }

    deinit { base.deallocate() }

    func append(_ column: Int, _ bytes: UnsafePointer<UInt8>, _ n: Int) {
        if count + n > capacity {
            while count + n > capacity { capacity *= 2 }
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            bigger.update(from: base, count: count)
            base.deallocate()
            base = bigger
        }
        if lengths[column] == 0 { starts[column] = count }
        (base + count).update(from: bytes, count: n)
        count += n
        lengths[column] += n
    }

    /// Bytes held, all columns together.
    var byteCount: Int { count }

    func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + starts[column], count: lengths[column])
    }
}

// MARK: SAX callbacks (C function pointers: the reading's state comes through the user data)

private func xmlStartElement(
    _ context: UnsafeMutableRawPointer?, _ localName: UnsafePointer<xmlChar>?, _ prefix: UnsafePointer<xmlChar>?,
    _ uri: UnsafePointer<xmlChar>?, _ namespaceCount: Int32, _ namespaces: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?,
    _ attributeCount: Int32, _ defaultedCount: Int32, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
) {
    let events = XMLDeclarationReader.Events.of(context)
    let depth = events.depth
    events.depth += 1
    guard let localName else { return }
    if depth == 0 {
        events.sawRoot = true
        let name = String(cString: localName)
        if name != XMLDeclarationReader.rootName {
            events.refuse(XMLFileError(line: 1, message: "élément racine « \(name) » inattendu (exportDeclarations attendu)"))
        }
    } else if depth == 1 {
        guard events.code(localName) == XMLDeclarationReader.Events.declarationCode else {
            events.refuse(
                XMLFileError(
                    line: events.line,
                    message: "non conforme au schéma XSD : élément « \(String(cString: localName)) » inattendu parmi les "
                        + "déclarations ; le schéma ne vérifie plus rien après lui, le fichier est refusé en entier"))
            return
        }
        let element = XMLDeclarationElement(line: events.line, schemaErrors: [])
        // Attributes come as (local name, prefix, URI, value, end of value): borrowed, no copy.
        if let attributes {
            for i in 0..<Int(attributeCount) {
                let base = attributes + 5 * i
                guard let name = base[0], let value = base[3], let end = base[4] else { continue }
                let c = events.code(name)
                if c >= 0, c < 4 { element.storage.append(c, value, end - value) }
            }
        }
        events.start(element)
        events.currentColumn = nil
    } else if depth == 2, let current = events.current, current.strayText == nil {
        let c = events.code(localName)
        events.currentColumn = c >= 4 ? c : nil  // 0–3 are the attributes
    }
}

private func xmlEndElement(
    _ context: UnsafeMutableRawPointer?, _ localName: UnsafePointer<xmlChar>?, _ prefix: UnsafePointer<xmlChar>?,
    _ uri: UnsafePointer<xmlChar>?
) {
    let events = XMLDeclarationReader.Events.of(context)
    events.depth -= 1
    if events.depth == 2 { events.currentColumn = nil }
}

/// Text and CDATA: a child's value, possibly in several pieces, or text between declarations. An
/// element holding more than ``XMLDeclarationReader/maxElementBytes`` of values refuses the file:
/// the parser hands text over in pieces, so without this a hostile value would be held whole (a
/// 60 MB value: 275 MiB).
private func xmlCharacters(_ context: UnsafeMutableRawPointer?, _ bytes: UnsafePointer<xmlChar>?, _ count: Int32) {
    let events = XMLDeclarationReader.Events.of(context)
    if events.depth == 1, let bytes {
        events.strayText(UnsafeBufferPointer(start: bytes, count: Int(count)))
        return
    }
    guard events.depth == 3, let column = events.currentColumn, let element = events.current, let bytes else { return }
    guard element.storage.byteCount + Int(count) <= XMLDeclarationReader.maxElementBytes else {
        let name = ExportColumns.declarations[column].xmlName ?? ""
        events.refuse(
            XMLFileError(
                line: events.line,
                message: "valeur démesurée : la déclaration de la ligne \(element.line) dépasse \(XMLDeclarationReader.maxElementBytes >> 20) Mio de texte (dans « \(name) »)"))
        return
    }
    element.storage.append(column, bytes, Int(count))
}

/// The format has no DTD: a DOCTYPE can only bring entities (billion laughs, one large entity
/// used many times). Refused here, before its internal subset is read.
private func xmlDoctype(
    _ context: UnsafeMutableRawPointer?, _ name: UnsafePointer<xmlChar>?, _ externalID: UnsafePointer<xmlChar>?,
    _ systemID: UnsafePointer<xmlChar>?
) {
    let events = XMLDeclarationReader.Events.of(context)
    events.refuse(
        XMLFileError(
            line: events.line, message: "déclaration DOCTYPE interdite (le format n'a pas de DTD ; aucune entité n'est développée)"))
}

/// The validator's locator: the parser's current line.
private func xmlParserLine(
    _ context: UnsafeMutableRawPointer?, _ file: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ line: UnsafeMutablePointer<UInt>?
) -> Int32 {
    guard let context else { return -1 }
    let parser = context.assumingMemoryBound(to: xmlParserCtxt.self)
    file?.pointee = nil
    line?.pointee = UInt(xmlSAX2GetLineNumber(UnsafeMutableRawPointer(parser)))
    return 0
}

/// Schema errors (user data: the events).
private func xmlCollectError(_ context: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let context, let error else { return }
    XMLDeclarationReader.Events.of(context).note(error)
}

/// The parser's errors (user data: the schema plug): the events are the parser's `_private`.
private func xmlCollectParserError(_ context: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let error, let parser = error.pointee.ctxt?.assumingMemoryBound(to: xmlParserCtxt.self),
        let events = parser.pointee._private
    else { return }
    XMLDeclarationReader.Events.of(events).note(error)
}

extension XMLDeclarationReader.Events {
    fileprivate func note(_ error: xmlErrorPtr) {
        let fromParser = error.pointee.domain == Int32(XML_FROM_PARSER.rawValue)
        // `<?xml version="1.1"?>`: libxml2 warns that it reads the document by XML 1.0's rules,
        // and does. Those rules are the stricter in what this format holds (a character XML 1.1
        // alone allows is still a fatal error): the file is read, not refused as malformed.
        if fromParser && error.pointee.level == XML_ERR_WARNING && error.pointee.code == Int32(XML_WAR_UNKNOWN_VERSION.rawValue) {
            return
        }
        let fatal = error.pointee.level == XML_ERR_FATAL || fromParser
        // The validator reports text in an element-only content once per piece the parser hands
        // over (a few hundred bytes): a row keeps its first few, the reject shows the first (a
        // 40 MB file of such text: 4.4 s and 61 MiB keeping them all, 0.8 s and 39 MiB now).
        if !fatal, let current, current.schemaErrors.count >= XMLDeclarationReader.maxErrorsPerRow { return }
        let message = error.pointee.message.map { String(cString: $0) }?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "erreur XML"
        // Reported while its row is read (the plug validates each event after our callback).
        if !fatal, current != nil {
            current!.schemaErrors.append((SchemaMessage.field(message), message))
        } else {
            errors.append((Int(error.pointee.line), fatal, fatal ? ParserMessage.describe(code: error.pointee.code, message) : message))
        }
    }
}
