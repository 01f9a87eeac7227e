// A reward that could not be computed is missing, not 0 (DESIGN.md §6): the rollout leaves its
// group's mean and std and the update, it is counted per function, and a group with fewer than
// two scored rollouts has no baseline and is dropped.
import Foundation
import Testing
import PonderCore
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
