/// One end of a veth cable: a device in a namespace. As a link's `peer`, `netns` and `ifname` are nil when
/// the peer lives in a namespace that was not probed (then `nsid` and `ifindex` say what the kernel told).
public struct TopologyEnd: Codable, Sendable, Hashable {
    /// The namespace's label (see `TopologyNamespace.name`).
    public var netns: String?
    public var ifname: String?
    public var ifindex: Int?
    /// The peer namespace's id as seen from the link's own namespace (IFLA_LINK_NETNSID); nil when the peer
    /// is in the same namespace.
    public var nsid: Int?

    public init(netns: String?, ifname: String?, ifindex: Int? = nil, nsid: Int? = nil) {
        self.netns = netns
        self.ifname = ifname
        self.ifindex = ifindex
        self.nsid = nsid
    }

    enum CodingKeys: String, CodingKey {
        case netns, ifname, ifindex, nsid
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(netns, forKey: .netns)
        try c.encode(ifname, forKey: .ifname)
        try c.encode(ifindex, forKey: .ifindex)
        try c.encode(nsid, forKey: .nsid)
    }

    /// `ns:dev`, or what is known of an unresolved end.
    public var label: String {
        if let netns, let ifname { return "\(netns):\(ifname)" }
        let index = ifindex.map { "ifindex \($0)" } ?? "unknown device"
        return nsid.map { "nsid \($0) \(index)" } ?? index
    }
}
