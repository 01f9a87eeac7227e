// The sandbox's uids stay apart from the host's (as root; an ordinary user leases no uid):
// a lock file cannot be pointed elsewhere, a uid that an account or a running process of the
// machine holds is skipped, and the clean-up after a failed run never kills a host process.
import Foundation
import Testing
import Environments
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SandboxUIDTests {
    let lockDirectory = "/run/ponder-sandbox"
    let whoami = SandboxProgram("import os\nprint(os.getuid())")

    /// One slot from `base`: its candidates are base, base + 1, ...
    func sandbox(base: Int) -> Sandbox {
        var config = SandboxConfig()
        config.uidBase = base
        config.slots = 1
        return Sandbox(config: config)
    }

    /// A base nobody else is likely to use, different for each test and each test run.
    func freshBase(_ test: Int) -> Int { 62_000 + 1000 * test + 10 * Int.random(in: 0..<90) }

    /// The uids in a /etc/passwd or /etc/group style file (third field).
    func ids(in file: String) -> Set<Int> {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return Set(text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            return fields.count > 2 ? Int(fields[2]) : nil
        })
    }

    /// The real uid of a process, from its status file; nil once it is gone.
    func uid(of pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return nil }
        return Int(line.split(whereSeparator: { $0 == "\t" || $0 == " " })[1])
    }

    /// Any process running under `uid`.
    func anyProcess(of uid: Int) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.contains { pid_t($0).map { self.uid(of: $0) == uid } ?? false }
    }

    /// A host process (in our own PID namespace) that runs `sleep 30` under `uid`.
    func hostSleeper(uid: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--", "/usr/bin/sleep", "30"]
        try process.run()
        let until = Date().addingTimeInterval(5)
        while self.uid(of: process.processIdentifier) != uid && Date() < until { usleep(2000) }
        return process
    }

    func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    @Test func symbolicLinkAtALockPathIsNotFollowed() throws {
        guard geteuid() == 0 else { return }
        _ = Sandbox.shared  // creates the lock directory
        let base = freshBase(1)
        let missing = "/tmp/ponder-lock-target-\(getpid())-\(base)"
        let existing = missing + "-existing"
        try "keep me".write(toFile: existing, atomically: false, encoding: .utf8)
        symlink(missing, "\(lockDirectory)/uid-\(base).lock")
        symlink(existing, "\(lockDirectory)/uid-\(base + 1).lock")
        defer {
            for uid in base...(base + 2) { unlink("\(lockDirectory)/uid-\(uid).lock") }
            unlink(existing)
        }
        let sandbox = sandbox(base: base)
        #expect(sandbox.protections.missing.isEmpty, "\(sandbox.protections)")
        let r = sandbox.run(whoami)
        #expect(r.outcome == .ok && r.stdout == "\(base + 2)\n", "\(r.outcome) \(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect((try? String(contentsOfFile: existing, encoding: .utf8)) == "keep me")

        // With every candidate a symbolic link, the sandbox refuses and says why.
        let all = freshBase(2)
        for k in 0..<64 { symlink(missing, "\(lockDirectory)/uid-\(all + k).lock") }
        defer { for k in 0..<64 { unlink("\(lockDirectory)/uid-\(all + k).lock") } }
        let refused = self.sandbox(base: all)
        guard case .unavailable(let why) = refused.protections.mode else {
            Issue.record("expected no usable uid: \(refused.protections)")
            return
        }
        #expect(why.contains("uid-\(all).lock is a symbolic link"), "\(why)")
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test func uidsOfAccountsAndGroupsAreSkipped() {
        guard geteuid() == 0 else { return }
        let taken = ids(in: "/etc/passwd").union(ids(in: "/etc/group"))
        // The first account id of 100 or more, so that the next free one is near.
        guard let account = taken.filter({ $0 >= 100 && $0 < 60_000 }).min() else { return }
        let expected = (account...).first { !taken.contains($0) }!
        guard expected - account < 64 else { return }
        let r = sandbox(base: account).run(whoami)
        #expect(r.outcome == .ok && r.stdout == "\(expected)\n", "\(r.outcome) \(r.stdout)")
    }

    @Test func uidOfARunningHostProcessIsSkippedAndSpared() throws {
        guard geteuid() == 0 else { return }
        let base = freshBase(3)
        let sleeper = try hostSleeper(uid: base)
        defer { stop(sleeper) }
        #expect(uid(of: sleeper.processIdentifier) == base)
        let sandbox = sandbox(base: base)
        let r = sandbox.run(whoami)
        #expect(r.outcome == .ok && r.stdout == "\(base + 1)\n", "\(r.outcome) \(r.stdout)")
        // A failed run's clean-up runs too; the sleeper's uid was never the run's.
        var limits = SandboxLimits(wallSeconds: 0.5)
        limits.cpuSeconds = 5
        #expect(sandbox.run(SandboxProgram("while True: pass", limits: limits)).outcome == .timeout("wall"))
        #expect(sleeper.isRunning)
    }

    @Test func cleanUpAfterAFailedRunSparesAHostProcessThatTookItsUid() throws {
        guard geteuid() == 0 else { return }
        let base = freshBase(4)
        let sandbox = sandbox(base: base)
        var limits = SandboxLimits(wallSeconds: 1.5)
        limits.cpuSeconds = 10
        let program = SandboxProgram("import time\ntime.sleep(30)", limits: limits)
        let result = ResultSlot()
        let finished = DispatchSemaphore(value: 0)
        Thread {
            result.value = sandbox.run(program)
            finished.signal()
        }.start()
        // Once the run holds the uid, a host process takes it too.
        let until = Date().addingTimeInterval(10)
        while !anyProcess(of: base) && Date() < until { usleep(5000) }
        #expect(anyProcess(of: base), "the run never started under uid \(base)")
        let sleeper = try hostSleeper(uid: base)
        defer { stop(sleeper) }
        finished.wait()
        #expect(result.value?.outcome == .timeout("wall"), "\(String(describing: result.value?.outcome))")
        usleep(100_000)
        #expect(sleeper.isRunning, "the clean-up killed a host process of uid \(base)")
    }
}

/// A result handed from the thread that ran it (read only after the semaphore).
private final class ResultSlot: @unchecked Sendable {
    var value: SandboxResult?
}
