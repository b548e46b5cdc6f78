import Foundation

/// Where lab files are found, and a lab by name: `$PATHTRACE_LABS`, `Fixtures/labs` of a source tree
/// the binary was built in, then `PREFIX/share/pathtrace/labs` beside an installed `PREFIX/bin`.
public struct LabCatalog: Sendable {
    /// A lab file found in one of the directories; a name shadows the same name in later ones.
    public struct Entry: Sendable {
        public var name: String
        public var url: URL
        public var directory: URL { url.deletingLastPathComponent() }
    }

    public var directories: [URL]

    public init(directories: [URL]) { self.directories = directories }

    /// The directories for the binary at `executable`, with `environment`'s `PATHTRACE_LABS` first.
    public init(executable: String, environment: [String: String]) {
        var dirs: [URL] = []
        if let env = environment["PATHTRACE_LABS"] { dirs.append(URL(fileURLWithPath: env)) }
        // Walk up from the binary (.build/release/pathtrace) to a source tree holding Fixtures/labs.
        let bin = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        var dir = bin
        for _ in 0..<5 {
            dirs.append(dir.appendingPathComponent("Fixtures/labs"))
            dir = dir.deletingLastPathComponent()
        }
        // `make install` puts them in PREFIX/share beside PREFIX/bin, whatever the prefix.
        dirs.append(bin.deletingLastPathComponent().appendingPathComponent("share/pathtrace/labs"))
        self.init(directories: dirs)
    }

    /// Every lab, directory by directory, names sorted within each.
    public func all() -> [Entry] {
        var seen = Set<String>()
        var result: [Entry] = []
        for dir in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for file in files.sorted() where file.hasSuffix(".json") {
                let name = String(file.dropLast(5))
                if seen.insert(name).inserted {
                    result.append(Entry(name: name, url: dir.appendingPathComponent(file)))
                }
            }
        }
        return result
    }

    public static func load(_ url: URL) throws -> LabSpec {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw LabError.unreadable(url.path)
        }
        return try LabSpec.decode(data, source: url.lastPathComponent)
    }

    /// A lab by its name, or a lab file's path (a name ending in .json or holding a slash).
    public func spec(named name: String) throws -> LabSpec {
        if name.hasSuffix(".json") || name.contains("/") { return try LabCatalog.load(URL(fileURLWithPath: name)) }
        let labs = all()
        guard let entry = labs.first(where: { $0.name == name }) else {
            throw LabError.notFound(name, labs.map(\.name))
        }
        return try LabCatalog.load(entry.url)
    }
}
