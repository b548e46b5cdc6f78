/// Turns a stitched walk into what a user reads: hooks, verdicts, path, NAT rewrites.
struct WalkAnalyzer {
    var lookup: RuleLookup?
    /// What printed at each hook anywhere in this input: a table absent here prints nothing.
    let visibility: Visibility

    func analyze(_ open: OpenWalk, reason: Stitcher.CloseReason) -> PacketWalk {
        var walk = PacketWalk(packet: open.packet, family: open.steps.first?.event.family ?? .ipv4)
        walk.steps = open.steps
        walk.confidence = open.confidence
        walk.notes = open.notes
        resolveRules(&walk)
        inferStepVerdicts(&walk)
        classify(&walk, open: open, reason: reason)
        walk.nat = natRewrites(walk, open: open)
        return walk
    }

    private func resolution(_ step: WalkStep) -> RuleResolution? {
        guard let lookup, let ref = step.event.rule, step.event.kind == .rule else { return nil }
        return lookup.resolve(table: step.event.table, chain: step.event.chain, rule: ref, family: step.event.family)
    }

    private func resolveRules(_ walk: inout PacketWalk) {
        for i in walk.steps.indices where walk.steps[i].event.ruleText == nil {
            if let r = resolution(walk.steps[i]), let text = r.text { walk.steps[i].event.ruleText = text }
        }
    }

    /// Legacy TRACE prints no verdict: infer each from what the kernel printed next, or from the rule's target.
    private func inferStepVerdicts(_ walk: inout PacketWalk) {
        for i in walk.steps.indices where walk.steps[i].verdict == nil {
            let step = walk.steps[i]
            let next = i + 1 < walk.steps.count ? walk.steps[i + 1] : nil
            var verdict: StepVerdict?
            if step.event.kind == .log { continue }
            if let target = resolution(step)?.target {
                switch TargetMeaning(target) {
                case .accept, .nat: verdict = .accept
                case .drop: verdict = .drop
                case .queue: verdict = .queue
                case .returns: verdict = .return
                case .jump(let chain): verdict = .jump(chain)
                case .nonTerminal: verdict = .continue
                }
            } else if step.event.kind == .return {
                verdict = .return
            } else if let next {
                let sameInvocation = next.hook == step.hook && next.event.table == step.event.table
                if !sameInvocation {
                    verdict = .accept
                } else if next.event.chain == step.event.chain {
                    verdict = .continue
                } else if step.event.kind == .rule && next.event.hook == nil {
                    verdict = .jump(next.event.chain)
                } else if step.event.kind == .rule {
                    verdict = .return
                }
            } else if step.event.kind == .policy, let lookup,
                let policy = lookup.policy(table: step.event.table, chain: step.event.chain, family: step.event.family)
            {
                verdict = StepVerdict(policy)
            }
            walk.steps[i].verdict = verdict
            walk.steps[i].verdictInferred = verdict != nil
        }
    }

    private func classify(_ walk: inout PacketWalk, open: OpenWalk, reason: Stitcher.CloseReason) {
        let steps = walk.steps
        guard let last = steps.last else { return }
        if last.event.kind == .log {
            walk.path = .incomplete
            return
        }
        let hooks = steps.compactMap(\.hook)
        let seen = Set(hooks)
        let dropped = steps.contains { $0.verdict == .drop }
        let queued = steps.contains { $0.verdict == .queue }
        let startsAtEntry = hooks.first.map(Netfilter.isEntry) ?? false
        let lastHook = hooks.last

        var path: PathClass
        if walk.family == .bridge {
            path = .bridged
        } else if seen.contains(.forward) || (seen.contains(.prerouting) && seen.contains(.postrouting)) {
            let bridgedStep = steps.contains {
                $0.hook == .forward && $0.event.physIn != nil && $0.event.physOut != nil
                    && $0.event.inIface == $0.event.outIface
            }
            path = bridgedStep ? .bridged : .forward
        } else if seen.contains(.input) {
            path = .input
        } else if seen.contains(.output) {
            path = .output
        } else {
            path = .incomplete
        }

        if dropped {
            walk.verdict = .drop
        } else if queued {
            walk.verdict = .queue
        } else if let lastHook, Netfilter.isFinal(lastHook) {
            walk.verdict = .accept
        } else if let lastHook, visibility.nothingPrints(after: lastHook, natRan: steps.contains(where: isNatStep)) {
            // No table prints at any later hook in this input, so silence is the packet leaving.
            walk.verdict = .accept
        } else if reason == .endOfInput {
            path = .incomplete
            walk.notes.append("the trace ends after \(label(last)): the rest of the walk was not captured")
        } else {
            walk.verdict = .drop
            walk.notes.append(
                "no trace after \(label(last)): dropped there, or by the stack before the next hook (inferred)")
            if walk.steps[walk.steps.count - 1].verdict == nil || walk.steps[walk.steps.count - 1].verdict == .accept {
                walk.steps[walk.steps.count - 1].verdict = .drop
                walk.steps[walk.steps.count - 1].verdictInferred = true
            }
        }
        if walk.verdict == .accept, walk.steps[walk.steps.count - 1].verdict == nil {
            walk.steps[walk.steps.count - 1].verdict = .accept
            walk.steps[walk.steps.count - 1].verdictInferred = true
        }
        if !startsAtEntry { path = .incomplete }
        if path == .incomplete && walk.verdict == .accept && !(lastHook.map(Netfilter.isFinal) ?? false) {
            walk.verdict = .unknown
        }
        if path == .incomplete && walk.notes.isEmpty {
            walk.notes.append("the walk ends after \(label(last)): where the packet went next is not in the trace")
        }
        walk.path = path
    }

