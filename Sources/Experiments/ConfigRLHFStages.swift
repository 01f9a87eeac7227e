// The RLHF stages (DESIGN.md §7): `reward_model`, `dpo` and `ppo`, and the `preferences:`
// mapping the first two learn from. Each stage's settings are its trainer's parameter type
// (Sources/Training/RewardModel.swift, DPO.swift, PPO.swift), read from the stage's flat mapping
// as the grpo stage reads GRPO.Parameters.
//
//     - stage: reward_model
//       steps: 300
//       preferences: {source: verifier, pairs: 2000, samples: 4, noise: 0.1}
//       ensemble: 3                 # members trained on different data orders
//     - stage: ppo
//       rewards:
//         - {name: reward_model, params: {stage: reward_model, combine: mean}}
//         - {name: accuracy, weight: 0}      # the gold reward, logged beside the proxy
import Foundation
import Model
import PonderCore
import Training

/// Where a stage's preference pairs come from (Sources/Training/Preferences.swift).
public struct PreferenceSettings: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable, CaseIterable, ConfigChoice {
        case verifier, judge, file, synthetic
    }

    /// verifier | judge | file | synthetic. Default verifier.
    public var source = Source.verifier
    /// Training pairs (from train-split tasks). Default 1000.
    public var pairs = 1000
    /// Held-out pairs (validation-split tasks; never noisy). Default 200.
    public var validationPairs = 200
    /// Answers sampled per prompt (verifier, judge). Default 4.
    public var samples = 4
    /// Sampling temperature of those answers. Default 1.
    public var temperature = 1.0
    /// Longest sampled answer in tokens. Default 64.
    public var maxNewTokens = 64
    /// Share of training labels flipped (verifier, judge). Default 0.
    public var noise = 0.0
    /// A JSONL file of pairs (source: file), relative to the working directory.
    public var file = ""
    /// Held-out pairs for source: file (optional).
    public var validationFile = ""
    /// The constructions of source: synthetic. Default all three.
    public var kinds: [Preferences.SyntheticKind] = Preferences.SyntheticKind.allCases
    /// The judge of source: judge (the judge reward's parameters).
    public var judge: ConfigValue = .map([])
    /// Environments to draw prompts from. Default: all.
    public var environments: [String] = []
    /// Reuse the pairs of this earlier reward_model or dpo stage (its noise-free labels, the first
    /// `pairs` and `validation_pairs` of them) instead of building new ones; this stage's `noise`
    /// then flips its own share. Sweeps over noise and data size share one set of samples.
    public var from = ""

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case source, pairs, validationPairs = "validation_pairs", samples, temperature, maxNewTokens = "max_new_tokens", noise
        case file, validationFile = "validation_file", kinds, judge, environments, from
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "preferences")
        try c.fill(&source, .source)
        try c.fill(&pairs, .pairs, .atLeast(1))
        try c.fill(&validationPairs, .validationPairs, .atLeast(0))
        try c.fill(&samples, .samples, .between(2, 64))
        try c.fill(&temperature, .temperature, .aboveUpTo(0, 10))
        try c.fill(&maxNewTokens, .maxNewTokens, .atLeast(1))
        try c.fill(&noise, .noise, .between(0, 0.5))
        try c.fill(&file, .file)
        try c.fill(&validationFile, .validationFile)
        try c.fill(&kinds, .kinds)
        try c.fill(&judge, .judge)
        try c.fill(&environments, .environments)
        try c.fill(&from, .from)
        if !from.isEmpty {
            let own: [CodingKeys] = [.source, .samples, .temperature, .maxNewTokens, .file, .validationFile, .kinds, .judge, .environments]
            if let key = own.first(where: { c.contains($0) }) {
                throw c.issue(key, "`\(key.stringValue)` belongs to the stage whose pairs `from: \(from)` reuses; set it there")
            }
        }
        if source == .file && file.isEmpty { throw c.issue(.file, "source: file needs `file: PATH.jsonl`") }
        if source == .synthetic && kinds.isEmpty { throw c.issue(.kinds, "source: synthetic needs at least one kind") }
        if source == .judge {
            guard case .map(let entries) = judge, !entries.isEmpty else { throw c.issue(.judge, "source: judge needs the judge's settings (as the judge reward's params)") }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pairs, forKey: .pairs)
        try c.encode(validationPairs, forKey: .validationPairs)
        try c.encode(noise, forKey: .noise)
        // The keys that describe how pairs are built belong to the stage named by `from`; writing
        // them here would make the saved experiment.yaml fail its own validation.
        guard from.isEmpty else { return try c.encode(from, forKey: .from) }
        try c.encode(source, forKey: .source)
        try c.encode(samples, forKey: .samples)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(maxNewTokens, forKey: .maxNewTokens)
        try c.encode(file, forKey: .file)
        try c.encode(validationFile, forKey: .validationFile)
        try c.encode(kinds, forKey: .kinds)
        try c.encode(judge, forKey: .judge)
        try c.encode(environments, forKey: .environments)
    }
}

