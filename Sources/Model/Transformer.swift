// Transformer: a Llama-style decoder (Touvron et al., 2023) with explicit forward and backward.
//
//   x0 = embed(tokens)
//   per layer: mid = x + o_proj(attention(rope(qkv_proj(rmsnorm(x)))))
//              x'  = mid + down_proj(swiglu(gate_up_proj(rmsnorm(mid))))
//   hidden = rmsnorm(x_L);  logits = hidden lm_head^T
//
// Forward is one straight run of kernel calls; backward is the same run reversed (llm.c's
// shape). This is not an autograd: the heads API below says which gradients can be fed back.
//
// Heads API (what trainers call), after `forward`:
//   - `logProbs(targets:)`: per-token log p(target) and entropy of the next-token
//     distribution; feed back `backward(dlogp:dentropy:)` (every RL loss is of this form);
//   - `crossEntropy(targets:weights:)` + `backwardCrossEntropy()`: the supervised loss;
//   - `hidden`: the final hidden state [N, C]; feed back `backward(dhidden:)` (scalar heads
//     such as a value or reward head live outside the model and train on this).
// Gradients accumulate into `grads` until `zeroGrad()`.
//
// A frozen model (`Storage.frozen`, WeightStorage.swift) has no gradients and runs forward only;
// stored as BF16, its forward widens each layer's weights into one F32 scratch just before the
// layer, and the LM head a block of vocabulary rows at a time.

import Foundation
import Kernels
import PonderCore

public final class Transformer {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// F32 weights in `layout`; empty when stored as BF16.
    public let params: FloatBuffer
    /// Empty for a frozen model.
    public let grads: FloatBuffer
    /// BF16 weights in `layout`, when stored so.
    let halfParams: BFloat16Buffer?
    /// One layer's weights widened to F32 (BF16 storage only): [layout.layerSize].
    let weightScratch: FloatBuffer

    /// Attach a timer to see where forward and backward time goes.
    public var timer: KernelTimer?

    let ropeCos: FloatBuffer  // [maxSeqLen, D/2]
    let ropeSin: FloatBuffer
    var acts: Activations?

