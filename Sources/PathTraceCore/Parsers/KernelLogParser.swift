/// Parses nf_log text (TRACE and LOG-target lines, ebtables LOG lines) inside any log wrapper.
///
/// Wrappers, detected per line: dmesg `[ 5281.733217] `, dmesg -T `[Tue Jun 18 21:00:55 2019] `,
/// syslog/journal `Jul 20 11:28:40 host kernel: ` (optionally followed by a dmesg stamp), ISO journal
/// stamps, `/dev/kmsg` records `4,1234,5121056357116,-;`, a `<4>` priority, or nothing at all.
///
/// The body is one or more records: `TRACE: table:chain:type:rulenum ` followed by the nf_log dump
/// (several may be glued on one line), or a LOG line whose user prefix runs up to `IN=`. The dump is
/// scanned once, byte by byte, by `NfLogScanner`; strings are only made for names and unknown fields.
struct KernelLogParser {
    private var strings = NameCache()
    private let heads = TraceHeadCache()
    /// The dumps read, each with its records' event (built once through the model's initializer and
    /// then refilled for every record: each field this parser sets is assigned each time, the others
    /// stay at their defaults; this saves the initializer's string compares for the hook).
    private let dumps: DumpCache
    private var inMemo = NameMemo()
    private var outMemo = NameMemo()
    private var macSrcMemo = NameMemo()
    private var macDstMemo = NameMemo()
    private var extras = ExtraCache()
    /// Prefixes already read as bridge steps (or not): a log repeats a few prefixes on every line.
    private var bridgePrefixes: [BridgeKey: BridgeStep?] = [:]
    private var scanner = NfLogScanner()
    /// Events emitted so far (the caller counts a line's from the difference).
    private(set) var records = 0
    /// The eight bytes after the last line's `[` and their leading digits (see `leadingStamp`).
    private var stampWord: UInt64 = 0
    private var stampSeconds = Byte.leadingDigits(0)

    /// A parser of the lines of `file`, whose events cite it.
    init(file: Name = .empty) {
        var template = DumpCache.blankEvent
        template.source = SourcePosition(fileName: file, line: 0)
        dumps = DumpCache(template: template)
    }

    /// What starts the body of a line, as found by reading it.
    enum Head {
        case trace(TraceHead)
        /// A LOG-target or ebtables line: the prefix runs from `prefixStart` to `inField` (`IN=`).
        case log(prefixStart: Int, inField: Int)
    }

    /// What starts a record's body, as the parse loop and `emitEvent` carry it: a TRACE head is its
    /// `heads` entry and where its token starts (two words, passed in registers).
    enum Start {
        case trace(entry: Int, at: Int)
        case log(prefixStart: Int, inField: Int)
    }

    /// `head` as a `Start`; a TRACE head read from the line goes to the spare entry of `heads`.
    private func start(_ head: Head) -> Start {
        switch head {
        case .trace(let h): return .trace(entry: heads.put(h), at: h.table.start)
        case .log(let start, let inField): return .log(prefixStart: start, inField: inField)
        }
    }

