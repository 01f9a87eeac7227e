// The judge as a GRPO reward (`rewards: [{name: judge, params: {...}}]`): each rollout's visible
// answer is graded pointwise against its task's question and reference; the [0, 1] score is the
// reward. A step's rollouts are graded concurrently (the backend's concurrency cap applies, and
// `ponder serve` batches them). A failed call or an unreadable reply is a `.judge` failure: the
// trainer leaves that rollout out of its group's advantage and counts it; it is never a 0.
//
// The verifier's verdict is not the judge's business: list `accuracy` with weight 0 beside
// `judge` and the store keeps the gold reward of every rollout next to the judge's.

import Dispatch
import Foundation
import PonderCore

public struct JudgeReward: RewardFunction {
    public let name = "judge"
    public let judge: Judge
    /// Keeps a server the reward started (backend `serve:`) alive as long as the reward.
    let server: ServedJudge?

    public init(judge: Judge, server: ServedJudge? = nil) {
        self.judge = judge
        self.server = server
    }

    public func score(_ input: RewardInput) -> Result<Double, RewardFailure> { score(batch: [input])[0] }

    public func score(batch inputs: [RewardInput]) -> [Result<Double, RewardFailure>] {
        let judge = self.judge
        let grades = blockingWait {
            await withTaskGroup(of: (Int, JudgeGrade).self) { group in
                for (i, input) in inputs.enumerated() {
                    group.addTask {
                        let question = input.task.prompt.messages.last(where: { $0.role == .user })?.finalText ?? ""
                        return (i, await judge.grade(question: question, reference: input.task.reference,
                                                     response: input.completion.finalText))
                    }
                }
                var out = [JudgeGrade](repeating: JudgeGrade(), count: inputs.count)
                for await (i, g) in group { out[i] = g }
                return out
            }
        }
        return grades.map { g in
            if let score = g.score { return .success(score) }
            return .failure(RewardFailure(.judge, g.failure ?? "no score"))
        }
    }
}

/// Runs `work` on the concurrency pool and waits for it on this (non-pool) thread.
func blockingWait<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        box.value = await work()
        done.signal()
    }
    done.wait()
    return box.value!
}

final class ResultBox<T>: @unchecked Sendable { var value: T? }
