#if os(Linux)
import Foundation
import PathTraceCore

/// Follows translations into their replies: when a finished walk shows a DNAT or REDIRECT, it adds
/// tagged rules (`TraceRulePlan.replyRules`) that trace packets from the translated address and port,
/// which the session's rules (the user's filter and its reverse) do not match, and it tells the session
/// which walks are those replies, so they are shown.
///
/// A live session calls `observe` with each walk it shows and `isFollowedReply` for each walk it filters.
/// The rules go in once the walk is finished, so the first answer of the connection that showed the
/// translation may pass before them; the connection's later replies and every later connection's are traced.
public final class NatReplyFollower: @unchecked Sendable {
    public let plan: TraceRulePlan
    let rate: TraceRate
    let installer: RuleInstaller
    /// At most this many translations are followed (each adds two rules per protocol).
    public let limit: Int
    private let lock = NSLock()
    private var followed: [NatReplySource] = []
    /// Translated flows of other namespaces traced on here.
    private var downstream: [NatReplySource] = []
    private var refused: Set<NatReplySource> = []
    /// The session's ruleset snapshot, told of the rules inserted at chain heads since (legacy TRACE numbers).
    private var shifted: ShiftedRuleLookup?
    /// Packet numbers of the walks shown with a translation followed (their replies are shown too).
    private var openers: Set<Int> = []

    public init(
        plan: TraceRulePlan, rate: TraceRate, installer: RuleInstaller, limit: Int = 16
    ) {
        self.plan = plan
        self.rate = rate
        self.installer = installer
        self.limit = limit
    }

    /// The lookup the session resolves rules with: for the legacy TRACE backends, one that knows the
    /// reply rules this follower inserts at the head of raw chains, so user rules keep their text.
    public func adjusting(_ lookup: RuleLookup?) -> RuleLookup? {
        guard plan.backend.usesLegacyTrace, let lookup else { return lookup }
        let wrapped = ShiftedRuleLookup(lookup)
        lock.withLock { shifted = wrapped }
        return wrapped
    }

    /// The sources followed so far, in the order their rules went in.
    public var sources: [NatReplySource] {
        lock.lock()
        defer { lock.unlock() }
        return followed
    }

    /// For a walk showing a DNAT or REDIRECT not followed yet, adds the rules for its replies. Returns a
    /// line for the user (what was added, or why not), nil when there was nothing new to follow.
    public func observe(_ walk: PacketWalk) -> String? {
        guard let source = NatReplySource(walk: walk) else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if openers.count < 65536 { openers.insert(walk.packet) }
        if followed.contains(source) || refused.contains(source) || source.isReply(walk) { return nil }
        let what = "\(source.type.rawValue.uppercased()) to \(Endpoint(address: source.address, port: source.port))"
        guard followed.count < limit else {
            refused.insert(source)
            return "not following the replies of \(what): \(limit) translations are followed already"
        }
        do {
            let rules = try plan.replyRules(from: source, index: followed.count + 1, rate: rate)
            try add(rules)
            followed.append(source)
            if rules.isEmpty {
                return "following the replies of \(what) (\(source)): their connection carries the mark"
            }
            return "following the replies of \(what) (\(source)): \(rules.count) rule(s) added"
        } catch LinuxError.cancelled {
            // The session is ending (walks still open come out after the teardown): nothing to follow.
            refused.insert(source)
            return nil
        } catch {
            refused.insert(source)
            return "cannot follow the replies of \(what): \(error)"
        }
    }

    /// Adds rules to the running session. Each legacy rule that went in (also before a failure) moved its
    /// chain's rules down by one: the session's lookup is told, so user rules keep their text.
    private func add(_ rules: [PlannedRule]) throws {
        defer {
            let added = installer.installedRules.map(\.remove)
            for rule in rules where added.contains(rule.remove) {
                if let family = rule.family, let chain = rule.chain, plan.backend.usesLegacyTrace {
                    shifted?.noteInserted(family: family, table: rule.table, chain: chain)
                }
            }
        }
        try installer.add(rules)
    }

    /// In a namespace behind the one that translated (`source` seen there): traces the translated flow
    /// on, both ways, since the user's filter no longer matches it. Returns a line for the user, nil when
    /// the flow is followed already.
    public func followDownstream(_ source: NatReplySource, from: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        guard !downstream.contains(source), downstream.count < limit else { return nil }
        downstream.append(source)
        let what = "\(IPProtocol.name(source.proto)) to \(Endpoint(address: source.address, port: source.port))"
        do {
            let rules = try plan.downstreamRules(to: source, index: downstream.count, rate: rate)
            if rules.isEmpty {
                return "cannot follow \(what) past \(from) with the \(plan.backend.rawValue) backend: its selection "
                    + "does not cross namespaces"
            }
            try add(rules)
            return "following \(what), the flow \(from) translated, here too: \(rules.count) rule(s) added"
        } catch LinuxError.cancelled {
            return nil
        } catch {
            return "cannot follow \(what) here: \(error)"
        }
    }

    /// Whether the walk belongs to a translated flow this namespace follows for the namespace before it.
    public func isFollowedDownstream(_ walk: PacketWalk) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return downstream.contains { $0.isDownstream(walk) }
    }

    /// Whether the walk is a reply from a translation followed, or a reply in the connection of a walk
    /// shown with one (shown although the filter does not match it).
    public func isFollowedReply(_ walk: PacketWalk) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if let opener = walk.replyTo, openers.contains(opener) { return true }
        return followed.contains { $0.isReply(walk) }
    }
}
#endif
