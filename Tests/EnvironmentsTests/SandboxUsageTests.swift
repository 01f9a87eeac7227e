// Usage figures are the program's own, its whole process tree, and a program cannot hide from them.
// Programs burn CPU by process time (not wall time), so a busy machine slows them but cannot
// shrink what they burn; the thresholds sit well below what each burns and far above the launcher's
// few milliseconds, the figure these runs reported before the sandbox had its own init.
import Foundation
import Testing
import Environments
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SandboxUsageTests {
    let sandbox = Sandbox.shared

    /// A limit generous enough for a loaded machine: seconds of CPU can take several of wall time.
    func limits(wall: Double = 30, cpu: Int = 10) -> SandboxLimits {
        var limits = SandboxLimits(wallSeconds: wall)
        limits.cpuSeconds = cpu
        return limits
    }

    /// Python that burns `seconds` of its own CPU time.
    func burn(_ seconds: Double, indent: String = "") -> String {
        "\(indent)_start = time.process_time()\n\(indent)while time.process_time() - _start < \(seconds): pass\n"
    }

    @Test func cpuOfTheProgramItself() {
        let r = sandbox.run(SandboxProgram("import time\n" + burn(1.5), limits: limits()))
        #expect(r.outcome == .ok, "\(r.outcome) \(r.stderr.suffix(300))")
        #expect(r.usage.cpuMilliseconds >= 1000, "cpu_ms \(r.usage.cpuMilliseconds)")
        // CPU cannot exceed what one process can burn in the wall time by much (one thread here).
        #expect(r.usage.cpuMilliseconds <= r.usage.wallMilliseconds + 100, "\(r.usage)")
    }

    @Test func cpuOfChildrenWaitedForOrOrphaned() {
        let waited = SandboxProgram("""
        import os, time
        pid = os.fork()
        if pid == 0:
        \(burn(1.0, indent: "    "))    os._exit(0)
        os.waitpid(pid, 0)
        """, limits: limits())
        // The child exits at once; the grandchild, an orphan, burns; the program waits on a pipe.
        let orphaned = SandboxProgram("""
        import os, time
        done, hold = os.pipe()
        if os.fork() == 0:
            if os.fork() == 0:
                os.close(done)
        \(burn(1.0, indent: "        "))        os._exit(0)
            os._exit(0)
        os.close(hold)
        os.wait()
        os.read(done, 1)
        """, limits: limits())
        let results = sandbox.run([waited, orphaned])
        for (name, r) in zip(["waited-for child", "orphaned grandchild"], results) {
            #expect(r.outcome == .ok, "\(name): \(r.outcome) \(r.stderr.suffix(300))")
            #expect(r.usage.cpuMilliseconds >= 800, "\(name): cpu_ms \(r.usage.cpuMilliseconds)")
        }
    }

    @Test func peakMemoryOfTheProgram() {
        // Filled, not just reserved, so the pages are resident.
        let results = sandbox.run([
            SandboxProgram("x = bytearray(b'\\x01') * (200 << 20)\nprint(len(x))", limits: limits()),
            SandboxProgram("print(1)"),
        ])
        let (big, small) = (results[0], results[1])
        #expect(big.outcome == .ok && big.stdout == "\(200 << 20)\n", "\(big.outcome) \(big.stderr.suffix(300))")
        #expect(big.usage.maxResidentKiB >= 150_000, "max_rss_kib \(big.usage.maxResidentKiB)")
        // Python's own ~10 MB, not the size of the process that launched it (which the launcher,
        // started as its copy, would otherwise carry as its peak).
        var own = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        #expect(small.usage.maxResidentKiB < 30_000, "max_rss_kib \(small.usage.maxResidentKiB); this process: \(own.ru_maxrss)")
    }

    @Test func cpuOfARunKilledAtTheDeadline() {
        // Parent and child each burn 0.2 s of CPU, say so, and spin until the wall clock ends the
        // run. The CPU they said they burned must be in the figure; how many got that far depends
        // on the machine's load (`make test` runs training suites beside this one), not on the lab.
        let r = sandbox.run(SandboxProgram("""
        import os, time
        os.fork()
        start = time.process_time()
        while time.process_time() - start < 0.2: pass
        os.write(1, b"burned\\n")
        while True: pass
        """, limits: limits(wall: 2.5)))
        #expect(r.outcome == .timeout("wall"), "\(r.outcome)")
        let burned = r.stdout.components(separatedBy: "burned").count - 1
        #expect(r.usage.cpuMilliseconds >= Double(200 * burned), "cpu_ms \(r.usage.cpuMilliseconds), \(burned) processes burned 200 ms")
        #expect(r.usage.cpuMilliseconds > 0)
        #expect(r.usage.wallMilliseconds < 2500 + 1500, "\(r.usage.wallMilliseconds) ms")
    }

    @Test func hostileProgramsCannotHideTheirUsage() {
        let programs = [
            // PID 1 of the namespace is the init; a SIGKILL from inside is dropped.
            ("kill the init, then burn", "import os, signal, time\nfor pid in (1, os.getppid()):\n    os.kill(pid, signal.SIGKILL)\n" + burn(1.0)),
            // Ignoring SIGCHLD would make the kernel discard the child's usage: the filter refuses it.
            ("ignore SIGCHLD, then a child burns", """
             import os, signal, time
             try:
                 signal.signal(signal.SIGCHLD, signal.SIG_IGN)
                 print("ignored")
             except OSError as e:
                 print("refused", e.errno)
             pid = os.fork()
             if pid == 0:
             \(burn(1.0, indent: "    "))    os._exit(0)
             os.waitpid(pid, 0)
             """),
            ("write the init's memory", """
             try:
                 open("/proc/1/mem", "r+b"); print("opened")
             except OSError as e:
                 print("refused", e.errno)
             """),
            // The init reports on fd 7, closed before the program starts, and its /proc/1/fd is closed.
            ("forge the usage report", """
             import os
             for fd in [7] + list(range(3, 64)):
                 try: os.write(fd, b"0 0\\n")
                 except OSError: pass
             try:
                 os.listdir("/proc/1/fd"); print("listed")
             except OSError as e:
                 print("refused", e.errno)
             import time
             \(burn(1.0))
             """),
        ]
        let results = sandbox.run(programs.map { SandboxProgram($0.1, limits: limits()) })
        let byName = Dictionary(uniqueKeysWithValues: zip(programs.map(\.0), results))
        for (name, r) in byName {
            #expect(r.outcome == .ok, "\(name): \(r.outcome) \(r.stderr.suffix(300))")
        }
        #expect(byName["kill the init, then burn"]!.usage.cpuMilliseconds >= 800)
        #expect(byName["ignore SIGCHLD, then a child burns"]!.stdout == "refused 1\n")
        #expect(byName["ignore SIGCHLD, then a child burns"]!.usage.cpuMilliseconds >= 800)
        #expect(byName["write the init's memory"]!.stdout == "refused 13\n")
        #expect(byName["forge the usage report"]!.stdout == "refused 13\n")
        #expect(byName["forge the usage report"]!.usage.cpuMilliseconds >= 800)
    }

    @Test func withoutTheInitRunsGoOnAndTheGapIsReported() {
        var config = SandboxConfig()
        config.initProgram = "/nonexistent/ponder-sandbox-init"
        let degraded = Sandbox(config: config)
        #expect(degraded.protections.missing.contains { $0.contains("ponder-sandbox-init not found at /nonexistent") },
                "\(degraded.protections)")
        let r = degraded.run(SandboxProgram("print(1)"))
        #expect(r.outcome == .ok && r.stdout == "1\n" && r.protected)
    }
}
