/// A dump's four interface names as an event stores them: each name's slot (`NameSlot.boxed` for a
/// name not in the table) and, only when one of them is boxed (`plainSlots` false), the names, so a
/// dump whose names are all in the table is handed to its event without copying a name (callgrind,
/// scripts/icount.sh on t10). A cached dump (`DumpCache.Result`) holds them, and a cached prefix
/// (`DumpPrefixCache.Names`), which interns them once per entry.
struct InterfaceNames {
    /// Set when one of the four is boxed; else their slots say all and these may be stale
    /// (`name(_:_:)` reads them).
    var inIface: Name?
    var outIface: Name?
    var physIn: Name?
    var physOut: Name?
    var inSlot = NameSlot.none
    var outSlot = NameSlot.none
    var physInSlot = NameSlot.none
    var physOutSlot = NameSlot.none
    /// None of the four is `NameSlot.boxed`.
    var plainSlots = true

    init() {}

    init(inIface: Name?, outIface: Name?, physIn: Name?, physOut: Name?) {
        self.inIface = inIface
        self.outIface = outIface
        self.physIn = physIn
        self.physOut = physOut
        inSlot = InterfaceNames.slot(inIface)
        outSlot = InterfaceNames.slot(outIface)
        physInSlot = InterfaceNames.slot(physIn)
        physOutSlot = InterfaceNames.slot(physOut)
        plainSlots = inSlot != .boxed && outSlot != .boxed && physInSlot != .boxed && physOutSlot != .boxed
    }

    /// `other`'s slots, and its names only when one of them is boxed.
    @inline(__always) mutating func take(_ other: borrowing InterfaceNames) {
        inSlot = other.inSlot
        outSlot = other.outSlot
        physInSlot = other.physInSlot
        physOutSlot = other.physOutSlot
        plainSlots = other.plainSlots
        if !other.plainSlots {
            inIface = other.inIface
            outIface = other.outIface
            physIn = other.physIn
            physOut = other.physOut
        }
    }

    /// `name`'s slot in an event: none for nil, `NameSlot.boxed` when it is not in the table.
    @inline(__always) static func slot(_ name: Name?) -> NameSlot {
        guard let name else { return .none }
        return NameSlot.of(name) ?? .boxed
    }

    /// The name in `slot`, whose name is `boxed` when it is not in the table.
    @inline(__always) func name(_ slot: NameSlot, _ boxed: Name?) -> Name? {
        slot == .boxed ? boxed : slot.tableName
    }
}
