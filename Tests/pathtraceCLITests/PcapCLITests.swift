import Foundation
import TestSupport
import Testing

/// `--pcap FILE` as a Wireshark user meets it: tshark opens the file, each packet's comment is its walk
/// as `--format json` printed it, nothing is malformed and no checksum is bad.
enum PcapCheck {
    /// The comment `--pcap` gives a JSON walk: `[netns: ]path verdict: table:chain → …`, a chain passed twice
    /// in a row once, each NAT after the chain it names, the others at the end.
    static func comment(_ walk: [String: Any]) -> String {
        var line = (walk["netns"] as? String).map { "\($0): " } ?? ""
        line += "\(walk["path"] as? String ?? "?") \(walk["verdict"] as? String ?? "?"):"
        var nat = (walk["nat"] as? [[String: Any]] ?? []).map { ($0, placed: false) }
        func text(_ n: [String: Any]) -> String {
            let type = (n["type"] as? String ?? "").uppercased()
            let reverse = n["direction"] as? String == "reply" ? "reverse " : ""
            return "\(reverse)\(type) \(n["before"] as? String ?? "") → \(n["after"] as? String ?? "?")"
        }
        var last: String?
        for step in walk["steps"] as? [[String: Any]] ?? [] {
            let table = step["table"] as? String ?? ""
            var name = "\(table):\(step["chain"] as? String ?? "")"
            if step["kind"] as? String == "log" && table.isEmpty {
                name = (step["prefix"] as? String).map { "LOG \"\($0.trimmingCharacters(in: .whitespaces))\"" } ?? "LOG"
            }
            if name == last { continue }
            line += (last == nil ? " " : " → ") + name
            last = name
            for i in nat.indices where !nat[i].placed && nat[i].0["at"] as? String == name {
                line += " " + text(nat[i].0)
                nat[i].placed = true
            }
        }
        for n in nat where !n.placed { line += "; \(text(n.0)) at \(n.0["at"] as? String ?? "")" }
        return line
    }

    static func walks(_ jsonLines: String) throws -> [[String: Any]] {
        try jsonLines.split(separator: "\n").compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["packet"] == nil ? nil : object
        }
    }

    /// tshark's fields of each packet, tab-separated as `-T fields` prints them.
    static func fields(_ pcap: String, _ names: [String]) throws -> [[String]] {
        let out = try Tool.output(
            ["tshark", "-r", pcap, "-T", "fields", "-E", "occurrence=f"] + names.flatMap { ["-e", $0] })
        return out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// What a user checks: one packet per JSON walk with the walk as its comment, no malformed packet or
    /// error, no bad checksum. Returns how many checksums tshark found good.
    @discardableResult
    static func check(pcap: String, json: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let walks = try walks(json)
        #expect(!walks.isEmpty, sourceLocation: sourceLocation)
        let comments = try fields(pcap, ["frame.comment"]).map { $0[0] }
        #expect(comments == walks.map(comment), sourceLocation: sourceLocation)
        let verbose = try Tool.run([
            "tshark", "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o",
            "udp.check_checksum:TRUE", "-r", pcap, "-V",
        ])
        #expect(verbose.status == 0, "\(verbose.stderr)", sourceLocation: sourceLocation)
        #expect(!verbose.stdout.contains("Malformed"), sourceLocation: sourceLocation)
        #expect(!verbose.stdout.contains("Expert Info (Error"), sourceLocation: sourceLocation)
        let statuses = verbose.stdout.split(separator: "\n").filter {
            $0.contains("[Checksum Status:") || $0.contains("[Header checksum status:")
        }
        #expect(!statuses.contains { $0.contains("Bad") }, sourceLocation: sourceLocation)
        return statuses.filter { $0.contains("Good") }.count
    }

    static func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "pathtrace-pcap-\(getpid())-\(name)"
    }
}

@Suite struct PcapCLITests {
    func replay(_ arguments: [String], name: String) throws -> (pcap: String, json: String, stderr: String) {
        let pcap = PcapCheck.temporary(name)
        let r = try CLI.run(["replay"] + arguments + ["--format", "json", "--pcap", pcap])
        #expect(r.status == 0, "\(r.stderr)")
        return (pcap, r.stdout, r.stderr)
    }

