import PathTraceCore

/// `--explain`: one sentence per step that a learner can check against the kernel — why the packet is
/// at this hook (the routing decision that sent it there, said once per hook), what the table is for,
/// what the rule or policy did, and conntrack's part (only a connection's first packet passes the nat
/// chains; later packets and replies are translated by conntrack without them).
public enum Explain {
    /// The sentence for step `index` of `walk`.
    public static func step(_ walk: PacketWalk, at index: Int) -> String {
        let step = walk.steps[index]
        let own = OwnTraceSteps.isOwn(step.event)
        // The bridge's hooks and the IP hooks are two sets: each step is compared with the last of its own.
        let bridge = step.event.family == .bridge
        let previous = walk.steps[..<index].last {
            (own || !OwnTraceSteps.isOwn($0.event)) && ($0.event.family == .bridge) == bridge
        }
        var parts: [String] = []
        if step.hook != previous?.hook, let hook = step.hook {
            parts.append(bridge ? bridgeHookReason(hook, step: step) : hookReason(hook, walk: walk, step: step))
        }
        if index == conntrackStep(walk), let hook = step.hook, let note = conntrackNote(hook, walk: walk) {
            parts.append(note)
        }
        parts.append(action(step, walk: walk))
        if let note = natNote(step, walk: walk) { parts.append(note) }
        let sentence = parts.joined(separator: "; ")
        return sentence.prefix(1).uppercased() + sentence.dropFirst() + "."
    }

    /// The sentences of every step, in order (one per step of `walk.steps`).
    public static func steps(_ walk: PacketWalk) -> [String] {
        walk.steps.indices.map { step(walk, at: $0) }
    }

    // MARK: - Why the packet is at this hook

    static func hookReason(_ hook: Hook, walk: PacketWalk, step: WalkStep) -> String {
        let e = step.event
        let ipv6 = walk.family == .ipv6 || e.header?.isV6 == true
        let hops = ipv6 ? "hop limit" : "TTL"
        // A routed packet that came in on a bridge port keeps PHYSIN: only PHYSOUT tells a bridged one later.
        let bridgedIn = e.physIn != nil || walk.path == .bridged || walk.family == .bridge
        let bridged = hook == .prerouting ? bridgedIn : e.physOut != nil || walk.path == .bridged
        let dst = e.header?.dst.map { "\($0)" } ?? "the destination"
        let inIface = e.inIface.flatMap { $0.isEmpty ? nil : $0 }
        let outIface = e.outIface.flatMap { $0.isEmpty ? nil : $0 }
        let callSysctl = ipv6 ? "bridge-nf-call-ip6tables=1" : "bridge-nf-call-iptables=1"
        switch hook {
        case .prerouting:
            if bridged {
                return "bridge \(inIface ?? "?") received this frame on its port \(e.physIn ?? "?") and br_netfilter "
                    + "(\(callSysctl)) runs the IP PREROUTING hook for it before the bridge looks up the destination MAC"
            }
            return
                "the packet arrived on \(inIface ?? "an interface") and is at PREROUTING, before the routing decision"
        case .input:
            return "the routing decision found \(dst) is an address of this host (a local route), so the packet "
                + "goes to INPUT, the last hook before a local socket"
        case .forward:
            if bridged {
                return "the bridge sends this frame from port \(e.physIn ?? "?") to port \(e.physOut ?? "?") by its "
                    + "destination MAC, and br_netfilter runs the IP FORWARD hook for it (no routing decision, the "
                    + "\(hops) stays as it is)"
            }
            var s = "the routing decision found \(dst) is another host's address, reached through \(outIface ?? "?"), "
            s += "so with forwarding on the packet goes to FORWARD"
            s +=
                ipv6
                ? " (ip6_forward lowered the hop limit by one first)" : " (ip_forward lowered the TTL by one first)"
            return s
        case .output:
            if isICMPError(e.header) {
                return "the kernel itself built this ICMP\(ipv6 ? "v6" : "") error (the answer to a REJECT, an expired "
                    + "\(hops) or a closed port) and sends it as a locally generated packet, so it starts at OUTPUT"
            }
            return "a local process sent this packet: the route lookup for \(dst) chose \(outIface ?? "an interface") "
                + "and the packet starts at OUTPUT (locally generated packets never pass PREROUTING)"
        case .postrouting:
            if bridged {
                return "the bridge is about to send the frame out port \(e.physOut ?? "?"), and br_netfilter runs "
                    + "the IP POSTROUTING hook for it"
            }
            let neighbour =
                ipv6
                ? "then IPv6 neighbour discovery (ICMPv6, there is no ARP) finds the next hop's MAC"
                : "then ARP finds the next hop's MAC"
            return "the route chose \(outIface ?? "the out interface"), so the packet is at POSTROUTING, the last "
                + "hook before it leaves; \(neighbour)"
        case .brouting:
            return "the bridge received this frame and ebtables' broute table decides first whether it is bridged "
                + "(ACCEPT) or handed up to be routed (DROP)"
        }
    }

