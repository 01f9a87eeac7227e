// The `reward_model` reward: a trained reward model (or ensemble) scores each rollout's answer,
// rendered after its prompt exactly as the reward model was trained (PreferencePair.render).
// The score is the proxy reward; list `accuracy` with weight 0 beside it and the store keeps
// the gold reward of every rollout too (DESIGN.md §6).
import Foundation
import PonderCore
import Rewards
import Tokenization

public final class RewardModelReward: RewardFunction, @unchecked Sendable {
    public let name = "reward_model"
    public let ensemble: RewardEnsemble
    let tokenizer: Tokenizer
    // The models are not thread-safe; the trainers score from one thread, this makes sure.
    private let lock = NSLock()

    public init(ensemble: RewardEnsemble, tokenizer: Tokenizer) {
        self.ensemble = ensemble
        self.tokenizer = tokenizer
    }

    public func score(_ input: RewardInput) -> Result<Double, RewardFailure> { score(batch: [input])[0] }

    public func score(batch inputs: [RewardInput]) -> [Result<Double, RewardFailure>] {
        let limit = ensemble.members[0].trunk.config.maxSeqLen
        var sequences: [[Int32]] = [], slots: [Int?] = []
        for input in inputs {
            guard let r = try? PreferencePair.render(input.task.prompt, input.completion, tokenizer: tokenizer), r.ids.count <= limit else {
                slots.append(nil)
                continue
            }
            slots.append(sequences.count)
            sequences.append(r.ids)
        }
        lock.lock()
        let scores = ensemble.scores(sequences).combined
        lock.unlock()
        return slots.map { slot in
            guard let slot else { return .failure(RewardFailure(.notApplicable, "the prompt and answer do not fit the reward model's max_seq_len \(limit)")) }
            return .success(scores[slot])
        }
    }
}
