import Foundation
import PathTraceCore
import TestSupport
import Testing

/// Replay parsing on a thread of its own (`ReplayPipeline.parsesAhead`, what `pathtrace replay` does
/// with a second CPU) must give exactly the walks, skipped lines and counts of parsing in line.
@Suite struct ParseAheadTests {
    struct Outcome: Equatable {
        var walks: [PacketWalk]
        var skipped: [String]
        var stats: Correlator.Stats
    }

    static func replay(_ sources: [MemorySource], ahead: Bool) throws -> Outcome {
        var walks: [PacketWalk] = []
        var skipped: [String] = []
        var pipeline = ReplayPipeline { walks.append($0) }
        pipeline.parsesAhead = ahead
        pipeline.onSkip = { skipped.append("\($0.source) \($0.reason)") }
        for source in sources { try pipeline.read(source) }
        let summary = pipeline.finish()
        return Outcome(walks: walks, skipped: skipped, stats: summary.stats)
    }

    /// Many batches (a fixture repeated, garbage lines between): the queue fills and drains many times.
    @Test(arguments: ["captures/interleaved.dmesg", "seed/001-libvirt-nat.dmesg", "captures/nft-monitor-forward.txt"])
    func parsingAheadGivesTheSameWalks(_ file: String) throws {
        let text = try Fixtures.text(file)
        let big = Array(repeating: text + "not a trace line\n", count: 40).joined()
        let sources = [MemorySource(name: "a", text: big), MemorySource(name: "b", text: text)]
        let inline = try Self.replay(sources, ahead: false)
        let ahead = try Self.replay(sources, ahead: true)
        #expect(inline.walks.count > 40)
        #expect(inline.skipped.count >= 40)
        #expect(ahead == inline)
    }

    struct Broken: Error {}

    /// A source that fails after its first chunk.
    struct FailingSource: ByteSource {
        let name = "failing"
        let first: [UInt8]
        func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
            first.withUnsafeBufferPointer { body($0) }
            throw Broken()
        }
    }

    @Test func aSourceErrorReachesTheCaller() throws {
        let text = try Fixtures.text("captures/libvirt-nat.dmesg")
        var walks = 0
        var pipeline = ReplayPipeline { _ in walks += 1 }
        pipeline.parsesAhead = true
        #expect(throws: Broken.self) { try pipeline.read(FailingSource(first: Array(text.utf8))) }
        _ = pipeline.finish()
        #expect(walks > 0)
    }
}
