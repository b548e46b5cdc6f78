#if os(Linux)
import Foundation
import Glibc

/// A namespace to probe: how to enter it, its label and its identity (the namespace file's inode).
public struct ProbeTarget: Sendable, Hashable {
    /// How threads enter it (setns) and commands run in it (`ip netns exec`, `nsenter`).
    public var namespace: TraceNamespace
    /// `NAME` under /run/netns, `init`, or `pid N (comm)`.
    public var label: String
    public var inode: UInt64
    public var initial: Bool
    /// The process it was found through, for a namespace without a name.
    public var pid: Int?
    /// The namespace file (opened for RTM_GETNSID).
    public var file: String
    /// Why this namespace stands in for another, when it does.
    public var note: String?

    /// The namespace file's inode, nil when it cannot be read.
    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    /// The names under /run/netns with their inodes, sorted by name.
    /// `trace --all`: the namespace pathtrace runs in and every named one that is another.
    public static func allTraceable() -> [TraceNamespace] {
        let current = inode("/proc/\(getpid())/ns/net")
        return [.current] + named().filter { $0.inode != current }.map { .named($0.name) }
    }

    static func named() -> [(name: String, inode: UInt64)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        return names.sorted().compactMap { name in inode("/run/netns/" + name).map { (name, $0) } }
    }

    /// One process per network namespace (the lowest pid), for every namespace some process is in.
    static func processes() -> [(pid: Int, inode: UInt64)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var seen = Set<UInt64>()
        var out: [(Int, UInt64)] = []
        for pid in entries.compactMap(Int.init).sorted() {
            guard let ino = inode("/proc/\(pid)/ns/net"), seen.insert(ino).inserted else { continue }
            out.append((pid, ino))
        }
        return out
    }

    /// A process's command name (`/proc/N/comm`).
    static func comm(_ pid: Int) -> String {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "?"
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The initial namespace's inode (that of pid 1).
    static var initialInode: UInt64? { inode("/proc/1/ns/net") }

    /// The target for what the user named; throws `LinuxError.noSuchNamespace` when it does not exist.
    public static func resolve(_ namespace: TraceNamespace) throws -> ProbeTarget {
        let initial = initialInode
        let names = named()
        func label(_ ino: UInt64, pid: Int?) -> String {
            if let n = names.first(where: { $0.inode == ino }) { return n.name }
            if ino == initial { return "init" }
            let p = pid ?? Int(getpid())
            return "pid \(p) (\(comm(p)))"
        }
        switch namespace {
        case .current:
            let file = "/proc/\(getpid())/ns/net"
            guard let ino = inode(file) else { throw LinuxError.noSuchNamespace("current") }
            let isNamed = names.contains { $0.inode == ino }
            let pid = isNamed || ino == initial ? nil : Int(getpid())
            return ProbeTarget(
                namespace: .current, label: label(ino, pid: pid), inode: ino, initial: ino == initial, pid: pid,
                file: file)
        case .named(let name):
            let file = "/run/netns/" + name
            guard let ino = inode(file) else { throw LinuxError.noSuchNamespace(name) }
            return ProbeTarget(
                namespace: namespace, label: name, inode: ino, initial: ino == initial, pid: nil, file: file)
        case .process(let pid):
            let file = "/proc/\(pid)/ns/net"
            guard let ino = inode(file) else { throw LinuxError.noSuchNamespace("pid:\(pid)") }
            let isNamed = names.contains { $0.inode == ino }
            let p: Int? = isNamed || ino == initial ? nil : Int(pid)
            return ProbeTarget(
                namespace: namespace, label: label(ino, pid: Int(pid)), inode: ino, initial: ino == initial, pid: p,
                file: file)
        }
    }

    /// `--all`: the initial namespace and every named one (deduplicated by inode), in that order.
    static func allNamed() -> [ProbeTarget] {
        var out: [ProbeTarget] = []
        let initial = initialInode
        if let initial {
            let name = named().first { $0.inode == initial }?.name
            let inCurrent = inode("/proc/\(getpid())/ns/net") == initial
            out.append(
                ProbeTarget(
                    namespace: inCurrent ? .current : .process(1), label: name ?? "init", inode: initial,
                    initial: true, pid: nil, file: "/proc/1/ns/net"))
        } else if var current = try? resolve(.current) {
            // Inside a sandbox pid 1's namespace file may be unreadable even to root.
            current.note = "the initial namespace (/proc/1/ns/net) cannot be read; this is the current one"
            out.append(current)
        }
        for n in named() where !out.contains(where: { $0.inode == n.inode }) {
            out.append(
                ProbeTarget(
                    namespace: .named(n.name), label: n.name, inode: n.inode, initial: false, pid: nil,
                    file: "/run/netns/" + n.name))
        }
        return out
    }

    /// Namespaces of processes that have no name under /run/netns and are not in `known`: where `--all`
    /// looks for veth peers.
    static func unnamedProcessNamespaces(excluding known: Set<UInt64>) -> [ProbeTarget] {
        let excluded = known.union(named().map(\.inode)).union(initialInode.map { [$0] } ?? [])
        return processes().filter { !excluded.contains($0.inode) }.map {
            ProbeTarget(
                namespace: .process(Int32($0.pid)), label: "pid \($0.pid) (\(comm($0.pid)))", inode: $0.inode,
                initial: false, pid: $0.pid, file: "/proc/\($0.pid)/ns/net")
        }
    }
}
#endif
