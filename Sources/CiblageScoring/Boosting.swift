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
    public static let rounds = 120
    static let parameters: [(String, String)] = [
        ("objective", "binary:logistic"), ("max_depth", "3"), ("eta", "0.08"), ("min_child_weight", "5"), ("lambda", "2"),
        ("subsample", "1"), ("colsample_bytree", "1"), ("tree_method", "hist"), ("max_bin", "64"), ("nthread", "2"),
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
