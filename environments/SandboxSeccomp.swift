// The system-call filter every sandboxed process runs under (DESIGN.md §5): allow by default,
// deny the calls a Python test program never makes.
//
// Built once with libseccomp for the native architecture and exported as a classic BPF program;
// each run hands the program to bubblewrap through a pipe (`bwrap --seccomp FD`), which loads it
// just before it starts the sandbox's init, so the init and every process after it run under it.
// Calls made through another architecture's entry point (32-bit `int 0x80`, x32) kill the caller:
// libseccomp's action for an architecture the filter does not name.
//
// Most of these calls already fail inside the sandbox (new namespaces, no capabilities). The
// filter is a second wall that does not depend on how the kernel orders its own checks, and it
// takes whole subsystems (bpf, io_uring, perf events, keyrings, userfaultfd) out of the program's
// reach: they are where kernel exploits are most often found. A denied call fails with EPERM;
// clone3 fails with ENOSYS, so glibc falls back to clone, whose flags the filter can read.
// Not here: anything a program may legitimately need (files, sockets of its own namespace,
// threads, fork, exec, signals other than ignoring SIGCHLD).
#if canImport(Glibc)
import Glibc
#endif
import CSeccomp

/// One denied system call, or one denied use of it.
public struct SeccompRule: Sendable, CustomStringConvertible {
    /// The call's name, as libseccomp and the kernel's tables spell it.
    public var syscall: String
    /// What the call returns instead of running (EPERM, or ENOSYS for clone3).
    public var errno: Int32
    /// When non-empty, the call is denied only when every test holds (e.g. clone with CLONE_NEWUSER).
    public var arguments: [ArgumentTest]
    /// Why no test program needs it, or what it would open.
    public var reason: String

    public enum ArgumentTest: Sendable {
        case equals(argument: UInt32, value: UInt64)
        case notEquals(argument: UInt32, value: UInt64)
        /// (argument & mask) == mask: every bit of `mask` set.
        case hasBits(argument: UInt32, mask: UInt64)
    }

    /// What the argument tests mean, e.g. "CLONE_NEWUSER" or "setting a SIGCHLD action".
    public var argumentLabel: String?

    /// "clone (CLONE_NEWUSER)", "ptrace".
    public var description: String {
        guard let argumentLabel else { return syscall }
        return "\(syscall) (\(argumentLabel))"
    }
}

public enum SeccompFilter {
    static func deny(_ syscall: String, _ reason: String, errno: Int32 = EPERM,
                     arguments: [SeccompRule.ArgumentTest] = [], label: String? = nil) -> SeccompRule {
        SeccompRule(syscall: syscall, errno: errno, arguments: arguments, reason: reason, argumentLabel: label)
    }

    static let namespaceFlags: [(name: String, bit: UInt64)] = [
        ("CLONE_NEWUSER", 0x1000_0000), ("CLONE_NEWNS", 0x0002_0000), ("CLONE_NEWPID", 0x2000_0000),
        ("CLONE_NEWNET", 0x4000_0000), ("CLONE_NEWIPC", 0x0800_0000), ("CLONE_NEWUTS", 0x0400_0000),
        ("CLONE_NEWCGROUP", 0x0200_0000),
    ]

    /// Every denied call, in the order `ponder sandbox check` lists them.
    public static let rules: [SeccompRule] = {
        let otherProcesses = "reads or steers another process, the sandbox's init included (it shares the program's uid)"
        let mounts = "changes the file system view, which bubblewrap fixed before the program started"
        let namespaces = "a new namespace (a user namespace above all) hands the program capabilities inside it, "
            + "and with them kernel code that is otherwise out of reach"
        let subsystem = "a large kernel subsystem no test program uses, where kernel exploits are most often found"
        let keyrings = "kernel keyrings are kept per uid, not per sandbox: one run could leave keys for the next"
        let kernelCode = "loads kernel code or a new kernel"
        var rules = [
            deny("ptrace", otherProcesses),
            deny("process_vm_readv", otherProcesses),
            deny("process_vm_writev", otherProcesses),
            deny("mount", mounts), deny("umount2", mounts), deny("pivot_root", mounts), deny("chroot", mounts),
            deny("open_tree", mounts), deny("move_mount", mounts), deny("fsopen", mounts), deny("fsconfig", mounts),
            deny("fsmount", mounts), deny("fspick", mounts), deny("mount_setattr", mounts),
            deny("unshare", namespaces), deny("setns", namespaces),
        ]
        rules += namespaceFlags.map { flag in
            deny("clone", namespaces, arguments: [.hasBits(argument: 0, mask: flag.bit)], label: flag.name)
        }
        rules += [
            deny("clone3", "its flags sit in memory a filter cannot read; ENOSYS makes glibc fall back to clone, checked above",
                 errno: ENOSYS),
            deny("bpf", subsystem), deny("perf_event_open", subsystem),
            deny("io_uring_setup", subsystem), deny("io_uring_enter", subsystem), deny("io_uring_register", subsystem),
            deny("userfaultfd", "lets a program stall the kernel's page faults at will, the classic tool for winning kernel races"),
            deny("keyctl", keyrings), deny("add_key", keyrings), deny("request_key", keyrings),
            deny("kexec_load", kernelCode), deny("kexec_file_load", kernelCode), deny("init_module", kernelCode),
            deny("finit_module", kernelCode), deny("delete_module", kernelCode),
            deny("open_by_handle_at", "opens files by handle, around path permissions and the mount view"),
            // Reading the handler (a null new action) stays allowed: Python reads every handler at startup.
            deny("rt_sigaction",
                 "a parent that ignores SIGCHLD (or sets SA_NOCLDWAIT) makes the kernel discard its children's CPU time "
                    + "and memory instead of adding them to its own, hiding them from the usage figures",
                 arguments: [.equals(argument: 0, value: UInt64(SIGCHLD)), .notEquals(argument: 1, value: 0)],
                 label: "setting a SIGCHLD action"),
        ]
        return rules
    }()

