/// Puts the steps of one packet back in walk order when two sources report it: in a namespace with
/// iptables-legacy tables beside nft tables (backend `mixed`), legacy TRACE arrives over nfnetlink_log
/// and nf_tables' trace over NFNLGRP_NFTRACE, each in its own batches, so a walk's legacy steps and
/// its nft steps come interleaved out of order.
///
/// Events are held per packet (the header fields neither NAT nor forwarding change) until no event of
/// it has come for `hold` seconds, then given out with the two sources merged by hook and priority:
/// legacy tables at their fixed priorities (raw −300, mangle −150, nat −100/100, filter 0), nft base
/// chains at the priority the ruleset declares, a user chain at the position of the chain that jumped
/// to it. Each source's own order is kept. An event that cannot be placed (no header) passes at once.
public struct MixedStepOrder {
    /// Seconds without an event of a packet before its events are given out.
    public var hold: Double

    private final class Group {
        var key: InvariantKey?
        var legacy: [Placed] = []
        var nft: [Placed] = []
        var lastArrival: Double
        init(lastArrival: Double) { self.lastArrival = lastArrival }
    }

    private struct Placed {
        var event: TraceEvent
        var rank: Int
        var priority: Int
    }

    private var groups: [InvariantKey: Group] = [:]
    private var byTraceID: [UInt32: Group] = [:]
    /// Groups in the order their first event came: released in that order.
    private var pending: [Group] = []

    public init(hold: Double = 0.25) {
        self.hold = hold
    }

    /// Whether an event is an nf_tables step (a trace id, or an nft family word) rather than legacy TRACE.
    public static func isNftStep(_ event: TraceEvent) -> Bool {
        event.traceID != nil || event.tableFamilyName != nil
    }

    /// Holds `event`, received at wall-clock time `now`; returns what is due (packets idle for `hold`),
    /// in walk order. `lookup` gives nft base chains their declared hook and priority.
    public mutating func add(_ event: TraceEvent, now: Double, lookup: RuleLookup?) -> [TraceEvent] {
        let nft = Self.isNftStep(event)
        var key: InvariantKey?
        if event.hasHeader { key = InvariantKey(HeaderIdentity(event.headerValue)) }
        var group: Group?
        if let key { group = groups[key] }
        if group == nil, let id = event.traceID { group = byTraceID[id] }
        if group == nil, key == nil {
            // Nothing ties it to a packet: out at once.
            return [event]
        }
        let placed = place(event, nft: nft, after: group.flatMap { nft ? $0.nft.last : $0.legacy.last }, lookup)
        // The same header again at an earlier hook is the next packet (a retransmission): a new group.
        if let g = group, let last = nft ? g.nft.last : g.legacy.last, placed.rank < last.rank {
            group = nil
        }
        let g: Group
        if let group {
            g = group
        } else {
            g = Group(lastArrival: now)
            g.key = key
            if let key { groups[key] = g }
            pending.append(g)
        }
        g.lastArrival = now
        if nft { g.nft.append(placed) } else { g.legacy.append(placed) }
        if let id = event.traceID { byTraceID[id] = g }
        // A scan of what is held only when the oldest packet is due (a flood holds thousands): the
        // live loop's beat releases the rest.
        guard let oldest = pending.first, now - oldest.lastArrival >= hold else { return [] }
        return release(now: now)
    }

    /// Gives out the events of packets idle for `hold` at wall-clock time `now`, in walk order.
    public mutating func release(now: Double) -> [TraceEvent] {
        var out: [TraceEvent] = []
        var kept: [Group] = []
        for g in pending {
            if now - g.lastArrival >= hold {
                out += take(g)
            } else {
                kept.append(g)
            }
        }
        pending = kept
        return out
    }

    /// Gives out everything held (the end of a trace).
    public mutating func flush() -> [TraceEvent] {
        let out = pending.flatMap { take($0) }
        pending = []
        return out
    }

    private mutating func take(_ g: Group) -> [TraceEvent] {
        if let key = g.key, groups[key] === g { groups[key] = nil }
        for p in g.nft {
            if let id = p.event.traceID, byTraceID[id] === g { byTraceID[id] = nil }
        }
        return Self.merge(g.legacy, g.nft)
    }

    /// The two sources' steps merged by (hook rank, priority), each source's order kept; on a tie the
    /// legacy step goes first.
    private static func merge(_ a: [Placed], _ b: [Placed]) -> [TraceEvent] {
        var out: [TraceEvent] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if j >= b.count
                || (i < a.count && (a[i].rank, a[i].priority) <= (b[j].rank, b[j].priority))
            {
                out.append(a[i].event)
                i += 1
            } else {
                out.append(b[j].event)
                j += 1
            }
        }
        return out
    }

    /// Where an event ran: its hook (or the nft base chain's declared one) and priority; a user chain,
    /// which has no hook of its own, runs where the source's previous step ran.
    private func place(_ event: TraceEvent, nft: Bool, after previous: Placed?, _ lookup: RuleLookup?) -> Placed {
        var hook = event.hook
        var priority: Int?
        if nft, let declared = lookup?.basePosition(table: event.table, chain: event.chain, family: event.family) {
            hook = declared.hook
            priority = declared.priority
        }
        guard let hook else {
            if let previous { return Placed(event: event, rank: previous.rank, priority: previous.priority) }
            return Placed(event: event, rank: 0, priority: Int.min)
        }
        if let previous, previous.rank == Netfilter.rank(hook), previous.event.tableName == event.tableName,
            priority == nil
        {
            return Placed(event: event, rank: previous.rank, priority: previous.priority)
        }
        return Placed(
            event: event, rank: Netfilter.rank(hook), priority: priority ?? Stitcher.priority(of: event, at: hook))
    }
}
