import CXGBoost
import Foundation

/// Gradient-boosted trees through XGBoost's C library: fitted on the labelled controls, they
/// catch thresholds and interactions a linear score misses (occupation near 100 %, billing
/// bands, manager-level patterns). Their exact per-line SHAP contributions (`pred_contribs`)
/// explain each score the way the logistic coefficients do: they add up, with the bias, to the
/// line's log-odds.
///
/// The parameters are fixed, not tuned to any data set: shallow trees (depth 3), a small
/// learning rate, a minimum weight per leaf, L2 on the leaves, every row and column used (no
/// random sampling: the same data give the same model), monotone constraints where the
/// direction is known.
public final class BoostedTrees {
    /// Boosting rounds (trees).
    public static let rounds = 60
    static let parameters: [(String, String)] = [
        ("objective", "binary:logistic"), ("max_depth", "3"), ("eta", "0.15"), ("min_child_weight", "5"), ("lambda", "2"),
        ("subsample", "1"), ("colsample_bytree", "1"), ("tree_method", "hist"), ("max_bin", "64"), ("nthread", "1"),
        ("seed", "0"), ("verbosity", "0"),
    ]

    private var handle: BoosterHandle?
    /// Columns the trees read (features, then training-only covariates).
    public let columns: Int

    /// The trees of a stored model (XGBoost's JSON).
    public init(json: String, columns: Int) throws {
        self.columns = columns
        try Self.check(XGBoosterCreate(nil, 0, &handle), "création du modèle")
        let bytes = Array(json.utf8)
        try bytes.withUnsafeBytes { raw in
            try Self.check(XGBoosterLoadModelFromBuffer(handle, raw.baseAddress, bst_ulong(raw.count)), "lecture du modèle stocké")
        }
    }

    /// Fits trees on `x` (one row per control, `nil` for a missing value, which the trees route
    /// on their own) against `y` (0 or 1). `monotone` gives each column's constraint (+1
    /// increasing, −1 decreasing, 0 none).
    public init(x: [[Double?]], y: [Double], monotone: [Int]) throws {
        columns = monotone.count
        let matrix = try Self.matrix(x, columns: columns)
        defer { XGDMatrixFree(matrix) }
        let labels = y.map(Float.init)
        try labels.withUnsafeBufferPointer {
            try Self.check(XGDMatrixSetFloatInfo(matrix, "label", $0.baseAddress, bst_ulong($0.count)), "étiquettes")
        }
        var matrices: [DMatrixHandle?] = [matrix]
        try Self.check(XGBoosterCreate(&matrices, 1, &handle), "création du modèle")
        for (name, value) in Self.parameters { try Self.check(XGBoosterSetParam(handle, name, value), "paramètre \(name)") }
        let constraints = "(" + monotone.map(String.init).joined(separator: ",") + ")"
        try Self.check(XGBoosterSetParam(handle, "monotone_constraints", constraints), "contraintes monotones")
        for round in 0..<Self.rounds { try Self.check(XGBoosterUpdateOneIter(handle, Int32(round), matrix), "apprentissage") }
    }

    deinit { XGBoosterFree(handle) }

    /// The model as XGBoost's JSON, to be stored and read back by ``init(json:columns:)``.
    public func json() throws -> String {
        var length: bst_ulong = 0
        var pointer: UnsafePointer<CChar>?
        try Self.check(XGBoosterSaveModelToBuffer(handle, "{\"format\": \"json\"}", &length, &pointer), "écriture du modèle")
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: Int(length)), as: UTF8.self)
    }

    /// The log-odds of each row.
    public func margins(_ x: [[Double?]]) throws -> [Double] {
        try predict(x, type: 1).values
    }

    /// Each row's exact SHAP contributions to its log-odds: one per column, then the bias; they
    /// add up to the row's margin.
    public func contributions(_ x: [[Double?]]) throws -> [[Double]] {
        let (values, width) = try predict(x, type: 2)
        return (0..<x.count).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
    }

    /// `type`: 1 margins, 2 contributions. Returns the flat values and the width of a row.
    private func predict(_ x: [[Double?]], type: Int) throws -> (values: [Double], width: Int) {
        guard !x.isEmpty else { return ([], type == 2 ? columns + 1 : 1) }
        let matrix = try Self.matrix(x, columns: columns)
        defer { XGDMatrixFree(matrix) }
        let config = "{\"type\": \(type), \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}"
        var shape: UnsafePointer<bst_ulong>?
        var dimension: bst_ulong = 0
        var result: UnsafePointer<Float>?
        try Self.check(XGBoosterPredictFromDMatrix(handle, matrix, config, &shape, &dimension, &result), "prédiction")
        var count = 1
        for d in 0..<Int(dimension) { count *= Int(shape![d]) }
        let values = (0..<count).map { Double(result![$0]) }
        return (values, count / x.count)
    }

    private static func matrix(_ x: [[Double?]], columns: Int) throws -> DMatrixHandle? {
        var flat = [Float](repeating: .nan, count: x.count * columns)
        for (i, row) in x.enumerated() {
            for (j, value) in row.enumerated() where j < columns {
                if let value, value.isFinite { flat[i * columns + j] = Float(value) }
            }
        }
        var matrix: DMatrixHandle?
        try flat.withUnsafeBufferPointer {
            try check(XGDMatrixCreateFromMat($0.baseAddress, bst_ulong(x.count), bst_ulong(columns), .nan, &matrix), "matrice")
        }
        return matrix
    }

    private static func check(_ status: Int32, _ step: String) throws {
        guard status == 0 else {
            let message = XGBGetLastError().map { String(cString: $0) } ?? ""
            throw BoostingError(step: step, message: message)
        }
    }
}

