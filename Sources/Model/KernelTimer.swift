// KernelTimer: wall time per kernel family across forward and backward passes, for
// `ponder bench --profile` (is attention or the elementwise work costing more than the
// matrix products?). Off unless a timer is attached to a model.

import Dispatch

public final class KernelTimer {
    /// Wall-clock seconds per kernel family.
    public private(set) var seconds: [String: Double] = [:]
    /// CPU seconds of the whole process (all threads) per kernel family: robust to other load on
    /// the machine when run with one thread (PONDER_THREADS=1 OPENBLAS_NUM_THREADS=1).
    public private(set) var cpuSeconds: [String: Double] = [:]
    public init() {}

    @inline(__always)
    func measure(_ name: String, _ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        let cpu = processCPUSeconds()
        body()
        cpuSeconds[name, default: 0] += processCPUSeconds() - cpu
        seconds[name, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    public func reset() { seconds = [:]; cpuSeconds = [:] }
}

/// CPU time consumed by this process so far, all threads.
public func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension Transformer {
    /// Runs `body`, timed under `name` when a timer is attached.
    @inline(__always)
    func timed(_ name: String, _ body: () -> Void) {
        if let timer { timer.measure(name, body) } else { body() }
    }
}
