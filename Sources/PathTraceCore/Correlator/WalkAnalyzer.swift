/// Turns a stitched walk into what a user reads: hooks, verdicts, path, NAT rewrites.
///
/// Steps are read in place by index: a copied step would retain every string of its event.
struct WalkAnalyzer {
    let lookup: RuleLookup?
    /// What printed at each hook anywhere in this input: a table absent here prints nothing.
    let visibility: Visibility
    /// Whether the lookup can resolve rules at all (without a ruleset it never does).
    private let resolves: Bool
    /// Remembered answers of `lookup` (rules, "is this rule text a NAT statement"), shared with the
    /// stitcher.
    let memo: LookupMemo

    /// Where a short walk's array, traded for one of its size, goes for a later walk.
    let spares: SpareSteps

    init(lookup: RuleLookup?, visibility: Visibility, memo: LookupMemo, spares: SpareSteps = SpareSteps()) {
        self.spares = spares
        self.lookup = lookup
        self.visibility = visibility
        self.memo = memo
        resolves = lookup != nil && !(lookup is TextRuleLookup)
    }

    /// The finished walk of `open`, made in `made`, which must hold a new walk: an optional the caller
    /// moves it out of (bound with `case .some`), so it is neither copied (a copy retains every array of
    /// it) nor left behind as an empty optional to destroy (an outlined call per walk; callgrind,
    /// scripts/icount.sh on bench-out/t10.log).
    func analyze(_ open: OpenWalk, reason: Stitcher.CloseReason, into made: inout PacketWalk?) {
        made?.fill(by: self, open, reason)
        // Room for 8 steps was made at a walk's second step; a short walk that keeps it would hold
        // several KB while the linker holds it (scripts/bench-replay.sh, mutated lines). Tidy walks
        // have 5 to 8 steps and are not copied.
        if (made?.steps.capacity ?? 0) - (made?.steps.count ?? 0) >= 4 {
            var exact: [WalkStep] = []
            exact.reserveCapacity(made?.steps.count ?? 0)
            made?.steps.withUnsafeBufferPointer { exact.append(contentsOf: $0) }
            // Traded, not assigned: the walk's array is then held only here, and goes back to the spares.
            made?.trade(steps: &exact)
            spares.recycle(&exact)
        }
    }

    /// The finished walk of `open`, made in `walk`, which must be new (`PacketWalk(packet:family:)`): its
    /// fields are set one by one, as replacing it whole would destroy the empty walk first.
    func analyze(_ open: OpenWalk, reason: Stitcher.CloseReason, into walk: inout PacketWalk) {
        walk.packet = open.packet
        // Move the steps and notes (the open walk is done): sharing the steps would make the edits below
        // copy them all, and each shared array was retained and released (callgrind, scripts/icount.sh on
        // bench-out/t10.log).
        swap(&walk.steps, &open.steps)
        swap(&walk.notes, &open.notes)
        // A frame's walk is of its IP family once an IP hook saw it; bridge steps alone make a bridge walk.
        // (Read in place: `first(where:)`, or the array's subscript, would copy the step out.)
        let family = walk.steps.withUnsafeBufferPointer { steps in
            let i = steps.indices.first { steps.address($0).pointee.event.family != .bridge } ?? steps.indices.first
            return i.map { steps.address($0).pointee.event.family }
        }
        walk.family = family ?? .ipv4
        walk.confidence = open.confidence
        if open.egressPorts.count > 1 {
            // The bridge did not know the destination MAC (or it is a group address): one copy per port.
            walk.notes.append(WalkAnalyzer.floodNote(open))
        }
        resolveRules(&walk)
        WalkAnalyzer.protocolFromRules(&walk)
        let summary = inferStepVerdicts(&walk)
        classify(&walk, summary: summary, reason: reason)
        let walkFamily = walk.family
        walk.nat = walk.steps.withUnsafeBufferPointer { natRewrites($0, family: walkFamily, open: open) }
    }