/// An XGBoost call that failed.
public struct BoostingError: Error, CustomStringConvertible {
    public var step: String
    public var message: String
    public var description: String { "arbres boostés (XGBoost), \(step) : \(message)" }
}

/// The trees of a stored XGBoost model, read from its JSON, with the exact path-dependent
/// TreeSHAP algorithm (Lundberg, Erion and Lee, 2018) that XGBoost's `pred_contribs` runs,
/// ported here because the library's own takes about 70 µs per line for 60 trees — four seconds
/// for the national list. A tree's SHAP values depend on a line only through the sides it takes
/// at the tree's splits, so they are computed once per pattern of sides (128 for a depth-3
/// tree) and looked up per line. The tests check that both give the same contributions on
/// every line.
public struct TreeEnsemble: Sendable {
    /// One node; a leaf has `left < 0` and its value in `threshold`. Children are indices in the
    /// same tree (offset by the tree's first node).
    struct Node: Sendable {
        var left: Int32
        var right: Int32
        var feature: Int32
        /// The split threshold (`x < threshold` goes left), or the leaf value.
        var threshold: Float
        var defaultLeft: Bool
        var cover: Double
        /// Cover-weighted mean of the leaves under the node.
        var mean: Double
        /// The node's position among its tree's splits (its bit in a decision pattern).
        var bit: Int32 = -1
    }

    /// The SHAP values of one tree depend on a line only through the side it takes at each of
    /// the tree's splits: with at most ``maximumTabulatedSplits`` splits (a depth-3 tree has 7),
    /// every pattern of sides is computed once, and a line's contributions are a table look-up.
    static let maximumTabulatedSplits = 10
    /// Per tree: its splits (node indices), and for each pattern of sides the non-zero
    /// contributions (column, value). Empty for a tree too large to tabulate.
    let splits: [[Int]]
    let tables: [[[(column: Int32, value: Double)]]]

    /// Every tree's nodes end to end; `roots` gives where each tree starts.
    let nodes: [Node]
    let roots: [Int]
    /// Log-odds before any tree (from XGBoost's `base_score`).
    public let baseMargin: Double
    /// Columns the trees read.
    public let columns: Int
    private let maxDepth: Int
    /// Whether every tree has its table (the recursion then never runs for a line).
    private let everyTreeTabulated: Bool

