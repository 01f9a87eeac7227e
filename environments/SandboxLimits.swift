// Sandbox limits and configuration: the numbers that bound one untrusted Python run.
//
// Each limit maps to one kernel mechanism (DESIGN.md §5): CPU time, address space, processes,
// file size and open files are rlimits set by `prlimit` inside the namespaces; the wall clock is
// ours (we kill the process group at the deadline); output is capped by the reader; the writable
// directory is a tmpfs of `scratchBytes`. This file holds no logic beyond validation and the
// default place of the sandbox's init.
import Foundation
import PonderCore

public struct SandboxLimits: Codable, Sendable, Equatable {
    /// Wall-clock budget; at the deadline the whole process group is killed.
    public var wallSeconds: Double = 5
    /// CPU seconds (RLIMIT_CPU soft; SIGKILL one second later).
    public var cpuSeconds: Int = 4
    /// Address space (RLIMIT_AS).
    public var memoryBytes: Int = 512 << 20
    /// Processes and threads of the sandbox's user (RLIMIT_NPROC).
    public var processes: Int = 32
    /// Largest file the program may write (RLIMIT_FSIZE).
    public var fileBytes: Int = 16 << 20
    /// Open file descriptors (RLIMIT_NOFILE).
    public var openFiles: Int = 64
    /// Captured stdout + stderr; more than this ends the run as `output_limit`.
    public var outputBytes: Int = 1 << 20
    /// Size of the writable tmpfs (`/tmp`, holding the working directory).
    public var scratchBytes: Int = 64 << 20

    public init() {}

    public init(wallSeconds: Double) {
        self.wallSeconds = wallSeconds
        self.cpuSeconds = max(1, Int(wallSeconds.rounded(.up)))
    }

    enum CodingKeys: String, CodingKey {
        case wallSeconds = "wall_seconds", cpuSeconds = "cpu_seconds", memoryBytes = "memory_bytes"
        case processes, fileBytes = "file_bytes", openFiles = "open_files"
        case outputBytes = "output_bytes", scratchBytes = "scratch_bytes"
    }

    public func validate() throws {
        try ConfigError.check("sandbox.wall_seconds", wallSeconds, in: 0.1...600)
        try ConfigError.check("sandbox.cpu_seconds", cpuSeconds, in: 1...600)
        try ConfigError.check("sandbox.memory_bytes", memoryBytes, in: (64 << 20)...(64 << 30))
        try ConfigError.check("sandbox.processes", processes, in: 1...4096)
        try ConfigError.check("sandbox.file_bytes", fileBytes, in: 0...(4 << 30))
        try ConfigError.check("sandbox.open_files", openFiles, in: 16...4096)
        try ConfigError.check("sandbox.output_bytes", outputBytes, in: 1024...(256 << 20))
        try ConfigError.check("sandbox.scratch_bytes", scratchBytes, in: (1 << 20)...(4 << 30))
    }
}

/// Where the sandbox finds its tools and how it shares the machine.
public struct SandboxConfig: Codable, Sendable, Equatable {
    /// The interpreter. It must live under a directory the sandbox binds (`/usr`), so a
    /// pyenv shim in /root is no use; Debian's /usr/bin/python3 is.
    public var python = "/usr/bin/python3"
    public var bwrap = "/usr/bin/bwrap"
    public var setpriv = "/usr/bin/setpriv"
    public var prlimit = "/usr/bin/prlimit"
    /// When running as root, slot i runs as uid/gid `uidBase + i` (no account needed).
    public var uidBase = 61_000
    /// Concurrent runs; 0 means twice the number of cores.
    public var slots = 0
    /// Run without namespaces when bubblewrap cannot work (rlimits and timeout only). Off by
    /// default: without it a machine lacking protections refuses to run code at all.
    public var allowUnprotected = false
    /// Directories bound read-only into the sandbox besides /usr (and its /lib, /bin links).
    public var extraReadOnly: [String] = []
    /// The sandbox's PID 1, which makes the usage figures the program's own (Sources/SandboxInit,
    /// a product of this package); nil means `ponder-sandbox-init` beside the running executable.
    public var initProgram: String?
    /// Load the system-call filter. Turn it off only to find out whether the filter is what
    /// breaks a program: the sandbox then reports it missing.
    public var seccomp = true

    public init() {}

    enum CodingKeys: String, CodingKey {
        case python, bwrap, setpriv, prlimit, uidBase = "uid_base", slots
        case allowUnprotected = "allow_unprotected", extraReadOnly = "extra_read_only"
        case initProgram = "init_program", seccomp
    }

    /// `ponder-sandbox-init` in the directory of the running executable (`ponder`, or the test
    /// binary: SwiftPM puts both beside it).
    static func defaultInitProgram() -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("ponder-sandbox-init").path
    }
}
