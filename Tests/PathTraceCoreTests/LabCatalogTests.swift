import Foundation
import PathTraceCore
import TestSupport
import Testing

/// `pathtrace lab list|up|run NAME` finds its labs through `LabCatalog`.
@Suite struct LabCatalogTests {
    @Test func anInstalledBinaryFindsTheLabsUnderItsPrefixAndEnvironmentComesFirst() {
        let catalog = LabCatalog(executable: "/opt/pt/bin/pathtrace", environment: ["PATHTRACE_LABS": "/my/labs"])
        #expect(catalog.directories.first?.path == "/my/labs")
        #expect(catalog.directories.last?.path == "/opt/pt/share/pathtrace/labs")
    }

    @Test func aNameIsFoundOnceAndAnUnknownOneListsTheKnown() throws {
        let labs = Fixtures.url("labs")
        let catalog = LabCatalog(directories: [labs, labs])
        let all = catalog.all()
        #expect(all.count == Set(all.map(\.name)).count)
        #expect(all.contains { $0.name == "libvirt-nat" && $0.directory.path == labs.path })
        #expect(try catalog.spec(named: "libvirt-nat").name == "libvirt-nat")
        #expect(throws: LabError.notFound("nope", all.map(\.name))) { try catalog.spec(named: "nope") }
        #expect(throws: LabError.unreadable("/nonexistent/x.json")) { try catalog.spec(named: "/nonexistent/x.json") }
    }
}
