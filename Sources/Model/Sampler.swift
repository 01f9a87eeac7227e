// Sampler: turns one row of logits into a token, with temperature, top-k and top-p.
//
// Order of operations, as in Hugging Face's generate and vLLM: divide by the temperature,
// keep the k most likely tokens, then the smallest set whose probability reaches p, renormalise
// and draw. Temperature 0 means greedy (argmax, first index on ties).
// The reported log-probability is that of the drawn token under softmax(logits / temperature)
// before truncation (softmax(logits) when greedy): the distribution a policy-gradient trainer
// recomputes.

import Kernels
import PonderCore

public struct SamplingParameters: Codable, Sendable, Equatable {
    public var temperature: Float
    /// 0 = no top-k truncation.
    public var topK: Int
    /// 1 = no nucleus truncation.
    public var topP: Float
    public var maxNewTokens: Int
    /// Sampling one of these ends the sequence (it is kept in the output).
    public var stopTokens: [Int32]

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, maxNewTokens: Int = 128, stopTokens: [Int32] = []) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
    }

    public static func greedy(maxNewTokens: Int, stopTokens: [Int32] = []) -> SamplingParameters {
        SamplingParameters(temperature: 0, maxNewTokens: maxNewTokens, stopTokens: stopTokens)
    }
}

/// Per-engine scratch for sampling; reused across rows and steps so nothing allocates.
struct Sampler {
    let V: Int
    var probs: [Float]
    var order: [Int32]

    init(vocabSize: Int) {
        V = vocabSize
        probs = [Float](repeating: 0, count: vocabSize)
        order = [Int32](repeating: 0, count: vocabSize)
    }

    /// Draws a token from `logits` [V]; returns it with its log-probability.
    mutating func sample(_ logits: UnsafePointer<Float>, _ p: SamplingParameters, _ rng: inout RNG) -> (Int32, Float) {
        var mx = -Float.infinity, arg = 0
        for j in 0..<V where logits[j] > mx { mx = logits[j]; arg = j }
        let invT = p.temperature > 0 ? 1 / p.temperature : 1
        let sum = probs.withUnsafeMutableBufferPointer { expShifted($0.baseAddress!, logits, V, shift: mx, scale: invT) }
        let logZ = log(sum)
        if p.temperature <= 0 {
            return (Int32(arg), -logZ)  // the argmax has logit mx: log p = 0 - log Z
        }
        let token: Int
        if p.topK <= 0 && p.topP >= 1 {
            token = draw(count: V, total: sum, &rng) { $0 }
        } else {
            token = drawTruncated(p, total: sum, &rng)
        }
        return (Int32(token), (logits[token] - mx) * invT - logZ)
    }

    /// Inverse-CDF draw over `count` candidates; `index(i)` maps a candidate to a token.
    private func draw(count: Int, total: Float, _ rng: inout RNG, _ index: (Int) -> Int) -> Int {
        let u = rng.nextFloat() * total
        var acc: Float = 0
        for i in 0..<count {
            acc += probs[index(i)]
            if u < acc { return index(i) }
        }
        return index(count - 1)
    }

    private mutating func drawTruncated(_ p: SamplingParameters, total: Float, _ rng: inout RNG) -> Int {
        // Sort candidates by probability, descending (index order breaks ties).
        for j in 0..<V { order[j] = Int32(j) }
        let pr = probs
        order.sort { pr[Int($0)] > pr[Int($1)] || (pr[Int($0)] == pr[Int($1)] && $0 < $1) }
        var keep = p.topK > 0 ? min(p.topK, V) : V
        var kept: Float = 0
        for i in 0..<keep { kept += probs[Int(order[i])] }
        if p.topP < 1 {
            let target = p.topP * kept
            var acc: Float = 0
            for i in 0..<keep {
                acc += probs[Int(order[i])]
                if acc >= target { keep = i + 1; break }
            }
            kept = 0
            for i in 0..<keep { kept += probs[Int(order[i])] }
        }
        let o = order
        return draw(count: keep, total: kept, &rng) { Int(o[$0]) }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
