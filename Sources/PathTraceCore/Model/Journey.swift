/// One packet's path across network namespaces: its walk in each namespace it crossed, in order, and
/// the cables between them.
public struct Journey: Sendable, Equatable {
    /// The part of the journey inside one namespace.
    public struct Leg: Sendable, Equatable {
        public var netns: String
        public var packet: Int
        /// The hooks the walk passed, in order, each once.
        public var hooks: [Hook]
        public var nat: [NatRewrite]
        /// The device the packet came in on (nil for a locally generated packet).
        public var entry: String?
        /// The device it left by (nil when it went no further).
        public var exit: String?
        public var path: PathClass
        public var verdict: WalkVerdict
    }

    /// 1-based, in the order journeys started.
    public var number: Int
    public var legs: [Leg]
    /// `ptdn-vm2:eth0 ⇢ ptdn-vm1:eth1`, one per crossing (a bridge crossed on the way: `⇢ br0 ⇢`).
    public var links: [String]
    /// Why the packet went no further, when the journey ended short.
    public var vanished: [Vanished]

    public var netns: [String] { legs.map(\.netns) }
    public var walks: [Int] { legs.map(\.packet) }
}

extension Endpoint {
    /// `addr`, `addr:port` or `[v6]:port` (the form NAT entries print).
    public init?(_ text: String) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            guard let address = IPAddress(String(text[text.index(after: text.startIndex)..<close])) else { return nil }
            let rest = text[text.index(after: close)...]
            self.init(address: address, port: rest.hasPrefix(":") ? UInt16(rest.dropFirst()) : nil)
            return
        }
        if let address = IPAddress(text) {
            self.init(address: address, port: nil)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let address = IPAddress(String(text[..<colon])),
            let port = UInt16(text[text.index(after: colon)...])
        else { return nil }
        self.init(address: address, port: port)
    }
}
