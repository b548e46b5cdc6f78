#if os(Linux)
import Foundation
import Glibc
import PathTraceCore

/// Installs a `TraceRulePlan` one command at a time inside a namespace, recording each step before it
/// runs, and removes exactly what it added. It never saves or restores the user's ruleset.
public final class RuleInstaller: @unchecked Sendable {
    public let namespace: TraceNamespace
    let runner: any CommandRunning
    let store: SessionStateStore?
    private let lock = NSLock()
    private var record: SessionRecord?
    private var cancelled = false

    /// `store` nil keeps the record in memory only (no crash recovery).
    public init(
        namespace: TraceNamespace, runner: any CommandRunning = SystemCommandRunner(),
        store: SessionStateStore? = nil
    ) {
        self.namespace = namespace
        self.runner = runner
        self.store = store
    }

    /// The tables and chains of the namespace's legacy ruleset, for the nflog backend.
    public func discoverChains(families: [TraceFamily]) throws -> [ChainRef] {
        guard namespace.exists else { throw LinuxError.noSuchNamespace(namespace.name ?? "") }
        var chains: [ChainRef] = []
        for family in families.sorted() {
            let save = PlannedCommand([TraceRulePlan.iptablesSaveBinary(family)])
            let result = try runner.runChecked(save, in: namespace)
            do {
                chains += try ChainRef.parseSave(result.stdout, family: family)
            } catch {
                throw LinuxError.plan(error)
            }
        }
        return chains
    }

    /// Sets the plan's sysctls, then adds its rules. The state file is written before anything else and
    /// updated around every step. On any failure, everything already done is undone and the error rethrown.
    public func install(_ plan: TraceRulePlan) throws {
        guard namespace.exists else { throw LinuxError.noSuchNamespace(namespace.name ?? "") }
        try locked {
            guard record == nil else { return }
            let fresh = SessionRecord(id: plan.session, namespace: namespace, backend: plan.backend)
            try store?.write(fresh)
            record = fresh
        }
        let sysctl = SysctlAccess(runner: runner, namespace: namespace)
        do {
            for setting in plan.sysctls {
                try locked {
                    let old = try sysctl.read(setting.key, path: setting.path)
                    try change {
                        $0.sysctls.append(.init(key: setting.key, path: setting.path, old: old, new: setting.value))
                    }
                    try sysctl.write(setting.key, path: setting.path, value: setting.value)
                }
            }
            for rule in plan.rules {
                try locked {
                    try change {
                        $0.rules.append(
                            .init(label: rule.label, remove: rule.remove, check: rule.check, installed: false))
                    }
                    do {
                        _ = try runner.runChecked(rule.install, in: namespace)
                    } catch {
                        // iptables and `nft -f` change nothing when they fail: forget the pending entry.
                        try? change { $0.rules.removeLast() }
                        throw error
                    }
                    try change { $0.rules[$0.rules.count - 1].installed = true }
                }
            }
        } catch {
            removeAll()
            throw error
        }
    }

    /// Adds rules to a session already installed (the replies of a translation seen since), each recorded
    /// in the state file before it runs, so the teardown and `pathtrace cleanup` remove it with the rest.
    /// A rule that fails is forgotten and the error thrown; those added before it stay, recorded.
    /// Throws `LinuxError.cancelled` once the teardown has begun.
    public func add(_ rules: [PlannedRule]) throws {
        try locked {
            guard record != nil else { throw LinuxError.cancelled }
        }
        for rule in rules {
            try locked {
                try change {
                    $0.rules.append(.init(label: rule.label, remove: rule.remove, check: rule.check, installed: false))
                }
                do {
                    _ = try runner.runChecked(rule.install, in: namespace)
                } catch {
                    try? change { $0.rules.removeLast() }
                    throw error
                }
                try change { $0.rules[$0.rules.count - 1].installed = true }
            }
        }
    }

    /// Removes every rule (last first), then restores the sysctls; idempotent, and stops a running install.
    /// The state file is deleted once nothing is left to undo.
    @discardableResult
    public func removeAll() -> RemovalReport {
        lock.lock()
        defer { lock.unlock() }
        cancelled = true
        guard var current = record else { return RemovalReport() }
        let store = self.store
        let report = SessionUndo.undo(&current, runner: runner) { try? store?.write($0) }
        record = current
        if current.isEmpty { try? store?.delete() }
        return report
    }

    /// What is installed right now.
    public var installedRules: [SessionRecord.RuleEntry] {
        lock.lock()
        defer { lock.unlock() }
        return record?.rules.filter(\.installed) ?? []
    }

    private func locked(_ body: () throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        if cancelled { throw LinuxError.cancelled }
        try body()
    }

    /// Mutates the record and persists it; the lock is held.
    private func change(_ mutate: (inout SessionRecord) -> Void) throws {
        guard var current = record else { return }
        mutate(&current)
        record = current
        try store?.write(current)
    }
}

/// What a removal did, line by line.
public struct RemovalReport: Sendable, Equatable {
    public var removed: [String] = []
    public var alreadyGone: [String] = []
    public var restored: [String] = []
    public var failures: [String] = []
    /// Set when the namespace itself is gone, taking the rules and sysctls with it.
    public var namespaceGone = false

    public init() {}

    public var isComplete: Bool { failures.isEmpty }

    /// Indented lines: `removed …`, `already gone …`, `restored key = value`, `FAILED …`.
    public var lines: [String] {
        removed.map { "removed \($0)" } + alreadyGone.map { "already gone: \($0)" }
            + restored.map { "restored \($0)" } + failures.map { "FAILED \($0)" }
    }
}

/// Undoes a record's rules and sysctls; shared by a live session's teardown and by `cleanup`.
enum SessionUndo {
    static func undo(
        _ record: inout SessionRecord, runner: any CommandRunning, persist: (SessionRecord) -> Void
    ) -> RemovalReport {
        var report = RemovalReport()
        let ns = record.traceNamespace
        guard ns.exists else {
            report.namespaceGone = true
            report.alreadyGone = record.rules.map(\.label) + record.sysctls.map(\.key)
            record.rules = []
            record.sysctls = []
            persist(record)
            return report
        }
        while let entry = record.rules.last {
            do {
                let removed = try runner.run(entry.remove, in: ns)
                if removed.succeeded {
                    report.removed.append("\(entry.label): \(entry.remove)")
                } else if try runner.run(entry.check, in: ns).succeeded {
                    let why =
                        removed.stderr.split(separator: "\n").first.map(String.init) ?? "status \(removed.status)"
                    report.failures.append("\(entry.label): \(entry.remove): \(why)")
                    break
                } else {
                    report.alreadyGone.append(entry.installed ? entry.label : "\(entry.label) (never installed)")
                }
            } catch {
                report.failures.append("\(entry.label): \(error)")
                break
            }
            record.rules.removeLast()
            persist(record)
        }
        // Restore sysctls only once no rule is left that would still log through them.
        guard record.rules.isEmpty else { return report }
        let sysctl = SysctlAccess(runner: runner, namespace: ns)
        while let entry = record.sysctls.last {
            do {
                try sysctl.write(entry.key, path: entry.path, value: entry.old)
                report.restored.append("\(entry.key) = \(entry.old)")
            } catch {
                report.failures.append("\(entry.key) = \(entry.old): \(error)")
                break
            }
            record.sysctls.removeLast()
            persist(record)
        }
        return report
    }
}
#endif
