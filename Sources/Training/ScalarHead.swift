// ScalarHead: a linear map from the transformer's final hidden state to one number, r = w.h + b,
// with its own gradient and Adam moments. The reward model reads it at a sequence's last token;
// PPO's value head reads it at every completion position. It lives outside the Transformer
// (whose `backward(dhidden:)` takes what the head feeds back) and is saved beside a checkpoint
// as HEAD.safetensors: `score.weight` [1, C] and `score.bias` [1] (the names Hugging Face's
// LlamaForSequenceClassification uses for its head, which has no bias), plus `exp_avg.score` and
// `exp_avg_sq.score` [C + 1] and the Adam step in the metadata, for resuming.
// Initialised to zero: the first step's score is 0 for every sequence, and the trunk receives
// its first gradient one step later.

import Foundation
import Model

public struct ScalarHead: Sendable, Equatable {
    /// w (C values) then b.
    public var values: [Float]
    public var grads: [Float]
    var m: [Float]
    var v: [Float]
    public var step = 0

    public init(width: Int) {
        values = [Float](repeating: 0, count: width + 1)
        grads = values; m = values; v = values
    }

    public var width: Int { values.count - 1 }

    /// w.h + b for the hidden vector at `hidden`.
    public func score(_ hidden: UnsafePointer<Float>) -> Float {
        var s = values[width]
        for i in 0..<width { s += values[i] * hidden[i] }
        return s
    }

    /// Adds d(score) * d(score)/d(w, b) into `grads` and d(score) * w into `dhidden`.
    public mutating func backward(_ dscore: Float, hidden: UnsafePointer<Float>, dhidden: UnsafeMutablePointer<Float>) {
        for i in 0..<width {
            grads[i] += dscore * hidden[i]
            dhidden[i] += dscore * values[i]
        }
        grads[width] += dscore
    }

    public mutating func zeroGrad() { for i in grads.indices { grads[i] = 0 } }

    var gradSquaredNorm: Double { grads.reduce(0) { $0 + Double($1) * Double($1) } }

    /// One Adam step (no weight decay: the head is a handful of numbers).
    public mutating func update(lr: Float, beta1: Float, beta2: Float, eps: Float = 1e-8) {
        step += 1
        let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
        for i in values.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * grads[i]
            v[i] = beta2 * v[i] + (1 - beta2) * grads[i] * grads[i]
            values[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
        }
    }

    // MARK: Files

    /// The head and its Adam state, as saved in every checkpoint (resuming needs the moments).
    public func safetensors() -> Data {
        var w = SafeTensorsWriter(metadata: ["step": String(step)])
        w.add("score.weight", shape: [1, width], floats: Array(values[0..<width]))
        w.add("score.bias", shape: [1], floats: [values[width]])
        w.add("exp_avg.score", shape: [width + 1], floats: m)
        w.add("exp_avg_sq.score", shape: [width + 1], floats: v)
        return w.encoded()
    }

    /// One optimizer step of a trunk and this head together: their joint gradient norm clipped
    /// to `maxNorm` (0 = off), AdamW on the trunk, Adam on the head. Returns the norm before clipping.
    mutating func step(with trunk: Transformer, optimizer: AdamW, maxNorm: Double, lr: Float, beta1: Double, beta2: Double) -> Double {
        let trunkNorm = Double(clipGradientNorm(trunk.grads, maxNorm: 0))
        let norm = (trunkNorm * trunkNorm + gradSquaredNorm).squareRoot()
        if maxNorm > 0 && norm > maxNorm {
            let k = Float(maxNorm / norm)
            let g = trunk.grads.pointer
            for i in 0..<trunk.grads.count { g[i] *= k }
            for i in grads.indices { grads[i] *= k }
        }
        optimizer.update(params: trunk.params, grads: trunk.grads, lr: lr)
        update(lr: lr, beta1: Float(beta1), beta2: Float(beta2))
        return norm
    }

    /// Reads a head of `width` from `url`; its moments too when present.
    public static func load(from url: URL, width: Int) throws -> ScalarHead {
        let file = try SafeTensorsFile(contentsOf: url)
        var head = ScalarHead(width: width)
        head.values = try file.floats("score.weight", shape: [1, width]) + file.floats("score.bias", shape: [1])
        if file.info("exp_avg.score") != nil {
            head.m = try file.floats("exp_avg.score", shape: [width + 1])
            head.v = try file.floats("exp_avg_sq.score", shape: [width + 1])
            head.step = Int(file.metadata["step"] ?? "0") ?? 0
        }
        return head
    }
}

/// Token sequences of different lengths as right-padded [B, T] rows (causal attention: padding
/// never reaches a real position), with each row's last real position.
struct PaddedRows {
    var tokens: [Int32]
    var B: Int
    var T: Int
    var last: [Int]

    init(_ rows: [[Int32]]) {
        B = rows.count
        T = rows.map(\.count).max() ?? 1
        tokens = [Int32](repeating: 0, count: B * T)
        last = []
        for (r, row) in rows.enumerated() {
            precondition(!row.isEmpty, "an empty sequence has no last token to score")
            for (t, id) in row.enumerated() { tokens[r * T + t] = id }
            last.append(r * T + row.count - 1)
        }
    }
}