    /// Parses one line; each record's event is handed to `emit` by its address, which holds only
    /// during the call (the parser refills the event for its next record).
    mutating func parse(
        _ line: UnsafeBufferPointer<UInt8>, lineNumber: Int, emit: (UnsafePointer<TraceEvent>) -> Void
    ) -> LineStatus {
        guard let p = line.baseAddress else { return .notMine }
        var n = line.count
        while n > 0 && (p[n - 1] == Byte.lf || p[n - 1] == Byte.cr || p[n - 1] == 0) { n -= 1 }
        var i = 0
        var time: Double?
        // Whether `TRACE: ` was seen at `i` (it is not read twice).
        var traced = false
        // A dmesg stamp and `TRACE: ` right after it, as most lines read: what `unwrap` would find,
        // without its other wrappers' checks (75 instructions a line; callgrind, scripts/icount.sh on t10).
        if n > 0 && p[0] == Byte.lbracket,
            let (t, end) = leadingStamp(p, n) ?? KernelLogParser.stamp(p, n, 0)
        {
            i = end
            KernelLogParser.skipSpaces(p, n, &i)
            if NfLogScanner.lit(p, n, i, KernelLogParser.tracePrefix, 7) {
                time = t
                traced = true
            } else {
                i = 0
                time = KernelLogParser.unwrap(p, n, &i)
            }
        } else {
            time = KernelLogParser.unwrap(p, n, &i)
        }

        var head: Start
        if traced || NfLogScanner.lit(p, n, i, KernelLogParser.tracePrefix, 7),
            case let entry = heads.find(p, n, at: i &+ 7), entry >= 0
        {
            head = .trace(entry: entry, at: i &+ 7)
        } else {
            switch KernelLogParser.findHead(p, n, i) {
            case .found(let h): head = start(h)
            case .malformed(let why): return .malformed(why)
            case .none: return .notMine
            }
        }
        if time == nil, case .trace(_, let at) = head, at - 7 > i {
            // An unknown wrapper (`dmesg -x`: `kern  :warn  : [ 12.345] TRACE: ...`) may still end in a stamp.
            time = KernelLogParser.stampBefore(p, n, at - 7, i)
        }

        // Pointed at the line without its per-record reset: a record whose dump is cached never runs
        // the scanner (the reset, 49 instructions, came before every line; callgrind on t10).
        scanner.point(p, n)
        while true {
            var found = (slot: -1, hit: false, hash: UInt64(0))
            var dumpStart = 0
            switch head {
            case .trace(let entry, let at):
                dumpStart = heads.end(entry, at: at)
                scanner.i = dumpStart
                found = dumps.find(p, dumpStart, n)
            case .log(_, let inField): scanner.i = inField
            }
            if found.hit {
                // Only dumps without a glued record are cached: this is the line's last record.
                emitEvent(head, found.slot, time, lineNumber, emit)
                break
            }
            scanner.resetRecord()
            let boundary = scanner.run()
            var slot = dumps.scratch
            if boundary == nil && found.slot >= 0, case .trace = head {
                dumps.store(p, dumpStart, n, slot: found.slot, hash: found.hash)
                slot = found.slot
            }
            resolve(into: &dumps.results[slot])
            emitEvent(head, slot, time, lineNumber, emit)
            guard let next = boundary else { break }
            head = start(next.head)
            if let t = next.time { time = t }
        }
        return .recognized
    }

    /// Moves what the scanner read of the record's dump into `r`, names resolved.
    private mutating func resolve(into r: inout DumpCache.Result) {
        let p = scanner.p
        let n = scanner.n
        r.ebt = scanner.ebt
        r.arp = scanner.arp
        r.sawMAC = scanner.sawMAC
        // A cached prefix's names were interned when it was first resolved: the same bytes give the
        // same names, and nothing is interned out of its first-seen order.
        if let entry = scanner.cachedPrefix() {
            if !entry.pointee.resolved {
                entry.pointee.names = prefixNames(p, n)
                entry.pointee.resolved = true
            }
            KernelLogParser.setNames(&r, &entry.pointee.names, &scanner)
        } else {
            var names = prefixNames(p, n)
            KernelLogParser.setNames(&r, &names, &scanner)
        }
        r.hasHeader = scanner.touched
        if scanner.touched {
            if scanner.hasEmbedded { scanner.header.embedded = scanner.embedded }
            if !scanner.extra.isEmpty { extras.set(&scanner.header, p, scanner.extra, limit: n, &strings) }
            if r.event.headerValue.rare.isEmpty && scanner.header.rare.isEmpty {
                // Neither header has a box: the bytes are the move, and a new header written over the
                // scanner's leaves nothing to release (the swap and the old header's destruction were
                // 80 instructions a scanned dump; callgrind, scripts/icount.sh on t10).
                withUnsafeMutablePointer(to: &r.event.headerValue) { to in
                    withUnsafeMutablePointer(to: &scanner.header) { from in
                        UnsafeMutableRawPointer(to).copyMemory(from: from, byteCount: MemoryLayout<PacketHeader>.size)
                        from.initialize(to: PacketHeader())
                    }
                }
            } else {
                swap(&r.event.headerValue, &scanner.header)
                scanner.header = PacketHeader()
            }
        }
        KernelLogParser.setFamilies(&r)
        withUnsafeMutablePointer(to: &r) { KernelLogParser.fill($0) }
    }

