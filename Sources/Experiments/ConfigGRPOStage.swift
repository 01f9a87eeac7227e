// `stage: grpo`: group-relative policy optimisation against the configured rewards
// (DESIGN.md §7). Its settings are the trainer's own configuration type, `GRPO.Parameters`
// (Sources/Training/GRPOParameters.swift: every key, default and rule, written once), read from
// the same flat mapping as the stage's name, the environments it draws prompts from and its
// reward functions.
import Foundation
import Model
import PonderCore
import Training

public struct GRPOStage: TrainerStage, Codable, Sendable, Equatable {
    /// Unique stage name. Default `grpo`.
    public var name = ""
    /// Every optimisation and sampling setting (GRPO.Parameters).
    public var parameters = GRPO.Parameters()


    /// Reward functions with weights. Default: [accuracy, weight 1].
    public var rewards = [RewardSpec(name: "accuracy")]
    /// Environments to draw prompts from (names from `environments:`). Default: all of them.
    public var environments: [String] = []

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, rewards, environments
    }

    public init(from decoder: Decoder) throws {
        self.init()
        typealias P = GRPO.Parameters.CodingKeys
        let own = CodingKeys.allCases.map(\.stringValue) + ["stage"]
        let c = try decoder.strictContainer(keyedBy: P.self, in: "a grpo stage", alsoAllowing: own)
        let mine = try decoder.container(keyedBy: CodingKeys.self)
        try mine.fill(&name, .name)
        let p = try GRPO.Parameters(from: decoder)
        if let problem = p.problems().first { throw c.issue(problem.key, problem.message) }
        parameters = p
        try mine.fill(&rewards, .rewards)
        if rewards.isEmpty { throw mine.issue(.rewards, "needs at least one reward function") }
        try mine.fill(&environments, .environments)
    }

    /// One flat mapping: the name, every parameter, the rewards and the environments.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try parameters.encode(to: encoder)
        try c.encode(rewards, forKey: .rewards)
        try c.encode(environments, forKey: .environments)
    }
}

extension GRPO.Advantage: ConfigChoice {}
extension GRPO.ScaleRewards: ConfigChoice {}
extension GRPO.LossType: ConfigChoice {}
extension LRScheduleKind: ConfigChoice {}
