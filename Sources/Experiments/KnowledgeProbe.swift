// Knowledge probing for SFT (the recipe of Llama 3's factuality data and R-Tuning): before an SFT
// stage learns its demonstrations, the stage's starting model answers each answerable fact among
// them `samples` times (once per fact: its environment's split key); every demonstration of a fact
// it gets wrong in every sample becomes an "I don't know" target, and the others keep their
// answers. The model is taught to refuse exactly what it does not know, instead of being taught to
// state facts it never learned (which raises hallucination on the facts it does know).
//
// In an experiment: `stage: sft` with `probe: {samples: 4, temperature: 1.0, max_new_tokens: 32}`.
// Only tasks whose metadata say `answerable: true` are probed (the knowledge environment, JSONL
// lines that say so); unanswerable questions already have refusal targets. A probe should ask what
// the model was not fine-tuned on: `questions: {part: K, of: N}` gives SFT stages disjoint parts
// of the training facts (experiments/knowledge-probe-sft.yaml).

import Environments
import Foundation
import Model
import PonderCore
import Tokenization
import Training

public struct ProbeSettings: Codable, Sendable, Equatable {
    /// Samples per question. Default 4.
    public var samples = 4
    /// Sampling temperature. Default 1.
    public var temperature = 1.0
    /// Longest answer, in tokens. Default 32.
    public var maxNewTokens = 32

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case samples, temperature, maxNewTokens = "max_new_tokens"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "an sft stage's probe")
        try c.fill(&samples, .samples, .between(1, 64))
        try c.fill(&temperature, .temperature, .between(0.05, 2.0))
        try c.fill(&maxNewTokens, .maxNewTokens, .between(1, 4096))
    }
}

/// One of `of` disjoint parts of a split's tasks, by a stable hash of each task's split key:
/// `questions: {part: 1, of: 2}` on two SFT stages gives them disjoint questions, so a probing
/// stage can ask what the model was not fine-tuned on.
public struct QuestionPart: Codable, Sendable, Equatable {
    public var part: Int
    public var of: Int

    public init(part: Int, of: Int) {
        self.part = part
        self.of = of
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case part, of }

    public init(from decoder: Decoder) throws {
        self.init(part: 1, of: 2)
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a stage's questions")
        try c.fill(&of, .of, .between(2, 100))
        try c.fill(&part, .part, .between(1, 100))
        if part > of { throw c.issue(.part, "part \(part) of \(of): a part is between 1 and `of`") }
    }

    public func contains(_ key: String) -> Bool {
        Int(SplitShares.unitHash("question-part|" + key) * Double(of)) == part - 1
    }
}

public enum KnowledgeProbe {
    /// Split keys (facts) of the tasks whose samples are all wrong; `key` maps a graded task id to
    /// its key. A fact asked through several tasks is unknown only when every sample of every one
    /// is wrong; a task without samples is not judged.
    public static func unknown(_ items: [Evaluation.Item], key: (String) -> String? = { $0 }) -> Set<String> {
        var known = Set<String>(), sampled = Set<String>()
        for item in items where item.sampleIndex >= 0 {
            guard let k = key(item.taskID) else { continue }
            sampled.insert(k)
            if item.verdict.kind == .correct { known.insert(k) }
        }
        return sampled.subtracting(known)
    }

    /// The demonstrations with the assistant turn of every task whose key is unknown replaced by a refusal.
    public static func relabel(_ demonstrations: [(task: EnvTask, conversation: Conversation)], unknown: Set<String>,
                               key: (EnvTask) -> String = { $0.id }) -> [(task: EnvTask, conversation: Conversation)] {
        demonstrations.map { demo in
            guard unknown.contains(key(demo.task)) else { return demo }
            return (demo.task, demo.task.prompt.appending(.assistant(Refusal.canonical)))
        }
    }

    /// Probes `model` on the answerable facts among `demonstrations` (each fact once, by its
    /// environment's split key) and returns the keys of those it got wrong in every sample, with
    /// how many facts were probed. Relabel with the same key (`"ENV|" + splitKey`).
    static func probe(_ demonstrations: [(task: EnvTask, conversation: Conversation)], envs: [LabEnvironment],
                      model: Transformer, tokenizer: Tokenizer, settings: ProbeSettings, seed: UInt64,
                      tools: @escaping ToolExecutor) -> (unknown: Set<String>, probed: Int) {
        var unknown = Set<String>(), probed = 0
        for env in envs {
            var seen = Set<String>()
            let tasks = demonstrations.map(\.task).filter {
                $0.environment == env.environment.name && $0.metadata["answerable"] == "true"
                    && seen.insert(key($0, in: env)).inserted
            }
            guard !tasks.isEmpty else { continue }
            let keyOfID = Dictionary(tasks.map { ($0.id, key($0, in: env)) }, uniquingKeysWith: { a, _ in a })
            let parameters = Evaluation.Parameters(tasks: tasks.count, samples: settings.samples, ks: [1],
                                                   temperature: Float(settings.temperature), maxNewTokens: settings.maxNewTokens, seed: seed)
            let result = Evaluation.run(model: model, tokenizer: tokenizer, environment: env.environment, tasks: tasks,
                                        tools: tools, parameters: parameters)
            unknown.formUnion(Self.unknown(result.items) { keyOfID[$0] })
            probed += tasks.count
        }
        return (unknown, probed)
    }

    /// The fact a task asks: its environment's split key, with the environment's name.
    static func key(_ task: EnvTask, in env: LabEnvironment) -> String {
        task.environment + "|" + env.environment.splitKey(task)
    }

    /// `key` for a demonstration, looking its environment up by name.
    static func key(_ task: EnvTask, envs: [LabEnvironment]) -> String {
        guard let env = envs.first(where: { $0.environment.name == task.environment }) else { return task.id }
        return key(task, in: env)
    }
}
