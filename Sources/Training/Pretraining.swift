// Pretraining: next-token prediction on a packed token stream (GPT-2 / nanoGPT style).
//
// Objective: mean over all B*T positions of -log p(x[t+1] | x[..t]), where each row of a batch is
// a window of T + 1 consecutive tokens of the training stream (documents concatenated, each
// ending with <|endoftext|>; windows cross document boundaries, as in GPT-2 and nanoGPT: the
// model learns that <|endoftext|> starts a fresh document).
// Batches: step s draws B * accumulationSteps window starts uniformly from the stream with a
// generator seeded by (seed, s) alone, so a resumed run sees exactly the batches of an
// uninterrupted one. Micro-batches of B rows are accumulated with weight 1 / accumulationSteps.
// Optimiser: AdamW (decoupled weight decay on matrices), linear warmup then cosine decay to
// minLRRatio * learningRate, global gradient-norm clipping.
// Validation: the mean loss of `evalBatches` fixed [B, T] batches of consecutive windows from
// the start of the validation stream (no sampling: the same numbers at every evaluation).
// Shortcuts: no attention mask at document boundaries; no sequence packing beyond the stream.

import Foundation
import Model
import PonderCore
import Tokenization

public enum Pretraining {
    public struct Parameters: Codable, Sendable, Equatable {
        public var steps: Int = 1000
        /// Rows per micro-batch.
        public var batchSize: Int = 16
        /// Tokens per row (at most the model's max_position_embeddings).
        public var seqLen: Int = 256
        /// Micro-batches per optimiser step (the effective batch is batchSize * accumulationSteps rows).
        public var accumulationSteps: Int = 1
        /// Peak learning rate.
        public var learningRate: Float = 3e-3
        /// The cosine schedule ends at minLRRatio * learningRate.
        public var minLRRatio: Float = 0.1
        public var warmupSteps: Int = 50
        public var weightDecay: Float = 0.1
        public var beta1: Float = 0.9
        public var beta2: Float = 0.95
        /// Global gradient-norm clip; 0 = no clipping.
        public var gradClip: Float = 1
        /// Validation every this many steps (and after the last); 0 = never.
        public var evalEvery: Int = 100
        /// Batches of validation loss.
        public var evalBatches: Int = 8
        /// Checkpoint every this many steps (and after the last); 0 = only at the end or on stop.
        public var checkpointEvery: Int = 500
        public var seed: UInt64 = 0
        /// The learning-rate schedule; nil = warmup then cosine decay to minLRRatio * learningRate.
        public var schedule: LRSchedule? = nil

        public init(steps: Int = 1000, batchSize: Int = 16, seqLen: Int = 256, accumulationSteps: Int = 1,
                    learningRate: Float = 3e-3, minLRRatio: Float = 0.1, warmupSteps: Int = 50,
                    weightDecay: Float = 0.1, beta1: Float = 0.9, beta2: Float = 0.95, gradClip: Float = 1,
                    evalEvery: Int = 100, evalBatches: Int = 8, checkpointEvery: Int = 500, seed: UInt64 = 0,
                    schedule: LRSchedule? = nil) {
            self.steps = steps; self.batchSize = batchSize; self.seqLen = seqLen
            self.accumulationSteps = accumulationSteps; self.learningRate = learningRate
            self.minLRRatio = minLRRatio; self.warmupSteps = warmupSteps; self.weightDecay = weightDecay
            self.beta1 = beta1; self.beta2 = beta2; self.gradClip = gradClip; self.evalEvery = evalEvery
            self.evalBatches = evalBatches; self.checkpointEvery = checkpointEvery; self.seed = seed
            self.schedule = schedule
        }

        enum CodingKeys: String, CodingKey {
            case steps, seed
            case batchSize = "batch_size", seqLen = "seq_len", accumulationSteps = "accumulation_steps"
            case learningRate = "learning_rate", minLRRatio = "min_lr_ratio", warmupSteps = "warmup_steps"
            case weightDecay = "weight_decay", beta1, beta2, gradClip = "grad_clip"
            case evalEvery = "eval_every", evalBatches = "eval_batches", checkpointEvery = "checkpoint_every", schedule
        }

        func validate(model: ModelConfig) throws {
            func check(_ ok: Bool, _ message: String) throws {
                if !ok { throw TrainingError.invalidParameter(message) }
            }
            try check(steps >= 1, "steps must be >= 1, got \(steps)")
            try check(batchSize >= 1, "batch_size must be >= 1, got \(batchSize)")
            try check(seqLen >= 1 && seqLen <= model.maxSeqLen,
                      "seq_len must be in 1...\(model.maxSeqLen) (the model's max_position_embeddings), got \(seqLen)")
            try check(accumulationSteps >= 1, "accumulation_steps must be >= 1, got \(accumulationSteps)")
            try check(learningRate > 0, "learning_rate must be > 0, got \(learningRate)")
            try check(minLRRatio >= 0 && minLRRatio <= 1, "min_lr_ratio must be in 0...1, got \(minLRRatio)")
            try check(warmupSteps >= 0, "warmup_steps must be >= 0, got \(warmupSteps)")
            try check(weightDecay >= 0, "weight_decay must be >= 0, got \(weightDecay)")
            try check(gradClip >= 0, "grad_clip must be >= 0, got \(gradClip)")
            try check(evalEvery >= 0 && evalBatches >= 1, "eval_every must be >= 0 and eval_batches >= 1")
            try check(checkpointEvery >= 0, "checkpoint_every must be >= 0, got \(checkpointEvery)")
        }

