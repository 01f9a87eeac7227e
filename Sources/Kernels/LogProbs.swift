// Per-token log-probabilities and entropies from logits, fused with their backward pass;
// cross-entropy is the special case loss = -weight * logp.
//
// Every language-model loss in Ponder is a function of two per-token quantities of the
// next-token distribution p = softmax(z):
//   logp[n]    = z[n, target[n]] - logsumexp(z[n, :])
//   entropy[n] = -sum_j p_j log p_j = logsumexp(z) - sum_j p_j z_j
// Pretraining and SFT feed back dlogp = -weight / sum(weights); GRPO, PPO and DPO feed back
// their own per-token coefficients. The backward pass turns (dlogp, dentropy) into dlogits:
//   dz_j = dlogp (1[j = target] - p_j) - dentropy p_j (log p_j + entropy)
// A row whose target is negative is ignored: logp = 0 and no gradient.

/// logp [N], entropy [N] or nil, lse [N] (saved for backward), logits [N, V], targets [N]
public func logProbsForward(
    _ logp: UnsafeMutablePointer<Float>, _ entropy: UnsafeMutablePointer<Float>?,
    _ lse: UnsafeMutablePointer<Float>,
    _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, _ N: Int, _ V: Int
) {
    parallelFor(N, grain: 8) { start, end in
        for n in start..<end {
            let z = logits + n * V
            let mx = rowMax(z, V)
            let (sum, weighted) = expStats(z, V, shift: mx)
            let l = mx + log(sum)
            lse[n] = l
            let t = Int(targets[n])
            logp[n] = t >= 0 ? z[t] - l : 0
            entropy?[n] = l - weighted / sum
        }
    }
}

/// Writes dlogits (it does not accumulate, unlike the other backward kernels) so that it may
/// alias `logits`, which the model uses to reuse the logits buffer.
///   dlogits [N, V], logits [N, V], lse [N], targets [N], dlogp [N], dentropy [N] or nil,
///   entropy [N] (needed when dentropy is given)
public func logProbsBackward(
    _ dlogits: UnsafeMutablePointer<Float>,
    _ logits: UnsafePointer<Float>, _ lse: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
    _ dlogp: UnsafePointer<Float>, _ dentropy: UnsafePointer<Float>?, _ entropy: UnsafePointer<Float>?,
    _ N: Int, _ V: Int
) {
    parallelFor(N, grain: 8) { start, end in
        for n in start..<end {
            let z = logits + n * V, dz = dlogits + n * V
            let l = lse[n]
            let t = Int(targets[n])
            let gl: Float = t >= 0 ? dlogp[n] : 0
            let ge: Float = dentropy?[n] ?? 0
            if ge == 0 {
                _ = expShifted(dz, z, V, shift: l)
                rowScale(dz, V, -gl)
            } else {
                let h = entropy![n]
                for j in 0..<V {
                    let logpj = z[j] - l
                    let pj = fastExp(logpj)
                    dz[j] = -gl * pj - ge * pj * (logpj + h)
                }
            }
            if t >= 0 { dz[t] += gl }
        }
    }
}

/// Weighted cross-entropy: losses[n] = -weights[n] * logp[n]; rows with target < 0 or
/// weight 0 contribute nothing. Returns sum(losses) / sum(weights) (0 when no weight).
///   losses [N], lse [N] (saved), logits [N, V], targets [N], weights [N]
@discardableResult
public func crossEntropyForward(
    _ losses: UnsafeMutablePointer<Float>, _ lse: UnsafeMutablePointer<Float>,
    _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, _ weights: UnsafePointer<Float>,
    _ N: Int, _ V: Int
) -> Float {
    logProbsForward(losses, nil, lse, logits, targets, N, V)
    var total: Float = 0, wsum: Float = 0
    for n in 0..<N {
        let w = targets[n] >= 0 ? weights[n] : 0
        losses[n] = -w * losses[n]
        total += losses[n]
        wsum += w
    }
    return wsum > 0 ? total / wsum : 0
}

/// Gradient of the mean loss returned by `crossEntropyForward`, scaled by `dloss`.
/// Writes dlogits (may alias logits). dlogp [N] is scratch.
public func crossEntropyBackward(
    _ dlogits: UnsafeMutablePointer<Float>, _ dlogp: UnsafeMutablePointer<Float>,
    _ logits: UnsafePointer<Float>, _ lse: UnsafePointer<Float>,
    _ targets: UnsafePointer<Int32>, _ weights: UnsafePointer<Float>,
    _ N: Int, _ V: Int, dloss: Float = 1
) {
    var wsum: Float = 0
    for n in 0..<N where targets[n] >= 0 { wsum += weights[n] }
    let k = wsum > 0 ? dloss / wsum : 0
    for n in 0..<N { dlogp[n] = targets[n] >= 0 ? -weights[n] * k : 0 }
    logProbsBackward(dlogits, logits, lse, targets, dlogp, nil, nil, N, V)
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
