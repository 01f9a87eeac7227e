// Softmax over the last axis, and its backward pass.

/// probs [N, V], logits [N, V]; probs may alias logits.
public func softmaxForward(
    _ probs: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>, _ N: Int, _ V: Int
) {
    parallelFor(N, grain: 16) { start, end in
        for n in start..<end {
            let z = logits + n * V, p = probs + n * V
            let sum = expShifted(p, z, V, shift: rowMax(z, V))
            rowScale(p, V, 1 / sum)
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
            let dot = rowDot(p, dp, V)
            for j in 0..<V { dz[j] += p[j] * (dp[j] - dot) }
        }
    }
}
