#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
@testable import PathTraceLinux
import TestSupport
import Testing

/// The kmsg collector over real `/dev/kmsg` records: the lab captures read back as a file (the same
/// bytes `/dev/kmsg` gave), the device itself, and whether a namespace's TRACE lines reach it.
@Suite struct KmsgCollectorTests {
    /// Reads `text` as a kmsg stream from a file, to its end.
    static func collect(_ text: String) throws -> ([TraceEvent], CollectorCounters) {
        let path = NSTemporaryDirectory() + "pathtrace-kmsg-\(UUID()).txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sink = EventSink()
        let collector = KmsgCollector(options: .init(path: path, fromEnd: false))
        try collector.start { sink.add($0) }
        collector.stop()
        #expect(collector.failure == nil)
        return (sink.events, collector.counters)
    }

    static func steps(_ walk: PacketWalk) -> [String] {
        walk.steps.map { "\($0.event.table):\($0.event.chain):\($0.event.kind)" }
    }

    @Test func kernelRecordsGiveTheWalksReplayGives() throws {
        let fixture = "captures/libvirt-nat.kmsg"
        let (events, counters) = try Self.collect(try Fixtures.text(fixture))
        #expect(counters.messages == 52)
        #expect(counters.events == 52 && events.count == 52)
        #expect(counters.lost == 0 && counters.overruns == 0)
        // Sources name the kmsg sequence number, so a step leads back to its record.
        #expect(events.first?.source.description == "kmsg:2165")
        // Kernel stamps become wall-clock time, keeping the gaps between records (18 µs here).
        let first = try #require(events.first?.time)
        let second = try #require(events.dropFirst().first?.time)
        #expect(abs(first - Date().timeIntervalSince1970) < 60)
        #expect(abs((second - first) - 0.000018) < 0.000002)

        let live = LiveCollectorTests.walks(events, lookup: nil)
        let replay = try ReplayHarness.run([fixture]).walks
        #expect(live.count == replay.count)
        #expect(live.map(Self.steps) == replay.map(Self.steps))
        #expect(live.map(\.path) == replay.map(\.path))
        #expect(live.map { $0.nat.map(\.type) } == replay.map { $0.nat.map(\.type) })
        let syn = try #require(live.first)
        #expect(syn.path == .forward)
        #expect(
            Self.steps(syn).prefix(3) == [
                "raw:PREROUTING:policy", "mangle:PREROUTING:policy", "nat:PREROUTING:policy",
            ])
    }

    @Test func linesNotFromTheKernelAreIgnored() throws {
        let real = try #require(try Fixtures.text("captures/libvirt-nat.kmsg").split(separator: "\n").first)
        let body = real.drop { $0 != ";" }
        let text = [
            // A process wrote it (facility user, priority 12): anybody with write access to /dev/kmsg can.
            "12,99001,878409352,-" + body,
            // A dictionary line continuing a record.
            " SUBSYSTEM=net",
            // The kernel's own record.
            String(real),
            "not a kmsg record at all",
        ].joined(separator: "\n")
        let (events, counters) = try Self.collect(text + "\n")
        #expect(counters.messages == 2)
        #expect(events.count == 1)
        #expect(events.first?.source.description == "kmsg:2165")
    }

    @Test func aRecordSplitAcrossReadsIsJoined() throws {
        var records = KmsgRecords()
        var seen: [String] = []
        let parts = ["4,7,100,-;TRACE: raw:PRE", "ROUTING:policy:1 IN=x\n4,8,1", "01,-;y\n"]
        for part in parts {
            Array(part.utf8).withUnsafeBufferPointer { bytes in
                records.feed(bytes) { seen.append("\($0.sequence) \(String(decoding: $0.line, as: UTF8.self))") }
            }
        }
        #expect(seen == ["7 4,7,100,-;TRACE: raw:PREROUTING:policy:1 IN=x", "8 4,8,101,-;y"])
    }

    @Test func theKernelClockFollowsTheEarliestReading() {
        var clock = KernelClock()
        #expect(clock.wallTime(kernelSeconds: 100, receivedAt: 1000.5) == 1000.5)
        // Read in the same batch (5 ms later in the kernel) or with a longer delay: the offset stays,
        // the gap is the kernel's.
        #expect(clock.wallTime(kernelSeconds: 100.005, receivedAt: 1000.5) == 1000.505)
        #expect(clock.wallTime(kernelSeconds: 101, receivedAt: 1001.9) == 1001.5)
        // Read sooner than the offset allows: the first read was late, the offset shrinks.
        #expect(clock.wallTime(kernelSeconds: 102, receivedAt: 1002.2) == 1002.2)
        #expect(clock.wallTime(kernelSeconds: 103, receivedAt: 1003.2) == 1003.2)
        // Seconds late: the kernel clock drifted, the offset follows.
        #expect(clock.wallTime(kernelSeconds: 104, receivedAt: 1006.0) == 1006.0)
    }

    /// The device itself: opened at its end, read as records arrive.
    @Test(.enabled(if: geteuid() == 0, "needs root to read /dev/kmsg"))
    func readsTheDeviceAsRecordsArrive() throws {
        let collector = KmsgCollector()
        try collector.start { _ in }
        defer { collector.stop() }
        // A user-facility record (what `logger --kmsg` writes): read, and not taken for a step.
        let fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
        try #require(fd >= 0)
        let marker = "<14>pathtrace test: kmsg reader\n"
        #expect(write(fd, marker, marker.utf8.count) == marker.utf8.count)
        close(fd)
        #expect(LiveLab.wait(timeout: 3) { collector.counters.messages >= 1 })
        #expect(collector.failure == nil)
    }

    @Test(.enabled(if: Live.available, "needs root for namespaces"), .liveNetns)
    func traceLinesOfAnotherNamespaceNeedAllNetns() throws {
        #expect(KernelLogReach.check(namespaceFile: "/proc/self/ns/net") == .reaches)
        // Outside the initial namespace the sysctl is not there to read: pathtrace cannot tell.
        #expect(
            KernelLogReach.check(namespaceFile: "/proc/self/ns/net", allNetnsFile: "/nonexistent")
                != .blockedByAllNetns)
        let ns = LiveNetnsTrait.name
        let allNetns = try String(contentsOfFile: KernelLogReach.allNetnsPath, encoding: .utf8)
        let expected: KernelLogReach = allNetns.hasPrefix("0") ? .blockedByAllNetns : .reaches
        #expect(KernelLogReach.check(namespaceFile: "/run/netns/" + ns) == expected)
        #expect(KernelLogReach.check(namespaceFile: "/run/netns/\(ns)-missing") != .reaches)
    }
}
#endif