    /// The step's rule as the lookup knows it. Helpers take steps by pointer: a step passed by
    /// value is copied, and a copy retains every string of its event.
    private func resolution(_ step: UnsafePointer<WalkStep>) -> RuleResolution? {
        guard resolves, let ref = step.pointee.event.rule, step.pointee.event.kind == .rule else { return nil }
        return memo.resolve(step.pointee.event, rule: ref).resolution
    }

    private func resolveRules(_ walk: inout PacketWalk) {
        guard resolves else { return }
        walk.steps.withUnsafeMutableBufferPointer { steps in
            for i in steps.indices where steps[i].event.ruleTextSlot == .none {
                let step = steps.address(i)
                guard let ref = step.pointee.event.rule, step.pointee.event.kind == .rule else { continue }
                // The memo's name of the text: made once per rule, not interned again for every step.
                if let text = memo.resolve(step.pointee.event, rule: ref).text {
                    step.pointee.event.ruleTextName = text
                }
            }
        }
    }

    /// xtables-monitor prints no protocol but TCP's flags: when the walk's headers leave it out, a
    /// matched rule's `-p icmp` (`--protocol`, not negated) tells it. Every header without one gets it.
    static func protocolFromRules(_ walk: inout PacketWalk) {
        guard let first = walk.steps.firstIndex(where: { $0.event.hasHeader }),
            walk.steps[first].event.headerValue.proto == nil
        else { return }
        var proto: UInt8?
        for i in walk.steps.indices where walk.steps[i].event.kind == .rule {
            if let text = walk.steps[i].event.ruleText, let p = IPProtocol.match(inRule: text) {
                proto = p
                break
            }
        }
        guard let proto else { return }
        for i in walk.steps.indices where walk.steps[i].event.hasHeader {
            if walk.steps[i].event.headerValue.proto == nil { walk.steps[i].event.header?.proto = proto }
        }
    }

    /// Legacy TRACE prints no verdict: infer each from what the kernel printed next, or from the rule's target.
    /// Returns what classification needs, gathered in the same pass (a step's verdict depends on the
    /// events after it, not on their verdicts, so it is final once inferred).
    ///
    /// Verdicts are read and written as their tags and name slots: a `StepVerdict` holds a `Name`, whose
    /// copies and destroys (an enum with a reference case) cost more than the inference itself
    /// (callgrind, scripts/icount.sh on the 10 MB head of scripts/bench-replay.sh's file: 8.2 M → 3.4 M).
    private func inferStepVerdicts(_ walk: inout PacketWalk) -> StepSummary {
        var summary = StepSummary()
        walk.steps.withUnsafeMutableBufferPointer { steps in
            for i in steps.indices {
                let step = steps.address(i)
                if step.pointee.verdictTag == .none, step.pointee.event.kind != .log {
                    // A ruleset's answer (a target, a policy) is stored where it is found; a guess is `.none`
                    // then, and the step's tag tells.
                    if resolves, rulesetVerdict(step) {
                        step.pointee.verdictInferred = true
                    } else {
                        let guess = inferVerdict(steps, i)
                        if guess.tag != .none { WalkAnalyzer.setVerdict(step, guess, steps) }
                        step.pointee.verdictInferred = step.pointee.verdictTag != .none
                    }
                }
                summary.add(UnsafePointer(step))
            }
        }
        return summary
    }

    /// An inferred verdict: a tag without a name, or a jump to the chain of step `chainOf`. Plain
    /// integers: a guess that held a `StepVerdict` (a ruleset's) was destroyed, an outlined call, for
    /// every step (callgrind, scripts/icount.sh on bench-out/t10.log).
    private struct Guess {
        var tag: StepVerdict.Tag
        var chainOf = -1

        static var none: Guess { Guess(tag: .none) }
        init(tag: StepVerdict.Tag) { self.tag = tag }
        init(jumpToChainOf j: Int) {
            tag = .jump
            chainOf = j
        }
    }