/// `stage: reward_model`: a Bradley-Terry reward model (or an ensemble) on preference pairs,
/// initialised from the latest checkpoint. It does not become the next stage's policy.
public struct RewardModelStage: TrainerStage, Codable, Sendable, Equatable {
    public var name = ""
    public var parameters = RewardModelTraining.Parameters()
    public var preferences = PreferenceSettings()
    /// Members trained one after another, each on its own data order. Default 1.
    public var ensemble = 1
    /// The reward model's size: keep only the first `layers` transformer blocks of the starting
    /// checkpoint (its embedding, final norm and those blocks). Default 0: all of them.
    public var layers = 0
    /// Start from this earlier stage's checkpoint instead of the latest one. Default: the latest.
    public var from = ""
    /// Start from this checkpoint directory instead (a stage folder under runs/, or a Hugging Face
    /// model directory); its tokenizer and chat format serve this stage and the later ones.
    /// Not with `from`. Default: none.
    public var initFrom = ""

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case name, preferences, ensemble, layers, from, initFrom = "init_from" }

    public init(from decoder: Decoder) throws {
        self.init()
        typealias P = RewardModelTraining.Parameters.CodingKeys
        let c = try decoder.strictContainer(keyedBy: P.self, in: "a reward_model stage",
                                            alsoAllowing: CodingKeys.allCases.map(\.stringValue) + ["stage"])
        let mine = try decoder.container(keyedBy: CodingKeys.self)
        try mine.fill(&name, .name)
        let p = try RewardModelTraining.Parameters(from: decoder)
        if let problem = p.problems().first { throw c.issue(problem.key, problem.message) }
        parameters = p
        try mine.fill(&preferences, .preferences)
        try mine.fill(&ensemble, .ensemble, .between(1, 16))
        try mine.fill(&layers, .layers, .atLeast(0))
        try mine.fill(&from, .from)
        try mine.fill(&initFrom, .initFrom)
        if !from.isEmpty && !initFrom.isEmpty { throw mine.issue(.initFrom, "give `from: STAGE` or `init_from: DIR`, not both") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        if !from.isEmpty { try c.encode(from, forKey: .from) }
        if !initFrom.isEmpty { try c.encode(initFrom, forKey: .initFrom) }
        try parameters.encode(to: encoder)
        try c.encode(preferences, forKey: .preferences)
        try c.encode(ensemble, forKey: .ensemble)
        if layers > 0 { try c.encode(layers, forKey: .layers) }
    }
}

