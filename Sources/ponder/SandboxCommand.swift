// ponder sandbox: run any program in the sandbox and see what it was allowed to do.
import ArgumentParser
import Environments
import Foundation

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run Python programs in the code sandbox; show its protections.",
        subcommands: [Run.self, Check.self, Bench.self]
    )

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run FILE.py in the sandbox; print its outcome, output and resource use.")

        @Argument(help: "The Python program to run.")
        var file: String

        @Option(help: "Wall-clock limit in seconds.")
        var timeout: Double = 5

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            guard let source = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read \(file)")
            }
            let sandbox = Sandbox.shared
            let limits = SandboxLimits(wallSeconds: timeout)
            try limits.validate()
            let result = sandbox.run(SandboxProgram(source, limits: limits))
            if json {
                let object: [String: Any] = [
                    "outcome": result.outcome.name,
                    "detail": result.outcome.detail,
                    "protected": result.protected,
                    "stdout": result.stdout,
                    "stderr": result.stderr,
                    "wall_ms": result.usage.wallMilliseconds,
                    "cpu_ms": result.usage.cpuMilliseconds,
                    "max_rss_kib": result.usage.maxResidentKiB,
                    "stdout_bytes": result.usage.stdoutBytes,
                    "stderr_bytes": result.usage.stderrBytes,
                    "protections": sandbox.protections.active,
                    "missing_protections": sandbox.protections.missing,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("outcome: \(result.outcome)\(result.protected ? "" : "  [UNPROTECTED RUN]")")
            print(String(format: "wall %.1f ms, cpu %.1f ms, max rss %d KiB, stdout %d B, stderr %d B",
                         result.usage.wallMilliseconds, result.usage.cpuMilliseconds, result.usage.maxResidentKiB,
                         result.usage.stdoutBytes, result.usage.stderrBytes))
            print("--- stdout" + (result.stdout.count > 4000 ? " (first 4000 characters)" : ""))
            print(String(result.stdout.prefix(4000)), terminator: result.stdout.hasSuffix("\n") ? "" : "\n")
            print("--- stderr" + (result.stderr.count > 4000 ? " (last 4000 characters)" : ""))
            print(String(result.stderr.suffix(4000)), terminator: result.stderr.hasSuffix("\n") ? "" : "\n")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the protections active on this machine.")
        func run() throws {
            print(Sandbox.shared.protections)
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sandbox round trip and code-test throughput.")
        func run() throws {
            let r = Sandbox.shared.benchmark()
            print(String(format: "sandbox round trip: median %.1f ms, p90 %.1f ms (print(1), %d runs)",
                         r.medianRoundTripMilliseconds, r.p90RoundTripMilliseconds, r.roundTrips))
            print(String(format: "code tests: %.1f programs/s (%d programs, %d slots)%@",
                         r.codeProgramsPerSecond, r.codePrograms, r.slots, r.allSucceeded ? "" : "  SOME RUNS FAILED"))
            print("protections: \(r.protections)")
        }
    }
}