    /// Why a frame is at a bridge hook (net/bridge/br_input.c, br_forward.c; br_netfilter_hooks.c).
    static func bridgeHookReason(_ hook: Hook, step: WalkStep) -> String {
        let e = step.event
        let port = { (phys: String?, dev: String?) -> String in
            phys.flatMap { $0.isEmpty ? nil : $0 } ?? dev.flatMap { $0.isEmpty ? nil : $0 } ?? "?"
        }
        let inPort = port(e.physIn, e.inIface)
        let outPort = port(e.physOut, e.outIface)
        switch hook {
        case .brouting:
            return "the bridge received this frame and ebtables' broute table decides first whether it is bridged "
                + "(ACCEPT) or handed up to be routed (DROP)"
        case .prerouting:
            return "the bridge received this frame on its port \(inPort) and is at its PREROUTING hook, before "
                + "br_netfilter hands an IP frame to the IP PREROUTING hook and before the bridge looks up the "
                + "destination MAC"
        case .input:
            return "the destination MAC is the bridge's own (or a broadcast), so the bridge passes the frame up to "
                + "the host at its INPUT hook, from where the IP stack routes it"
        case .forward:
            return "the bridge sends this frame from port \(inPort) to port \(outPort) by its destination MAC, at "
                + "its FORWARD hook"
        case .output:
            return "the host sends this frame out through the bridge (a packet it routed or sent to the bridge "
                + "device): a frame of local origin meets the bridge's OUTPUT hook, here for port \(outPort)"
        case .postrouting:
            return "the frame leaves through port \(outPort): the bridge's POSTROUTING hook is its last"
        }
    }

    /// The step after which conntrack (priority -200) has looked the packet up: the first step of the first
    /// IP hook that is not raw (-300), else that hook's last step. (Bridge hooks have no conntrack.)
    static func conntrackStep(_ walk: PacketWalk) -> Int? {
        let ip = { (i: Int) in walk.steps[i].event.family != .bridge }
        guard let first = walk.steps.indices.first(where: { !OwnTraceSteps.isOwn(walk.steps[$0].event) && ip($0) })
        else {
            return nil
        }
        let hook = walk.steps[first].hook
        var last = first
        for i in first..<walk.steps.count where walk.steps[i].hook == hook && ip(i) {
            if OwnTraceSteps.isOwn(walk.steps[i].event) { continue }
            if walk.steps[i].event.table != "raw" { return i }
            last = i
        }
        return last
    }

    /// For a later packet or reply of a NATed connection, at its first hook: conntrack, not nat, translates it.
    static func conntrackNote(_ hook: Hook, walk: PacketWalk) -> String? {
        guard hook == .prerouting || hook == .output, let first = walk.replyTo ?? walk.connection else { return nil }
        let ct = walk.nat.filter { $0.at.hasPrefix("conntrack:") }
        let what =
            walk.replyTo != nil
            ? "a reply in the connection packet \(first) opened"
            : "a later packet of the connection packet \(first) opened"
        var s = "conntrack finds this packet is \(what), so it skips the nat chains at every hook"
        if !ct.isEmpty {
            let reverse = walk.replyTo != nil ? "the reverse of that connection's NAT" : "that connection's NAT"
            let rewrites = ct.map { "\($0.field.uppercased()) \($0.before) → \($0.after ?? "?")" }
            s += " and conntrack applies \(reverse) itself (\(rewrites.joined(separator: ", ")))"
        }
        return s
    }

    // MARK: - What the table is for and what the step did

