// `stage: pretrain` and `stage: sft`: supervised next-token training.
//
// Defaults are sized for a ~1M-parameter model on a 2-core CPU (a few thousand tokens a
// second): a few hundred steps of 16 sequences. Learning rates are higher than the 3e-4 /
// 2e-5 of billion-parameter recipes because tiny models tolerate (and need) more. Optimizer
// keys follow Hugging Face TrainingArguments (learning_rate, weight_decay, adam_beta1,
// adam_beta2, warmup_steps); `grad_clip` is TRL's max_grad_norm.
import Foundation
import Model
import PonderCore

/// `stage: pretrain`: next-token prediction on the environments' plain-text corpus
/// (documents joined with `<|endoftext|>`, packed into `seq_len` windows).
public struct PretrainStage: Codable, Sendable, Equatable {
    /// Unique stage name. Default `pretrain`.
    public var name = ""
    /// Optimizer steps. Default 500.
    public var steps = 500
    /// Sequences per step. Default 16.
    public var batchSize = 16
    /// Tokens per sequence; at most model.max_seq_len. Default 128.
    public var seqLen = 128
    /// Peak learning rate. Default 3e-3.
    public var learningRate = 3e-3
    /// constant | cosine | linear. Default cosine.
    public var lrSchedule = LRScheduleKind.cosine
    /// Final learning rate as a share of the peak (cosine, linear). Default 0.1.
    public var minLRRatio = 0.1
    /// Linear warmup steps. Default 50 (at most a tenth of `steps`).
    public var warmupSteps = 50
    /// AdamW decoupled weight decay (matrices only, not norms or embeddings). Default 0.1.
    public var weightDecay = 0.1
    /// AdamW beta1. Default 0.9.
    public var adamBeta1 = 0.9
    /// AdamW beta2. Default 0.95 (nanoGPT's choice for short runs).
    public var adamBeta2 = 0.95
    /// Clip the global gradient norm to this; 0 turns clipping off. Default 1.
    public var gradClip = 1.0
    /// Validation loss every this many steps (and at the end); 0 = only at the end. Default 100.
    public var evalEvery = 100
    /// Validation batches per evaluation. Default 8.
    public var evalBatches = 8
    /// Checkpoint every this many steps (and at the end); 0 = only at the end. Default 250.
    public var checkpointEvery = 250
    /// Corpus documents drawn from each environment. Default 2000.
    public var corpusDocuments = 2000
    /// Share of the corpus held out for validation loss. Default 0.05.
    public var validationFraction = 0.05

    public init() {}

    /// AdamW settings for the Model module.
    public var adamW: AdamWParameters {
        AdamWParameters(beta1: Float(adamBeta1), beta2: Float(adamBeta2), weightDecay: Float(weightDecay))
    }

    public var schedule: LRSchedule { lrSchedule.schedule(warmupSteps: warmupSteps, steps: steps, minLRRatio: minLRRatio) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, steps, batchSize = "batch_size", seqLen = "seq_len", learningRate = "learning_rate"
        case lrSchedule = "lr_schedule", minLRRatio = "min_lr_ratio", warmupSteps = "warmup_steps"
        case weightDecay = "weight_decay", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", gradClip = "grad_clip"
        case evalEvery = "eval_every", evalBatches = "eval_batches", checkpointEvery = "checkpoint_every"
        case corpusDocuments = "corpus_documents", validationFraction = "validation_fraction"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a pretrain stage", alsoAllowing: ["stage"])
        try c.fill(&name, .name)
        try c.fill(&steps, .steps, .atLeast(1))
        try c.fill(&batchSize, .batchSize, .atLeast(1))
        try c.fill(&seqLen, .seqLen, .atLeast(2))
        try c.fill(&learningRate, .learningRate, .aboveUpTo(0, 1))
        try c.fill(&lrSchedule, .lrSchedule)
        try c.fill(&minLRRatio, .minLRRatio, .between(0, 1))
        warmupSteps = min(warmupSteps, steps / 10)  // the default never exceeds a tenth of the run
        try c.fill(&warmupSteps, .warmupSteps, .between(0, steps))
        try c.fill(&weightDecay, .weightDecay, .atLeast(0))
        try c.fill(&adamBeta1, .adamBeta1, .between(0, 0.999999))
        try c.fill(&adamBeta2, .adamBeta2, .between(0, 0.999999))
        try c.fill(&gradClip, .gradClip, .atLeast(0))
        try c.fill(&evalEvery, .evalEvery, .atLeast(0))
        try c.fill(&evalBatches, .evalBatches, .atLeast(1))
        try c.fill(&checkpointEvery, .checkpointEvery, .atLeast(0))
        try c.fill(&corpusDocuments, .corpusDocuments, .atLeast(1))
        try c.fill(&validationFraction, .validationFraction, .between(0, 0.5))
    }
}