    /// Sets `r`'s interfaces and the scanned header's MACs from `names`; a name whose slot says it
    /// all is not copied (see `DumpCache.Result`).
    @inline(__always) private static func setNames(
        _ r: inout DumpCache.Result, _ names: inout DumpPrefixCache.Names, _ scanner: inout NfLogScanner
    ) {
        r.interfaces.take(names.interfaces)
        if scanner.touched {
            if let m = names.macSrc { scanner.header.macSrcName = m }
            if let m = names.macDst { scanner.header.macDstName = m }
        }
    }

    /// The interface and MAC names of the record the scanner read, interned in field order.
    @inline(never) private mutating func prefixNames(_ p: UnsafePointer<UInt8>, _ n: Int) -> DumpPrefixCache.Names {
        var names = DumpPrefixCache.Names()
        // In field order: the name table numbers names as they first come.
        let inIface = scanner.inIface.map { inMemo.name(p, $0, limit: n, &strings) }
        let outIface = scanner.outIface.map { outMemo.name(p, $0, limit: n, &strings) }
        let physIn = scanner.physIn.map { strings.name(p, $0, limit: n) }
        let physOut = scanner.physOut.map { strings.name(p, $0, limit: n) }
        names.interfaces = InterfaceNames(inIface: inIface, outIface: outIface, physIn: physIn, physOut: physOut)
        if scanner.touched {
            if let x = scanner.macSrc { names.macSrc = macSrcMemo.name(p, x, limit: n, &strings) }
            if let x = scanner.macDst { names.macDst = macDstMemo.name(p, x, limit: n, &strings) }
        }
        return names
    }

    /// The event's family for `r`'s dump behind a TRACE head and behind a LOG prefix, worked out once
    /// per dump: a cached dump's events read it (27 instructions a line; callgrind on t10).
    private static func setFamilies(_ r: inout DumpCache.Result) {
        let address = r.hasHeader ? r.event.headerValue.src ?? r.event.headerValue.dst : nil
        if let a = address, !r.ebt && !r.arp {
            r.traceFamily = a.isV6 ? .ipv6 : .ipv4
            r.logFamily = r.traceFamily
            return
        }
        if r.ebt {
            r.logFamily = .bridge
        } else if r.arp {
            r.logFamily = .arp
        } else if r.sawMAC {
            r.logFamily = .bridge
        } else {
            r.logFamily = .ipv4
        }
        // Legacy TRACE comes from ip_tables or ip6_tables only: a truncated dump is still IP (an
        // ebt_log dump behind a TRACE-looking prefix is a LOG line).
        r.traceFamily = r.ebt ? r.logFamily : .ipv4
    }

