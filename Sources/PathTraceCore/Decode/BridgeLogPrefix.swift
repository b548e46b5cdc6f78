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
