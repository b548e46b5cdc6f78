/// The units that ran to a terminal verdict at a walk's current stage: a handful at most (one per
/// table at a hook), so the first few are kept inline and a walk allocates nothing for them (an
/// array's growth was a tenth of the stitcher's work per step in issue 10's replay benchmark).
struct FinishedUnits {
    private var first: ChainUnit?
    private var second: ChainUnit?
    private var third: ChainUnit?
    private var rest: [ChainUnit] = []

    func contains(_ unit: ChainUnit) -> Bool {
        guard let a = first else { return false }
        if a == unit { return true }
        guard let b = second else { return false }
        if b == unit { return true }
        guard let c = third else { return false }
        if c == unit { return true }
        return !rest.isEmpty && rest.contains(unit)
    }

    /// Adds `unit` unless it is in already.
    mutating func insert(_ unit: ChainUnit) {
        if contains(unit) { return }
        if first == nil {
            first = unit
        } else if second == nil {
            second = unit
        } else if third == nil {
            third = unit
        } else {
            rest.append(unit)
        }
    }

    mutating func removeAll() {
        guard first != nil else { return }
        first = nil
        second = nil
        third = nil
        if !rest.isEmpty { rest.removeAll(keepingCapacity: true) }
    }
}
