import Foundation

/// A declarative lab: namespaces, links, addresses, routes, sysctls, rules, servers, the traffic
/// to send and the walks a correct trace shows. Read from JSON (Fixtures/labs/*.json); keys added
/// after the first labs are optional, so older lab files read as before.
public struct LabSpec: Codable, Sendable, Equatable {
    public var name: String
    public var description: String
    /// Prefix of every namespace the lab creates; must start with `pt` so tests and cleanup find them.
    public var prefix: String
    /// Logical namespace names; the real ones are `<prefix>-<name>`.
    public var namespaces: [String]
    public var veths: [Veth]
    public var bridges: [Bridge]
    public var addresses: [Address]
    public var routes: [Route]
    public var sysctls: [Sysctl]
    public var rules: [Rules]
    public var server: Server?
    /// More servers, after `server` (a lab may have several, in several namespaces).
    public var servers: [Server]?
    public var traffic: [Traffic]
    /// Where and what to trace (one namespace).
    public var trace: TraceTarget
    /// Every namespace a multi-namespace trace follows, with its filter; absent means `[trace]`.
    public var traces: [TraceTarget]?
    /// What a correct trace shows: each namespace's walks in packet order, the namespaces in the order
    /// the traffic crosses them (a walk's `ns`, or `trace.ns` when it names none).
    public var expect: [ExpectedWalk]

    public struct End: Codable, Sendable, Equatable {
        public var ns: String
        public var dev: String
        public var mac: String?
    }

    public struct Veth: Codable, Sendable, Equatable {
        public var a: End
        public var b: End
    }

    public struct Bridge: Codable, Sendable, Equatable {
        public var ns: String
        public var name: String
        public var mac: String?
        public var ports: [String]
    }

    public struct Address: Codable, Sendable, Equatable {
        public var ns: String
        public var dev: String
        public var cidr: String
    }

    public struct Route: Codable, Sendable, Equatable {
        public var ns: String
        /// `default` or a CIDR.
        public var to: String
        /// The gateway; a route may instead (or also) name its interface with `dev`.
        public var via: String?
        public var dev: String?
    }

    public struct Sysctl: Codable, Sendable, Equatable {
        public var ns: String
        public var key: String
        public var value: String
    }

    public struct Rules: Codable, Sendable, Equatable {
        public var ns: String
        /// `iptables-restore` (legacy), `ip6tables-restore` (legacy), `iptables-nft-restore` or `nft`.
        public var format: String
        public var text: String
    }

    /// A server that answers `ok <bytes> from <peer address>`: a TCP listener, or a UDP socket that
    /// answers each datagram.
    public struct Server: Codable, Sendable, Equatable {
        public var ns: String
        public var address: String
        public var port: UInt16
        /// `tcp` (the default) or `udp`.
        public var proto: String?
    }

    public struct Traffic: Codable, Sendable, Equatable {
        public var ns: String
        /// `tcp`: one connection that sends `payload` and reads the answer; `udp`: one datagram and its
        /// answer; `ping`: one ICMP echo request (`port` and `payload` unused), answered `reply from <addr>`.
        public var proto: String
        public var to: String
        public var port: UInt16?
        public var sport: UInt16?
        public var payload: String?
        /// Send through this interface only (`SO_BINDTODEVICE`, as `ping -I DEV` does).
        public var dev: String?
        /// Seconds to wait for the answer (default 5, or 2 when the traffic is expected to fail).
        public var timeout: Double?
        /// The traffic gets no answer on a correct lab (a timeout or an error is what it shows, not a failure).
        public var expectFail: Bool?
        /// Text the answer contains on a correct lab (e.g. `from 10.44.0.1`: the address the server saw).
        public var expectAnswer: String?

        enum CodingKeys: String, CodingKey {
            case ns, proto, to, port, sport, payload, dev, timeout
            case expectFail = "expect_fail"
            case expectAnswer = "expect_answer"
        }

        /// Whether the lab expects this traffic to get no answer.
        public var failureExpected: Bool { expectFail ?? false }
    }

    public struct TraceTarget: Codable, Sendable, Equatable {
        public var ns: String
        public var dport: UInt16?
        /// `tcp`, `udp` or `icmp`.
        public var proto: String?
        public var sport: UInt16?
        /// Source and destination address or CIDR of the flow.
        public var src: String?
        public var dst: String?

        public init(
            ns: String, dport: UInt16? = nil, proto: String? = nil, sport: UInt16? = nil, src: String? = nil,
            dst: String? = nil
        ) {
            self.ns = ns
            self.dport = dport
            self.proto = proto
            self.sport = sport
            self.src = src
            self.dst = dst
        }
    }

    public struct ExpectedWalk: Codable, Sendable, Equatable {
        /// `table:chain` of each step, in order.
        public var chains: [String]
        public var path: String
        public var verdict: String
        public var nat: [ExpectedNat]?
        /// The namespace whose trace shows this walk (logical name); absent means `trace.ns`.
        public var ns: String?
        /// Why the packet went no further, most likely first: names from `LabSpec.vanishedCauses`.
        public var vanished: [String]?
    }

    /// The causes an expected walk may name in `vanished` (the closed set of the cause diagnosis).
    public static let vanishedCauses: Set<String> = [
        "ip_forward", "rp_filter", "no_route", "rule_drop", "policy_drop", "br_netfilter_off", "martian_source",
        "masquerade_no_address", "unknown",
    ]

    /// `server` and then `servers`.
    public var allServers: [Server] { (server.map { [$0] } ?? []) + (servers ?? []) }

