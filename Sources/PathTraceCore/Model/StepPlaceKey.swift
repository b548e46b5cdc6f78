/// Where a step ran and what it did (hook, bridge family or not, table, chain, kind, rule, verdict and
/// whether it was inferred, rule text, interfaces) as four words: equal keys, equal fields.
///
/// A trace repeats the same few hundred of these over and over (every packet of a flow crosses the
/// same chains), so a renderer keeps the text it printed for a key and copies it: the JSON step writer
/// spent ~250 instructions a step on these fields (issue 10, scripts/icount.sh).
public struct StepPlaceKey: Equatable, Sendable {
    public var names: UInt64
    public var interfaces: UInt64
    public var rule: UInt64
    /// The small fields, with the top bit set so that no key is all zeros (a free cache entry).
    public var codes: UInt64

    @inlinable @inline(__always) public init(names: UInt64, interfaces: UInt64, rule: UInt64, codes: UInt64) {
        self.names = names
        self.interfaces = interfaces
        self.rule = rule
        self.codes = codes
    }

    /// Whether one of the 16-bit name slots of `word` holds a boxed name (whose slot does not tell it).
    @inlinable @inline(__always) static func hasBoxed(_ word: UInt64) -> Bool {
        let lanes: UInt64 = 0x0001_0001_0001_0001
        let y = word ^ (lanes &* UInt64(NameSlot.boxed.raw))
        return (y &- lanes) & ~y & (lanes &* 0x8000) != 0
    }
}

extension StepPlaceKey {
    /// The place of the step at `step`; nil when one of its names is boxed (past the name table's
    /// capacity). Read through the pointer: a property of the step would copy it (and retain its
    /// rare fields) first.
    @inlinable @inline(__always) public init?(_ step: UnsafePointer<WalkStep>) {
        let names =
            UInt64(step.pointee.event.tableSlot.raw) | UInt64(step.pointee.event.chainSlot.raw) << 16
            | UInt64(step.pointee.event.ruleTextSlot.raw) << 32 | UInt64(step.pointee.verdictSlot.raw) << 48
        let interfaces =
            UInt64(step.pointee.event.inIfaceSlot.raw) | UInt64(step.pointee.event.outIfaceSlot.raw) << 16
            | UInt64(step.pointee.event.physInSlot.raw) << 32 | UInt64(step.pointee.event.physOutSlot.raw) << 48
        // A boxed name's text is in the event's rare fields: without them no slot is boxed, and the
        // look at every slot is skipped (75% of t10's steps, ~20 instructions a step, issue 10,
        // scripts/icount.sh).
        if !step.pointee.event.rare.isEmpty, StepPlaceKey.hasBoxed(names) || StepPlaceKey.hasBoxed(interfaces) {
            return nil
        }
        let hookCode = UInt64(truncatingIfNeeded: step.pointee.hook.map { $0.number &+ 1 } ?? 0)
        let kindCode: UInt64
        switch step.pointee.event.kind {
        case .rule: kindCode = 0
        case .return: kindCode = 1
        case .policy: kindCode = 2
        case .log: kindCode = 3
        }
        let codes =
            hookCode | kindCode << 8 | UInt64(step.pointee.event.ruleTag) << 16
            | UInt64(step.pointee.verdictTag.rawValue) << 24 | (step.pointee.verdictInferred ? 1 << 32 : 0)
            | (step.pointee.event.family == .bridge ? 1 << 40 : 0) | 1 << 63
        self.init(names: names, interfaces: interfaces, rule: step.pointee.event.ruleValue, codes: codes)
    }
}

extension StepPlaceKey {
    /// Whether the step's table is one of iptables' (raw, mangle, nat, filter, security: `Name.raw`…),
    /// by its id: so not pathtrace's own.
    @inlinable @inline(__always) public static func inIptablesTable(_ step: UnsafePointer<WalkStep>) -> Bool {
        let id = step.pointee.event.tableSlot.raw
        return id >= 1 && id <= 5
    }

    /// The step's in, out, physin and physout names as one word (equal words, equal names); nil when
    /// one is boxed.
    @inlinable @inline(__always) public static func interfaces(_ step: UnsafePointer<WalkStep>) -> UInt64? {
        let word =
            UInt64(step.pointee.event.inIfaceSlot.raw) | UInt64(step.pointee.event.outIfaceSlot.raw) << 16
            | UInt64(step.pointee.event.physInSlot.raw) << 32 | UInt64(step.pointee.event.physOutSlot.raw) << 48
        return hasBoxed(word) ? nil : word
    }

    /// Whether one of the step's in, out, physin and physout names holds a space (its `in … out …` text
    /// may then read as another step's with other names). Names of the table are read by id, with the
    /// table looked up once: through four `Name?` a text timeline spent ~250 instructions on a step
    /// whose interfaces changed (issue 10, scripts/icount.sh (text)).
    public static func interfaceNamesHaveSpace(_ step: UnsafePointer<WalkStep>) -> Bool {
        let table = NameTable.shared
        func space(_ slot: NameSlot, _ name: @autoclosure () -> Name?) -> Bool {
            if slot == .none { return false }
            let bytes =
                slot == .boxed
                ? (name()?.bytes ?? UnsafeRawBufferPointer(start: nil, count: 0))
                : table.bytes(UInt32(slot.raw))
            return bytes.contains(UInt8(ascii: " "))
        }
        return space(step.pointee.event.inIfaceSlot, step.pointee.event.inIfaceName)
            || space(step.pointee.event.outIfaceSlot, step.pointee.event.outIfaceName)
            || space(step.pointee.event.physInSlot, step.pointee.event.physInName)
            || space(step.pointee.event.physOutSlot, step.pointee.event.physOutName)
    }

    /// The origin and source file of the step at `step` as one word (the line aside); nil when the
    /// file's name is boxed.
    @inlinable @inline(__always) public static func originFile(_ step: UnsafePointer<WalkStep>) -> UInt32? {
        guard step.pointee.event.fileSlot != .boxed else { return nil }
        let originCode: UInt32
        switch step.pointee.event.origin {
        case .kernelTrace: originCode = 0
        case .logTarget: originCode = 1
        case .ebtablesLog: originCode = 2
        case .nftMonitor: originCode = 3
        case .xtablesMonitor: originCode = 4
        case .netlink: originCode = 5
        }
        return originCode | UInt32(step.pointee.event.fileSlot.raw) << 8 | 1 << 31
    }
}