/// `stage: dpo`: direct preference optimisation of the latest checkpoint against a frozen copy.
public struct DPOStage: TrainerStage, Codable, Sendable, Equatable {
    public var name = ""
    public var parameters = DPO.Parameters()
    public var preferences = PreferenceSettings()
    /// Start from this earlier stage's checkpoint instead of the latest one. Default: the latest.
    public var from = ""
    /// Start from this checkpoint directory instead (a stage folder under runs/, or a Hugging Face
    /// model directory); its tokenizer and chat format serve this stage and the later ones.
    /// Not with `from`. Default: none.
    public var initFrom = ""
    /// float32 | bfloat16 (or bf16): how the frozen reference holds its weights. Default float32.
    public var referenceDType = WeightDType.float32

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, preferences, from, initFrom = "init_from", referenceDType = "reference_dtype"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        typealias P = DPO.Parameters.CodingKeys
        let c = try decoder.strictContainer(keyedBy: P.self, in: "a dpo stage", alsoAllowing: CodingKeys.allCases.map(\.stringValue) + ["stage"])
        let mine = try decoder.container(keyedBy: CodingKeys.self)
        try mine.fill(&name, .name)
        let p = try DPO.Parameters(from: decoder)
        if let problem = p.problems().first { throw c.issue(problem.key, problem.message) }
        parameters = p
        try mine.fill(&preferences, .preferences)
        try mine.fill(&from, .from)
        try mine.fill(&initFrom, .initFrom)
        if !from.isEmpty && !initFrom.isEmpty { throw mine.issue(.initFrom, "give `from: STAGE` or `init_from: DIR`, not both") }
        try mine.fill(&referenceDType, .referenceDType)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        if !from.isEmpty { try c.encode(from, forKey: .from) }
        if !initFrom.isEmpty { try c.encode(initFrom, forKey: .initFrom) }
        try parameters.encode(to: encoder)
        try c.encode(preferences, forKey: .preferences)
        try c.encodeReferenceDType(referenceDType, forKey: .referenceDType)
    }
}

/// `stage: ppo`: PPO against the stage's rewards (a reward model, usually), from the latest
/// checkpoint. Rollout and optimizer keys are the grpo stage's (GRPO.Parameters) except those of
/// GRPO's own objective; the PPO keys are PPO.Parameters'.
public struct PPOStage: Codable, Sendable, Equatable {
    public var name = ""
    public var rollout = GRPO.Parameters()
    public var parameters = PPO.Parameters()
    public var rewards = [RewardSpec(name: "accuracy")]
    public var environments: [String] = []
    /// Start from this earlier stage's checkpoint instead of the latest one. Default: the latest.
    public var from = ""
    /// Start from this checkpoint directory instead (a stage folder under runs/, or a Hugging Face
    /// model directory); its tokenizer and chat format serve this stage and the later ones.
    /// Not with `from`. Default: none.
    public var initFrom = ""
    /// float32 | bfloat16 (or bf16): how the frozen reference holds its weights. Default float32.
    public var referenceDType = WeightDType.float32

    public init() {
        rollout.numGenerations = 4
        rollout.learningRate = 5e-5
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, rewards, environments, from, initFrom = "init_from", referenceDType = "reference_dtype"
    }

    /// GRPO keys that belong to GRPO's objective, which PPO replaces.
    static let grpoOnly: [GRPO.Parameters.CodingKeys: String] = [
        .beta: "use kl_coef", .epsLow: "use cliprange", .epsHigh: "use cliprange", .numIterations: "use ppo_epochs",
        .advantage: "PPO's advantages come from GAE", .scaleRewards: "use whiten_advantages", .lossType: "PPO takes the token mean",
        .dynamicSampling: "PPO learns from every sample", .maxResampleRounds: "PPO learns from every sample",
        .maskTruncatedCompletions: "use missing_eos_penalty",
    ]

    static var rolloutKeys: [GRPO.Parameters.CodingKeys] { GRPO.Parameters.CodingKeys.allCases.filter { grpoOnly[$0] == nil } }

