import ArgumentParser
import Foundation
import PathTraceCore
import PathTraceLinux

struct Lab: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the seeds' systems in network namespaces, to trace real packets on them.",
        discussion: """
            A lab is a declarative file (namespaces, veth pairs, bridges, addresses, routes, sysctls, \
            rules, a server, the traffic to send, the walk a correct trace shows). Its namespaces are \
            named <prefix>-<name> with a prefix starting with "pt"; nothing else is touched.

              pathtrace lab list
              pathtrace lab up libvirt-nat        # then: ip netns exec ptlv-vm bash
              pathtrace lab down libvirt-nat
              pathtrace lab run libvirt-nat       # build, trace, send the traffic, show walks, tear down

            Labs are read from $PATHTRACE_LABS, Fixtures/labs beside the binary's source tree, or \
            /usr/local/share/pathtrace/labs; NAME may also be a path to a lab file.
            """,
        subcommands: [List.self, Up.self, Down.self, Run.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the labs and where they were found.")
        func run() throws {
            for (name, url) in LabCatalog.all() {
                let spec = try LabCatalog.load(url)
                FileOutput.stdout.write("\(name)\t\(spec.description)\n")
            }
            FileOutput.stdout.flush()
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Build a lab and leave it up.")
        @Argument(help: "Lab name (see `pathtrace lab list`) or a lab file.") var name: String
        func run() throws {
            try requireNetAdmin()
            let spec = try LabCatalog.spec(named: name)
            var builder = LabBuilder(spec: spec)
            builder.log = { FileOutput.stderr.write("  \($0)\n") }
            try builder.up()
            let names = spec.namespaces.map(spec.netns).joined(separator: " ")
            FileOutput.stdout.write("lab \(spec.name) is up: namespaces \(names)\n")
            FileOutput.stdout.flush()
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a lab, trace its traffic live, print the walks, check them against the lab, tear down.")
        @Argument(help: "Lab name or lab file.") var name: String
        @Option(help: "auto, nft, legacy, nflog or kmsg.") var backend: Trace.Backend = .auto
        @OptionGroup(title: "Output") var output: OutputOptions

        func run() throws {
            try requireNetAdmin()
            let spec = try LabCatalog.spec(named: name)
            let builder = LabBuilder(spec: spec)
            defer {
                let removed = builder.down()
                FileOutput.stderr.write("pathtrace: lab \(spec.name) torn down (\(removed.joined(separator: " ")))\n")
            }
            try builder.up()
            FileOutput.stderr.write("pathtrace: lab \(spec.name) is up: \(spec.description)\n")
            let server = try LabTraffic.startServer(spec, idle: 10)
            defer { server?.stop() }
            var filter = WalkFilter()
            filter.dport = spec.trace.dport.flatMap { PortRange(String($0)) }
            filter.proto = spec.trace.proto.flatMap(IPProtocol.number)
            let namespace = try TraceNamespace(name: spec.netns(spec.trace.ns))
            let choice = Trace.chooseBackend(backend, namespace, filter: filter)
            let chosen = choice.backend
            let session = LiveSession(
                namespace: namespace, backend: chosen, filter: filter,
                rate: .default, count: nil, duration: 30, output: output)
            session.choice = choice
            session.onReady = { stop in
                do {
                    for answer in try LabTraffic.send(spec) {
                        FileOutput.stderr.write(
                            "pathtrace: traffic answered: \(answer.trimmingCharacters(in: .whitespacesAndNewlines))\n")
                    }
                } catch {
                    FileOutput.stderr.write("pathtrace: the lab's traffic failed: \(error)\n")
                }
                Thread.sleep(forTimeInterval: 1.5)
                stop.set()
            }
            let walks = WalkBox()
            session.onWalk = { walks.items.append($0) }
            try session.run()
            // NFLOG rules show which chains a packet entered, not which rule matched: no NAT to check.
            let problems = LabCheck.compare(spec.expect, walks.items, checkNat: chosen != .nflog)
            if problems.isEmpty {
                FileOutput.stderr.write("pathtrace: lab check: the trace shows the walk the lab expects\n")
            } else {
                for p in problems { FileOutput.stderr.write("pathtrace: lab check: \(p)\n") }
                throw CLIFailure(message: "the trace differs from what lab \(spec.name) expects", code: 1)
            }
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a lab's namespaces.")
        @Argument(help: "Lab name or lab file.") var name: String
        func run() throws {
            try requireNetAdmin()
            let spec = try LabCatalog.spec(named: name)
            let removed = LabBuilder(spec: spec).down()
            let what = removed.isEmpty ? "nothing was up" : "removed \(removed.joined(separator: " "))"
            FileOutput.stdout.write("lab \(spec.name): \(what)\n")
            FileOutput.stdout.flush()
        }
    }
}

/// Exit 4 with a message, before anything is touched, when the process cannot administer the network.
func requireNetAdmin() throws {
    if !Capabilities.hasNetAdmin() {
        throw CLIFailure(message: "this needs CAP_NET_ADMIN (run as root); nothing was changed", code: 4)
    }
}

/// Finds lab files.
enum LabCatalog {
    static func directories() -> [URL] {
        var dirs: [URL] = []
        if let env = ProcessInfo.processInfo.environment["PATHTRACE_LABS"] { dirs.append(URL(fileURLWithPath: env)) }
        // Walk up from the binary (.build/release/pathtrace) to a source tree holding Fixtures/labs.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            dirs.append(dir.appendingPathComponent("Fixtures/labs"))
            dir = dir.deletingLastPathComponent()
        }
        dirs.append(URL(fileURLWithPath: "/usr/local/share/pathtrace/labs"))
        return dirs
    }

    static func all() -> [(String, URL)] {
        var seen = Set<String>()
        var result: [(String, URL)] = []
        for dir in directories() {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for file in files.sorted() where file.hasSuffix(".json") {
                let name = String(file.dropLast(5))
                if seen.insert(name).inserted { result.append((name, dir.appendingPathComponent(file))) }
            }
        }
        return result
    }

    static func load(_ url: URL) throws -> LabSpec {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CLIFailure.unreadable("cannot read lab file \(url.path)")
        }
        do {
            return try LabSpec.decode(data, source: url.lastPathComponent)
        } catch let error as LabError {
            throw CLIFailure.usage(error.description)
        }
    }

    static func spec(named name: String) throws -> LabSpec {
        if name.hasSuffix(".json") || name.contains("/") { return try load(URL(fileURLWithPath: name)) }
        let labs = all()
        guard let url = labs.first(where: { $0.0 == name })?.1 else {
            throw CLIFailure.usage(LabError.notFound(name, labs.map(\.0)).description)
        }
        return try load(url)
    }
}

