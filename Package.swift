// swift-tools-version: 6.1
// Ponder: a reinforcement-learning lab for reasoning language models.
// Targets follow DESIGN.md §2; data flows down this list, nothing low imports anything high.
import PackageDescription

// Kernels are hot loops over buffers they index themselves: they drop overflow and
// precondition checks in release. Model keeps them (its preconditions guard the API).
// Both are written in the Swift 5 language mode: their parallel loops hand raw buffer
// pointers to worker threads, which strict concurrency checking cannot express.
let kernelSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
    // AVX2 + FMA (x86-64 CPUs since 2013) for the SIMD reductions; Linux x86-64 only.
    .unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux])),
    .swiftLanguageMode(.v5),
]
let modelSettings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "Ponder",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ponder", targets: ["ponder"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The OpenAI-compatible server (`ponder serve`) and the judge's HTTP backend.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Open MPI for data parallelism (`mpirun -np N ponder run FILE`); only Distributed imports it.
        .systemLibrary(
            name: "COpenMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        // PID 1 of every sandboxed run (C, static: no Swift runtime is visible inside the sandbox).
        .executableTarget(
            name: "ponder-sandbox-init",
            path: "Sources/SandboxInit",
            linkerSettings: [.unsafeFlags(["-static-executable"])]
        ),
        .target(name: "Kernels", dependencies: ["COpenBLAS"], swiftSettings: kernelSettings),
        .target(name: "PonderCore"),
        .target(name: "Model", dependencies: ["Kernels", "PonderCore"], swiftSettings: modelSettings),
        .target(name: "Tokenization", dependencies: ["PonderCore"]),
        .target(name: "Rewards", dependencies: ["PonderCore"], path: "rewards"),
        .target(name: "Environments", dependencies: ["PonderCore", "Rewards", "CSeccomp"], path: "environments"),
        .target(name: "Storage", dependencies: ["PonderCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Training", dependencies: ["PonderCore", "Model", "Tokenization", "Rewards"]),
        // Data parallelism over MPI: the Collective of a job started by mpirun.
        .target(name: "Distributed", dependencies: ["PonderCore", "COpenMPI"]),
        // Chat completions over the engine: batched generation and the OpenAI-compatible HTTP server.
        .target(
            name: "Serving",
            dependencies: ["PonderCore", "Model", "Tokenization", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The LLM judge: rubric prompts, strict reply parsing, pairwise scoring, backends, audit.
        .target(
            name: "Judge",
            dependencies: ["PonderCore", "Model", "Tokenization", "Environments", "Rewards", "Storage", "Serving",
                           .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        .target(
            name: "Experiments",
            dependencies: ["PonderCore", "Model", "Tokenization", "Environments", "Rewards", "Storage", "Training", "Judge", "Serving", "Yams"]
        ),
        .executableTarget(
            name: "ponder",
            dependencies: [
                "Kernels", "PonderCore", "Model", "Tokenization", "Environments", "Rewards", "Storage", "Training", "Experiments",
                "Serving", "Judge", "Distributed", "ponder-sandbox-init", "Yams",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What tests that run the built tool share (finding it, running it); not a test target.
        .target(name: "TestSupport", dependencies: ["Model", "Tokenization"], path: "Tests/Support"),
        .testTarget(name: "PonderCoreTests", dependencies: ["PonderCore"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "PonderCore"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Kernels", "PonderCore"],
                    exclude: ["Golden", "HuggingFace", "safetensors_check.py"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "PonderCore"], exclude: ["interop.py"]),
        .testTarget(name: "RewardsTests", dependencies: ["Rewards", "PonderCore"]),
        .testTarget(name: "EnvironmentsTests", dependencies: ["Environments", "Rewards", "PonderCore", "ponder-sandbox-init"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "PonderCore", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Model", "Kernels", "Tokenization", "Environments", "Rewards", "PonderCore"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Environments", "Storage", "Model", "Training", "PonderCore", "TestSupport"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "Model", "Tokenization", "PonderCore", "TestSupport"],
                    exclude: ["openai_client_check.py"]),
        .testTarget(name: "JudgeTests", dependencies: ["Judge", "Rewards", "Serving", "Storage", "Environments", "Model", "Tokenization", "PonderCore", "TestSupport"]),
        // Seeded mutants of every file format Ponder reads, fed to the real loaders and to the
        // built `ponder` tool (Tests/FuzzTests/Mutator.swift says how a failure reproduces).
        .testTarget(name: "FuzzTests", dependencies: ["Experiments", "Environments", "Tokenization", "Model", "PonderCore", "TestSupport"]),
    ]
)