    public init(from decoder: Decoder) throws {
        self.init()
        typealias P = GRPO.Parameters.CodingKeys
        let c = try decoder.strictContainer(keyedBy: P.self, in: "a ppo stage",
                                            alsoAllowing: CodingKeys.allCases.map(\.stringValue) + PPO.Parameters.CodingKeys.allCases.map(\.stringValue) + ["stage"])
        for key in P.allCases where c.contains(key) {
            if let why = Self.grpoOnly[key] { throw c.issue(key, "`\(key.stringValue)` is a grpo key, not a ppo one: \(why)") }
        }
        let mine = try decoder.container(keyedBy: CodingKeys.self)
        try mine.fill(&name, .name)
        var r = try GRPO.Parameters(from: decoder)
        if !c.contains(.numGenerations) { r.numGenerations = rollout.numGenerations }
        if !c.contains(.learningRate) { r.learningRate = rollout.learningRate }
        if let problem = r.problems().first { throw c.issue(problem.key, problem.message) }
        rollout = r
        let ppoKeys = try decoder.container(keyedBy: PPO.Parameters.CodingKeys.self)
        let p = try PPO.Parameters(from: decoder)
        if let problem = p.problems().first { throw ppoKeys.issue(problem.key, problem.message) }
        parameters = p
        try mine.fill(&rewards, .rewards)
        if rewards.isEmpty { throw mine.issue(.rewards, "needs at least one reward function") }
        try mine.fill(&environments, .environments)
        try mine.fill(&from, .from)
        try mine.fill(&initFrom, .initFrom)
        if !from.isEmpty && !initFrom.isEmpty { throw mine.issue(.initFrom, "give `from: STAGE` or `init_from: DIR`, not both") }
        try mine.fill(&referenceDType, .referenceDType)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        if !from.isEmpty { try c.encode(from, forKey: .from) }
        if !initFrom.isEmpty { try c.encode(initFrom, forKey: .initFrom) }
        var flat = encoder.container(keyedBy: AnyKey.self)
        if case .map(let entries) = try ConfigValueEncoder.encode(rollout) {
            let allowed = Set(Self.rolloutKeys.map(\.stringValue))
            for entry in entries where allowed.contains(entry.key) { try flat.encode(entry.value, forKey: AnyKey(entry.key)) }
        }
        try parameters.encode(to: encoder)
        try c.encode(rewards, forKey: .rewards)
        try c.encode(environments, forKey: .environments)
        try c.encodeReferenceDType(referenceDType, forKey: .referenceDType)
    }
}

/// The `reward_model` reward's params: which reward model (a reward_model `stage` of this
/// experiment that ran before, or a `checkpoint` directory), and how an ensemble's members combine.
public struct RewardModelSettings: Codable, Sendable, Equatable {
    public var stage: String?
    public var checkpoint: String?
    /// mean | min | mean_minus_std. Default mean.
    public var combine = RewardEnsemble.Rule.mean
    /// lambda of mean_minus_std. Default 1.
    public var lambda = 1.0

    enum CodingKeys: String, CodingKey, CaseIterable { case stage, checkpoint, combine, lambda }

    init(_ value: ConfigValue) throws {
        guard case .map(let entries) = value else { throw RunnerError("params must be a mapping") }
        let known = CodingKeys.allCases.map(\.stringValue)
        for e in entries where !known.contains(e.key) {
            throw RunnerError("unknown key `\(e.key)`" + Suggest.didYouMean(e.key, in: known) + " (allowed: " + known.joined(separator: ", ") + ")")
        }
        for e in entries {
            switch (e.key, e.value) {
            case ("stage", .string(let v)): stage = v
            case ("checkpoint", .string(let v)): checkpoint = v
            case ("combine", .string(let v)):
                guard let rule = RewardEnsemble.Rule(rawValue: v) else {
                    throw RunnerError("combine: expected one of " + RewardEnsemble.Rule.allCases.map(\.rawValue).joined(separator: ", ") + ", found `\(v)`")
                }
                combine = rule
            case ("lambda", .double(let v)): lambda = v
            case ("lambda", .int(let v)): lambda = Double(v)
            case (_, .null): break
            default: throw RunnerError("\(e.key): wrong type")
            }
        }
        if (stage == nil) == (checkpoint == nil) { throw RunnerError("give exactly one of `stage` (a reward_model stage's name) and `checkpoint` (a directory)") }
        if lambda < 0 { throw RunnerError("lambda must be >= 0, found \(lambda)") }
    }
}

extension DPO.Loss: ConfigChoice {}
extension Preferences.SyntheticKind: ConfigChoice {}
extension RewardEnsemble.Rule: ConfigChoice {}
