/// One route of a namespace (any table but `local`).
public struct TopologyRoute: Codable, Sendable, Equatable {
    /// `ipv4` or `ipv6`.
    public var family: String
    /// `default` or a CIDR.
    public var dst: String
    public var gateway: String?
    /// The output device, by name.
    public var dev: String?
    /// `main`, `default`, or the table's number.
    public var table: String
    /// `unicast` `blackhole` `unreachable` `prohibit` `throw` `multicast` `broadcast` `anycast` `nat` …
    public var type: String
    /// `universe` `site` `link` `host` `nowhere` or the number.
    public var scope: String
    public var prefsrc: String?
    public var metric: Int?

    public init(
        family: String, dst: String, gateway: String? = nil, dev: String? = nil, table: String = "main",
        type: String = "unicast", scope: String = "universe", prefsrc: String? = nil, metric: Int? = nil
    ) {
        self.family = family
        self.dst = dst
        self.gateway = gateway
        self.dev = dev
        self.table = table
        self.type = type
        self.scope = scope
        self.prefsrc = prefsrc
        self.metric = metric
    }

    enum CodingKeys: String, CodingKey {
        case family, dst, gateway, dev, table, type, scope, prefsrc, metric
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(family, forKey: .family)
        try c.encode(dst, forKey: .dst)
        try c.encode(gateway, forKey: .gateway)
        try c.encode(dev, forKey: .dev)
        try c.encode(table, forKey: .table)
        try c.encode(type, forKey: .type)
        try c.encode(scope, forKey: .scope)
        try c.encode(prefsrc, forKey: .prefsrc)
        try c.encode(metric, forKey: .metric)
    }

    /// The destination as a network (`default` is the zero-length prefix of the route's family).
    public var network: IPNetwork? {
        if dst == "default" { return IPNetwork(family == "ipv6" ? "::/0" : "0.0.0.0/0") }
        return IPNetwork(dst)
    }

    /// `default via 10.44.0.254 dev bond0`, `192.168.122.0/24 dev virbr0 src 192.168.122.1`, as `ip route` says.
    public var summary: String {
        var parts: [String] = []
        if type != "unicast" { parts.append(type) }
        parts.append(dst)
        if let gateway { parts.append("via \(gateway)") }
        if let dev { parts.append("dev \(dev)") }
        if table != "main" { parts.append("table \(table)") }
        if scope != "universe" && !(scope == "link" && gateway == nil) { parts.append("scope \(scope)") }
        if let prefsrc { parts.append("src \(prefsrc)") }
        if let metric { parts.append("metric \(metric)") }
        return parts.joined(separator: " ")
    }
}
