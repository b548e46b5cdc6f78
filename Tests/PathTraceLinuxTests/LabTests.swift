import Foundation
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

/// The libvirt-nat lab, built for real in namespaces: the VM reaches the proxy only through the
/// host's MASQUERADE, and teardown leaves nothing behind even when the test fails.
@Suite(.serialized, .offPool) struct LabTests {
    static func spec() throws -> LabSpec {
        try Fixtures.lab("libvirt-nat", prefix: "ptlt\(ProcessInfo.processInfo.processIdentifier % 100_000)")
    }

    @Test func labFileDecodesAndValidates() throws {
        let spec = try Self.spec()
        #expect(spec.namespaces == ["vm", "host", "wan"])
        #expect(spec.expect.first?.chains.count == 7)
        var bad = spec
        bad.prefix = "lab"
        let data = try JSONEncoder().encode(bad)
        #expect(throws: LabError.self) { try LabSpec.decode(data, source: "bad") }
        var hostile = spec
        hostile.addresses[0].dev = "eth0;reboot"
        #expect(throws: LabError.self) { try LabSpec.decode(try JSONEncoder().encode(hostile), source: "bad") }
    }

    @Test func libvirtNatLabForwardsThroughMasquerade() throws {
        let spec = try Self.spec()
        let builder = LabBuilder(spec: spec)
        defer {
            builder.down()
        }
        try builder.up()
        #expect(builder.existingNamespaces().count == 3)
        let server = try LabTraffic.startServer(spec, idle: 5)
        defer { server?.stop() }
        let answers = try LabTraffic.send(spec)
        // The server sees the host's bond0 address: the VM's source was MASQUERADEd.
        #expect(answers == ["ok 18 from 10.44.0.1\n"])
        builder.down()
        #expect(builder.existingNamespaces().isEmpty)
    }
}
