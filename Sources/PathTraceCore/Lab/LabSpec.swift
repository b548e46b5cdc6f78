import Foundation

/// A declarative lab: namespaces, links, addresses, routes, sysctls, rules, a server, the traffic
/// to send and the walk a correct trace shows. Read from JSON (Fixtures/labs/*.json).
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
    public var traffic: [Traffic]
    /// Where and what to trace.
    public var trace: TraceTarget
    /// What a correct trace shows, in packet order.
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
        public var via: String
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

    public struct Server: Codable, Sendable, Equatable {
        public var ns: String
        public var address: String
        public var port: UInt16
    }

    public struct Traffic: Codable, Sendable, Equatable {
        public var ns: String
        /// Only `tcp` today: one connection that sends `payload` and reads the answer.
        public var proto: String
        public var to: String
        public var port: UInt16
        public var sport: UInt16?
        public var payload: String
    }

    public struct TraceTarget: Codable, Sendable, Equatable {
        public var ns: String
        public var dport: UInt16?
        public var proto: String?
    }

    public struct ExpectedWalk: Codable, Sendable, Equatable {
        /// `table:chain` of each step, in order.
        public var chains: [String]
        public var path: String
        public var verdict: String
        public var nat: [ExpectedNat]?
    }

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
            guard r.to == "default" || IPNetwork(r.to) != nil, IPAddress(r.via) != nil else {
                throw fail("bad route \(r.to) via \(r.via)")
            }
        }
        for s in sysctls {
            try checkNS(s.ns)
            guard s.key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }),
                s.value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
            else { throw fail("bad sysctl \(s.key)=\(s.value)") }
        }
        for r in rules {
            try checkNS(r.ns)
            guard ["iptables-restore", "ip6tables-restore", "iptables-nft-restore", "nft"].contains(r.format) else {
                throw fail("rules format must be iptables-restore, ip6tables-restore, iptables-nft-restore or nft")
            }
        }
        if let s = server {
            try checkNS(s.ns)
            guard IPAddress(s.address) != nil else { throw fail("bad server address \(s.address)") }
        }
        for t in traffic {
            try checkNS(t.ns)
            guard t.proto == "tcp", IPAddress(t.to) != nil else { throw fail("traffic must be tcp to an address") }
        }
        try checkNS(trace.ns)
    }
}

/// Problems with a lab file or building a lab.
public enum LabError: Error, Equatable, CustomStringConvertible {
    case invalid(String, String)
    case notFound(String, [String])

    public var description: String {
        switch self {
        case .invalid(let source, let why): return "lab \(source): \(why)"
        case .notFound(let name, let known): return "no lab named \(name) (known: \(known.joined(separator: ", ")))"
        }
    }
}
