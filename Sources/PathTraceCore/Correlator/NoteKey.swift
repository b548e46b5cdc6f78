/// One question the stitcher puts to `Visibility` (which unit printed at which hook), packed into
/// two words so a repeated one is recognised without hashing names; only names of the name table pack.
///
/// Two words rather than four 32-bit fields in an optional: the stitcher asks for every step, and
/// the optional's compare, the slot's hash of four fields and the legacy table's detour through its
/// `Name` cost about 30 instructions a step more (callgrind, `replay --format json` of bench-out/t10.log).
struct NoteKey: Equatable {
    /// The unit as `FinishedUnits` packs it (never 0); 0 marks an empty slot of the stitcher's table.
    var unit: UInt64
    /// The nat flag (bit 0), the hook (bits 1-3), whether a legacy table is named (bit 5), and that
    /// table's id (bits 8 and up).
    var rest: UInt64

    /// Slots of the stitcher's table of recent questions.
    static let slots = 256

    /// What no question is: a slot of the stitcher's table not used yet.
    static let empty = NoteKey(unit: 0, rest: 0)

    private init(unit: UInt64, rest: UInt64) {
        self.unit = unit
        self.rest = rest
    }

    init?(_ unit: ChainUnit, hook: Hook, nat: Bool, legacyTable: Name?) {
        guard let packed = FinishedUnits.packed(unit) else { return nil }
        var legacyID: UInt32?
        if let name = legacyTable {
            guard let id = name.tableID else { return nil }
            legacyID = id
        }
        self.init(unit: packed, hook: hook, nat: nat, legacyID: legacyID)
    }

    /// The same for a unit packed as `FinishedUnits` packs it and a legacy table's slot (nil when boxed).
    @inline(__always) init?(packed unit: UInt64, hook: Hook, nat: Bool, legacyTable: NameSlot?) {
        var legacyID: UInt32?
        if let slot = legacyTable {
            // A slot below `boxed` is the name's id in the name table.
            guard slot.raw < NameSlot.boxed.raw else { return nil }
            legacyID = UInt32(slot.raw)
        }
        self.init(unit: unit, hook: hook, nat: nat, legacyID: legacyID)
    }

    @inline(__always) private init(unit: UInt64, hook: Hook, nat: Bool, legacyID: UInt32?) {
        self.unit = unit
        var rest: UInt64 = nat ? 1 : 0
        rest |= NoteKey.hookBits(hook)
        if let id = legacyID { rest |= 1 << 5 | UInt64(id) << 8 }
        self.rest = rest
    }

    @inline(__always) private static func hookBits(_ hook: Hook) -> UInt64 { UInt64(hook.number) << 1 }

    /// The two words mixed (`rest` by an odd multiply, so its low bits do not cancel the unit's) and
    /// spread by a Fibonacci multiply, whose top 8 bits pick one of the 256 slots. A collision only asks
    /// `Visibility` again; with the low bits of small products in 64 slots a quarter of the events did
    /// (8,800 of 35,728 in `replay --format json` of bench-out/t10.log, a 10 MB head of the benchmark).
    @inline(__always) var slot: Int {
        let x = unit ^ rest &* 0xC2B2_AE3D_27D4_EB4F
        return Int(truncatingIfNeeded: (x &* 0x9E37_79B9_7F4A_7C15) >> 56)
    }
}
