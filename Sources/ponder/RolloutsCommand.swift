// ponder rollouts RUN [--step N] [--worst K] [--disagree PROXY,GOLD [--limit K]] [--json]
// --disagree lists, over every step (or --step), the rollouts one reward function liked (>= 0.5)
// and another did not (< 0.5): with `judge,accuracy`, the answers the judge accepted and the
// verifier rejected, the judge being gamed.

import ArgumentParser
import Foundation
import Storage

struct RolloutsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollouts", abstract: "Show a GRPO run's stored rollouts.")

    @Argument(help: "Run id or name.") var runKey: String
    @Option(help: "Only this step (default: the last one).") var step: Int?
    @Option(help: "Only the K lowest-reward rollouts.") var worst: Int?
    @Option(help: "PROXY,GOLD: rollouts PROXY scored >= 0.5 and GOLD < 0.5 (e.g. judge,accuracy), over all steps.")
    var disagree: String?
    @Option(help: "With --disagree: most rollouts to print.") var limit = 20
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func run() throws {
        let db = try store.open()
        let record: RunRecord
        do { record = try db.findRun(runKey) } catch { throw fail("\(error)") }
        let id = record.id!
        if let disagree {
            let names = disagree.split(separator: ",").map(String.init)
            guard names.count == 2 else { throw fail("--disagree takes two reward functions, PROXY,GOLD (e.g. judge,accuracy)") }
            let all = try db.rollouts(run: id, step: step)
            func value(_ r: StoredRollout, _ name: String) -> Double? { r.rewards.first { $0.function == name }?.value }
            let both = all.filter { value($0, names[0]) != nil && value($0, names[1]) != nil }
            let fooled = both.filter { value($0, names[0])! >= 0.5 && value($0, names[1])! < 0.5 }
            if json {
                printJSON(["proxy": names[0], "gold": names[1], "scored_by_both": both.count, "disagreements": fooled.count,
                           "rollouts": fooled.prefix(limit).map { ["step": $0.rollout.step, "prompt": $0.rollout.prompt,
                                                                  "completion": $0.rollout.completion] as [String: Any] }])
                return
            }
            let pct = both.isEmpty ? "n/a" : fmt(100 * Double(fooled.count) / Double(both.count), 1) + "%"
            print("\(fooled.count) of \(both.count) rollouts scored by both: \(names[0]) >= 0.5 and \(names[1]) < 0.5 (\(pct))")
            var byStep: [Int: Int] = [:]
            for r in fooled { byStep[r.rollout.step, default: 0] += 1 }
            if !byStep.isEmpty { print("by step: " + byStep.keys.sorted().map { "\($0):\(byStep[$0]!)" }.joined(separator: " ")) }
            for r in fooled.prefix(limit) {
                print("step \(r.rollout.step)  " + r.rollout.prompt.replacingOccurrences(of: "\n", with: " ⏎ "))
                print("  completion: " + r.rollout.completion.replacingOccurrences(of: "\n", with: " ⏎ "))
            }
            return
        }
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
