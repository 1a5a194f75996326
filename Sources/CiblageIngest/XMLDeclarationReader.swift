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

    public var encoding: TextEncoding { .utf8 }

    public func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8> { storage.bytes(column) }

    public func fieldName(_ column: Int) -> String { ExportColumns.declarations[column].xmlName ?? "" }

    /// A short rendering of the element for the rejects file.
    public var content: String {
        ExportColumns.declarations.indices.compactMap { i in
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

/// Streams an XML export of declarations with libxml2's `xmlTextReader`, validating it against
/// the shipped XSD while reading (`XML_PARSE_NONET`, entities never expanded, a DOCTYPE refused).
///
/// libxml2 parses ahead of the node it returns, so schema errors are matched to elements by line:
/// an element owns the errors reported from its start tag up to the next element's start tag.
/// An element is therefore handed to the sink once the next one starts (or the document ends).
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

    final class ErrorLog {
        var errors: [(line: Int, fatal: Bool, message: String)] = []
    }

    public init(url: URL) { self.url = url }

    /// Reads every `declaration` element, in order, into `handle`.
    public func read(_ handle: (XMLDeclarationElement) throws -> Void) throws {
        guard let schema = Self.schema else {
            throw XMLFileError(line: 0, message: "schéma XSD livré illisible : \(Self.schemaURL.path)")
        }
        ciblage_xml_silence_generic_errors()
        let options = Int32(XML_PARSE_NONET.rawValue)
        guard let reader = xmlReaderForFile(url.path, nil, options) else {
            throw XMLFileError(line: 0, message: "fichier XML illisible")
        }
        defer { xmlFreeTextReader(reader) }
        let log = ErrorLog()
        let logPointer = Unmanaged.passUnretained(log).toOpaque()
        xmlTextReaderSetStructuredErrorHandler(reader, xmlCollectError, logPointer)
        guard xmlTextReaderSetSchema(reader, schema) == 0 else {
            throw XMLFileError(line: 0, message: "activation de la validation XSD impossible")
        }
        // Elements past line 65 535 keep their own line (libxml2's is 16 bits): without it,
        // they all had 65535, errors (full lines) were matched to the wrong elements, and
        // rejects named line 65535.
        ElementLines.track(reader)
        defer { ElementLines.track(nil) }

        let columnOfName: [String: Int] = Dictionary(
            uniqueKeysWithValues: ExportColumns.declarations.enumerated().compactMap { i, c in c.xmlName.map { ($0, i) } })
        // libxml2 interns names in the reader's dictionary: one pointer per distinct name, so a
        // name is looked up once per file, not once per element.
        var names: [UnsafePointer<xmlChar>: String] = [:]
        var columns: [UnsafePointer<xmlChar>: Int] = [:]
        func localName() -> String {
            guard let pointer = xmlTextReaderConstLocalName(reader) else { return "" }
            if let known = names[pointer] { return known }
            let name = String(cString: pointer)
            names[pointer] = name
            return name
        }
        /// The column of the current node's name, -1 when it has none.
        func column() -> Int {
            guard let pointer = xmlTextReaderConstLocalName(reader) else { return -1 }
            if let known = columns[pointer] { return known }
            let found = columnOfName[String(cString: pointer)] ?? -1
            columns[pointer] = found
            return found
        }
        var current: XMLDeclarationElement?
        var currentColumn: Int?
        var sawRoot = false

        func flush(before line: Int?) throws {
            if log.errors.isEmpty {  // the common case: nothing to sort out
                if let element = current {
                    current = nil
                    try handle(element)
                }
                return
            }
            // Errors reported before `line` belong to the pending element (or, with none, to the root).
            var owned: [(field: String, message: String)] = []
            var remaining: [(line: Int, fatal: Bool, message: String)] = []
            for e in log.errors {
                if let line, e.line >= line { remaining.append(e); continue }
                if e.fatal { throw XMLFileError(line: e.line, message: "XML mal formé : \(e.message)") }
                if current == nil || e.line < current!.line {
                    throw XMLFileError(line: e.line, message: "non conforme au schéma XSD : \(e.message)")
                }
                owned.append((Self.fieldOf(e.message), e.message))
            }
            log.errors = remaining
            if var element = current {
                element.schemaErrors = owned
                current = nil
                try handle(element)
            }
        }

        while true {
            let status = xmlTextReaderRead(reader)
            if status < 0 {
                if let last = xmlGetLastError(), !log.errors.contains(where: { $0.fatal }) {
                    let message = last.pointee.message.map { String(cString: $0) }?
                        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "lecture interrompue"
                    log.errors.append((Int(last.pointee.line), true, message))
                }
                let fatal = log.errors.first { $0.fatal } ?? log.errors.last
                throw XMLFileError(
                    line: fatal?.line ?? xmlTextReaderGetParserLineNumber(reader).asInt,
                    message: "XML mal formé : \(fatal?.message ?? "lecture interrompue")")
            }
            if status == 0 { break }
            let type = xmlTextReaderNodeType(reader)
            let depth = xmlTextReaderDepth(reader)
            switch type {
            case Int32(XML_READER_TYPE_DOCUMENT_TYPE.rawValue):
                // The format has no DTD: a DOCTYPE can only bring entities (billion laughs, one
                // large entity used many times). Refused before any of them is expanded.
                throw XMLFileError(
                    line: xmlTextReaderGetParserLineNumber(reader).asInt,
                    message: "déclaration DOCTYPE interdite (le format n'a pas de DTD ; aucune entité n'est développée)")
            case Int32(XML_READER_TYPE_ELEMENT.rawValue):
                let name = localName()
                if depth == 0 {
                    sawRoot = true
                    guard name == "exportDeclarations" else {
                        throw XMLFileError(line: 1, message: "élément racine « \(name) » inattendu (exportDeclarations attendu)")
                    }
                } else if depth == 1 && name == "declaration" {
                    let line = ElementLines.line(of: xmlTextReaderCurrentNode(reader))
                    try flush(before: line)
                    let element = XMLDeclarationElement(
                        line: line, schemaErrors: [])
                    // Attributes are walked in place: borrowed values, no copy per attribute.
                    while xmlTextReaderMoveToNextAttribute(reader) == 1 {
                        let c = column()
                        if c >= 0, c < 4, let value = xmlTextReaderConstValue(reader) {
                            element.storage.append(c, value, strlen(value))
                        }
                    }
                    xmlTextReaderMoveToElement(reader)
                    current = element
                } else if depth == 2, current != nil {
                    let c = column()
                    currentColumn = c >= 4 ? c : nil  // 0–3 are the attributes
                }
            case Int32(XML_READER_TYPE_TEXT.rawValue), Int32(XML_READER_TYPE_CDATA.rawValue):
                if depth == 3, let column = currentColumn, current != nil {
                    if let value = xmlTextReaderConstValue(reader) {
                        current!.storage.append(column, value, strlen(value))
                    }
                }
            case Int32(XML_READER_TYPE_END_ELEMENT.rawValue):
                if depth == 2 { currentColumn = nil }
            default:
                break
            }
        }
        guard sawRoot else { throw XMLFileError(line: 1, message: "document XML vide") }
        try flush(before: nil)
    }

    /// The element or attribute a libxml2 schema message names (`Element '{ns}etp': …`).
    static func fieldOf(_ message: String) -> String {
        if let range = message.range(of: "attribute '") {
            return String(message[range.upperBound...].prefix { $0 != "'" })
        }
        if let start = message.range(of: "Element '") {
            var name = message[start.upperBound...].prefix { $0 != "'" }
            if let brace = name.lastIndex(of: "}") { name = name[name.index(after: brace)...] }
            return String(name)
        }
        return ""
    }

}

/// An element's values, end to end in one buffer, with each column's range. A column's text
/// arrives in one piece (its attribute, or the text nodes of its one child element), so ranges
/// stay contiguous. Read only once the element is complete, when the buffer no longer moves.
final class XMLValueStorage {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity = 512
    private var count = 0
    private var starts: [Int]
    private var lengths: [Int]

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

    func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + starts[column], count: lengths[column])
    }
}