/// `stage: sft`: chat-format demonstrations written by the environments (DESIGN.md §4, §5);
/// the loss counts assistant tokens only.
public struct SFTStage: Codable, Sendable, Equatable {
    /// Unique stage name. Default `sft`.
    public var name = ""
    /// Optimizer steps. Default 300.
    public var steps = 300
    /// Conversations per step. Default 16.
    public var batchSize = 16
    /// Tokens per conversation (longer ones are truncated); at most model.max_seq_len. Default 192.
    public var seqLen = 192
    /// Peak learning rate. Default 1e-3.
    public var learningRate = 1e-3
    /// constant | cosine | linear. Default cosine.
    public var lrSchedule = LRScheduleKind.cosine
    /// Final learning rate as a share of the peak. Default 0.1.
    public var minLRRatio = 0.1
    /// Linear warmup steps. Default 20 (at most a tenth of `steps`).
    public var warmupSteps = 20
    /// AdamW weight decay. Default 0 (TRL's SFT default).
    public var weightDecay = 0.0
    /// AdamW beta1. Default 0.9.
    public var adamBeta1 = 0.9
    /// AdamW beta2. Default 0.95.
    public var adamBeta2 = 0.95
    /// Global gradient-norm clip; 0 = off. Default 1.
    public var gradClip = 1.0
    /// Validation loss every this many steps (and at the end); 0 = only at the end. Default 100.
    public var evalEvery = 100
    /// Checkpoint every this many steps (and at the end); 0 = only at the end. Default 150.
    public var checkpointEvery = 150
    /// Demonstrations generated per environment (the training set; steps cycle over it). Default 2000.
    public var examples = 2000
    /// Mix of demonstration styles: `direct` (answer line only), `think` (a `<think>` span, then
    /// the answer), `tool` (a python or search call whose output leads to the answer). Either a
    /// list (equal weights) or a mapping style -> weight. Environments without a style fall
    /// back to `direct`. Default: all three, equal weights.
    public var styles = StyleMix.all
    /// Held-out demonstrations per environment for validation loss. Default 50.
    public var validationExamples = 50
    /// Environments to draw from (names from `environments:`). Default: all of them.
    public var environments: [String] = []

    public init() {}

    public var adamW: AdamWParameters {
        AdamWParameters(beta1: Float(adamBeta1), beta2: Float(adamBeta2), weightDecay: Float(weightDecay))
    }

    public var schedule: LRSchedule { lrSchedule.schedule(warmupSteps: warmupSteps, steps: steps, minLRRatio: minLRRatio) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, steps, batchSize = "batch_size", seqLen = "seq_len", learningRate = "learning_rate"
        case lrSchedule = "lr_schedule", minLRRatio = "min_lr_ratio", warmupSteps = "warmup_steps"
        case weightDecay = "weight_decay", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", gradClip = "grad_clip"
        case evalEvery = "eval_every", checkpointEvery = "checkpoint_every", examples, styles
        case validationExamples = "validation_examples", environments
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "an sft stage", alsoAllowing: ["stage"])
        try c.fill(&name, .name)
        try c.fill(&steps, .steps, .atLeast(1))
        try c.fill(&batchSize, .batchSize, .atLeast(1))
        try c.fill(&seqLen, .seqLen, .atLeast(2))
        try c.fill(&learningRate, .learningRate, .aboveUpTo(0, 1))
        try c.fill(&lrSchedule, .lrSchedule)
        try c.fill(&minLRRatio, .minLRRatio, .between(0, 1))
        warmupSteps = min(warmupSteps, steps / 10)  // the default never exceeds a tenth of the run
        try c.fill(&warmupSteps, .warmupSteps, .between(0, steps))
        try c.fill(&weightDecay, .weightDecay, .atLeast(0))
        try c.fill(&adamBeta1, .adamBeta1, .between(0, 0.999999))
        try c.fill(&adamBeta2, .adamBeta2, .between(0, 0.999999))
        try c.fill(&gradClip, .gradClip, .atLeast(0))
        try c.fill(&evalEvery, .evalEvery, .atLeast(0))
        try c.fill(&checkpointEvery, .checkpointEvery, .atLeast(0))
        try c.fill(&examples, .examples, .atLeast(1))
        try c.fill(&styles, .styles)
        try c.fill(&validationExamples, .validationExamples, .atLeast(0))
        try c.fill(&environments, .environments)
    }
}

/// Weights of the SFT demonstration styles, in the order written.
public struct StyleMix: Codable, Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var style: DemonstrationStyle
        public var weight: Double
    }
    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    public static let all = StyleMix(DemonstrationStyle.allCases.map { Entry(style: $0, weight: 1) })

    /// The weight of `style` (0 when absent).
    public func weight(_ style: DemonstrationStyle) -> Double { entries.first { $0.style == style }?.weight ?? 0 }

    enum Key: String, CodingKey, CaseIterable {
        case direct, think, tool
    }

    public init(from decoder: Decoder) throws {
        if let list = try? decoder.unkeyedContainer() {
            var list = list
            var entries: [Entry] = []
            while !list.isAtEnd {
                let style = try list.decode(DemonstrationStyle.self)
                if entries.contains(where: { $0.style == style }) {
                    throw ConfigIssue(path: list.codingPath + [AnyKey(intValue: list.currentIndex - 1)], message: "`\(style.rawValue)` is listed twice")
                }
                entries.append(Entry(style: style, weight: 1))
            }
            guard !entries.isEmpty else { throw ConfigIssue(path: decoder.codingPath, message: "needs at least one of direct, think, tool") }
            self.init(entries)
            return
        }
        guard (try? decoder.container(keyedBy: AnyKey.self)) != nil else {
            throw ConfigIssue(path: decoder.codingPath,
                              message: "expected a list of styles ([direct, think, tool]) or a mapping of style weights ({think: 2, direct: 1})")
        }
        let c = try decoder.strictContainer(keyedBy: Key.self, in: "styles")
        var entries: [Entry] = []
        for key in c.allKeys {
            var weight = 1.0
            try c.fill(&weight, key, .atLeast(0))
            entries.append(Entry(style: DemonstrationStyle(rawValue: key.rawValue)!, weight: weight))
        }
        guard entries.contains(where: { $0.weight > 0 }) else {
            throw ConfigIssue(path: decoder.codingPath, message: "at least one style needs a weight > 0")
        }
        self.init(entries)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        for e in entries { try c.encode(e.weight, forKey: AnyKey(e.style.rawValue)) }
    }
}
