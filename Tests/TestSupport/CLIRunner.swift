import Foundation

/// Runs the built `pathtrace` binary, as a user would, and captures what it printed.
public struct CLIResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public enum CLI {
    /// The binary under test: `PATHTRACE_BIN`, else the debug build beside the sources.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PATHTRACE_BIN"] { return URL(fileURLWithPath: path) }
        return Fixtures.root.deletingLastPathComponent().appendingPathComponent(".build/debug/pathtrace")
    }

    public static func run(_ arguments: [String], stdin: Data? = nil) throws -> CLIResult {
        try Tool.run(binary, arguments, stdin: stdin)
    }

    /// Runs pathtrace with `environment` added to this process's.
    public static func run(_ arguments: [String], environment: [String: String]) throws -> CLIResult {
        try Tool.run(binary, arguments, stdin: nil, environment: environment)
    }
}

/// Runs any program (argument arrays only) and captures what it printed; `CLI` runs pathtrace with it.
public enum Tool {
    /// Runs `argv[0]` found in PATH (through /usr/bin/env).
    public static func run(_ argv: [String], stdin: Data? = nil) throws -> CLIResult {
        try run(URL(fileURLWithPath: "/usr/bin/env"), argv, stdin: stdin)
    }

    /// Runs `argv[0]` found in PATH with `environment` added to this process's.
    public static func run(_ argv: [String], environment: [String: String]) throws -> CLIResult {
        try run(URL(fileURLWithPath: "/usr/bin/env"), argv, stdin: nil, environment: environment)
    }

    /// Waits (at most `timeout` seconds) until a TCP socket listens on `port` in namespace `netns`: a
    /// server started a moment ago may still be starting on a loaded machine, and a client that
    /// connects too early is refused.
    public static func waitForListener(netns: String, port: Int, timeout: Double = 5) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let r = try run(["ip", "netns", "exec", netns, "ss", "-Hltn", "sport = :\(port)"])
            if r.status == 0 && !r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw Failure(message: "nothing listens on port \(port) in \(netns) after \(timeout) s")
    }

    /// Runs `argv` and throws unless it exits 0; returns its stdout.
    public static func output(_ argv: [String]) throws -> String {
        let r = try run(argv)
        guard r.status == 0 else { throw Failure(message: "\(argv) failed (\(r.status)): \(r.stderr)") }
        return r.stdout
    }

    /// Starts `argv` in the background with its stdout in the file `output` (created or truncated) or
    /// discarded; the caller ends it.
    public static func start(_ argv: [String], output: String? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        if let output {
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        } else {
            p.standardOutput = FileHandle.nullDevice
        }
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    public struct Failure: Error { public var message: String }

    static func run(_ executable: URL, _ arguments: [String], stdin: Data?, environment: [String: String] = [:])
        throws -> CLIResult
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.currentDirectoryURL = Fixtures.root.deletingLastPathComponent()
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Read both pipes before waiting so a large output cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CLIResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