extension Int32 {
    fileprivate var asInt: Int { Int(self) }
}

/// The full line of each element's start tag. libxml2 keeps a node's line in 16 bits: past line
/// 65 535, `xmlGetLineNo` answers 65535 for every element, while errors carry the parser's full
/// line. A node callback registered for the reading thread (`xmlRegisterNodeDefault`), called
/// as each node is built, when the parser stands on its start tag, notes the parser's line in
/// the node's `_private`, a field libxml2 leaves to applications.
enum ElementLines {
    /// The reader whose elements the current thread's callback notes.
    private static let readerKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create")
        return key
    }()

    private static let note: xmlRegisterNodeFunc = { node in
        guard let node, node.pointee.type == XML_ELEMENT_NODE, let reader = pthread_getspecific(ElementLines.readerKey) else {
            return
        }
        node.pointee._private = UnsafeMutableRawPointer(bitPattern: Int(xmlTextReaderGetParserLineNumber(OpaquePointer(reader))))
    }

    /// Notes the line of every element `reader` builds on this thread from now on (`nil`: stops).
    static func track(_ reader: xmlTextReaderPtr?) {
        pthread_setspecific(readerKey, reader.map { UnsafeRawPointer($0) })
        xmlRegisterNodeDefault(reader == nil ? nil : note)
    }

    /// The line of `node`'s start tag, noted when it was built (else libxml2's own).
    static func line(of node: xmlNodePtr) -> Int {
        if let noted = node.pointee._private { return Int(bitPattern: noted) }
        return Int(xmlGetLineNo(node))
    }
}

private func xmlCollectError(_ context: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let context, let error else { return }
    let log = Unmanaged<XMLDeclarationReader.ErrorLog>.fromOpaque(context).takeUnretainedValue()
    let message = error.pointee.message.map { String(cString: $0) }?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "erreur XML"
    let fatal = error.pointee.level == XML_ERR_FATAL || error.pointee.domain == Int32(XML_FROM_PARSER.rawValue)
    log.errors.append((Int(error.pointee.line), fatal, message))
}
