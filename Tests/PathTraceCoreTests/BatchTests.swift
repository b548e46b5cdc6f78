import Foundation
import TestSupport
import Testing

@testable import PathTraceCore

/// Replay's event window takes each event the kernel-log parser hands over by its address, a copy of
/// it made in its slot; what comes out must be the events the parser emits as values, in order.
@Suite struct BatchTests {
    /// Each event of `fixture`'s lines, as `parse(line:lineNumber:emit:onSkip:)` emits them.
    static func emitted(_ fixture: String) throws -> [TraceEvent] {
        var parser = TraceLineParser(file: fixture)
        var events: [TraceEvent] = []
        for (i, line) in try Fixtures.text(fixture).split(separator: "\n").enumerated() {
            Array(line.utf8).withUnsafeBufferPointer { bytes in
                parser.parse(line: bytes, lineNumber: i + 1, emit: { events.append($0) }, onSkip: { _ in })
            }
        }
        return events
    }

    /// `fixture`'s events through a window of `capacity`, drained when full and at the end.
    static func windowed(_ fixture: String, capacity: Int) throws -> [TraceEvent] {
        var parser = TraceLineParser(file: fixture)
        let batch = Batch<TraceEvent>(capacity: capacity)
        var events: [TraceEvent] = []
        func drain() {
            batch.drain { events.append($0) }
        }
        for (i, line) in try Fixtures.text(fixture).split(separator: "\n").enumerated() {
            Array(line.utf8).withUnsafeBufferPointer { bytes in
                parser.parse(
                    line: bytes, lineNumber: i + 1,
                    emitAt: {
                        batch.append(copyOf: $0)
                        if batch.isFull { drain() }
                    }, onSkip: { _ in })
            }
        }
        drain()
        #expect(batch.isEmpty)
        return events
    }

    /// A libvirt NAT capture whose headers carry `OPT (...)` tokens in a box, and a drop capture
    /// whose events hold no box: both ways of copying into a slot.
    @Test(arguments: ["seed/001-libvirt-nat.dmesg", "captures/drop.dmesg"])
    func theWindowGivesBackTheParsersEventsInOrder(_ fixture: String) throws {
        let expected = try Self.emitted(fixture)
        #expect(expected.count >= 3)
        let windowed = try Self.windowed(fixture, capacity: 2)
        #expect(windowed == expected)
        // What a user checks of each: its line, chain and header.
        #expect(windowed.map(\.source.line) == expected.map(\.source.line))
        #expect(windowed.map(\.chain) == expected.map(\.chain))
        #expect(windowed.map { $0.header?.src } == expected.map { $0.header?.src })
        #expect(windowed.allSatisfy { $0.header != nil })
    }

    /// A boxed token list survives its event being copied into the window and the parser moving on.
    @Test func aBoxedHeaderFieldSurvivesTheCopy() throws {
        let windowed = try Self.windowed("seed/001-libvirt-nat.dmesg", capacity: 256)
        #expect(windowed.contains { !($0.header?.extra ?? []).isEmpty })
    }

    /// `append(copyOf:)` copies an event's bytes and retains its two `Rare` boxes by hand: that is a
    /// copy only while those boxes are the event's only references. A new String, array or class
    /// field in an event (or its header) would be copied without its retain; this test names it.
    @Test func anEventsOnlyReferencesAreItsTwoBoxes() throws {
        var event = try #require(try Self.emitted("captures/drop.dmesg").first)
        _ = event.rare.update { $0.packetBytes = [1] }
        _ = event.headerValue.rare.update { $0.extra = ["x"] }
        var boxes: [String] = []
        var others: [String] = []
        func walk(_ value: Any, _ path: String) {
            let mirror = Mirror(reflecting: value)
            switch mirror.displayStyle {
            case .class: boxes.append(path)
            case .collection, .dictionary, .set: others.append(path)
            default:
                if value is String || value is Substring {
                    others.append(path)
                } else {
                    for child in mirror.children { walk(child.value, path + "." + (child.label ?? "?")) }
                }
            }
        }
        walk(event, "event")
        #expect(others == [], "fields holding references that Batch.append does not retain")
        #expect(boxes.count == 2 && boxes.allSatisfy { $0.hasSuffix(".rare.box.some") }, "\(boxes)")
    }
}
