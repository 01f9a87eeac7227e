// Causal multi-head attention with grouped-query heads, over a fused q|k|v buffer.
//
// The q, k and v projections of a layer are stored next to each other, so one sgemm yields
// qkv [N, (H + 2K) * D] with, in each row, H query heads, then K key heads, then K value heads.
// Attention for one (batch row, head) is then two strided sgemms: S = scale * Q K^T and
// Y = softmax_causal(S) V, with leading dimension (H + 2K) * D. Query head h reads key/value
// head h / (H / K) (grouped-query attention, Ainslie et al., 2023).
//
// The probabilities are kept, [B, H, T, T], for the backward pass. Products skip the blocks
// above the diagonal (see `causalBlock`); the FLOP count of `ponder bench` still counts the
// full square, the PaLM convention, so skipping shows up as a higher achieved rate.

public struct AttentionShape: Sendable {
    public let B: Int, T: Int, H: Int, K: Int, D: Int
    /// Query rows per causal block (see `forEachRowBlock`).
    public let block: Int
    public init(B: Int, T: Int, H: Int, K: Int, D: Int, block: Int = 64) {
        precondition(H % K == 0, "query heads must be a multiple of key/value heads")
        self.B = B; self.T = T; self.H = H; self.K = K; self.D = D; self.block = max(1, block)
    }
    /// Width of one qkv row.
    public var qkvWidth: Int { (H + 2 * K) * D }
    public var scale: Float { 1 / Float(D).squareRoot() }
    @inline(__always) func qOffset(_ b: Int, _ h: Int) -> Int { b * T * qkvWidth + h * D }
    @inline(__always) func kOffset(_ b: Int, _ h: Int) -> Int { b * T * qkvWidth + (H + h / (H / K)) * D }
    @inline(__always) func vOffset(_ b: Int, _ h: Int) -> Int { b * T * qkvWidth + (H + K + h / (H / K)) * D }
}

/// Causal blocking: query rows are taken in blocks of `shape.block`; rows r0..<r1 only need keys
/// 0..<r1, so every product skips the blocks above the diagonal (3/8 of the work at T = 256 with
/// blocks of 64). Entries of `probs` right of the diagonal are 0 after the forward pass.
@inline(__always)
func forEachRowBlock(_ s: AttentionShape, _ body: (_ r0: Int, _ r1: Int) -> Void) {
    var r0 = 0
    while r0 < s.T {
        let r1 = min(s.T, r0 + s.block)
        body(r0, r1)
        r0 = r1
    }
}

/// y [B*T, H*D], probs [B, H, T, T] (saved), qkv [B*T, (H+2K)*D]
public func attentionForward(
    _ y: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
    _ qkv: UnsafePointer<Float>, _ s: AttentionShape
) {
    let (B, T, H, D, W) = (s.B, s.T, s.H, s.D, s.qkvWidth)
    for b in 0..<B {
        for h in 0..<H {
            let p = probs + (b * H + h) * T * T
            forEachRowBlock(s) { r0, r1 in
                sgemm(transA: false, transB: true, m: r1 - r0, n: r1, k: D, alpha: s.scale,
                      a: qkv + s.qOffset(b, h) + r0 * W, lda: W, b: qkv + s.kOffset(b, h), ldb: W,
                      beta: 0, c: p + r0 * T, ldc: T)
            }
        }
    }
    causalSoftmaxRows(probs, rows: B * H * T, T: T)
    for b in 0..<B {
        for h in 0..<H {
            let p = probs + (b * H + h) * T * T
            forEachRowBlock(s) { r0, r1 in
                sgemm(transA: false, transB: false, m: r1 - r0, n: D, k: r1,
                      a: p + r0 * T, lda: T, b: qkv + s.vOffset(b, h), ldb: W,
                      beta: 0, c: y + (b * T + r0) * H * D + h * D, ldc: H * D)
            }
        }
    }
}

