// The built `ponder` tool, for tests that run it as a user would (a subprocess): where it is,
// and one run of it with its exit status and output.
//
// The executable is the one built beside the test bundle (`swift test` builds every product), a
// few levels up for bundles that nest their executable (`X.xctest/Contents/MacOS/X` on macOS);
// PONDER_BINARY overrides it.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum PonderTool {
    public static let missing =
        "the ponder executable was not found beside the test bundle; build it with `swift build -c release` or set PONDER_BINARY"

    /// The directory of the running test binary.
    public static func testBinaryDirectory() -> URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if FileManager.default.fileExists(atPath: executable.path) { return executable.deletingLastPathComponent() }
        return Bundle.main.bundleURL.deletingLastPathComponent()
    }

    public static func executable() -> URL? {
        if let path = ProcessInfo.processInfo.environment["PONDER_BINARY"] { return URL(fileURLWithPath: path) }
        var directory = testBinaryDirectory()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("ponder")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    public struct Outcome: Sendable {
        public var status: Int32
        /// Set when the process ended by a signal (then `status` is the signal number).
        public var signalled: Bool
        public var stdout: String
        public var stderr: String
    }

    /// Runs `ponder ARGUMENTS` in `directory` with `environment` added to this process's, and
    /// waits for it; output goes through files, so a chatty run cannot fill a pipe and stall.
    /// With a `deadline` (seconds) a process still running then is killed (SIGKILL).
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL,
                           environment: [String: String] = [:], deadline: Double? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = directory.appendingPathComponent(".stdout-\(UUID().uuidString)")
        let err = directory.appendingPathComponent(".stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        if let deadline {
            let end = Date().addingTimeInterval(deadline)
            while process.isRunning && Date() < end { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                       stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
