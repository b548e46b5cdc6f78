/// How a packet went through the box.
public enum PathClass: String, Sendable, Hashable {
    case input, forward, output, bridged, incomplete
}

/// The final verdict of a walk (REJECT counts as drop).
public enum WalkVerdict: String, Sendable, Hashable {
    case accept, drop, queue, unknown
}

/// How a NAT rewrite is known, strongest first.
public enum NatEvidence: String, Sendable, Hashable, Comparable {
    /// The header changed between two events of the walk.
    case observed
    /// The reply was seen de-NATed.
    case reply
    /// The conntrack reply tuple said so.
    case conntrack
    /// Computed from the rule's text (and the topology, for MASQUERADE).
    case rule
    /// Only known that a rule matched in a nat chain; the target is unknown.
    case chain

    var strength: Int {
        switch self {
        case .observed: return 5
        case .reply: return 4
        case .conntrack: return 3
        case .rule: return 2
        case .chain: return 1
        }
    }

    public static func < (a: NatEvidence, b: NatEvidence) -> Bool { a.strength < b.strength }
}

/// The kind of address translation.
public enum NatType: String, Sendable, Hashable {
    case dnat, snat, masquerade, redirect
}

/// One address translation of a walk.
///
/// Its endpoints are stored as `Endpoint`s, not as their text: every walk of a NATed connection's
/// first packet has a rewrite, and making its text (and freeing it after printing) cost about 800
/// instructions per walk that the JSON printer, writing the address's digits itself, does not need
/// (callgrind, `replay --format json` of bench-out/t10.log).
public struct NatRewrite: Sendable, Equatable {
    public var type: NatType
    /// `src` or `dst`.
    public var field: String
    public var beforeEndpoint: Endpoint
    public var afterEndpoint: Endpoint?
    /// `nat:POSTROUTING`, `nat:KUBE-SEP-…`, or `conntrack:PREROUTING` for a reply's de-NAT.
    public var at: String
    public var evidence: NatEvidence
    /// The rule that did it, when known.
    public var rule: RuleRef?
    public var ruleText: String?
    /// `original`, or `reply` for the reverse translation conntrack applies to a reply.
    public var direction: String = "original"
}

extension NatRewrite {
    // The initializers are out here, so the memberwise one exists for them to call: one that sets the fields
    // itself made the rewrite twice and copied it, an outlined copy and destroy of five strings per rewrite
    // (callgrind, scripts/icount.sh on bench-out/t10.log).
    public init(
        type: NatType, field: String, before: Endpoint, after: Endpoint?, at: String, evidence: NatEvidence,
        rule: RuleRef? = nil, ruleText: String? = nil
    ) {
        self.init(
            type: type, field: field, beforeEndpoint: before, afterEndpoint: after, at: at, evidence: evidence,
            rule: rule, ruleText: ruleText)
    }

    /// `before` and `after` as text (`addr:port`, `[v6]:port`, or a bare address), which must be an
    /// endpoint's.
    public init(
        type: NatType, field: String, before: String, after: String?, at: String, evidence: NatEvidence,
        rule: RuleRef? = nil, ruleText: String? = nil
    ) {
        self.init(
            type: type, field: field, before: NatRewrite.endpoint(before), after: after.map(NatRewrite.endpoint),
            at: at, evidence: evidence, rule: rule, ruleText: ruleText)
    }

    /// `addr:port`, `[v6]:port`, or a bare address when there is no port.
    public var before: String { beforeEndpoint.description }

    public var after: String? { afterEndpoint?.description }

    private static func endpoint(_ text: String) -> Endpoint {
        guard let endpoint = Endpoint(parsing: text) else { preconditionFailure("not an endpoint: \(text)") }
        return endpoint
    }
}

/// One step of a walk: the event plus what the stitcher inferred about it.
///
/// The verdict is stored as its tag and name slot (a boxed name in the event's rare fields), so a
/// step, like its event, copies without reference counting (issue 10, scripts/icount.sh).
public struct WalkStep: Sendable, Equatable {
    public var event: TraceEvent
    /// The hook the step ran at (inferred for user chains).
    public var hook: Hook?
    /// Whether `verdict` was inferred rather than printed by the source.
    public var verdictInferred: Bool
    @usableFromInline var verdictTag: StepVerdict.Tag
    @usableFromInline var verdictSlot = NameSlot.none

