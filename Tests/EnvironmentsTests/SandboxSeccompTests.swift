// The system-call filter: one test per denied call, and Python still runs normally under it.
//
// Each denied call is made raw (ctypes, libc.syscall) with arguments the kernel itself would
// answer differently: a bad pointer (EFAULT), bad flags (EINVAL), no such process (ESRCH), or
// success for a harmless no-op. The same program runs in a sandbox without the filter, so every
// test shows the filter is the cause of the EPERM. Where the kernel checks a capability before
// anything else (EPERM either way) the test says so, and the program's `Seccomp: 2` shows the
// filter is in force.
import Foundation
import Testing
import Environments

/// A denied call as the test makes it (x86-64 system call numbers).
struct DeniedCall: Sendable, CustomTestStringConvertible {
    var name: String
    var number: Int
    /// Arguments; "buf" is the address of a 256-byte buffer whose first byte is 1.
    var arguments: [String]
    var expectedErrno: Int32 = EPERM
    /// The kernel refuses it with EPERM before looking at any argument (without CAP_SYS_ADMIN or
    /// CAP_SYS_MODULE), so the unfiltered run cannot differ; Seccomp: 2 is the evidence left.
    var kernelRefusesFirst = false

    var testDescription: String { name }
}

private let clone = 56, cloneThread = 0x10000
/// With CLONE_THREAD but without CLONE_SIGHAND, clone fails with EINVAL before any namespace is
/// considered: no process is ever created by these tests.
private func cloneWith(_ flag: String, _ bit: Int) -> DeniedCall {
    DeniedCall(name: "clone \(flag)", number: clone, arguments: ["\(bit | cloneThread)", "0", "0", "0", "0"])
}

let deniedCalls: [DeniedCall] = [
    DeniedCall(name: "ptrace", number: 101, arguments: ["2", "999999", "0", "0"]),        // ESRCH
    DeniedCall(name: "process_vm_readv", number: 310, arguments: ["1", "0", "0", "0", "0", "1"]),   // EINVAL
    DeniedCall(name: "process_vm_writev", number: 311, arguments: ["1", "0", "0", "0", "0", "1"]),  // EINVAL
    DeniedCall(name: "mount", number: 165, arguments: ["0", "0", "0", "0", "0"]),         // EFAULT
    DeniedCall(name: "umount2", number: 166, arguments: ["buf", "65535"]),                // EINVAL
    DeniedCall(name: "pivot_root", number: 155, arguments: ["0", "0"], kernelRefusesFirst: true),
    DeniedCall(name: "chroot", number: 161, arguments: ["0"]),                            // EFAULT
    DeniedCall(name: "open_tree", number: 428, arguments: ["-1", "0", "4294967295"]),    // EINVAL
    DeniedCall(name: "move_mount", number: 429, arguments: ["-1", "0", "-1", "0", "4294967295"], kernelRefusesFirst: true),
    DeniedCall(name: "fsopen", number: 430, arguments: ["0", "4294967295"], kernelRefusesFirst: true),
    DeniedCall(name: "fsconfig", number: 431, arguments: ["-1", "255", "0", "0", "0"]),  // EINVAL
    DeniedCall(name: "fsmount", number: 432, arguments: ["-1", "4294967295", "0"], kernelRefusesFirst: true),
    DeniedCall(name: "fspick", number: 433, arguments: ["-1", "0", "4294967295"], kernelRefusesFirst: true),
    DeniedCall(name: "mount_setattr", number: 442, arguments: ["-1", "0", "4294967295", "0", "0"]),  // EINVAL
    DeniedCall(name: "unshare", number: 272, arguments: ["0"]),                          // succeeds (a no-op)
    DeniedCall(name: "setns", number: 308, arguments: ["-1", "0"]),                      // EBADF
    cloneWith("CLONE_NEWUSER", 0x1000_0000), cloneWith("CLONE_NEWNS", 0x0002_0000),
    cloneWith("CLONE_NEWPID", 0x2000_0000), cloneWith("CLONE_NEWNET", 0x4000_0000),
    cloneWith("CLONE_NEWIPC", 0x0800_0000), cloneWith("CLONE_NEWUTS", 0x0400_0000),
    cloneWith("CLONE_NEWCGROUP", 0x0200_0000),                                            // each EINVAL
    DeniedCall(name: "clone3", number: 435, arguments: ["0", "0"], expectedErrno: ENOSYS),  // EINVAL
    DeniedCall(name: "bpf", number: 321, arguments: ["9999", "0", "0"]),                 // EINVAL
    DeniedCall(name: "perf_event_open", number: 298, arguments: ["0", "0", "-1", "-1", "0"]),  // EFAULT
    DeniedCall(name: "io_uring_setup", number: 425, arguments: ["0", "0"]),               // EFAULT
    DeniedCall(name: "io_uring_enter", number: 426, arguments: ["-1", "0", "0", "0", "0", "0"]),  // EBADF
    DeniedCall(name: "io_uring_register", number: 427, arguments: ["-1", "0", "0", "0"]),  // EINVAL
    DeniedCall(name: "userfaultfd", number: 323, arguments: ["3"]),                      // EINVAL (user-mode only + a bad flag)
    DeniedCall(name: "keyctl", number: 250, arguments: ["9999", "0", "0", "0", "0"]),    // EOPNOTSUPP
    DeniedCall(name: "add_key", number: 248, arguments: ["0", "0", "0", "0", "0"]),      // EFAULT
    DeniedCall(name: "request_key", number: 249, arguments: ["0", "0", "0", "0"]),       // EFAULT
    // Without kexec or module support the kernel answers ENOSYS; with it, EPERM (no CAP_SYS_BOOT or CAP_SYS_MODULE).
    DeniedCall(name: "kexec_load", number: 246, arguments: ["0", "0", "0", "0"], kernelRefusesFirst: true),
    DeniedCall(name: "kexec_file_load", number: 320, arguments: ["-1", "-1", "0", "0", "0"], kernelRefusesFirst: true),
    DeniedCall(name: "init_module", number: 175, arguments: ["0", "0", "0"], kernelRefusesFirst: true),
    DeniedCall(name: "finit_module", number: 313, arguments: ["-1", "0", "0"], kernelRefusesFirst: true),
    DeniedCall(name: "delete_module", number: 176, arguments: ["0", "0"], kernelRefusesFirst: true),
    DeniedCall(name: "open_by_handle_at", number: 304, arguments: ["-1", "0", "0"]),    // EFAULT
    // A new action for SIGCHLD: SIG_IGN (1 in the buffer's first word); succeeds without the filter.
    DeniedCall(name: "rt_sigaction SIGCHLD", number: 13, arguments: ["17", "buf", "0", "8"]),
]

