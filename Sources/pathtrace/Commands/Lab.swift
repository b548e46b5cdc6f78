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
            PREFIX/share/pathtrace/labs of an installed binary (`make install`); NAME may also be a \
            path to a lab file.
            """,
        subcommands: [List.self, Up.self, Down.self, Run.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the labs and where they were found.")
        func run() throws {
            var directory: URL?
            for (name, url) in LabCatalog.all() {
                let spec = try LabCatalog.load(url)
                if url.deletingLastPathComponent() != directory {
                    directory = url.deletingLastPathComponent()
                    FileOutput.stdout.write("# \(url.deletingLastPathComponent().standardizedFileURL.path)\n")
                }
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
        @Option(help: "auto, nft, legacy, nflog, kmsg or mixed.") var backend: Trace.Backend = .auto
        @OptionGroup(title: "Output") var output: OutputOptions

        func run() throws {
            try requireNetAdmin()
            var lab = LabRun(spec: try LabCatalog.spec(named: name), backend: backend.fixed)
            lab.keepPacketBytes = output.pcap != nil
            let live = try LiveOutput(output)
            lab.onMessage = LiveOutput.message
            lab.onJourney = live.journey
            let result = try LiveOutput.mappingErrors {
                try lab.run(onWalk: live.walk) { result in
                    live.finish(result.summary)
                    if result.problems.isEmpty {
                        LiveOutput.message("lab check: the trace shows the walk the lab expects")
                    }
                    for p in result.problems { LiveOutput.message("lab check: \(p)") }
                }
            }
            if !result.problems.isEmpty {
                throw CLIFailure.failed("the trace differs from what lab \(lab.spec.name) expects")
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

/// Exits `noNetAdmin` with a message, before anything is touched, when the process cannot administer the network.
func requireNetAdmin() throws {
    if !Capabilities.hasNetAdmin() {
        throw CLIFailure.noNetAdmin(LiveTraceError.noNetAdmin.description)
    }
}

/// Finds lab files.
enum LabCatalog {
    static func directories() -> [URL] {
        var dirs: [URL] = []
        if let env = ProcessInfo.processInfo.environment["PATHTRACE_LABS"] { dirs.append(URL(fileURLWithPath: env)) }
        // Walk up from the binary (.build/release/pathtrace) to a source tree holding Fixtures/labs.
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var dir = bin
        for _ in 0..<5 {
            dirs.append(dir.appendingPathComponent("Fixtures/labs"))
            dir = dir.deletingLastPathComponent()
        }
        // `make install` puts them in PREFIX/share beside PREFIX/bin, whatever the prefix.
        dirs.append(bin.deletingLastPathComponent().appendingPathComponent("share/pathtrace/labs"))
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
