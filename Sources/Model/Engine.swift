// Engine: batched autoregressive generation with a KV cache.
//
// Every sequence being generated owns a cache slot: per layer, keys and values for each
// position, [slots, S, K, D]. One `step` runs the model over any set of (slot, position, token)
// rows: each row writes its key and value into its slot, then attends over its slot's first
// position+1 entries. Prefill and decoding are the same call: a prompt is many rows of one slot
// (positions 0..<T), a decoding step is one row per live sequence.
//
// `generate` prefills each distinct prompt once, copies its cache into the G slots of its
// samples (the G samples share the prompt), then decodes every live sequence of every prompt
// together, one token per step, compacting finished rows away. A per-row hook may force a run
// of tokens into a sequence (tool output): forced tokens are fed one per step like sampled ones
// but are not sampled, and are marked in the result so trainers can mask them from the loss.
//
// Not here: beam search, speculative decoding, paged caches; the cache holds the longest
// prompt plus max new tokens for every slot.

import Kernels
import PonderCore

// FinishReason (stop / length) is PonderCore's, shared with the reward functions.

public struct Generation: Sendable, Equatable {
    /// The new tokens, sampled and forced, in order (a stop token is included).
    public var tokens: [Int32] = []
    /// Log-probability of each token under the sampling distribution; 0 for forced tokens.
    public var logProbs: [Float] = []
    /// True where the token was forced by the hook rather than sampled.
    public var forced: [Bool] = []
    public var finishReason: FinishReason = .length
}

/// Called after each sampled token with (sequence index, the new tokens so far); returns tokens
/// to force next, or nil. Sequence index = prompt index * G + sample index.
public typealias ForceHook = (Int, [Int32]) -> [Int32]?

public final class Engine {
    public let model: Transformer
    let config: ModelConfig
    let slots: Int
    let S: Int
    let kCache: FloatBuffer  // [L, slots, K, D, S]  keys transposed (see attentionDecode)
    let vCache: FloatBuffer  // [L, slots, K, S, D]
    // Step scratch for up to `maxRows` rows.
    let maxRows: Int
    let x: FloatBuffer, ln: FloatBuffer, qkv: FloatBuffer, atty: FloatBuffer, mid: FloatBuffer
    let gateUp: FloatBuffer, swi: FloatBuffer, rstd: FloatBuffer, logits: FloatBuffer, scores: FloatBuffer
    let rowSlots: UnsafeMutablePointer<Int32>, rowPositions: UnsafeMutablePointer<Int32>
    let rowLengths: UnsafeMutablePointer<Int32>, rowTokens: UnsafeMutablePointer<Int32>
    var sampler: Sampler

    /// An engine for up to `sequences` concurrent sequences of at most `maxLength` tokens
    /// (prompt + completion), stepping at most `maxRows` rows at once (at least `sequences`;
    /// longer prompts are prefilled in chunks of `maxRows` tokens).
    public init(model: Transformer, sequences: Int, maxLength: Int, maxRows: Int? = nil) {
        precondition(model.dtype == .float32, "Engine: the model must hold F32 weights (a BF16 reference runs forward only)")
        self.model = model
        config = model.config
        slots = sequences
        S = min(maxLength, config.maxSeqLen)
        let (L, K, D, C) = (config.nLayers, config.nKVHeads, config.headDim, config.dModel)
        kCache = FloatBuffer(count: L * slots * S * K * D)
        vCache = FloatBuffer(count: L * slots * S * K * D)
        let R = max(maxRows ?? 256, sequences)
        self.maxRows = R
        let W = (config.nHeads + 2 * K) * D
        x = FloatBuffer(count: R * C); ln = FloatBuffer(count: R * C); mid = FloatBuffer(count: R * C)
        qkv = FloatBuffer(count: R * W); atty = FloatBuffer(count: R * config.nHeads * D)
        gateUp = FloatBuffer(count: R * 2 * config.ffnHidden); swi = FloatBuffer(count: R * config.ffnHidden)
        rstd = FloatBuffer(count: R); logits = FloatBuffer(count: R * config.vocabSize)
        scores = FloatBuffer(count: R * config.nHeads * S)
        rowSlots = .allocate(capacity: R); rowPositions = .allocate(capacity: R)
        rowLengths = .allocate(capacity: R); rowTokens = .allocate(capacity: R)
        sampler = Sampler(vocabSize: config.vocabSize)
    }

    deinit {
        rowSlots.deallocate(); rowPositions.deallocate(); rowLengths.deallocate(); rowTokens.deallocate()
    }

    /// Bytes of the KV cache (for the memory report).
    public var cacheBytes: Int { (kCache.count + vCache.count) * 4 }