    public init(config: ModelConfig, storage: Storage = .trainable) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        let half = config.headDim / 2
        let (floats, gradients, halves, scratch): (Int, Int, Int, Int) = switch storage {
        case .trainable: (layout.count, layout.count, 0, 0)
        case .frozen(.float32): (layout.count, 0, 0, 0)
        case .frozen(.bfloat16): (0, 0, layout.count, layout.layerSize)
        }
        // Parameters, gradients and the two RoPE tables: a size this machine cannot hold is an
        // error here rather than a crash inside the allocator (validated sizes cannot overflow).
        let bytes = 4 * (floats + gradients + scratch + 2 * config.maxSeqLen * half) + 2 * halves
        let memory = ProcessInfo.processInfo.physicalMemory
        if UInt64(bytes) > memory {
            throw ModelError.invalidConfig(String(format: "the model needs %.1f GiB for its parameters, gradients and RoPE tables (max_position_embeddings %d), more than this machine's %.1f GiB of memory",
                                                  Double(bytes) / 0x1p30, config.maxSeqLen, Double(memory) / 0x1p30))
        }
        params = FloatBuffer(count: floats)
        grads = FloatBuffer(count: gradients)
        halfParams = halves > 0 ? BFloat16Buffer(count: halves) : nil
        weightScratch = FloatBuffer(count: scratch)
        ropeCos = FloatBuffer(count: config.maxSeqLen * half)
        ropeSin = FloatBuffer(count: config.maxSeqLen * half)
        ropeTables(ropeCos.pointer, ropeSin.pointer, config.maxSeqLen, inverseFrequencies: config.ropeInverseFrequencies())
    }

    /// A model initialised as GPT-2 and Llama training recipes do: normal(0, 0.02) matrices and
    /// embeddings, residual output projections (o_proj, down_proj) scaled by 1/sqrt(2 L),
    /// norms at 1, biases at 0. The same seed gives the same weights.
    /// A BF16 model gets the same weights rounded.
    public convenience init(config: ModelConfig, seed: UInt64, storage: Storage = .trainable) throws {
        try self.init(config: config, storage: storage)
        var rng = RNG(seed: seed)
        let residualScale = 1 / Double(2 * config.nLayers).squareRoot()
        for t in layout.tensors {
            write(t) { p in
                switch t.kind {
                case .norm: p.update(repeating: 1, count: t.count)
                case .bias: p.update(repeating: 0, count: t.count)
                case .embedding, .matrix:
                    let isResidualOut = t.name.hasSuffix("o_proj.weight") || t.name.hasSuffix("down_proj.weight")
                    let std = 0.02 * (isResidualOut ? residualScale : 1)
                    for i in 0..<t.count { p[i] = Float(rng.nextGaussian() * std) }
                }
            }
        }
    }

    public var parameterCount: Int { layout.count }

    /// The weights' storage type.
    public var dtype: WeightDType { halfParams == nil ? .float32 : .bfloat16 }

    /// True when the model holds no gradients (`Storage.frozen`).
    public var isFrozen: Bool { grads.count == 0 }

    /// Bytes of the weights as stored (F32 or BF16), without gradients or scratch.
    public var parameterBytes: Int { params.count * 4 + (halfParams?.count ?? 0) * 2 }

    /// Bytes of the gradients: 0 for a frozen model.
    public var gradientBytes: Int { grads.count * 4 }

    /// Lets `body` write tensor `t` in F32: in place, or for BF16 storage into a temporary
    /// of the tensor's size that is then rounded to nearest-even.
    public func write(_ t: TensorSpec, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        guard let halfParams else { return body(params.pointer + t.offset) }
        let values = FloatBuffer(count: t.count)
        body(values.pointer)
        bfloat16FromFloat(halfParams.pointer + t.offset, values.pointer, t.count)
    }

    /// A frozen copy (no gradients) of this F32 model with its weights stored as `dtype`.
    public func frozenCopy(_ dtype: WeightDType) throws -> Transformer {
        precondition(self.dtype == .float32, "frozenCopy: the source must hold F32 weights")
        let copy = try Transformer(config: config, storage: .frozen(dtype))
        for t in layout.tensors { copy.write(t) { $0.update(from: params.pointer + t.offset, count: t.count) } }
        return copy
    }

    public func zeroGrad() { grads.zero() }

    /// Working memory for the current batch shape, in bytes: the activations, and for BF16
    /// storage the one-layer F32 weight scratch.
    public var activationBytes: Int { (acts?.bytes ?? 0) + weightScratch.count * 4 }

    func activations(B: Int, T: Int) -> Activations {
        if let a = acts, a.B == B, a.T == T { return a }
        let a = Activations(config, B: B, T: T, forwardOnly: isFrozen)
        acts = a
        return a
    }

    // MARK: Forward

    /// Runs the model over a [B, T] batch of token ids (row-major), computing the final hidden
    /// state and, unless `computeLogits` is false, the logits [N, V].
    public func forward(tokens: [Int32], B: Int, T: Int, computeLogits: Bool = true) {
        precondition(tokens.count == B * T, "forward: \(tokens.count) tokens for a [\(B), \(T)] batch")
        precondition(T <= config.maxSeqLen, "forward: T = \(T) exceeds max_position_embeddings \(config.maxSeqLen)")
        let a = activations(B: B, T: T)
        tokens.withUnsafeBufferPointer { a.tokens.update(from: $0.baseAddress!, count: B * T) }
        for t in tokens { precondition(t >= 0 && Int(t) < config.vocabSize, "forward: token id \(t) outside vocabulary of \(config.vocabSize)") }
        forwardPass(a, computeLogits: computeLogits)
    }

    func forwardPass(_ a: Activations, computeLogits: Bool) {
        let c = config
        let (N, C, V, F) = (a.N, c.dModel, c.vocabSize, c.ffnHidden)
        let HD = c.nHeads * c.headDim
        let shape = AttentionShape(B: a.B, T: a.T, H: c.nHeads, K: c.nKVHeads, D: c.headDim)
        let W = shape.qkvWidth

        timed("embedding") { embed(a.residual.pointer, a.tokens, N) }
        for l in 0..<c.nLayers {
            let (p, o) = layerWeights(l)
            let (x, ln1, rstd1, qkv, probs, atty, mid, ln2, rstd2, gateUp, swi, out) = a.layer(l).pointers

            timed("rmsnorm") { rmsNormForward(ln1, rstd1, x, p + o.inputNorm, N, C, eps: c.normEps) }
            timed("matmul") { linearForward(qkv, ln1, p + o.qkv, o.qkvBias >= 0 ? p + o.qkvBias : nil, N, C, W) }
            timed("rope") { ropeForward(qkv, stride: W, heads: c.nHeads, a.positions, ropeCos.pointer, ropeSin.pointer, N, c.headDim) }
            timed("rope") { ropeForward(qkv + HD, stride: W, heads: c.nKVHeads, a.positions, ropeCos.pointer, ropeSin.pointer, N, c.headDim) }
            timed("attention") { attentionForward(atty, probs, qkv, shape) }
            timed("matmul") { linearForward(mid, atty, p + o.o, nil, N, HD, C) }
            timed("residual") { add(mid, x, N * C) }
            timed("rmsnorm") { rmsNormForward(ln2, rstd2, mid, p + o.postNorm, N, C, eps: c.normEps) }
            timed("matmul") { linearForward(gateUp, ln2, p + o.gateUp, nil, N, C, 2 * F) }
            timed("swiglu") { swigluForward(swi, gateUp, N, F) }
            timed("matmul") { linearForward(out, swi, p + o.down, nil, N, F, C) }
            timed("residual") { add(out, mid, N * C) }
        }
        let finalNorm = weights(layout.finalNorm, C)
        timed("rmsnorm") { rmsNormForward(a.lnf.pointer, a.rstdf.pointer, a.output, finalNorm, N, C, eps: c.normEps) }
        if computeLogits {
            // Blocks of vocabulary rows that fit the weight scratch (the whole head for F32).
            let rows = halfParams == nil ? V : weightScratch.count / C
            for v in stride(from: 0, to: V, by: rows) {
                let n = min(rows, V - v)
                let head = weights(layout.lmHead + v * C, n * C)
                timed("matmul") { linearForward(a.logits.pointer + v, a.lnf.pointer, head, nil, N, C, n, outStride: V) }
            }
        }
    }

    /// `count` F32 weights from `offset`: the parameters themselves, or for BF16 storage their
    /// widened copy in the weight scratch, valid until the next call.
    func weights(_ offset: Int, _ count: Int) -> UnsafePointer<Float> {
        guard let halfParams else { return UnsafePointer(params.pointer + offset) }
        precondition(count <= weightScratch.count)
        timed("bf16") { floatFromBFloat16(weightScratch.pointer, halfParams.pointer + offset, count) }
        return UnsafePointer(weightScratch.pointer)
    }

    /// Layer l's F32 weights and the offsets of its tensors from that pointer.
    func layerWeights(_ l: Int) -> (UnsafePointer<Float>, LayerOffsets) {
        let o = layout.layers[l]
        return (weights(o.start, layout.layerSize), o.withinLayer)
    }

    /// out [N, C]: the embedding rows of tokens [N], widened from BF16 when stored so.
    func embed(_ out: UnsafeMutablePointer<Float>, _ tokens: UnsafePointer<Int32>, _ N: Int) {
        if let halfParams {
            embeddingForward(out, tokens, halfParams.pointer + layout.embed, N, config.dModel)
        } else {
            embeddingForward(out, tokens, params.pointer + layout.embed, N, config.dModel)
        }
    }

    // MARK: Heads

    /// The final hidden state after the last norm, [N, C], valid until the next forward.
    public var hidden: UnsafeBufferPointer<Float> {
        let a = acts!
        return UnsafeBufferPointer(start: a.lnf.pointer, count: a.N * config.dModel)
    }

    /// The logits of the last forward, [N, V] (overwritten by a backward through them).
    public var logits: UnsafeBufferPointer<Float> {
        let a = acts!
        return UnsafeBufferPointer(start: a.logits.pointer, count: a.N * config.vocabSize)
    }

    /// Per-token log-probabilities of `targets` ([N], negative = ignored, logp 0) and entropies
    /// of the next-token distributions, both [N], valid until the next forward.
    public func logProbs(targets: [Int32]) -> (logp: UnsafeBufferPointer<Float>, entropy: UnsafeBufferPointer<Float>) {
        let a = acts!
        precondition(targets.count == a.N, "logProbs: \(targets.count) targets for \(a.N) positions")
        targets.withUnsafeBufferPointer { a.targets.update(from: $0.baseAddress!, count: a.N) }
        timed("logprobs") { logProbsForward(a.logp.pointer, a.entropy.pointer, a.lse.pointer, a.logits.pointer, a.targets, a.N, config.vocabSize) }
        return (UnsafeBufferPointer(start: a.logp.pointer, count: a.N),
                UnsafeBufferPointer(start: a.entropy.pointer, count: a.N))
    }

    /// Mean cross-entropy over positions with target >= 0, weighted by `weights` (the loss mask).
    public func crossEntropy(targets: [Int32], weights: [Float]) -> Float {
        _ = logProbs(targets: targets)
        let a = acts!
        var total: Float = 0, wsum: Float = 0
        for n in 0..<a.N where targets[n] >= 0 {
            total -= weights[n] * a.logp[n]
            wsum += weights[n]
        }
        lossWeights = weights
        return wsum > 0 ? total / wsum : 0
    }
    private var lossWeights: [Float] = []

    /// Backward of the mean returned by `crossEntropy`, scaled by `scale` (e.g. 1 / micro-batches).
    public func backwardCrossEntropy(scale: Float = 1) {
        let a = acts!
        var wsum: Float = 0
        for n in 0..<a.N where a.targets[n] >= 0 { wsum += lossWeights[n] }
        let k = wsum > 0 ? scale / wsum : 0
        for n in 0..<a.N { a.dlogp[n] = a.targets[n] >= 0 ? -lossWeights[n] * k : 0 }
        backwardFromLogProbs(a, dlogp: a.dlogp.pointer, dentropy: nil, dhidden: nil)
    }

    /// Feeds back d(objective)/d(logp) and, optionally, d/d(entropy) per token (after
    /// `logProbs`), plus optionally a gradient on the hidden state; accumulates into `grads`.
    public func backward(dlogp: [Float], dentropy: [Float]? = nil, dhidden: [Float]? = nil) {
        let a = acts!
        precondition(dlogp.count == a.N)
        dlogp.withUnsafeBufferPointer { dl in
            if let dentropy {
                dentropy.withUnsafeBufferPointer { de in
                    withOptional(dhidden) { backwardFromLogProbs(a, dlogp: dl.baseAddress!, dentropy: de.baseAddress!, dhidden: $0) }
                }
            } else {
                withOptional(dhidden) { backwardFromLogProbs(a, dlogp: dl.baseAddress!, dentropy: nil, dhidden: $0) }
            }
        }
    }

    /// Feeds back a gradient on the final hidden state only ([N, C]): for scalar heads.
    public func backward(dhidden: [Float]) {
        let a = acts!
        precondition(dhidden.count == a.N * config.dModel)
        a.dln.zero()
        dhidden.withUnsafeBufferPointer { a.dln.pointer.update(from: $0.baseAddress!, count: $0.count) }
        backwardFromHidden(a)
    }

    func backwardFromLogProbs(_ a: Activations, dlogp: UnsafePointer<Float>, dentropy: UnsafePointer<Float>?, dhidden: UnsafePointer<Float>?) {
        requireGradients()
        let (N, C, V) = (a.N, config.dModel, config.vocabSize)
        // dlogits overwrite the logits in place.
        timed("logprobs") { logProbsBackward(a.logits.pointer, a.logits.pointer, a.lse.pointer, a.targets, dlogp, dentropy,
                         dentropy == nil ? nil : a.entropy.pointer, N, V) }
        if let dhidden { a.dln.pointer.update(from: dhidden, count: N * C) } else { a.dln.zero() }
        timed("matmul") { linearBackward(a.dln.pointer, grads.pointer + layout.lmHead, nil, a.logits.pointer, a.lnf.pointer,
                       params.pointer + layout.lmHead, N, C, V) }
        backwardFromHidden(a)
    }

    // MARK: Backward

    func requireGradients() {
        precondition(!isFrozen, "backward on a frozen model, which holds no gradients: a reference runs forward only (train a model from Checkpoint.load or Transformer(config:), not Checkpoint.loadFrozen)")
    }

    /// Backward from d(hidden) held in `a.dln`, through the final norm and every layer.
    func backwardFromHidden(_ a: Activations) {
        requireGradients()
        let c = config
        let (N, C, F) = (a.N, c.dModel, c.ffnHidden)
        let HD = c.nHeads * c.headDim
        let shape = AttentionShape(B: a.B, T: a.T, H: c.nHeads, K: c.nKVHeads, D: c.headDim)
        let W = shape.qkvWidth
        let p = params.pointer, g = grads.pointer
        let dres = a.dres.pointer, dln = a.dln.pointer

        a.dres.zero()
        timed("rmsnorm") { rmsNormBackward(dres, g + layout.finalNorm, dln, a.output,
                        p + layout.finalNorm, a.rstdf.pointer, N, C) }
        for l in stride(from: c.nLayers - 1, through: 0, by: -1) {
            let o = layout.layers[l]
            let (x, ln1, rstd1, qkv, probs, atty, mid, ln2, rstd2, gateUp, swi, _) = a.layer(l).pointers

            // dres holds d(out); the MLP branch adds into d(mid) = dres.
            a.dswi.zero()
            timed("matmul") { linearBackward(a.dswi.pointer, g + o.down, nil, dres, swi, p + o.down, N, F, C) }
            a.dgateUp.zero()
            timed("swiglu") { swigluBackward(a.dgateUp.pointer, a.dswi.pointer, gateUp, N, F) }
            a.dln.zero()
            timed("matmul") { linearBackward(dln, g + o.gateUp, nil, a.dgateUp.pointer, ln2, p + o.gateUp, N, C, 2 * F) }
            timed("rmsnorm") { rmsNormBackward(dres, g + o.postNorm, dln, mid, p + o.postNorm, rstd2, N, C) }
            // dres holds d(mid); the attention branch adds into d(x) = dres.
            a.datty.zero()
            timed("matmul") { linearBackward(a.datty.pointer, g + o.o, nil, dres, atty, p + o.o, N, HD, C) }
            a.dqkv.zero()
            timed("attention") { attentionBackward(a.dqkv.pointer, a.dprobs.pointer, a.datty.pointer, probs, qkv, shape) }
            timed("rope") { ropeBackward(a.dqkv.pointer, stride: W, heads: c.nHeads, a.positions, ropeCos.pointer, ropeSin.pointer, N, c.headDim) }
            timed("rope") { ropeBackward(a.dqkv.pointer + HD, stride: W, heads: c.nKVHeads, a.positions, ropeCos.pointer, ropeSin.pointer, N, c.headDim) }
            a.dln.zero()
            timed("matmul") { linearBackward(dln, g + o.qkv, o.qkvBias >= 0 ? g + o.qkvBias : nil, a.dqkv.pointer, ln1, p + o.qkv, N, C, W) }
            timed("rmsnorm") { rmsNormBackward(dres, g + o.inputNorm, dln, x, p + o.inputNorm, rstd1, N, C) }
        }
        timed("embedding") { embeddingBackward(g + layout.embed, dres, a.tokens, N, C) }
    }
}

/// y += x over n elements.
@inline(__always)
func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] += x[i] }
}

@inline(__always)
func withOptional<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension Transformer {
    /// A copy of the model with only its first `layers` blocks (the embedding, final norm and
    /// head kept): a smaller model that starts from what this one learned, e.g. a smaller reward
    /// model from the same checkpoint.
    public func keepingLayers(_ layers: Int) throws -> Transformer {
        guard (1...config.nLayers).contains(layers) else {
            throw ModelError.invalidConfig("cannot keep \(layers) of the model's \(config.nLayers) layers: give 1 to \(config.nLayers)")
        }
        precondition(dtype == .float32, "keepingLayers: the model must hold F32 weights")
        var smaller = config
        smaller.nLayers = layers
        let copy = try Transformer(config: smaller)
        for t in copy.layout.tensors {
            guard let source = layout.tensor(named: t.name) else { preconditionFailure("\(t.name) is in every layout with more layers") }
            (copy.params.pointer + t.offset).update(from: params.pointer + source.offset, count: t.count)
        }
        return copy
    }
}
