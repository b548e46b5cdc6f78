/// The units that ran to a terminal verdict at a walk's current stage: a handful at most (one per
/// table at a hook). The first few whose names are in the name table are kept inline as two ids in
/// one word, so a walk allocates nothing for them and compares integers (an array of units was a
/// tenth of the stitcher's work per step in issue 10's replay benchmark); any others in an array.
struct FinishedUnits {
    private var first: UInt64 = 0
    private var second: UInt64 = 0
    private var third: UInt64 = 0
    private var rest: [ChainUnit] = []

    /// The unit's two ids in one word, never 0; nil when a name is not in the name table.
    @inline(__always) static func packed(_ unit: ChainUnit) -> UInt64? {
        guard let table = unit.table.tableID else { return nil }
        // Bit 0: a unit; bit 1: it names a chain (the empty name is id 0); the ids above.
        guard let chain = unit.chain else { return UInt64(table) << 34 | 1 }
        guard let id = chain.tableID else { return nil }
        return UInt64(table) << 34 | UInt64(id) << 2 | 3
    }

    /// Whether `unit` is in. Mutating only so a walk's set is read in place: a copy of it out of the
    /// walk would retain its array.
    mutating func contains(_ unit: ChainUnit) -> Bool {
        if let key = FinishedUnits.packed(unit), key == first || key == second || key == third { return true }
        return !rest.isEmpty && rest.contains(unit)
    }

    /// The unit of a packed key.
    static func unit(packed key: UInt64) -> ChainUnit {
        let table = Name(id: UInt32(truncatingIfNeeded: key >> 34))
        guard key & 2 != 0 else { return ChainUnit(table: table) }
        return ChainUnit(table: table, chain: Name(id: UInt32(truncatingIfNeeded: key >> 2)))
    }

    /// `contains` for a packed unit.
    @inline(__always) mutating func contains(packed key: UInt64) -> Bool {
        if key == first || key == second || key == third { return true }
        return !rest.isEmpty && rest.contains(FinishedUnits.unit(packed: key))
    }

    /// `insert` for a packed unit. The inline words are tried in place: a walk inserts at every step
    /// that ends a table's run, and the call cost 34 instructions each (callgrind, `replay --format
    /// json` of bench-out/t10.log).
    @inline(__always) mutating func insert(packed key: UInt64) {
        if key == first || key == second || key == third { return }
        if first == 0 {
            first = key
        } else if second == 0 {
            second = key
        } else {
            insertPastSecond(key)
        }
    }

    private mutating func insertPastSecond(_ key: UInt64) {
        if !rest.isEmpty && rest.contains(FinishedUnits.unit(packed: key)) { return }
        if third == 0 {
            third = key
        } else {
            rest.append(FinishedUnits.unit(packed: key))
        }
    }

    /// Adds `unit` unless it is in already.
    mutating func insert(_ unit: ChainUnit) {
        guard let key = FinishedUnits.packed(unit) else {
            if !rest.contains(unit) { rest.append(unit) }
            return
        }
        insert(packed: key)
    }

    /// Whether units past the third are (or were) kept in an array's storage.
    var holdsStorage: Bool { rest.capacity != 0 }

    mutating func removeAll() {
        first = 0
        second = 0
        third = 0
        if !rest.isEmpty { rest.removeAll(keepingCapacity: true) }
    }
}