    /// Builds the record's event from its head and its dump's result (in `dumps.results[slot]`, read
    /// in place: a copy of the result was 300 instructions a line) and hands it to `emit` by its
    /// address: passed as a value, the event was first copied to the stack (a 168-byte memcpy a line;
    /// callgrind, scripts/icount.sh on t10).
    private mutating func emitEvent(
        _ head: Start, _ slot: Int, _ time: Double?, _ lineNumber: Int,
        _ emit: (UnsafePointer<TraceEvent>) -> Void
    ) {
        let d = dumps.results + slot
        let p = scanner.p
        let n = scanner.n
        var family = d.pointee.logFamily
        if case .trace = head { family = d.pointee.traceFamily }
        let origin: EventOrigin
        var kind = StepKind.log
        var rule: RuleRef?
        var hook: Hook?
        var prefix: ByteRange?
        // The table and chain go straight into the event: `Name` locals for them were copied and
        // destroyed on every line (callgrind, scripts/icount.sh on t10).
        switch head {
        case .trace(let entry, let at):
            if d.pointee.ebt {
                // An ebt_log dump behind a TRACE-looking prefix: a user LOG prefix, not a TRACE record.
                origin = .ebtablesLog
                prefix = ByteRange(at &- 7, heads.end(entry, at: at))
            } else {
                origin = .kernelTrace
                if d.pointee.event.tableSlot != .boxed && d.pointee.event.chainSlot != .boxed,
                    let cached = heads.slots(entry)
                {
                    // The cached names' slots: the names themselves were copied and released.
                    d.pointee.event.tableSlot = cached.table
                    d.pointee.event.chainSlot = cached.chain
                    hook = cached.hook
                } else {
                    let names = heads.names(p, n, entry, at: at, &strings)
                    d.pointee.event.tableName = names.table
                    d.pointee.event.chainName = names.chain
                    hook = names.hook
                }
                let r = heads.rule(entry)
                kind = r.kind
                rule = .number(r.number)
            }
        case .log(let start, let inField):
            var end = inField
            if d.pointee.ebt {
                // ebt_log prints "%s IN=": the space is its own, not the user's.
                if end > start && p[end - 1] == Byte.space { end -= 1 }
                origin = .ebtablesLog
            } else {
                origin = .logTarget
            }
            prefix = ByteRange(start, end)
        }
        if let prefix {
            let text = strings.name(p, prefix, limit: n)
            d.pointee.event.prefixName = text
            if let step = bridgeStep(text, knownBridge: family == .bridge) {
                // An ebtables LOG rule whose prefix names its chain: a step of the bridge hooks.
                family = .bridge
                d.pointee.event.tableName = step.table
                d.pointee.event.chainName = step.chain
                hook = step.hook
            } else {
                d.pointee.event.tableName = .empty
                d.pointee.event.chainName = .empty
            }
        } else {
            d.pointee.event.prefixName = nil
        }
        // The file is set once (`init`): a position per line copied and destroyed its file's name
        // (callgrind, scripts/icount.sh on t10).
        d.pointee.event.lineValue = lineNumber
        d.pointee.event.origin = origin
        d.pointee.event.family = family
        d.pointee.event.kind = kind
        d.pointee.event.hook = hook
        d.pointee.event.rule = rule
        d.pointee.event.time = time
        records &+= 1
        withUnsafePointer(to: &d.pointee.event) { emit($0) }
    }

    /// Sets a dump's interfaces and header flag in its event, once, as `resolve` ends (a cache hit
    /// finds them there). A slot is set by itself unless a name is (or was) in the event's box.
    @inline(never) private static func fill(_ d: UnsafeMutablePointer<DumpCache.Result>) {
        if d.pointee.interfaces.plainSlots && d.pointee.event.inIfaceSlot != .boxed
            && d.pointee.event.outIfaceSlot != .boxed && d.pointee.event.physInSlot != .boxed
            && d.pointee.event.physOutSlot != .boxed
        {
            // Without a boxed name the slots say all: the names' copies were 60 instructions a
            // read dump (callgrind, scripts/icount.sh on t10).
            d.pointee.event.inIfaceSlot = d.pointee.interfaces.inSlot
            d.pointee.event.outIfaceSlot = d.pointee.interfaces.outSlot
            d.pointee.event.physInSlot = d.pointee.interfaces.physInSlot
            d.pointee.event.physOutSlot = d.pointee.interfaces.physOutSlot
        } else {
            setInterfaces(d)
        }
        // `resolve` wrote the header in place; without one, the event's is cleared (so equality holds).
        if d.pointee.hasHeader {
            d.pointee.event.hasHeader = true
        } else {
            d.pointee.event.header = nil
        }
    }