    /// Reads XGBoost's JSON model (`learner.gradient_booster.model.trees`); `tabulate: false`
    /// runs the recursion for every line instead of the tables (the tests compare both).
    public init(json: String, columns: Int, tabulate: Bool = true) throws {
        struct Model: Decodable {
            struct Learner: Decodable {
                struct Param: Decodable { var base_score: String }
                struct Booster: Decodable {
                    struct Inner: Decodable { var trees: [JSONTree] }
                    var model: Inner
                }
                var learner_model_param: Param
                var gradient_booster: Booster
            }
            var learner: Learner
        }
        struct JSONTree: Decodable {
            var left_children: [Int32]
            var right_children: [Int32]
            var split_indices: [Int32]
            var split_conditions: [Float]
            var default_left: [Int]
            var sum_hessian: [Double]
        }
        let model = try JSONDecoder().decode(Model.self, from: Data(json.utf8))
        let base = Double(model.learner.learner_model_param.base_score) ?? 0.5
        baseMargin = log(base / (1 - base))
        self.columns = columns
        var nodes: [Node] = []
        var roots: [Int] = []
        var deepest = 0
        for t in model.learner.gradient_booster.model.trees {
            let offset = nodes.count
            roots.append(offset)
            var tree = t.left_children.indices.map { n in
                Node(
                    left: t.left_children[n] < 0 ? -1 : t.left_children[n] + Int32(offset),
                    right: t.right_children[n] < 0 ? -1 : t.right_children[n] + Int32(offset), feature: t.split_indices[n],
                    threshold: t.split_conditions[n], defaultLeft: t.default_left[n] != 0, cover: t.sum_hessian[n], mean: 0)
            }
            func fill(_ n: Int, _ depth: Int) -> Double {
                deepest = max(deepest, depth)
                if tree[n].left < 0 {
                    tree[n].mean = Double(tree[n].threshold)
                } else {
                    let (l, r) = (Int(tree[n].left) - offset, Int(tree[n].right) - offset)
                    tree[n].mean = (fill(l, depth + 1) * tree[l].cover + fill(r, depth + 1) * tree[r].cover) / tree[n].cover
                }
                return tree[n].mean
            }
            _ = fill(0, 0)
            nodes += tree
        }
        maxDepth = deepest
        // Tabulate each tree's contributions over the patterns of sides at its splits.
        var splits: [[Int]] = []
        for (t, root) in roots.enumerated() {
            let end = t + 1 < roots.count ? roots[t + 1] : nodes.count
            let inner = (root..<end).filter { nodes[$0].left >= 0 }
            for (k, n) in inner.enumerated() { nodes[n].bit = Int32(k) }
            splits.append(inner)
        }
        self.nodes = nodes
        self.roots = roots
        self.splits = splits
        var tables: [[[(column: Int32, value: Double)]]] = []
        var path = [PathElement](repeating: PathElement(), count: (deepest + 3) * (deepest + 4))
        var phi = [Double](repeating: 0, count: columns + 1)
        for (t, root) in roots.enumerated() {
            guard tabulate, splits[t].count <= Self.maximumTabulatedSplits else {
                tables.append([])
                continue
            }
            var table: [[(column: Int32, value: Double)]] = []
            for pattern in 0..<(1 << splits[t].count) {
                for j in phi.indices { phi[j] = 0 }
                nodes.withUnsafeBufferPointer { nodes in
                    phi.withUnsafeMutableBufferPointer { phi in
                        path.withUnsafeMutableBufferPointer { path in
                            Self.shap(nodes, .pattern(pattern), phi, node: root, path: path.baseAddress!, parent: 0, depth: 0, zero: 1, one: 1, feature: -1)
                        }
                    }
                }
                table.append(phi.indices.compactMap { j in phi[j] != 0 ? (Int32(j), phi[j]) : nil })
            }
            tables.append(table)
        }
        self.tables = tables
        everyTreeTabulated = tables.allSatisfy { !$0.isEmpty }
    }

    /// How the recursion picks the side a line takes at a split: from the line's values, or
    /// from a pattern of sides (bit set: left).
    enum Sides {
        case values(UnsafeBufferPointer<Float>)
        case pattern(Int)
    }

    /// The features as the trees compare them: Float, NaN for missing.
    func floats(_ values: [Double?]) -> [Float] {
        values.map { v in v.flatMap { $0.isFinite ? Float($0) : nil } ?? .nan }
    }

    /// Whether a value goes left: missing → the default side; else `x < threshold`.
    @inline(__always)
    static func goesLeft(_ node: Node, _ x: UnsafeBufferPointer<Float>) -> Bool {
        let v = x[Int(node.feature)]
        return v.isNaN ? node.defaultLeft : v < node.threshold
    }

    /// The child a value goes to.
    @inline(__always)
    static func next(_ node: Node, _ x: UnsafeBufferPointer<Float>) -> Int {
        Int(goesLeft(node, x) ? node.left : node.right)
    }

    /// The line's log-odds.
    public func margin(_ values: [Double?]) -> Double {
        let x = floats(values)
        return x.withUnsafeBufferPointer { x in
            nodes.withUnsafeBufferPointer { nodes in
                var total = baseMargin
                for root in roots {
                    var n = root
                    while nodes[n].left >= 0 { n = Self.next(nodes[n], x) }
                    total += Double(nodes[n].threshold)
                }
                return total
            }
        }
    }

    /// Exact SHAP contributions of the line to its log-odds: one per column, then the bias
    /// (base margin plus each tree's mean); they add up to ``margin(_:)``.
    public func contributions(_ values: [Double?]) -> [Double] {
        let x = floats(values)
        var phi = [Double](repeating: 0, count: columns + 1)
        phi[columns] = baseMargin
        // The recursion's scratch path, only for trees too large to tabulate: made and zeroed
        // for every line, it was 1.3 KiB of memory set per line for nothing.
        var path = [PathElement](repeating: PathElement(), count: everyTreeTabulated ? 1 : (maxDepth + 3) * (maxDepth + 4))
        x.withUnsafeBufferPointer { x in
            nodes.withUnsafeBufferPointer { nodes in
                phi.withUnsafeMutableBufferPointer { phi in
                    path.withUnsafeMutableBufferPointer { path in
                        for (t, root) in roots.enumerated() {
                            phi[columns] += nodes[root].mean
                            if tables[t].isEmpty {
                                Self.shap(nodes, .values(x), phi, node: root, path: path.baseAddress!, parent: 0, depth: 0, zero: 1, one: 1, feature: -1)
                                continue
                            }
                            // Without a branch per split (a Bool's byte is 0 or 1; written `? 1 : 0`,
                            // the compiler kept the jump): the sides go either way, and mispredicted
                            // jumps took a fifth of the explanations' time.
                            var pattern = 0
                            for (k, n) in splits[t].enumerated() { pattern |= Int(unsafeBitCast(Self.goesLeft(nodes[n], x), to: UInt8.self)) << k }
                            for (column, value) in tables[t][pattern] { phi[Int(column)] += value }
                        }
                    }
                }
            }
        }
        return phi
    }

