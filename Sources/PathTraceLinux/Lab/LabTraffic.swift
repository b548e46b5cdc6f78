#if os(Linux)
import Foundation
import PathTraceCore

/// The lab's servers and clients: small fixed Python programs run inside the lab's namespaces.
///
/// Values reach them as argv elements, never inside the program text.
public enum LabTraffic {
    /// `address port idle proto`: answers `ok <bytes> from <peer>` to each TCP connection or UDP
    /// datagram; exits after `idle` seconds without one.
    static let server = """
        import socket, sys
        address, port, idle, proto = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port)); s.settimeout(idle)
        if proto == "udp":
            while True:
                try:
                    data, peer = s.recvfrom(65536)
                except socket.timeout:
                    break
                s.sendto(("ok %d from %s\\n" % (len(data), peer[0])).encode(), peer)
            sys.exit(0)
        s.listen(16)
        while True:
            try:
                c, peer = s.accept()
            except socket.timeout:
                break
            c.settimeout(5)
            try:
                data = c.recv(65536)
                c.sendall(("ok %d from %s\\n" % (len(data), peer[0])).encode())
            finally:
                c.close()
        """

    /// `host port sport payload proto dev timeout`: one TCP connection or one UDP datagram; prints the answer.
    static let client = """
        import socket, sys
        host, port, sport, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        proto, dev, timeout = sys.argv[5], sys.argv[6], float(sys.argv[7])
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if dev: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        s.settimeout(timeout)
        if sport: s.bind(("", sport))
        try:
            s.connect((host, port))
            if proto == "udp":
                s.send(payload.encode()); answer = s.recv(65536)
            else:
                s.sendall(payload.encode()); s.shutdown(socket.SHUT_WR)
                answer = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk: break
                    answer += chunk
        except OSError as e:
            sys.stderr.write("no answer from %s:%d (%s)\\n" % (host, port, e.strerror or "timed out")); sys.exit(1)
        sys.stdout.write(answer.decode())
        """

    /// `host dev timeout`: one ICMP echo request on a raw socket; prints `reply from <addr> ttl <n>`.
    static let ping = """
        import os, select, socket, struct, sys, time
        host, dev, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        if dev: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        ident = os.getpid() & 0xFFFF
        def checksum(b):
            n = sum(struct.unpack("!%dH" % (len(b) // 2), b)); n = (n >> 16) + (n & 0xFFFF); n += n >> 16
            return ~n & 0xFFFF
        body = b"pathtrace lab ping"
        head = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        try:
            s.sendto(struct.pack("!BBHHH", 8, 0, checksum(head + body), ident, 1) + body, (host, 0))
        except OSError as e:
            sys.stderr.write("no answer from %s (%s)\\n" % (host, e.strerror)); sys.exit(1)
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                sys.stderr.write("no answer from %s (timed out)\\n" % host); sys.exit(1)
            data, peer = s.recvfrom(65536)
            ihl = (data[0] & 15) * 4
            if len(data) < ihl + 8: continue
            kind, code = data[ihl], data[ihl + 1]
            if kind == 0 and struct.unpack("!H", data[ihl + 4:ihl + 6])[0] == ident:
                sys.stdout.write("reply from %s ttl %d\\n" % (peer[0], data[8])); sys.exit(0)
            inner = data[ihl + 8:]
            if kind in (3, 11) and len(inner) >= 28:
                iihl = (inner[0] & 15) * 4
                if inner[9] == 1 and inner[iihl:iihl + 1] == b"\\x08" and inner[iihl + 4:iihl + 6] == struct.pack("!H", ident):
                    sys.stderr.write("no answer from %s (icmp type %d code %d from %s)\\n" % (host, kind, code, peer[0]))
                    sys.exit(1)
        """

    /// The lab's running servers; `stop()` ends them all.
    public final class Servers: Sendable {
        public let processes: [BackgroundProcess]
        init(_ processes: [BackgroundProcess]) { self.processes = processes }

        /// Stops every server (SIGTERM, then SIGKILL).
        public func stop() {
            for p in processes { p.stop() }
        }
    }

