#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import PathTraceRender
import SystemPackage
import TestSupport
import Testing

/// `replay`'s mapped input: the windows cover the file in order, lines that straddle two windows are
/// parsed whole, and a file that shrinks between windows ends there.
@Suite struct MappedFileTests {
    /// A file under /tmp holding `bytes`, opened read-only; removed by `close`.
    struct TempFile {
        let path: String
        let fd: FileDescriptor

        init(_ bytes: [UInt8]) throws {
            path = NSTemporaryDirectory() + "pt-mapped-\(getpid())-\(UUID().uuidString)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            fd = try FileDescriptor.open(FilePath(path), .readOnly)
        }

        func close() {
            try? fd.close()
            unlink(path)
        }
    }

    /// The mapping as the pipeline reads it.
    struct MappedSource: ByteSource {
        let name: String
        let file: MappedFile

        func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws { _ = file.forEachWindow(body) }
    }

    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    @Test func windowsCoverTheFileInOrder() throws {
        let bytes = (0..<(3 * Self.page + 100)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let file = try TempFile(bytes)
        defer { file.close() }
        let mapped = try #require(MappedFile(file.fd, name: file.path, window: Self.page))
        var seen: [UInt8] = []
        var windows = 0
        let end = mapped.forEachWindow {
            seen.append(contentsOf: $0)
            windows += 1
        }
        #expect(end == bytes.count)
        #expect(windows == 4)
        #expect(seen == bytes)
    }

    /// One-page windows cut most lines of a capture in two; the walks must be those of the whole file.
    @Test func linesAcrossWindowsReplayAsFromMemory() throws {
        let name = "captures/interleaved.dmesg"
        let bytes = Array(try Data(contentsOf: Fixtures.url(name)))
        let file = try TempFile(bytes)
        defer { file.close() }
        let mapped = try #require(MappedFile(file.fd, name: name, window: Self.page))
        let fromMemory = try Self.replay(MemorySource(name: name, bytes: bytes))
        let fromMapping = try Self.replay(MappedSource(name: name, file: mapped))
        #expect(fromMemory.count > 10)
        #expect(fromMapping == fromMemory)
    }

    @Test func fileCutShortBetweenWindowsEndsThere() throws {
        let file = try TempFile(Array(repeating: UInt8(ascii: "x"), count: 4 * Self.page))
        defer { file.close() }
        let mapped = try #require(MappedFile(file.fd, name: file.path, window: Self.page))
        var windows = 0
        let end = mapped.forEachWindow { _ in
            windows += 1
            if windows == 1 { #expect(truncate(file.path, off_t(Self.page + 10)) == 0) }
        }
        #expect(windows == 2)
        #expect(end == Self.page + 10)
    }

    /// A log written while it is replayed: the mapping ends at the size at open, and `read` from there
    /// (what `InputFile` does next) gets the new lines.
    @Test func bytesAppendedWhileMappedAreLeftToRead() throws {
        let file = try TempFile(Array(repeating: UInt8(ascii: "x"), count: 2 * Self.page))
        defer { file.close() }
        let mapped = try #require(MappedFile(file.fd, name: file.path, window: Self.page))
        let end = mapped.forEachWindow { _ in
            let appender = FileHandle(forWritingAtPath: file.path)
            appender?.seekToEndOfFile()
            appender?.write(Data("new line\n".utf8))
            try? appender?.close()
        }
        #expect(end == 2 * Self.page)
        _ = try file.fd.seek(offset: Int64(end), from: .start)
        var rest = [UInt8](repeating: 0, count: 64)
        let n = try rest.withUnsafeMutableBytes { try file.fd.read(into: $0) }
        #expect(String(decoding: rest[..<n], as: UTF8.self) == "new line\nnew line\n")
    }

    @Test func emptyFilesAndPipesAreNotMapped() throws {
        let empty = try TempFile([])
        defer { empty.close() }
        #expect(MappedFile(empty.fd, name: empty.path) == nil)
        let pipe = try FileDescriptor.pipe()
        defer {
            try? pipe.readEnd.close()
            try? pipe.writeEnd.close()
        }
        #expect(MappedFile(pipe.readEnd, name: "pipe") == nil)
    }

    /// A file truncated while a window is being parsed: the process says so and exits 1 (the test
    /// helper truncates the file under its own mapping and touches the vanished page).
    @Test func fileCutShortInsideAWindowExitsWithAMessage() throws {
        let file = try TempFile(Array(repeating: UInt8(ascii: "x"), count: 4 * Self.page))
        defer { file.close() }
        let r = try Tool.run([Live.helper, "map-shrink", "--file", file.path])
        #expect(r.status == 1)
        #expect(r.stderr == "pathtrace: \(file.path) shrank while it was being read (SIGBUS); replay stopped\n")
        #expect(r.stdout == "")
    }

    /// Each walk rendered as JSON, one string per walk.
    static func replay(_ source: some ByteSource) throws -> [String] {
        var walks: [String] = []
        let writer = JSONWriter(capacity: 4096)
        var pipeline = ReplayPipeline { walk in
            WalkJSON.write(walk, to: writer)
            walks.append(String(decoding: writer.bytes, as: UTF8.self))
            writer.removeAll()
        }
        try pipeline.read(source)
        _ = pipeline.finish()
        return walks
    }
}
#endif