    /// The verdict the ruleset gives the step (its rule's target, or its chain's policy at the end of
    /// the walk), stored; returns whether it gave one. Kept out of line: only a replay with a ruleset
    /// asks.
    @inline(never) private func rulesetVerdict(_ step: UnsafeMutablePointer<WalkStep>) -> Bool {
        var verdict: StepVerdict?
        if let target = resolution(UnsafePointer(step))?.target {
            switch TargetMeaning(target) {
            case .accept, .nat: verdict = .accept
            case .drop: verdict = .drop
            case .queue: verdict = .queue
            case .returns: verdict = .return
            case .jump(let chain): verdict = .jump(Name(chain))
            case .nonTerminal: verdict = .continue
            }
        }
        guard let verdict else { return false }
        step.pointee.verdict = verdict
        return true
    }

    /// Stores a guess as the step's verdict: a name of the table by its slot, as the setter would.
    /// Most guesses, a tag over no stale slot, are stored here; the rest go out of line, which kept a
    /// call of 24 instructions a step out of the loop (callgrind, scripts/icount.sh on bench-out/t10.log).
    @inline(__always) private static func setVerdict(
        _ step: UnsafeMutablePointer<WalkStep>, _ guess: Guess, _ steps: UnsafeMutableBufferPointer<WalkStep>
    ) {
        if guess.chainOf < 0 && step.pointee.verdictSlot == .none {
            step.pointee.verdictTag = guess.tag
        } else {
            setNamedVerdict(step, guess, steps)
        }
    }

    /// `setVerdict` of a guess that names a chain, or over a stale slot.
    @inline(never) private static func setNamedVerdict(
        _ step: UnsafeMutablePointer<WalkStep>, _ guess: Guess, _ steps: UnsafeMutableBufferPointer<WalkStep>
    ) {
        if step.pointee.verdictSlot != .none {
            // A stale boxed slot: the setter knows how to let it go.
            step.pointee.verdict = StepVerdict(
                guess.tag, guess.chainOf >= 0 ? steps[guess.chainOf].event.chainName : nil)
            return
        }
        let chain = steps[guess.chainOf].event.chainSlot
        if chain == .boxed {
            step.pointee.verdict = .jump(steps[guess.chainOf].event.chainName)
            return
        }
        step.pointee.verdictTag = .jump
        step.pointee.verdictSlot = chain
    }

    /// Whether two name slots hold the same name (`Name`'s `==`): a name in the table is never also a
    /// box, so only two boxed names need their names compared.
    @inline(__always) static func sameName(_ a: NameSlot, _ b: NameSlot, _ names: () -> Bool) -> Bool {
        a == .boxed && b == .boxed ? names() : a == b
    }

    /// The slot of the `nat` table's name: a well-known name, always in the table, so a step is in
    /// the nat table exactly when its slot is this one (no `Name` made and destroyed to ask).
    @inline(__always) static var natSlot: NameSlot { NameSlot(raw: UInt16(truncatingIfNeeded: Name.nat.tableID ?? 0)) }

    /// `MixedStepOrder.isNftStep`, read in place.
    @inline(__always) private static func isNftStep(_ step: UnsafePointer<WalkStep>) -> Bool {
        step.pointee.event.flags.contains(.traceID) || step.pointee.event.tableFamilySlot != .none
    }