    @Test func theSeedSampleOpensInTsharkWithItsWalkAsTheComment() throws {
        let seed = Fixtures.url("seed").path
        let r = try replay(
            [
                "\(seed)/001-libvirt-nat.dmesg", "--ruleset", "filter=\(seed)/001-filter.nvL", "--ruleset",
                "nat=\(seed)/001-nat.nvL",
            ], name: "seed.pcapng")
        defer { try? FileManager.default.removeItem(atPath: r.pcap) }
        // The SYN rebuilt from the log: IP header and TCP checksums both check out.
        #expect(try PcapCheck.check(pcap: r.pcap, json: r.json) == 2)
        let fields = try PcapCheck.fields(
            r.pcap,
            [
                "frame.comment", "ip.src", "tcp.dstport", "tcp.options.mss_val", "frame.interface_name",
                "frame.time_epoch",
            ])
        #expect(fields.count == 1)
        #expect(
            fields.first?[0]
                == "forward accept: raw:PREROUTING → mangle:PREROUTING → nat:PREROUTING → mangle:FORWARD → "
                + "filter:FORWARD → mangle:POSTROUTING → nat:POSTROUTING MASQUERADE 192.168.122.17:42954 → ?")
        #expect(Array(fields.first?[1...4] ?? []) == ["192.168.122.17", "3128", "1460", "virbr0"])
        // The walk's first step: `[5121056.357116]`.
        #expect(fields.first?[5].hasPrefix("5121056.357116") == true)
        #expect(r.stderr.contains("--pcap \(r.pcap): 1 packet"))
    }

    @Test func anIPv6CaptureOpensInTshark() throws {
        let r = try replay([Fixtures.url("captures/ipv6.dmesg").path], name: "ipv6.pcapng")
        defer { try? FileManager.default.removeItem(atPath: r.pcap) }
        let good = try PcapCheck.check(pcap: r.pcap, json: r.json)
        let fields = try PcapCheck.fields(r.pcap, ["ipv6.src", "ipv6.dst", "ipv6.plen"])
        #expect(fields.count == 22)
        #expect(fields.allSatisfy { $0[0].contains(":") && $0[1].contains(":") })
        #expect(fields.first?[0] == "fd00:1::10")
        // IPv6 has no header checksum: every good checksum is a TCP or ICMPv6 one.
        #expect(good >= 10)
    }

    @Test func everyFixtureCaptureOpensCleanly() throws {
        let captures = Fixtures.url("captures").path
        let files = try FileManager.default.contentsOfDirectory(atPath: captures).filter {
            $0.hasSuffix(".dmesg") || $0.hasPrefix("nft-monitor-forward") && $0.hasSuffix(".txt")
                || $0.hasPrefix("xtables-monitor") && $0.hasSuffix(".txt")
        }
        #expect(files.count >= 10)
        for file in files.sorted() {
            let r = try replay(["\(captures)/\(file)"], name: "\(file).pcapng")
            defer { try? FileManager.default.removeItem(atPath: r.pcap) }
            try PcapCheck.check(pcap: r.pcap, json: r.json)
        }
    }

    @Test func aPathThatCannotBeWrittenFailsBeforeReading() throws {
        let r = try CLI.run([
            "replay", "--pcap", "/nonexistent-dir/x.pcapng", Fixtures.url("seed/001-libvirt-nat.dmesg").path,
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("--pcap: cannot write /nonexistent-dir/x.pcapng"))
        #expect(r.stdout.isEmpty)
    }
}

