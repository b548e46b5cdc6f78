import Foundation

/// Network namespaces a test makes for itself, named `pt<tag><pid><suffix>`. A test removes them with
/// `remove()` in a `defer`; a test process that crashed never ran it, so making new ones first removes
/// those of the same tag whose process is gone.
public struct OwnNamespaces {
    public let names: [String]

    /// Adds `pt<tag><pid>` followed by each suffix (one namespace without a suffix by default).
    public init(tag: String, suffixes: [String] = [""]) throws {
        let prefix = "pt" + tag
        for name in OwnNamespaces.stale(prefix: prefix) { _ = try? Tool.run(["ip", "netns", "del", name]) }
        names = suffixes.map { "\(prefix)\(getpid())\($0)" }
        for name in names {
            do {
                _ = try Tool.output(["ip", "netns", "add", name])
            } catch {
                remove()
                throw error
            }
        }
    }

    public func remove() {
        for name in names { _ = try? Tool.run(["ip", "netns", "del", name]) }
    }

    /// Namespaces named `<prefix><pid>…` whose process no longer runs (nor is this one).
    public static func stale(prefix: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else { return [] }
        return names.filter { name in
            guard name.hasPrefix(prefix) else { return false }
            let digits = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(digits), pid != getpid() else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }.sorted()
    }
}
