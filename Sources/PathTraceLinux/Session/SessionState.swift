#if os(Linux)
import Foundation
import Glibc
import PathTraceCore

/// What a running session has changed, persisted so `pathtrace cleanup` can undo it after a crash.
public struct SessionRecord: Codable, Sendable, Equatable {
    /// A rule (or nft table) the session added or was about to add, with the command that removes it.
    public struct RuleEntry: Codable, Sendable, Equatable {
        public var label: String
        public var remove: PlannedCommand
        public var check: PlannedCommand
        /// False while the install command runs: cleanup still tries it and accepts "already gone".
        public var installed: Bool

        public init(label: String, remove: PlannedCommand, check: PlannedCommand, installed: Bool) {
            self.label = label
            self.remove = remove
            self.check = check
            self.installed = installed
        }
    }

    /// A sysctl the session changed, with the value to put back.
    public struct SysctlEntry: Codable, Sendable, Equatable {
        public var key: String
        public var path: String
        public var old: String
        public var new: String

        public init(key: String, path: String, old: String, new: String) {
            self.key = key
            self.path = path
            self.old = old
            self.new = new
        }
    }

    public var version = 1
    public var id: SessionID
    public var pid: Int32
    /// Field 22 of `/proc/PID/stat`, so a reused pid is not mistaken for the session.
    public var pidStartTime: UInt64?
    /// The `ip netns` name, or nil for the namespace pathtrace ran in.
    public var namespace: String?
    /// The inode of that namespace, to refuse cleaning up from a different one.
    public var netnsInode: UInt64?
    public var backend: TraceBackend
    public var started: String
    public var rules: [RuleEntry] = []
    public var sysctls: [SysctlEntry] = []

    public init(id: SessionID, namespace: TraceNamespace, backend: TraceBackend, pid: Int32 = getpid()) {
        self.id = id
        self.pid = pid
        self.pidStartTime = ProcessLiveness.startTime(of: pid)
        self.namespace = namespace.name
        self.netnsInode = namespace == .current ? ProcessLiveness.currentNetnsInode() : nil
        self.backend = backend
        self.started = ISO8601DateFormatter().string(from: Date())
    }

    /// The namespace the record's rules live in.
    public var traceNamespace: TraceNamespace { (try? TraceNamespace(name: namespace)) ?? .current }

    /// Nothing left to undo.
    public var isEmpty: Bool { rules.isEmpty && sysctls.isEmpty }
}

/// One session's state file, `<directory>/<id>.json`, rewritten atomically on every change.
public final class SessionStateStore: @unchecked Sendable {
    /// `$PATHTRACE_STATE_DIR`, else `/run/pathtrace`: tmpfs, so stale files vanish with a reboot, as do
    /// the rules they describe. The variable keeps sessions apart that must not sweep each other's
    /// leftovers: every start cleans up after dead sessions in its directory (the SIGKILL test uses one).
    public static let defaultDirectory = directory(environment: ProcessInfo.processInfo.environment)

    static func directory(environment: [String: String]) -> URL {
        guard let dir = environment["PATHTRACE_STATE_DIR"], !dir.isEmpty else {
            return URL(fileURLWithPath: "/run/pathtrace")
        }
        return URL(fileURLWithPath: dir)
    }

    public let url: URL

    public init(directory: URL = SessionStateStore.defaultDirectory, id: SessionID) {
        url = directory.appendingPathComponent("\(id.rawValue).json")
    }

    init(url: URL) { self.url = url }

    /// Writes the record (creating the directory, mode 0700) via a temporary file and rename.
    public func write(_ record: SessionRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            try encoder.encode(record).write(to: url, options: .atomic)
        } catch {
            throw LinuxError.stateFile(path: url.path, reason: "\(error)")
        }
    }

    public func delete() throws {
        do {
            try FileManager.default.removeItem(at: url)
        } catch CocoaError.fileNoSuchFile {
        } catch {
            throw LinuxError.stateFile(path: url.path, reason: "\(error)")
        }
    }

    public static func load(_ url: URL) throws -> SessionRecord {
        do {
            return try JSONDecoder().decode(SessionRecord.self, from: Data(contentsOf: url))
        } catch {
            throw LinuxError.stateFile(path: url.path, reason: "unreadable state file: \(error)")
        }
    }

    /// The state files in `directory`, sorted by name; none when it does not exist.
    public static func files(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0) }
    }
}

/// Whether the process that wrote a state file is still running.
public enum ProcessLiveness {
    /// Alive if signal 0 reaches it (or is refused) and, when known, it started at the recorded time.
    public static func isAlive(pid: Int32, startTime: UInt64?) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno != EPERM { return false }
        guard let startTime else { return true }
        // A zombie or a reused pid: compare the start time the kernel recorded.
        return self.startTime(of: pid) == startTime
    }

    /// Field 22 (starttime) of `/proc/PID/stat`.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name start at field 3 (state).
        let fields = text[text.index(after: close)...].split(separator: " ")
        if fields.first == "Z" { return nil }
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// The inode of `/proc/self/ns/net`.
    public static func currentNetnsInode() -> UInt64? {
        var st = stat()
        guard stat("/proc/self/ns/net", &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }
}
#endif
