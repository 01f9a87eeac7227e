// Spawning one sandboxed process and collecting what it leaves, within a deadline.
//
// posix_spawn, not Foundation's Process: we need the child in its own process group, a clean
// signal mask, exact control of inherited descriptors (pipes are made close-on-exec, so runs on
// other threads never inherit each other's pipes and EOF arrives when it should), and wait4's
// resource usage. The reader polls the pipes until end-of-file, the output cap or the deadline;
// at the deadline it kills the process group, and never waits for end-of-file again (a daemon
// that escaped would otherwise hold the pipe open forever). When the root runs the sandbox's init,
// the program's processes are killed first and the init left to reap them and exit, so that their
// usage still reaches our wait4 (see `stop` below).
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What the raw process did, before classification.
struct RawRun: Sendable {
    var exitCode: Int32?          // set when it exited
    var signal: Int32?            // set when a signal ended it
    var stdout = [UInt8]()
    var stderr = [UInt8]()
    var report = [UInt8]()        // fd 3, when requested
    var usageLine = [UInt8]()     // fd 7, when requested: what the sandbox's init reported
    var timedOut = false          // we killed it at the wall-clock deadline
    var outputCapped = false      // we killed it for printing too much
    var wallSeconds = 0.0
    var cpuSeconds = 0.0          // user + system of it and its reaped descendants
    var maxRSSKiB = 0             // the largest of it and its reaped descendants
    var spawnError: String?
}

/// The descriptors a run's launcher starts with besides 0-2.
enum LauncherFD {
    static let report: Int32 = 3       // the program's report channel, a pipe we read
    static let secret: Int32 = 4       // a per-run secret the program reads once
    static let seccomp: Int32 = 5      // bubblewrap reads the syscall filter from it, then closes it
    static let initProgram: Int32 = 6  // bubblewrap binds the sandbox's init from it, then closes it
    static let usage: Int32 = 7        // the sandbox's init reports the run's usage on it, a pipe we read
}

/// What one of the child's extra descriptors holds.
enum SpawnInput {
    /// A pipe holding these bytes, then end-of-file. At most 64 KiB (a pipe's buffer): they are
    /// written before the spawn.
    case bytes([UInt8])
    /// The file at this path, opened O_PATH: bubblewrap binds it (`--ro-bind-fd`) without the
    /// sandbox's uid having to reach the path.
    case path(String)
}

struct SpawnRequest {
    var executable: String
    var arguments: [String]       // argv[1...]
    var environment: [String]     // for the launcher chain only; the program's own is set by bwrap
    var wallSeconds: Double
    var outputBytes: Int
    var wantReport = false        // give the child fd 3 (LauncherFD.report), a pipe we read
    var wantUsage = false         // give the child fd 7 (LauncherFD.usage), a pipe we read
    var inputs: [Int32: SpawnInput] = [:]  // child fd (4 or more) -> what it holds
    var rootChildIsInit = false   // the root's one child is the sandbox's init (Sources/SandboxInit)
}

// Swift's Glibc module hides the GNU extensions pipe2 and posix_spawn_file_actions_addclosefrom_np
// (glibc 2.34+); look them up once. pipe2 makes both ends close-on-exec atomically, so a spawn on
// another thread can never inherit them; closefrom is a second guard against any stray descriptor.
private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
private let pipe2Function: Pipe2? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2")
    .map { unsafeBitCast($0, to: Pipe2.self) }
private let closeFromFunction: CloseFrom? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
    .map { unsafeBitCast($0, to: CloseFrom.self) }

/// `fd` moved to 10 or above, close-on-exec: the child's dup2 onto 0...9 must never overwrite a source.
private func moveHigh(_ fd: Int32) -> Int32? {
    let high = fcntl(fd, F_DUPFD_CLOEXEC, 10)
    close(fd)
    return high >= 0 ? high : nil
}

// O_PATH (Linux): a descriptor that names a file without opening it for reading. Swift's Glibc
// module hides it (a GNU extension). The value is asm-generic's, used by x86-64 and arm64.
private let openPathOnly: Int32 = 0o10_000_000

