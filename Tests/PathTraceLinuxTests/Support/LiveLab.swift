import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

/// Three namespaces, `client — router — server`, joined by veth pairs, with addresses that exist only
/// inside them, built and removed by `LabBuilder` like any lab. Nothing in the initial namespace is
/// touched. The prefix is `ptl<pid><letters>`, unique per lab; `teardown()` removes the lab, and a new
/// lab first removes labs of test processes that are gone.
final class LiveLab: Sendable {
    let spec: LabSpec
    let client: String
    let router: String
    let server: String

    static let clientAddress = "10.201.1.2"
    static let routerInside = "10.201.1.1"
    static let routerOutside = "10.201.2.1"
    static let serverAddress = "10.201.2.2"

    static func spec(prefix: String) throws -> LabSpec {
        try .live(
            prefix: prefix,
            """
            {
              "namespaces": ["c", "r", "s"],
              "veths": [
                {"a": {"ns": "c", "dev": "c0"}, "b": {"ns": "r", "dev": "r0"}},
                {"a": {"ns": "s", "dev": "s0"}, "b": {"ns": "r", "dev": "r1"}}
              ],
              "addresses": [
                {"ns": "c", "dev": "c0", "cidr": "\(clientAddress)/24"},
                {"ns": "r", "dev": "r0", "cidr": "\(routerInside)/24"},
                {"ns": "r", "dev": "r1", "cidr": "\(routerOutside)/24"},
                {"ns": "s", "dev": "s0", "cidr": "\(serverAddress)/24"}
              ],
              "routes": [
                {"ns": "c", "to": "default", "via": "\(routerInside)"},
                {"ns": "s", "to": "default", "via": "\(routerOutside)"}
              ],
              "sysctls": [{"ns": "r", "key": "net.ipv4.ip_forward", "value": "1"}]
            }
            """)
    }

    init() throws {
        LiveLab.removeStaleLabs()
        spec = try LiveLab.spec(prefix: "ptl\(getpid())\(LiveLab.letters(Live.next()))")
        client = spec.netns("c")
        router = spec.netns("r")
        server = spec.netns("s")
        // up() removes what it made when a step fails.
        try LabBuilder(spec: spec).up()
    }

    /// Runs a command inside one of the lab's namespaces and returns its stdout; throws unless it exits 0.
    @discardableResult
    func exec(_ ns: String, _ argv: [String]) throws -> String {
        try Live.run(argv, in: ns).stdout
    }

    func teardown() {
        LabBuilder(spec: spec).down()
    }

    /// Labs of test processes that no longer run (a crashed earlier run): `ptl` and a dead pid.
    static func removeStaleLabs() {
        let prefixes = Set(OwnNamespaces.stale(prefix: "ptl").map { String($0.prefix { $0 != "-" }) })
        for prefix in prefixes {
            if let spec = try? spec(prefix: prefix) { LabBuilder(spec: spec).down() }
        }
    }

    /// 0 → a, 25 → z, 26 → aa: a counter that cannot run into the pid's digits before it.
    static func letters(_ n: Int) -> String {
        let letter = String(UnicodeScalar(UInt8(97 + n % 26)))
        return n < 26 ? letter : letters(n / 26 - 1) + letter
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

/// Events collected from a collector's thread.
final class EventSink: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [TraceEvent] = []
    private var sizes: [Int] = []
    func add(_ e: TraceEvent) { lock.withLock { items.append(e) } }
    /// A collector's batch (`startInBatches`): its events, and its size kept.
    func add(batch: [TraceEvent]) {
        lock.withLock {
            items += batch
            sizes.append(batch.count)
        }
    }
    var events: [TraceEvent] { lock.withLock { items } }
    var batchSizes: [Int] { lock.withLock { sizes } }
}

/// A lab for each test that asks for it, deleted when the test ends, however it ends.
struct LiveLabTrait: TestTrait, TestScoping {
    @TaskLocal static var current: LiveLab?

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await OffPoolTrait.run(test.name) {
            let lab = try LiveLab()
            defer { lab.teardown() }
            try await LiveLabTrait.$current.withValue(lab) { try await function() }
        }
    }
}

extension Trait where Self == LiveLabTrait {
    /// Builds a `client — router — server` lab in fresh namespaces around the test.
    static var liveLab: Self { LiveLabTrait() }
}

extension LabSpec {
    /// A lab for a live test, written as a lab file is, but the keys it does not need (bridges, rules,
    /// server, traffic, what a trace shows) may be left out; `prefix` names this copy's namespaces.
    static func live(prefix: String, _ json: String) throws -> LabSpec {
        guard var lab = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw LabError.invalid("live test lab", "not a JSON object")
        }
        let namespaces = lab["namespaces"] as? [String] ?? []
        let empty: [String: Any] = [
            "name": "live", "description": "a live test's lab", "veths": [], "bridges": [], "addresses": [],
            "routes": [], "sysctls": [], "rules": [], "traffic": [], "trace": ["ns": namespaces.first ?? ""],
            "expect": [],
        ]
        lab.merge(empty) { given, _ in given }
        lab["prefix"] = prefix
        return try decode(JSONSerialization.data(withJSONObject: lab), source: "live test lab \(prefix)")
    }
}
