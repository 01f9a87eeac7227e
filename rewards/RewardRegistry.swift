// Reward functions by YAML id. Only the experiment runner calls this.
import Foundation
import PonderCore

public enum RewardRegistry {
    public static let ids = ["accuracy", "format", "overlong", "knowledge", "code_tests"]

    /// A reward function from its id and parameters (JSON-like values; missing keys keep defaults,
    /// unknown keys are errors naming the key).
    public static func make(_ id: String, parameters: [String: Any] = [:]) throws -> any RewardFunction {
        let knob = "rewards.\(id)"
        switch id {
        case "accuracy": return AccuracyReward(try applyingOverrides(parameters, to: .init(), knob: knob))
        case "format": return FormatReward(try applyingOverrides(parameters, to: .init(), knob: knob))
        case "overlong":
            let p: OverlongReward.Parameters = try applyingOverrides(parameters, to: .init(), knob: knob, optionalKeys: ["max_tokens"])
            try ConfigError.check("\(knob).buffer_tokens", p.bufferTokens, in: 1...1_000_000)
            return OverlongReward(p)
        case "knowledge": return KnowledgeReward(try applyingOverrides(parameters, to: .init(), knob: knob))
        case "code_tests": return CodeTestsReward(try applyingOverrides(parameters, to: .init(), knob: knob))
        default: throw ConfigError(knob: "rewards", allowed: ids.joined(separator: ", "), found: id)
        }
    }

    /// A weighted set from (id, weight, parameters) triples, in order.
    public static func makeSet(_ specs: [(id: String, weight: Double, parameters: [String: Any])]) throws -> RewardSet {
        RewardSet(try specs.map { WeightedReward(try make($0.id, parameters: $0.parameters), weight: $0.weight) })
    }
}
