import ArgumentParser
import CiblageModel
import CiblageStore
import Foundation

/// The options every stage that reads the store shares: the store and the reference tables.
public struct StoreOptions: ParsableArguments {
    @Option(help: "Le store SQLite (défaut : $CIBLAGE_STORE ou data/ciblage.sqlite).")
    public var store: String = Store.defaultPath

    @Option(help: "Dossier du référentiel remplaçant celui livré.")
    public var referentiel: String?

    public init() {}

    /// The reference tables; an unreadable folder is a usage error (exit 2).
    public func loadReferentiel() throws -> Referentiel {
        do { return try Referentiel.load(from: referentiel.map { URL(fileURLWithPath: $0) }) } catch {
            throw CommandFailure("référentiel : \(error)", status: .usage)
        }
    }

    /// Fails (exit 1) when the store does not exist: reading stages never create one.
    public func requireStore() throws {
        guard FileManager.default.fileExists(atPath: store) else { throw CommandFailure("store introuvable : \(store)") }
    }
}
