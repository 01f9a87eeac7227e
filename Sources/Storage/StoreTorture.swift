// StoreTorture: a writer that exists to be killed. `ponder store-torture` (hidden) runs it in a
// child process; StorageTests SIGKILL that process at random instants and then check that the
// file opens, passes `PRAGMA integrity_check`, and holds every step the writer reported as
// committed, each one complete (DESIGN.md §8: "a killed run leaves a consistent database").
//
// Every value is a pure function of the step, so the checker knows exactly what a complete step
// holds without talking to the writer. Each run of the writer resumes the same run row the way
// the stage runner does: truncate after the last recorded step, then continue.
import Foundation

public enum StoreTorture {
    public static let experimentName = "store-torture"
    public static let runName = "store-torture"
    public static let metricsPerStep = 20
    public static let rolloutsPerStep = 4
    public static let rewardFunctions = ["accuracy", "format", "length"]

    /// The metrics of `step`: "metric_00" ... "metric_19".
    public static func metrics(step: Int) -> [String: Double] {
        var metrics: [String: Double] = [:]
        for i in 0..<metricsPerStep {
            metrics[String(format: "metric_%02d", i)] = Double(step) * 100 + Double(i) + 0.25
        }
        return metrics
    }

    /// The rollouts of `step`, each with a few kilobytes of text so a step spans several pages.
    public static func rollouts(step: Int) -> [NewRollout] {
        (0..<rolloutsPerStep).map { sample in
            let filler = String(repeating: "step \(step) sample \(sample); ", count: 80)
            return NewRollout(
                groupIndex: sample / 2, sampleIndex: sample % 2, taskID: "task-\(step)-\(sample)",
                environment: "arithmetic", prompt: "What is \(step) + \(sample)?",
                completion: "<think>\(filler)</think>\(step + sample)", tokenCount: 500 + sample,
                finishReason: sample == 3 ? "length" : "stop", totalReward: Double(sample) / 4,
                advantage: Double(sample) - 1.5, toolCalls: sample == 0 ? "[]" : nil,
                rewards: rewardFunctions.enumerated().map { index, function in
                    index == 2 && sample == 1
                        ? RewardValue(function: function, value: nil, failure: "judge timed out")
                        : RewardValue(function: function, value: Double(step + index + sample))
                })
        }
    }

    /// Records steps into the store at `path` until `steps` have been written in total (forever if
    /// nil), calling `committed` after each transaction has returned.
    public static func write(path: String, steps: Int?, committed: (Int) -> Void) throws {
        let store = try RunStore.open(path: path)
        let experiment = try store.upsertExperiment(name: experimentName, configText: "torture: true\n")
        let run: Int64
        var next = 0
        if let existing = try store.latestRun(experimentName: experimentName, stage: "torture"), let id = existing.id {
            run = id
            let last = try store.lastStep(run: id)
            try store.truncate(run: id, afterStep: last ?? -1)
            try store.setStatus(run: id, .running)
            next = (last ?? -1) + 1
        } else {
            run = try store.createRun(experimentID: experiment, name: runName, stage: "torture", seed: 7)
        }
        while steps.map({ next < $0 }) ?? true {
            try store.recordStep(run: run, step: next, metrics: metrics(step: next), rollouts: rollouts(step: next))
            committed(next)
            next += 1
        }
        try store.setStatus(run: run, .completed)
    }
}
