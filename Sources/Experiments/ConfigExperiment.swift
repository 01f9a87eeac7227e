// ExperimentConfig: one experiment file (experiments/NAME.yaml), decoded strictly and
// resolved (every default filled in). Loading, the resolved text and the cross-section
// checks live here; each section's keys live in the Config*.swift file of that concept.
//
//     let config = try ExperimentConfig.load(path: "experiments/quickstart.yaml")
//     for stage in config.stages { switch stage { case .pretrain(let p): ... } }
//
// Decoding is not Yams' YAMLDecoder: the file is composed into a Yams `Node` tree (which
// carries line and column) and decoded with ConfigNodeDecoder; any problem becomes an
// `ExperimentConfigError` pointing at the line.
import Foundation
import Environments
import PonderCore
import Tokenization
import Yams

public struct ExperimentConfig: Codable, Sendable, Equatable {
    /// Experiment name (runs/NAME/, the experiments table). Letters, digits, `_`, `-`, `.`.
    /// Default: the file name without `.yaml`.
    public var name: String
    /// Seed of every training stream (model init, data order, rollouts); at most 2^62. Default 0.
    public var seed: UInt64 = 0
    /// Replicates: the whole experiment runs once per seed, as separate runs grouped in the
    /// store (runs/NAME/seed-S/), and figures are reported as the mean with a t-interval across
    /// seeds. When given it wins over `seed`, which then shows its first value. Default: [] (one
    /// run with `seed`).
    public var seeds: [UInt64] = []
    /// Seed of the choice of evaluation tasks among the held-out split (the split itself keeps
    /// them out of training); the same for every replicate, so seeds are compared on the same
    /// questions. Default: seed + 1000000.
    public var heldOutSeed: UInt64
    /// The transformer. Default: `preset: tiny`.
    public var model: ModelSection
    /// The tokenizer the `tokenizer` stage trains. Default: vocab_size 1024, 2000 documents
    /// per environment.
    public var tokenizer: TokenizerSection
    /// Task environments with their settings. Required, at least one; names unique.
    public var environments: [EnvironmentSpec]
    /// The pipeline, in order; the first stage is `tokenizer`. Required.
    public var stages: [Stage]

    public static func defaultHeldOutSeed(_ seed: UInt64) -> UInt64 { seed + 1_000_000 }

    /// Seeds stay below 2^62, so they print as plain integers everywhere (YAML, JSON, SQLite).
    public static let maximumSeed: UInt64 = 1 << 62

    /// A config built in code, resolved like a decoded one (stage names, environment subsets,
    /// the model's vocabulary: a `vocabSize` of 0 takes the tokenizer's). Errors carry the key
    /// path but no file position.
    public init(name: String, seed: UInt64 = 0, model: ModelSection = ModelSection(preset: .tiny),
                tokenizer: TokenizerSection = TokenizerSection(), environments: [EnvironmentSpec], stages: [Stage]) throws {
        self.name = name
        self.seed = seed
        self.heldOutSeed = ExperimentConfig.defaultHeldOutSeed(seed)
        self.model = model
        self.tokenizer = tokenizer
        self.environments = environments
        self.stages = stages
        do {
            try resolve()
        } catch let issue as ConfigIssue {
            let at = ConfigLocation.locate(issue.path, in: Node.mapping(Node.Mapping([])), atKey: false)
            throw ExperimentConfigError(file: "<config>", line: nil, column: nil, keyPath: at.keyPath, message: issue.message)
        }
    }

    /// The seeds of the replicates: `seeds`, or `seed` alone.
    public var replicateSeeds: [UInt64] { seeds.isEmpty ? [seed] : seeds }

    /// The config of the replicate with `seed`: a group of that one seed, the same held-out seed.
    public func replicate(seed: UInt64) -> ExperimentConfig {
        var copy = self
        copy.seed = seed
        copy.seeds = [seed]
        return copy
    }

    /// The config whose checkpoints belong to seed `seed` under `runsDirectory`: the replicate's
    /// when this is a seed group, or when runs/NAME/seed-S exists (the file, without `seeds`, was
    /// run with `ponder run --seeds`); this config otherwise.
    public func replicate(seed: UInt64, lookingIn runsDirectory: URL) -> ExperimentConfig {
        let grouped = replicate(seed: seed)
        if !seeds.isEmpty || FileManager.default.fileExists(atPath: grouped.runDirectory(in: runsDirectory).path) { return grouped }
        return self
    }

