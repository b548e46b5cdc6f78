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
    public var table: String {
        get { tableName.string }
        set { tableName = Name(newValue) }
    }
    public var chain: String {
        get { chainName.string }
        set { chainName = Name(newValue) }
    }
    public var tableName: Name
    public var chainName: Name
    public var kind: StepKind
    /// The 1-based rule number, when the prefix carries one.
    public var rule: Int?

    public init(form: Form, table: String, chain: String, kind: StepKind, rule: Int?) {
        self.form = form
        self.tableName = Name(table)
        self.chainName = Name(chain)
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
