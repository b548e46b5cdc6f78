#if os(Linux)
import PathTraceLinux
import Testing

/// The one namespace type: what `--netns` accepts, and the file a collector's setns opens.
@Suite struct TraceNamespaceTests {
    @Test func namesAreValidated() {
        #expect(throws: LinuxError.invalidNamespace("a b")) { try TraceNamespace(name: "a b") }
        #expect(throws: LinuxError.invalidNamespace("../x")) { try TraceNamespace(name: "../x") }
        for bad in ["a/b", "..", ".", "", "pid:0", "pid:x", String(repeating: "a", count: 65)] {
            #expect(throws: LinuxError.invalidNamespace(bad)) { try TraceNamespace(name: bad) }
        }
        #expect((try? TraceNamespace(name: "ptr-lab_1.x")) == .named("ptr-lab_1.x"))
        #expect((try? TraceNamespace(name: "pid:42")) == .process(42))
        #expect((try? TraceNamespace(name: nil)) == .current)
        #expect(TraceNamespace.process(42).name == "pid:42")
    }

    @Test func pathsAreTheFilesSetnsOpens() {
        #expect(TraceNamespace.named("x").path == "/run/netns/x")
        #expect(TraceNamespace.process(7).path == "/proc/7/ns/net")
        // The current namespace needs no setns and always exists.
        #expect(TraceNamespace.current.path == nil && TraceNamespace.current.exists)
        #expect(!TraceNamespace.named("ptnosuchns-\(Int.random(in: 0..<1_000_000))").exists)
    }
}
#endif
