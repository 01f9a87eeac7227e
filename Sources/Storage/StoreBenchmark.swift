// The store's insert rate, for `ponder bench` (DESIGN.md §11): how many rollouts per second a
// trainer can record, each with its per-function rewards, one transaction per step, on a real
// WAL file. The figure is the median step, so a WAL checkpoint landing in one step does not
// dominate it; the rows are the sizes of a small GRPO run (prompts of ~100 and completions of
// ~600 characters, 20 metrics per step).
import Foundation

public struct StoreBenchmarkResult: Sendable, Codable, Equatable {
    public var rolloutsPerSecond: Double
    public var stepsPerSecond: Double
    public var steps: Int
    public var rolloutsPerStep: Int
    public var rewardFunctions: Int
}

extension RunStore {
    /// Records `steps` steps of `rolloutsPerStep` rollouts with `rewardFunctions` rewards each into
    /// a fresh store at `path` (a temporary file, deleted afterwards, when nil) and times each
    /// `recordStep` call.
    public static func benchmark(path: String? = nil, steps: Int = 200, rolloutsPerStep: Int = 64,
                                 rewardFunctions: Int = 4) throws -> StoreBenchmarkResult {
        let file = path ?? NSTemporaryDirectory() + "ponder-store-bench-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max)).sqlite"
        let fileManager = FileManager.default
        for suffix in ["", "-wal", "-shm"] { try? fileManager.removeItem(atPath: file + suffix) }
        defer {
            if path == nil { for suffix in ["", "-wal", "-shm"] { try? fileManager.removeItem(atPath: file + suffix) } }
        }

        var seconds: [Double] = []
        do {
            let store = try RunStore.open(path: file)
            defer { try? store.close() }
            let experiment = try store.upsertExperiment(name: "bench", configText: "bench: true\n")
            let run = try store.createRun(experimentID: experiment, name: "bench", stage: "grpo", seed: 0)
            let functions = (0..<rewardFunctions).map { "reward_\($0)" }
            let completion = String(repeating: "<think>12 + 30 = 42</think>42 ", count: 20)
            let clock = ContinuousClock()
            for step in 0..<steps {
                var metrics: [String: Double] = [:]
                for i in 0..<20 { metrics["metric_\(i)"] = Double(step * i) }
                let rollouts = (0..<rolloutsPerStep).map { i in
                    NewRollout(groupIndex: i / 8, sampleIndex: i % 8, taskID: "arith-\(step)-\(i / 8)",
                               environment: "arithmetic",
                               prompt: "What is \(step) * \(i)? Think step by step, then answer with a number only.",
                               completion: completion, tokenCount: 180, finishReason: "stop",
                               totalReward: Double(i % 3), advantage: Double(i % 3) - 1, toolCalls: nil,
                               rewards: functions.map { RewardValue(function: $0, value: Double(i % 2)) })
                }
                let elapsed = try clock.measure {
                    try store.recordStep(run: run, step: step, metrics: metrics, rollouts: rollouts)
                }
                seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            }
        }
        let median = seconds.sorted()[seconds.count / 2]
        return StoreBenchmarkResult(rolloutsPerSecond: Double(rolloutsPerStep) / median, stepsPerSecond: 1 / median,
                                    steps: steps, rolloutsPerStep: rolloutsPerStep, rewardFunctions: rewardFunctions)
    }
}
