#if os(Linux)
import Foundation
import PathTraceCore

/// Builds a lab in network namespaces and tears it down; nothing outside the lab's namespaces is touched.
public struct LabBuilder {
    public let spec: LabSpec
    let runner: CommandRunning
    /// Called with each step, for `--verbose` and for the user to see what is built.
    public var log: (String) -> Void = { _ in }

    public init(spec: LabSpec, runner: CommandRunning = SystemCommandRunner()) {
        self.spec = spec
        self.runner = runner
    }

    /// Runs in the current namespace (`host: true`) or inside one of the lab's.
    @discardableResult
    func run(_ argv: [String], in ns: String? = nil, input: String? = nil, check: Bool = true) throws -> CommandResult {
        let namespace: TraceNamespace = ns.map { .named(spec.netns($0)) } ?? .current
        let command = PlannedCommand(argv, stdin: input)
        return check ? try runner.runChecked(command, in: namespace) : try runner.run(command, in: namespace)
    }

    /// The namespaces this lab owns that exist now.
    public func existingNamespaces() -> [String] {
        let names = (try? run(["ip", "netns", "list"]).stdout) ?? ""
        let mine = Set(spec.namespaces.map(spec.netns))
        return names.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { mine.contains($0) }
    }

    /// Builds every namespace, link, address, route, sysctl and rule; on failure removes what it made.
    public func up() throws {
        if !existingNamespaces().isEmpty {
            throw LabError.invalid(spec.name, "already up (pathtrace lab down \(spec.name) removes it)")
        }
        do {
            try build()
        } catch {
            down()
            throw error
        }
    }

    private func build() throws {
        for ns in spec.namespaces {
            try step(["ip", "netns", "add", spec.netns(ns)])
            try step(["ip", "-n", spec.netns(ns), "link", "set", "lo", "up"])
        }
        for v in spec.veths {
            try step([
                "ip", "link", "add", "name", v.a.dev, "netns", spec.netns(v.a.ns), "type", "veth", "peer", "name",
                v.b.dev, "netns", spec.netns(v.b.ns),
            ])
            for end in [v.a, v.b] {
                if let mac = end.mac {
                    try step(["ip", "-n", spec.netns(end.ns), "link", "set", end.dev, "address", mac])
                }
                try step(["ip", "-n", spec.netns(end.ns), "link", "set", end.dev, "up"])
            }
        }
        for b in spec.bridges {
            var add = ["ip", "-n", spec.netns(b.ns), "link", "add", b.name]
            if let mac = b.mac { add += ["address", mac] }
            try step(add + ["type", "bridge", "stp_state", "0"])
            for port in b.ports { try step(["ip", "-n", spec.netns(b.ns), "link", "set", port, "master", b.name]) }
            try step(["ip", "-n", spec.netns(b.ns), "link", "set", b.name, "up"])
        }
        for a in spec.addresses { try step(["ip", "-n", spec.netns(a.ns), "addr", "add", a.cidr, "dev", a.dev]) }
        for r in spec.routes {
            let via = r.via.map { ["via", $0] } ?? []
            let dev = r.dev.map { ["dev", $0] } ?? []
            try step(["ip", "-n", spec.netns(r.ns), "route", "add", r.to] + via + dev)
        }
        for s in spec.sysctls {
            let path = "/proc/sys/" + s.key.replacingOccurrences(of: ".", with: "/")
            let exists = try run(["test", "-e", path], in: s.ns, check: false)
            // Turning off a feature the kernel does not have here (br_netfilter's sysctls) is already true.
            if exists.status != 0 && s.value == "0" { continue }
            if exists.status != 0 {
                let hint = s.key.hasPrefix("net.bridge.") ? " (br_netfilter is not loaded: modprobe br_netfilter)" : ""
                throw LabError.invalid(spec.name, "sysctl \(s.key) does not exist in \(spec.netns(s.ns))\(hint)")
            }
            log("sysctl \(s.key)=\(s.value) in \(spec.netns(s.ns))")
            try run(["sysctl", "-qw", "\(s.key)=\(s.value)"], in: s.ns)
        }
        for r in spec.rules {
            let tool: [String]
            switch r.format {
            case "iptables-restore": tool = ["iptables-legacy-restore"]
            case "ip6tables-restore": tool = ["ip6tables-legacy-restore"]
            case "iptables-nft-restore": tool = ["iptables-nft-restore"]
            default: tool = ["nft", "-f", "-"]
            }
            log("load \(r.format) rules in \(spec.netns(r.ns))")
            try run(tool, in: r.ns, input: r.text)
        }
    }

    private func step(_ argv: [String]) throws {
        log(argv.joined(separator: " "))
        try run(argv)
    }

    /// Deletes the lab's namespaces (and with them their links, rules and processes' sockets).
    @discardableResult
    public func down() -> [String] {
        let existing = existingNamespaces()
        for ns in existing {
            // Processes still inside (a lab server) keep a namespace alive; end them first.
            if let pids = try? run(["ip", "netns", "pids", ns], check: false).stdout {
                for pid in pids.split(separator: "\n") { _ = try? run(["kill", "-9", String(pid)], check: false) }
            }
            _ = try? run(["ip", "netns", "del", ns], check: false)
        }
        return existing
    }
}
#endif