        func loop(stage: String) -> OptimizationLoop {
            OptimizationLoop(stage: stage, steps: steps, learningRate: learningRate,
                             schedule: schedule ?? .cosine(warmup: warmupSteps, total: steps, minRatio: minLRRatio),
                             adam: AdamWParameters(beta1: beta1, beta2: beta2, weightDecay: weightDecay),
                             gradClip: gradClip, evalEvery: evalEvery, checkpointEvery: checkpointEvery, seed: seed)
        }
    }

    /// Trains `model` in place on `train` (a packed token stream); see the file header for the
    /// objective, the batches and the checkpoint/resume contract (Training.swift).
    public static func train(model: Transformer, tokenizer: Tokenizer, train: [Int32], validation: [Int32],
                             parameters: Parameters, checkpointDirectory: URL, resume: Bool,
                             progress: ProgressHandler) throws -> TrainingSummary {
        let p = parameters
        try p.validate(model: model.config)
        let (B, T) = (p.batchSize, p.seqLen)
        guard train.count >= T + 2 else {
            throw TrainingError.insufficientData("the training stream has \(train.count) tokens; seq_len \(T) needs at least \(T + 2)")
        }
        try checkVocabulary(train, model: model, name: "training stream")
        try checkVocabulary(validation, model: model, name: "validation stream")
        if p.evalEvery > 0 && validation.count < T + 1 {
            throw TrainingError.insufficientData("the validation stream has \(validation.count) tokens; seq_len \(T) needs at least \(T + 1)")
        }
        var batch = WindowBatch(B: B, T: T)
        let starts = train.count - T  // window starts 0..<starts, each reads T + 1 tokens
        return try p.loop(stage: "pretrain").run(
            model: model, tokenizer: tokenizer, checkpointDirectory: checkpointDirectory, resume: resume,
            progress: progress,
            accumulate: { step in
                var rng = derivedRNG(seed: p.seed, stream: 1, index: step)
                var total = 0.0
                let scale = 1 / Float(p.accumulationSteps)
                for _ in 0..<p.accumulationSteps {
                    batch.fill(from: train) { _ in rng.nextInt(below: starts) }
                    model.forward(tokens: batch.inputs, B: B, T: T)
                    total += Double(model.crossEntropy(targets: batch.targets, weights: batch.weights))
                    model.backwardCrossEntropy(scale: scale)
                }
                return (total / Double(p.accumulationSteps), B * T * p.accumulationSteps)
            },
            validate: { validationLoss(model: model, validation: validation, batch: &batch, batches: p.evalBatches) })
    }

    /// The validation loss `train` reports, for a model as it is now (e.g. before training).
    public static func validationLoss(model: Transformer, validation: [Int32], parameters: Parameters) throws -> Double {
        try parameters.validate(model: model.config)
        guard validation.count >= parameters.seqLen + 1 else {
            throw TrainingError.insufficientData("the validation stream has \(validation.count) tokens; seq_len \(parameters.seqLen) needs at least \(parameters.seqLen + 1)")
        }
        try checkVocabulary(validation, model: model, name: "validation stream")
        var batch = WindowBatch(B: parameters.batchSize, T: parameters.seqLen)
        return validationLoss(model: model, validation: validation, batch: &batch, batches: parameters.evalBatches)
    }

    /// Consecutive windows from the start of the stream, wrapping around when it runs out.
    static func validationLoss(model: Transformer, validation: [Int32], batch: inout WindowBatch, batches: Int) -> Double {
        let (B, T) = (batch.B, batch.T)
        let windows = max(1, (validation.count - 1) / T)
        var total = 0.0
        for b in 0..<batches {
            batch.fill(from: validation) { row in ((b * B + row) % windows) * T }
            model.forward(tokens: batch.inputs, B: B, T: T)
            total += Double(model.crossEntropy(targets: batch.targets, weights: batch.weights))
        }
        return total / Double(batches)
    }

    static func checkVocabulary(_ stream: [Int32], model: Transformer, name: String) throws {
        let V = Int32(model.config.vocabSize)
        if let bad = stream.first(where: { $0 < 0 || $0 >= V }) {
            throw TrainingError.invalidParameter("the \(name) holds token id \(bad), outside the model's vocabulary of \(V)")
        }
    }
}

/// Reused [B, T] input and target arrays for windows of a token stream.
struct WindowBatch {
    let B: Int, T: Int
    var inputs: [Int32]
    var targets: [Int32]
    let weights: [Float]

    init(B: Int, T: Int) {
        self.B = B
        self.T = T
        inputs = [Int32](repeating: 0, count: B * T)
        targets = [Int32](repeating: 0, count: B * T)
        weights = [Float](repeating: 1, count: B * T)
    }

    /// Row r reads stream[start(r) ... start(r) + T].
    mutating func fill(from stream: [Int32], start: (Int) -> Int) {
        let T = self.T
        for r in 0..<B {
            let s = start(r)
            for t in 0..<T {
                inputs[r * T + t] = stream[s + t]
                targets[r * T + t] = stream[s + t + 1]
            }
        }
    }
}
