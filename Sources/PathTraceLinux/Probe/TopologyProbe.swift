#if os(Linux)
import Foundation
import PathTraceCore

/// Takes a `Topology` snapshot of network namespaces: rtnetlink (libmnl) from a thread inside each one,
/// veth peers resolved through IFLA_LINK + IFLA_LINK_NETNSID and RTM_GETNSID (never by names or
/// indexes), sysctls from /proc/sys, and the rulesets of the backends in use from their save tools.
public struct TopologyProbe: Sendable {
    public var runner: CommandRunning

    public init(runner: CommandRunning = SystemCommandRunner()) {
        self.runner = runner
    }

    /// A snapshot of `namespaces` (the current one when empty), or with `all` of the initial namespace,
    /// every named one and every process namespace that holds a veth peer of those.
    /// Throws `LinuxError.noSuchNamespace` for a namespace that does not exist,
    /// `LinuxError.permissionDenied` without the privileges to enter one.
    public func snapshot(namespaces: [TraceNamespace] = [], all: Bool = false) throws -> Topology {
        let asked = try (namespaces.isEmpty && !all ? [.current] : namespaces).map(ProbeTarget.resolve)
        var targets = all ? ProbeTarget.allNamed() : []
        for target in asked where !targets.contains(where: { $0.inode == target.inode }) { targets.append(target) }
        return try snapshot(targets: targets, followPeers: all, required: Set(asked.map(\.inode)))
    }

    /// Probes `targets`; with `followPeers`, process namespaces holding a veth peer of a probed one are
    /// added and probed too, until no new one appears. A namespace that vanishes while it is probed is
    /// left out unless its inode is in `required` (the ones the user named).
    public func snapshot(targets initial: [ProbeTarget], followPeers: Bool, required: Set<UInt64>? = nil) throws
        -> Topology
    {
        let required = required ?? Set(initial.map(\.inode))
        var targets = initial
        let extra = followPeers ? ProbeTarget.unnamedProcessNamespaces(excluding: Set(initial.map(\.inode))) : []
        var readings: [UInt64: NamespaceReader.Reading] = [:]
        var next = 0
        while next < targets.count {
            let target = targets[next]
            next += 1
            let candidates = targets + extra.filter { e in !targets.contains { $0.inode == e.inode } }
            let reading: NamespaceReader.Reading
            do {
                reading = try Netns.run(in: target.namespace) { try NamespaceReader.read(candidates: candidates) }
            } catch LinuxError.noSuchNamespace(_) where !required.contains(target.inode) {
                continue
            }
            readings[target.inode] = reading
            for inode in reading.nsids.values where !targets.contains(where: { $0.inode == inode }) {
                if let found = extra.first(where: { $0.inode == inode }) { targets.append(found) }
            }
        }
        var namespaces: [TopologyNamespace] = []
        for target in targets {
            guard let reading = readings[target.inode] else { continue }
            let (rulesets, notes) = self.rulesets(in: target.namespace)
            namespaces.append(
                TopologyNamespace(
                    name: target.label, inode: target.inode, initial: target.initial, pid: target.pid,
                    links: reading.links, routes: reading.routes,
                    policyRules: reading.rules.allSatisfy(\.isDefault) ? nil : reading.rules,
                    sysctls: reading.sysctls, rulesets: rulesets, notes: (target.note.map { [$0] } ?? []) + notes))
        }
        // Peers by the nsid their namespace has here, mapped to a probed namespace by inode.
        for i in namespaces.indices {
            let reading = readings[namespaces[i].inode]
            for j in namespaces[i].links.indices {
                guard var peer = namespaces[i].links[j].peer, let index = peer.ifindex else { continue }
                let owner: TopologyNamespace?
                if let nsid = peer.nsid {
                    owner = reading?.nsids[nsid].flatMap { inode in namespaces.first { $0.inode == inode } }
                } else {
                    owner = namespaces[i]
                }
                if let owner, let device = owner.link(index: index) {
                    peer.netns = owner.name
                    peer.ifname = device.name
                }
                namespaces[i].links[j].peer = peer
            }
        }
        return Topology(namespaces: namespaces)
    }

    /// The rulesets of the backends in use in `namespace`, and what could not be read.
    func rulesets(in namespace: TraceNamespace) -> ([TopologyRuleset], [String]) {
        var rulesets: [TopologyRuleset] = []
        var notes: [String] = []
        let tools: [(backend: String, family: String, argv: [String])] = [
            ("iptables-legacy", "ipv4", ["iptables-legacy-save"]),
            ("ip6tables-legacy", "ipv6", ["ip6tables-legacy-save"]),
            ("nft", "inet", ["nft", "-a", "list", "ruleset"]),
        ]
        for tool in tools {
            do {
                let result = try runner.run(PlannedCommand(tool.argv), in: namespace)
                guard result.succeeded else {
                    let why = result.stderr.split(separator: "\n").first.map(String.init) ?? "status \(result.status)"
                    notes.append("\(tool.argv.joined(separator: " ")) failed: \(why)")
                    continue
                }
                let text = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                    .filter { !$0.hasPrefix("#") }.joined(separator: "\n")
                // A legacy save prints a `*table` block per loaded table; nft prints nothing for an empty ruleset.
                let inUse =
                    tool.backend == "nft"
                    ? !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                    : text.split(separator: "\n").contains { $0.hasPrefix("*") }
                if inUse { rulesets.append(TopologyRuleset(backend: tool.backend, family: tool.family, text: text)) }
            } catch let LinuxError.missingBinary(program, package) {
                notes.append("\(program) not found (Debian package \(package)): the \(tool.backend) ruleset is unknown")
            } catch {
                notes.append("\(tool.argv.joined(separator: " ")): \(error)")
            }
        }
        return (rulesets, notes)
    }
}
#endif
