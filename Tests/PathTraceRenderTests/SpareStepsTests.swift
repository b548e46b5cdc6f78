import PathTraceRender
import TestSupport
import Testing

@testable import PathTraceCore

/// A written walk's step array goes back to the correlator (`SpareSteps`) and holds a later walk's
/// steps: what is printed must be what printing without it gives, and a walk still held elsewhere
/// must keep its steps.
@Suite struct SpareStepsTests {
    /// `packets` TCP SYNs to a local proxy, two in flight at a time, each through raw and mangle
    /// PREROUTING, mangle INPUT and filter INPUT (a rule, then the policy): the benchmark's shape.
    static func log(packets: Int) -> String {
        let chains = [
            "raw:PREROUTING:policy:3", "mangle:PREROUTING:policy:1", "mangle:INPUT:policy:1", "filter:INPUT:rule:4",
            "filter:INPUT:policy:7",
        ]
        var lines: [String] = []
        var micros = 0
        for pair in stride(from: 0, to: packets, by: 2) {
            for chain in chains {
                for p in pair..<min(pair + 2, packets) {
                    micros += 3
                    let stamp = "[5121056.\(String(1_000_000 + micros).dropFirst())]"
                    lines.append(
                        "\(stamp) TRACE: \(chain) IN=eth0 OUT= MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 "
                            + "SRC=10.44.\(p / 200).\(p % 200 + 1) DST=10.44.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 "
                            + "ID=\(p + 1) DF PROTO=TCP SPT=\(20_000 + p) DPT=3128 SEQ=\(1_000_000 + 7 * p) ACK=0 "
                            + "WINDOW=29200 RES=0x00 SYN URGP=0")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The JSON lines of replaying `text`, the printer handing written walks' steps back or not; and
    /// how many walks started on a handed-back array.
    static func replay(_ text: String, recycling: Bool) throws -> (json: String, reused: Int) {
        var bytes: [UInt8] = []
        let printer = WalkPrinter(format: .json, options: RenderOptions(), flushEachWalk: false) {
            bytes.append(contentsOf: $0)
        }
        var pipeline = ReplayPipeline { printer.print($0) }
        if recycling { printer.spares = pipeline.spares }
        try pipeline.read(MemorySource(name: "syn.log", bytes: Array(text.utf8)))
        let summary = pipeline.finish()
        printer.flush()
        #expect(summary.stats.walks == 2000)
        return (String(decoding: bytes, as: UTF8.self), pipeline.spares.reused)
    }

    @Test func writtenWalksStepsHoldLaterWalksAndPrintTheSame() throws {
        let text = Self.log(packets: 2000)
        let recycled = try Self.replay(text, recycling: true)
        let plain = try Self.replay(text, recycling: false)
        #expect(recycled.json == plain.json)
        let lines = recycled.json.split(separator: "\n")
        #expect(lines.count == 2000)
        #expect(lines.allSatisfy { $0.contains("\"path\":\"input\",\"verdict\":\"accept\"") })
        #expect(lines.last?.contains("\"packet\":2000,") == true)
        // Walks are held for their replies for 4,096 events (819 walks here) and printed 32 at a time:
        // nearly every walk that starts after that starts on a printed walk's array.
        #expect(recycled.reused > 1000)
        #expect(plain.reused == 0)
    }

    /// Steps of a real walk (the seed's first).
    static func seedSteps() throws -> [WalkStep] {
        let walks = try ReplayHarness.run(["seed/001_83fd750653f71ea3.txt"]).walks
        return try #require(walks.first { $0.steps.count >= 3 }).steps
    }

    @Test func anArrayStillHeldElsewhereKeepsItsSteps() throws {
        let steps = try Self.seedSteps()
        var walkSteps: [WalkStep] = []
        walkSteps.reserveCapacity(SpareSteps.capacity)
        walkSteps.append(contentsOf: steps)
        let held = walkSteps
        let spares = SpareSteps()
        spares.recycle(&walkSteps)
        #expect(walkSteps.isEmpty)
        #expect(held == steps)
        let spare = try #require(spares.take())
        #expect(spare.isEmpty && spare.capacity >= SpareSteps.capacity)
        #expect(held == steps)
    }

    @Test func onlyArraysOfAWalksSizeAreKeptAndNoMoreThanTheLimit() throws {
        let steps = try Self.seedSteps()
        let spares = SpareSteps()
        var small = Array(steps.prefix(1))
        small.reserveCapacity(2)
        spares.recycle(&small)
        var large: [WalkStep] = []
        large.reserveCapacity(4 * SpareSteps.capacity)
        large.append(contentsOf: steps)
        spares.recycle(&large)
        // Left to their owners, as they were.
        #expect(spares.count == 0)
        #expect(small.count == 1 && large == steps)
        for _ in 0..<(SpareSteps.limit + 5) {
            var array: [WalkStep] = []
            array.reserveCapacity(SpareSteps.capacity)
            array.append(contentsOf: steps)
            spares.recycle(&array)
        }
        #expect(spares.count == SpareSteps.limit)
        #expect(spares.take() != nil)
        #expect(spares.count == SpareSteps.limit - 1)
    }
}
