/// Which tables (legacy) or base chains (nft) printed at each hook anywhere in the input.
///
/// A table that is not loaded prints nothing, and nat prints only for a connection's first packet,
/// so a walk that falls silent is a drop only if something would have printed after it.
final class Visibility {
    private var units: [Hook: [String: Bool]] = [:]

    /// Records that `unit` printed at `hook`; `nat` marks a unit that only a first packet reaches.
    func note(_ unit: String, at hook: Hook, nat: Bool) {
        if let known = units[hook]?[unit], known || !nat { return }
        units[hook, default: [:]][unit] = nat
    }

    /// Whether nothing would print at any hook after `hook` (nat units count only if nat ran for this packet).
    func nothingPrints(after hook: Hook, natRan: Bool) -> Bool {
        for later in Netfilter.laterHooks(after: hook) {
            for (_, isNat) in units[later] ?? [:] where !isNat || natRan { return false }
        }
        return true
    }
}
