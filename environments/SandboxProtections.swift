// What the sandbox can actually enforce on this machine, found by running a probe program.
//
// The probe runs through the full launcher chain and prints what it sees: its uid and pid, whether
// it can reach the network, whether /etc and /usr are visible and writable, its rlimits, whether
// a seccomp filter is in force (`Seccomp: 2` in /proc/self/status). It also leaves an orphan that
// burns 50 ms of CPU: the run's usage counts it only if the init reaps the whole tree. Each
// protection is listed as active only on that evidence, never assumed from the presence of a
// binary. A machine that lacks one is announced once on stderr (per Sandbox), loudly.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

public struct SandboxProtections: Sendable, CustomStringConvertible {
    public enum Mode: Sendable, Equatable {
        /// Root: each run drops to a slot uid, then bubblewrap namespaces, then rlimits.
        case rootDropped
        /// Ordinary user: bubblewrap's user namespace, then rlimits.
        case userNamespace
        /// No namespaces (allowed by `allowUnprotected`): rlimits, timeout, private directory.
        case unprotected
        /// Nothing runs: the reason.
        case unavailable(String)

        var isProtected: Bool {
            switch self {
            case .rootDropped, .userNamespace: true
            default: false
            }
        }
    }

    public var mode: Mode
    /// Protections verified by the probe, one phrase each.
    public var active: [String]
    /// Protections the design asks for that this machine does not give.
    public var missing: [String]

    public var description: String {
        var lines = ["mode: \(modeName)"]
        lines += active.map { "  active:  \($0)" }
        lines += missing.map { "  MISSING: \($0)" }
        return lines.joined(separator: "\n")
    }

    public var modeName: String {
        switch mode {
        case .rootDropped: "root, dropping to a per-slot uid, bubblewrap namespaces, rlimits"
        case .userNamespace: "ordinary user, bubblewrap user namespace, rlimits"
        case .unprotected: "UNPROTECTED (rlimits and timeout only)"
        case .unavailable(let why): "UNAVAILABLE: \(why)"
        }
    }

