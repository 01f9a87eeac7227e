// Sandbox: runs untrusted Python in a fresh, locked-down process (DESIGN.md §5).
//
// One run, from the outside in (as root):
//   setpriv --reuid U --regid U --clear-groups --no-new-privs   drop to the slot's own uid
//                                                              (SandboxUIDs.swift), so RLIMIT_NPROC
//                                                              counts (root ignores it)
//   bwrap --unshare-all --disable-userns --as-pid-1 ...        new user, PID, network, IPC, UTS,
//         --seccomp 5                                          cgroup namespaces; /usr read-only,
//                                                              a private tmpfs /tmp, nothing else;
//                                                              the system-call filter
//                                                              (SandboxSeccomp.swift)
//   /.ponder-sandbox-init --usage-fd 7                         PID 1 of the namespace: reaps every
//                                                              process, reports their usage
//                                                              (Sources/SandboxInit)
//   prlimit --cpu --as --nproc --fsize --nofile --core        rlimits, set inside the user
//                                                              namespace so nproc counts only this run
//   python3 -I -S -B -u /sandbox/main.py                       isolated mode, no site, unbuffered
// As an ordinary user setpriv is skipped (it cannot change uid); bubblewrap's user namespace
// gives the run its own process count, so the same limits hold. The program sees its files
// read-only under /sandbox and works in an empty /tmp/work; stdin is /dev/null; the environment
// is scrubbed to PATH, HOME, LANG. At the wall-clock deadline the program's processes are killed
// (the init then ends the rest of the namespace and exits), then the launcher's process group.
//
// Usage figures (`SandboxUsage`) are the program's own, its whole process tree. The kernel adds a
// process's CPU time and peak resident size to its parent's only when the parent waits for it;
// the init waits for every process of the namespace (killed at the deadline included: we kill
// the init's children, never the init first) and reports the sum of their CPU time and the
// largest peak size on a descriptor the program never holds. The program cannot lower them: it
// cannot signal or trace the init nor write its report, and the filter forbids ignoring SIGCHLD,
// the one way to make the kernel drop a child's figures. Without the report the figures are our wait4's
// on the launcher: with no init, the launchers' alone (the probe lists that as missing); with an
// init killed because it would not end, the CPU of what it had reaped, and a peak size no smaller
// than this process's own (the launcher starts as a copy of it).
//
// At construction the sandbox probes itself with a program that reports what it can see, and
// lists the protections actually in force (`protections`). If the probe shows a protection
// missing, it says so once, on stderr; if bubblewrap cannot run at all, every run returns
// `.unavailable` unless `allowUnprotected` was set, in which case runs carry `protected = false`.
// Not here: cgroups (the per-process rlimits and the wall clock bound a run).
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PonderCore

/// A program to run: `main.py` plus optional read-only files beside it.
public struct SandboxProgram: Sendable {
    public var source: String
    /// Extra files next to main.py under /sandbox (name -> contents); names must be plain.
    public var files: [String: String]
    public var limits: SandboxLimits
    /// Open fd 3 as a report channel the caller reads (`SandboxResult.report`).
    public var wantsReport: Bool
    /// Bytes readable once from fd 4 (a per-run secret, e.g. the code harness's nonce).
    public var secret: String?

    public init(_ source: String, files: [String: String] = [:], limits: SandboxLimits = SandboxLimits(),
                wantsReport: Bool = false, secret: String? = nil) {
        self.source = source
        self.files = files
        self.limits = limits
        self.wantsReport = wantsReport
        self.secret = secret
    }
}

extension SandboxResult {
    static func unavailable(_ why: String) -> SandboxResult {
        SandboxResult(outcome: .unavailable(why), stdout: "", stderr: "", report: "",
                      usage: SandboxUsage(wallMilliseconds: 0, cpuMilliseconds: 0, maxResidentKiB: 0,
                                          stdoutBytes: 0, stderrBytes: 0), protected: false)
    }
}

public final class Sandbox: Sendable {
    public let config: SandboxConfig
    public let protections: SandboxProtections
    let slots: SlotPool
    let launcher: Launcher

    /// One sandbox for the process, probed on first use.
    public static let shared = Sandbox()

    public init(config: SandboxConfig = SandboxConfig()) {
        self.config = config
        let count = config.slots > 0 ? config.slots : max(2, 2 * ProcessInfo.processInfo.activeProcessorCount)
        slots = SlotPool(count: count)
        launcher = Launcher(config)
        protections = SandboxProtections.probe(config, launcher: launcher)
        protections.announceIfIncomplete()
    }

    /// Run one program; blocks until it ends (at most its wall-clock limit plus a few ms).
    public func run(_ program: SandboxProgram) -> SandboxResult {
        if case .unavailable(let why) = protections.mode { return .unavailable(why) }
        let slot = slots.acquire()
        defer { slots.release(slot) }
        let lease: UIDLease
        switch UIDLease.acquire(base: config.uidBase, slot: slot, stride: slots.count) {
        case .success(let l): lease = l
        case .failure(let error): return .unavailable(error.description)
        }
        defer { lease.release() }
        return executeProgram(program, uid: lease.uid, mode: protections.mode, launcher: launcher)
    }

