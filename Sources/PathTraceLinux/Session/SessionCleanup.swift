#if os(Linux)
import Foundation
import PathTraceCore

/// The outcome of `pathtrace cleanup`: per state file, what was removed, restored or left alone.
public struct CleanupReport: Sendable, Equatable {
    public struct Session: Sendable, Equatable {
        public var id: String
        public var file: String
        public var namespace: String?
        public var backend: TraceBackend?
        public var pid: Int32?
        /// Why the file was left alone (the session still runs, another namespace, unreadable), if it was.
        public var skipped: String?
        public var removal: RemovalReport
        /// The state file was deleted: nothing of the session is left.
        public var finished: Bool
    }

    public var sessions: [Session] = []

    /// True when some rule or sysctl could not be undone (its state file is kept for another try).
    public var hasFailures: Bool { sessions.contains { !$0.removal.isComplete } }

    /// A human summary, one block per session.
    public var summary: String {
        let acted = sessions
        if acted.isEmpty { return "nothing to clean up\n" }
        var out = ""
        for s in acted {
            let ns = s.namespace.map { "netns \($0)" } ?? "current netns"
            let backend = s.backend?.rawValue ?? "?"
            if let skipped = s.skipped {
                out += "session \(s.id) (\(backend), \(ns)): left alone: \(skipped)\n"
                continue
            }
            let r = s.removal
            var head = "session \(s.id) (\(backend), \(ns), pid \(s.pid.map(String.init) ?? "?")): "
            if r.namespaceGone {
                head += "the namespace is gone, and with it everything the session added"
            } else {
                head += "removed \(r.removed.count) rule\(r.removed.count == 1 ? "" : "s")"
                if !r.alreadyGone.isEmpty { head += ", \(r.alreadyGone.count) already gone" }
                head += ", restored \(r.restored.count) sysctl\(r.restored.count == 1 ? "" : "s")"
                if !r.isComplete { head += "; \(r.failures.count) failed, state file kept" }
            }
            out += head + "\n"
            for line in r.lines { out += "  \(line)\n" }
        }
        return out
    }
}

/// `pathtrace cleanup`: undoes what crashed or killed sessions left behind.
public enum SessionCleanup {
    /// Reads every state file in `directory` whose pid is gone (every one with `all`), optionally only those
    /// for namespace `netns`; removes their rules (accepting "already gone"), restores their sysctls and
    /// deletes the file.
    public static func cleanup(
        all: Bool = false, netns: String? = nil, directory: URL = SessionStateStore.defaultDirectory,
        runner: any CommandRunning = SystemCommandRunner()
    ) -> CleanupReport {
        var report = CleanupReport()
        for url in SessionStateStore.files(in: directory) {
            let fileID = url.deletingPathExtension().lastPathComponent
            var record: SessionRecord
            do {
                record = try SessionStateStore.load(url)
            } catch {
                report.sessions.append(
                    .init(
                        id: fileID, file: url.path, namespace: nil, backend: nil, pid: nil,
                        skipped: "\(error)", removal: RemovalReport(), finished: false))
                continue
            }
            if let netns, record.namespace != netns { continue }
            var entry = CleanupReport.Session(
                id: record.id.rawValue, file: url.path, namespace: record.namespace, backend: record.backend,
                pid: record.pid, skipped: nil, removal: RemovalReport(), finished: false)
            if !all, ProcessLiveness.isAlive(pid: record.pid, startTime: record.pidStartTime) {
                entry.skipped = "pid \(record.pid) is still running (stop it, or use --all)"
                report.sessions.append(entry)
                continue
            }
            if record.namespace == nil, let inode = record.netnsInode,
                let here = ProcessLiveness.currentNetnsInode(), inode != here
            {
                entry.skipped = "it traced another network namespace (inode \(inode)); run cleanup inside it"
                report.sessions.append(entry)
                continue
            }
            let store = SessionStateStore(url: url)
            entry.removal = SessionUndo.undo(&record, runner: runner) { try? store.write($0) }
            if record.isEmpty {
                try? store.delete()
                entry.finished = true
            }
            report.sessions.append(entry)
        }
        return report
    }
}
#endif
