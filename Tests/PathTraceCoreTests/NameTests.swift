import Foundation
import Testing

@testable import PathTraceCore

/// Names: interned ones compare by id; boxed ones (past the table's capacity) by their bytes, and
/// both give the bytes and JSON a String would.
@Suite struct NameTests {
    static func boxed(_ s: String) -> Name {
        var s = s
        return s.withUTF8 { Name(boxing: UnsafeRawBufferPointer($0)) }
    }

    @Test func internedNamesAreOneIdPerText() {
        let a = Name("eth0"), b = Name(String("eth") + "0")
        #expect(a == b)
        #expect(a.tableID == b.tableID)
        #expect(a != Name("eth1"))
        #expect(Name("nat") == .nat && Name("nat").isIptablesTable && !Name("natx").isIptablesTable)
        #expect(Name("").isEmpty && Name.empty.string.isEmpty)
        #expect(Name("prerouting_mangle").hasPrefix("prerouting") && !Name("pre").hasPrefix("prerouting"))
    }

    @Test func boxedNamesCompareAndHashByTheirBytes() {
        let a = Self.boxed("past the table"), b = Self.boxed("past the table"), c = Self.boxed("past the other")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != c)
        #expect(a.tableID == nil)
        #expect(a.string == "past the table" && !a.isEmpty && a.isASCII)
        #expect(Set([a, b, c]).count == 2)
    }

    @Test(arguments: ["plain", "quote \" and \\ back", "tab\tnew\nline\r", "ctl \u{1}", "é ü 日本"])
    func jsonFormIsTheEscapedString(_ text: String) {
        var expected = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": expected += "\\\""
            case "\\": expected += "\\\\"
            case "\n": expected += "\\n"
            case "\r": expected += "\\r"
            case "\t": expected += "\\t"
            case "\u{0}"..."\u{1F}": expected += String(format: "\\u%04x", u.value)
            default: expected.unicodeScalars.append(u)
            }
        }
        expected += "\""
        for name in [Name(text), Self.boxed(text)] {
            #expect(String(decoding: name.json, as: UTF8.self) == expected)
            #expect(name.string == text)
            #expect(name.isASCII == text.utf8.allSatisfy { $0 < 0x80 })
        }
    }

    @Test func invalidUTF8IsReplacedAsStringsReplaceIt() {
        let bytes: [UInt8] = [0x61, 0xFF, 0x62]
        let name = bytes.withUnsafeBytes { Name(bytes: $0) }
        #expect(name.string == String(decoding: bytes, as: UTF8.self))
    }
}
