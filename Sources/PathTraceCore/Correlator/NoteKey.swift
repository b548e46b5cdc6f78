/// One question the stitcher puts to `Visibility` (which unit printed at which hook), packed into
/// integers so a repeated one is recognised without hashing names; only names of the name table pack.
struct NoteKey: Equatable {
    var table: UInt32
    var chain: UInt32
    var legacyTable: UInt32
    /// The hook, the nat flag, and whether a chain and a legacy table are named.
    var bits: UInt32

    /// Slots of the stitcher's table of recent questions.
    static let slots = 256

    init?(_ unit: ChainUnit, hook: Hook, nat: Bool, legacyTable: Name?) {
        guard let table = unit.table.tableID else { return nil }
        self.table = table
        var bits: UInt32 = nat ? 1 : 0
        bits |= NoteKey.hookBits(hook)
        chain = 0
        if let name = unit.chain {
            guard let id = name.tableID else { return nil }
            chain = id
            bits |= 1 << 4
        }
        self.legacyTable = 0
        if let name = legacyTable {
            guard let id = name.tableID else { return nil }
            self.legacyTable = id
            bits |= 1 << 5
        }
        self.bits = bits
    }

    /// The same for a unit packed as `FinishedUnits` packs it and a legacy table's slot (nil when boxed).
    @inline(__always) init?(packed unit: UInt64, hook: Hook, nat: Bool, legacyTable: NameSlot?) {
        table = UInt32(truncatingIfNeeded: unit >> 34)
        var bits: UInt32 = nat ? 1 : 0
        bits |= NoteKey.hookBits(hook)
        chain = 0
        if unit & 2 != 0 {
            chain = UInt32(truncatingIfNeeded: unit >> 2)
            bits |= 1 << 4
        }
        self.legacyTable = 0
        if let slot = legacyTable {
            guard let name = slot.tableName, let id = name.tableID else { return nil }
            self.legacyTable = id
            bits |= 1 << 5
        }
        self.bits = bits
    }

    @inline(__always) private static func hookBits(_ hook: Hook) -> UInt32 {
        switch hook {
        case .prerouting: return 0 << 1
        case .input: return 1 << 1
        case .forward: return 2 << 1
        case .output: return 3 << 1
        case .postrouting: return 4 << 1
        case .brouting: return 5 << 1
        }
    }

    /// Table ids are small numbers: packed into one word and spread by a Fibonacci multiply, whose top
    /// 8 bits pick one of the 256 slots. A collision only asks `Visibility` again, but with the low
    /// bits of small products in 64 slots a quarter of the events did (8,800 of 35,728 in
    /// `replay --format json` of /tmp/t10.log, a 10 MB head of the benchmark; now 12).
    @inline(__always) var slot: Int {
        let x =
            UInt64(table) ^ UInt64(chain) << 20 ^ UInt64(legacyTable) << 40 ^ UInt64(bits) << 58
        return Int(truncatingIfNeeded: (x &* 0x9E37_79B9_7F4A_7C15) >> 56)
    }
}
