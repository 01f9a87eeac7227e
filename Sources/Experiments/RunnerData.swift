// RunnerData: what the stage runner feeds the trainers, built from the environments.
//
// Everything is seeded from the experiment's seed and a label, so a rerun or a resume draws
// the same corpus, the same demonstrations and the same held-out tasks. Splits (Split.swift):
// the tokenizer and pretraining corpus, SFT demonstrations and GRPO prompts come from each
// environment's `train` split only; validation losses use `validation`; eval stages draw
// distinct tasks of `validation` (or `test` when the stage says so) from `held_out_seed`, the
// same for every eval stage, so "before RL" and "after RL" grade the same questions.
// `TrainingStream` (TrainingStream.swift) rebuilds what a run learns from, to audit it.

import Environments
import Foundation
import PonderCore
import Tokenization
import Training

struct LabEnvironment {
    var spec: EnvironmentSpec
    /// The environment as the registry built it.
    var built: any Environment

    init(spec: EnvironmentSpec) throws {
        self.spec = spec
        built = try spec.make()
    }

    /// The environment as stages use it: limited to the spec's `tools` when it sets them.
    var environment: any Environment {
        spec.tools.map { ToolLimitedEnvironment(built, tools: $0) } ?? built
    }

    var shares: SplitShares { spec.split }

    /// The environment as training stages see it: it samples `train` tasks only.
    var training: any Environment { view(.train) }

    /// The environment seen through one split: its tasks are that split's only; with `part`, only
    /// that part of them (QuestionPart).
    func view(_ split: Split, part: QuestionPart? = nil) -> any Environment {
        var keeps: (@Sendable (String) -> Bool)?
        if let part { keeps = { part.contains($0) } }
        return SplitView(environment, split: split, shares: shares, keeping: keeps)
    }

    /// Up to `count` distinct tasks of `split`, the same for every stage that asks with this seed.
    func heldOut(count: Int, seed: UInt64, split: Split) -> [EnvTask] {
        var rng = RNG(seed: seed).fork("held-out/\(split.rawValue)/\(environment.name)")
        return environment.distinctTasks(&rng, count: count, split: split, shares: shares)
    }
}

/// An environment whose tasks allow only the tools an experiment gives it (the `tools:` key
/// of an `environments:` item). Tool demonstrations are written only when every tool the
/// environment's demonstrations call is allowed; everything else is the wrapped environment's.
struct ToolLimitedEnvironment: Environment {
    let base: any Environment
    let tools: [Tool]

    init(_ base: any Environment, tools: [Tool]) {
        self.base = base
        self.tools = tools
    }

    var name: String { base.name }
    func splitKey(_ task: EnvTask) -> String { base.splitKey(task) }
    func assign(_ task: EnvTask, shares: SplitShares) -> SplitAssignment { base.assign(task, shares: shares) }
    func document(_ task: EnvTask) -> String { base.document(task) }
    var wordings: Int { base.wordings }
    func reword(_ task: EnvTask, wording: Int) -> EnvTask {
        var reworded = base.reword(task, wording: wording)
        reworded.tools = task.tools
        return reworded
    }
    var styles: [DemonstrationStyle] {
        base.tools.allSatisfy(tools.contains) ? base.styles : base.styles.filter { $0 != .tool }
    }

    func sample(_ rng: inout RNG) -> EnvTask {
        var task = base.sample(&rng)
        task.tools = tools
        return task
    }

    func verify(_ task: EnvTask, _ completion: Message) -> Verdict { base.verify(task, completion) }
    func verify(batch items: [(task: EnvTask, completion: Message)]) -> [Verdict] { base.verify(batch: items) }
    func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message {
        base.demonstration(task, style: styles.contains(style) ? style : .direct)
    }
    func corpus(_ rng: inout RNG, count: Int, split: Split, shares: SplitShares) -> [CorpusDocument] {
        base.corpus(&rng, count: count, split: split, shares: shares)
    }
}

