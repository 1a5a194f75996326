// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ciblage",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ciblage-ingest", targets: ["ciblage-ingest"]),
        .executable(name: "ciblage-generate", targets: ["ciblage-generate"]),
        .executable(name: "ciblage-bench", targets: ["ciblage-bench"]),
        .executable(name: "ciblage-score", targets: ["ciblage-score"]),
        .executable(name: "ciblage-select", targets: ["ciblage-select"]),
        .executable(name: "ciblage-export", targets: ["ciblage-export"]),
        .executable(name: "ciblage-dossier", targets: ["ciblage-dossier"]),
        .executable(name: "ciblage-ida", targets: ["ciblage-ida"]),
        .executable(name: "ciblage-reperes", targets: ["ciblage-reperes"]),
        .executable(name: "ciblage-bilan", targets: ["ciblage-bilan"]),
        .executable(name: "ciblage-run", targets: ["ciblage-run"]),
        // A SQLite extension: `sqlite3 store.sqlite -cmd '.load .build/release/libciblagechiffres'`
        // reads the packed figures of the declarations (views declaration_chiffres…).
        .library(name: "ciblagechiffres", type: .dynamic, targets: ["CiblageChiffresSQLite"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // System C libraries, through module maps.
        .systemLibrary(name: "CLibCSV", path: "Sources/CLibCSV", providers: [.apt(["libcsv-dev"])]),
        .systemLibrary(name: "CXGBoost", path: "Sources/CXGBoost", providers: [.apt(["libxgboost-dev"])]),
        // zlib, for the tests that read workbooks back (an .xlsx is a zip of XML parts).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // xxHash (XXH3), for the store's seal: a hash of the whole file at memory speed.
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash", providers: [.apt(["libxxhash-dev"])]),
        // prctl(PR_SET_PDEATHSIG), variadic in C: a stage ends when the run that started it dies.
        .systemLibrary(name: "CLinuxProcess", path: "Sources/CLinuxProcess"),
        // One SQLite option GRDB does not set (sqlite3_config is variadic).
        .systemLibrary(name: "CSQLiteConfig", path: "Sources/CSQLiteConfig", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CXLSXWriter", path: "Sources/CXLSXWriter", pkgConfig: "xlsxwriter", providers: [.apt(["libxlsxwriter-dev"])]),
        .systemLibrary(
            name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]),

        // The packed figures of a declaration (the store's column `chiffres`), in C: one
        // definition for the stages and for the SQLite extension below.
        .target(name: "CPackedFigures"),
        .target(name: "CiblageChiffresSQLite", dependencies: ["CPackedFigures"]),

        // Reference data, closed sets and record types.
        .target(name: "CiblageModel", resources: [.copy("Referentiel")]),
        // The SQLite store: schema, migrations, bulk writers.
        .target(
            name: "CiblageStore",
            dependencies: [
                "CiblageModel", "CXXHash", "CSQLiteConfig", "CPackedFigures",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]),
        // French CSV output (Excel conventions) and, later, HTML reports.
        .target(name: "CiblageReports", dependencies: ["CiblageModel", "CXLSXWriter"]),
        // Reading and validating upstream exports (libcsv, libxml2), storing them.
        .target(
            name: "CiblageIngest",
            dependencies: [
                "CLibCSV", "CLibXML2", "CiblageModel", "CiblageStore", "CiblageReports",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Schemas")]),
        // Indicators per equipment and exercice, peer groups and the risk score.
        .target(
            name: "CiblageScoring",
            dependencies: ["CiblageModel", "CiblageStore", "CiblageReports", "CXGBoost", .product(name: "Logging", package: "swift-log")]),
        // Campaigns: control plans per Caf and for multi-departmental groups, their exports.
        .target(
            name: "CiblageSelection",
            dependencies: [
                "CiblageModel", "CiblageStore", "CiblageReports",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Cost references: prix de revient, reste à charge by cell, confidentiality, fragility.
        .target(name: "CiblageReperes", dependencies: ["CiblageModel", "CiblageStore", "CiblageReports"]),
        // The review of a campaign: linking controls, rates, lift, population estimates.
        .target(name: "CiblageBilan", dependencies: ["CiblageModel", "CiblageStore", "CiblageReports"]),
        // Pipelines: stages as processes, the store's lock, the run ledger.
        .target(
            name: "CiblagePipeline",
            dependencies: [
                "CiblageModel", "CiblageReports", "CiblageStore", .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // IDA: places decided vs opened, delays as competing risks, projects at risk, follow-up list.
        .target(
            name: "CiblageIDA",
            dependencies: [
                "CiblageModel", "CiblageStore", "CiblageReports", "CiblageReperes", "CiblageScoring",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        // Control dossiers: one printable page per planned line, per group, an index per Caf.
        .target(
            name: "CiblageDossier",
            dependencies: [
                "CiblageModel", "CiblageStore", "CiblageReports", "CiblageReperes", "CiblageScoring",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        // Synthetic exports with ground truth, for demos, tests and benchmarks.
        .target(name: "CiblageGenerate", dependencies: ["CiblageModel"]),
        // Benchmarks run from the command line (never timed unit tests).
        .target(
            name: "CiblageBench",
            dependencies: [
                "CiblageIngest", "CiblageGenerate", "CiblageStore", "CiblageModel", "CiblageScoring", "CiblageSelection",
                "CiblageBilan", "CiblagePipeline", "CiblageIDA", "CiblageReports", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),

        // What every command line shares: exit codes, logging setup.
        .target(
            name: "CiblageCLI",
            dependencies: [
                "CiblageModel", "CiblageStore", "CiblageReports", "CLinuxProcess", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // Thin executables.
        .executableTarget(
            name: "ciblage-ingest",
            dependencies: [
                "CiblageIngest", "CiblageCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "ciblage-generate",
            dependencies: [
                "CiblageGenerate", "CiblageCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-score",
            dependencies: [
                "CiblageScoring", "CiblageStore", "CiblageModel", "CiblageCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "ciblage-select",
            dependencies: [
                "CiblageSelection", "CiblageStore", "CiblageModel", "CiblageCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-ida",
            dependencies: [
                "CiblageIDA", "CiblageStore", "CiblageCLI", "CiblageModel", "CiblageReports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-dossier",
            dependencies: [
                "CiblageDossier", "CiblageStore", "CiblageCLI", "CiblageModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-export",
            dependencies: [
                "CiblageSelection", "CiblageStore", "CiblageCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-reperes",
            dependencies: [
                "CiblageReperes", "CiblageStore", "CiblageModel", "CiblageCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-bilan",
            dependencies: [
                "CiblageBilan", "CiblageStore", "CiblageModel", "CiblageReports", "CiblageCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-run",
            dependencies: [
                "CiblagePipeline", "CiblageCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ciblage-bench",
            dependencies: [
                "CiblageBench", "CiblageCLI", "CiblageReports", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "CiblageModelTests", dependencies: ["CiblageModel", "CiblageReports"]),
        .testTarget(
            name: "CiblageIngestTests",
            dependencies: ["CiblageIngest", "CiblageStore", "CiblageGenerate", "CiblageModel"]),
        .testTarget(
            name: "CiblageSelectionTests",
            dependencies: [
                "CiblageSelection", "CiblageScoring", "CiblageStore", "CiblageIngest", "CiblageGenerate", "CiblageModel", "CiblageReports",
                "CZlib",
            ]),
        .testTarget(
            name: "CiblageIDATests",
            dependencies: ["CiblageIDA", "CiblageStore", "CiblageIngest", "CiblageGenerate", "CiblageModel"]),
        .testTarget(
            name: "CiblageDossierTests",
            dependencies: ["CiblageDossier", "CiblageSelection", "CiblageScoring", "CiblageStore", "CiblageIngest", "CiblageGenerate", "CiblageModel"]),
        .testTarget(
            name: "CiblageReperesTests",
            dependencies: [
                "CiblageReperes", "CiblageStore", "CiblageIngest", "CiblageGenerate", "CiblageModel",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "CiblageBilanTests",
            dependencies: ["CiblageBilan", "CiblageSelection", "CiblageScoring", "CiblageStore", "CiblageIngest", "CiblageGenerate", "CiblageModel"]),
        .testTarget(
            name: "CiblagePipelineTests",
            dependencies: [
                "CiblagePipeline", "CiblageGenerate", "CiblageStore", "CiblageModel", "CXXHash",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "CiblageGenerateTests", dependencies: ["CiblageGenerate", "CiblageModel"]),
        .testTarget(name: "CiblageBenchTests", dependencies: ["CiblageBench"]),
        .testTarget(
            name: "CiblageScoringTests",
            dependencies: ["CiblageScoring", "CiblageModel", "CiblageStore", "CiblageIngest", "CiblageGenerate"]),
    ]
)
