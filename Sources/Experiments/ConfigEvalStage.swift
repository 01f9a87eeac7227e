// `stage: eval`: accuracy and pass@k on held-out tasks (DESIGN.md §10, §12). Tasks are distinct
// tasks of each environment's `validation` split (or `test`), drawn with the experiment's
// `held_out_seed`, so two eval stages (say `before_rl` and `after_rl`) see the same questions,
// and none of them is ever in a training stream (Split.swift).
import Foundation
import Model
import PonderCore

public struct EvalStage: Codable, Sendable, Equatable {
    /// Unique stage name, used to compare evaluations (e.g. `before_rl`, `after_rl`). Default
    /// `eval`, then `eval_2`, ...
    public var name = ""
    /// Held-out tasks per environment. Default 100.
    public var tasks = 100
    /// Completions per task (n of pass@k). Default 1.
    public var samples = 1
    /// The k of each pass@k to report, each <= samples. Default [1].
    public var ks = [1]
    /// Sampling temperature; 0 = greedy (then samples must be 1). Default 0.
    public var temperature = 0.0
    /// Nucleus sampling; 1 = off. Default 1.
    public var topP = 1.0
    /// Top-k sampling; 0 = off. Default 0.
    public var topK = 0
    /// Longest completion, in tokens. Default 128.
    public var maxNewTokens = 128
    /// Environments to evaluate (names from `environments:`). Default: all of them.
    public var environments: [String] = []
    /// The split graded: `validation` while settings are being chosen, `test` for the figures
    /// reported once. Default validation.
    public var split = Split.validation
    /// Evaluate this checkpoint directory (a Hugging Face model's, or a stage folder) with its own
    /// tokenizer and chat format, instead of the latest stage's checkpoint: the "before" of a run
    /// whose training stage starts from the same directory. Later stages are not affected.
    /// Default: none.
    public var initFrom = ""

    public init() {}

    /// Sampling settings for the engine (stop tokens are the runner's to add).
    public var sampling: SamplingParameters {
        SamplingParameters(temperature: Float(temperature), topK: topK, topP: Float(topP), maxNewTokens: maxNewTokens)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, tasks, samples, ks, temperature, topP = "top_p", topK = "top_k"
        case maxNewTokens = "max_new_tokens", environments, split, initFrom = "init_from"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "an eval stage", alsoAllowing: ["stage"])
        try c.fill(&name, .name)
        try c.fill(&tasks, .tasks, .atLeast(1))
        try c.fill(&samples, .samples, .between(1, 1024))
        try c.fill(&ks, .ks)
        if ks.isEmpty { throw c.issue(.ks, "needs at least one k") }
        if let bad = ks.first(where: { $0 < 1 || $0 > samples }) {
            throw c.issue(.ks, "each k must be in 1...samples (\(samples)), found \(bad)")
        }
        try c.fill(&temperature, .temperature, .between(0, 10))
        if samples > 1 && temperature == 0 {
            throw c.issue(c.contains(.temperature) ? .temperature : .samples,
                          "greedy decoding (temperature 0) gives the same completion \(samples) times; set temperature > 0 or samples: 1")
        }
        try c.fill(&topP, .topP, .aboveUpTo(0, 1))
        try c.fill(&topK, .topK, .atLeast(0))
        try c.fill(&maxNewTokens, .maxNewTokens, .atLeast(1))
        try c.fill(&environments, .environments)
        try c.fill(&split, .split)
        if split == .train { throw c.issue(.split, "an eval grades held-out tasks: validation or test, not train") }
        try c.fill(&initFrom, .initFrom)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(tasks, forKey: .tasks)
        try c.encode(samples, forKey: .samples)
        try c.encode(ks, forKey: .ks)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(topP, forKey: .topP)
        try c.encode(topK, forKey: .topK)
        try c.encode(maxNewTokens, forKey: .maxNewTokens)
        try c.encode(environments, forKey: .environments)
        try c.encode(split, forKey: .split)
        if !initFrom.isEmpty { try c.encode(initFrom, forKey: .initFrom) }
    }
}
