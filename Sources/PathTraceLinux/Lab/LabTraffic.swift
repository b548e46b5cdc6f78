#if os(Linux)
import Foundation
import PathTraceCore

/// The lab's server and client: small fixed Python programs run inside the lab's namespaces.
///
/// Values reach them as argv elements, never inside the program text.
public enum LabTraffic {
    static let server = """
        import socket, sys
        s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16); s.settimeout(float(sys.argv[3]))
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

    static let client = """
        import socket, sys
        host, port, sport, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(5)
        if sport: s.bind(("", sport))
        s.connect((host, port)); s.sendall(payload.encode()); s.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk: break
            answer += chunk
        sys.stdout.write(answer.decode())
        """

    /// Starts the lab's server in its namespace; it exits by itself after `idle` seconds without a client.
    public static func startServer(_ spec: LabSpec, idle: Double = 20) throws -> BackgroundProcess? {
        guard let s = spec.server else { return nil }
        let builder = LabBuilder(spec: spec)
        let process = try SystemCommandRunner().start(
            ["python3", "-c", server, s.address, String(s.port), String(idle)], in: .named(spec.netns(s.ns)))
        var listening = false
        defer { if !listening { process.stop() } }
        // Wait (bounded) until it listens.
        for _ in 0..<50 {
            let ss = try builder.run(["ss", "-Hltn"], in: s.ns, check: false).stdout
            listening = ss.contains(":\(s.port) ")
            if listening { return process }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw LabError.invalid(spec.name, "the server did not start listening on \(s.address):\(s.port)")
    }

    /// Sends the lab's traffic; returns what each client read back.
    public static func send(_ spec: LabSpec) throws -> [String] {
        let builder = LabBuilder(spec: spec)
        return try spec.traffic.map { t in
            try builder.run(
                ["timeout", "10", "python3", "-c", client, t.to, String(t.port), String(t.sport ?? 0), t.payload],
                in: t.ns
            ).stdout
        }
    }
}
#endif