/// Walks a session showed, gathered for the lab check.
final class WalkBox: @unchecked Sendable {
    var items: [PacketWalk] = []
}

/// Compares the walks a lab run showed with the walks the lab file expects (in order, first ones).
enum LabCheck {
    static func compare(_ expected: [LabSpec.ExpectedWalk], _ walks: [PacketWalk], checkNat: Bool = true) -> [String] {
        var problems: [String] = []
        for (i, want) in expected.enumerated() {
            guard i < walks.count else {
                problems.append("expected walk \(i + 1) (\(want.chains.joined(separator: " → "))) was not traced")
                continue
            }
            let walk = walks[i]
            // pathtrace's own nft table is not the lab's, and nft prints a chain once per rule it passes.
            var chains: [String] = []
            for step in walk.steps where !step.event.table.hasPrefix("pathtrace_") {
                let name = "\(step.event.table):\(step.event.chain)"
                if chains.last != name { chains.append(name) }
            }
            if chains != want.chains {
                problems.append(
                    "walk \(i + 1): chains \(chains.joined(separator: " → ")), expected \(want.chains.joined(separator: " → "))"
                )
            }
            if walk.path.rawValue != want.path {
                problems.append("walk \(i + 1): path \(walk.path.rawValue), expected \(want.path)")
            }
            if walk.verdict.rawValue != want.verdict {
                problems.append("walk \(i + 1): verdict \(walk.verdict.rawValue), expected \(want.verdict)")
            }
            for nat in checkNat ? want.nat ?? [] : [] {
                let hit = walk.nat.contains {
                    $0.type.rawValue == nat.type && $0.field == nat.field && $0.before == nat.before
                }
                if !hit { problems.append("walk \(i + 1): no \(nat.type) of \(nat.field) \(nat.before)") }
            }
        }
        return problems
    }
}
