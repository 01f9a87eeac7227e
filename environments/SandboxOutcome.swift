// Classifying what a sandboxed run did: ok, error, timeout, memory, output limit, killed.
//
// A pure function of the raw run (exit status, who killed it, stderr, CPU used), so the rules
// are testable without running anything. Exit statuses arrive through bubblewrap, which reports
// a child killed by signal N as exit code 128 + N; a program that itself exits with 128 + N is
// read the same way (a documented ambiguity, harmless: both are failures).
import PonderCore

public enum SandboxOutcome: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Exit status 0.
    case ok
    /// Nonzero exit: the exception line of the traceback ("ZeroDivisionError: division by zero"),
    /// or "exit status N" without one.
    case error(String)
    /// Ran past the wall clock ("wall") or the CPU budget ("cpu").
    case timeout(String)
    /// Hit the address-space limit (MemoryError, or a failed allocation that killed it).
    case memory
    /// Printed more than the output cap; killed.
    case outputLimit
    /// Ended by a signal we did not send (the number).
    case killed(Int32)
    /// The sandbox could not run the program at all (missing protection, spawn failure).
    case unavailable(String)

    /// Stable lowercase name for JSON and the store.
    public var name: String {
        switch self {
        case .ok: "ok"
        case .error: "error"
        case .timeout: "timeout"
        case .memory: "memory"
        case .outputLimit: "output_limit"
        case .killed: "killed"
        case .unavailable: "unavailable"
        }
    }

    public var detail: String {
        switch self {
        case .ok, .memory, .outputLimit: ""
        case .error(let line): line
        case .timeout(let which): which
        case .killed(let signal): "signal \(signal)"
        case .unavailable(let why): why
        }
    }

    public var description: String { detail.isEmpty ? name : "\(name) (\(detail))" }

    /// The failure a verifier records when the program did not run to a normal end.
    /// `.ok` and `.error` are the program's own doing (a wrong program), so they map to nil.
    public var executionFailure: ExecutionFailure? {
        switch self {
        case .ok, .error: nil
        case .timeout(let which): ExecutionFailure(.timeout, which)
        case .memory: ExecutionFailure(.memory, "address-space limit")
        case .outputLimit: ExecutionFailure(.outputLimit, "output cap")
        case .killed(let s): ExecutionFailure(.killed, "signal \(s)")
        case .unavailable(let why): ExecutionFailure(.sandboxUnavailable, why)
        }
    }
}

/// What the program used. CPU and memory are its whole process tree's (see Sandbox.swift).
public struct SandboxUsage: Codable, Sendable, Equatable {
    public var wallMilliseconds: Double
    /// User + system time of every process the program started, itself included.
    public var cpuMilliseconds: Double
    /// The largest peak resident size of any one of those processes.
    public var maxResidentKiB: Int
    public var stdoutBytes: Int
    public var stderrBytes: Int

    enum CodingKeys: String, CodingKey {
        case wallMilliseconds = "wall_ms", cpuMilliseconds = "cpu_ms", maxResidentKiB = "max_rss_kib"
        case stdoutBytes = "stdout_bytes", stderrBytes = "stderr_bytes"
    }
}

public struct SandboxResult: Sendable, Equatable {
    public var outcome: SandboxOutcome
    public var stdout: String
    public var stderr: String
    /// What the program wrote to fd 3, when a report channel was requested.
    public var report: String
    public var usage: SandboxUsage
    /// The protection level the run had (see `SandboxProtections`).
    public var protected: Bool
}

private let signalXCPU: Int32 = 24
private let signalKILL: Int32 = 9

/// The last line of a Python traceback, e.g. "ValueError: bad"; nil when stderr has none.
func exceptionLine(_ stderr: String) -> String? {
    let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true)
    guard let last = lines.last?.trimmingCharacters(in: .whitespaces), !last.isEmpty else { return nil }
    let name = last.prefix { $0 != ":" }
    let looksLikeException = name.hasSuffix("Error") || name.hasSuffix("Exception") || name.hasSuffix("Exit")
        || name.hasSuffix("Interrupt") || name.hasSuffix("Warning")
    guard stderr.contains("Traceback (most recent call last)") || looksLikeException else { return nil }
    return String(last.prefix(300))
}

extension SandboxOutcome {
    /// The classification rules on their own (for tests and for callers with their own launcher).
    /// `exitCode` as bubblewrap reports it (128 + N for a child killed by signal N).
    public static func classify(exitCode: Int32?, signal: Int32? = nil, timedOut: Bool = false,
                                outputCapped: Bool = false, cpuSeconds: Double = 0, stderr: String = "",
                                limits: SandboxLimits = SandboxLimits(), spawnError: String? = nil) -> SandboxOutcome {
        var raw = RawRun()
        raw.exitCode = exitCode
        raw.signal = signal
        raw.timedOut = timedOut
        raw.outputCapped = outputCapped
        raw.cpuSeconds = cpuSeconds
        raw.spawnError = spawnError
        return Environments.classify(raw, limits: limits, stderr: stderr)
    }
}

func classify(_ raw: RawRun, limits: SandboxLimits, stderr: String) -> SandboxOutcome {
    if let why = raw.spawnError { return .unavailable(why) }
    if raw.outputCapped { return .outputLimit }
    if raw.timedOut { return .timeout("wall") }
    // bubblewrap turns "killed by N" into exit 128 + N; we see a raw signal only if the
    // launcher itself died.
    var signal = raw.signal
    if let code = raw.exitCode, code > 128, code < 160 { signal = code - 128 }
    let line = exceptionLine(stderr)
    if let signal {
        if signal == signalXCPU || (signal == signalKILL && raw.cpuSeconds >= Double(limits.cpuSeconds)) {
            return .timeout("cpu")
        }
        if line?.hasPrefix("MemoryError") == true { return .memory }
        return .killed(signal)
    }
    guard let code = raw.exitCode, code != 0 else { return .ok }
    if let line {
        if line.hasPrefix("MemoryError") { return .memory }
        return .error(line)
    }
    return .error("exit status \(code)")
}

