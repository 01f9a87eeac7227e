// Sandbox figures for `ponder bench`: the round trip of a trivial program, and how many code
// gradings per second the machine sustains with every slot busy (DESIGN.md §11).
import Foundation
import PonderCore

public struct SandboxBenchResult: Sendable, Codable {
    /// Median wall time of one `print(1)` run, launch to reaped, one at a time.
    public var medianRoundTripMilliseconds: Double
    public var p90RoundTripMilliseconds: Double
    /// Code-test gradings (harness + solution + 8 tests each) per second, all slots busy.
    public var codeProgramsPerSecond: Double
    public var slots: Int
    public var roundTrips: Int
    public var codePrograms: Int
    /// Whether every run passed with the expected result (a failing bench means a broken sandbox).
    public var allSucceeded: Bool
    public var protections: String
}

extension Sandbox {
    public func benchmark(roundTrips: Int = 40, codePrograms: Int = 96) -> SandboxBenchResult {
        var times: [Double] = []
        var ok = true
        _ = run(SandboxProgram("print(1)"))  // warm the page cache
        for _ in 0..<roundTrips {
            let start = monotonicNow()
            let r = run(SandboxProgram("print(1)"))
            times.append((monotonicNow() - start) * 1000)
            ok = ok && r.outcome == .ok && r.stdout == "1\n"
        }
        times.sort()

        var rng = RNG(seed: 7)
        let env = try! CodeEnvironment(sandbox: self)
        let tasks = env.sample(&rng, count: codePrograms)
        let items = tasks.map { ($0, env.demonstration($0, style: .direct)) }
        let start = monotonicNow()
        let verdicts = env.verify(batch: items)
        let elapsed = monotonicNow() - start
        ok = ok && verdicts.allSatisfy { $0.kind == .correct }
        return SandboxBenchResult(
            medianRoundTripMilliseconds: times[times.count / 2],
            p90RoundTripMilliseconds: times[min(times.count - 1, times.count * 9 / 10)],
            codeProgramsPerSecond: Double(codePrograms) / elapsed,
            slots: slots.count, roundTrips: roundTrips, codePrograms: codePrograms,
            allSucceeded: ok, protections: protections.modeName)
    }
}