    static func tablePurpose(_ e: TraceEvent, hook: Hook?) -> String {
        if OwnTraceSteps.isOwn(e) {
            return "pathtrace's own table \(e.table) only marks the packet for tracing (meta nftrace set 1)"
        }
        switch e.table {
        case "raw": return "the raw table runs before conntrack (for NOTRACK and TRACE)"
        case "mangle": return "the mangle table is for changing packet fields (TOS, TTL, mark)"
        case "nat":
            if hook == .postrouting || hook == .input {
                return "the nat table here is for source NAT (SNAT, MASQUERADE)"
            }
            return "the nat table here is for destination NAT (DNAT, REDIRECT)"
        case "filter": return "the filter table decides whether the packet may pass"
        case "security": return "the security table sets SELinux labels"
        case "broute": return "the broute table decides between bridging and routing"
        default: return "the table \(e.table) has a chain at this hook"
        }
    }

    static func action(_ step: WalkStep, walk: PacketWalk) -> String {
        let e = step.event
        if e.kind == .log, e.family == .bridge, !e.table.isEmpty || !e.chain.isEmpty {
            let prefix = e.prefix.map { " with the prefix \"\($0)\"" } ?? ""
            return "an ebtables LOG rule wrote this line\(prefix), which names its table and chain "
                + "(\(e.table):\(e.chain)); LOG does not decide, so the frame went on"
        }
        if e.kind == .log {
            let prefix = e.prefix.map { " with the prefix \"\($0)\"" } ?? ""
            return "a LOG rule wrote this line\(prefix) (a LOG line names neither its chain nor its rule) and the "
                + "packet went on to the next rule"
        }
        let purpose = tablePurpose(e, hook: step.hook)
        let isUserChain = Hook(chainName: e.chain) == nil
        let chain = isUserChain ? "the user chain \(e.chain)" : "\(e.table):\(e.chain)"
        let rule = e.rule.map(ruleName) ?? "a rule"
        switch e.kind {
        case .policy where isUserChain:
            return "\(purpose): no rule in \(chain) decided, so the packet returns to the chain that jumped there "
                + "(a user chain has no policy)"
        case .policy:
            switch step.verdict {
            case .drop? where step.verdictInferred && e.table != "filter":
                return "\(purpose): no rule in \(chain) matched and no later step shows the packet, so it ended "
                    + "here: " + vanishedAfter(step, walk: walk)
            case .drop?:
                return "\(purpose): no rule in \(chain) matched, so its policy DROP dropped the packet (nothing is "
                    + "sent back)"
            case .accept?, nil:
                var s = "\(purpose): no rule in \(chain) matched, so its policy ACCEPT let the packet go on"
                if e.table == "nat" { s += " without NAT here" }
                return s
            default:
                return
                    "\(purpose): no rule in \(chain) matched, so its policy (\(step.verdict?.description ?? "?")) applied"
            }
        case .return:
            return "\(purpose): the packet reached the end of \(chain) (or a RETURN) and goes back to the rule after "
                + "the jump in the calling chain"
        case .rule, .log:
            break
        }
        let text = e.ruleText ?? ""
        let target = ruleTarget(text)
        var s = "\(purpose): \(rule) in \(chain) matched"
        if let nat = natSetUp(step, walk: walk, target: target) {
            s += " and " + nat
        } else if target == "REJECT" {
            let kind = rejectWith(text) ?? "port unreachable, the default"
            var icmp = walk.family == .ipv6 ? "an ICMPv6 error (\(kind))" : "an ICMP error (\(kind))"
            if kind == "tcp-reset" { icmp = "a TCP RST (tcp-reset)" }
            s +=
                " and REJECT dropped the packet; the kernel answers the source with \(icmp), which leaves through OUTPUT"
        } else {
            switch step.verdict {
            case .jump(let c)?: s += " and jumped to the user chain \(c)"
            case .goto(let c)?: s += " and went to the user chain \(c) (goto: no return to this chain)"
            case .drop?: s += " and dropped the packet silently (DROP sends nothing back)"
            case .accept?:
                s += " and accepted the packet: this table's chain is done, later tables and hooks still see it"
            case .return?: s += " and returned the packet to the calling chain"
            case .continue?:
                s += " with a target that does not decide (LOG, MARK, …), so the next rule is tried"
            default: break
            }
        }
        if matchesConntrackState(text) {
            s += " (it matches because conntrack knows the packet's connection: state ESTABLISHED, or RELATED "
            s += "for an ICMP error or an expected connection)"
        }
        return s
    }