    /// The inferred verdict of step i (not a LOG line), whose source printed none.
    @inline(__always) private func inferVerdict(_ steps: UnsafeMutableBufferPointer<WalkStep>, _ i: Int) -> Guess {
        let step = UnsafePointer(steps.address(i))
        if step.pointee.event.kind == .return { return Guess(tag: .return) }
        // A LOG line between two steps goes on by itself: the step after it tells.
        var j = i + 1
        while j < steps.count && steps[j].event.kind == .log && steps[j].event.family != .bridge { j += 1 }
        if j < steps.count {
            let next = UnsafePointer(steps.address(j))
            // A legacy table and an nft table of the same name (a mixed walk) are two invocations.
            let sameInvocation =
                next.pointee.hook == step.pointee.hook
                && WalkAnalyzer.sameName(next.pointee.event.tableSlot, step.pointee.event.tableSlot) {
                    next.pointee.event.tableName == step.pointee.event.tableName
                } && WalkAnalyzer.isNftStep(next) == WalkAnalyzer.isNftStep(step)
            if !sameInvocation { return Guess(tag: .accept) }
            if WalkAnalyzer.sameName(
                next.pointee.event.chainSlot, step.pointee.event.chainSlot,
                {
                    next.pointee.event.chainName == step.pointee.event.chainName
                })
            {
                return Guess(tag: .continue)
            }
            if step.pointee.event.kind == .rule && next.pointee.event.hook == nil {
                return Guess(jumpToChainOf: j)
            }
            if step.pointee.event.kind == .rule { return Guess(tag: .return) }
            return .none
        }
        // Without a ruleset (`resolves` false) the lookup knows no policy.
        if resolves, step.pointee.event.kind == .policy { policyVerdict(steps.address(i)) }
        return .none
    }

    /// The policy of the last step's chain, stored as its verdict when the ruleset knows it.
    @inline(never) private func policyVerdict(_ step: UnsafeMutablePointer<WalkStep>) {
        guard let lookup,
            let policy = lookup.policy(
                table: step.pointee.event.tableName.string, chain: step.pointee.event.chainName.string,
                family: step.pointee.event.family)
        else { return }
        step.pointee.verdict = StepVerdict(policy)
    }

    /// What classification needs from the steps, gathered in one pass.
    private struct StepSummary {
        /// The IP hooks the steps ran at, as a set of `bit(_:)`s.
        var seen: UInt8 = 0
        /// The bridge hooks the steps ran at, as a set of `bit(_:)`s.
        var bridgeSeen: UInt8 = 0
        var first: FramePaths.Stage?
        var last: FramePaths.Stage?
        var dropped = false
        var queued = false
        var bridgedStep = false
        /// Every step is an IP LOG line.
        var onlyLogs = true

        /// Adds the next step, read in place: a copied step retains every name of its event.
        @inline(__always) mutating func add(_ step: UnsafePointer<WalkStep>) {
            let bridge = step.pointee.event.family == .bridge
            if step.pointee.event.kind != .log || bridge { onlyLogs = false }
            if let hook = step.pointee.hook {
                let stage = FramePaths.Stage(bridge ? .bridge : .ip, hook)
                if first == nil { first = stage }
                last = stage
                // A bridge stage names its hook as the path tables do (BROUTING is the bridge's PREROUTING).
                if bridge { bridgeSeen |= StepSummary.bit(stage.hook) } else { seen |= StepSummary.bit(hook) }
            }
            // The verdict's tag and the names' slots, read in place (see `inferStepVerdicts`).
            switch step.pointee.verdictTag {
            case .drop: dropped = true
            case .queue: queued = true
            default: break
            }
            if step.pointee.hook == .forward && step.pointee.event.physInSlot != .none
                && step.pointee.event.physOutSlot != .none
                && WalkAnalyzer.sameName(
                    step.pointee.event.inIfaceSlot, step.pointee.event.outIfaceSlot,
                    {
                        step.pointee.event.inIfaceName == step.pointee.event.outIfaceName
                    })
            {
                bridgedStep = true
            }
        }

        static func bit(_ hook: Hook) -> UInt8 {
            switch hook {
            case .prerouting: return 1
            case .input: return 2
            case .forward: return 4
            case .output: return 8
            case .postrouting: return 16
            case .brouting: return 32
            }
        }
    }

