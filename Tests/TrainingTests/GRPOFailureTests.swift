// A reward that could not be computed is missing, not 0 (DESIGN.md §6): the rollout leaves its
// group's mean and std and the update, it is counted per function, and a group with fewer than
// two scored rollouts has no baseline and is dropped.
import Foundation
import Testing
import PonderCore
import Model
import Rewards
@testable import Training

@Suite struct GRPOFailureTests {
    static func rollout() -> Rollout {
        Rollout(promptIDs: [1], tokens: [2, 3], logProbs: [0, 0], lossMask: [1, 1], message: .assistant("x"), text: "x",
                finishReason: .stop, toolCalls: [])
    }

    /// Reads its value from the completion ("0.5"), and fails as a timed-out sandbox on "fail".
    struct ReadReward: RewardFunction {
        var name: String { "code_tests" }
        func score(_ input: RewardInput) -> Result<Double, RewardFailure> {
            let text = input.completion.finalText
            if text == "fail" { return .failure(RewardFailure(.execution, "sandbox timed out", execution: ExecutionFailure(.timeout, "wall"))) }
            return .success(Double(text) ?? 0)
        }
    }

    struct ConstantReward: RewardFunction {
        var name: String { "format" }
        func score(_ input: RewardInput) -> Result<Double, RewardFailure> { .success(1) }
    }

    static let rewards = RewardSet([WeightedReward(ReadReward()), WeightedReward(ConstantReward(), weight: 0.5)])

    static func score(_ value: Double?) -> RewardBreakdown {
        let task = EnvTask(id: "t", environment: "code", prompt: Conversation(user: "q"), reference: "", difficulty: "")
        return rewards.score(RewardInput(task: task, completion: .assistant(value.map { String($0) } ?? "fail")))
    }

    static func group(_ values: [Double?]) -> (task: EnvTask, rollouts: [Rollout], scores: [RewardBreakdown]) {
        (EnvTask(id: "t", environment: "code", prompt: Conversation(user: "q"), reference: "", difficulty: ""),
         values.map { _ in rollout() }, values.map(score))
    }

    @Test func failedRewardsLeaveTheirGroup() {
        var batch = GRPORun.Batch()
        // Group 0: rewards 1, 0, (failed), 1 -> the failed one is missing, the others are scored
        // as a group of three. Group 1: one scored rollout left -> no baseline, dropped.
        batch.groups = [Self.group([1, 0, nil, 1]), Self.group([nil, 1, nil, nil])]
        let p = GRPO.Parameters(advantage: .grpo, scaleRewards: .none)
        let advantages = GRPORun.advantages(batch, parameters: p)
        // Totals are code_tests + 0.5 * format: 1.5, 0.5, 1.5 -> mean 7/6.
        let mean = (1.5 + 0.5 + 1.5) / 3
        #expect(advantages[0][2] == nil)
        #expect(abs(advantages[0][0]! - (1.5 - mean)) < 1e-12 && abs(advantages[0][1]! - (0.5 - mean)) < 1e-12)
        #expect(advantages[1].allSatisfy { $0 == nil })
        // Were a failure scored 0, the mean would include it: the advantages would differ.
        let asZero = GRPO.advantages(rewards: [1.5, 0.5, 0.5, 1.5], groups: [0, 0, 0, 0], parameters: p)
        #expect(abs(asZero[0] - advantages[0][0]!) > 0.1)

        let metrics = GRPORun.statistics(batch, advantages)
        #expect(metrics["reward_failures"] == 4 && metrics["reward_failures/code_tests"] == 4 && metrics["reward_failures/format"] == 0)
        #expect(metrics["groups_dropped"] == 1)
        // The mean reward is over the scored rollouts only: 1.5, 0.5, 1.5 and group 1's 1.5.
        #expect(abs(metrics["reward"]! - (1.5 + 0.5 + 1.5 + 1.5) / 4) < 1e-12)
        #expect(metrics["sandbox_failures"] == 4)
    }
}

/// A training prompt longer than the context is skipped and replaced by the next draw (counted
/// in `skipped_long_prompts`), not a crash in the engine; the batch keeps its size.
@Suite struct OverlongPromptTests {
    /// Arithmetic, with one task in three asked at a length no context holds.
    struct Overlong: Environment {
        let inner = Fixtures.arithmetic
        var name: String { inner.name }
        var tools: [Tool] { inner.tools }
        var styles: [DemonstrationStyle] { inner.styles }
        func sample(_ rng: inout RNG) -> EnvTask {
            var task = inner.sample(&rng)
            if rng.nextInt(below: 3) == 0 { task.prompt = Conversation(user: String(repeating: "Please add carefully. ", count: 80)) }
            return task
        }
        func splitKey(_ task: EnvTask) -> String { inner.splitKey(task) }
        func verify(_ task: EnvTask, _ completion: Message) -> Verdict { inner.verify(task, completion) }
        func verify(batch items: [(task: EnvTask, completion: Message)]) -> [Verdict] { inner.verify(batch: items) }
        func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message { inner.demonstration(task, style: style) }
        func document(_ task: EnvTask) -> String { inner.document(task) }
    }

    @Test func overlongTrainingPromptsAreSkipped() throws {
        let tok = Fixtures.tokenizer
        let policy = Fixtures.model(seed: 3, maxSeqLen: 96)
        var p = GRPO.Parameters()
        p.promptsPerStep = 6
        p.numGenerations = 2
        p.maxCompletionLength = 8
        let run = GRPORun(policy: policy, reference: nil, optimizer: AdamW(layout: policy.layout, parameters: p.adamW), tokenizer: tok,
                          environments: [GRPOTrainer.WeightedEnvironment(environment: Overlong(), weight: 1, heldOut: [])],
                          rewards: RewardSet([WeightedReward(GRPOFailureTests.ConstantReward())]), tools: nil, parameters: p, seed: 1)
        var skipped = 0
        for step in 1...3 {
            let batch = run.rollouts(step: step)
            #expect(batch.groups.count == 6)
            for group in batch.groups {
                #expect(try tok.renderForCompletion(group.task.prompt).count < 96)
            }
            skipped += batch.skippedPrompts
            if batch.skippedPrompts > 0 { #expect(GRPORun.statistics(batch)["skipped_long_prompts"] == Double(batch.skippedPrompts)) }
        }
        #expect(skipped > 0, "no overlong prompt drawn in 18 tasks")
    }
}
