import PathTraceCore
import Testing

@testable import PathTraceLinux

/// The probe's pure pieces: how rtnetlink's numbers become the snapshot's words.
@Suite struct TopologyDecodingTests {
    @Test func kindsFromLinkInfoAndDeviceType() {
        #expect(NamespaceReader.kind("veth", type: 1, flags: 0) == "veth")
        #expect(NamespaceReader.kind("tun", type: 65534, flags: 0) == "tun")
        #expect(NamespaceReader.kind("tun", type: 1, flags: 0) == "tap")
        #expect(NamespaceReader.kind(nil, type: 772, flags: 0x9) == "loopback")
        #expect(NamespaceReader.kind(nil, type: 1, flags: 0x1003) == "physical")
        #expect(NamespaceReader.kind("wireguard", type: 65534, flags: 0) == "wireguard")
    }

    @Test func statesFromOperstateAndFlags() {
        #expect(NamespaceReader.state(6, flags: 0x1) == "up")
        #expect(NamespaceReader.state(6, flags: 0) == "down")
        #expect(NamespaceReader.state(3, flags: 0x1) == "lowerlayerdown")
        // The loopback reports no operational state: up and carrier means up.
        #expect(NamespaceReader.state(0, flags: 0x10009) == "up")
        #expect(NamespaceReader.state(nil, flags: 0x1) == "unknown")
    }

    @Test func tablesTypesScopesAndAddresses() {
        #expect(NamespaceReader.tableName(254) == "main")
        #expect(NamespaceReader.tableName(253) == "default")
        #expect(NamespaceReader.tableName(100) == "100")
        #expect(NamespaceReader.routeType(1) == "unicast")
        #expect(NamespaceReader.routeType(6) == "blackhole")
        #expect(NamespaceReader.routeType(200) == "200")
        #expect(NamespaceReader.scopeName(253) == "link")
        #expect(NamespaceReader.scopeName(0) == "universe")
        #expect(RtnlAttributes.ipAddress([10, 44, 0, 254])?.description == "10.44.0.254")
        #expect(
            RtnlAttributes.ipAddress([0xfe, 0x80] + Array(repeating: 0, count: 13) + [1])?.description == "fe80::1")
        #expect(RtnlAttributes.ipAddress([1, 2, 3]) == nil)
        #expect(NamespaceReader.hex2(0x0a) == "0a")
    }

    @Test func defaultPolicyRulesAreRecognized() {
        let defaults = [
            TopologyRule(family: "ipv4", priority: 0, selector: "from all", action: "lookup local"),
            TopologyRule(family: "ipv4", priority: 32766, selector: "from all", action: "lookup main"),
            TopologyRule(family: "ipv4", priority: 32767, selector: "from all", action: "lookup default"),
        ]
        #expect(defaults.allSatisfy { $0.isDefault })
        #expect(!TopologyRule(family: "ipv4", priority: 100, selector: "from all", action: "lookup 100").isDefault)
        #expect(
            !TopologyRule(family: "ipv4", priority: 0, selector: "from 10.0.0.0/8", action: "lookup local").isDefault)
    }
}