    /// The filter as a BPF program for `bwrap --seccomp`, or why it could not be built.
    public static func program(_ rules: [SeccompRule] = rules) -> Result<[UInt8], SeccompError> {
        guard let context = seccomp_init(SCMP_ACT_ALLOW) else { return .failure(SeccompError("seccomp_init failed")) }
        defer { seccomp_release(context) }
        for rule in rules {
            let number = seccomp_syscall_resolve_name(rule.syscall)
            guard number != __NR_SCMP_ERROR else {
                return .failure(SeccompError("libseccomp does not know the system call \(rule.syscall) on this architecture"))
            }
            var tests = rule.arguments.map(\.comparison)
            let rc = seccomp_rule_add_array(context, ponder_scmp_act_errno(UInt16(rule.errno)), number,
                                            UInt32(tests.count), &tests)
            guard rc == 0 else {
                return .failure(SeccompError("cannot add the rule for \(rule): \(String(cString: strerror(-rc)))"))
            }
        }
        // libseccomp 2.5 exports only to a file descriptor; an anonymous temporary file holds it.
        guard let file = tmpfile() else {
            return .failure(SeccompError("cannot create a temporary file: \(String(cString: strerror(errno)))"))
        }
        defer { fclose(file) }
        let fd = fileno(file)
        let rc = seccomp_export_bpf(context, fd)
        guard rc == 0 else { return .failure(SeccompError("seccomp_export_bpf: \(String(cString: strerror(-rc)))")) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        lseek(fd, 0, SEEK_SET)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return .failure(SeccompError("reading the exported filter: \(String(cString: strerror(errno)))")) }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        // A classic BPF program is a whole number of 8-byte instructions.
        guard !bytes.isEmpty, bytes.count % 8 == 0 else {
            return .failure(SeccompError("the exported filter has \(bytes.count) bytes, not a whole number of instructions"))
        }
        return .success(bytes)
    }

    /// One line for `ponder sandbox check`: "seccomp filter denies ptrace, ..., clone (CLONE_NEWUSER,
    /// ...), ... with EPERM; clone3 with ENOSYS".
    public static func summary(_ rules: [SeccompRule] = rules) -> String {
        var parts: [String] = []
        for errno in [EPERM, ENOSYS] + Set(rules.map(\.errno)).subtracting([EPERM, ENOSYS]).sorted() {
            var names: [String] = []
            var labels: [String: [String]] = [:]
            for rule in rules where rule.errno == errno {
                if labels[rule.syscall] == nil { names.append(rule.syscall) }
                labels[rule.syscall, default: []] += rule.argumentLabel.map { [$0] } ?? []
            }
            guard !names.isEmpty else { continue }
            let listed = names.map { labels[$0]!.isEmpty ? $0 : "\($0) (\(labels[$0]!.joined(separator: ", ")))" }
            let code = errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS" : "errno \(errno)"
            parts.append(listed.joined(separator: ", ") + " with \(code)")
        }
        return "seccomp filter denies " + parts.joined(separator: "; ")
    }
}

public struct SeccompError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension SeccompRule.ArgumentTest {
    var comparison: scmp_arg_cmp {
        switch self {
        case .equals(let argument, let value):
            scmp_arg_cmp(arg: argument, op: SCMP_CMP_EQ, datum_a: value, datum_b: 0)
        case .notEquals(let argument, let value):
            scmp_arg_cmp(arg: argument, op: SCMP_CMP_NE, datum_a: value, datum_b: 0)
        case .hasBits(let argument, let mask):
            scmp_arg_cmp(arg: argument, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: mask)
        }
    }
}