    // MARK: One step

    /// Runs `rows.count` rows through the model against the cache; afterwards the logits of row
    /// i are at `logits.pointer + i * V`. Each row's key/value lands at (slot, position).
    func step(count R: Int) {
        precondition(R <= maxRows)
        let c = config, p = model.params.pointer, layout = model.layout
        let (C, K, D, H, F) = (c.dModel, c.nKVHeads, c.headDim, c.nHeads, c.ffnHidden)
        let W = (H + 2 * K) * D, HD = H * D
        for r in 0..<R { rowLengths[r] = rowPositions[r] + 1 }

        embeddingForward(x.pointer, rowTokens, p + layout.embed, R, C)
        for l in 0..<c.nLayers {
            let o = layout.layers[l]
            let kc = kCache.pointer + l * slots * S * K * D, vc = vCache.pointer + l * slots * S * K * D
            rmsNormForward(ln.pointer, rstd.pointer, x.pointer, p + o.inputNorm, R, C, eps: c.normEps)
            linearForward(qkv.pointer, ln.pointer, p + o.qkv, o.qkvBias >= 0 ? p + o.qkvBias : nil, R, C, W)
            ropeForward(qkv.pointer, stride: W, heads: H, rowPositions, model.ropeCos.pointer, model.ropeSin.pointer, R, D)
            ropeForward(qkv.pointer + HD, stride: W, heads: K, rowPositions, model.ropeCos.pointer, model.ropeSin.pointer, R, D)
            for r in 0..<R {
                for kh in 0..<K {
                    let head = (Int(rowSlots[r]) * K + kh) * S * D, pos = Int(rowPositions[r])
                    let key = qkv.pointer + r * W + HD + kh * D
                    for d in 0..<D { kc[head + d * S + pos] = key[d] }
                    (vc + head + pos * D).update(from: qkv.pointer + r * W + HD + K * D + kh * D, count: D)
                }
            }
            attentionDecode(atty.pointer, qkv.pointer, qStride: W, kc, vc, rowSlots, rowLengths, scores.pointer,
                            R: R, H: H, K: K, D: D, S: S)
            linearForward(mid.pointer, atty.pointer, p + o.o, nil, R, HD, C)
            add(mid.pointer, x.pointer, R * C)
            rmsNormForward(ln.pointer, rstd.pointer, mid.pointer, p + o.postNorm, R, C, eps: c.normEps)
            linearForward(gateUp.pointer, ln.pointer, p + o.gateUp, nil, R, C, 2 * F)
            swigluForward(swi.pointer, gateUp.pointer, R, F)
            linearForward(x.pointer, swi.pointer, p + o.down, nil, R, F, C)
            add(x.pointer, mid.pointer, R * C)
        }
        rmsNormForward(ln.pointer, rstd.pointer, x.pointer, p + layout.finalNorm, R, C, eps: c.normEps)
        linearForward(logits.pointer, ln.pointer, p + layout.lmHead, nil, R, C, c.vocabSize)
    }

    /// One decoding step: row r feeds `next[live[r]]` at the next position of its slot (advancing
    /// `length`); afterwards row r's logits are those of sequence `live[r]`.
    func stepLive(_ live: [Int], length: inout [Int], next: [Int32]) {
        for (r, s) in live.enumerated() {
            rowSlots[r] = Int32(s)
            rowPositions[r] = Int32(length[s])
            rowTokens[r] = next[s]
            length[s] += 1
        }
        step(count: live.count)
    }

    /// Writes a prompt into `slot` (positions 0..<count) in chunks of at most `maxRows`; returns
    /// with the logits of the prompt's last token in row `lastRow` of `logits`.
    func prefill(_ prompt: [Int32], slot: Int) -> Int {
        var start = 0, lastRow = 0
        while start < prompt.count {
            let n = min(maxRows, prompt.count - start)
            for r in 0..<n {
                rowSlots[r] = Int32(slot)
                rowPositions[r] = Int32(start + r)
                rowTokens[r] = prompt[start + r]
            }
            step(count: n)
            lastRow = n - 1
            start += n
        }
        return lastRow
    }

    /// Copies positions 0..<count of `from`'s cache into `to`, for every layer and head.
    func copySlot(from: Int, to: Int, count: Int) {
        let (K, D) = (config.nKVHeads, config.headDim)
        for l in 0..<config.nLayers {
            for kh in 0..<K {
                let src = ((l * slots + from) * K + kh) * S * D, dst = ((l * slots + to) * K + kh) * S * D
                for d in 0..<D {
                    (kCache.pointer + dst + d * S).update(from: kCache.pointer + src + d * S, count: count)
                }
                (vCache.pointer + dst).update(from: vCache.pointer + src, count: count * D)
            }
        }
    }