    /// `traces`, or the one `trace` when the lab lists none.
    public var allTraces: [TraceTarget] { traces ?? [trace] }

    public struct ExpectedNat: Codable, Sendable, Equatable {
        public var type: String
        public var field: String
        public var before: String
    }

    /// The real name of a logical namespace.
    public func netns(_ logical: String) -> String { "\(prefix)-\(logical)" }

    /// Decodes and checks a lab file; the error names what is wrong.
    public static func decode(_ data: Data, source: String) throws -> LabSpec {
        let spec: LabSpec
        do {
            spec = try JSONDecoder().decode(LabSpec.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw LabError.invalid(source, "missing \"\(key.stringValue)\" at \(path(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw LabError.invalid(source, "wrong type at \(path(context.codingPath))")
        } catch {
            throw LabError.invalid(source, "not valid JSON")
        }
        try spec.validate(source: source)
        return spec
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    /// Every value that ends up in an `ip`/`sysctl` argument is checked here, before anything runs.
    func validate(source: String) throws {
        func fail(_ why: String) -> LabError { .invalid(source, why) }
        guard prefix.hasPrefix("pt"), prefix.count <= 12,
            prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        else { throw fail("prefix must start with \"pt\" and be at most 12 letters or digits") }
        let known = Set(namespaces)
        for ns in namespaces where !ns.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            throw fail("namespace name \"\(ns)\" must be letters, digits or -")
        }
        func checkNS(_ ns: String) throws { if !known.contains(ns) { throw fail("unknown namespace \"\(ns)\"") } }
        func checkDev(_ dev: String) throws {
            if !InterfaceName.isValid(dev) { throw fail("bad interface name \"\(dev)\"") }
        }
        for v in veths {
            try checkNS(v.a.ns)
            try checkNS(v.b.ns)
            try checkDev(v.a.dev)
            try checkDev(v.b.dev)
        }
        for b in bridges {
            try checkNS(b.ns)
            try checkDev(b.name)
            for p in b.ports { try checkDev(p) }
        }
        for a in addresses {
            try checkNS(a.ns)
            try checkDev(a.dev)
            guard a.cidr.contains("/"), IPNetwork(a.cidr) != nil else { throw fail("bad address \"\(a.cidr)\"") }
        }
        for r in routes {
            try checkNS(r.ns)
            guard r.to == "default" || IPNetwork(r.to) != nil, r.via != nil || r.dev != nil,
                r.via.map({ IPAddress($0) != nil }) ?? true
            else { throw fail("bad route \(r.to) via \(r.via ?? "-") dev \(r.dev ?? "-")") }
            if let dev = r.dev { try checkDev(dev) }
        }
        for s in sysctls {
            try checkNS(s.ns)
            let parts = s.key.split(separator: ".", omittingEmptySubsequences: false)
            guard s.key.hasPrefix("net."), parts.allSatisfy({ !$0.isEmpty }),
                s.key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }),
                !s.value.isEmpty,
                s.value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
            else { throw fail("bad sysctl \(s.key)=\(s.value)") }
        }
        for r in rules {
            try checkNS(r.ns)
            guard ["iptables-restore", "ip6tables-restore", "iptables-nft-restore", "nft"].contains(r.format) else {
                throw fail("rules format must be iptables-restore, ip6tables-restore, iptables-nft-restore or nft")
            }
        }
        for s in allServers {
            try checkNS(s.ns)
            guard IPAddress(s.address) != nil else { throw fail("bad server address \(s.address)") }
            guard ["tcp", "udp"].contains(s.proto ?? "tcp"), s.port != 0 else {
                throw fail("a server is tcp or udp on a port from 1 to 65535")
            }
        }
        for t in traffic {
            try checkNS(t.ns)
            guard ["tcp", "udp", "ping"].contains(t.proto), IPAddress(t.to) != nil else {
                throw fail("traffic must be tcp, udp or ping to an address")
            }
            if t.proto != "ping" {
                guard let port = t.port, port != 0 else { throw fail("\(t.proto) traffic to \(t.to) needs a port") }
            }
            if let dev = t.dev { try checkDev(dev) }
            if let timeout = t.timeout, !(timeout > 0 && timeout <= 60) {
                throw fail("traffic timeout must be more than 0 and at most 60 seconds")
            }
        }
        for target in allTraces {
            try checkNS(target.ns)
            if let proto = target.proto, !["tcp", "udp", "icmp"].contains(proto) {
                throw fail("trace proto must be tcp, udp or icmp")
            }
            for cidr in [target.src, target.dst].compactMap({ $0 }) where IPNetwork(cidr) == nil {
                throw fail("bad trace address \(cidr)")
            }
        }
        try checkNS(trace.ns)
        for walk in expect {
            if let ns = walk.ns { try checkNS(ns) }
            for cause in walk.vanished ?? [] where !Self.vanishedCauses.contains(cause) {
                throw fail(
                    "unknown vanished cause \"\(cause)\" (known: \(Self.vanishedCauses.sorted().joined(separator: ", ")))"
                )
            }
        }
    }
}

/// Problems with a lab file or building a lab.
public enum LabError: Error, Equatable, CustomStringConvertible {
    case invalid(String, String)
    case notFound(String, [String])
    /// A lab file that cannot be read (its path).
    case unreadable(String)

    public var description: String {
        switch self {
        case .invalid(let source, let why): return "lab \(source): \(why)"
        case .notFound(let name, let known): return "no lab named \(name) (known: \(known.joined(separator: ", ")))"
        case .unreadable(let path): return "cannot read lab file \(path)"
        }
    }
}