/// The same sandbox without the filter: what the kernel alone answers.
private let unfiltered: Sandbox = {
    var config = SandboxConfig()
    config.seccomp = false
    return Sandbox(config: config)
}()

/// Makes the call and prints "RESULT ERRNO SECCOMP-MODE".
func syscallProgram(_ call: DeniedCall) -> SandboxProgram {
    let arguments = call.arguments.map { $0 == "buf" ? "ctypes.addressof(buf)" : $0 }.joined(separator: ", ")
    return SandboxProgram("""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(b"\\x01" + b"\\x00" * 255)
    result = libc.syscall(*[ctypes.c_long(a) for a in (\(call.number), \(arguments))])
    error = ctypes.get_errno() if result == -1 else 0
    mode = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")][0]
    print(result, error, mode)
    """)
}

@Suite struct SandboxSeccompTests {
    #if arch(x86_64)
    @Test(arguments: deniedCalls) func deniedCall(_ call: DeniedCall) {
        let filtered = Sandbox.shared.run(syscallProgram(call))
        let bare = unfiltered.run(syscallProgram(call))
        #expect(filtered.outcome == .ok && bare.outcome == .ok, "\(filtered.stderr.suffix(300)) \(bare.stderr.suffix(300))")
        #expect(filtered.stdout == "-1 \(call.expectedErrno) 2\n", "with the filter: \(filtered.stdout)")
        let kernel = bare.stdout.split(separator: " ")
        #expect(kernel.count == 3 && kernel[2] == "0\n", "without the filter: \(bare.stdout)")
        if call.kernelRefusesFirst {
            #expect(kernel.count == 3 && (kernel[1] == "\(EPERM)" || kernel[1] == "\(ENOSYS)"), "without the filter: \(bare.stdout)")
        } else {
            // The kernel alone answers something else: the EPERM above is the filter's.
            #expect(bare.stdout != filtered.stdout && !bare.stdout.hasPrefix("-1 \(EPERM) "), "without the filter: \(bare.stdout)")
        }
    }
    #endif

    @Test func everyRuleIsTestedAndListed() {
        let tested = Set(deniedCalls.map { String($0.name.split(separator: " ")[0]) })
        let ruled = Set(SeccompFilter.rules.map(\.syscall))
        #expect(tested == ruled, "untested: \(ruled.subtracting(tested)), not in the filter: \(tested.subtracting(ruled))")
        let summary = SeccompFilter.summary()
        for name in ruled { #expect(summary.contains(name), "\(summary)") }
        #expect(summary.contains("CLONE_NEWUSER") && summary.contains("clone3 with ENOSYS"), "\(summary)")
        #expect(Sandbox.shared.protections.active.contains(summary), "\(Sandbox.shared.protections)")
        #expect(unfiltered.protections.missing.contains { $0.hasPrefix("seccomp filter (turned off") },
                "\(unfiltered.protections)")
    }

    @Test func pythonRunsNormallyUnderTheFilter() {
        let r = Sandbox.shared.run(SandboxProgram("""
        import os, signal, subprocess, sys, threading
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(i * i)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(sorted(results))
        print(subprocess.run([sys.executable, "-I", "-S", "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip())
        pid = os.fork()
        if pid == 0: os._exit(3)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        print(signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, lambda *a: print("usr1"))
        os.kill(os.getpid(), signal.SIGUSR1)
        """, limits: SandboxLimits(wallSeconds: 20)))
        #expect(r.outcome == .ok, "\(r.outcome) \(r.stderr.suffix(500))")
        #expect(r.stdout == "[0, 1, 4, 9]\n42\n3\nTrue\nusr1\n", "\(r.stdout)")
    }
}
