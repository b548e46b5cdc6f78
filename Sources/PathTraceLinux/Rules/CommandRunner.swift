#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import Subprocess
import SystemPackage

/// What a program printed and how it ended.
public struct CommandResult: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String = "", stderr: String = "") {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { status == 0 }
}

/// Runs argument vectors, never a shell string; tests substitute a fake.
public protocol CommandRunning: Sendable {
    /// Runs `command` inside `namespace`; throws only when the program could not be run at all.
    func run(_ command: PlannedCommand, in namespace: TraceNamespace) throws -> CommandResult
}

extension CommandRunning {
    /// Runs and throws `commandFailed` unless the status is 0.
    @discardableResult
    public func runChecked(_ command: PlannedCommand, in namespace: TraceNamespace) throws -> CommandResult {
        let result = try run(command, in: namespace)
        guard result.succeeded else {
            throw LinuxError.commandFailed(argv: command.argv, status: result.status, stderr: result.stderr)
        }
        return result
    }
}

/// Runs programs with swift-subprocess in their own process group, so a terminal's Ctrl-C reaches
/// pathtrace's teardown and never kills a half-done `iptables -D`; the child starts with every signal at
/// its default and none blocked (it must die of the SIGTERM it is sent), and with LC_ALL=C so the output
/// parsed is the same everywhere. A named namespace is entered with `ip netns exec`.
public struct SystemCommandRunner: CommandRunning {
    public var searchPath: [String]

    public init(searchPath: [String]? = nil) {
        let env = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        // iptables and nft live in /usr/sbin, which a non-root PATH often lacks.
        self.searchPath = searchPath ?? (env + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    }

    /// The Debian package that ships a program pathtrace runs.
    public static func debianPackage(for program: String) -> String {
        if program.hasPrefix("iptables") || program.hasPrefix("ip6tables") { return "iptables" }
        switch program {
        case "nft": return "nftables"
        case "ip": return "iproute2"
        case "nsenter": return "util-linux"
        case "cat", "tee": return "coreutils"
        case "conntrack": return "conntrack"
        default: return program
        }
    }

    /// The absolute path of `program`, or `missingBinary` naming its Debian package.
    public func resolve(_ program: String) throws -> String {
        if program.hasPrefix("/") {
            if access(program, X_OK) == 0 { return program }
        } else if !program.contains("/") {
            for dir in searchPath where !dir.isEmpty {
                let candidate = dir + "/" + program
                if access(candidate, X_OK) == 0 { return candidate }
            }
        }
        let base = program.split(separator: "/").last.map(String.init) ?? program
        throw LinuxError.missingBinary(base, package: SystemCommandRunner.debianPackage(for: base))
    }

    public func run(_ command: PlannedCommand, in namespace: TraceNamespace) throws -> CommandResult {
        let configuration = try Self.configuration(argv(command.argv, in: namespace))
        let input = Array((command.stdin ?? "").utf8)
        _ = Self.ignorePipe
        return try AsyncBridge.wait {
            do {
                let result = try await Subprocess.run(
                    configuration, input: .inputWriter, output: .string(limit: Self.outputLimit),
                    error: .string(limit: Self.outputLimit)
                ) { execution in
                    // A program that stops reading (iptables-restore at a bad line) is judged by its status
                    // and stderr, not by the EPIPE of writing to it. (With `input: .array`, swift-subprocess
                    // 1.0.2 traps on that EPIPE: "FileDescriptor … was not closed"; finish() here closes it.)
                    if !input.isEmpty { _ = try? await execution.standardInputWriter.write(input) }
                    try? await execution.standardInputWriter.finish()
                }
                return CommandResult(
                    status: Self.status(result.terminationStatus), stdout: result.standardOutput,
                    stderr: result.standardError)
            } catch {
                throw Self.failure(error, configuration)
            }
        }
    }

    /// Starts `argv` inside `namespace` and returns at once (a lab's server, a monitor running beside a
    /// trace). Its stdin is /dev/null; stdout and stderr go to the file `output` (truncated) or nowhere.
    public func start(_ argv: [String], in namespace: TraceNamespace, output: String? = nil) throws
        -> BackgroundProcess
    {
        let configuration = try Self.configuration(self.argv(argv, in: namespace))
        let path = output ?? "/dev/null"
        let file = try Sys.system("open \(path)") {
            try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        }
        return try BackgroundProcess.start(configuration, output: file)
    }

    /// `argv` with its program resolved, behind what enters `namespace`.
    func argv(_ argv: [String], in namespace: TraceNamespace) throws -> [String] {
        guard let program = argv.first else {
            throw LinuxError.commandFailed(argv: [], status: -1, stderr: "empty command")
        }
        let resolved = [try resolve(program)] + argv.dropFirst()
        switch namespace {
        case .current: return resolved
        case .named(let name): return [try resolve("ip"), "netns", "exec", name] + resolved
        case .process(let pid): return [try resolve("nsenter"), "--net=/proc/\(pid)/ns/net", "--"] + resolved
        }
    }

    /// What a program's output may grow to before the run fails: far above the largest ruleset listing.
    static let outputLimit = 256 << 20

    /// A child that exits without reading its stdin must not kill pathtrace with SIGPIPE.
    static let ignorePipe: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// A resolved argv as swift-subprocess runs it: in a process group of its own, LC_ALL=C.
    static func configuration(_ argv: [String]) -> Subprocess.Configuration {
        var options = PlatformOptions()
        options.processGroupID = 0
        return Subprocess.Configuration(
            executable: .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
            environment: .inherit.updating(["LC_ALL": "C"]), platformOptions: options)
    }

    /// An exit status as a shell shows it: a signal is 128 + its number.
    static func status(_ termination: TerminationStatus) -> Int32 {
        switch termination {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    /// A program that could not be run at all, as the error the rules layer reports.
    static func failure(_ error: any Error, _ configuration: Subprocess.Configuration) -> any Error {
        guard let error = error as? SubprocessError else { return error }
        let program = configuration.executable.description
        if error.code == .executableNotFound {
            let base = program.split(separator: "/").last.map(String.init) ?? program
            return LinuxError.missingBinary(base, package: debianPackage(for: base))
        }
        return LinuxError.failed(
            operation: "run \(program)", errno: error.underlyingError?.rawValue ?? EIO)
    }
}
#endif
