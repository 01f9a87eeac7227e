// SupervisedFineTuning: chat demonstrations, loss on assistant tokens only (nanochat's SFT).
//
// Objective: sum over batch positions of -mask[t+1] * log p(ids[t+1] | ids[..t]) divided by the
// sum of those mask values (a token mean over the batch's learned tokens), where (ids, mask)
// come from `Tokenizer.render`: system and user turns, headers and tool output have mask 0.
// Batches: B examples per micro-batch, each padded (targets -1, ignored) to one fixed width
// T = min(seqLen, longest example - 1) so every step has the same shape and the model's
// activation buffers are allocated once. An example longer than seqLen + 1 tokens is truncated
// to its first seqLen + 1 tokens (what it has of the assistant's answer there is still learned);
// `examples_truncated` in step 1's metrics counts them (step 1 of every run, resumed or not, so
// the store holds the same rows either way).
// Order: epochs over a shuffled permutation of the examples; the permutation of epoch e depends
// only on (seed, e), and step s takes the next B * accumulationSteps positions of that infinite
// sequence, so the data of a step depends only on (seed, step).
// Optimiser as in pretraining: AdamW, warmup then cosine decay, gradient clipping.
// Validation: the token-mean masked loss over (up to) evalBatches * B validation examples, in order.
// Data parallel: each rank computes its share of every micro-batch's B rows; its token mean is
// weighted by its share of the micro-batch's learned tokens, so the ranks' parts sum to the
// micro-batch's token mean.
// Shortcut: padding, not packing (packing without a block-diagonal mask would let examples
// attend to each other).

import Foundation
import Model
import PonderCore
import Tokenization

public enum SupervisedFineTuning {
    public struct Example: Codable, Sendable, Equatable {
        public var ids: [Int32]
        /// 1 on tokens to learn (as `Tokenizer.render` returns it), same length as `ids`.
        public var mask: [Float]

        public init(ids: [Int32], mask: [Float]) {
            self.ids = ids
            self.mask = mask
        }

        /// Renders a conversation (its assistant turns are the targets).
        public init(_ conversation: Conversation, tokenizer: Tokenizer) throws {
            (ids, mask) = try tokenizer.render(conversation)
        }
    }


    /// Fine-tunes `model` in place; see the file header for the objective and batching and
    /// Training.swift for the checkpoint/resume contract.
    public static func train(model: Transformer, tokenizer: Tokenizer, train: [Example], validation: [Example],
                             parameters: Parameters, checkpointDirectory: URL, resume: Bool,
                             collective: any Collective = SingleProcess.shared,
                             progress: ProgressHandler) throws -> TrainingSummary {
        let p = parameters
        try p.validate(model: model.config)
        guard !train.isEmpty else { throw TrainingError.insufficientData("no training examples") }
        if p.evalEvery > 0 && validation.isEmpty { throw TrainingError.insufficientData("no validation examples (or set eval_every to 0)") }
        for (name, set) in [("training", train), ("validation", validation)] {
            for (i, e) in set.enumerated() {
                guard e.ids.count == e.mask.count, e.ids.count >= 2 else {
                    throw TrainingError.invalidParameter("\(name) example \(i): \(e.ids.count) ids and \(e.mask.count) mask values (need equal counts, at least 2)")
                }
            }
            try Pretraining.checkVocabulary(set.flatMap(\.ids), model: model, name: "\(name) examples")
        }
        let longest = (train + validation).map(\.ids.count).max()!
        let T = min(p.seqLen, longest - 1)
        let truncated = train.filter { $0.ids.count > p.seqLen + 1 }.count
        let rows = collective.share(of: p.batchSize)
        var batch = PaddedBatch(B: rows.count, T: T, pad: 0)
        var validationBatch = PaddedBatch(B: p.batchSize, T: T, pad: 0)
        var order = EpochOrder(count: train.count, seed: p.seed)
        return try p.loop(stage: "sft", collective: collective).run(
            model: model, tokenizer: tokenizer, checkpointDirectory: checkpointDirectory, resume: resume,
            progress: { report in
                var report = report
                if report.step == 1 { report.metrics["examples_truncated"] = Double(truncated) }
                return try progress(report)
            },
            accumulate: { step in
                let perStep = p.batchSize * p.accumulationSteps
                var total = 0.0, tokens = 0
                let scale = 1 / Float(p.accumulationSteps)
                for micro in 0..<p.accumulationSteps {
                    let base = (step - 1) * perStep + micro * p.batchSize
                    let examples = (0..<p.batchSize).map { train[order.example(at: base + $0)] }
                    let weights = examples.map { PaddedBatch.learnedWeight($0, T: T) }
                    let whole = weights.reduce(0, +), mine = weights[rows].reduce(0, +)
                    if mine == 0 { continue }  // nothing to learn in this rank's rows (their loss and gradient are 0)
                    let part = mine / whole
                    batch.fill { examples[rows.lowerBound + $0] }
                    model.forward(tokens: batch.inputs, B: batch.B, T: T)
                    total += Double(model.crossEntropy(targets: batch.targets, weights: batch.weights) * part)
                    model.backwardCrossEntropy(scale: scale * part)
                    tokens += batch.realTokens
                }
                return (total / Double(p.accumulationSteps), tokens)
            },
            validate: { validationLoss(model: model, validation: validation, batch: &validationBatch, batches: p.evalBatches) })
    }

