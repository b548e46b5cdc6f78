import PathTraceCore
import Testing

@Suite struct IPAddressTests {
    @Test func v4RoundTrip() {
        #expect(IPAddress("192.168.122.17")?.description == "192.168.122.17")
        #expect(IPAddress("256.1.1.1") == nil)
        #expect(IPAddress("1.2.3") == nil)
    }

    @Test func v6KernelFullFormIsCompressed() {
        #expect(IPAddress("fe80:0000:0000:0000:0250:b6ff:fe4f:941f")?.description == "fe80::250:b6ff:fe4f:941f")
        #expect(IPAddress("0000:0000:0000:0000:0000:0000:0000:0001")?.description == "::1")
        #expect(IPAddress("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("fd00::1:2")?.description == "fd00::1:2")
    }

    @Test func networkContains() throws {
        let net = try #require(IPNetwork("192.168.122.0/24"))
        #expect(net.contains(try #require(IPAddress("192.168.122.17"))))
        #expect(!net.contains(try #require(IPAddress("10.44.32.217"))))
        #expect(IPNetwork("300.1.1.1/33") == nil)
    }
}