    /// The step's verdict: reported by the source, or inferred from what followed.
    @inlinable @inline(__always) public var verdict: StepVerdict? {
        get { StepVerdict(verdictTag, event.rare.name(verdictSlot, field: TraceEvent.Field.stepVerdict)) }
        set {
            verdictTag = StepVerdict.Tag(newValue)
            verdictSlot = event.rare.slot(
                newValue?.name, field: TraceEvent.Field.stepVerdict, replacing: verdictSlot)
        }
    }

    @inlinable @inline(__always)
    public init(event: TraceEvent, hook: Hook?, verdictInferred: Bool, verdict: StepVerdict?) {
        self.event = event
        self.hook = hook
        self.verdictInferred = verdictInferred
        verdictTag = StepVerdict.Tag(verdict)
        // The common case: no boxed name anywhere, and the event moved in without a copy.
        if self.event.rare.isEmpty {
            guard let name = verdict?.name else { return }
            if let slot = NameSlot.of(name) {
                verdictSlot = slot
                return
            }
        }
        verdictSlot = self.event.rare.stepSlot(verdict?.name)
    }

    /// A step of `event` with the verdict `tag` and `slot` as they are, not inferred: the stitcher takes
    /// the event's own, where making a `StepVerdict` of them and taking it apart again cost it three
    /// outlined copies, about 16 instructions per event (callgrind, `replay --format json` of
    /// bench-out/t10.log). The slot must be a table id or none unless the event's rare fields hold its name.
    @inlinable @inline(__always)
    init(event: consuming TraceEvent, hook: Hook?, verdictTag: StepVerdict.Tag, verdictSlot: NameSlot) {
        self.event = event
        self.hook = hook
        verdictInferred = false
        self.verdictTag = verdictTag
        self.verdictSlot = verdictSlot
    }

    @inlinable @inline(__always)
    public init(event: TraceEvent, hook: Hook?, verdict: StepVerdict?, verdictInferred: Bool) {
        self.init(event: event, hook: hook, verdictInferred: verdictInferred, verdict: verdict)
    }

    public static func == (a: WalkStep, b: WalkStep) -> Bool {
        a.event == b.event && a.hook == b.hook && a.verdictInferred == b.verdictInferred && a.verdict == b.verdict
    }
}

/// The ordered steps of one packet through the tables and chains of one namespace.
public struct PacketWalk: Sendable, Equatable {
    /// 1-based, in the order walks started.
    public var packet: Int
    public var family: Family
    public var netns: String?
    public var path: PathClass
    public var verdict: WalkVerdict
    public var steps: [WalkStep]
    public var nat: [NatRewrite]
    /// 1.0 when every join was certain; lower when a join was a guess among candidates.
    public var confidence: Double
    /// Why the walk is incomplete or why a join was a guess.
    public var notes: [String]
    /// For a reply: the packet number of the walk that opened its (NATed) connection.
    public var replyTo: Int?
    /// For any later packet of a NATed connection: the packet number of the walk that opened it.
    public var connection: Int?
    /// The devices the walk used and what each is, when a topology is known (in the order first used).
    public var interfaces: [WalkInterface] = []
    /// Why the packet went no further, most likely first, when the walk stopped short.
    public var vanished: [Vanished] = []
}

extension PacketWalk {
    /// An empty walk. Out here, so the memberwise initializer exists to call (see `NatRewrite`'s).
    public init(packet: Int, family: Family) {
        self.init(
            packet: packet, family: family, path: .incomplete, verdict: .unknown, steps: [], nat: [], confidence: 1,
            notes: [])
    }

    /// The header of the first step that carried one: the flow as it entered.
    public var firstHeader: PacketHeader? { firstHeaderIndex.flatMap { steps[$0].event.header } }

    /// The index of the first step with a header, preferring one with the IP header's own fields: an
    /// ebtables LOG line before it shows only addresses, protocol and ports.
    public var firstHeaderIndex: Int? {
        steps.firstIndex {
            $0.event.hasHeader
                && ($0.event.headerValue.ipID != nil || $0.event.headerValue.length != nil
                    || $0.event.headerValue.tcpSeq != nil)
        } ?? steps.firstIndex { $0.event.hasHeader }
    }
}
