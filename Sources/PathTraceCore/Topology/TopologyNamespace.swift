/// One network namespace: its devices, routes, the sysctls that decide a packet's fate and its rulesets.
public struct TopologyNamespace: Codable, Sendable, Equatable {
    /// The label: the name under /run/netns; `init` for the initial namespace without a name; a process's
    /// namespace without a name as `pid 1234 (comm)`.
    public var name: String
    /// The namespace file's inode: what identifies a namespace.
    public var inode: UInt64
    /// Whether this is the initial namespace (the one of pid 1).
    public var initial: Bool
    /// The process it was found through, for a namespace without a name.
    public var pid: Int?
    public var links: [TopologyLink]
    public var routes: [TopologyRoute]
    /// Policy rules, present only when the namespace has more than the kernel's default rules.
    public var policyRules: [TopologyRule]?
    /// `net.ipv4.ip_forward` … by key; only keys that exist in this namespace.
    public var sysctls: [String: String]
    /// Only backends in use (with tables loaded).
    public var rulesets: [TopologyRuleset]
    /// What could not be read (a missing tool, a refused call), one line each.
    public var notes: [String]

    public init(
        name: String, inode: UInt64, initial: Bool = false, pid: Int? = nil, links: [TopologyLink] = [],
        routes: [TopologyRoute] = [], policyRules: [TopologyRule]? = nil, sysctls: [String: String] = [:],
        rulesets: [TopologyRuleset] = [], notes: [String] = []
    ) {
        self.name = name
        self.inode = inode
        self.initial = initial
        self.pid = pid
        self.links = links
        self.routes = routes
        self.policyRules = policyRules
        self.sysctls = sysctls
        self.rulesets = rulesets
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case name, inode, initial, pid, links, routes
        case policyRules = "policy_rules"
        case sysctls, rulesets, notes
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(inode, forKey: .inode)
        try c.encode(initial, forKey: .initial)
        try c.encode(pid, forKey: .pid)
        try c.encode(links, forKey: .links)
        try c.encode(routes, forKey: .routes)
        try c.encodeIfPresent(policyRules, forKey: .policyRules)
        try c.encode(sysctls, forKey: .sysctls)
        try c.encode(rulesets, forKey: .rulesets)
        try c.encode(notes, forKey: .notes)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        inode = try c.decodeIfPresent(UInt64.self, forKey: .inode) ?? 0
        initial = try c.decodeIfPresent(Bool.self, forKey: .initial) ?? false
        pid = try c.decodeIfPresent(Int.self, forKey: .pid)
        links = try c.decodeIfPresent([TopologyLink].self, forKey: .links) ?? []
        routes = try c.decodeIfPresent([TopologyRoute].self, forKey: .routes) ?? []
        policyRules = try c.decodeIfPresent([TopologyRule].self, forKey: .policyRules)
        sysctls = try c.decodeIfPresent([String: String].self, forKey: .sysctls) ?? [:]
        rulesets = try c.decodeIfPresent([TopologyRuleset].self, forKey: .rulesets) ?? []
        notes = try c.decodeIfPresent([String].self, forKey: .notes) ?? []
    }

    /// The device named `ifname`.
    public func link(_ ifname: String) -> TopologyLink? { links.first { $0.name == ifname } }

    /// The device with index `ifindex`.
    public func link(index ifindex: Int) -> TopologyLink? { links.first { $0.ifindex == ifindex } }
}
