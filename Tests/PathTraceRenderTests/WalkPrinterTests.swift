import Foundation
import PathTraceCore
import PathTraceRender
import TestSupport
import Testing

/// Replay's printer writes closed walks a window at a time (`Batch`); what comes out must be what
/// printing each walk and journey as it came writes (live tracing's printer), in the same order.
@Suite struct WalkPrinterTests {
    /// The libvirt-nat lab's three namespaces with their topology: 30 walks and the journeys between
    /// them, so journeys come out between walks.
    static func printed(_ format: WalkPrinter.Format, eachAtOnce: Bool) throws -> (text: String, hands: Int) {
        var bytes: [UInt8] = []
        var hands = 0
        let printer = WalkPrinter(format: format, options: RenderOptions(), flushEachWalk: eachAtOnce) {
            bytes.append(contentsOf: $0)
            hands += 1
        }
        let topology = try TopologyFile.load(Fixtures.url("captures/journey-libvirt-nat.topology.json").path)
        var pipeline = ReplayPipeline(topology: topology) { printer.print($0) }
        pipeline.onJourney = printer.print
        let events = "captures/journey-libvirt-nat.events.jsonl"
        try pipeline.read(MemorySource(name: events, bytes: Array(try Data(contentsOf: Fixtures.url(events)))))
        _ = pipeline.finish()
        printer.flush()
        return (String(decoding: bytes, as: UTF8.self), hands)
    }

    @Test(arguments: [WalkPrinter.Format.json, .text])
    func aWindowOfWalksComesOutAsEachWalkAtOnceWould(_ format: WalkPrinter.Format) throws {
        let windowed = try Self.printed(format, eachAtOnce: false)
        let each = try Self.printed(format, eachAtOnce: true)
        #expect(windowed.text == each.text)
        // Live hands each walk and journey over at once; replay, 64 KB at a time.
        #expect(each.hands > 30)
        #expect(windowed.hands <= 2)
        if format == .json {
            let lines = each.text.split(separator: "\n")
            let firstJourney = try #require(lines.firstIndex { $0.contains("\"links\"") })
            #expect(firstJourney > 0 && firstJourney < lines.count - 1, "journeys come out between walks")
        }
    }
}
