// A minimal process for the live tests: installs trace rules in a namespace, says so, and waits to be
// signalled (teardown expected) or SIGKILLed (cleanup expected). Not shipped.
#if os(Linux)
import Dispatch
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import SystemPackage

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

var options: [String: String] = [:]
var flags: Set<String> = []
let args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { fail("usage: pathtrace-test-helper install|caps …") }
var i = 1
while i < args.count {
    let a = args[i]
    if a == "--no-guard" {
        flags.insert(a)
        i += 1
    } else if a.hasPrefix("--"), i + 1 < args.count {
        options[String(a.dropFirst(2))] = args[i + 1]
        i += 2
    } else {
        fail("unexpected argument \(a)")
    }
}

switch command {
case "caps":
    print("net_admin=\(Capabilities.hasNetAdmin() ? "yes" : "no")")
case "install":
    guard let backend = options["backend"].flatMap(TraceBackend.init(rawValue:)),
        let id = options["id"].flatMap(SessionID.init), let dir = options["state-dir"]
    else { fail("install needs --backend, --id and --state-dir") }
    var filter = WalkFilter()
    if let d = options["dport"] {
        filter.proto = IPProtocol.tcp
        filter.dport = PortRange(d)
    }
    do {
        let namespace = try TraceNamespace(name: options["netns"])
        let installer = RuleInstaller(
            namespace: namespace, store: SessionStateStore(directory: URL(fileURLWithPath: dir), id: id))
        let guardian: TeardownGuard? =
            flags.contains("--no-guard")
            ? nil
            : TeardownGuard(afterSignal: { signo in
                print("torn down after signal \(signo)")
                fflush(nil)
                exit(0)
            }) { installer.removeAll() }
        let chains = backend == .nflog ? try installer.discoverChains(families: TraceFamily.allCases) : []
        let plan = try TraceRulePlan.make(
            filter: filter, backend: backend, session: id, nflogGroup: 5, chains: chains)
        try installer.install(plan)
        print("installed \(installer.installedRules.count)")
        fflush(nil)
        _ = guardian
        while true { sleep(3600) }
    } catch {
        fail("\(error)")
    }
case "map-shrink":
    // Truncates a file under its own mapping, then touches the vanished page: MappedFile's SIGBUS guard
    // must say so and exit 1.
    guard let path = options["file"], let fd = try? FileDescriptor.open(FilePath(path), .readOnly),
        let mapped = MappedFile(fd, name: path)
    else { fail("map-shrink needs --file naming a non-empty file") }
    _ = mapped.forEachWindow { window in
        if truncate(path, 0) != 0 { fail("truncate: \(errno)") }
        print("survived: \(window[window.count - 1])")
    }
    fail("no SIGBUS")
default:
    fail("unknown command \(command)")
}
#else
print("Linux only")
#endif