    // MARK: Generation

    /// Generates `samplesPerPrompt` completions for each prompt. The result is indexed
    /// [prompt][sample]. The same `rng` state gives the same samples.
    public func generate(
        prompts: [[Int32]], samplesPerPrompt G: Int = 1, parameters sp: SamplingParameters,
        rng: inout RNG, hook: ForceHook? = nil
    ) -> [[Generation]] {
        var streams = [rng]
        defer { rng = streams[0] }
        return generate(prompts: prompts, samplesPerPrompt: G, parameters: sp, streams: &streams, stream: { _ in 0 }, hook: hook)
    }

    /// As above, but prompt i's samples draw from `streams[i]` alone, so a prompt's completions do
    /// not depend on which other prompts share the batch (up to the summation order of the
    /// batched matrix products): what data-parallel GRPO needs to give every rank count the same
    /// rollouts.
    public func generate(
        prompts: [[Int32]], samplesPerPrompt G: Int = 1, parameters sp: SamplingParameters,
        streams: inout [RNG], hook: ForceHook? = nil
    ) -> [[Generation]] {
        precondition(streams.count == prompts.count, "generate: \(streams.count) random streams for \(prompts.count) prompts")
        return generate(prompts: prompts, samplesPerPrompt: G, parameters: sp, streams: &streams, stream: { $0 / G }, hook: hook)
    }

    /// Sequence s (sample s % G of prompt s / G) draws from `streams[stream(s)]`.
    private func generate(
        prompts: [[Int32]], samplesPerPrompt G: Int, parameters sp: SamplingParameters,
        streams: inout [RNG], stream: (Int) -> Int, hook: ForceHook?
    ) -> [[Generation]] {
        let total = prompts.count * G
        precondition(total <= slots, "generate: \(total) sequences but the engine holds \(slots)")
        precondition(total <= maxRows, "generate: \(total) sequences but the engine steps \(maxRows) rows")
        var results = [[Generation]](repeating: [Generation](repeating: Generation(), count: G), count: prompts.count)
        let V = config.vocabSize
        let stops = Set(sp.stopTokens)
        var length = [Int](repeating: 0, count: total)     // tokens in the cache per sequence
        var pending = [[Int32]](repeating: [], count: total)  // forced tokens still to feed
        var next = [Int32](repeating: 0, count: total)     // token to feed at the next step
        var live: [Int] = []

        // Appends `token` to sequence s; returns false when the sequence is finished.
        func accept(_ s: Int, _ token: Int32, _ logProb: Float, forced: Bool) -> Bool {
            let (i, g) = (s / G, s % G)
            results[i][g].tokens.append(token)
            results[i][g].logProbs.append(logProb)
            results[i][g].forced.append(forced)
            if !forced && stops.contains(token) {
                results[i][g].finishReason = .stop
                return false
            }
            if !forced, let hook, let force = hook(s, results[i][g].tokens), !force.isEmpty {
                pending[s] = force
            }
            if results[i][g].tokens.count >= sp.maxNewTokens || length[s] >= S {
                results[i][g].finishReason = .length
                return false
            }
            next[s] = token
            return true
        }

        // Prefill each prompt once, share it with its G samples, draw each sample's first token.
        for (i, prompt) in prompts.enumerated() {
            precondition(!prompt.isEmpty, "generate: prompt \(i) is empty")
            precondition(prompt.count < S, "generate: prompt \(i) has \(prompt.count) tokens; the cache holds \(S)")
            let first = i * G
            let lastRow = prefill(prompt, slot: first)
            for g in 1..<max(G, 1) { copySlot(from: first, to: first + g, count: prompt.count) }
            if sp.maxNewTokens <= 0 { continue }
            for g in 0..<G {
                let s = first + g
                length[s] = prompt.count
                let (token, lp) = sampler.sample(logits.pointer + lastRow * V, sp, &streams[stream(s)])
                if accept(s, token, lp, forced: false) { live.append(s) }
            }
        }

        // Decode all live sequences together.
        while !live.isEmpty {
            stepLive(live, length: &length, next: next)
            var stillLive: [Int] = []
            stillLive.reserveCapacity(live.count)
            for (r, s) in live.enumerated() {
                let keep: Bool
                if !pending[s].isEmpty {
                    keep = accept(s, pending[s].removeFirst(), 0, forced: true)
                } else {
                    let (token, lp) = sampler.sample(logits.pointer + r * V, sp, &streams[stream(s)])
                    keep = accept(s, token, lp, forced: false)
                }
                if keep { stillLive.append(s) }
            }
            live = stillLive
        }
        return results
    }
}
