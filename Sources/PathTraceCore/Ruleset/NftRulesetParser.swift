/// Reads `nft [-a] list ruleset` text from a `table … {` line to the table's closing brace.
///
/// The parser is fed line by line and tracks braces itself, so one-line scripts (`table ip t { chain c {
/// … } }`), rules whose anonymous sets span lines, and set/map/flowtable bodies of any depth all work.
struct NftRulesetParser {
    let source: String
    var result = Ruleset()

    enum Token: Equatable {
        case word(String)
        case open
        case close
        case semicolon
        case newline
        case handle(UInt64)
    }

    enum Level {
        case top
        case table
        case chain
        case skip
    }

    var level = Level.top
    /// The words of the statement being read.
    var words: [String] = []
    /// Brace depth inside a chain statement (anonymous sets), or of a skipped block.
    var depth = 0
    var statementLine = 0
    var statementHandle: UInt64?
    var table = Ruleset.Table(name: "", family: "ip", format: .nft)
    var tableLine = 0
    var chain = Ruleset.Chain(name: "")

    init(source: String) {
        self.source = source
    }

    /// Whether the last table was closed and the parser expects no more lines.
    var isDone: Bool { level == .top && words.isEmpty }

    func error(_ line: Int, _ reason: String) -> RulesetError {
        RulesetError(source: source, line: line, reason: reason)
    }

    mutating func feed(_ line: Substring, number: Int) throws {
        for token in Self.tokens(line) { try process(token, line: number) }
        try process(.newline, line: number)
    }

    func finishAtEndOfFile() throws {
        if level != .top {
            throw error(tableLine, "table \(table.family) \(table.name) is not closed (missing '}' at end of file)")
        }
    }

    static let families: Set<String> = ["ip", "ip6", "inet", "arp", "bridge", "netdev"]

    /// Whether a line opens an nft table: `table [family] name {` (so that prose or CSS starting with
    /// "table" is not taken for one).
    static func isTableHeader(_ line: Substring) -> Bool {
        let toks = tokens(line)
        guard let open = toks.firstIndex(of: .open), open == 2 || open == 3, toks[0] == .word("table") else {
            return false
        }
        if open == 3 {
            guard case .word(let family) = toks[1], families.contains(family) else { return false }
        }
        guard case .word(let name) = toks[open - 1] else { return false }
        return !name.isEmpty
    }

    static func tokens(_ line: Substring) -> [Token] {
        var out: [Token] = []
        var current = ""
        var quote = QuotedRun()
        func flush() {
            if !current.isEmpty {
                out.append(.word(current))
                current = ""
            }
        }
        var i = line.startIndex
        while i < line.endIndex {
            let ch = line[i]
            if quote.take(ch) {
                current.append(ch)
                i = line.index(after: i)
                continue
            }
            switch ch {
            case " ", "\t", "\r":
                flush()
            case "{":
                flush()
                out.append(.open)
            case "}":
                flush()
                out.append(.close)
            case ";":
                flush()
                out.append(.semicolon)
            case "#":
                flush()
                let comment = line[line.index(after: i)...].split(separator: " ", omittingEmptySubsequences: true)
                if comment.count == 2, comment[0] == "handle", let h = UInt64(comment[1]) { out.append(.handle(h)) }
                return out
            default:
                current.append(ch)
            }
            i = line.index(after: i)
        }
        flush()
        return out
    }

    mutating func process(_ token: Token, line: Int) throws {
        if case .word = token, words.isEmpty { statementLine = line }
        switch level {
        case .top:
            switch token {
            case .word(let w): words.append(w)
            case .open:
                guard words.first == "table", words.count == 2 || words.count == 3 else {
                    throw error(line, "expected 'table [family] name {', found '\(words.joined(separator: " "))'")
                }
                table = Ruleset.Table(
                    name: Self.unquote(words[words.count - 1]), family: words.count == 3 ? words[1] : "ip",
                    format: .nft)
                tableLine = line
                words = []
                level = .table
            case .close: throw error(line, "unexpected '}' outside a table")
            case .semicolon, .newline: words = []
            case .handle: break
            }
        case .table:
            switch token {
            case .word(let w): words.append(w)
            case .open:
                if words.first == "chain" {
                    guard words.count == 2 else { throw error(line, "expected 'chain NAME {'") }
                    chain = Ruleset.Chain(name: Self.unquote(words[1]))
                    level = .chain
                    depth = 0
                } else {
                    level = .skip  // set, map, flowtable, counter, quota, ct helper, ... bodies
                    depth = 1
                }
                words = []
            case .close:
                words = []
                finishTable()
                level = .top
            case .semicolon, .newline: words = []  // flags, comment
            case .handle: break
            }
        case .skip:
            if token == .open { depth += 1 }
            if token == .close {
                depth -= 1
                if depth == 0 { level = .table }
            }
        case .chain:
            switch token {
            case .word(let w): words.append(w)
            case .open:
                depth += 1
                words.append("{")
            case .close:
                if depth > 0 {
                    depth -= 1
                    words.append("}")
                } else {
                    try finishStatement()
                    finishChain()
                    level = .table
                }
            case .semicolon:
                if depth == 0 { try finishStatement() } else { words.append(";") }
            case .newline:
                if depth == 0 { try finishStatement() }
            case .handle(let h):
                if words.isEmpty && depth == 0 {
                    if chain.handle == nil && chain.rules.isEmpty { chain.handle = h }
                } else {
                    statementHandle = h
                }
            }
        }
    }

