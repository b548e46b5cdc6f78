import Testing

@testable import PathTraceCore

@Suite struct MonitorFormatTests {
    /// xtables-monitor prints MACs without padding and nft with it; both read as the kernel log's form.
    /// Anything that is not six groups of one or two hex digits stays as printed, as
    /// `UInt8(_:radix: 16)` would have it (a sign is a byte of the group).
    @Test(arguments: [
        ("2:42:AC:11:0:2", "02:42:ac:11:00:02"),
        ("52:54:00:da:ec:4f", "52:54:00:da:ec:4f"),
        ("+f:-0:0:0:0:1", "0f:00:00:00:00:01"),
        ("-f:0:0:0:0:1", "-f:0:0:0:0:1"),
        ("2:42:ac:11:0", "2:42:ac:11:0"),
        ("2:42:ac:11:0:2:3", "2:42:ac:11:0:2:3"),
        ("2:42::11:0:2", "2:42::11:0:2"),
        ("2:42:acd:11:0:2", "2:42:acd:11:0:2"),
        ("2:42:ag:11:0:2", "2:42:ag:11:0:2"),
        ("", ""),
        ("é:42:ac:11:0:2", "é:42:ac:11:0:2"),
    ])
    func normalizedMAC(text: String, expected: String) {
        #expect(MonitorFormat.normalizedMAC(text) == expected)
    }
}