    private func classify(_ walk: inout PacketWalk, summary: StepSummary, reason: Stitcher.CloseReason) {
        guard !walk.steps.isEmpty else { return }
        let lastIndex = walk.steps.count - 1
        if summary.onlyLogs {
            walk.path = .incomplete
            return
        }
        let seen = summary.seen
        let dropped = summary.dropped
        let queued = summary.queued
        let startsAtEntry = summary.first.map(FramePaths.isEntry) ?? false
        let lastStage = summary.last
        let lastHook = lastStage?.hook
        let lastFinal = lastStage.map(FramePaths.isFinal) ?? false
        func has(_ set: UInt8, _ hook: Hook) -> Bool { set & StepSummary.bit(hook) != 0 }

        var path: PathClass
        if seen == 0 {
            // Only the bridge's hooks: across the bridge, up to the host, or sent by it.
            let b = summary.bridgeSeen
            if has(b, .forward) || (has(b, .prerouting) && has(b, .postrouting)) {
                path = .bridged
            } else if has(b, .input) {
                path = .input
            } else if has(b, .output) {
                path = .output
            } else {
                path = .incomplete
            }
        } else if has(seen, .forward) || (has(seen, .prerouting) && has(seen, .postrouting)) {
            path = summary.bridgedStep || has(summary.bridgeSeen, .forward) ? .bridged : .forward
        } else if has(seen, .input) {
            path = .input
        } else if has(seen, .output) {
            path = .output
        } else {
            path = .incomplete
        }

        let lastIsNat = walk.steps.withUnsafeBufferPointer { isNatStep($0.address(lastIndex)) }
        let unprintedTarget =
            walk.steps[lastIndex].event.kind == .rule && walk.steps[lastIndex].verdictTag == .none && !lastIsNat
        if dropped {
            walk.verdict = .drop
            if walk.steps[lastIndex].verdictTag == .drop, walk.steps[lastIndex].verdictInferred,
                walk.steps[lastIndex].event.kind == .rule
            {
                walk.notes.append(note(.targetDrops, walk.steps[lastIndex]))
            }
        } else if queued {
            walk.verdict = .queue
        } else if unprintedTarget, let lastHook {
            // A legacy TRACE line names the rule that matched, not its target: only what would have
            // printed next tells a drop from a packet that went on.
            if let next = visibility.nextPrinting(
                after: walk.steps[lastIndex].event.tableName, at: lastHook, firstPacket: isFirstPacket(walk))
            {
                if reason == .endOfInput {
                    path = .incomplete
                    walk.notes.append(note(.traceEnds, walk.steps[lastIndex]))
                } else {
                    walk.verdict = .drop
                    walk.steps[lastIndex].verdict = .drop
                    walk.steps[lastIndex].verdictInferred = true
                    walk.notes.append(note(.ruleDropped, walk.steps[lastIndex], next: next))
                }
            } else {
                walk.verdict = .unknown
                walk.notes.append(note(.targetUnknown, walk.steps[lastIndex]))
            }
        } else if lastFinal {
            walk.verdict = .accept
        } else if let lastHook, lastStage?.layer == .ip,
            visibility.nothingPrints(after: lastHook, natRan: walk.steps.withUnsafeBufferPointer(anyNatStep))
        {
            // No table prints at any later hook in this input, so silence is the packet leaving.
            walk.verdict = .accept
        } else if lastStage?.layer == .bridge {
            // What follows a bridge hook (the IP stack, another bridge hook) may print nothing here.
            walk.verdict = .unknown
            walk.notes.append(note(.bridgeNext, walk.steps[lastIndex]))
        } else if reason == .endOfInput || reason == .cutOff {
            path = .incomplete
            // A cut-off walk carries the stitcher's note on why.
            if reason == .endOfInput {
                walk.notes.append(note(.traceEnds, walk.steps[lastIndex]))
            }
        } else {
            walk.verdict = .drop
            walk.notes.append(note(.droppedThere, walk.steps[lastIndex]))
            if walk.steps[walk.steps.count - 1].verdictTag == .none
                || walk.steps[walk.steps.count - 1].verdictTag == .accept
            {
                walk.steps[walk.steps.count - 1].verdict = .drop
                walk.steps[walk.steps.count - 1].verdictInferred = true
            }
        }
        if walk.verdict == .accept, walk.steps[walk.steps.count - 1].verdictTag == .none,
            walk.steps[walk.steps.count - 1].event.kind != .log
        {
            walk.steps[walk.steps.count - 1].verdict = .accept
            walk.steps[walk.steps.count - 1].verdictInferred = true
        }
        if !startsAtEntry { path = .incomplete }
        if path == .incomplete && walk.verdict == .accept && !lastFinal {
            walk.verdict = .unknown
        }
        if path == .incomplete && walk.notes.isEmpty {
            walk.notes.append(note(.walkEnds, walk.steps[lastIndex]))
        }
        walk.path = path
    }