    struct PathElement {
        var feature: Int32 = -1
        var zero = 0.0
        var one = 0.0
        var weight = 0.0
    }

    /// The recursion of TreeSHAP: each call works on its own copy of the path, placed after its
    /// parent's in `path` (offsets `parent` and `parent + depth + 1`).
    static func shap(
        _ nodes: UnsafeBufferPointer<Node>, _ sides: Sides, _ phi: UnsafeMutableBufferPointer<Double>, node: Int,
        path base: UnsafeMutablePointer<PathElement>, parent: Int, depth: Int, zero: Double, one: Double, feature: Int32
    ) {
        var depth = depth
        let p = base + parent + depth + 1
        p.update(from: base + parent, count: depth + 1)
        extend(p, depth, zero, one, feature)
        let current = nodes[node]
        if current.left < 0 {
            let value = Double(current.threshold)
            var i = 1
            while i <= depth {
                let w = unwoundSum(p, depth, i)
                phi[Int(p[i].feature)] += w * (p[i].one - p[i].zero) * value
                i += 1
            }
            return
        }
        let left: Bool
        switch sides {
        case .values(let x): left = goesLeft(current, x)
        case .pattern(let bits): left = (bits >> Int(current.bit)) & 1 == 1
        }
        let hot = Int(left ? current.left : current.right)
        let cold = hot == Int(current.left) ? Int(current.right) : Int(current.left)
        var incomingZero = 1.0
        var incomingOne = 1.0
        var k = 0
        while k <= depth && p[k].feature != current.feature { k += 1 }
        if k <= depth {
            incomingZero = p[k].zero
            incomingOne = p[k].one
            unwind(p, depth, k)
            depth -= 1
        }
        let start = p - base
        shap(nodes, sides, phi, node: hot, path: base, parent: start, depth: depth + 1,
            zero: nodes[hot].cover / current.cover * incomingZero, one: incomingOne, feature: current.feature)
        shap(nodes, sides, phi, node: cold, path: base, parent: start, depth: depth + 1,
            zero: nodes[cold].cover / current.cover * incomingZero, one: 0, feature: current.feature)
    }

    static func extend(_ p: UnsafeMutablePointer<PathElement>, _ depth: Int, _ zero: Double, _ one: Double, _ feature: Int32) {
        p[depth] = PathElement(feature: feature, zero: zero, one: one, weight: depth == 0 ? 1 : 0)
        var i = depth - 1
        while i >= 0 {
            p[i + 1].weight += one * p[i].weight * Double(i + 1) / Double(depth + 1)
            p[i].weight = zero * p[i].weight * Double(depth - i) / Double(depth + 1)
            i -= 1
        }
    }

    static func unwind(_ p: UnsafeMutablePointer<PathElement>, _ depth: Int, _ index: Int) {
        let (one, zero) = (p[index].one, p[index].zero)
        var nextOne = p[depth].weight
        var i = depth - 1
        while i >= 0 {
            if one != 0 {
                let t = p[i].weight
                p[i].weight = nextOne * Double(depth + 1) / (Double(i + 1) * one)
                nextOne = t - p[i].weight * zero * Double(depth - i) / Double(depth + 1)
            } else {
                p[i].weight = p[i].weight * Double(depth + 1) / (zero * Double(depth - i))
            }
            i -= 1
        }
        for i in index..<depth {
            p[i].feature = p[i + 1].feature
            p[i].zero = p[i + 1].zero
            p[i].one = p[i + 1].one
        }
    }

    static func unwoundSum(_ p: UnsafeMutablePointer<PathElement>, _ depth: Int, _ index: Int) -> Double {
        let (one, zero) = (p[index].one, p[index].zero)
        var nextOne = p[depth].weight
        var total = 0.0
        var i = depth - 1
        while i >= 0 {
            if one != 0 {
                let t = nextOne * Double(depth + 1) / (Double(i + 1) * one)
                total += t
                nextOne = p[i].weight - t * zero * Double(depth - i) / Double(depth + 1)
            } else {
                total += (p[i].weight / zero) / (Double(depth - i) / Double(depth + 1))
            }
            i -= 1
        }
        return total
    }
}
