import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import Testing

/// Runs a command with an argument array (never through a shell) and returns its stdout.
enum Command {
    struct Failure: Error, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var stderr: String
        var description: String { "\(arguments.joined(separator: " ")) exited \(status): \(stderr)" }
    }

    static let searchPath = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    static func executable(_ name: String) -> URL {
        if name.hasPrefix("/") { return URL(fileURLWithPath: name) }
        for dir in searchPath where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return URL(fileURLWithPath: dir + "/" + name)
        }
        return URL(fileURLWithPath: "/usr/bin/" + name)
    }

    /// Runs to completion (killed after `timeout` seconds); throws on a non-zero exit unless allowed.
    @discardableResult
    static func run(_ arguments: [String], allowFailure: Bool = false, timeout: Double = 10) throws -> String {
        let p = Process()
        p.executableURL = executable(arguments[0])
        p.arguments = Array(arguments.dropFirst())
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // SIGKILL: children inherit the test runner's blocked SIGTERM.
        let watchdog = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        if p.terminationStatus != 0 && !allowFailure {
            throw Failure(
                arguments: arguments, status: p.terminationStatus, stderr: String(decoding: stderr, as: UTF8.self))
        }
        return String(decoding: stdout, as: UTF8.self)
    }

}

/// Three namespaces, `client — router — server`, joined by veth pairs, with addresses that exist only
/// inside them. Nothing in the initial namespace is touched. Names are `ptl<pid>x<n>{c,r,s}`, unique
/// per run; `teardown()` deletes them, and a new lab first deletes labs of processes that are gone.
final class LiveLab: Sendable {
    let client: String
    let router: String
    let server: String

    static let clientAddress = "10.201.1.2"
    static let routerInside = "10.201.1.1"
    static let routerOutside = "10.201.2.1"
    static let serverAddress = "10.201.2.2"

    private static let counter = LabCounter()

    init() throws {
        LiveLab.removeStaleLabs()
        let base = "ptl\(getpid())x\(LiveLab.counter.next())"
        client = base + "c"
        router = base + "r"
        server = base + "s"
        do {
            try build()
        } catch {
            teardown()
            throw error
        }
    }

    private func build() throws {
        for ns in [client, router, server] { try Command.run(["ip", "netns", "add", ns]) }
        try Command.run([
            "ip", "-n", client, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", router,
        ])
        try Command.run([
            "ip", "-n", server, "link", "add", "s0", "type", "veth", "peer", "name", "r1", "netns", router,
        ])
        try Command.run(["ip", "-n", client, "addr", "add", LiveLab.clientAddress + "/24", "dev", "c0"])
        try Command.run(["ip", "-n", router, "addr", "add", LiveLab.routerInside + "/24", "dev", "r0"])
        try Command.run(["ip", "-n", router, "addr", "add", LiveLab.routerOutside + "/24", "dev", "r1"])
        try Command.run(["ip", "-n", server, "addr", "add", LiveLab.serverAddress + "/24", "dev", "s0"])
        for (ns, dev) in [
            (client, "lo"), (router, "lo"), (server, "lo"), (client, "c0"), (router, "r0"), (router, "r1"),
            (server, "s0"),
        ] {
            try Command.run(["ip", "-n", ns, "link", "set", dev, "up"])
        }
        try Command.run(["ip", "-n", client, "route", "add", "default", "via", LiveLab.routerInside])
        try Command.run(["ip", "-n", server, "route", "add", "default", "via", LiveLab.routerOutside])
        try exec(router, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
    }

    /// Runs a command inside a namespace (`ip netns exec NS …`).
    @discardableResult
    func exec(_ ns: String, _ arguments: [String], allowFailure: Bool = false) throws -> String {
        try Command.run(["ip", "netns", "exec", ns] + arguments, allowFailure: allowFailure)
    }

    func teardown() {
        for ns in [client, router, server] {
            _ = try? Command.run(["ip", "netns", "del", ns], allowFailure: true)
        }
    }

    /// Deletes `ptl<pid>…` namespaces whose test process no longer runs (a crashed earlier run).
    static func removeStaleLabs() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else { return }
        for name in names where name.hasPrefix("ptl") {
            let digits = name.dropFirst(3).prefix { $0.isNumber }
            guard let pid = Int32(digits), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            _ = try? Command.run(["ip", "netns", "del", name], allowFailure: true)
        }
    }

    /// Opens a TCP connection from the client to the server (nobody listens: the server answers RST).
    /// Returns the connect result's errno (ECONNREFUSED expected); waits at most `timeoutMs`.
    func sendSYN(port: UInt16 = 8080, timeoutMs: Int32 = 2000) throws -> Int32 {
        let address = LiveLab.serverAddress
        return try Netns.run(in: .named(client)) { () -> Int32 in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { return errno }
            defer { close(fd) }
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            _ = inet_pton(AF_INET, address, &sa.sin_addr)
            let r = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if r == 0 { return 0 }
            guard errno == EINPROGRESS else { return errno }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&p, 1, timeoutMs) == 1 else { return ETIMEDOUT }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            return err
        }
    }

    /// Waits until some process in `ns` has a NETLINK_NETFILTER socket in `group` (as nft monitor
    /// does before it prints anything): reads `/proc/<pid>/net/netlink`, which shows pid's namespace.
    static func waitForSubscription(pid: Int32, group: Int, timeout: Double = 3) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: "/proc/\(pid)/net/netlink", encoding: .utf8) {
                for line in text.split(separator: "\n").dropFirst() {
                    let f = line.split(separator: " ", omittingEmptySubsequences: true)
                    guard f.count > 3, f[1] == "12", let groups = UInt32(f[3], radix: 16) else { continue }
                    if groups & (1 << UInt32(group - 1)) != 0 { return true }
                }
            }
            usleep(20_000)
        }
        return false
    }

    /// Polls until `condition` holds or `timeout` passes.
    static func wait(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}

private final class LabCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.withLock {
            value += 1
            return value
        }
    }
}

/// Events collected from a collector's thread.
final class EventSink: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [TraceEvent] = []
    func add(_ e: TraceEvent) { lock.withLock { items.append(e) } }
    var events: [TraceEvent] { lock.withLock { items } }
}

/// A lab for each test that asks for it, deleted when the test ends, however it ends.
struct LiveLabTrait: TestTrait, TestScoping {
    @TaskLocal static var current: LiveLab?

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let lab = try LiveLab()
        defer { lab.teardown() }
        try await LiveLabTrait.$current.withValue(lab) { try await function() }
    }
}

extension Trait where Self == LiveLabTrait {
    /// Builds a `client — router — server` lab in fresh namespaces around the test.
    static var liveLab: Self { LiveLabTrait() }
}
