// ponder-sandbox-init: PID 1 of every sandboxed run, there so that the run's CPU time and peak
// memory are the program's own (environments/Sandbox.swift runs it under `bwrap --as-pid-1`).
//
// Usage: ponder-sandbox-init --usage-fd N PROGRAM [ARGUMENTS...]   (PROGRAM an absolute path)
//
// It starts PROGRAM as its only child and reaps every process of the namespace (orphans come to
// PID 1). When PROGRAM ends it kills whatever is left and reaps that too. Then it writes one line
// to descriptor N,
//     CPU_MICROSECONDS MAX_RSS_KIB
// the user + system time of every process it reaped and the largest peak resident size among
// them (getrusage(RUSAGE_CHILDREN)), and exits with PROGRAM's status: n, or 128 + n for a
// program killed by signal n (bubblewrap's convention).
//
// Why it exists: the kernel adds a process's CPU time and peak resident size to its parent's
// figures only when the parent waits for it, and bubblewrap's own PID 1 is never waited for (its
// monitor exits as soon as it hears the status), so the host saw only the launcher's few
// milliseconds. The host's own wait4 cannot give the peak size either: the process it spawns
// starts as a copy of the host and keeps the host's peak as its own. This init's children start
// small (it is a small static program), so its figures are the program's. At the deadline the
// host kills this init's children, not the init: a dying PID 1 reaps what is left of its
// namespace with SIGCHLD ignored, and the kernel discards the usage of processes reaped that way.
//
// What a hostile program cannot do, though it runs under the same uid: write the usage line (the
// descriptor is closed before PROGRAM starts, and this process is not dumpable, so
// /proc/1/fd is closed to it); signal this init (PID 1 of a namespace receives from inside only
// signals it handles, and it handles none); read or write its memory (not dumpable, and the
// seccomp filter denies ptrace); make a child's usage vanish (ignoring SIGCHLD, which makes the
// kernel discard it, is denied by the seccomp filter for every process of the sandbox).
//
// Deliberately not here: limits (prlimit sets them on PROGRAM), output, policy of any kind.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

// SwiftPM links a Swift-runtime registration object into every executable, C ones included. This
// empty definition satisfies it, so the (static) binary needs no Swift runtime: none is visible
// inside the sandbox.
void swift_addNewDSOImage(const void *header) { (void)header; }

static int usage(void) {
    fputs("usage: ponder-sandbox-init --usage-fd N /ABSOLUTE/PROGRAM [ARGUMENTS...]\n", stderr);
    return 127;
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[1], "--usage-fd") != 0 || argv[3][0] != '/') return usage();
    char *end;
    long usageFD = strtol(argv[2], &end, 10);
    if (*end != '\0' || usageFD < 3 || usageFD > 1023) return usage();
    char **program = argv + 3;
    // Outside a fresh PID namespace, kill(-1) below would reach every process of the user.
    if (getpid() != 1) {
        fputs("ponder-sandbox-init: refusing to run: it must be PID 1 of its own PID namespace "
              "(bwrap --unshare-pid --as-pid-1)\n", stderr);
        return 127;
    }
    prctl(PR_SET_DUMPABLE, 0);

    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "ponder-sandbox-init: fork: %s\n", strerror(errno));
        return 127;
    }
    if (child == 0) {
        close((int)usageFD);
        // exec makes the program dumpable again: it is an ordinary process.
        execv(program[0], program);
        fprintf(stderr, "ponder-sandbox-init: cannot run %s: %s\n", program[0], strerror(errno));
        _exit(127);
    }
    // Our copies of stdout, stderr and the report pipe would keep them open past the program.
    close_range(0, (unsigned)usageFD - 1, 0);
    close_range((unsigned)usageFD + 1, ~0U, 0);

    int exitStatus = 127;
    int programEnded = 0;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;  // ECHILD: every process of the namespace has been reaped
        }
        if (pid == child) {
            exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            programEnded = 1;
        }
        // The program's end is the run's end. Repeated after each reap for a fork that raced the kill.
        if (programEnded) kill(-1, SIGKILL);
    }
    struct rusage reaped;
    if (getrusage(RUSAGE_CHILDREN, &reaped) == 0) {
        long long microseconds = (long long)(reaped.ru_utime.tv_sec + reaped.ru_stime.tv_sec) * 1000000
            + reaped.ru_utime.tv_usec + reaped.ru_stime.tv_usec;
        dprintf((int)usageFD, "%lld %ld\n", microseconds, reaped.ru_maxrss);
    }
    return exitStatus;
}
