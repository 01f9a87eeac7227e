// The hostile-program suite: every program ends classified, quickly, and harmless.
// All programs run at once (as GRPO would run them), each with a 2 s wall clock.
import Foundation
import Testing
import PonderCore
import Environments
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SandboxTests {
    let sandbox = Sandbox.shared

    /// A listening socket on the host's 127.0.0.1 that the sandbox must not reach.
    func hostListener() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 4)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    @Test func protectionsAreActiveHere() {
        #expect(sandbox.protections.mode == (geteuid() == 0 ? .rootDropped : .userNamespace), "\(sandbox.protections)")
        #expect(sandbox.protections.missing.isEmpty, "\(sandbox.protections)")
    }

    @Test func hostilePrograms() throws {
        let (listener, port) = hostListener()
        defer { close(listener) }
        let marker = "ponder-daemon-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let secret = FileManager.default.currentDirectoryPath + "/.ponder-test-secret-\(getpid())"
        FileManager.default.createFile(atPath: secret, contents: Data("secret".utf8))
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let database = FileManager.default.currentDirectoryPath + "/ponder.sqlite"

        var limits = SandboxLimits(wallSeconds: 2)
        limits.cpuSeconds = 5
        // A generous wall clock: on a busy machine one CPU second can take several wall seconds.
        var cpuLimits = SandboxLimits(wallSeconds: 20)
        cpuLimits.cpuSeconds = 1
        let cases: [(name: String, source: String, limits: SandboxLimits, expect: (SandboxOutcome) -> Bool)] = [
            ("infinite loop", "while True: pass", limits, { $0 == .timeout("wall") }),
            ("cpu burner", "while True: pass", cpuLimits, { $0 == .timeout("cpu") }),
            ("fork bomb", """
             import os
             while True:
                 try: os.fork()
                 except OSError: pass
             """, limits, { $0.name == "timeout" || $0.name == "killed" || $0.name == "error" }),
            ("8 GiB allocation", "x = bytearray(8 << 30)\nprint('allocated')", limits, { $0 == .memory }),
            ("1 GiB file", """
             with open("big", "wb") as f:
                 for _ in range(1024): f.write(b"x" * (1 << 20))
             """, limits, { $0.name == "error" && $0.detail.contains("File too large") }),
            ("write outside", """
             import os
             ok = []
             for p in ["/usr/ponder-evil", "/etc/ponder-evil", "/root/ponder-evil", "/work/ponder-evil", "/sandbox/evil", "/ponder-evil"]:
                 try:
                     open(p, "w").write("x"); ok.append(p)
                 except OSError: pass
             print("wrote", ok)
             """, limits, { $0 == .ok }),
            ("read secrets", """
             found = []
             for p in ["/etc/shadow", "/etc/passwd", "\(secret)", "\(database)", "/root/.bash_history"]:
                 try:
                     open(p).read(); found.append(p)
                 except OSError: pass
             print("read", found)
             """, limits, { $0 == .ok }),
            ("socket to 127.0.0.1", """
             import socket
             socket.create_connection(("127.0.0.1", \(port)), timeout=1)
             """, limits, { $0.name == "error" && $0.detail.contains("ConnectionRefused") }),
            ("socket to a public address", """
             import socket
             socket.create_connection(("1.1.1.1", 443), timeout=1)
             """, limits, { $0.name == "error" && ($0.detail.contains("unreachable") || $0.detail.contains("timed out")) }),
            ("print 100 MB", "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))", limits, { $0 == .outputLimit }),
            ("sleep forever, stdout closed", "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(10**6)", limits, { $0 == .timeout("wall") }),
            ("kill its parent", """
             import os, signal
             for pid in (os.getppid(), 1, -1):
                 try: os.kill(pid, signal.SIGKILL)
                 except OSError: pass
             print("still here")
             """, limits, { $0 == .ok || $0.name == "killed" }),
            ("background process", """
             import os
             if os.fork() == 0:
                 os.setsid()
                 if os.fork() == 0:
                     os.execv("/bin/sh", ["sh", "-c", "sleep 30; : \(marker)"])
                 os._exit(0)
             print("parent done")
             """, limits, { $0 == .ok }),
        ]
        let start = Date()
        let results = sandbox.run(cases.map { SandboxProgram($0.source, limits: $0.limits) })
        let elapsed = Date().timeIntervalSince(start)
        for (c, r) in zip(cases, results) {
            #expect(c.expect(r.outcome), "\(c.name): \(r.outcome) stderr: \(r.stderr.suffix(300))")
            // Killed at its deadline, reaped at once: never much past the wall clock.
            #expect(r.usage.wallMilliseconds < c.limits.wallSeconds * 1000 + 1500, "\(c.name) took \(r.usage.wallMilliseconds) ms")
            #expect(r.protected)
        }
        #expect(elapsed < 30)
        let byName = Dictionary(uniqueKeysWithValues: zip(cases.map(\.name), results))
        #expect(byName["write outside"]?.stdout == "wrote []\n")
        #expect(byName["read secrets"]?.stdout == "read []\n")
        #expect(byName["kill its parent"]?.stdout == "still here\n")
        #expect((byName["print 100 MB"]?.usage.stdoutBytes ?? 0) <= SandboxLimits().outputBytes + 65_536)
        for path in ["/usr/ponder-evil", "/etc/ponder-evil", "/root/ponder-evil", "/ponder-evil"] {
            #expect(!FileManager.default.fileExists(atPath: path))
        }
        // Nothing outlives its run: no daemon with the marker, no process of a slot's uid.
        usleep(300_000)
        let survivors = (try FileManager.default.contentsOfDirectory(atPath: "/proc")).filter { entry in
            guard Int(entry) != nil, let cmd = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8) else { return false }
            return cmd.contains(marker)
        }
        #expect(survivors.isEmpty, "daemon survived: \(survivors)")
    }

    @Test func ordinaryOutcomes() {
        let results = sandbox.run([
            SandboxProgram("print(1)"),
            SandboxProgram("1/0"),
            SandboxProgram("import sys\nsys.exit(3)"),
            SandboxProgram("import os\nos.kill(os.getpid(), 9)"),
            SandboxProgram("import os\nprint(sorted(os.listdir('.')), sorted(os.environ))"),
            SandboxProgram("print(open('/sandbox/data.txt').read())", files: ["data.txt": "hello"]),
        ])
        #expect(results[0].outcome == .ok && results[0].stdout == "1\n")
        #expect(results[1].outcome == .error("ZeroDivisionError: division by zero"))
        #expect(results[2].outcome == .error("exit status 3"))
        #expect(results[3].outcome == .killed(9))
        #expect(results[4].stdout == "[] ['HOME', 'LANG', 'PATH', 'PWD', 'PYTHONIOENCODING']\n")
        #expect(results[5].stdout == "hello\n")
    }

    @Test func processLimitHolds() {
        var limits = SandboxLimits(wallSeconds: 3)
        limits.processes = 8
        let r = sandbox.run(SandboxProgram("""
        import os
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    import time; time.sleep(2); os._exit(0)
                n += 1
        except OSError as e:
            print(n, e.errno)
        """, limits: limits))
        #expect(r.outcome == .ok)
        let fields = r.stdout.split(separator: " ")
        #expect(fields.count == 2 && (Int(fields[0]) ?? 99) < 8 && fields[1] == "11\n", "\(r.stdout)")
    }

    @Test func classificationRules() {
        typealias O = SandboxOutcome
        #expect(O.classify(exitCode: 0) == .ok)
        #expect(O.classify(exitCode: 1, stderr: "Traceback (most recent call last):\n  x\nMemoryError\n") == .memory)
        #expect(O.classify(exitCode: 1, stderr: "Traceback (most recent call last):\nKeyError: 'a'\n") == .error("KeyError: 'a'"))
        #expect(O.classify(exitCode: 2, stderr: "usage: whatever") == .error("exit status 2"))
        #expect(O.classify(exitCode: 128 + 24) == .timeout("cpu"))
        #expect(O.classify(exitCode: 128 + 9, cpuSeconds: 5, limits: SandboxLimits()) == .timeout("cpu"))
        #expect(O.classify(exitCode: 128 + 11) == .killed(11))
        #expect(O.classify(exitCode: nil, signal: 9, timedOut: true) == .timeout("wall"))
        #expect(O.classify(exitCode: nil, signal: 9, timedOut: true, outputCapped: true) == .outputLimit)
        #expect(O.classify(exitCode: nil, spawnError: "no bwrap") == .unavailable("no bwrap"))
    }

    @Test func missingProtectionRefusesToRun() {
        var config = SandboxConfig()
        config.bwrap = "/nonexistent/bwrap"
        let broken = Sandbox(config: config)
        guard case .unavailable = broken.protections.mode else { Issue.record("\(broken.protections)"); return }
        let r = broken.run(SandboxProgram("print(1)"))
        #expect(r.outcome.name == "unavailable" && !r.protected && r.stdout.isEmpty)
        config.allowUnprotected = true
        let degraded = Sandbox(config: config)
        #expect(degraded.protections.mode == .unprotected)
        #expect(!degraded.protections.missing.isEmpty)
        let d = degraded.run(SandboxProgram("print(1)"))
        #expect(d.outcome == .ok && !d.protected)
    }

    @Test func pythonTool() {
        let tool = PythonTool(maxOutputCharacters: 50)
        #expect(tool.run("print(12*34)") == ToolResult(text: "408\n", failure: nil))
        #expect(tool.run("print('a')\n1/0").text == "a\nZeroDivisionError: division by zero\n")
        let long = tool.run("print('y' * 500)")
        #expect(long.text.hasSuffix("[output truncated]\n") && long.text.count < 80)
        let slow = PythonTool(limits: SandboxLimits(wallSeconds: 1)).run("while True: pass")
        #expect(slow.failure?.kind == .timeout)
    }
}
