// Softmax over the last axis, and its backward pass.

/// probs [N, V], logits [N, V]; probs may alias logits.
public func softmaxForward(
    _ probs: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>, _ N: Int, _ V: Int
) {
    parallelFor(N, grain: 16) { start, end in
        for n in start..<end {
            let z = logits + n * V, p = probs + n * V
            var mx = -Float.infinity
            for j in 0..<V { mx = max(mx, z[j]) }
            var sum: Float = 0
            for j in 0..<V {
                let e = fastExp(z[j] - mx)
                p[j] = e
                sum += e
            }
            let inv = 1 / sum
            for j in 0..<V { p[j] *= inv }
        }
    }
}

/// dlogits += p * (dprobs - sum(p * dprobs)).
///   dlogits [N, V] (+=), dprobs [N, V], probs [N, V]
public func softmaxBackward(
    _ dlogits: UnsafeMutablePointer<Float>, _ dprobs: UnsafePointer<Float>,
    _ probs: UnsafePointer<Float>, _ N: Int, _ V: Int
) {
    parallelFor(N, grain: 16) { start, end in
        for n in start..<end {
            let p = probs + n * V, dp = dprobs + n * V, dz = dlogits + n * V
            var dot: Float = 0
            for j in 0..<V { dot += p[j] * dp[j] }
            for j in 0..<V { dz[j] += p[j] * (dp[j] - dot) }
        }
    }
}
