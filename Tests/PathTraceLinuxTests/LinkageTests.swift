import PathTraceLinux
import Testing

@Suite struct LinkageTests {
    @Test func cLibrariesLink() {
        #expect(LinuxPlatform.librariesLinked())
    }
}