    /// `fill`'s interfaces when a name is (or was) in the event's box.
    private static func setInterfaces(_ d: UnsafeMutablePointer<DumpCache.Result>) {
        let names = d.pointee.interfaces
        if d.pointee.event.inIfaceSlot != .boxed && names.inSlot != .boxed {
            d.pointee.event.inIfaceSlot = names.inSlot
        } else {
            d.pointee.event.inIfaceName = names.name(names.inSlot, names.inIface)
        }
        if d.pointee.event.outIfaceSlot != .boxed && names.outSlot != .boxed {
            d.pointee.event.outIfaceSlot = names.outSlot
        } else {
            d.pointee.event.outIfaceName = names.name(names.outSlot, names.outIface)
        }
        if d.pointee.event.physInSlot != .boxed && names.physInSlot != .boxed {
            d.pointee.event.physInSlot = names.physInSlot
        } else {
            d.pointee.event.physInName = names.name(names.physInSlot, names.physIn)
        }
        if d.pointee.event.physOutSlot != .boxed && names.physOutSlot != .boxed {
            d.pointee.event.physOutSlot = names.physOutSlot
        } else {
            d.pointee.event.physOutName = names.name(names.physOutSlot, names.physOut)
        }
    }

    private mutating func bridgeStep(_ text: Name, knownBridge: Bool) -> BridgeStep? {
        if !knownBridge, !text.bytes.contains(where: { $0 == UInt8(ascii: "B") || $0 == UInt8(ascii: "b") }) {
            return nil
        }
        let key = BridgeKey(prefix: text, knownBridge: knownBridge)
        if let hit = bridgePrefixes[key] { return hit }
        let step = BridgeLogPrefix(text.string, knownBridge: knownBridge).map {
            BridgeStep(table: Name($0.table), chain: Name($0.chain), hook: $0.hook)
        }
        if bridgePrefixes.count >= 256 { bridgePrefixes.removeAll(keepingCapacity: true) }
        bridgePrefixes[key] = .some(step)
        return step
    }

    private struct BridgeKey: Hashable {
        let prefix: Name
        let knownBridge: Bool
    }

    /// A bridge LOG prefix's step, its names interned once.
    private struct BridgeStep {
        let table: Name
        let chain: Name
        let hook: Hook
    }

    // MARK: - Wrappers

    /// `TRACE: `, packed little-endian.
    static let tracePrefix: UInt64 = 0x20_3A45_4341_5254

