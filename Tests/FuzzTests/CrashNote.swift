// CrashNote: says which mutant was running when a loader trapped.
//
// A trap (a failed precondition, an out-of-bounds index, an overflow) or a fault kills the test
// process before any test can report. Each fuzz loop writes the mutant it is about to run into
// a slot of this note; a signal handler for SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS and SIGFPE
// writes every slot to stderr, then hands the signal back to the handler that was there before
// (Swift's backtracer, or the default), so the crash still kills the process loudly. Each loop
// also gives its thread an alternate signal stack, so a stack overflow is reported too.
//
// This is the one piece of global mutable state of the fuzz tests: a signal handler can reach
// nothing else. Slots are fixed byte buffers, so the handler neither allocates nor locks.
import Foundation

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

enum CrashNote {
    static let slots = 8
    static let slotBytes = 2048
    static let signals: [Int32] = [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE]

    nonisolated(unsafe) private static var text = UnsafeMutablePointer<UInt8>.allocate(capacity: slots * slotBytes)
    nonisolated(unsafe) private static var lengths: UnsafeMutablePointer<Int> = {
        let p = UnsafeMutablePointer<Int>.allocate(capacity: slots)
        p.initialize(repeating: 0, count: slots)
        return p
    }()
    nonisolated(unsafe) private static var previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 32)
    nonisolated(unsafe) private static var taken = [Bool](repeating: false, count: slots)
    private static let lock = NSLock()

    private static let installed: Void = {
        _ = lengths
        for signal in signals {
            var action = sigaction()
            #if os(Linux)
            action.__sigaction_handler.sa_handler = handler
            #else
            action.__sigaction_u.__sa_handler = handler
            #endif
            action.sa_flags = Int32(SA_ONSTACK)
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, previous + Int(signal))
        }
    }()

    private static let handler: @convention(c) (Int32) -> Void = { signal in
        let header: StaticString = "\nfuzz: the process died of a signal while running:\n"
        writeToStandardError(header.utf8Start, header.utf8CodeUnitCount)
        for slot in 0..<CrashNote.slots where CrashNote.lengths[slot] > 0 {
            writeToStandardError(CrashNote.text + slot * CrashNote.slotBytes, CrashNote.lengths[slot])
        }
        // Back to the previous handler; returning re-executes the faulting instruction, and
        // a raised signal (abort) is delivered again, now to that handler.
        sigaction(signal, CrashNote.previous + Int(signal), nil)
        if signal == SIGTRAP || signal == SIGABRT { raise(signal) }
    }

    /// A slot for one fuzz loop; `release` frees it.
    static func acquire() -> Int {
        _ = installed
        lock.lock()
        defer { lock.unlock() }
        guard let slot = taken.firstIndex(of: false) else { return -1 }
        taken[slot] = true
        return slot
    }

    static func write(_ slot: Int, _ note: String) {
        guard slot >= 0 else { return }
        let bytes = Array((note + "\n").utf8.prefix(slotBytes))
        lengths[slot] = 0
        bytes.withUnsafeBufferPointer { (text + slot * slotBytes).update(from: $0.baseAddress!, count: bytes.count) }
        lengths[slot] = bytes.count
    }

    static func release(_ slot: Int) {
        guard slot >= 0 else { return }
        lengths[slot] = 0
        lock.lock()
        taken[slot] = false
        lock.unlock()
    }

    /// Runs `body` on an alternate signal stack of this thread, so that a stack overflow in
    /// `body` still reaches the handler; restores the thread's previous one afterwards.
    static func withAlternateStack<R>(_ body: () throws -> R) rethrows -> R {
        let size = 256 * 1024
        let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        var stack = stack_t()
        stack.ss_sp = memory
        stack.ss_size = size
        var old = stack_t()
        sigaltstack(&stack, &old)
        defer {
            sigaltstack(&old, nil)
            memory.deallocate()
        }
        return try body()
    }
}

/// write(2) to stderr: async-signal-safe, unlike print.
private func writeToStandardError(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
    #if canImport(Glibc)
    _ = Glibc.write(2, bytes, count)
    #else
    _ = Darwin.write(2, bytes, count)
    #endif
}