    /// Whether the walk is its connection's first packet, the only one nat chains see: a nat table's
    /// chain or a NAT rule ran, nft's conntrack record says `ct state new`, or a TCP SYN without ACK.
    private func isFirstPacket(_ walk: borrowing PacketWalk) -> Bool {
        if walk.steps.contains(where: { $0.event.tableSlot == WalkAnalyzer.natSlot }) { return true }
        if walk.steps.withUnsafeBufferPointer(anyNatStep) { return true }
        for i in walk.steps.indices where walk.steps[i].event.hasHeader {
            if let ct = walk.steps[i].event.headerValue.conntrack, ct.state != nil { return ct.isNew }
        }
        guard let i = walk.steps.firstIndex(where: { $0.event.hasHeader }) else { return false }
        let flags = walk.steps[i].event.headerValue.tcpFlags
        return flags.contains(.syn) && !flags.contains(.ack)
    }

    /// The notes classification leaves, each about the walk's last step.
    private enum Note {
        case targetDrops, traceEnds, ruleDropped, targetUnknown, bridgeNext, droppedThere, walkEnds
    }

    /// A note's text, made out of line: few walks have one, and its interpolations are long code that
    /// the common walk's classification kept in its cache lines (cachegrind, bench-out/t10.log).
    @inline(never) private func note(_ kind: Note, _ step: borrowing WalkStep, next: String = "") -> String {
        let text = label(step)
        switch kind {
        case .targetDrops:
            return "the ruleset's target of \(text) drops the packet (the trace does not print targets)"
        case .traceEnds: return "the trace ends after \(text): the rest of the walk was not captured"
        case .ruleDropped:
            return
                "no trace after \(text), although \(next) would have printed next for this packet: the rule dropped it (the trace does not print targets)"
        case .targetUnknown:
            return
                "\(text) matched and nothing that prints in this input would run after it for this packet: its target, and so the verdict, is not in the trace"
        case .bridgeNext: return "no trace after \(text): where the frame went next is not in the trace"
        case .droppedThere:
            return "no trace after \(text): dropped there, or by the stack before the next hook (inferred)"
        case .walkEnds: return "the walk ends after \(text): where the packet went next is not in the trace"
        }
    }

    @inline(never) private static func floodNote(_ open: OpenWalk) -> String {
        "flooded: a copy of the frame left through each of \(open.egressPorts.map(\.string).joined(separator: ", "))"
    }

    func label(_ step: borrowing WalkStep) -> String {
        var s = step.event.family == .bridge ? "bridge " : ""
        s += "\(step.event.table):\(step.event.chain)"
        if let rule = step.event.rule { s += " \(rule)" } else { s += " \(step.event.kind.rawValue)" }
        return s
    }

    // MARK: - NAT