    mutating func finishStatement() throws {
        defer {
            words = []
            statementHandle = nil
        }
        guard let first = words.first else { return }
        switch first {
        case "type":
            guard words.count >= 2 else { throw error(statementLine, "chain \(chain.name): 'type' without a value") }
            chain.type = words[1]
            if let h = words.firstIndex(of: "hook"), h + 1 < words.count { chain.hook = words[h + 1] }
            if let p = words.firstIndex(of: "priority"), p + 1 < words.count {
                chain.priority = words[(p + 1)...].joined(separator: " ")
            }
            return
        case "policy":
            guard words.count == 2 else { throw error(statementLine, "chain \(chain.name): malformed policy") }
            chain.policy = words[1]
            return
        case "comment" where words.count == 2, "devices", "device":
            return
        default:
            break
        }
        var info = RuleInfo(
            chain: chain.name, number: chain.rules.count + 1, text: words.joined(separator: " "),
            target: Self.target(words), nat: NatText.fromNft(words),
            origin: SourcePosition(file: source, line: statementLine))
        info.handle = statementHandle
        Self.fillMatches(&info, words)
        chain.rules.append(info)
    }

    mutating func finishChain() {
        if chain.hook != nil && chain.policy == nil { chain.policy = "accept" }
        table.replaceChain(chain)
        chain = Ruleset.Chain(name: "")
    }

    mutating func finishTable() {
        result.merge(table)
        table = Ruleset.Table(name: "", family: "ip", format: .nft)
    }

    static func unquote(_ s: String) -> String {
        s.count >= 2 && s.first == "\"" && s.last == "\"" ? String(s.dropFirst().dropLast()) : s
    }

    /// The rule's verdict or action: the last verdict, NAT statement, reject or vmap; else log, mark, ...
    static func target(_ words: [String]) -> String? {
        var terminal: String?
        var other: String?
        var depth = 0
        for (i, w) in words.enumerated() {
            if w == "{" { depth += 1 }
            if w == "}" { depth -= 1 }
            if depth != 0 || w == "}" { continue }
            let prev = i > 0 ? words[i - 1] : ""
            switch w {
            case "accept", "drop", "continue", "return", "queue", "reject", "vmap":
                terminal = w
            case "jump", "goto":
                if i + 1 < words.count { terminal = w + " " + words[i + 1] }
            case "dnat", "snat", "masquerade", "redirect":
                if NatText.isStatement(words, i) { terminal = w }
            case "log", "notrack", "tproxy", "fwd", "dup", "synproxy":
                if other == nil { other = w }
            case "set":
                if prev == "mark" { other = "mark" } else if prev == "nftrace" { other = "nftrace" }
            default:
                break
            }
        }
        return terminal ?? other
    }

    static let headerFields: Set<String> = [
        "sport", "dport", "flags", "type", "code", "id", "sequence", "window", "checksum", "option", "length",
    ]

    /// Interfaces, addresses and protocol, when the rule matches them plainly.
    static func fillMatches(_ info: inout RuleInfo, _ words: [String]) {
        func value(after i: Int) -> String? {
            var k = i + 1
            var negate = ""
            if k < words.count && words[k] == "!=" {
                negate = "!"
                k += 1
            }
            guard k < words.count, words[k] != "{", !words[k].hasPrefix("@") else { return nil }
            return negate + unquote(words[k])
        }
        var depth = 0
        for (i, w) in words.enumerated() {
            if w == "{" { depth += 1 }
            if w == "}" { depth -= 1 }
            if depth != 0 { continue }
            let next = i + 1 < words.count ? words[i + 1] : ""
            switch w {
            case "iifname", "iif": if info.inInterface == nil { info.inInterface = value(after: i) }
            case "oifname", "oif": if info.outInterface == nil { info.outInterface = value(after: i) }
            case "saddr" where i > 0 && (words[i - 1] == "ip" || words[i - 1] == "ip6"):
                if info.source == nil { info.source = value(after: i) }
            case "daddr" where i > 0 && (words[i - 1] == "ip" || words[i - 1] == "ip6"):
                if info.destination == nil { info.destination = value(after: i) }
            case "l4proto", "protocol", "nexthdr":
                if info.proto == nil, let v = value(after: i) { info.proto = RulesetTextParser.normalizeProto(v) }
            case "tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6":
                if info.proto == nil && headerFields.contains(next) && (i == 0 || words[i - 1] != "with") {
                    info.proto = w
                }
            default:
                break
            }
        }
    }
}
