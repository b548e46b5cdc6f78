#if os(Linux)
import PathTraceCore

/// Reads and writes `/proc/sys` files inside a namespace (`cat` and `tee` through the runner, as argv).
struct SysctlAccess {
    let runner: any CommandRunning
    let namespace: TraceNamespace

    /// The current value, trimmed; only plain words (`NONE`, `nf_log_ipv4`, `nfnetlink_log`) are accepted.
    func read(_ key: String, path: String) throws -> String {
        let result = try runner.runChecked(PlannedCommand(["cat", path]), in: namespace)
        let value = result.stdout.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
        guard SysctlSetting.isPlainValue(value) else {
            throw LinuxError.unexpectedSysctlValue(key: key, value: value)
        }
        return value
    }

    func write(_ key: String, path: String, value: String) throws {
        guard SysctlSetting.isPlainValue(value) else {
            throw LinuxError.unexpectedSysctlValue(key: key, value: value)
        }
        _ = try runner.runChecked(PlannedCommand(["tee", path], stdin: value + "\n"), in: namespace)
    }
}
#endif
