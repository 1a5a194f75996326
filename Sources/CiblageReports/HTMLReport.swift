import Foundation

/// A self-contained French HTML report (no external file, script or font): sections of text,
/// tables and inline SVG charts, written under a temporary name and renamed into place.
public struct HTMLReport {
    public var title: String
    private var body = ""

    public init(title: String) { self.title = title }

    /// Escapes `&`, `<`, `>` and `"`.
    public static func escape(_ text: String) -> String {
        // Bytes, not Characters: these four are ASCII and never inside a multi-byte sequence.
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 }) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            switch byte {
            case 0x26: out += Array("&amp;".utf8)
            case 0x3C: out += Array("&lt;".utf8)
            case 0x3E: out += Array("&gt;".utf8)
            case 0x22: out += Array("&quot;".utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public mutating func heading(_ text: String, level: Int = 2) {
        body += "<h\(level)>\(Self.escape(text))</h\(level)>\n"
    }

    public mutating func paragraph(_ text: String) { body += "<p>\(Self.escape(text))</p>\n" }

    /// A table; cells that look like numbers are right-aligned.
    public mutating func table(header: [String], rows: [[String]]) {
        body += "<table><thead><tr>" + header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for row in rows {
            body += "<tr>"
            for cell in row {
                let numeric = !cell.isEmpty && cell.allSatisfy { "0123456789 ,.%−-€".contains($0) }
                body += numeric ? "<td class=\"n\">\(Self.escape(cell))</td>" : "<td>\(Self.escape(cell))</td>"
            }
            body += "</tr>\n"
        }
        body += "</tbody></table>\n"
    }

    /// One series of a bar chart.
    public struct Series {
        public var name: String
        public var color: String
        public var values: [Double]
        public init(name: String, color: String, values: [Double]) {
            self.name = name
            self.color = color
            self.values = values
        }
    }

    /// Horizontal bars, one row per category; series stacked (counts) or side by side (shares).
    public mutating func barChart(
        title: String, categories: [String], series: [Series], stacked: Bool = true, format: (Double) -> String
    ) {
        guard !categories.isEmpty else { return noData(title) }
        let labelWidth = 190.0
        let plotWidth = 520.0
        let bar = stacked ? 14.0 : 9.0
        let rowHeight = stacked ? 20.0 : Double(series.count) * bar + 6
        let top = 30.0
        let height = top + Double(categories.count) * rowHeight + 10
        let totals = categories.indices.map { i in
            stacked ? series.reduce(0) { $0 + $1.values[i] } : series.map { $0.values[i] }.max() ?? 0
        }
        let maxValue = max(totals.max() ?? 0, 1e-9)
        var svg = "<figure><figcaption>\(Self.escape(title))</figcaption>\n"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + plotWidth + 90))\" height=\"\(Int(height))\" role=\"img\">\n"
        var x = labelWidth
        for s in series {
            svg += "<rect x=\"\(Int(x))\" y=\"6\" width=\"12\" height=\"12\" fill=\"\(s.color)\"/>"
            svg += "<text x=\"\(Int(x + 16))\" y=\"16\" font-size=\"12\">\(Self.escape(s.name))</text>\n"
            x += 24 + Double(s.name.count) * 7
        }
        for (i, category) in categories.enumerated() {
            let y = top + Double(i) * rowHeight
            svg += "<text x=\"\(Int(labelWidth - 6))\" y=\"\(Int(y + bar - 3))\" font-size=\"12\" text-anchor=\"end\">\(Self.escape(category))</text>"
            var offset = 0.0
            for (k, s) in series.enumerated() {
                let w = s.values[i] / maxValue * plotWidth
                let by = stacked ? y : y + Double(k) * bar
                svg += "<rect x=\"\(fmt(labelWidth + offset))\" y=\"\(fmt(by))\" width=\"\(fmt(w))\" height=\"\(fmt(bar - 2))\" fill=\"\(s.color)\"><title>\(Self.escape("\(category) — \(s.name) : \(format(s.values[i]))"))</title></rect>"
                if stacked { offset += w }
                if !stacked {
                    svg += "<text x=\"\(fmt(labelWidth + w + 4))\" y=\"\(fmt(by + bar - 3))\" font-size=\"10\">\(Self.escape(format(s.values[i])))</text>"
                }
            }
            if stacked {
                svg += "<text x=\"\(fmt(labelWidth + offset + 4))\" y=\"\(Int(y + bar - 3))\" font-size=\"11\">\(Self.escape(format(totals[i])))</text>"
            }
            svg += "\n"
        }
        svg += "</svg></figure>\n"
        body += svg
    }

    /// One line of a line chart: points (x, y), both between 0 and 1.
    public struct Line {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        /// Dashed (a reference such as the diagonal).
        public var dashed: Bool
        public init(name: String, color: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name
            self.color = color
            self.points = points
            self.dashed = dashed
        }
    }

    /// Lines over the unit square (gains curves, calibration), axes labelled in percent.
    public mutating func lineChart(title: String, xLabel: String, yLabel: String, lines: [Line]) {
        let (left, top, size) = (60.0, 20.0, 360.0)
        var svg = "<figure><figcaption>\(Self.escape(title))</figcaption>\n"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + size + 330))\" height=\"\(Int(top + size + 50))\" role=\"img\">\n"
        svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(size))\" height=\"\(fmt(size))\" fill=\"none\" stroke=\"#9aa5b1\"/>"
        for tick in stride(from: 0.0, through: 1.0, by: 0.2) {
            let x = left + tick * size
            let y = top + (1 - tick) * size
            let label = "\(Int((tick * 100).rounded())) %"
            svg += "<text x=\"\(fmt(x))\" y=\"\(fmt(top + size + 16))\" font-size=\"11\" text-anchor=\"middle\">\(label)</text>"
            svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(label)</text>"
            svg += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(left + size))\" y2=\"\(fmt(y))\" stroke=\"#e3e7ec\"/>\n"
        }
        svg += "<text x=\"\(fmt(left + size / 2))\" y=\"\(fmt(top + size + 38))\" font-size=\"12\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>"
        svg += "<text x=\"14\" y=\"\(fmt(top + size / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(fmt(top + size / 2)))\">\(Self.escape(yLabel))</text>\n"
        for (k, line) in lines.enumerated() {
            let path = line.points.map { "\(fmt(left + min(max($0.x, 0), 1) * size)),\(fmt(top + (1 - min(max($0.y, 0), 1)) * size))" }
                .joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"5 4\"" : "")><title>\(Self.escape(line.name))</title></polyline>\n"
            let ly = top + 10 + Double(k) * 18
            svg += "<line x1=\"\(fmt(left + size + 16))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(left + size + 40))\" y2=\"\(fmt(ly))\" stroke=\"\(line.color)\" stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"5 4\"" : "")/>"
            svg += "<text x=\"\(fmt(left + size + 46))\" y=\"\(fmt(ly + 4))\" font-size=\"11\">\(Self.escape(line.name))</text>\n"
        }
        svg += "</svg></figure>\n"
        body += svg
    }

    /// One row of a box plot: whiskers P10–P90, box P25–P75, a line at the median.
    public struct Box {
        public var label: String
        public var p10, p25, median, p75, p90: Double
        public init(label: String, p10: Double, p25: Double, median: Double, p75: Double, p90: Double) {
            self.label = label
            self.p10 = p10
            self.p25 = p25
            self.median = median
            self.p75 = p75
            self.p90 = p90
        }
    }

    /// Horizontal box plots on one shared scale, with an optional reference line (e.g. a
    /// published national figure).
    public mutating func boxPlot(title: String, boxes: [Box], reference: (label: String, value: Double)? = nil, format: (Double) -> String) {
        guard !boxes.isEmpty else { return noData(title) }
        let labelWidth = 230.0
        let plotWidth = 560.0
        let rowHeight = 18.0
        let top = 24.0
        let height = top + Double(boxes.count) * rowHeight + 30
        var lo = boxes.map(\.p10).min()!
        var hi = boxes.map(\.p90).max()!
        if let reference {
            lo = min(lo, reference.value)
            hi = max(hi, reference.value)
        }
        let ticks = Self.roundTicks(lo, hi)
        lo = ticks.first!
        hi = ticks.last!
        func x(_ v: Double) -> Double { labelWidth + (v - lo) / (hi - lo) * plotWidth }
        var svg = "<figure><figcaption>\(Self.escape(title))</figcaption>\n"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + plotWidth + 40))\" height=\"\(Int(height))\" role=\"img\">\n"
        for (i, b) in boxes.enumerated() {
            let y = top + Double(i) * rowHeight
            let mid = y + rowHeight / 2 - 2
            svg += "<text x=\"\(fmt(labelWidth - 6))\" y=\"\(fmt(mid + 4))\" font-size=\"11\" text-anchor=\"end\">\(Self.escape(b.label))</text>"
            svg += "<line x1=\"\(fmt(x(b.p10)))\" x2=\"\(fmt(x(b.p90)))\" y1=\"\(fmt(mid))\" y2=\"\(fmt(mid))\" stroke=\"#555\"/>"
            svg += "<rect x=\"\(fmt(x(b.p25)))\" y=\"\(fmt(y + 2))\" width=\"\(fmt(max(1, x(b.p75) - x(b.p25))))\" height=\"\(fmt(rowHeight - 8))\" fill=\"#9cc3e6\" stroke=\"#1f5fa8\">"
            svg += "<title>\(Self.escape("\(b.label) : P10 \(format(b.p10)), P25 \(format(b.p25)), médiane \(format(b.median)), P75 \(format(b.p75)), P90 \(format(b.p90))"))</title></rect>"
            svg += "<line x1=\"\(fmt(x(b.median)))\" x2=\"\(fmt(x(b.median)))\" y1=\"\(fmt(y + 1))\" y2=\"\(fmt(y + rowHeight - 5))\" stroke=\"#0b2e59\" stroke-width=\"2\"/>\n"
        }
        let bottom = top + Double(boxes.count) * rowHeight
        for v in ticks {
            svg += "<text x=\"\(fmt(x(v)))\" y=\"\(fmt(bottom + 14))\" font-size=\"10\" text-anchor=\"middle\">\(Self.escape(format(v)))</text>"
        }
        if let reference {
            svg += "<line x1=\"\(fmt(x(reference.value)))\" x2=\"\(fmt(x(reference.value)))\" y1=\"\(fmt(top - 4))\" y2=\"\(fmt(bottom))\" stroke=\"#c0504d\" stroke-dasharray=\"4 3\"/>"
            svg += "<text x=\"\(fmt(x(reference.value) + 4))\" y=\"\(fmt(top - 8))\" font-size=\"10\" fill=\"#c0504d\">\(Self.escape(reference.label))</text>"
        }
        svg += "\n</svg></figure>\n"
        body += svg
    }

    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A chart with nothing to draw is said in words, never drawn blank.
    private mutating func noData(_ title: String) {
        body += "<p class=\"vide\"><strong>\(Self.escape(title))</strong> : aucune donnée à représenter.</p>\n"
    }

    /// Round axis ticks covering [`lo`, `hi`]: about five, spaced by 1, 2, 2,5 or 5 × 10ⁿ and
    /// multiples of that step (2 000, 4 000… rather than 1 633, 8 491).
    public static func roundTicks(_ lo: Double, _ hi: Double, about count: Int = 5) -> [Double] {
        var (lo, hi) = (lo, hi)
        if !(hi > lo) { (lo, hi) = (lo - 0.5 * max(1, abs(lo)), hi + 0.5 * max(1, abs(hi))) }
        let raw = (hi - lo) / Double(max(1, count - 1))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = (lo / step).rounded(.down)
        let last = (hi / step).rounded(.up)
        return stride(from: first, through: last, by: 1).map { ($0 * step * 1e9).rounded() / 1e9 }
    }

    /// The whole document.
    public var html: String {
        """
        <!DOCTYPE html>
        <html lang="fr"><head><meta charset="utf-8"><title>\(Self.escape(title))</title>
        <style>
        body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em;color:#222;max-width:1100px}
        h1{color:#1d3f72}h2{color:#1d3f72;border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:1.6em}
        table{border-collapse:collapse;margin:.6em 0;font-size:13px}th,td{border:1px solid #ccd;padding:3px 8px}
        th{background:#eef1f7;text-align:left}td.n{text-align:right;white-space:nowrap}
        figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.3em}
        </style></head><body>
        <h1>\(Self.escape(title))</h1>
        \(body)</body></html>

        """
    }

    /// Writes the report to `url` through a temporary name and a rename (see ``OutputFile``).
    public func write(to url: URL) throws {
        let file = try OutputFile(url: url)
        try file.write(html)
        try file.commit()
    }

    /// Writes the report as one file of `batch`, renamed into place with the others.
    public func write(to url: URL, in batch: OutputBatch) throws {
        try batch.add(url, html.utf8)
    }
}
