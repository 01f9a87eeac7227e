// The `environments:` list and GRPO's `rewards:` list: the ids of the registries
// (environments/Registry.swift, rewards/RewardRegistry.swift) with free-form settings.
//
// Settings are checked at decode time by building the environment (or reward) once, so a bad
// knob is reported with the line of that knob. The resolved form holds every setting with
// its default filled in (read back from the built object), so the config hash changes when a
// default does.
import Environments
import Foundation
import Judge
import Storage
import PonderCore
import Rewards

/// One item of `environments:`.
public struct EnvironmentSpec: Codable, Sendable, Equatable {
    /// Registry name: arithmetic, counting, code, knowledge or jsonl. Required; each at most once.
    public var name: String
    /// Share of this environment when stages mix environments (pretraining corpus, SFT
    /// examples, GRPO prompts are drawn in proportion to the weights). Default 1.
    public var weight: Double = 1
    /// The environment's knobs (its `Config` keys, e.g. arithmetic's `max_digits`); missing
    /// keys keep the environment's defaults. jsonl takes `path` (relative to the directory the
    /// command runs in). Default: empty.
    public var settings: ConfigValue = .map([])
    /// Tools this environment's tasks may call (python, search), in every stage: SFT writes
    /// tool demonstrations only when the tools they call are allowed, and eval and GRPO
    /// rollouts run only these. `[]` keeps the environment tool-free, so a stage that mixes
    /// environments can give python to arithmetic and not to counting. A GRPO stage's own
    /// `tools:` overrides it. Default null: the environment's own tools.
    public var tools: [Tool]? = nil
    /// Shares of the task space in each split (Split.swift): training stages draw from `train`,
    /// eval stages from `validation` unless they say `split: test`. Default 0.8 / 0.1 / 0.1.
    public var split = SplitShares()

    public init(name: String, weight: Double = 1, settings: ConfigValue = .map([]), tools: [Tool]? = nil,
                split: SplitShares = SplitShares()) {
        self.name = name
        self.weight = weight
        self.settings = settings
        self.tools = tools
        self.split = split
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, weight, settings, tools, split
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "an environment")
        name = try c.decode(String.self, forKey: .name)
        guard EnvironmentRegistry.names.contains(name) else {
            throw c.issue(.name, "unknown environment `\(name)`" + Suggest.didYouMean(name, in: EnvironmentRegistry.names)
                          + " (available: " + EnvironmentRegistry.names.joined(separator: ", ") + ")")
        }
        try c.fill(&weight, .weight, .greaterThan(0))
        try c.fill(&settings, .settings)
        try c.fillOptional(&tools, .tools)
        if c.contains(.split) { split = try c.decode(SplitSection.self, forKey: .split).shares }
        if let problem = split.problem { throw c.issue(.split, problem) }
        if case .null = settings { settings = .map([]) }
        guard case .map = settings else {
            throw c.issue(.settings, "expected a mapping of \(name)'s settings")
        }
        try resolveSettings(at: c.codingPath + [CodingKeys.settings])
    }

    /// Checks the settings by building the environment, and fills in every default. `path`
    /// locates errors (the settings mapping).
    mutating func resolveSettings(at path: [CodingKey]) throws {
        let environment: any Environment
        do {
            environment = try make()
        } catch let error as ConfigError {
            throw EnvironmentSpec.locate(error, prefix: name, settings: settings, at: path)
        } catch {
            throw ConfigIssue(path: path, message: "\(error)")
        }
        settings = try EnvironmentSpec.resolvedSettings(of: environment) ?? settings
    }

    /// Checks that the task space under these settings holds every split (Environment.checkSplits);
    /// `path` locates errors (the environment item).
    func checkSplits(at path: [CodingKey]) throws {
        do {
            try make().checkSplits(split)
        } catch let error as ConfigError {
            throw ConfigIssue(path: path + [CodingKeys.split], message: "\(error.found)")
        }
    }

    /// The environment, built from the registry. `sandbox` defaults to the shared one.
    public func make(sandbox: Sandbox? = nil) throws -> any Environment {
        try EnvironmentRegistry.make(name, settings: settings.foundationMapping, sandbox: sandbox)
    }

    /// Every setting of a built environment, defaults included (nil for jsonl: its path is all).
    static func resolvedSettings(of environment: any Environment) throws -> ConfigValue? {
        switch environment {
        case let e as ArithmeticEnvironment: return try ConfigValueEncoder.encode(e.config)
        case let e as CountingEnvironment: return try ConfigValueEncoder.encode(e.config)
        case let e as CodeEnvironment: return try ConfigValueEncoder.encode(e.config)
        case let e as KnowledgeEnvironment: return try ConfigValueEncoder.encode(e.config)
        default: return nil
        }
    }

    /// A registry `ConfigError` ("arithmetic.max_digits must be in 1...9, found 12") as an
    /// issue at that key of the settings mapping (or at the mapping when the knob is derived).
    static func locate(_ error: ConfigError, prefix: String, settings: ConfigValue, at path: [CodingKey]) -> ConfigIssue {
        var knob = error.knob
        if knob.hasPrefix(prefix + ".") { knob.removeFirst(prefix.count + 1) }
        let key = String(knob.prefix { $0 != "." && $0 != " " })
        let present = settings[key] != nil
        if error.found == "unknown key" {
            let known = error.allowed.hasPrefix("one of: ")
                ? error.allowed.dropFirst("one of: ".count).components(separatedBy: ", ") : []
            return ConfigIssue(path: path + [AnyKey(key)],
                               message: "unknown setting `\(key)` for \(prefix)" + Suggest.didYouMean(key, in: known)
                                   + (known.isEmpty ? "" : " (allowed: " + known.joined(separator: ", ") + ")"),
                               atKey: true)
        }
        let what = knob == key ? "" : "\(knob): "
        let message = error.allowed.hasPrefix("a value of type")
            ? "\(what)expected \(error.allowed.dropFirst(2)) (\(error.found))"
            : "\(what)must be in \(error.allowed), found \(error.found)"
        return ConfigIssue(path: present ? path + [AnyKey(key)] : path, message: message)
    }
}

