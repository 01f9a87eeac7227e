// TrainingStream: everything an experiment's stages learn from, rebuilt from its config without
// training, so held-out sets can be audited against it (DESIGN.md §5, §12).
//
// It replays the runner's own draws (RunnerData and GRPOTrainer's step streams): the tokenizer
// corpus, each pretraining corpus, each SFT stage's demonstrations and each GRPO stage's prompts,
// and records the split key of every task behind them. `contamination(of:)` counts eval tasks
// whose key occurs in that set: 0 by construction, and measured rather than assumed.
//
// Not replayed: prompts that dynamic sampling draws to replace flat groups (they depend on the
// rewards the model earned), and the next draws that replace a prompt too long for the context
// (they depend on the tokenizer). They come from the same train view as the first draw, so the
// disjointness test checks that view directly. Documents without a task (the knowledge world's
// passages, which are the world a model reads rather than questions) carry no key.

import Environments
import Foundation
import PonderCore
import Training

struct TrainingStream {
    /// One source of training data, e.g. "pretrain corpus" or "grpo prompts".
    struct Source {
        var stage: String
        var what: String
        /// Environment name -> keys of the tasks behind this source.
        var keys: [String: Set<String>]
        /// Items of this source that carry no task (world text).
        var untracked: Int
        /// Tasks asked in a phrasing held out for the test split (must be 0).
        var unseenPhrasings = 0
    }

    var sources: [Source] = []

    /// Every key of `environment` that any source trained on.
    func keys(of environment: String) -> Set<String> {
        sources.reduce(into: Set<String>()) { $0.formUnion($1.keys[environment] ?? []) }
    }

    /// How many of `tasks` (of one environment) have a key some training source used.
    func contamination(of tasks: [EnvTask], environment: LabEnvironment) -> Int {
        let trained = keys(of: environment.environment.name)
        return tasks.filter { trained.contains(environment.environment.splitKey($0)) }.count
    }

    /// Rebuilds the stream of `config`'s stages over the built environments `envs`.
    static func build(_ config: ExperimentConfig, envs: [LabEnvironment]) -> TrainingStream {
        var stream = TrainingStream()
        func add(_ stage: String, _ what: String, _ tasks: [EnvTask?]) {
            var keys: [String: Set<String>] = [:]
            var untracked = 0, unseen = 0
            for task in tasks {
                guard let task, let env = envs.first(where: { $0.environment.name == task.environment }) else { untracked += 1; continue }
                keys[task.environment, default: []].insert(env.environment.splitKey(task))
                if task.metadata["phrasing"] == "unseen" { unseen += 1 }
            }
            stream.sources.append(Source(stage: stage, what: what, keys: keys, untracked: untracked, unseenPhrasings: unseen))
        }
        func chosen(_ names: [String]) -> [LabEnvironment] {
            names.isEmpty ? envs : envs.filter { names.contains($0.environment.name) }
        }
        // The prompts a grpo or ppo stage draws, step by step.
        func rolloutPrompts(_ names: [String], _ p: GRPO.Parameters, part: QuestionPart? = nil) -> [EnvTask?] {
            let weighted = ExperimentRunner.grpoEnvironments(chosen(names), part: part, heldOut: { _ in [] })
            var prompts: [EnvTask] = []
            for step in 0..<p.steps {
                var rng = GRPOTrainer.stepRNG(seed: config.seed, step: step)
                prompts += GRPOTrainer.drawTasks(weighted, count: p.promptsPerStep, toolsOverride: p.tools, &rng)
            }
            return prompts
        }
        // Every training prompt pair building may draw (at most tasks_per_pair per pair; fewer are
        // used when pairs come quickly, so this counts a superset); a file's prompts are untracked.
        func preferencePrompts(_ p: PreferenceSettings, stage: String) -> [EnvTask?] {
            if p.source == .file { return Array(repeating: nil, count: p.pairs) }
            let next = ExperimentRunner.preferenceTasks(chosen(p.environments), split: .train, seed: config.seed,
                                                        label: "\(stage)/preferences/train")
            return next(p.pairs * ExperimentRunner.tasksPerPair)
        }
        for stage in config.stages {
            switch stage {
            case .tokenizer(let s):
                let perEnv = max(1, (s.corpusDocuments ?? config.tokenizer.corpusDocuments) / max(1, envs.count))
                add(s.name, "corpus", RunnerData.corpus(envs, perEnvironment: perEnv, seed: config.seed, label: "tokenizer").map(\.task))
            case .pretrain(let s):
                let perEnv = max(1, s.corpusDocuments / max(1, envs.count))
                add(s.name, "corpus", RunnerData.corpus(envs, perEnvironment: perEnv, seed: config.seed, label: "pretrain").map(\.task))
            case .sft(let s):
                add(s.name, "demonstrations", RunnerData.demonstrations(chosen(s.environments), count: s.examples, styles: s.styles,
                                                                        seed: config.seed, label: "sft/train", split: .train,
                                                                        part: s.questions).map(\.task))
            case .grpo(let s):
                add(s.name, "prompts", rolloutPrompts(s.environments, s.parameters, part: s.questions))
            case .rewardModel(let s):
                add(s.name, "preference prompts", preferencePrompts(s.preferences, stage: s.name))
            case .dpo(let s):
                add(s.name, "preference prompts", preferencePrompts(s.preferences, stage: s.name))
            case .ppo(let s):
                add(s.name, "prompts", rolloutPrompts(s.environments, s.rollout))
            case .eval:
                break
            }
        }
        return stream
    }
}
