import Foundation
import PathTraceCore
import TestSupport
import Testing

/// Walks that cannot complete come out within a window of input lines and trace time, however the
/// input's clock jumps (back after a reboot, between rotated logs) or when lines carry no time; what
/// the pipeline holds at any point stays bounded by those windows (scripts/bench-replay.sh measures
/// the memory on a million mutated and shuffled lines).
@Suite struct BoundedWindowTests {
    /// Feeds its lines one chunk each and counts them, so a test can tell how far the input was read
    /// when a walk came out.
    final class LineByLine: ByteSource {
        let name: String
        let lines: [String]
        private(set) var fed = 0

        init(name: String, lines: [String]) {
            self.name = name
            self.lines = lines
        }

        func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
            for line in lines {
                fed += 1
                Array((line + "\n").utf8).withUnsafeBufferPointer { body($0) }
            }
        }
    }

    /// A walk as it came out, with how many lines had been read then.
    struct Emitted {
        var walk: PacketWalk
        var afterLines: Int
    }

    static func lines(_ fixture: String) throws -> [String] {
        try Fixtures.text(fixture).split(separator: "\n").map(String.init)
    }

    /// `[  870.690114] TRACE: …` with the time moved by `delta` seconds.
    static func shifted(_ line: String, by delta: Double) -> String {
        guard line.hasPrefix("["), let close = line.firstIndex(of: "]"),
            let t = Double(line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces))
        else { return line }
        return "[" + String(format: "%12.6f", t + delta) + line[close...]
    }

    /// The line without its `[time] ` prefix, as syslog prints a kernel line without kernel time.
    static func timeless(_ line: String) -> String {
        guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return line }
        return String(line[line.index(after: close)...].drop { $0 == " " })
    }

    /// Replays `parts` in order, one source each, through the pipeline the CLI runs.
    static func replay(_ parts: [LineByLine], options: Correlator.Options = .init()) throws -> [Emitted] {
        var out: [Emitted] = []
        var before = 0
        var current: LineByLine?
        var pipeline = ReplayPipeline(options: options) {
            out.append(Emitted(walk: $0, afterLines: before + (current?.fed ?? 0)))
        }
        for part in parts {
            current = part
            try pipeline.read(part)
            before += part.lines.count
        }
        current = nil
        _ = pipeline.finish()
        return out
    }

    @Test func rotatedLogAfterARebootCutsTheOpenWalkWhereTheClockGoesBack() throws {
        let capture = try Self.lines("captures/libvirt-nat.dmesg")
        // The older log ends in the middle of the SYN's walk (after nat:PREROUTING); the newer one,
        // after a reboot, has the same capture 800 s earlier on the clock. Its mangle:FORWARD would
        // otherwise continue the old walk: the same header, at a later hook.
        let older = LineByLine(name: "kern.log.1", lines: Array(capture[0..<3]))
        let newer = LineByLine(name: "kern.log", lines: capture.map { Self.shifted($0, by: -800) })
        let emitted = try Self.replay([older, newer])
        let alone = try ReplayHarness.run(["captures/libvirt-nat.dmesg"]).walks

        let cut = try #require(emitted.first)
        #expect(
            cut.walk.chainSequence == [
                "raw:PREROUTING:policy:3", "mangle:PREROUTING:policy:1", "nat:PREROUTING:policy:1",
            ])
        #expect(cut.walk.path == .incomplete)
        #expect(cut.walk.verdict == .unknown)
        #expect(cut.walk.notes.contains { $0.contains("clock goes back") })
        // Out when the newer log's first line came, not at the end of the input.
        #expect(cut.afterLines == 4)
        // The newer log gives the walks the capture gives alone.
        let rest = emitted.dropFirst().map(\.walk)
        #expect(rest.map(\.chainSequence) == alone.map(\.chainSequence))
        #expect(rest.map(\.lines) == alone.map(\.lines))
        #expect(rest.map(\.verdict) == alone.map(\.verdict))
        #expect(rest.map(\.path) == alone.map(\.path))
    }

    @Test func linesWithoutKernelTimeStillComeOutWithinTheWindow() throws {
        var options = Correlator.Options()
        options.windowEvents = 16
        let cutShort = LineByLine(
            name: "messages.1", lines: try Self.lines("captures/libvirt-nat.dmesg")[0..<3].map(Self.timeless))
        let other = LineByLine(name: "messages", lines: try Self.lines("captures/output.dmesg").map(Self.timeless))
        #expect(!cutShort.lines[0].hasPrefix("["))
        let emitted = try Self.replay([cutShort, other], options: options)
        let first = try #require(emitted.first { $0.walk.steps.first?.event.source.file == "messages.1" })
        #expect(first.walk.steps.count == 3)
        #expect(first.walk.steps.allSatisfy { $0.event.time == nil })
        // Idle past the window of 16 events after its third line: out long before output.dmesg's 94 lines end.
        #expect(first.afterLines <= 3 + 16 + 1)
    }

    @Test func aWalkThatKeepsJoiningIsCutOffAfterItsLifetime() throws {
        var options = Correlator.Options()
        options.windowEvents = 16
        // One nft trace id whose rule records keep coming (a repeated line), each a few events apart, so
        // the walk is never idle for the window; other packets (kernel TRACE lines) in between.
        let nft = try Self.lines("captures/nft-monitor-forward.txt")
        let other = try Self.lines("captures/libvirt-nat.dmesg")[0]
        #expect(other.contains("ID=61567 "))
        var lines = [nft[0]]
        for i in 0..<40 {
            lines.append(nft[1])
            for k in 0..<5 {
                lines.append(other.replacingOccurrences(of: "ID=61567 ", with: "ID=\(1000 + i * 8 + k) "))
            }
        }
        let emitted = try Self.replay([LineByLine(name: "mixed.txt", lines: lines)], options: options)
        let walk = try #require(emitted.first { $0.walk.steps.first?.event.source.line == 2 })
        #expect(walk.walk.path == .incomplete)
        #expect(walk.walk.notes.contains { $0.contains("events after its first step") })
        // Lifetime: twice the window in events (the packet line is none), then the next event cuts it off.
        #expect(walk.afterLines <= 2 * 16 + 3)
        #expect(walk.walk.steps.count > 3)
    }

    @Test func aNamespaceThatFallsSilentHasItsWalksEmitted() throws {
        var options = Correlator.Options()
        options.windowEvents = 16
        var out: [PacketWalk] = []
        var correlator = NamespacedCorrelator(options: options) { out.append($0) }
        correlator.add(StitcherTests.event("raw:PREROUTING:policy:2", line: 1), netns: "quiet")
        correlator.add(StitcherTests.event("mangle:PREROUTING:policy:1", line: 2), netns: "quiet")
        var emittedAt: Int?
        for i in 0..<2000 {
            correlator.add(StitcherTests.event("raw:PREROUTING:policy:2", line: i, id: UInt32(1000 + i)), netns: "busy")
            if emittedAt == nil, out.contains(where: { $0.netns == "quiet" }) { emittedAt = i }
        }
        correlator.finish()
        let quiet = out.filter { $0.netns == "quiet" }
        #expect(quiet.count == 1)
        #expect(quiet.first?.steps.count == 2)
        #expect(try #require(emittedAt) < 300)
    }

    /// Fixture lines in a seeded random order: the clock jumps back and forth at nearly every line and
    /// a packet's lines are scattered. The events not yet out as part of a walk stay within a few windows.
    @Test func shuffledLinesStayWithinAFewWindows() throws {
        var options = Correlator.Options()
        options.windowEvents = 64
        var pool: [String] = []
        for file in [
            "captures/libvirt-nat.dmesg", "captures/interleaved.dmesg", "captures/ipv6.dmesg",
            "captures/output.dmesg", "captures/libvirt-nat.dmesg-T", "captures/drop.kmsg",
        ] { pool += try Self.lines(file) }
        var rng = ParserFuzzTests.Rng(state: 0x5eed_0005)
        let lines = (0..<20_000).map { _ in pool[rng.below(pool.count)] }
        let source = LineByLine(name: "shuffled", lines: lines)
        // Every line is a kernel TRACE line (an event) or skipped.
        var stepsOut = 0
        var skipped = 0
        var worstLag = 0
        var pipeline = ReplayPipeline(options: options) { walk in
            stepsOut += walk.steps.count
            worstLag = max(worstLag, source.fed - skipped - stepsOut)
        }
        pipeline.onSkip = { _ in skipped += 1 }
        try pipeline.read(source)
        let summary = pipeline.finish()
        #expect(stepsOut == summary.stats.events)
        #expect(stepsOut + skipped == lines.count)
        #expect(summary.stats.events > 15_000)
        #expect(worstLag <= 4 * 64)
    }
}