    /// Why a packet let through by a chain that does not drop was seen no more.
    static func vanishedAfter(_ step: WalkStep, walk: PacketWalk) -> String {
        let ipv6 = walk.family == .ipv6
        if step.hook == .prerouting, let ttl = step.event.header?.ttl, ttl <= 1 {
            return ipv6
                ? "with hop limit \(ttl), ip6_forward discards it before FORWARD and sends ICMPv6 time exceeded"
                : "with TTL \(ttl), ip_forward discards it before FORWARD and sends ICMP time exceeded"
        }
        return "the kernel dropped it after this chain, outside the rules (no route, rp_filter, forwarding off)"
    }

    /// `rule 3` or `the rule with handle 7`.
    static func ruleName(_ r: RuleRef) -> String {
        switch r {
        case .number(let n): return "rule \(n)"
        case .handle(let h): return "the rule with handle \(h)"
        }
    }

    /// What a NAT rule set up, from the walk's rewrite done at this step's chain (or the rule's target).
    static func natSetUp(_ step: WalkStep, walk: PacketWalk, target: String?) -> String? {
        let at = "\(step.event.table):\(step.event.chain)"
        let rewrite = walk.nat.first { $0.at == at && $0.direction == "original" }
        guard rewrite != nil || ["DNAT", "SNAT", "MASQUERADE", "REDIRECT"].contains(target ?? "") else { return nil }
        let name = rewrite.map { $0.type.rawValue.uppercased() } ?? target ?? "NAT"
        let field =
            (rewrite?.field ?? (name == "DNAT" || name == "REDIRECT" ? "dst" : "src")) == "dst"
            ? "destination" : "source"
        var s = "set up \(name): the \(field)"
        if let rewrite { s += " \(rewrite.before) becomes" }
        if let after = rewrite?.after {
            s += " \(after)"
            if name == "MASQUERADE" { s += " (the address of the out interface)" }
            if name == "REDIRECT" { s += " (this host)" }
        } else if name == "MASQUERADE" {
            s += rewrite == nil ? " becomes the address of the out interface" : " the address of the out interface"
        } else if name == "REDIRECT" {
            s += rewrite == nil ? " becomes this host" : " this host"
        }
        return s
    }

    /// On a nat step of a connection's first packet: only this packet consults the nat chains.
    static func natNote(_ step: WalkStep, walk: PacketWalk) -> String? {
        let at = "\(step.event.table):\(step.event.chain)"
        let isNat = step.event.table == "nat" || walk.nat.contains { $0.at == at && $0.direction == "original" }
        guard isNat, step.event.kind != .log, walk.replyTo == nil, walk.connection == nil else { return nil }
        return "only a connection's first packet passes the nat chains: conntrack records the outcome and "
            + "translates later packets and replies without them"
    }

    /// The target of a rule's text: `-j X` (iptables-save), the first word (`-nvL`), or an nft verdict word.
    static func ruleTarget(_ text: String) -> String? {
        let words = text.split(separator: " ").map(String.init)
        if let j = words.firstIndex(where: { $0 == "-j" || $0 == "--jump" }), j + 1 < words.count {
            return words[j + 1].uppercased()
        }
        let known = ["ACCEPT", "DROP", "REJECT", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "RETURN", "LOG"]
        if let first = words.first, known.contains(first) { return first }
        for w in words.reversed() where known.contains(w.uppercased()) { return w.uppercased() }
        return nil
    }

    /// The `--reject-with` type of a REJECT rule (iptables-save or `-nvL` form: `reject-with icmp-…`).
    static func rejectWith(_ text: String) -> String? {
        let words = text.split(separator: " ").map(String.init)
        guard let i = words.firstIndex(where: { $0 == "--reject-with" || $0 == "reject-with" }), i + 1 < words.count
        else { return nil }
        return words[i + 1]
    }

    static func matchesConntrackState(_ text: String) -> Bool {
        let t = text.uppercased()
        return t.contains("ESTABLISHED") || t.contains("RELATED")
    }

    /// ICMP destination unreachable, source quench, time exceeded, parameter problem; ICMPv6 types 1–4.
    static func isICMPError(_ h: PacketHeader?) -> Bool {
        guard let h, let type = h.icmpType else { return false }
        if h.proto == IPProtocol.icmpv6 { return (1...4).contains(type) }
        return h.proto == IPProtocol.icmp && [3, 4, 5, 11, 12].contains(type)
    }
}
