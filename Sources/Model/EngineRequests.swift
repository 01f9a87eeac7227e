// Engine requests: a batch of independent sequences, each with its own sampling settings, random
// stream and stop tokens, decoded together; what a server needs when unrelated clients share one
// batch. `generate(prompts:samplesPerPrompt:...)` (one setting, one shared stream, G samples
// sharing a prefill) stays the trainers' call: its random draws are part of every run's record.
//
// Each request draws only from its own RNG, so its tokens do not depend on which other requests
// share its batch (up to the summation order of the batched matrix products). An observer sees
// every sampled token as it comes and may end that sequence (a stop string, a client that left).
// Optionally each position reports the log-probabilities of the model's own distribution
// (softmax of the raw logits: no temperature, no truncation) for the sampled token and the k
// most likely ones, as OpenAI's `logprobs` / `top_logprobs` do.
//
// Not here: tool hooks (the trainers' call has them), joining a batch already decoding.

import Kernels
import PonderCore

/// One sequence to generate.
public struct GenerationRequest: Sendable {
    public var prompt: [Int32]
    public var parameters: SamplingParameters
    public var rng: RNG
    /// How many of the most likely tokens to report at each position (0: none, and no
    /// log-probabilities of the model's distribution are computed).
    public var topLogProbs: Int

    public init(prompt: [Int32], parameters: SamplingParameters, rng: RNG, topLogProbs: Int = 0) {
        self.prompt = prompt
        self.parameters = parameters
        self.rng = rng
        self.topLogProbs = topLogProbs
    }
}

/// A token with its log-probability under the model's distribution.
public struct TokenLogProb: Sendable, Equatable {
    public var token: Int32
    public var logProb: Float
}

/// What a position reports when its request asks for log-probabilities.
public struct PositionLogProbs: Sendable, Equatable {
    /// The sampled token under the model's distribution.
    public var chosen: TokenLogProb
    /// The most likely tokens, most likely first (ties: lower id first).
    public var top: [TokenLogProb]
}

/// A finished request: the generation and, when asked for, one `PositionLogProbs` per token.
public struct RequestResult: Sendable, Equatable {
    public var generation = Generation()
    public var logProbs: [PositionLogProbs] = []
}

extension Engine {
    /// Decodes every request together; `observe(request index, token, its log-probabilities)` is
    /// called after each sampled token other than a stop token, and returns false to end that
    /// sequence there (finish reason `.stop`). Results are in request order.
    public func generate(
        _ requests: [GenerationRequest], observe: (Int, Int32, PositionLogProbs?) -> Bool = { _, _, _ in true }
    ) -> [RequestResult] {
        let n = requests.count
        precondition(n <= slots, "generate: \(n) requests but the engine holds \(slots)")
        precondition(n <= maxRows, "generate: \(n) requests but the engine steps \(maxRows) rows")
        let V = config.vocabSize
        var results = [RequestResult](repeating: RequestResult(), count: n)
        var rngs = requests.map(\.rng)
        let stops = requests.map { Set($0.parameters.stopTokens) }
        var length = [Int](repeating: 0, count: n)
        var next = [Int32](repeating: 0, count: n)
        var live: [Int] = []

        // Draws request s's next token from the logits at `row`; returns false when it is finished.
        func sampleAndAccept(_ s: Int, row: UnsafePointer<Float>) -> Bool {
            let p = requests[s].parameters
            let (token, lp) = sampler.sample(row, p, &rngs[s])
            results[s].generation.tokens.append(token)
            results[s].generation.logProbs.append(lp)
            results[s].generation.forced.append(false)
            var reported: PositionLogProbs?
            if requests[s].topLogProbs > 0 {
                reported = modelLogProbs(row, V, chosen: token, top: requests[s].topLogProbs)
                results[s].logProbs.append(reported!)
            }
            if stops[s].contains(token) || !observe(s, token, reported) {
                results[s].generation.finishReason = .stop
                return false
            }
            if results[s].generation.tokens.count >= p.maxNewTokens || length[s] >= S {
                results[s].generation.finishReason = .length
                return false
            }
            next[s] = token
            return true
        }

        for (s, request) in requests.enumerated() {
            precondition(!request.prompt.isEmpty, "generate: request \(s) has an empty prompt")
            precondition(request.prompt.count < S, "generate: request \(s) has \(request.prompt.count) tokens; the cache holds \(S)")
            let lastRow = prefill(request.prompt, slot: s)
            length[s] = request.prompt.count
            if request.parameters.maxNewTokens > 0, sampleAndAccept(s, row: logits.pointer + lastRow * V) { live.append(s) }
        }

        while !live.isEmpty {
            stepLive(live, length: &length, next: next)
            live = live.enumerated().compactMap { r, s in sampleAndAccept(s, row: logits.pointer + r * V) ? s : nil }
        }
        return results
    }
}

/// log softmax(logits) at `chosen` and at the `top` largest logits.
func modelLogProbs(_ logits: UnsafePointer<Float>, _ V: Int, chosen: Int32, top k: Int) -> PositionLogProbs {
    var mx = -Float.infinity
    for j in 0..<V where logits[j] > mx { mx = logits[j] }
    var sum: Double = 0
    for j in 0..<V { sum += Double(exp(logits[j] - mx)) }
    let logZ = mx + Float(log(sum))
    // Partial selection of the k largest: keep a sorted list of at most k candidates.
    var best: [Int32] = []
    best.reserveCapacity(k + 1)
    for j in 0..<V {
        let v = logits[j]
        if best.count == k, let last = best.last, logits[Int(last)] >= v { continue }
        var at = best.count
        while at > 0 && logits[Int(best[at - 1])] < v { at -= 1 }
        best.insert(Int32(j), at: at)
        if best.count > k { best.removeLast() }
    }
    return PositionLogProbs(chosen: TokenLogProb(token: chosen, logProb: logits[Int(chosen)] - logZ),
                            top: best.map { TokenLogProb(token: $0, logProb: logits[Int($0)] - logZ) })
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
