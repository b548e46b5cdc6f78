import PathTraceCore
import TestSupport
import Testing

@testable import PathTraceCore

/// `SavedEventJSON` reads saved events by their bytes and must answer as JSONSerialization does,
/// or not at all. These tests run both readers on the real saved-event captures and on thousands of
/// mutations of them, and compare the events (or the skip reasons) whenever the byte reader answered.
@Suite struct SavedEventParserTests {
    /// What a reader made of one line: its status and the events it emitted.
    struct Reading: Equatable {
        var status: LineStatus
        var events: [TraceEvent]
    }

    static let files = [
        "captures/bridge-ebtables-brnf.events.jsonl", "captures/journey-libvirt-nat.events.jsonl",
        "captures/verdicts-legacy.events.jsonl",
    ]

    static func lines() throws -> [[UInt8]] {
        try files.flatMap { try Fixtures.text($0).split(separator: "\n").map { Array($0.utf8) } }
    }

    static func byBytes(_ line: [UInt8]) -> Reading? {
        var events: [TraceEvent] = []
        let status = line.withUnsafeBufferPointer {
            SavedEventParser.byBytes($0, at: SourcePosition(file: "t", line: 1)) { events.append($0) }
        }
        return status.map { Reading(status: $0, events: events) }
    }

    static func byFoundation(_ line: [UInt8]) -> Reading {
        var events: [TraceEvent] = []
        let status = line.withUnsafeBufferPointer {
            SavedEventParser.byFoundation($0, at: SourcePosition(file: "t", line: 1)) { events.append($0) }
        }
        return Reading(status: status, events: events)
    }

    @Test func everyCapturedLineIsReadByItsBytesAsFoundationReadsIt() throws {
        let lines = try Self.lines()
        #expect(lines.count == 268)
        for line in lines {
            let fast = try #require(Self.byBytes(line), "\(String(decoding: line, as: UTF8.self))")
            #expect(fast == Self.byFoundation(line))
            #expect(fast.status == .recognized && fast.events.count == 1)
        }
    }

    /// `--save` writes a time's shortest decimal, often 17 digits; read back it must be the same time
    /// (JSONSerialization's NSDecimalNumber for such a number had turned …740.6194046 into …740.6194043).
    @Test func aSavedTimeOfSeventeenDigitsReadsBackExactly() throws {
        let line = Array(
            #"{"pathtrace-event":1,"time":1795714740.6194046,"origin":"netlink","family":"ipv4","table":"raw","chain":"PREROUTING","kind":"policy"}"#
                .utf8)
        let fast = try #require(Self.byBytes(line))
        let reference = Self.byFoundation(line)
        #expect(fast.events.map(\.time) == [1_795_714_740.6194046])
        #expect(reference.events.map(\.time) == [1_795_714_740.6194046])
    }

    /// nft prints rule texts with quoted names; `--save` writes the quotes escaped. Such a line is read
    /// by its bytes, as Foundation reads it, with the quotes back in the rule text.
    @Test func aRuleTextWithEscapedQuotesIsReadByItsBytes() throws {
        let line = Array(
            #"{"pathtrace-event":1,"origin":"netlink","family":"ipv4","table":"filter","chain":"FORWARD","kind":"rule","handle":9,"rule_text":"iifname \"virbr0\" ip saddr 192.168.122.0/24 counter accept\\ \/\t"}"#
                .utf8)
        let fast = try #require(Self.byBytes(line))
        #expect(fast == Self.byFoundation(line))
        #expect(
            fast.events.map(\.ruleText) == [#"iifname "virbr0" ip saddr 192.168.122.0/24 counter accept\ /"# + "\t"])
    }

    /// An object of thousands of members (garbled input, up to the 64 KB line limit) is left to
    /// Foundation, which reads it as before, instead of the repeated-key search growing with its square.
    @Test func anObjectOfThousandsOfMembersIsLeftToFoundation() {
        let members = (0..<5000).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let line = Array(#"{"pathtrace-event":1,"#.utf8) + Array(members.utf8) + [UInt8(ascii: "}")]
        #expect(Self.byBytes(line) == nil)
        #expect(
            Self.byFoundation(line).status == .malformed("saved event: origin, family, kind, table or chain missing"))
    }

    /// Bits of JSON a mutation inserts: the byte reader's unsure cases (escapes, `true`, negative
    /// numbers, exponents, non-ASCII, trailing commas, repeated keys) and plain breakage.
    static let snippets: [[UInt8]] = [
        #"\""#, #"\n"#, #"\u0041"#, #"\\"#, #"\/"#, #"\t"#, #"\b"#, #"\x"#, "true", "false", "-1", "1e3", "1.5", "0.25",
        "01", ",", "}", "]", "{", "[", #"""#,
        ":", " ", "\t", "null", "nul", "0", "é", "\u{1}", #","table":"x""#, #","x":[1,{"y":null}]"#, #","x":[]"#,
        #"[1,]"#, #"{"a":1,}"#, "99999999999999999999", "12a", ".5", "1.", "\r",
    ].map { Array($0.utf8) }

    @Test func mutatedLinesAreReadByTheirBytesOnlyAsFoundationReadsThem() throws {
        let lines = try Self.lines()
        var rng = ParserFuzzTests.Rng(state: 0x5EED_5A7E)
        var answered = 0
        var recognized = 0
        let count = 4000
        for _ in 0..<count {
            var line = lines[rng.below(lines.count)]
            for _ in 0...rng.below(3) {
                let at = rng.below(line.count + 1)
                switch rng.below(5) {
                case 0: line.insert(contentsOf: Self.snippets[rng.below(Self.snippets.count)], at: at)
                case 1 where at < line.count: line.removeSubrange(at..<min(line.count, at + 1 + rng.below(8)))
                case 2 where at < line.count:
                    let bytes = Array("0123456789:.,-_ {}[]\"xnul".utf8)
                    line[at] = bytes[rng.below(bytes.count)]
                case 3 where at < line.count:
                    let end = min(line.count, at + 1 + rng.below(12))
                    line.insert(contentsOf: line[at..<end], at: end)
                default:
                    // A value replaced by one of another type: a number where a string was, and so on.
                    if let colon = line[at...].firstIndex(of: UInt8(ascii: ":")),
                        let end = line[(colon + 1)...].firstIndex(where: { $0 == UInt8(ascii: ",") })
                    {
                        let values = [#""s""#, "7", "2.5", "null", "[]", "{}", #"["a","b"]"#]
                        line.replaceSubrange((colon + 1)..<end, with: Array(values[rng.below(values.count)].utf8))
                    }
                }
            }
            guard let fast = Self.byBytes(line) else { continue }
            answered += 1
            if fast.status == .recognized { recognized += 1 }
            let reference = Self.byFoundation(line)
            #expect(fast == reference, "\(String(decoding: line, as: UTF8.self))")
        }
        // The byte reader answers most lines itself, recognized ones among them; else it saves nothing.
        #expect(answered > count / 2)
        #expect(recognized > count / 10)
    }
}
