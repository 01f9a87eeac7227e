// AdamW (Loshchilov & Hutter, 2019) over the flat parameter buffer, with global gradient-norm
// clipping and learning-rate schedules.
//
// One step, for every parameter p with gradient g (t counts steps from 1):
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   p -= lr * ( (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + wd * p )
// Weight decay is decoupled (PyTorch's AdamW) and applies to matrices only by default: norms,
// biases and embeddings are not decayed (`TensorSpec.decays`), as in GPT and Llama recipes.

import Kernels

public struct AdamWParameters: Codable, Sendable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0.1
    /// Decay embeddings too (off by default).
    public var decayEmbeddings: Bool = false

    enum CodingKeys: String, CodingKey {
        case beta1, beta2, eps
        case weightDecay = "weight_decay"
        case decayEmbeddings = "decay_embeddings"
    }

    public init(beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1, decayEmbeddings: Bool = false) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.decayEmbeddings = decayEmbeddings
    }
}

public final class AdamW {
    public let parameters: AdamWParameters
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Steps taken so far (the bias correction uses step + 1 for the next one).
    public private(set) var step: Int = 0
    let decayRanges: [(offset: Int, count: Int, decays: Bool)]

    public init(layout: ParameterLayout, parameters: AdamWParameters = AdamWParameters()) {
        self.parameters = parameters
        m = FloatBuffer(count: layout.count)
        v = FloatBuffer(count: layout.count)
        decayRanges = layout.tensors.map {
            ($0.offset, $0.count, $0.decays || (parameters.decayEmbeddings && $0.kind == .embedding))
        }
    }

    /// Restores moments and the step count saved by a checkpoint.
    public func restore(step: Int, m: [Float], v: [Float]) {
        precondition(m.count == self.m.count && v.count == self.v.count)
        self.step = step
        m.withUnsafeBufferPointer { self.m.pointer.update(from: $0.baseAddress!, count: $0.count) }
        v.withUnsafeBufferPointer { self.v.pointer.update(from: $0.baseAddress!, count: $0.count) }
    }

    public func update(params: FloatBuffer, grads: FloatBuffer, lr: Float) {
        step += 1
        let hp = parameters
        let c1 = 1 - pow(hp.beta1, Float(step)), c2 = 1 - pow(hp.beta2, Float(step))
        let p = params.pointer, g = grads.pointer, m = self.m.pointer, v = self.v.pointer
        for range in decayRanges {
            let wd = range.decays ? hp.weightDecay : 0
            parallelFor(range.count, grain: 16_384) { start, end in
                for i in (range.offset + start)..<(range.offset + end) {
                    let gi = g[i]
                    m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * gi
                    v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * gi * gi
                    let mhat = m[i] / c1, vhat = v[i] / c2
                    p[i] -= lr * (mhat / (vhat.squareRoot() + hp.eps) + wd * p[i])
                }
            }
        }
    }
}

/// The global L2 norm of the gradient; when above `maxNorm` (> 0), scales the gradient down to
/// it. Returns the norm before clipping (what trainers log).
@discardableResult
public func clipGradientNorm(_ grads: FloatBuffer, maxNorm: Float) -> Float {
    var total: Double = 0
    let g = grads.pointer
    var i = 0
    while i < grads.count {
        let end = min(grads.count, i + 4096)
        var s: Float = 0
        for j in i..<end { s += g[j] * g[j] }
        total += Double(s)
        i = end
    }
    let norm = Float(total.squareRoot())
    if maxNorm > 0, norm > maxNorm {
        let k = maxNorm / (norm + 1e-6)
        for j in 0..<grads.count { g[j] *= k }
    }
    return norm
}

/// Learning rate as a function of the step (0-based), peak `lr`.
public enum LRSchedule: Codable, Sendable, Equatable {
    case constant
    /// Linear warmup over `warmup` steps to the peak, then cosine decay to `minRatio * lr` at `total`.
    case cosine(warmup: Int, total: Int, minRatio: Float)
    /// Linear warmup, then linear decay to `minRatio * lr` at `total`.
    case linear(warmup: Int, total: Int, minRatio: Float)

    public func lr(step: Int, peak: Float) -> Float {
        switch self {
        case .constant:
            return peak
        case .cosine(let warmup, let total, let minRatio), .linear(let warmup, let total, let minRatio):
            if step < warmup { return peak * Float(step + 1) / Float(warmup) }
            let span = max(1, total - warmup)
            let progress = min(1, Float(step - warmup) / Float(span))
            let shape: Float
            if case .cosine = self {
                shape = 0.5 * (1 + cos(Float.pi * progress))
            } else {
                shape = 1 - progress
            }
            return peak * (minRatio + (1 - minRatio) * shape)
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