    /// The validation loss `train` reports, for a model as it is now.
    public static func validationLoss(model: Transformer, validation: [Example], parameters: Parameters) throws -> Double {
        guard let longest = validation.map(\.ids.count).max(), longest >= 2 else {
            throw TrainingError.insufficientData("no validation examples")
        }
        var batch = PaddedBatch(B: parameters.batchSize, T: min(parameters.seqLen, longest - 1), pad: 0)
        return validationLoss(model: model, validation: validation, batch: &batch, batches: parameters.evalBatches)
    }

    /// Token mean over the learned tokens of the first evalBatches * B examples.
    static func validationLoss(model: Transformer, validation: [Example], batch: inout PaddedBatch, batches: Int) -> Double {
        let B = batch.B
        var weighted = 0.0, weight = 0.0
        for b in 0..<batches {
            let first = b * B
            if first >= validation.count { break }
            batch.fill { row in first + row < validation.count ? validation[first + row] : nil }
            let w = Double(batch.weightSum)
            if w == 0 { continue }
            model.forward(tokens: batch.inputs, B: B, T: batch.T)
            weighted += Double(model.crossEntropy(targets: batch.targets, weights: batch.weights)) * w
            weight += w
        }
        return weight > 0 ? weighted / weight : 0
    }
}

/// Reused [B, T] arrays for padded examples: inputs ids[0..<T], targets ids[1...T], weights
/// mask[1...T]; padding and missing rows have target -1 and weight 0.
struct PaddedBatch {
    let B: Int, T: Int
    let pad: Int32
    var inputs: [Int32]
    var targets: [Int32]
    var weights: [Float]

    init(B: Int, T: Int, pad: Int32) {
        self.B = B
        self.T = T
        self.pad = pad
        inputs = [Int32](repeating: pad, count: B * T)
        targets = [Int32](repeating: -1, count: B * T)
        weights = [Float](repeating: 0, count: B * T)
    }

    mutating func fill(_ example: (Int) -> SupervisedFineTuning.Example?) {
        for r in 0..<B {
            let e = example(r)
            let n = e.map { min(T, $0.ids.count - 1) } ?? 0
            for t in 0..<T {
                let i = r * T + t
                if let e, t < n {
                    inputs[i] = e.ids[t]
                    targets[i] = e.ids[t + 1]
                    weights[i] = e.mask[t + 1]
                } else {
                    inputs[i] = pad
                    targets[i] = -1
                    weights[i] = 0
                }
            }
        }
    }

    var weightSum: Float { weights.reduce(0, +) }
    /// The sum of the weights `fill` gives an example's row at width T (its learned tokens).
    static func learnedWeight(_ e: SupervisedFineTuning.Example, T: Int) -> Float {
        let n = min(T, e.ids.count - 1)
        return n > 0 ? e.mask[1...n].reduce(0, +) : 0
    }
    /// Positions that hold an example's token (not padding): what tokens_per_second counts.
    var realTokens: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}

/// Epochs over seeded permutations: position k of the infinite sequence is example
/// perm_e[k mod n] with e = k / n, and perm_e depends only on (seed, e).
struct EpochOrder {
    let count: Int
    let seed: UInt64
    private var epoch = -1
    private var permutation: [Int] = []

    init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
        permutation = Array(0..<count)
    }

    mutating func example(at position: Int) -> Int {
        let e = position / count
        if e != epoch {
            for i in 0..<count { permutation[i] = i }
            var rng = derivedRNG(seed: seed, stream: 2, index: e)
            if count > 1 {
                for i in stride(from: count - 1, to: 0, by: -1) {
                    permutation.swapAt(i, rng.nextInt(below: i + 1))
                }
            }
            epoch = e
        }
        return permutation[position % count]
    }
}
