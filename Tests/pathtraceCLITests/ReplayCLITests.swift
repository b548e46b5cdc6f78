import Foundation
import TestSupport
import Testing

/// Runs the built binary as a user would and checks what it prints and how it exits.
@Suite struct ReplayCLITests {
    @Test func unreadableFileExitsOneWithOneLine() throws {
        let r = try CLI.run(["replay", "/nonexistent/trace.log"])
        #expect(r.status == 1)
        #expect(r.stderr == "pathtrace: cannot read /nonexistent/trace.log: No such file or directory\n")
    }

    @Test func badFilterValuesExitTwoNamingTheFlag() throws {
        for (flag, value) in [("--dport", "80 -j DROP"), ("--iface", "eth0;reboot"), ("--src", "300.1.1.1/33")] {
            let r = try CLI.run(["replay", flag, value, "Fixtures/seed/001-libvirt-nat.dmesg"])
            #expect(r.status == 2, "\(flag) \(value)")
            #expect(r.stderr.contains(flag))
        }
    }

    @Test func strictTurnsSkippedLinesIntoExitThree() throws {
        let input = Data(
            "[1.0] TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 SEQ=1 ACK=0 WINDOW=1 RES=0x00 SYN URGP=0\nthis is not a trace line\n"
                .utf8)
        let lenient = try CLI.run(["replay", "-"], stdin: input)
        #expect(lenient.status == 0)
        #expect(lenient.stderr.contains("1 line skipped"))
        #expect(lenient.stderr.contains("1 × not a trace or log record (first: stdin:2)"))
        let strict = try CLI.run(["replay", "--strict", "-"], stdin: input)
        #expect(strict.status == 3)
    }

    @Test func helpTeachesTheFormats() throws {
        let r = try CLI.run(["replay", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("nft monitor trace"))
        #expect(r.stdout.contains("--ruleset"))
    }
}

/// Hostile input through the real binary: binary garbage, a 1 MB line, a truncated last line.
@Suite struct HostileInputCLITests {
    @Test func garbageAndHugeLinesAreSkippedAndCounted() throws {
        var rng = SystemRandomNumberGenerator()
        var data = Data((0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
        data.append(Data("\n".utf8))
        data.append(Data(repeating: UInt8(ascii: "A"), count: 1 << 20))
        data.append(Data("\n".utf8))
        let seed = try Fixtures.text("seed/001-libvirt-nat.dmesg")
        data.append(Data(seed.utf8))
        data.append(Data(seed.prefix(120).utf8))  // a truncated last line without newline
        let r = try CLI.run(["replay", "-"], stdin: data)
        #expect(r.status == 0)
        #expect(r.stdout.contains("packet 1"))
        #expect(r.stderr.contains("line longer than"))
        #expect(r.stderr.contains("8 events") || r.stderr.contains("7 events"))
        let strict = try CLI.run(["replay", "--strict", "-"], stdin: data)
        #expect(strict.status == 3)
    }

    @Test func directoryIsUnreadable() throws {
        let r = try CLI.run(["replay", "Fixtures"])
        #expect(r.status == 1)
        #expect(r.stderr == "pathtrace: cannot read Fixtures: it is a directory\n")
    }
}