/// dqkv [B*T, (H+2K)*D] (+=), scratch [B, H, T, T] (overwritten), dy [B*T, H*D],
/// probs [B, H, T, T], qkv [B*T, (H+2K)*D]
public func attentionBackward(
    _ dqkv: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
    _ dy: UnsafePointer<Float>, _ probs: UnsafePointer<Float>, _ qkv: UnsafePointer<Float>,
    _ s: AttentionShape
) {
    let (B, T, H, D, W) = (s.B, s.T, s.H, s.D, s.qkvWidth)
    // dP = dY V^T, and dV += P^T dY
    for b in 0..<B {
        for h in 0..<H {
            let p = probs + (b * H + h) * T * T, dp = scratch + (b * H + h) * T * T
            let dyh = dy + b * T * H * D + h * D
            forEachRowBlock(s) { r0, r1 in
                sgemm(transA: false, transB: true, m: r1 - r0, n: r1, k: D,
                      a: dyh + r0 * H * D, lda: H * D, b: qkv + s.vOffset(b, h), ldb: W,
                      beta: 0, c: dp + r0 * T, ldc: T)
                sgemm(transA: true, transB: false, m: r1, n: D, k: r1 - r0,
                      a: p + r0 * T, lda: T, b: dyh + r0 * H * D, ldb: H * D,
                      beta: 1, c: dqkv + s.vOffset(b, h), ldc: W)
            }
        }
    }
    // dS = P * (dP - rowsum(P * dP)), in place in the scratch (only j <= t is read)
    parallelFor(B * H * T, grain: 512) { start, end in
        for row in start..<end {
            let t = row % T
            let p = probs + row * T, d = scratch + row * T
            let dot = rowDot(p, d, t + 1)
            for j in 0...t { d[j] = p[j] * (d[j] - dot) }
            for j in (t + 1)..<T { d[j] = 0 }
        }
    }
    // dQ += scale dS K, dK += scale dS^T Q
    for b in 0..<B {
        for h in 0..<H {
            let ds = scratch + (b * H + h) * T * T
            forEachRowBlock(s) { r0, r1 in
                sgemm(transA: false, transB: false, m: r1 - r0, n: D, k: r1, alpha: s.scale,
                      a: ds + r0 * T, lda: T, b: qkv + s.kOffset(b, h), ldb: W,
                      beta: 1, c: dqkv + s.qOffset(b, h) + r0 * W, ldc: W)
                sgemm(transA: true, transB: false, m: r1, n: D, k: r1 - r0, alpha: s.scale,
                      a: ds + r0 * T, lda: T, b: qkv + s.qOffset(b, h) + r0 * W, ldb: W,
                      beta: 1, c: dqkv + s.kOffset(b, h), ldc: W)
            }
        }
    }
}

/// Row-wise softmax over positions 0...t of row t (t = row mod T); the rest is set to 0.
///   scores [rows, T], in place
public func causalSoftmaxRows(_ scores: UnsafeMutablePointer<Float>, rows: Int, T: Int) {
    parallelFor(rows, grain: 512) { start, end in
        for row in start..<end {
            let t = row % T
            let x = scores + row * T
            let mx = rowMax(x, t + 1)
            let sum = expShifted(x, x, t + 1, shift: mx)
            rowScale(x, t + 1, 1 / sum)
            for j in (t + 1)..<T { x[j] = 0 }
        }
    }
}

/// One decoding step against a KV cache: each of the R rows attends over the first
/// `lengths[r]` positions of its cache slot (the current token's k and v already written).
/// Keys are stored transposed, so a query's scores are D passes of contiguous multiply-adds
/// over positions (no horizontal sums); values are stored by position.
///   y [R, H*D], q [R, stride] (H heads of width D at the start of each row),
///   kCacheT [slots, K, D, S], vCache [slots, K, S, D], slots [R], lengths [R], scratch [R, H, S]
public func attentionDecode(
    _ y: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, qStride: Int,
    _ kCache: UnsafePointer<Float>, _ vCache: UnsafePointer<Float>,
    _ slots: UnsafePointer<Int32>, _ lengths: UnsafePointer<Int32>,
    _ scratch: UnsafeMutablePointer<Float>,
    R: Int, H: Int, K: Int, D: Int, S: Int
) {
    let group = H / K
    let scale = 1 / Float(D).squareRoot()
    parallelFor(R * H, grain: 8) { start, end in
        for item in start..<end {
            let r = item / H, h = item % H
            let len = Int(lengths[r])
            let base = (Int(slots[r]) * K + h / group) * S * D
            let qh = q + r * qStride + h * D
            let sc = scratch + item * S
            for j in 0..<len { sc[j] = 0 }
            for d in 0..<D {
                let qd = qh[d] * scale, kd = kCache + base + d * S
                for j in 0..<len { sc[j] += qd * kd[j] }
            }
            let mx = rowMax(sc, len)
            let inv = 1 / expShifted(sc, sc, len, shift: mx)
            let yh = y + r * H * D + h * D
            for d in 0..<D { yh[d] = 0 }
            for j in 0..<len {
                let w = sc[j] * inv
                let vj = vCache + base + j * D
                for d in 0..<D { yh[d] += w * vj[d] }
            }
        }
    }
}