    private func natRewrites(_ steps: UnsafeBufferPointer<WalkStep>, family: Family, open: OpenWalk) -> [NatRewrite] {
        // (No scan for a NAT step first: the loop over them below is that scan.)
        var result: [NatRewrite] = []
        // The nat steps an observed change explains (a walk has a change or two, if any).
        var explained: [Int] = []
        if !open.changes.isEmpty { observedRewrites(steps, open, &result, explained: &explained) }
        // The flow as it entered, for nat steps whose record has no header of its own (found when needed).
        var firstWithHeader: Int?
        var searched = false
        // (Only rules can be nat steps: asked first, it spares the call for every policy and return step.)
        for i in steps.indices where steps.address(i).pointee.event.kind == .rule && isNatStep(steps.address(i)) {
            if (!explained.isEmpty && explained.contains(i)) || !endsInvocation(steps, i) { continue }
            let step = steps.address(i)
            guard let hook = step.pointee.hook else { continue }
            let headerIndex: Int
            if step.pointee.event.hasHeader {
                headerIndex = i
            } else {
                if !searched {
                    firstWithHeader = WalkAnalyzer.firstWithHeader(steps)
                    searched = true
                }
                guard let found = firstWithHeader else { continue }
                headerIndex = found
            }
            let spec = natSpec(step)
            if spec == nil, let target = resolution(step)?.target {
                if case .nat = TargetMeaning(target) {} else { continue }
            }
            if spec == nil, !step.pointee.verdictInferred, step.pointee.verdictTag != .none,
                step.pointee.verdictTag != .accept
            {
                continue
            }
            let type = spec?.type ?? (hook == .postrouting || hook == .input ? .snat : .dnat)
            let destination = type == .dnat || type == .redirect
            let header = steps.address(headerIndex)
            guard
                let before = destination
                    ? header.pointee.event.headerValue.destinationEndpoint
                    : header.pointee.event.headerValue.sourceEndpoint
            else { continue }
            var after: Endpoint?
            if let spec {
                var local: IPAddress?
                if let out = step.pointee.event.outIface, type == .masquerade {
                    local = lookup?.masqueradeAddress(outIface: out, family: family)
                }
                if let r = spec.after(original: before.address, port: before.port, interfaceAddress: local) {
                    after = Endpoint(address: r.address, port: r.port)
                }
            }
            let rewrite = NatRewrite(
                type: type, field: destination ? "dst" : "src", before: before, after: after,
                at: place(step), evidence: spec == nil ? .chain : .rule,
                rule: step.pointee.event.rule, ruleText: WalkAnalyzer.ruleText(step))
            // A walk has one rewrite, mostly: an array literal makes it in place, where `append` grows an
            // empty array and copies the rewrite in (scripts/bench-replay.sh).
            if result.isEmpty { result = [rewrite] } else { result.append(rewrite) }
        }
        return result
    }

    /// The rewrites of the header changes seen between the walk's events (evidence `observed`), each
    /// with the nat step that explains it, if one does; kept out of line, as most walks saw none.
    @inline(never) private func observedRewrites(
        _ steps: UnsafeBufferPointer<WalkStep>, _ open: OpenWalk, _ result: inout [NatRewrite],
        explained: inout [Int]
    ) {
        for change in open.changes {
            let natIndex = steps.indices.last { i in
                i < change.stepIndex && isNatStep(steps.address(i)) && steps.address(i).pointee.hook == change.from.hook
            }
            let rewrite: NatRewrite
            if let natIndex {
                explained.append(natIndex)
                let step = steps.address(natIndex)
                let spec = natSpec(step)
                let type = spec?.type ?? (change.field == "dst" ? .dnat : .snat)
                rewrite = NatRewrite(
                    type: type, field: change.field, before: change.before,
                    after: change.after, at: place(step), evidence: .observed,
                    rule: step.pointee.event.rule, ruleText: WalkAnalyzer.ruleText(step))
            } else {
                rewrite = NatRewrite(
                    type: change.field == "dst" ? .dnat : .snat, field: change.field,
                    before: change.before, after: change.after,
                    at: "conntrack:\(change.from.hook.rawValue)", evidence: .observed)
            }
            if result.isEmpty { result = [rewrite] } else { result.append(rewrite) }
        }
    }

    /// The step's rule text, read from its name: `event.ruleText` through a pointer copies the event.
    private static func ruleText(_ step: UnsafePointer<WalkStep>) -> String? {
        guard let name = step.pointee.event.ruleTextName else { return nil }
        return name.string
    }