    func announceIfIncomplete() {
        guard !missing.isEmpty || !mode.isProtected else { return }
        let text = "\n*** PONDER SANDBOX WARNING ***\n\(description)\n*** untrusted code "
            + (mode.isProtected || mode == .unprotected ? "runs with the protections above only" : "will not run")
            + " ***\n\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// The program the probe runs; prints one JSON object.
    static let probeSource = """
    import os, json, socket, resource, time
    r = {"uid": os.getuid(), "pid": os.getpid()}
    # An orphan (its parent exits at once) that burns 50 ms of CPU; we wait for it through a pipe.
    done, hold = os.pipe()
    if os.fork() == 0:
        if os.fork() == 0:
            os.close(done)
            start = time.process_time()
            while time.process_time() - start < \(SandboxProtections.orphanCPUSeconds): pass
            os._exit(0)
        os._exit(0)
    os.close(hold)
    os.wait()
    os.read(done, 1)
    r["own_cpu_ms"] = time.process_time() * 1000
    status = open("/proc/self/status").read().splitlines()
    r["seccomp"] = [line.split()[1] for line in status if line.startswith("Seccomp:")]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(("1.1.1.1", 53)); r["net"] = "reachable"
    except OSError as e:
        r["net"] = type(e).__name__ + ":" + str(e.errno)
    r["etc"] = os.path.exists("/etc/passwd")
    r["usr_writable"] = os.access("/usr", os.W_OK)
    r["home_visible"] = os.path.exists("/root") or os.path.exists("/home")
    r["cwd_files"] = os.listdir(".")
    r["env"] = sorted(os.environ)
    names = ["CPU", "AS", "NPROC", "FSIZE", "NOFILE"]
    r["limits"] = {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n))[0] for n in names}
    print(json.dumps(r))
    """

    /// CPU seconds the probe's orphan burns.
    static let orphanCPUSeconds = 0.05

    static func probe(_ config: SandboxConfig, launcher: Launcher) -> SandboxProtections {
        let isRoot = geteuid() == 0
        var missing: [String] = []
        for (tool, path) in [("python3", config.python), ("prlimit", config.prlimit)]
        where access(path, X_OK) != 0 {
            return SandboxProtections(mode: .unavailable("\(tool) not found at \(path)"), active: [], missing: ["\(tool)"])
        }
        if isRoot && access(config.setpriv, X_OK) != 0 {
            return SandboxProtections(mode: .unavailable("setpriv not found at \(config.setpriv): as root, runs must drop to another uid"),
                                      active: [], missing: ["uid drop"])
        }
        var limits = SandboxLimits(wallSeconds: 5)
        limits.processes = 16
        let program = SandboxProgram(probeSource, limits: limits)
        let wanted: SandboxProtections.Mode = isRoot ? .rootDropped : .userNamespace
        var why = "bubblewrap not found at \(config.bwrap)"
        if access(config.bwrap, X_OK) == 0 {
            let result = runProbe(program, mode: wanted, launcher: launcher)
            if let p = parse(result, mode: wanted, launcher: launcher) { return p }
            why = "bubblewrap failed: \(result.outcome) \(result.stderr.prefix(300))"
        }
        missing.append("namespaces (\(why))")
        guard config.allowUnprotected else {
            return SandboxProtections(mode: .unavailable(why), active: [], missing: missing)
        }
        let result = runProbe(program, mode: .unprotected, launcher: launcher)
        guard result.outcome == .ok, let p = parse(result, mode: .unprotected, launcher: launcher) else {
            return SandboxProtections(mode: .unavailable("even the unprotected probe failed: \(result.outcome)"),
                                      active: [], missing: missing)
        }
        return SandboxProtections(mode: .unprotected, active: p.active, missing: missing + p.missing)
    }

    private static func runProbe(_ program: SandboxProgram, mode: Mode, launcher: Launcher) -> SandboxResult {
        let lease: UIDLease
        switch UIDLease.acquire(base: launcher.config.uidBase, slot: 0, stride: 1) {
        case .success(let l): lease = l
        case .failure(let error): return .unavailable(error.description)
        }
        defer { lease.release() }
        return executeProgram(program, uid: lease.uid, mode: mode, launcher: launcher)
    }

    private static func parse(_ result: SandboxResult, mode: Mode, launcher: Launcher) -> SandboxProtections? {
        let config = launcher.config
        guard result.outcome == .ok,
              let data = result.stdout.split(separator: "\n").last.map({ Data($0.utf8) }),
              let r = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        var active: [String] = [], missing: [String] = []
        func note(_ ok: Bool, _ what: String) { ok ? active.append(what) : missing.append(what) }
        let uid = r["uid"] as? Int ?? -1
        if mode == .rootDropped {
            note(uid >= config.uidBase && uid < config.uidBase + 4096, "runs as a non-root uid per slot (uid \(uid)), so the process limit holds")
        } else if mode == .userNamespace {
            note(uid != 0, "runs as the invoking user (uid \(uid)) in its own user namespace")
        } else {
            note(uid != 0, "runs as a non-root uid (\(uid))")
        }
        note((r["pid"] as? Int ?? 99) < 10, "own PID namespace: no other process visible, all killed with the run")
        note((r["net"] as? String ?? "reachable") != "reachable", "no network: own network namespace (\(r["net"] ?? "?"))")
        note(!(r["etc"] as? Bool ?? true) && !(r["home_visible"] as? Bool ?? true),
             "file system: only /usr visible (read-only); /etc, /root, /home and the lab are invisible")
        note(!(r["usr_writable"] as? Bool ?? true), "/usr read-only")
        note((r["cwd_files"] as? [Any])?.isEmpty ?? false, "empty private working directory (tmpfs, size-capped)")
        note((r["env"] as? [String] ?? ["?"]).allSatisfy { ["PATH", "HOME", "LANG", "PYTHONIOENCODING", "LC_CTYPE", "PWD"].contains($0) },
             "scrubbed environment (PATH, HOME, LANG, PYTHONIOENCODING, PWD only)")
        let lim = r["limits"] as? [String: Int] ?? [:]
        let limitsOK = lim["CPU"] == 5 && lim["NPROC"] == 16 && (lim["AS"] ?? -1) > 0 && (lim["FSIZE"] ?? -1) > 0 && (lim["NOFILE"] ?? -1) > 0
        note(limitsOK, "rlimits: CPU time, address space, processes, file size, open files")
        active.append("wall-clock timeout kills the whole process group; output capped; stdin is /dev/null")
        let seccompInForce = (r["seccomp"] as? [String]) == ["2"]
        if mode == .unprotected {
            missing.append("seccomp filter (it is loaded by bubblewrap)")
        } else if let problem = launcher.seccompProblem {
            missing.append("seccomp filter (\(problem))")
        } else {
            note(seccompInForce, SeccompFilter.summary())
        }
        // The orphan's CPU on top of the probe's own (its forked child's few milliseconds aside).
        let cpu = result.usage.cpuMilliseconds, own = r["own_cpu_ms"] as? Double ?? 0
        let orphan = orphanCPUSeconds * 1000
        if let problem = launcher.initProblem, mode != .unprotected {
            missing.append("usage figures of the program's own processes (\(problem))")
        } else {
            note(cpu >= own + 0.9 * orphan, "usage figures cover the program's whole process tree "
                 + "(\(Int(cpu)) ms of CPU: the probe's own \(Int(own)) ms and an orphan's \(Int(orphan)) ms)")
        }
        return SandboxProtections(mode: mode, active: active, missing: missing)
    }
}