enum RunnerData {
    /// Pretraining documents of `split`: `perEnvironment` from each environment, interleaved.
    static func corpus(_ envs: [LabEnvironment], perEnvironment: Int, seed: UInt64, label: String,
                       split: Split = .train) -> [CorpusDocument] {
        let streams = envs.map { env -> [CorpusDocument] in
            var rng = RNG(seed: seed).fork("\(label)/\(env.environment.name)")
            return env.environment.corpus(&rng, count: perEnvironment, split: split, shares: env.shares)
        }
        var out: [CorpusDocument] = []
        out.reserveCapacity(perEnvironment * envs.count)
        for i in 0..<perEnvironment {
            for s in streams.indices where i < streams[s].count { out.append(streams[s][i]) }
        }
        return out
    }

    /// Token stream of documents, each followed by <|endoftext|> (a Hub tokenizer's own end of text).
    static func tokenStream(_ documents: [String], tokenizer: Tokenizer) -> [Int32] {
        let eot = tokenizer.endOfTextID
        var out: [Int32] = []
        for d in documents {
            out.append(contentsOf: tokenizer.encode(d))
            out.append(eot)
        }
        return out
    }

    /// Draws an environment by weight.
    static func pick(_ envs: [LabEnvironment], _ rng: inout RNG) -> LabEnvironment {
        let total = envs.reduce(0) { $0 + $1.spec.weight }
        var u = rng.nextDouble() * total
        for e in envs {
            u -= e.spec.weight
            if u < 0 { return e }
        }
        return envs[envs.count - 1]
    }

    /// SFT demonstrations of `split`: tasks drawn by environment weight, each demonstrated in a
    /// style drawn from the mix among the styles the environment supports.
    /// With `part`, only tasks whose split key falls in that part of the split (QuestionPart).
    static func demonstrations(_ envs: [LabEnvironment], count: Int, styles: StyleMix, seed: UInt64, label: String,
                               split: Split, part: QuestionPart? = nil) -> [(task: EnvTask, conversation: Conversation)] {
        var rng = RNG(seed: seed).fork(label)
        var out: [(task: EnvTask, conversation: Conversation)] = []
        for _ in 0..<count {
            let e = pick(envs, &rng)
            let task = e.view(split, part: part).sample(&rng)
            // Styles the environment supports, weighted by the mix; uniform if the mix names none of them.
            let offered = e.environment.styles
            var weights = offered.map { styles.weight($0) }
            if !weights.contains(where: { $0 > 0 }) { weights = offered.map { _ in 1 } }
            var u = rng.nextDouble() * weights.reduce(0, +)
            var style = offered[offered.count - 1]
            for (candidate, w) in zip(offered, weights) {
                u -= w
                if u < 0 { style = candidate; break }
            }
            out.append((task, task.prompt.appending(e.environment.demonstration(task, style: style))))
        }
        return out
    }

    /// `demonstrations`, rendered for SFT.
    static func examples(_ envs: [LabEnvironment], count: Int, styles: StyleMix, seed: UInt64, label: String,
                         split: Split, tokenizer: Tokenizer) throws -> [SupervisedFineTuning.Example] {
        try demonstrations(envs, count: count, styles: styles, seed: seed, label: label, split: split).map {
            try SupervisedFineTuning.Example($0.conversation, tokenizer: tokenizer)
        }
    }

    /// The tool executor for these environments: the python sandbox, and the knowledge world's
    /// search when a knowledge environment is present. A task only reaches the tools it allows.
    static func tools(_ envs: [LabEnvironment]) -> ToolExecutor {
        let python = PythonTool()
        let search = envs.lazy.compactMap { $0.built as? KnowledgeEnvironment }.first.map { SearchTool(world: $0.world) }
        return { tool, input in
            switch tool {
            case .python:
                let r = python.run(input)
                return (r.text, r.failure.map { "\($0)" })
            case .search:
                guard let search else { return ("search is not available in this experiment", "no knowledge environment") }
                let r = search.run(input)
                return (r.text, r.failure.map { "\($0)" })
            }
        }
    }
}
