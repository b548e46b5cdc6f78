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