    /// Run many programs with all slots busy; results in input order.
    public func run(_ programs: [SandboxProgram]) -> [SandboxResult] {
        let results = ResultBox(count: programs.count)
        let workers = min(slots.count, programs.count)
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            let thread = Thread { [self] in
                while let i = results.claim() { results.store(i, run(programs[i])) }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        return results.values()
    }

    /// Run one program without blocking the caller's concurrency thread.
    public func run(_ program: SandboxProgram) async -> SandboxResult {
        await withCheckedContinuation { continuation in
            let thread = Thread { [self] in continuation.resume(returning: run(program)) }
            thread.start()
        }
    }
}

/// Slot i of N: a turn to run. Its uid comes from a `UIDLease`.
final class SlotPool: @unchecked Sendable {
    let count: Int
    private var free: [Int]
    private let condition = NSCondition()

    init(count: Int) {
        self.count = count
        free = Array((0..<count).reversed())
    }

    func acquire() -> Int {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty { condition.wait() }
        return free.removeLast()
    }

    func release(_ slot: Int) {
        condition.lock()
        free.append(slot)
        condition.signal()
        condition.unlock()
    }
}

private final class ResultBox: @unchecked Sendable {
    private var results: [SandboxResult?]
    private var next = 0
    private let lock = NSLock()

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < results.count else { return nil }
        next += 1
        return next - 1
    }

    func store(_ i: Int, _ r: SandboxResult) {
        lock.lock(); results[i] = r; lock.unlock()
    }

    func values() -> [SandboxResult] { results.map { $0! } }
}

/// What every run's launch chain needs besides the program, found once per sandbox: the tools,
/// the init and the filter (each nil when it cannot be had, with the reason in `initProblem` /
/// `seccompProblem`; the probe lists them as missing and runs go on without them).
struct Launcher: Sendable {
    var config: SandboxConfig
    var initProgram: String?
    var initProblem: String?
    var seccompProgram: [UInt8]?
    var seccompProblem: String?

    /// Where the init is bound inside the sandbox.
    static let initPath = "/.ponder-sandbox-init"

    init(_ config: SandboxConfig) {
        self.config = config
        let initProgram = config.initProgram ?? SandboxConfig.defaultInitProgram()
        if access(initProgram, X_OK) == 0 {
            self.initProgram = initProgram
        } else {
            initProblem = "ponder-sandbox-init not found at \(initProgram): "
                + "build every product (`swift build -c release`), or set sandbox.init_program"
        }
        if config.seccomp {
            switch SeccompFilter.program() {
            case .success(let bytes): seccompProgram = bytes
            case .failure(let error): seccompProblem = error.description
            }
        } else {
            seccompProblem = "turned off (sandbox.seccomp: false)"
        }
    }