    /// The first step with a header, preferring one with the IP header's own fields.
    private static func firstWithHeader(_ steps: UnsafeBufferPointer<WalkStep>) -> Int? {
        var any: Int?
        for i in steps.indices where steps.address(i).pointee.event.hasHeader {
            let h = steps.address(i)
            if h.pointee.event.headerValue.ipID != nil || h.pointee.event.headerValue.length != nil { return i }
            if any == nil { any = i }
        }
        return any
    }

    /// `table:chain` of a NAT step: the last one made is kept, as a log's NAT steps are mostly at a
    /// few chains.
    private func place(_ step: UnsafePointer<WalkStep>) -> String {
        if step.pointee.event.tableName == lastPlace.table && step.pointee.event.chainName == lastPlace.chain {
            return lastPlace.text
        }
        let text = WalkAnalyzer.place(step)
        lastPlace.table = step.pointee.event.tableName
        lastPlace.chain = step.pointee.event.chainName
        lastPlace.text = text
        return text
    }

    /// The last `place` made, by its table and chain.
    private final class Place {
        var table = Name.empty
        var chain = Name.empty
        var text = ":"
    }
    private let lastPlace = Place()

    /// `table:chain`, built from the names' bytes in one string (no intermediate strings).
    static func place(_ step: UnsafePointer<WalkStep>) -> String {
        let table = step.pointee.event.tableName.bytes
        let chain = step.pointee.event.chainName.bytes
        return String(unsafeUninitializedCapacity: table.count + 1 + chain.count) { out in
            var n = 0
            for b in table {
                out[n] = b
                n += 1
            }
            out[n] = UInt8(ascii: ":")
            n += 1
            for b in chain {
                out[n] = b
                n += 1
            }
            return n
        }
    }

    /// A rule in a nat table, or a rule whose own text is a NAT statement (nft tables have free names).
    func isNatStep(_ step: UnsafePointer<WalkStep>) -> Bool {
        guard step.pointee.event.kind == .rule else { return false }
        if step.pointee.event.tableSlot == WalkAnalyzer.natSlot { return true }
        // Without its own text a rule outside a nat table is none; asked first, as passing the memo the
        // event copies it.
        if step.pointee.event.ruleTextSlot == .none { return false }
        return memo.isNat(step.pointee.event)
    }

    func anyNatStep(_ steps: UnsafeBufferPointer<WalkStep>) -> Bool {
        steps.indices.contains { isNatStep(steps.address($0)) }
    }

    /// Whether step i is the last of its table's run at its hook (its target decided the table).
    private func endsInvocation(_ steps: UnsafeBufferPointer<WalkStep>, _ i: Int) -> Bool {
        let step = steps.address(i)
        if !step.pointee.verdictInferred, step.pointee.verdictTag != .none {
            return step.pointee.verdictTag.isTerminal
        }
        guard i + 1 < steps.count else { return true }
        let next = steps.address(i + 1)
        return next.pointee.hook != step.pointee.hook
            || !WalkAnalyzer.sameName(next.pointee.event.tableSlot, step.pointee.event.tableSlot) {
                next.pointee.event.tableName == step.pointee.event.tableName
            }
    }

    private func natSpec(_ step: UnsafePointer<WalkStep>) -> NatTarget? {
        if step.pointee.event.ruleTextSlot != .none, let text = step.pointee.event.ruleText,
            let spec = lookup?.natTarget(ruleText: text)
        {
            return spec
        }
        return resolution(step)?.nat
    }
}

extension PacketWalk {
    /// `WalkAnalyzer.analyze` into this walk, called through an optional (`made?.fill`) to edit its walk
    /// in place.
    fileprivate mutating func fill(by analyzer: WalkAnalyzer, _ open: OpenWalk, _ reason: Stitcher.CloseReason) {
        analyzer.analyze(open, reason: reason, into: &self)
    }

    /// Swaps the walk's steps with `other` (called through an optional, as `fill`).
    fileprivate mutating func trade(steps other: inout [WalkStep]) { swap(&steps, &other) }
}
