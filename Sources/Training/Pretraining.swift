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
// Data parallel: every rank draws all of a micro-batch's window starts and computes its share of
// the B rows (`Collective.share(of:)`), its mean loss weighted by its share of the rows.
// Shortcuts: no attention mask at document boundaries; no sequence packing beyond the stream.

import Foundation
import Model
import PonderCore
import Tokenization

public enum Pretraining {
    /// Trains `model` in place on `train` (a packed token stream); see the file header for the
    /// objective, the batches and the checkpoint/resume contract (Training.swift).
    public static func train(model: Transformer, tokenizer: Tokenizer, train: [Int32], validation: [Int32],
                             parameters: Parameters, checkpointDirectory: URL, resume: Bool,
                             collective: any Collective = SingleProcess.shared,
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
        let rows = collective.share(of: B)
        var batch = WindowBatch(B: rows.count, T: T)
        var validationBatch = WindowBatch(B: B, T: T)
        let part = Float(rows.count) / Float(B)
        let starts = train.count - T  // window starts 0..<starts, each reads T + 1 tokens
        var drawn = [Int](repeating: 0, count: B)
        return try p.loop(stage: "pretrain", collective: collective).run(
            model: model, tokenizer: tokenizer, checkpointDirectory: checkpointDirectory, resume: resume,
            progress: progress,
            accumulate: { step in
                var rng = derivedRNG(seed: p.seed, stream: 1, index: step)
                var total = 0.0
                let scale = 1 / Float(p.accumulationSteps)
                for _ in 0..<p.accumulationSteps {
                    for r in 0..<B { drawn[r] = rng.nextInt(below: starts) }
                    if rows.isEmpty { continue }
                    batch.fill(from: train) { drawn[rows.lowerBound + $0] }
                    model.forward(tokens: batch.inputs, B: rows.count, T: T)
                    total += Double(model.crossEntropy(targets: batch.targets, weights: batch.weights) * part)
                    model.backwardCrossEntropy(scale: scale * part)
                }
                return (total / Double(p.accumulationSteps), rows.count * T * p.accumulationSteps)
            },
            validate: { validationLoss(model: model, validation: validation, batch: &validationBatch, batches: p.evalBatches) })
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