    /// The launch chain of one run (see the file header) and the descriptors it expects.
    func command(mode: SandboxProtections.Mode, limits: SandboxLimits, programDirectory: String,
                 uid: Int) -> (executable: String, arguments: [String], inputs: [Int32: SpawnInput]) {
        let rlimits = [
            "--cpu=\(limits.cpuSeconds):\(limits.cpuSeconds + 1)",
            "--as=\(limits.memoryBytes)",
            "--nproc=\(limits.processes)",
            "--fsize=\(limits.fileBytes)",
            "--nofile=\(limits.openFiles)",
            "--core=0",
        ]
        let python = [config.python, "-I", "-S", "-B", "-u"]
        var inputs: [Int32: SpawnInput] = [:]
        switch mode {
        case .rootDropped, .userNamespace:
            var bwrap = [config.bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
                         "--die-with-parent", "--new-session", "--clearenv",
                         "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp/work",
                         "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONIOENCODING", "utf-8",
                         "--ro-bind", "/usr", "/usr"]
            for link in ["lib", "lib64", "bin", "sbin"] where FileManager.default.fileExists(atPath: "/usr/\(link)") {
                bwrap += ["--symlink", "usr/\(link)", "/\(link)"]
            }
            for dir in config.extraReadOnly { bwrap += ["--ro-bind", dir, dir] }
            bwrap += ["--proc", "/proc", "--dev", "/dev",
                      "--size", "\(limits.scratchBytes)", "--tmpfs", "/tmp", "--dir", "/tmp/work",
                      "--ro-bind", programDirectory, "/sandbox"]
            if let seccompProgram {
                bwrap += ["--seccomp", "\(LauncherFD.seccomp)"]
                inputs[LauncherFD.seccomp] = .bytes(seccompProgram)
            }
            var initCommand: [String] = []
            if let initProgram {
                bwrap += ["--as-pid-1", "--ro-bind-fd", "\(LauncherFD.initProgram)", Self.initPath]
                inputs[LauncherFD.initProgram] = .path(initProgram)
                initCommand = [Self.initPath, "--usage-fd", "\(LauncherFD.usage)"]
            }
            bwrap += ["--remount-ro", "/", "--chdir", "/tmp/work", "--"]
            bwrap += initCommand + [config.prlimit] + rlimits + ["--"] + python + ["/sandbox/main.py"]
            if case .rootDropped = mode {
                return (config.setpriv, ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--no-new-privs", "--"] + bwrap, inputs)
            }
            return (bwrap[0], Array(bwrap.dropFirst()), inputs)
        case .unprotected, .unavailable:
            // Rlimits, a private directory and the timeout only; runs are marked unprotected.
            var chain = ["/usr/bin/env", "-C", programDirectory, "-i", "PATH=/usr/bin:/bin", "HOME=\(programDirectory)",
                         "LANG=C.UTF-8", config.prlimit] + rlimits + ["--"] + python + ["\(programDirectory)/main.py"]
            if geteuid() == 0 {
                chain = [config.setpriv, "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--no-new-privs", "--"] + chain
            }
            return (chain[0], Array(chain.dropFirst()), inputs)
        }
    }
}

func executeProgram(_ program: SandboxProgram, uid: Int, mode: SandboxProtections.Mode,
                    launcher: Launcher) -> SandboxResult {
    do { try program.limits.validate() } catch { return .unavailable("\(error)") }
    guard let directory = makeProgramDirectory(program, ownerUID: mode.isProtected ? nil : uid) else {
        return .unavailable("cannot create the program directory")
    }
    defer { try? FileManager.default.removeItem(atPath: directory) }

    var (executable, arguments, inputs) = launcher.command(mode: mode, limits: program.limits,
                                                           programDirectory: directory, uid: uid)
    if let secret = program.secret { inputs[LauncherFD.secret] = .bytes(Array(secret.utf8)) }
    let runsInit = mode.isProtected && launcher.initProgram != nil
    var raw = spawnAndCollect(SpawnRequest(
        executable: executable, arguments: arguments, environment: ["PATH=/usr/bin:/bin"],
        wallSeconds: program.limits.wallSeconds, outputBytes: program.limits.outputBytes,
        wantReport: program.wantsReport, wantUsage: runsInit, inputs: inputs, rootChildIsInit: runsInit))
    // The init's figures are the program's tree alone; without them, our wait4's (file header).
    if let reported = InitUsage(raw.usageLine) {
        raw.cpuSeconds = reported.cpuSeconds
        raw.maxRSSKiB = reported.maxResidentKiB
    }
    let stderr = String(decoding: raw.stderr, as: UTF8.self)
    let outcome = classify(raw, limits: program.limits, stderr: stderr)
    // The PID namespace already took every descendant down; this is the second line of defence,
    // safe because our lease makes the uid ours alone and reapUID spares the host's processes.
    if geteuid() == 0, outcome != .ok, outcome.name != "error" {
        _ = reapUID(uid)
    }
    return SandboxResult(
        outcome: outcome,
        stdout: String(decoding: raw.stdout, as: UTF8.self),
        stderr: stderr,
        report: String(decoding: raw.report, as: UTF8.self),
        usage: SandboxUsage(wallMilliseconds: raw.wallSeconds * 1000, cpuMilliseconds: raw.cpuSeconds * 1000,
                            maxResidentKiB: raw.maxRSSKiB, stdoutBytes: raw.stdout.count, stderrBytes: raw.stderr.count),
        protected: mode.isProtected)
}

/// The line the sandbox's init writes on LauncherFD.usage: "CPU_MICROSECONDS MAX_RSS_KIB".
struct InitUsage {
    var cpuSeconds: Double
    var maxResidentKiB: Int

    init?(_ line: [UInt8]) {
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
        guard line.last == UInt8(ascii: "\n"), fields.count == 2,
              let microseconds = Int(fields[0]), let kib = Int(fields[1].dropLast()),
              microseconds >= 0, kib >= 0 else { return nil }
        cpuSeconds = Double(microseconds) * 1e-6
        maxResidentKiB = kib
    }
}

/// A fresh host directory holding main.py and the extra files, readable by the slot's uid.
/// Unprotected runs work in it, so it is then owned by the slot's uid (`ownerUID`).
private func makeProgramDirectory(_ program: SandboxProgram, ownerUID: Int?) -> String? {
    var template = Array("/tmp/ponder-sandbox-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { return nil }
    let directory = String(cString: made)
    chmod(directory, 0o755)
    var files = program.files
    files["main.py"] = program.source
    for (name, contents) in files {
        guard !name.contains("/"), !name.hasPrefix(".") else { return nil }
        let path = "\(directory)/\(name)"
        guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8),
                                             attributes: [.posixPermissions: 0o644]) else { return nil }
    }
    if let ownerUID, geteuid() == 0 {
        chown(directory, uid_t(ownerUID), gid_t(ownerUID))
    }
    return directory
}
