import ArgumentParser
import Foundation
import PathTraceCore
import PathTraceLinux
import PathTraceRender

/// `pathtrace topology`: a snapshot of network namespaces (interfaces and their roles, addresses,
/// routes, key sysctls, rulesets) and the veth cables between them.
struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Show network namespaces: interfaces with their roles, addresses, routes, sysctls, rulesets, cables.",
        discussion: """
            Reads each namespace over rtnetlink from a thread inside it; veth peers are found through \
            IFLA_LINK_NETNSID and RTM_GETNSID. Without --netns or --all it shows the namespace pathtrace \
            runs in. Other namespaces need CAP_NET_ADMIN (exit \(ExitStatus.noNetAdmin.rawValue) without it); an \
            unknown namespace exits \(ExitStatus.usage.rawValue).

              pathtrace topology
              pathtrace topology --netns ptlv-host --netns ptlv-vm
              pathtrace topology --netns pid:4242 --format json
              pathtrace topology --all --format dot | dot -Tsvg > topology.svg
              pathtrace topology --all --save topology.json   # for replay --topology
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, dot
    }

    @Option(name: .customLong("netns"), help: "A namespace: NAME under /run/netns or pid:N (repeatable).")
    var netns: [String] = []
    @Flag(help: "The initial namespace, every named one and every process namespace holding a veth peer of those.")
    var all = false
    @Option(help: "text, json or dot.") var format: Format = .text
    @Option(help: "Also write the snapshot as JSON to this file.") var save: String?

    func run() throws {
        var namespaces: [TraceNamespace] = []
        for name in netns {
            guard let ns = try? TraceNamespace(name: name) else {
                throw CLIFailure.usage("--netns: \"\(name)\" is not a namespace name or pid:N")
            }
            namespaces.append(ns)
        }
        if !namespaces.isEmpty || all { try requireNetAdmin() }
        let topology: Topology
        do {
            topology = try TopologyProbe().snapshot(namespaces: namespaces, all: all)
        } catch LinuxError.noSuchNamespace(let name) {
            throw CLIFailure.usage("--netns: network namespace \(name) does not exist")
        } catch let error as LinuxError where error.isPermissionDenied {
            throw CLIFailure.noNetAdmin("\(error)")
        } catch let error as LinuxError {
            throw CLIFailure.failed("\(error)")
        }
        if let save {
            do {
                try TopologyFile.save(topology, to: save)
            } catch {
                throw CLIFailure.unreadable("--save: cannot write \(save)")
            }
        }
        switch format {
        case .text: FileOutput.stdout.write(TopologyText.render(topology))
        case .json: FileOutput.stdout.write(try TopologyJSON.render(topology))
        case .dot: FileOutput.stdout.write(TopologyDot.render(topology))
        }
        FileOutput.stdout.flush()
    }
}
