// ponder rollouts RUN [--step N] [--worst K] [--json]

import ArgumentParser
import Foundation
import Storage

struct RolloutsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollouts", abstract: "Show a GRPO run's stored rollouts.")

    @Argument(help: "Run id or name.") var runKey: String
    @Option(help: "Only this step (default: the last one).") var step: Int?
    @Option(help: "Only the K lowest-reward rollouts.") var worst: Int?
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func run() throws {
        let db = try store.open()
        let record: RunRecord
        do { record = try db.findRun(runKey) } catch { throw fail("\(error)") }
        let id = record.id!
        let chosenStep = try step ?? (worst == nil ? db.lastStep(run: id) : nil)
        let rows = try worst.map { try db.worstRollouts(run: id, step: chosenStep, limit: $0) } ?? db.rollouts(run: id, step: chosenStep)
        if json {
            printJSON(rows.map { r -> [String: Any] in
                let o = r.rollout
                return ["step": o.step, "group": o.groupIndex, "sample": o.sampleIndex, "task": o.taskID, "environment": o.environment,
                        "prompt": o.prompt, "completion": o.completion, "tokens": o.tokenCount, "finish_reason": o.finishReason,
                        "reward": o.totalReward ?? NSNull(), "advantage": o.advantage ?? NSNull(), "tool_calls": o.toolCalls ?? NSNull(),
                        "rewards": Dictionary(r.rewards.map { ($0.function, $0.value ?? $0.failure ?? "") as (String, Any) }, uniquingKeysWith: { a, _ in a })]
            })
            return
        }
        if rows.isEmpty { print("no rollouts stored for run \(runKey)\(chosenStep.map { " at step \($0)" } ?? "")"); return }
        for r in rows {
            let o = r.rollout
            let rewards = r.rewards.map { "\($0.function)=\($0.value.map { fmt($0, 2) } ?? "FAILED(\($0.failure ?? ""))")" }.joined(separator: " ")
            print("step \(o.step) group \(o.groupIndex) sample \(o.sampleIndex)  \(o.environment)  reward \(o.totalReward.map { fmt($0, 3) } ?? "-")  advantage \(o.advantage.map { fmt($0, 3) } ?? "-")  \(o.tokenCount) tokens, \(o.finishReason)  [\(rewards)]")
            print("  prompt:     " + o.prompt.replacingOccurrences(of: "\n", with: " ⏎ "))
            print("  completion: " + o.completion.replacingOccurrences(of: "\n", with: " ⏎ "))
            if let t = o.toolCalls { print("  tools:      " + t) }
        }
    }
}
