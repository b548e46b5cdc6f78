import Foundation

/// The chain position carried in an nfnetlink_log prefix.
///
/// Two forms are understood:
/// * legacy TRACE routed to nfnetlink_log: `TRACE: raw:PREROUTING:policy:2 ` (the kernel's own
///   prefix, with its trailing space; the chain may contain colons, so the type and number are read
///   from the end);
/// * pathtrace's NFLOG convention: `pt:<table>:<chain>` (the packet entered that chain, the NFLOG
///   rule at its head matched), or `pt:<table>:<chain>:<rule|return|policy>:<number>`.
public struct LogPrefix: Sendable, Equatable {
    /// Which form the prefix had.
    public enum Form: Sendable, Equatable {
        case trace
        case pathtrace
    }

    public var form: Form
    public var table: String
    public var chain: String
    public var kind: StepKind
    /// The 1-based rule number, when the prefix carries one.
    public var rule: Int?

    public init(form: Form, table: String, chain: String, kind: StepKind, rule: Int?) {
        self.form = form
        self.table = table
        self.chain = chain
        self.kind = kind
        self.rule = rule
    }

    /// The tag that starts pathtrace's NFLOG prefixes.
    public static let pathtraceTag = "pt:"

    /// The prefix an NFLOG rule at the head of `table`/`chain` carries (`pt:filter:FORWARD`).
    public static func pathtrace(table: String, chain: String) -> String {
        pathtraceTag + table + ":" + chain
    }

    /// Parses either form; nil for any other prefix (a user's NFLOG or LOG prefix).
    public init?(_ text: String) {
        let trimmed = text.trimmingSpaces()
        if trimmed.hasPrefix("TRACE: ") {
            let body = String(trimmed.dropFirst(7)).trimmingSpaces()
            guard let (table, rest) = LogPrefix.splitTable(body), let (chain, kind, rule) = LogPrefix.tail(rest),
                !chain.isEmpty
            else { return nil }
            self.init(form: .trace, table: table, chain: chain, kind: kind, rule: rule)
            return
        }
        guard trimmed.hasPrefix(LogPrefix.pathtraceTag) else { return nil }
        let body = String(trimmed.dropFirst(LogPrefix.pathtraceTag.count))
        guard let (table, rest) = LogPrefix.splitTable(body), !rest.isEmpty else { return nil }
        if let (chain, kind, rule) = LogPrefix.tail(rest), !chain.isEmpty {
            self.init(form: .pathtrace, table: table, chain: chain, kind: kind, rule: rule)
        } else {
            self.init(form: .pathtrace, table: table, chain: rest, kind: .rule, rule: nil)
        }
    }

    /// `table:rest` with a non-empty table of identifier characters.
    private static func splitTable(_ s: String) -> (String, String)? {
        guard let colon = s.firstIndex(of: ":") else { return nil }
        let table = String(s[..<colon])
        guard !table.isEmpty, table.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            return nil
        }
        return (table, String(s[s.index(after: colon)...]))
    }

    /// `chain:type:number`, read from the end.
    private static func tail(_ s: String) -> (String, StepKind, Int)? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let number = Int(parts[parts.count - 1]), number >= 0 else { return nil }
        let kind: StepKind
        switch parts[parts.count - 2] {
        case "rule": kind = .rule
        case "return": kind = .return
        case "policy": kind = .policy
        default: return nil
        }
        return (parts[0..<(parts.count - 2)].joined(separator: ":"), kind, number)
    }
}

extension LogPrefix {
    /// `LogPrefix(text)`, remembered: a live session sees the same few prefixes on every packet,
    /// and parsing them was a fifth of the collector's time.
    public static func cached(_ text: String) -> LogPrefix? {
        PrefixCache.shared.lookup(text)
    }
}

/// A small bounded memo of parsed prefixes, shared by collector threads.
private final class PrefixCache: @unchecked Sendable {
    static let shared = PrefixCache()
    private let lock = NSLock()
    private var entries: [String: LogPrefix?] = [:]

    func lookup(_ text: String) -> LogPrefix? {
        lock.lock()
        defer { lock.unlock() }
        if let hit = entries[text] { return hit }
        let parsed = LogPrefix(text)
        if entries.count >= 1024 { entries.removeAll(keepingCapacity: true) }
        entries[text] = .some(parsed)
        return parsed
    }
}

/// The ebtables table and chain a LOG prefix names, the way people name them to trace bridged frames
/// (`TRACE: eb:filter:INPUT`, `ebt nat POSTROUTING`, `[br FORWARD]`).
///
/// ebtables has no TRACE target, so the prefix is the only place a bridge LOG line says where it was
/// printed. A chain name (`BROUTING` `PREROUTING` `INPUT` `FORWARD` `OUTPUT` `POSTROUTING`, any case) is
/// required; the word before it is the table when it is `broute`, `nat` or `filter`.
public struct BridgeLogPrefix: Sendable, Equatable {
    /// `broute`, `nat`, `filter`, or the table the hook implies (empty when two tables share the hook).
    public var table: String
    /// The chain as ebtables names it (upper case).
    public var chain: String
    public var hook: Hook

    /// Parses `text`; `knownBridge` says the line itself is a bridge record (ebt_log's layout, an
    /// nfnetlink_log record of the bridge family). Otherwise (an nf_log line, which has the same layout
    /// for bridge and IP) the prefix must mark itself as ebtables': `eb`, `ebt`, `ebtables`, `bridge`
    /// or `br` before the chain, or the broute table.
    public init?(_ text: String, knownBridge: Bool) {
        var words: [Substring] = []
        var start: String.Index?
        for i in text.indices {
            let c = text[i]
            let isWord = c.isASCII && (c.isLetter || c.isNumber || c == "_")
            if isWord {
                if start == nil { start = i }
            } else if let s = start {
                words.append(text[s..<i])
                start = nil
            }
        }
        if let s = start { words.append(text[s...]) }
        var marked = knownBridge
        for (k, word) in words.enumerated() {
            let upper = word.uppercased()
            guard let hook = Hook(chainName: upper) else {
                if ["eb", "ebt", "ebtables", "bridge", "br"].contains(word.lowercased()) { marked = true }
                continue
            }
            var table = ""
            if k > 0, case let before = words[k - 1].lowercased(), ["broute", "nat", "filter"].contains(before) {
                table = before
            }
            if table == "broute" || hook == .brouting { marked = true }
            guard marked else { return nil }
            if table.isEmpty { table = BridgeLogPrefix.onlyTable(at: hook) }
            self.table = table
            self.chain = upper
            self.hook = hook
            return
        }
        return nil
    }

    /// The one ebtables table with a chain at `hook`, or empty (OUTPUT has nat and filter).
    static func onlyTable(at hook: Hook) -> String {
        switch hook {
        case .brouting: return "broute"
        case .prerouting, .postrouting: return "nat"
        case .input, .forward: return "filter"
        case .output: return ""
        }
    }
}
