import ArgumentParser
import Foundation
import PathTraceCore
import PathTraceLinux

struct Lab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
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
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the labs and where they were found.")
        func run() throws {
            var directory: URL?
            for lab in Lab.catalog.all() {
                let spec = try Lab.spec(at: lab.url)
                if lab.directory != directory {
                    directory = lab.directory
                    FileOutput.stdout.write("# \(lab.directory.standardizedFileURL.path)\n")
                }
                FileOutput.stdout.write("\(lab.name)\t\(spec.description)\n")
            }
            FileOutput.stdout.flush()
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "up", abstract: "Build a lab and leave it up.")
        @Argument(help: "Lab name (see `pathtrace lab list`) or a lab file.") var name: String
        func run() throws {
            try requireNetAdmin()
            let spec = try Lab.spec(named: name)
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
            commandName: "run",
            abstract: "Build a lab, trace its traffic live, print the walks, check them against the lab, tear down.")
        @Argument(help: "Lab name or lab file.") var name: String
        @Option(help: "auto, nft, legacy, nflog, kmsg or mixed.") var backend: Trace.Backend = .auto
        @OptionGroup(title: "Output") var output: OutputOptions

        func run() throws {
            try requireNetAdmin()
            var lab = LabRun(spec: try Lab.spec(named: name), backend: backend.fixed)
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
        static let configuration = CommandConfiguration(commandName: "down", abstract: "Remove a lab's namespaces.")
        @Argument(help: "Lab name or lab file.") var name: String
        func run() throws {
            try requireNetAdmin()
            let spec = try Lab.spec(named: name)
            let removed = LabBuilder(spec: spec).down()
            let what = removed.isEmpty ? "nothing was up" : "removed \(removed.joined(separator: " "))"
            FileOutput.stdout.write("lab \(spec.name): \(what)\n")
            FileOutput.stdout.flush()
        }
    }
}

extension Lab {
    static var catalog: LabCatalog {
        LabCatalog(executable: CommandLine.arguments[0], environment: ProcessInfo.processInfo.environment)
    }

    static func spec(named name: String) throws -> LabSpec {
        try failing { try catalog.spec(named: name) }
    }

    static func spec(at url: URL) throws -> LabSpec {
        try failing { try LabCatalog.load(url) }
    }

    /// An unreadable lab file exits `failure`; a bad or unknown lab is bad usage.
    private static func failing(_ body: () throws -> LabSpec) throws -> LabSpec {
        do {
            return try body()
        } catch let error as LabError {
            if case .unreadable = error { throw CLIFailure.unreadable(error.description) }
            throw CLIFailure.usage(error.description)
        }
    }
}