/// `lab run --pcap` traces real packets: the file holds the bytes the kernel handed over.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to build the lab's namespaces"))
struct PcapLiveCLITests {
    func labRun(_ lab: String, backend: String, tag: String) throws -> (pcap: String, json: String, stderr: String) {
        let prefix = "ptpc\(tag)\(getpid() % 10_000)"
        let file = try Fixtures.labFile(lab, prefix: prefix)
        defer {
            _ = try? CLI.run(["lab", "down", file])
            try? FileManager.default.removeItem(atPath: file)
        }
        let pcap = PcapCheck.temporary("\(lab)-\(backend).pcapng")
        let r = try CLI.run(["lab", "run", file, "--backend", backend, "--format", "json", "--pcap", pcap])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("lab check: the trace shows the walk the lab expects"))
        return (pcap, r.stdout, r.stderr)
    }

    /// `--pcap FILE: N packets (M with the kernel's bytes)` from the summary.
    func counts(_ stderr: String) -> (packets: Int, kernel: Int)? {
        guard let line = stderr.split(separator: "\n").first(where: { $0.contains("--pcap ") }) else { return nil }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        return (numbers[numbers.count - 2], numbers[numbers.count - 1])
    }

    @Test func nflogGivesWholePacketsWithGoodChecksums() throws {
        let r = try labRun("libvirt-nat", backend: "nflog", tag: "n")
        defer { try? FileManager.default.removeItem(atPath: r.pcap) }
        let good = try PcapCheck.check(pcap: r.pcap, json: r.json)
        let (packets, kernel) = try #require(counts(r.stderr))
        #expect(packets >= 3)
        #expect(kernel == packets)
        // Whole packets: both the IP header's and the transport's checksum of every packet verified good.
        #expect(good == 2 * packets)
        let fields = try PcapCheck.fields(
            r.pcap, ["tcp.options.mss_val", "frame.interface_name", "frame.interface_description", "ip.src"])
        // The SYN's options came from the kernel: no log line was there to give them.
        #expect(fields.first?[0].isEmpty == false)
        #expect(fields.first?[1] == "virbr0")
        #expect(fields.first?[2].hasPrefix("netns ptpcn") == true)
        #expect(fields.first?[3] == "192.168.122.17")
    }

    @Test func nftTraceGivesTheHeadersTheKernelSent() throws {
        let r = try labRun("libvirt-nat-nft", backend: "nft", tag: "f")
        defer { try? FileManager.default.removeItem(atPath: r.pcap) }
        try PcapCheck.check(pcap: r.pcap, json: r.json)
        let (packets, kernel) = try #require(counts(r.stderr))
        #expect(packets >= 3)
        #expect(kernel == packets)
        let comments = try PcapCheck.fields(r.pcap, ["frame.comment"]).map { $0[0] }
        #expect(comments.first?.hasSuffix("nat:POSTROUTING MASQUERADE 192.168.122.17:42954 → 10.44.0.1:42954") == true)
        // nft sends at most 40 bytes of network and 20 of transport header; the wire length stays.
        let lengths = try PcapCheck.fields(r.pcap, ["frame.cap_len", "frame.len", "ip.len"])
        #expect(lengths.allSatisfy { Int($0[0]) ?? 0 <= 60 && $0[1] == $0[2] })
    }

    /// `trace --pcap` of IPv6 in two namespaces of the test's own (a veth pair, a TCP exchange): whole
    /// packets from nflog, the offloaded TCP checksums completed, every one good.
    @Test func traceOfIPv6GivesWholePackets() throws {
        let own = try OwnNamespaces(tag: "p6", suffixes: ["a", "b"])
        defer { own.remove() }
        let (a, b) = (own.names[0], own.names[1])
        for argv in [
            ["ip", "link", "add", "veth0", "netns", a, "type", "veth", "peer", "name", "veth0", "netns", b],
            ["ip", "-n", a, "addr", "add", "fd77::1/64", "dev", "veth0", "nodad"],
            ["ip", "-n", b, "addr", "add", "fd77::2/64", "dev", "veth0", "nodad"],
            ["ip", "-n", a, "link", "set", "veth0", "up"], ["ip", "-n", b, "link", "set", "veth0", "up"],
            // Chains for the nflog backend to put its rules in.
            ["ip", "netns", "exec", b, "ip6tables-legacy", "-A", "INPUT", "-j", "ACCEPT"],
        ] {
            _ = try Tool.output(argv)
        }
        let pcap = PcapCheck.temporary("trace-ipv6.pcapng")
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        let (trace, out, err) = try LiveTraceCLITests.startTrace([
            "--netns", b, "-6", "--dport", "8080", "--backend", "nflog", "--count", "3", "--duration", "15s",
            "--format", "json", "--pcap", pcap,
        ])
        #expect(LiveTraceCLITests.waitForTracing(err).contains("Ctrl-C stops"))
        let server = try Tool.start([
            "ip", "netns", "exec", b, "timeout", "10", "python3", "-c",
            "import socket\ns=socket.socket(socket.AF_INET6);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                + "s.bind(('fd77::2',8080));s.listen(1);c,p=s.accept();c.send(c.recv(100));c.close()",
        ])
        defer { server.terminate() }
        try Tool.waitForListener(netns: b, port: 8080)
        let answer = try Tool.output([
            "ip", "netns", "exec", a, "timeout", "5", "python3", "-c",
            "import socket;s=socket.create_connection(('fd77::2',8080));s.send(b'v6');print(s.recv(10).decode())",
        ])
        #expect(answer.contains("v6"))
        trace.waitUntilExit()
        let json = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(trace.terminationStatus == 0, "\(stderr)")
        #expect(stderr.contains("--pcap \(pcap): 3 packets (3 with the kernel's bytes)"))
        // IPv6 has no header checksum: one good TCP checksum a packet.
        #expect(try PcapCheck.check(pcap: pcap, json: json) == 3)
        let fields = try PcapCheck.fields(pcap, ["ipv6.src", "tcp.flags.str", "frame.interface_description"])
        #expect(fields.map { $0[0] } == ["fd77::1", "fd77::2", "fd77::1"])
        #expect(fields.allSatisfy { $0[2] == "netns \(b)" })
    }
}