    /// Where the runner puts the stage folders: runs/NAME, or runs/NAME/seed-S for a replicate
    /// of a seed group (a config with `seeds`; a replicate's own config lists its one seed).
    public func runDirectory(in runsDirectory: URL) -> URL {
        let experiment = runsDirectory.appendingPathComponent(name)
        return seeds.isEmpty ? experiment : experiment.appendingPathComponent("seed-\(seed)")
    }

    /// The environment named `name` in `environments:`.
    public func environment(named name: String) -> EnvironmentSpec? { environments.first { $0.name == name } }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, seed, seeds, heldOutSeed = "held_out_seed", model, tokenizer, environments, stages
    }

    static let fileNameKey = CodingUserInfoKey(rawValue: "ponder.experimentFileName")!

    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "an experiment")
        name = decoder.userInfo[ExperimentConfig.fileNameKey] as? String ?? "experiment"
        try c.fill(&name, .name)
        if name.isEmpty || name.range(of: #"^[A-Za-z0-9_.-]+$"#, options: .regularExpression) == nil {
            throw c.issue(.name, "must be letters, digits, `_`, `-` or `.`, found '\(name)'")
        }
        try c.fill(&seed, .seed, .atMost(ExperimentConfig.maximumSeed))
        try c.fill(&seeds, .seeds)
        if let bad = seeds.first(where: { $0 > ExperimentConfig.maximumSeed }) {
            throw c.issue(.seeds, "each seed must be <= \(ExperimentConfig.maximumSeed), found \(bad)")
        }
        if Set(seeds).count != seeds.count { throw c.issue(.seeds, "lists a seed twice; replicates need distinct seeds") }
        if let first = seeds.first { seed = first }
        heldOutSeed = ExperimentConfig.defaultHeldOutSeed(seed)
        try c.fill(&heldOutSeed, .heldOutSeed, .atMost(ExperimentConfig.maximumSeed + 1_000_000))
        model = ModelSection(preset: .tiny)
        try c.fill(&model, .model)
        tokenizer = TokenizerSection()
        try c.fill(&tokenizer, .tokenizer)
        guard c.contains(.environments) else {
            throw ConfigIssue(path: decoder.codingPath, message: "missing `environments`: list at least one of "
                              + EnvironmentRegistry.names.joined(separator: ", "))
        }
        environments = try c.decode([EnvironmentSpec].self, forKey: .environments)
        guard c.contains(.stages) else {
            throw ConfigIssue(path: decoder.codingPath, message: "missing `stages`: the pipeline, starting with `- stage: tokenizer`")
        }
        stages = try c.decode([Stage].self, forKey: .stages)
        try resolve()
    }

    /// Cross-section rules and derived defaults (stage names, environment subsets, vocabulary).
    private mutating func resolve() throws {
        func path(_ parts: Any...) -> [CodingKey] {
            parts.map { ($0 as? Int).map { AnyKey(intValue: $0) } ?? AnyKey("\($0)") }
        }
        if environments.isEmpty { throw ConfigIssue(path: path("environments"), message: "list at least one environment") }
        for (i, e) in environments.enumerated() where environments[..<i].contains(where: { $0.name == e.name }) {
            throw ConfigIssue(path: path("environments", i, "name"), message: "`\(e.name)` is listed twice; each environment at most once")
        }
        // Idempotent for decoded configs; fills defaults into configs built in code.
        for i in environments.indices {
            guard EnvironmentRegistry.names.contains(environments[i].name) else {
                throw ConfigIssue(path: path("environments", i, "name"), message: "unknown environment `\(environments[i].name)` (available: "
                                  + EnvironmentRegistry.names.joined(separator: ", ") + ")")
            }
            try environments[i].resolveSettings(at: path("environments", i, "settings"))
            try environments[i].checkSplits(at: path("environments", i))
        }
        if stages.isEmpty { throw ConfigIssue(path: path("stages"), message: "list at least one stage, starting with `- stage: tokenizer`") }
        // The first stage trains the tokenizer, or starts from `init_from: DIR` and brings that
        // directory's tokenizer (the `tokenizer:` and `model:` sections then do not apply to it).
        if case .tokenizer(let tokenizerStage) = stages[0] {
            if let i = stages.indices.dropFirst().first(where: { stages[$0].kind == .tokenizer }) {
                throw ConfigIssue(path: path("stages", i, "stage"), message: "only one tokenizer stage is allowed (the first)")
            }
            // The tokenizer stage's keys override the section; both show the result.
            if let v = tokenizerStage.vocabSize {
                if let problem = ParameterRule.between(Tokenizer.minimumVocabSize, 1 << 20).violation(v) {
                    throw ConfigIssue(path: path("stages", 0, "vocab_size"), message: problem)
                }
                tokenizer.vocabSize = v
            }
            if let d = tokenizerStage.corpusDocuments {
                if let problem = ParameterRule.atLeast(1).violation(d) {
                    throw ConfigIssue(path: path("stages", 0, "corpus_documents"), message: problem)
                }
                tokenizer.corpusDocuments = d
            }
            var resolvedTokenizer = tokenizerStage
            resolvedTokenizer.vocabSize = tokenizer.vocabSize
            resolvedTokenizer.corpusDocuments = tokenizer.corpusDocuments
            stages[0] = .tokenizer(resolvedTokenizer)
            if model.vocabSize == 0 {
                model.vocabSize = tokenizer.vocabSize
            } else if model.vocabSize != tokenizer.vocabSize {
                throw ConfigIssue(path: path("model", "vocab_size"),
                                  message: "must equal the tokenizer's vocab_size \(tokenizer.vocabSize), found \(model.vocabSize) (leave it out to take the tokenizer's)")
            }
        } else if let i = stages.indices.first(where: { stages[$0].initFrom.isEmpty || stages[$0].kind != .eval }),
                  stages[i].initFrom.isEmpty {
            // Up to the first training stage, every stage needs a model and a tokenizer of its own.
            throw ConfigIssue(path: path("stages", i, "stage"),
                              message: "the first stage must be `tokenizer` (every later stage needs its vocabulary), or a training stage with `init_from: DIR` (a checkpoint directory with its tokenizer), after eval stages with `init_from` if any; found `\(stages[i].kind.rawValue)` without `init_from`")
        } else if let i = stages.indices.first(where: { stages[$0].kind == .tokenizer }) {
            throw ConfigIssue(path: path("stages", i, "stage"), message: "a tokenizer stage after `init_from` would replace the model's own tokenizer; remove it")
        } else if model.vocabSize == 0 {
            model.vocabSize = tokenizer.vocabSize  // unused: the directory's config.json sets the model
        }

        // Stage names: default to the kind (KIND_2, ... for repeats), unique, usable as folder names.
        var seen = Set<String>()
        var counts: [StageKind: Int] = [:]
        for i in stages.indices {
            counts[stages[i].kind, default: 0] += 1
            if stages[i].name.isEmpty {
                let n = counts[stages[i].kind]!
                var candidate = n == 1 ? stages[i].kind.rawValue : "\(stages[i].kind.rawValue)_\(n)"
                while seen.contains(candidate) { candidate += "_" }
                stages[i].name = candidate
            } else if stages[i].name.range(of: #"^[A-Za-z0-9_.-]+$"#, options: .regularExpression) == nil {
                throw ConfigIssue(path: path("stages", i, "name"), message: "must be letters, digits, `_`, `-` or `.`, found '\(stages[i].name)'")
            } else if seen.contains(stages[i].name) {
                throw ConfigIssue(path: path("stages", i, "name"), message: "`\(stages[i].name)` names two stages; stage names must be unique")
            }
            seen.insert(stages[i].name)
        }

        // Environment subsets and lengths.
        let all = environments.map(\.name)
        func subset(_ names: [String], _ i: Int) throws -> [String] {
            if names.isEmpty { return all }
            for (j, n) in names.enumerated() where !all.contains(n) {
                throw ConfigIssue(path: path("stages", i, "environments", j),
                                  message: "`\(n)` is not in this experiment's environments (" + all.joined(separator: ", ") + ")"
                                      + Suggest.didYouMean(n, in: all))
            }
            return names
        }
        func fits(_ value: Int, _ i: Int, _ key: String, strict: Bool = false) throws {
            let limit = strict ? model.maxSeqLen - 1 : model.maxSeqLen
            if value > limit {
                throw ConfigIssue(path: path("stages", i, key),
                                  message: "must be \(strict ? "<" : "<=") model.max_seq_len (\(model.maxSeqLen)), found \(value)")
            }
        }
        // `from:` names an earlier stage: one that wrote a checkpoint, or (preferences.from) one
        // that built preference pairs of its own.
        func earlier(_ name: String, before i: Int, _ key: String, kinds: Set<StageKind>, what: String) throws {
            guard !name.isEmpty else { return }
            let candidates = stages[..<i].filter { kinds.contains($0.kind) }
            guard candidates.contains(where: { $0.name == name }) else {
                let names = candidates.map(\.name)
                throw ConfigIssue(path: path("stages", i, key), message: "`\(name)` is not \(what) before this one"
                                  + (names.isEmpty ? " (there is none)" : Suggest.didYouMean(name, in: names) + " (earlier: " + names.joined(separator: ", ") + ")"))
            }
        }
        let trained: Set<StageKind> = [.pretrain, .sft, .grpo, .dpo, .ppo]
        func ownPairs(_ stage: Stage) -> Bool {
            switch stage {
            case .rewardModel(let s): return s.preferences.from.isEmpty
            case .dpo(let s): return s.preferences.from.isEmpty
            default: return false
            }
        }
        for i in stages.indices {
            let pairsFrom: String
            switch stages[i] {
            case .rewardModel(let s):
                try earlier(s.from, before: i, "from", kinds: trained, what: "a training stage")
                pairsFrom = s.preferences.from
            case .dpo(let s):
                try earlier(s.from, before: i, "from", kinds: trained, what: "a training stage")
                pairsFrom = s.preferences.from
            case .ppo(let s):
                try earlier(s.from, before: i, "from", kinds: trained, what: "a training stage")
                pairsFrom = ""
            default: pairsFrom = ""
            }
            if !pairsFrom.isEmpty {
                try earlier(pairsFrom, before: i, "preferences.from", kinds: [.rewardModel, .dpo], what: "a reward_model or dpo stage")
                if let source = stages[..<i].first(where: { $0.name == pairsFrom }), !ownPairs(source) {
                    throw ConfigIssue(path: path("stages", i, "preferences", "from"),
                                      message: "`\(pairsFrom)` reuses another stage's pairs itself; name the stage that built them")
                }
            }
        }
        for i in stages.indices {
            switch stages[i] {
            case .tokenizer: break
            case .pretrain(let s): try fits(s.parameters.seqLen, i, "seq_len")
            case .sft(var s):
                try fits(s.parameters.seqLen, i, "seq_len")
                s.environments = try subset(s.environments, i)
                stages[i] = .sft(s)
            case .eval(var s):
                try fits(s.maxNewTokens, i, "max_new_tokens", strict: true)
                s.environments = try subset(s.environments, i)
                stages[i] = .eval(s)
            case .grpo(var s):
                try fits(s.parameters.maxCompletionLength, i, "max_completion_length", strict: true)
                for j in s.rewards.indices { try s.rewards[j].resolveParams(at: path("stages", i, "rewards", j, "params")) }
                s.environments = try subset(s.environments, i)
                stages[i] = .grpo(s)
            case .rewardModel(var s):
                try fits(s.preferences.maxNewTokens, i, "preferences.max_new_tokens", strict: true)
                s.preferences.environments = try subset(s.preferences.environments, i)
                stages[i] = .rewardModel(s)
            case .dpo(var s):
                try fits(s.preferences.maxNewTokens, i, "preferences.max_new_tokens", strict: true)
                s.preferences.environments = try subset(s.preferences.environments, i)
                stages[i] = .dpo(s)
            case .ppo(var s):
                try fits(s.rollout.maxCompletionLength, i, "max_completion_length", strict: true)
                for j in s.rewards.indices { try s.rewards[j].resolveParams(at: path("stages", i, "rewards", j, "params")) }
                s.environments = try subset(s.environments, i)
                stages[i] = .ppo(s)
            }
        }
    }
}