    /// Skips the log wrapper at the start of the line and returns the kernel timestamp, if any.
    static func unwrap(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Double? {
        var time: Double?
        skipSpaces(p, n, &i)
        // `<4>` syslog priority.
        if i < n && p[i] == Byte.lt {
            var j = i + 1
            while j < n && j - i <= 4 && Byte.isDigit(p[j]) { j += 1 }
            if j > i + 1 && j < n && p[j] == Byte.gt {
                i = j + 1
                skipSpaces(p, n, &i)
            }
        }
        if i < n && p[i] == Byte.lbracket {
            if let (t, end) = stamp(p, n, i) {
                time = t
                i = end
                skipSpaces(p, n, &i)
            } else if let end = dateStamp(p, n, i) {
                i = end
                skipSpaces(p, n, &i)
            }
        } else if i < n && Byte.isDigit(p[i]), let (t, end) = kmsg(p, n, i) {
            i = end
            return t
        }
        if NfLogScanner.lit(p, n, i, tracePrefix, 7) || Byte.matches(p, n, i, "IN=") { return time }
        // syslog / journal: "... host kernel: " before the first field.
        if let end = kernelTag(p, n, i) {
            i = end
            skipSpaces(p, n, &i)
            if i < n && p[i] == Byte.lbracket, let (t, end) = stamp(p, n, i) {
                time = t
                i = end
                skipSpaces(p, n, &i)
            }
        }
        return time
    }

    @inline(__always) static func skipSpaces(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) {
        while i < n && (p[i] == Byte.space || p[i] == Byte.tab) { i += 1 }
    }

    /// `[5121056.357116]` or `[ 5281.733217]` at `s`: the seconds and the index past `]`.
    static func stamp(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> (Double, Int)? {
        var j = s + 1
        while j < n && p[j] == Byte.space { j += 1 }
        if j + 24 <= n {
            // Eight digits at a time: a stamp begins most lines (scripts/bench-replay.sh's file).
            let ws = j
            var (count, whole) = Byte.leadingDigits(Byte.load(p + j, 8))
            j += count
            if count == 8 {
                let (more, value) = Byte.leadingDigits(Byte.load(p + j, 8))
                if more > 4 { return nil }
                whole = whole &* Byte.powerOfTen(more) &+ value
                j += more
            }
            if j == ws { return nil }
            var frac: UInt64 = 0
            var digits = 0
            if p[j] == Byte.dot {
                j += 1
                (digits, frac) = Byte.leadingDigits(Byte.load(p + j, 8))
                j += digits
                if digits == 8 {
                    // A ninth digit counts; any after it are read and dropped.
                    if Byte.isDigit(p[j]) {
                        frac = frac &* 10 &+ UInt64(p[j] &- 0x30)
                        digits = 9
                        j += 1
                    }
                    while j < n && Byte.isDigit(p[j]) { j += 1 }
                }
            }
            guard j < n && p[j] == Byte.rbracket else { return nil }
            return (Byte.seconds(whole, frac, digits), j + 1)
        }
        var whole: UInt64 = 0
        let ws = j
        while j < n && Byte.isDigit(p[j]) {
            if j - ws >= 12 { return nil }
            whole = whole &* 10 &+ UInt64(p[j] &- 0x30)
            j += 1
        }
        if j == ws { return nil }
        var frac: UInt64 = 0
        var digits = 0
        if j < n && p[j] == Byte.dot {
            j += 1
            while j < n && Byte.isDigit(p[j]) {
                if digits < 9 {
                    frac = frac &* 10 &+ UInt64(p[j] &- 0x30)
                    digits += 1
                }
                j += 1
            }
        }
        guard j < n && p[j] == Byte.rbracket else { return nil }
        return (Byte.seconds(whole, frac, digits), j + 1)
    }

    /// `stamp` at the line's start in its usual shape, `[5121056.000003]`: up to seven digits, a dot,
    /// one to seven digits. Nil for any other shape, which `stamp` then reads. Inlined, without
    /// `stamp`'s leading spaces and long numbers: the call was 111 instructions a line (callgrind,
    /// scripts/icount.sh on t10). The seconds are read again only when their word differs from the last
    /// line's: a trace's lines share them for a second at a time (0.2 M instructions on t10).
    @inline(__always) mutating func leadingStamp(_ p: UnsafePointer<UInt8>, _ n: Int) -> (Double, Int)? {
        guard n >= 24 else { return nil }
        let word = Byte.load(p + 1, 8)
        if word != stampWord {
            stampWord = word
            stampSeconds = Byte.leadingDigits(word)
        }
        let (count, whole) = stampSeconds
        guard count > 0 && count < 8 && p[1 &+ count] == Byte.dot else { return nil }
        let f = 2 &+ count
        let (digits, frac) = Byte.leadingDigits(Byte.load(p + f, 8))
        guard digits > 0 && digits < 8 && p[f &+ digits] == Byte.rbracket else { return nil }
        return (Byte.shortSeconds(whole, frac, digits), f &+ digits &+ 1)
    }

    /// A dmesg stamp ending (give or take spaces) just before `end`, not before `start`.
    static func stampBefore(_ p: UnsafePointer<UInt8>, _ n: Int, _ end: Int, _ start: Int) -> Double? {
        var k = end - 1
        while k > start && p[k] == Byte.space { k -= 1 }
        guard k > start, p[k] == Byte.rbracket else { return nil }
        var open = k - 1
        while open >= start && k - open <= 24 && p[open] != Byte.lbracket { open -= 1 }
        guard open >= start, p[open] == Byte.lbracket, let (t, after) = stamp(p, n, open), after == k + 1 else {
            return nil
        }
        return t
    }

    /// dmesg -T `[Tue Jun 18 21:00:55 2019]` at `s`: the index past `]`.
    static func dateStamp(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> Int? {
        // "Www Mmm dd hh:mm:ss yyyy" is 24 bytes.
        let c = s + 1
        guard c + 25 <= n, p[c + 24] == Byte.rbracket else { return nil }
        guard Byte.isLetter(p[c]), Byte.isLetter(p[c + 1]), Byte.isLetter(p[c + 2]), p[c + 3] == Byte.space,
            Byte.isLetter(p[c + 4]), p[c + 7] == Byte.space, p[c + 10] == Byte.space, p[c + 13] == Byte.colon,
            p[c + 16] == Byte.colon, p[c + 19] == Byte.space, Byte.isDigit(p[c + 23])
        else { return nil }
        return c + 25
    }

    /// `/dev/kmsg`: `prio,seq,usec,flags[,...];` — the seconds and the index past `;`.
    static func kmsg(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> (Double, Int)? {
        var j = s
        var field = 0
        var usec: UInt64 = 0
        while field < 3 {
            let fs = j
            var v: UInt64 = 0
            while j < n && Byte.isDigit(p[j]) {
                if j - fs >= 19 { return nil }
                v = v &* 10 &+ UInt64(p[j] &- 0x30)
                j += 1
            }
            guard j > fs, j < n, p[j] == Byte.comma else { return nil }
            j += 1
            if field == 2 { usec = v }
            field += 1
        }
        // Flags and optional key=value fields up to ';' (no spaces).
        let limit = min(n, j + 64)
        while j < limit && p[j] != Byte.semicolon && p[j] != Byte.space { j += 1 }
        guard j < limit && p[j] == Byte.semicolon else { return nil }
        return (Byte.seconds(usec / 1_000_000, usec % 1_000_000, 6), j + 1)
    }

    /// The index past `kernel:` when it appears (at the start or after a space) before the first `=`.
    static func kernelTag(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> Int? {
        var j = s
        while j + 7 <= n {
            let b = p[j]
            if b == Byte.equal { return nil }
            if b == 0x6B && (j == s || p[j - 1] == Byte.space) && Byte.matches(p, n, j, "kernel:") { return j + 7 }
            j += 1
        }
        return nil
    }

    // MARK: - Record heads

    enum HeadSearch {
        case found(Head)
        case malformed(String)
        case none
    }

    /// The first record of the body: a valid `TRACE: t:c:type:n` or `IN=` followed by ` OUT=`.
    static func findHead(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> HeadSearch {
        var j = s
        while j + 3 <= n {
            let b = p[j]
            if b == 0x49 {  // I
                if p[j + 1] == 0x4E && p[j + 2] == Byte.equal && outFollows(p, n, j + 3) {
                    return .found(.log(prefixStart: s, inField: j))
                }
            } else if b == 0x54 && Byte.matches(p, n, j, "TRACE: ") {  // T
                switch classify(p, n, j + 7) {
                case .record(var h):
                    h.start = j
                    return .found(.trace(h))
                case .malformed(let why):
                    return .malformed(why)
                case .none:
                    break
                }
            }
            j += 1
        }
        return .none
    }

    /// Whether ` OUT=` follows the `IN=` value starting at `s`.
    static func outFollows(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> Bool {
        var e = s
        while e < n && p[e] != Byte.space { e += 1 }
        return Byte.matches(p, n, e, " OUT=")
    }

    /// Checks `table:chain:type:rulenum` at `s` (the text after `TRACE: `).
    ///
    /// The table is read forwards (a plain identifier); the number, the type and the chain are read
    /// backwards from the end of the token, so a chain name may itself contain colons.
    static func classify(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> TraceHeadCheck {
        // Table: raw, mangle, nat, filter, security (any identifier); "eb" is ebtables' LOG prefix.
        var first = s
        while first < n {
            let b = p[first]
            if b == Byte.colon { break }
            if !(Byte.isLetter(b) || Byte.isDigit(b) || b == 0x5F || b == 0x2D) { return .none }
            first += 1
        }
        if first >= n { return .none }
        if first - s == 2 && p[s] == 0x65 && p[s + 1] == 0x62 { return .none }
        let e = NfLogScanner.spaceOrEnd(p, n, first)
        // The last colon, then the one before it.
        var last = e - 1
        while last > first && p[last] != Byte.colon { last -= 1 }
        if last == first { return .none }
        var second = last - 1
        while second > first && p[second] != Byte.colon { second -= 1 }
        guard let kind = kindAt(p, second + 1, last) else {
            // `raw:PREROUTING:policy`: the number is missing.
            if kindAt(p, last + 1, e) != nil { return .malformed("TRACE record without a rule number") }
            return .none
        }
        if first == s { return .malformed("TRACE record without a table name") }
        if second == first { return .malformed("TRACE record without a chain name") }
        if second == first + 1 { return .malformed("TRACE record without a chain name") }
        if last + 1 == e { return .malformed("TRACE record without a rule number") }
        var number: UInt64 = 0
        var d = last + 1
        while d < e {
            let v = p[d] &- 0x30
            if v >= 10 { return .malformed("TRACE record with a non-numeric rule number") }
            number = number &* 10 &+ UInt64(v)
            if number > UInt64(UInt32.max) { return .malformed("TRACE record rule number out of range") }
            d += 1
        }
        return .record(
            TraceHead(
                start: s, table: ByteRange(s, first), chain: ByteRange(first + 1, second), kind: kind,
                number: Int(number), end: e))
    }

    /// `Hook(chainName:)` computed from the bytes (the same names, without building and comparing strings).
    static func hook(_ p: UnsafePointer<UInt8>, _ r: ByteRange) -> Hook? {
        let q = p + r.start
        let n = r.count
        switch n {
        case 5:
            if Byte.matches(q, n, 0, "INPUT") || Byte.matches(q, n, 0, "input") { return .input }
        case 6:
            if Byte.matches(q, n, 0, "OUTPUT") || Byte.matches(q, n, 0, "output") { return .output }
        case 7:
            if Byte.matches(q, n, 0, "FORWARD") || Byte.matches(q, n, 0, "forward") { return .forward }
        case 8:
            if Byte.matches(q, n, 0, "BROUTING") || Byte.matches(q, n, 0, "brouting") { return .brouting }
        case 10:
            if Byte.matches(q, n, 0, "PREROUTING") || Byte.matches(q, n, 0, "prerouting") { return .prerouting }
        case 11:
            if Byte.matches(q, n, 0, "POSTROUTING") || Byte.matches(q, n, 0, "postrouting") { return .postrouting }
        default:
            break
        }
        return nil
    }

    /// `rule`, `return` or `policy` at `s..<e`.
    private static func kindAt(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> StepKind? {
        switch e - s {
        case 4 where Byte.load(p + s, 4) == 0x656C_7572: return .rule
        case 6:
            let w = Byte.load(p + s, 6)
            if w == 0x6E72_7574_6572 { return .return }
            if w == 0x7963_696C_6F70 { return .policy }
            return nil
        default: return nil
        }
    }
}
