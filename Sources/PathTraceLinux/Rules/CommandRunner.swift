#if os(Linux)
import Foundation
import Glibc
import PathTraceCore

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
            throw RulesError.commandFailed(argv: command.argv, status: result.status, stderr: result.stderr)
        }
        return result
    }
}

/// Runs programs with posix_spawn in their own process group, so a terminal's Ctrl-C reaches pathtrace's
/// teardown and never kills a half-done `iptables -D`. A named namespace is entered with `ip netns exec`.
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
        throw RulesError.missingBinary(base, package: SystemCommandRunner.debianPackage(for: base))
    }

    public func run(_ command: PlannedCommand, in namespace: TraceNamespace) throws -> CommandResult {
        try Spawn.run(argv(command.argv, in: namespace), stdin: command.stdin.map { Array($0.utf8) } ?? [])
    }

    /// Starts `argv` inside `namespace` and returns at once (a lab's server, a monitor running beside a
    /// trace). Its stdin is /dev/null; stdout and stderr go to the file `output` (truncated) or nowhere.
    public func start(_ argv: [String], in namespace: TraceNamespace, output: String? = nil) throws
        -> BackgroundProcess
    {
        BackgroundProcess(pid: try Spawn.start(self.argv(argv, in: namespace), output: output ?? "/dev/null"))
    }

    /// `argv` with its program resolved, behind what enters `namespace`.
    func argv(_ argv: [String], in namespace: TraceNamespace) throws -> [String] {
        guard let program = argv.first else {
            throw RulesError.commandFailed(argv: [], status: -1, stderr: "empty command")
        }
        let resolved = [try resolve(program)] + argv.dropFirst()
        switch namespace {
        case .current: return resolved
        case .named(let name): return [try resolve("ip"), "netns", "exec", name] + resolved
        case .process(let pid): return [try resolve("nsenter"), "--net=/proc/\(pid)/ns/net", "--"] + resolved
        }
    }
}

/// posix_spawn, either to the end (three pipes, a poll loop and waitpid) or into the background;
/// every call retries EINTR.
enum Spawn {
    /// A child that exits without reading its stdin must not kill pathtrace with SIGPIPE.
    static let ignorePipe: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    static func run(_ argv: [String], stdin input: [UInt8]) throws -> CommandResult {
        _ = ignorePipe
        var inPipe: [Int32] = [-1, -1]
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        for i in 0..<3 {
            var fds: [Int32] = [-1, -1]
            let rc = pipe(&fds)
            if rc == 0 {
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                if i == 0 { inPipe = fds } else if i == 1 { outPipe = fds } else { errPipe = fds }
            } else {
                let e = errno
                for fd in inPipe + outPipe + errPipe where fd >= 0 { close(fd) }
                throw RulesError.system(operation: "pipe2", errno: e)
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        let pid: pid_t
        do {
            pid = try spawn(argv, &actions)
        } catch {
            for fd in inPipe + outPipe + errPipe { close(fd) }
            throw error
        }
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])

        var out: [UInt8] = []
        var err: [UInt8] = []
        var written = 0
        var inFD = inPipe[1]
        if input.isEmpty {
            close(inFD)
            inFD = -1
        } else {
            _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK)
        }
        var outFD = outPipe[0]
        var errFD = errPipe[0]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while outFD >= 0 || errFD >= 0 || inFD >= 0 {
            var fds = [
                pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0),
                pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
            ]
            let n = poll(&fds, 3, -1)
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            if inFD >= 0, fds[0].revents != 0 {
                let w = input.withUnsafeBufferPointer { p -> Int in
                    guard let base = p.baseAddress else { return 0 }
                    return write(inFD, base + written, p.count - written)
                }
                if w > 0 { written += w }
                if (w < 0 && errno != EINTR && errno != EAGAIN) || written == input.count {
                    close(inFD)
                    inFD = -1
                }
            }
            for (i, isOut) in [(1, true), (2, false)] where fds[i].revents != 0 {
                let fd = isOut ? outFD : errFD
                let r = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if r > 0 {
                    if isOut { out += buffer[0..<r] } else { err += buffer[0..<r] }
                } else if r == 0 || errno != EINTR {
                    close(fd)
                    if isOut { outFD = -1 } else { errFD = -1 }
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw RulesError.system(operation: "waitpid", errno: errno) }
        }
        return CommandResult(
            status: exitCode(status), stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }

    /// Starts `argv` with stdin from /dev/null and stdout and stderr into `output`, and returns its pid.
    static func start(_ argv: [String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        return try spawn(argv, &actions)
    }

    /// posix_spawn in a process group of its own, with the signals pathtrace handles back at their
    /// defaults and unblocked (a child must die of the SIGTERM it is sent), and LC_ALL=C so the
    /// output parsed is the same everywhere.
    static func spawn(_ argv: [String], _ actions: inout posix_spawn_file_actions_t) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(
            &attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        if rc != 0 { throw RulesError.system(operation: "posix_spawn \(argv[0])", errno: rc) }
        return pid
    }

    /// WIFEXITED / WEXITSTATUS, spelled out (the macros are not imported); a signal is 128 + its number.
    static func exitCode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
#endif
