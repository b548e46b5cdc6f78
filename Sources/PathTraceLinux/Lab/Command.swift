#if os(Linux)
import Foundation

/// Runs a program with an argument array (never a shell string), optionally feeding stdin.
public enum Command {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public var argv: [String]
        public var result: Result
        public var description: String {
            let why = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(argv.joined(separator: " ")) failed (exit \(result.status))" + (why.isEmpty ? "" : ": \(why)")
        }
    }

    /// Runs `argv` and returns what it printed; the first element is looked up in PATH.
    @discardableResult
    public static func run(_ argv: [String], input: String? = nil, check: Bool = true) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = (env["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let errReader = Thread.detachedReader(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = errReader.wait()
        process.waitUntilExit()
        let result = Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
        if check && result.status != 0 { throw Failure(argv: argv, result: result) }
        return result
    }

    /// Starts `argv` in the background; the caller terminates it.
    public static func start(_ argv: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }
}

extension Thread {
    /// Reads a pipe to its end on another thread, so two pipes can drain at once.
    final class DetachedReader: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }
        func wait() -> Data {
            done.wait()
            return data
        }
    }

    static func detachedReader(_ handle: FileHandle) -> DetachedReader { DetachedReader(handle) }
}
#endif
