// RewardSet: several reward functions with weights, scored together into a breakdown.
//
// The store keeps every function's value per rollout (DESIGN.md §6, §8), so a breakdown lists
// each function's result, value or typed failure, and the weighted total. A failed function
// adds nothing to the total and sets `failed`; a trainer decides what to do with such a rollout
// (drop it from the group, or count it) and logs the failure, which is never a silent 0.
import Foundation
import PonderCore

public struct WeightedReward: Sendable {
    public var function: any RewardFunction
    public var weight: Double

    public init(_ function: any RewardFunction, weight: Double = 1) {
        self.function = function
        self.weight = weight
    }
}

public struct RewardBreakdown: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var weight: Double
        public var result: Result<Double, RewardFailure>

        public var value: Double? { if case .success(let v) = result { v } else { nil } }
        public var failure: RewardFailure? { if case .failure(let f) = result { f } else { nil } }
    }

    public var entries: [Entry]
    /// The verdict the functions saw (nil when none needed one).
    public var verdict: Verdict?

    /// Sum of weight * value over the functions that succeeded.
    public var total: Double { entries.reduce(0) { $0 + $1.weight * ($1.value ?? 0) } }
    /// Whether any function failed (the total then covers only the others).
    public var failed: Bool { entries.contains { $0.failure != nil } }
    public var failures: [RewardFailure] { entries.compactMap(\.failure) }
}

public struct RewardSet: Sendable {
    public var rewards: [WeightedReward]

    public init(_ rewards: [WeightedReward]) { self.rewards = rewards }

    /// Whether any function reads the verdict (the verifier must then run).
    public var needsVerdict: Bool { rewards.contains { $0.function.needsVerdict } }

    /// Score one rollout whose verdict (if needed) is already in `input`.
    public func score(_ input: RewardInput) -> RewardBreakdown {
        RewardBreakdown(
            entries: rewards.map { RewardBreakdown.Entry(name: $0.function.name, weight: $0.weight, result: $0.function.score(input)) },
            verdict: input.verdict)
    }

    /// Score one rollout, running the environment's verifier first when a function needs it.
    public func score(_ input: RewardInput, environment: any Environment) -> RewardBreakdown {
        var input = input
        if needsVerdict && input.verdict == nil { input.verdict = environment.verify(input.task, input.completion) }
        return score(input)
    }

    /// Score a batch (a GRPO step's rollouts); results in input order. Verdicts missing from the
    /// inputs are computed per environment with `verify(batch:)` (the code environment keeps every
    /// sandbox slot busy). `environment` maps a task to its environment, so a step may mix them;
    /// a task it cannot map keeps a nil verdict (functions that need one then fail, visibly).
    public func score(batch inputs: [RewardInput], environment: (EnvTask) -> (any Environment)?) -> [RewardBreakdown] {
        var inputs = inputs
        if needsVerdict {
            var groups: [String: (env: any Environment, indices: [Int])] = [:]
            for (i, input) in inputs.enumerated() where input.verdict == nil {
                guard let env = environment(input.task) else { continue }
                groups[env.name, default: (env, [])].indices.append(i)
            }
            for name in groups.keys.sorted() {
                let (env, indices) = groups[name]!
                let verdicts = env.verify(batch: indices.map { (inputs[$0].task, inputs[$0].completion) })
                for (i, v) in zip(indices, verdicts) { inputs[i].verdict = v }
            }
        }
        let results = rewards.map { $0.function.score(batch: inputs) }
        return inputs.indices.map { i in
            RewardBreakdown(entries: rewards.indices.map { r in
                RewardBreakdown.Entry(name: rewards[r].function.name, weight: rewards[r].weight, result: results[r][i])
            }, verdict: inputs[i].verdict)
        }
    }
}

// A breakdown crosses process boundaries in data-parallel GRPO (each rank scores its groups and
// the ranks exchange them): an entry is written as its value or its failure.
extension RewardBreakdown.Entry: Codable {
    enum CodingKeys: String, CodingKey { case name, weight, value, failure }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        weight = try c.decode(Double.self, forKey: .weight)
        if let failure = try c.decodeIfPresent(RewardFailure.self, forKey: .failure) {
            result = .failure(failure)
        } else {
            result = .success(try c.decode(Double.self, forKey: .value))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(weight, forKey: .weight)
        switch result {
        case .success(let value): try c.encode(value, forKey: .value)
        case .failure(let failure): try c.encode(failure, forKey: .failure)
        }
    }
}

extension RewardBreakdown: Codable {}
