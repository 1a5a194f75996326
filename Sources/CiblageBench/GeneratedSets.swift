import CiblageGenerate
import Foundation

/// The generated sets the benchmarks share, cached in their working folder.
enum GeneratedSets {
    /// The folder of the national-style set of `equipements` equipments (exercices 2021 to 2024,
    /// graine `seed`) in `workDirectory`, generated first unless it holds a set written whole by
    /// the current generator (``Generator/holdsCurrentSet(_:)``).
    static func national(equipements: Int, seed: UInt64, in workDirectory: URL, log: (String) -> Void) throws -> URL {
        let data = nationalFolder(equipements: equipements, seed: seed, in: workDirectory)
        if !Generator.holdsCurrentSet(data) {
            log("génération de \(equipements) équipements (graine \(seed))…")
            let start = Date()
            _ = try Generator(configuration: GeneratorConfiguration(equipements: equipements, exercices: 2021...2024, seed: seed))
                .write(to: data)
            log(String(format: "génération : %.1f s", Date().timeIntervalSince(start)))
        }
        return data
    }

    /// Where ``national(equipements:seed:in:log:)`` keeps that set.
    static func nationalFolder(equipements: Int, seed: UInt64, in workDirectory: URL) -> URL {
        workDirectory.appendingPathComponent("donnees-\(equipements)-\(seed)")
    }
}