    /// Starts the lab's servers (`server` and `servers`) in their namespaces; each exits by itself after
    /// `idle` seconds without a client. Nil when the lab has none.
    public static func startServer(_ spec: LabSpec, idle: Double = 20) throws -> Servers? {
        let wanted = spec.allServers
        guard !wanted.isEmpty else { return nil }
        let builder = LabBuilder(spec: spec)
        var started: [BackgroundProcess] = []
        var ready = false
        defer { if !ready { for p in started { p.stop() } } }
        for s in wanted {
            let proto = s.proto ?? "tcp"
            started.append(
                try SystemCommandRunner().start(
                    ["python3", "-c", server, s.address, String(s.port), String(idle), proto],
                    in: .named(spec.netns(s.ns))))
        }
        for s in wanted {
            // Wait (bounded) until it listens.
            let list = (s.proto ?? "tcp") == "udp" ? "-Hlun" : "-Hltn"
            var listening = false
            for _ in 0..<50 {
                let ss = try builder.run(["ss", list], in: s.ns, check: false).stdout
                listening = ss.contains(":\(s.port) ")
                if listening { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            if !listening {
                throw LabError.invalid(spec.name, "the server did not start listening on \(s.address):\(s.port)")
            }
        }
        ready = true
        return Servers(started)
    }

    /// What one traffic item got.
    public struct Outcome: Sendable, Equatable {
        public var traffic: LabSpec.Traffic
        /// Whether it got an answer.
        public var answered: Bool
        /// The answer, or why there was none.
        public var text: String

        public init(traffic: LabSpec.Traffic, answered: Bool, text: String) {
            self.traffic = traffic
            self.answered = answered
            self.text = text
        }
    }

    /// Sends every traffic item in order and returns what each got; never throws for a missing answer.
    public static func exchange(_ spec: LabSpec) throws -> [Outcome] {
        let builder = LabBuilder(spec: spec)
        return try spec.traffic.map { t in
            let wait = t.timeout ?? (t.failureExpected ? 2 : 5)
            let program: [String]
            if t.proto == "ping" {
                program = ["python3", "-c", ping, t.to, t.dev ?? "", String(wait)]
            } else {
                program = [
                    "python3", "-c", client, t.to, String(t.port ?? 0), String(t.sport ?? 0), t.payload ?? "",
                    t.proto, t.dev ?? "", String(wait),
                ]
            }
            // A hard limit beyond the program's own, for a client stuck where no timeout reaches.
            let r = try builder.run(["timeout", String(Int(wait) + 5)] + program, in: t.ns, check: false)
            if r.status == 0 { return Outcome(traffic: t, answered: true, text: r.stdout) }
            let why = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return Outcome(traffic: t, answered: false, text: why.isEmpty ? "no answer (exit \(r.status))" : why)
        }
    }

    /// Sends the lab's traffic; returns what each client read back. Traffic the lab expects to fail
    /// returns `no answer (as expected): …`; other traffic without an answer throws.
    public static func send(_ spec: LabSpec) throws -> [String] {
        try exchange(spec).map { o in
            if o.answered { return o.text }
            if o.traffic.failureExpected { return "no answer (as expected): \(o.text)" }
            throw LabError.invalid(spec.name, "traffic from \(spec.netns(o.traffic.ns)) got \(o.text)")
        }
    }

    /// How the outcomes differ from what the lab file says a correct lab does; empty when they agree.
    public static func problems(_ spec: LabSpec, _ outcomes: [Outcome]) -> [String] {
        outcomes.compactMap { o in
            let t = o.traffic
            let what = "\(t.proto) from \(t.ns) to \(t.to)\(t.port.map { ":\($0)" } ?? "")"
            if t.failureExpected {
                return o.answered ? "\(what) was answered (\(o.text.trimmed)), expected no answer" : nil
            }
            guard o.answered else { return "\(what) got no answer: \(o.text)" }
            if let want = t.expectAnswer, !o.text.contains(want) {
                return "\(what) answered \"\(o.text.trimmed)\", expected it to contain \"\(want)\""
            }
            return nil
        }
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
#endif