private func makePipe() -> (read: Int32, write: Int32)? {
    var fds: [Int32] = [-1, -1]
    if let pipe2Function {
        guard pipe2Function(&fds, O_CLOEXEC) == 0 else { return nil }
    } else {
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }
    guard let read = moveHigh(fds[0]) else { close(fds[1]); return nil }
    guard let write = moveHigh(fds[1]) else { close(read); return nil }
    return (read, write)
}

private func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func spawnAndCollect(_ request: SpawnRequest) -> RawRun {
    var run = RawRun()
    let start = monotonicSeconds()
    var opened: [Int32] = []
    defer { for fd in opened { close(fd) } }

    guard let out = makePipe(), let err = makePipe() else {
        run.spawnError = "pipe: \(String(cString: strerror(errno)))"
        return run
    }
    opened += [out.read, out.write, err.read, err.write]
    var usagePipe: (read: Int32, write: Int32)?
    if request.wantUsage {
        guard let p = makePipe() else { run.spawnError = "pipe failed"; return run }
        usagePipe = p
        opened += [p.read, p.write]
    }
    var rep: (read: Int32, write: Int32)?
    if request.wantReport {
        guard let p = makePipe() else { run.spawnError = "pipe failed"; return run }
        rep = p
        opened += [p.read, p.write]
    }
    // The child's ends of the inputs, by child fd; closed here once the child has them.
    var inputEnds: [Int32: Int32] = [:]
    for (target, input) in request.inputs.sorted(by: { $0.key < $1.key }) {
        switch input {
        case .bytes(let bytes):
            guard bytes.count < 65_536, let p = makePipe() else { run.spawnError = "pipe for fd \(target) failed"; return run }
            opened += [p.read, p.write]
            let written = bytes.withUnsafeBytes { write(p.write, $0.baseAddress, bytes.count) }
            guard written == bytes.count else { run.spawnError = "writing fd \(target)'s pipe failed"; return run }
            close(p.write)
            opened.removeAll { $0 == p.write }
            inputEnds[target] = p.read
        case .path(let path):
            let fd = open(path, openPathOnly | O_CLOEXEC)
            guard fd >= 0, let high = moveHigh(fd) else {
                run.spawnError = "cannot open \(path): \(String(cString: strerror(errno)))"
                return run
            }
            opened.append(high)
            inputEnds[target] = high
        }
    }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, out.write, 1)
    posix_spawn_file_actions_adddup2(&actions, err.write, 2)
    if let rep { posix_spawn_file_actions_adddup2(&actions, rep.write, LauncherFD.report) }
    if let usagePipe { posix_spawn_file_actions_adddup2(&actions, usagePipe.write, LauncherFD.usage) }
    for (target, source) in inputEnds { posix_spawn_file_actions_adddup2(&actions, source, target) }
    if let closeFromFunction { _ = closeFromFunction(&actions, max(LauncherFD.usage, inputEnds.keys.max() ?? 0) + 1) }

    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attr, &noSignals)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for s in [SIGPIPE, SIGXFSZ, SIGXCPU, SIGINT, SIGTERM, SIGCHLD] { sigaddset(&defaults, s) }
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setpgroup(&attr, 0)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv = ([request.executable] + request.arguments).map { strdup($0) } + [nil]
    let envp = request.environment.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) }; for p in envp { free(p) } }

    var pid: pid_t = 0
    let rc = posix_spawn(&pid, request.executable, &actions, &attr, argv, envp)
    guard rc == 0 else {
        run.spawnError = "posix_spawn \(request.executable): \(String(cString: strerror(rc)))"
        return run
    }
    // Our copies of the child's ends must go, or end-of-file never comes.
    for fd in [out.write, err.write, rep?.write, usagePipe?.write].compactMap({ $0 }) + Array(inputEnds.values) {
        close(fd)
        opened.removeAll { $0 == fd }
    }

    let deadline = start + request.wallSeconds
    var sources: [(fd: Int32, which: Int)] = [(out.read, 0), (err.read, 1)]
    if let rep { sources.append((rep.read, 2)) }
    if let usagePipe { sources.append((usagePipe.read, 3)) }
    for s in sources { _ = fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK) }
    var status: Int32 = 0
    var usage = rusage()
    var reaped = false
    var exitedAt: Double?
    var buffer = [UInt8](repeating: 0, count: 65_536)

    // Once reaped, the root's pid may be reused by an unrelated process: only the group (which
    // Linux never reuses while a member lives) may still be signalled then.
    func killGroup() {
        kill(-pid, SIGKILL)
        if !reaped { kill(pid, SIGKILL) }
    }

    // Wait up to `seconds` for the root to exit by itself; whether it did.
    func awaitRoot(_ seconds: Double) -> Bool {
        let until = monotonicSeconds() + seconds
        while !reaped && monotonicSeconds() < until {
            if wait4(pid, &status, WNOHANG, &usage) == pid { reaped = true } else { usleep(1000) }
        }
        return reaped
    }

    // Killing the init would lose the usage of every process still running: a dying PID 1 reaps
    // its namespace with SIGCHLD ignored, and the kernel discards what it reaps that way. So the
    // init's children go first; the init reaps them, ends the rest, reaps those and exits; the root
    // reaps it and exits. The init itself is killed only if that takes more than half a second.
    func stop() {
        if !reaped && request.rootChildIsInit {
            let inits = children(of: pid)
            for sandboxInit in inits {
                for process in children(of: sandboxInit) { kill(process, SIGKILL) }
            }
            if !inits.isEmpty && !awaitRoot(0.5) {
                for sandboxInit in inits { kill(sandboxInit, SIGKILL) }
                _ = awaitRoot(0.2)
            }
        }
        killGroup()
    }

    collect: while true {
        let now = monotonicSeconds()
        if now >= deadline { run.timedOut = true; stop(); break }
        if sources.isEmpty { break }
        var pfds = sources.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let waitMs = Int32(max(1, min(20, (deadline - now) * 1000)))
        let n = poll(&pfds, nfds_t(pfds.count), waitMs)
        if n < 0 && errno != EINTR { break }
        var closed: [Int32] = []
        for (i, p) in pfds.enumerated() where p.revents != 0 {
            let count = read(p.fd, &buffer, buffer.count)
            if count > 0 {
                let chunk = buffer[0..<count]
                switch sources[i].which {
                case 0: run.stdout += chunk
                case 1: run.stderr += chunk
                case 2: if run.report.count < 4 << 20 { run.report += chunk }
                default: if run.usageLine.count < 256 { run.usageLine += chunk }
                }
                if run.stdout.count + run.stderr.count > request.outputBytes {
                    run.outputCapped = true
                    stop()
                    break collect
                }
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                closed.append(p.fd)
            }
        }
        sources.removeAll { closed.contains($0.fd) }
        // An exited root whose pipes stay open means a descendant escaped (only possible
        // without a PID namespace): drain briefly, then stop reading.
        if !reaped {
            let w = wait4(pid, &status, WNOHANG, &usage)
            if w == pid { reaped = true; exitedAt = monotonicSeconds() }
        }
        if let exitedAt, monotonicSeconds() - exitedAt > 0.05 { killGroup(); break }
    }
    if !reaped {
        if !run.timedOut && !run.outputCapped {
            // Pipes closed: the root is exiting. Wait for it, but never past the deadline.
            while true {
                let w = wait4(pid, &status, WNOHANG, &usage)
                if w == pid { reaped = true; break }
                if w < 0 && errno != EINTR { break }
                if monotonicSeconds() >= deadline { run.timedOut = true; stop(); break }
                usleep(500)
            }
        }
        if !reaped {
            while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        }
    }
    // Stopped early (deadline, output cap): the init wrote its usage line as it exited, and it
    // has exited by now, after we stopped reading.
    if let usagePipe, sources.contains(where: { $0.fd == usagePipe.read }) {
        while run.usageLine.count < 256 {
            let count = read(usagePipe.read, &buffer, 256)
            if count > 0 { run.usageLine += buffer[0..<count] } else if count < 0 && errno == EINTR { continue } else { break }
        }
    }
    run.wallSeconds = monotonicSeconds() - start
    run.cpuSeconds = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
    run.maxRSSKiB = Int(usage.ru_maxrss)
    if status & 0x7f == 0 {
        run.exitCode = (status >> 8) & 0xff
    } else {
        run.signal = status & 0x7f
    }
    return run
}

/// The children of `pid` (from /proc/PID/task/PID/children); empty when it has none or is gone.
private func children(of pid: pid_t) -> [pid_t] {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else { return [] }
    return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
}

func monotonicNow() -> Double { monotonicSeconds() }