/// An environment's `split:` mapping, decoded strictly: `{train: 0.8, validation: 0.1, test: 0.1}`.
struct SplitSection: Decodable {
    var shares = SplitShares()

    enum CodingKeys: String, CodingKey, CaseIterable { case train, validation, test }

    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a split")
        try c.fill(&shares.train, .train, .between(0, 1))
        try c.fill(&shares.validation, .validation, .between(0, 1))
        try c.fill(&shares.test, .test, .between(0, 1))
    }
}

/// One item of a GRPO stage's `rewards:` (DESIGN.md §6). The total reward of a rollout is the
/// weighted sum; the store keeps each function's value.
public struct RewardSpec: Codable, Sendable, Equatable {
    /// Registry id: accuracy (the environment's verifier, partial credit allowed), format
    /// (`<think>` then an answer line), overlong (DAPO soft length penalty), knowledge (+1
    /// correct, 0 refusal, -1 wrong), code_tests (share of hidden tests passed). Required.
    public var name: String
    /// Multiplier in the weighted sum; may be negative. Default 1.
    public var weight: Double = 1
    /// The function's parameters (e.g. overlong's `buffer_tokens`); missing keys keep the
    /// function's defaults. Default: empty.
    public var params: ConfigValue = .map([])

    public init(name: String, weight: Double = 1, params: ConfigValue = .map([])) {
        self.name = name
        self.weight = weight
        self.params = params
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, weight, params
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a reward")
        name = try c.decode(String.self, forKey: .name)
        guard Self.ids.contains(name) else {
            throw c.issue(.name, "unknown reward `\(name)`" + Suggest.didYouMean(name, in: Self.ids)
                          + " (available: " + Self.ids.joined(separator: ", ") + ")")
        }
        try c.fill(&weight, .weight)
        try c.fill(&params, .params)
        if case .null = params { params = .map([]) }
        guard case .map = params else { throw c.issue(.params, "expected a mapping of \(name)'s parameters") }
        try resolveParams(at: c.codingPath + [CodingKeys.params])
    }

    /// The registry's rewards and the judge (Sources/Judge), which needs the store and may start a server.
    public static let ids = RewardRegistry.ids + ["judge", "reward_model"]

    /// The judge's configuration, from `params` (JudgeConfig.swift lists the keys).
    public func judgeConfig() throws -> JudgeConfig {
        let data = try JSONSerialization.data(withJSONObject: params.foundationMapping)
        return try JSONDecoder().decode(JudgeConfig.self, from: data)
    }

    /// Checks the parameters by building the function, and fills in every default.
    mutating func resolveParams(at path: [CodingKey]) throws {
        if name == "reward_model" {
            do { params = try ConfigValueEncoder.encode(try RewardModelSettings(params)) } catch {
                throw ConfigIssue(path: path, message: "reward_model: \(error)")
            }
            return
        }
        if name == "judge" {
            do {
                let config = try judgeConfig()
                try config.validate()
                params = try ConfigValueEncoder.encode(config)
            } catch let error as DecodingError {
                throw ConfigIssue(path: path, message: "judge: \(error.apiDescription)")
            } catch {
                throw ConfigIssue(path: path, message: "judge: \(error)")
            }
            return
        }
        let function: any RewardFunction
        do {
            function = try make()
        } catch let error as ConfigError {
            throw EnvironmentSpec.locate(error, prefix: "rewards.\(name)", settings: params, at: path)
        } catch {
            throw ConfigIssue(path: path, message: "\(error)")
        }
        params = try RewardSpec.resolvedParams(of: function) ?? params
    }

    /// The reward function, built from the registry.
    public func make() throws -> any RewardFunction {
        try RewardRegistry.make(name, parameters: params.foundationMapping)
    }

    static func resolvedParams(of function: any RewardFunction) throws -> ConfigValue? {
        switch function {
        case let f as AccuracyReward: return try ConfigValueEncoder.encode(f.parameters)
        case let f as FormatReward: return try ConfigValueEncoder.encode(f.parameters)
        case let f as OverlongReward: return try ConfigValueEncoder.encode(f.parameters)
        case let f as KnowledgeReward: return try ConfigValueEncoder.encode(f.parameters)
        case let f as CodeTestsReward: return try ConfigValueEncoder.encode(f.parameters)
        default: return nil
        }
    }
}

extension Array where Element == RewardSpec {
    /// The weighted reward set a GRPO trainer scores with; a judge caches its replies in `store`
    /// (and a `serve:` judge starts its server here, living as long as the set).
    public func rewardSet(store: RunStore? = nil,
                          rewardModel: ((ConfigValue) throws -> any RewardFunction)? = nil) throws -> RewardSet {
        RewardSet(try map { spec in
            if spec.name == "reward_model" {
                guard let rewardModel else { throw RunnerError("a reward_model reward is loaded by the experiment runner") }
                return WeightedReward(try rewardModel(spec.params), weight: spec.weight)
            }
            if spec.name == "judge" {
                let (judge, server) = try spec.judgeConfig().makeJudge(store: store)
                return WeightedReward(JudgeReward(judge: judge, server: server), weight: spec.weight)
            }
            return WeightedReward(try spec.make(), weight: spec.weight)
        })
    }
}
