import ArgumentParser
import PathTraceCore

#if canImport(Glibc)
import Glibc
#endif

@main
struct PathTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pathtrace",
        abstract: "Show where a packet went inside netfilter: tables, chains, verdicts and NAT.",
        discussion: """
            Live (root; its rules are removed on exit):
              pathtrace --dport 3128
              pathtrace --netns ptlv-host --proto icmp --count 3
              pathtrace --all --dport 8080        # every namespace: walks join into journeys
            Replay:
              pathtrace replay /var/log/kern.log --dport 3128
              dmesg | pathtrace replay -
            Topology (namespaces, interfaces and their roles, routes, veth cables):
              pathtrace topology --all
            The hooks and tables in the kernel's order, with a traced packet's walk on them:
              pathtrace flow --family bridge
              pathtrace flow --trace t.log --packet 2 --format svg > walk.svg
            Labs (the seeds' systems, built in namespaces and traced):
              pathtrace lab run libvirt-nat
              pathtrace lab run double-nat        # one packet through four namespaces, two MASQUERADEs

            Exit codes:
            """ + "\n" + ExitStatus.helpText,
        version: "0.4.0",
        subcommands: [Trace.self, Replay.self, TopologyCommand.self, Flow.self, Lab.self, Cleanup.self],
        defaultSubcommand: Trace.self
    )

    /// Maps errors to `ExitStatus`: usage problems exit 2 (ArgumentParser's default would be 64).
    /// Synchronous on purpose: live tracing's signal handling needs the main thread to be the only one
    /// when it starts.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CLIFailure {
            FileOutput.stderr.write("pathtrace: \(failure.message)\n")
            Glibc.exit(failure.status.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == ExitCode.success || error is CleanExit {
                exit(withError: error)
            }
            FileOutput.stderr.write(fullMessage(for: error) + "\n")
            let status =
                code == ExitCode.validationFailure ? .usage : ExitStatus(rawValue: code.rawValue) ?? .failure
            Glibc.exit(status.rawValue)
        }
    }
}

/// An error the CLI reports in one line with its own exit status.
struct CLIFailure: Error {
    var message: String
    var status: ExitStatus

    /// Input that cannot be read, output that cannot be written.
    static func unreadable(_ message: String) -> CLIFailure { CLIFailure(message: message, status: .failure) }
    /// Anything else that failed; the message says what.
    static func failed(_ message: String) -> CLIFailure { CLIFailure(message: message, status: .failure) }
    static func usage(_ message: String) -> CLIFailure { CLIFailure(message: message, status: .usage) }
    static func noNetAdmin(_ message: String) -> CLIFailure { CLIFailure(message: message, status: .noNetAdmin) }
}
