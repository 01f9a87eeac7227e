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
    /// Difficulty tiers of one environment, moved through by rolling accuracy. Default: none.
    public var curriculum: CurriculumSettings? = nil
    /// Start from this checkpoint directory instead of the latest stage's (pretrain: instead of
    /// a new model): a Ponder stage folder or a Hugging Face model directory. Its tokenizer and
    /// chat format come with it and serve this stage and the later ones. Default: none.
    public var initFrom = ""
    /// float32 | bfloat16 (or bf16): how the frozen reference holds its weights. Default float32.
    public var referenceDType = WeightDType.float32
    /// Prompts from one part of the training questions only (`{part: 2, of: 2}`, as an sft
    /// stage's `questions`): RL on questions the model was not fine-tuned on. Default: all.
    public var questions: QuestionPart? = nil

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, rewards, environments, curriculum, initFrom = "init_from", referenceDType = "reference_dtype", questions
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
        curriculum = try mine.decodeIfPresent(CurriculumSettings.self, forKey: .curriculum)
        try mine.fill(&initFrom, .initFrom)
        try mine.fill(&referenceDType, .referenceDType)
        questions = try mine.decodeIfPresent(QuestionPart.self, forKey: .questions)
    }

    /// One flat mapping: the name, every parameter, the rewards and the environments.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try parameters.encode(to: encoder)
        try c.encode(rewards, forKey: .rewards)
        try c.encode(environments, forKey: .environments)
        try c.encodeIfPresent(curriculum, forKey: .curriculum)
        if !initFrom.isEmpty { try c.encode(initFrom, forKey: .initFrom) }
        try c.encodeReferenceDType(referenceDType, forKey: .referenceDType)
        try c.encodeIfPresent(questions, forKey: .questions)
    }
}

/// A grpo stage's `curriculum:` (GRPOTrainer.swift's header): the environment, its tiers (each a
/// mapping of settings over the environment's own, easiest first), the rolling accuracy that moves
/// to the next tier and the steps it is measured over. Accuracy reads the verifier's verdict, so
/// the stage needs a reward that asks for it (`accuracy`, the default).
///
///     curriculum:
///       environment: arithmetic
///       threshold: 0.7
///       window: 4
///       tiers:
///         - {max_operands: 2, max_digits: 1}
///         - {max_operands: 3, max_digits: 2}
///         - {min_operands: 3, max_operands: 5, max_digits: 4}
public struct CurriculumSettings: Codable, Sendable, Equatable {
    public var environment = ""
    public var tiers: [ConfigValue] = []
    /// Rolling accuracy that moves to the next tier. Default 0.8.
    public var threshold = 0.8
    /// Steps in the rolling accuracy. Default 4.
    public var window = 4

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case environment, tiers, threshold, window }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a grpo stage's curriculum")
        try c.fill(&environment, .environment)
        if environment.isEmpty { throw c.issue(.environment, "names the environment whose tiers these are, e.g. environment: arithmetic") }
        try c.fill(&tiers, .tiers)
        if tiers.count < 2 { throw c.issue(.tiers, "needs at least two tiers (mappings of settings, easiest first), found \(tiers.count)") }
        for tier in tiers {
            guard case .map = tier else { throw c.issue(.tiers, "each tier is a mapping of settings, e.g. {max_operands: 3}") }
        }
        try c.fill(&threshold, .threshold, .between(0, 1))
        try c.fill(&window, .window, .atLeast(1))
    }
}

extension GRPO.Advantage: ConfigChoice {}
extension GRPO.ScaleRewards: ConfigChoice {}
extension GRPO.LossType: ConfigChoice {}
extension LRScheduleKind: ConfigChoice {}

extension WeightDType: ConfigChoice {
    /// `bf16` is read as bfloat16 (safetensors' and PyTorch's short name); configs write bfloat16.
    public init?(choice: String) { self.init(rawValue: choice == "bf16" ? "bfloat16" : choice) }
}

extension KeyedEncodingContainer {
    /// The default (float32) is left out, so configs written before the key keep their hash.
    mutating func encodeReferenceDType(_ dtype: WeightDType, forKey key: Key) throws {
        if dtype != .float32 { try encode(dtype, forKey: key) }
    }
}