    func label(_ step: WalkStep) -> String {
        var s = "\(step.event.table):\(step.event.chain)"
        if let rule = step.event.rule { s += " \(rule)" } else { s += " \(step.event.kind.rawValue)" }
        return s
    }

    // MARK: - NAT

    private func natRewrites(_ walk: PacketWalk, open: OpenWalk) -> [NatRewrite] {
        var result: [NatRewrite] = []
        var explained = Set<Int>()
        let steps = walk.steps
        for change in open.changes {
            let natIndex = steps.indices.last { i in
                i < change.stepIndex && isNatStep(steps[i]) && steps[i].hook == change.from.hook
            }
            var rewrite: NatRewrite
            if let natIndex {
                explained.insert(natIndex)
                let spec = natSpec(steps[natIndex])
                let type = spec?.type ?? (change.field == "dst" ? .dnat : .snat)
                rewrite = NatRewrite(
                    type: type, field: change.field, before: change.before.description,
                    after: change.after.description, at: "\(steps[natIndex].event.table):\(steps[natIndex].event.chain)", evidence: .observed,
                    rule: steps[natIndex].event.rule, ruleText: steps[natIndex].event.ruleText)
            } else {
                rewrite = NatRewrite(
                    type: change.field == "dst" ? .dnat : .snat, field: change.field,
                    before: change.before.description, after: change.after.description,
                    at: "conntrack:\(change.from.hook.rawValue)", evidence: .observed)
            }
            result.append(rewrite)
        }
        for (i, step) in steps.enumerated() where isNatStep(step) {
            if explained.contains(i) || !endsInvocation(steps, i) { continue }
            guard let hook = step.hook, let header = step.event.header ?? walk.firstHeader else { continue }
            let spec = natSpec(step)
            if spec == nil, let target = resolution(step)?.target {
                if case .nat = TargetMeaning(target) {} else { continue }
            }
            if spec == nil, let verdict = step.verdict, verdict != .accept, !step.verdictInferred { continue }
            let type = spec?.type ?? (hook == .postrouting || hook == .input ? .snat : .dnat)
            let field = (type == .dnat || type == .redirect) ? "dst" : "src"
            guard let before = field == "dst" ? header.destinationEndpoint : header.sourceEndpoint else { continue }
            var after: String?
            if let spec {
                var local: IPAddress?
                if let out = step.event.outIface, type == .masquerade {
                    local = lookup?.masqueradeAddress(outIface: out, family: walk.family)
                }
                if let r = spec.after(original: before.address, port: before.port, interfaceAddress: local) {
                    after = Endpoint(address: r.address, port: r.port).description
                }
            }
            result.append(
                NatRewrite(
                    type: type, field: field, before: before.description, after: after,
                    at: "\(step.event.table):\(step.event.chain)", evidence: spec == nil ? .chain : .rule, rule: step.event.rule,
                    ruleText: step.event.ruleText))
        }
        return result
    }

    /// A rule in a nat table, or a rule whose own text is a NAT statement (nft tables have free names).
    func isNatStep(_ step: WalkStep) -> Bool {
        guard step.event.kind == .rule else { return false }
        if step.event.table == "nat" { return true }
        guard let text = step.event.ruleText else { return false }
        return lookup?.natTarget(ruleText: text) != nil
    }

    /// Whether step i is the last of its table's run at its hook (its target decided the table).
    private func endsInvocation(_ steps: [WalkStep], _ i: Int) -> Bool {
        if let v = steps[i].verdict, !steps[i].verdictInferred { return v.isTerminal }
        guard i + 1 < steps.count else { return true }
        let next = steps[i + 1]
        return next.hook != steps[i].hook || next.event.table != steps[i].event.table
    }

    private func natSpec(_ step: WalkStep) -> NatTarget? {
        if let text = step.event.ruleText, let spec = lookup?.natTarget(ruleText: text) { return spec }
        return resolution(step)?.nat
    }
}
