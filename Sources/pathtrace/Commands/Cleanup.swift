import ArgumentParser
import PathTraceLinux

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove what a killed pathtrace session left behind: its rules, and the sysctls it changed.",
        discussion: """
            Every live session records what it installs under /run/pathtrace ($PATHTRACE_STATE_DIR when \
            set) before installing it. \
            `cleanup` removes what sessions whose process is gone left, restores their sysctls and says \
            what it removed. --all also takes sessions whose process still runs.
            """)

    @Flag(help: "Also clean up sessions that still run.") var all = false
    @Option(help: "Only sessions in this network namespace.") var netns: String?

    func run() throws {
        try requireNetAdmin()
        let report = SessionCleanup.cleanup(all: all, netns: netns)
        FileOutput.stdout.write(report.summary + "\n")
        FileOutput.stdout.flush()
        if report.hasFailures { throw CLIFailure.failed("some rules could not be removed (see above)") }
    }
}
