/// The steps of pathtrace's own nft table (`pathtrace_<session>`), folded out of a walk into one marker.
///
/// With the nft backend every traced packet first passes the session's marking rule, so each walk starts
/// with steps such as `pathtrace_1a2b3c4d:prerouting rule #4 continue` and `policy accept`. They say how
/// the packet was selected, not what the ruleset did with it; renderers fold them unless asked for all.
public struct OwnTraceSteps: Sendable, Equatable {
    /// The table the folded steps were in, `pathtrace_1a2b3c4d`.
    public var table: String
    /// Its chains, in the order the walk passed them (`prerouting`, `output`).
    public var chains: [String]
    /// How many steps were folded.
    public var count: Int

    public init(table: String, chains: [String], count: Int) {
        self.table = table
        self.chains = chains
        self.count = count
    }

    /// Whether a step is in a table a pathtrace session installed: `pathtrace_` and a session id.
    public static func isOwn(_ event: TraceEvent) -> Bool { isOwnTable(event.tableName) }

    /// The same for a table's name, whose bytes are read in place (every step of every walk asks; with
    /// the nft backend the first steps of every walk are in such a table, and making its `String` to
    /// ask `SessionID` was 1.8% of live nft tracing's CPU: perf, scripts/bench-live.sh).
    static func isOwnTable(_ table: Name) -> Bool {
        guard table.hasPrefix("pathtrace_") else { return false }
        // `SessionID`'s rule on the bytes after the prefix: 1 to 16 of `a-z 0-9`.
        let id = UnsafeRawBufferPointer(rebasing: table.bytes[10...])
        return !id.isEmpty && id.count <= 16
            && id.allSatisfy {
                ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
            }
    }

    /// `pathtrace_` and a session id.
    static func isOwnTable(_ table: String) -> Bool {
        let name = table.utf8
        guard name.count > 10, name.first == UInt8(ascii: "p"), table.hasPrefix("pathtrace_") else { return false }
        return SessionID(String(table.dropFirst(10))) != nil
    }
}

extension OwnTraceSteps {
    /// What `foldingOwnSteps` would fold from `walk`, without copying it (an init takes its arguments
    /// owned, so a plain parameter would copy the walk); nil when it would fold nothing.
    public init?(walk: borrowing PacketWalk) {
        // One pass over the steps in place. With the nft backend every walk has such steps: a copy of
        // each step, and each table name made a `String` and its session id parsed again, were 3.6% of
        // live nft tracing's CPU (perf, scripts/bench-live.sh). The table found first is then compared
        // as a name (an id).
        var own: Name?
        var chains: [Name] = []
        var count = 0
        var others = false
        walk.steps.withUnsafeBufferPointer { steps in
            for i in steps.indices {
                let event = steps.address(i)
                let table = event.pointee.event.tableName
                guard own == table || OwnTraceSteps.isOwnTable(table) else {
                    others = true
                    continue
                }
                if own == nil { own = table }
                count += 1
                let chain = event.pointee.event.chainName
                if !chains.contains(chain) { chains.append(chain) }
            }
        }
        guard others, let own else { return nil }
        self.init(table: own.string, chains: chains.map { $0.string }, count: count)
    }
}

extension PacketWalk {
    /// The walk without pathtrace's own steps, and what was folded; nil when there is nothing to fold,
    /// or when nothing else would be left (such a walk keeps its steps: they are all it has).
    /// The renderers keep the walk and skip the steps instead, so the flow stays the packet as it entered
    /// (its first header may be in a folded step).
    public func foldingOwnSteps() -> (walk: PacketWalk, folded: OwnTraceSteps)? {
        guard steps.contains(where: { OwnTraceSteps.isOwn($0.event) }), let folded = OwnTraceSteps(walk: self)
        else { return nil }
        var walk = self
        walk.steps.removeAll { OwnTraceSteps.isOwn($0.event) }
        return (walk, folded)
    }
}
