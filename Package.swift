// swift-tools-version:6.0
import PackageDescription

// Release builds inline the library's small accessors (names, header fields) across module
// boundaries, and leave out the runtime exclusivity checks, which debug builds (the tests) keep:
// together 3.8% fewer instructions per replayed line (scripts/bench-replay.sh; callgrind on a 10 MB
// head: 595 M before, 572 M after).
let releaseSpeed: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "pathtrace",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pathtrace", targets: ["pathtrace"]),
        .library(name: "PathTraceCore", targets: ["PathTraceCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .target(
            name: "PathTraceCore",
            dependencies: ["CPrefetch", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: releaseSpeed),
        // The compiler's prefetch builtin, for walks read back cold (see `PacketWalk.prefetchSteps`).
        .target(name: "CPrefetch"),
        .target(name: "PathTraceRender", dependencies: ["PathTraceCore"], swiftSettings: releaseSpeed),
        .systemLibrary(
            name: "CNetfilterLog", pkgConfig: "libnetfilter_log", providers: [.apt(["libnetfilter-log-dev"])]),
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .target(
            name: "PathTraceLinux",
            dependencies: [
                "PathTraceCore", "CNetfilterLog", "CMnl",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ], swiftSettings: releaseSpeed),
        .executableTarget(
            name: "pathtrace",
            dependencies: [
                "PathTraceCore", "PathTraceRender", "PathTraceLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ], swiftSettings: releaseSpeed),
        // Installs rules and waits for a signal: the live teardown and crash-recovery tests run it as a child.
        .executableTarget(
            name: "pathtrace-test-helper",
            dependencies: [
                "PathTraceCore", "PathTraceLinux", .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/pathtrace-test-helper"),
        .target(name: "TestSupport", dependencies: ["PathTraceCore"], path: "Tests/TestSupport"),
        .testTarget(name: "PathTraceCoreTests", dependencies: ["PathTraceCore", "TestSupport"]),
        .testTarget(name: "PathTraceRenderTests", dependencies: ["PathTraceCore", "PathTraceRender", "TestSupport"]),
        .testTarget(name: "PathTraceLinuxTests", dependencies: ["PathTraceLinux", "PathTraceRender", "TestSupport"]),
        .testTarget(name: "pathtraceCLITests", dependencies: ["TestSupport"]),
    ]
)
