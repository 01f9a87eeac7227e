// The sandbox's uids: which one a run may use, and how its leftovers are killed (DESIGN.md §5).
//
// As root every run drops to a uid of its own, so the process limit counts (root ignores it).
// Slot i tries base + i, base + i + stride, ... (64 candidates) and takes the first that
//   - no account or group of this machine owns (getpwuid_r / getgrgid_r),
//   - it can lock: an exclusive flock on /run/ponder-sandbox/uid-N.lock, held for the run, so two labs
//     (or a test run beside a trainer) never share a uid,
//   - no process on the machine runs under, checked with the lock held (real, effective, saved
//     or file-system uid, from /proc/*/status): a uid some other program uses is left alone.
// The lock directory, /run/ponder-sandbox, is created root-owned with mode 0700 and checked on
// every use to be exactly that, a real directory and not a symbolic link; lock files are opened
// relative to it with O_NOFOLLOW, so nobody can point a lock at another file. A candidate whose
// lock file is not a plain file is skipped, and the reason kept for the error if none is left.
//
// `reapUID` kills what a run left under its uid, and only sandbox processes: those in a PID
// namespace below ours. A process of the uid in our own namespace is the host's (one that took
// the uid after the check) and is never signalled.
// As an ordinary user there is nothing to lease: runs use the user's own uid in a user namespace.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Exclusive use of one sandbox uid for one run.
struct UIDLease {
    static let lockDirectory = "/run/ponder-sandbox"
    static let candidates = 64

    let uid: Int
    private let fd: Int32

    /// The first usable candidate for `slot`, or an error listing why each one was refused.
    static func acquire(base: Int, slot: Int, stride: Int) -> Result<UIDLease, SandboxUIDError> {
        // An ordinary user runs as itself (in a user namespace); there is no uid to lease.
        guard geteuid() == 0 else { return .success(UIDLease(uid: Int(getuid()), fd: -1)) }
        let directory: Int32
        switch openLockDirectory() {
        case .success(let fd): directory = fd
        case .failure(let error): return .failure(error)
        }
        defer { close(directory) }
        var refusals: [String] = []
        var locked = 0
        for k in 0..<candidates {
            let uid = base + slot + k * stride
            if let owner = account(of: uid) {
                refusals.append("uid \(uid) belongs to \(owner)")
                continue
            }
            let fd = openat(directory, "uid-\(uid).lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let why = errno == ELOOP ? "is a symbolic link" : String(cString: strerror(errno))
                refusals.append("\(lockDirectory)/uid-\(uid).lock \(why)")
                continue
            }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1, st.st_uid == geteuid() else {
                refusals.append("\(lockDirectory)/uid-\(uid).lock is not a plain file of ours with one link")
                close(fd)
                continue
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { close(fd); locked += 1; continue }
            if let user = processes(ofUID: uid).first {
                refusals.append("uid \(uid) is in use by process \(user.pid) (\(user.name))")
                close(fd)
                continue
            }
            return .success(UIDLease(uid: uid, fd: fd))
        }
        return .failure(SandboxUIDError(
            "no usable sandbox uid for slot \(slot) from \(base) (step \(stride)): \(locked) locked by other runs"
                + (refusals.isEmpty ? "" : "; " + refusals.prefix(4).joined(separator: "; ") + (refusals.count > 4 ? "; ..." : ""))
                + ". Choose another sandbox.uid_base, or remove what holds these uids."))
    }

    func release() { if fd >= 0 { close(fd) } }

    /// The lock directory, created if absent, opened only if it is a real directory of ours that
    /// nobody else can enter.
    private static func openLockDirectory() -> Result<Int32, SandboxUIDError> {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = open(lockDirectory, flags)
        if fd < 0 && errno == ENOENT {
            if mkdir(lockDirectory, 0o700) != 0 && errno != EEXIST {
                return .failure(SandboxUIDError("cannot create the lock directory \(lockDirectory): \(String(cString: strerror(errno)))"))
            }
            fd = open(lockDirectory, flags)
        }
        guard fd >= 0 else {
            let why = errno == ELOOP || errno == ENOTDIR ? "it is not a directory (a symbolic link?)" : String(cString: strerror(errno))
            return .failure(SandboxUIDError("cannot use the lock directory \(lockDirectory): \(why). Remove it; the sandbox recreates it."))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else {
            close(fd)
            return .failure(SandboxUIDError(
                "refusing the lock directory \(lockDirectory): it must be a directory owned by uid \(geteuid()) with mode 0700 "
                    + "(found owner \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8))). Remove it; the sandbox recreates it."))
        }
        return .success(fd)
    }

    /// The account or group that owns `uid` (as a user id or a group id), if any.
    private static func account(of uid: Int) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        var user = passwd()
        var userResult: UnsafeMutablePointer<passwd>?
        if getpwuid_r(uid_t(uid), &user, &buffer, buffer.count, &userResult) == 0, let found = userResult {
            return "the account \(String(cString: found.pointee.pw_name))"
        }
        var group = Glibc.group()
        var groupResult: UnsafeMutablePointer<Glibc.group>?
        if getgrgid_r(gid_t(uid), &group, &buffer, buffer.count, &groupResult) == 0, let found = groupResult {
            return "the group \(String(cString: found.pointee.gr_name))"
        }
        return nil
    }
}

struct SandboxUIDError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Kill every sandbox process of `uid` and wait (briefly) until none is left: a slot's uid is
/// reused only when empty. Returns whether the uid is clean of sandbox processes.
func reapUID(_ uid: Int, within seconds: Double = 1.0) -> Bool {
    let until = monotonicNow() + seconds
    while true {
        let leftovers = processes(ofUID: uid).filter(\.inNestedNamespace)
        if leftovers.isEmpty { return true }
        for p in leftovers { kill(p.pid, SIGKILL) }
        if monotonicNow() > until { return false }
        usleep(2000)
    }
}

struct UIDUser {
    var pid: pid_t
    var name: String
    /// Runs in a PID namespace below ours (a sandbox); false for a process of our own namespace.
    var inNestedNamespace: Bool
}

/// Processes that hold `uid` as their real, effective, saved or file-system uid. Read from
/// /proc/PID/status, not the owner of /proc/PID: a process that is not dumpable shows as root there.
func processes(ofUID uid: Int) -> [UIDUser] {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    let ownDepth = statusFields(of: "self")["NSpid"]?.count ?? 1
    var found: [UIDUser] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = pid_t(name) else { continue }
        let fields = statusFields(of: name)
        guard let uids = fields["Uid"], uids.contains(where: { $0 == "\(uid)" }) else { continue }
        found.append(UIDUser(pid: pid, name: fields["Name"]?.first.map(String.init) ?? "?",
                             inNestedNamespace: (fields["NSpid"]?.count ?? 1) > ownDepth))
    }
    return found
}

/// The Name, Uid and NSpid lines of /proc/ENTRY/status, split on white space; empty if it is gone.
private func statusFields(of entry: String) -> [String: [Substring]] {
    let fd = open("/proc/\(entry)/status", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [:] }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return [:] }
    var fields: [String: [Substring]] = [:]
    for line in String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = String(line[..<colon])
        guard key == "Name" || key == "Uid" || key == "NSpid" else { continue }
        fields[key] = line[line.index(after: colon)...].split(whereSeparator: { $0 == "\t" || $0 == " " })
    }
    return fields
}
