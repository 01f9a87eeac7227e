// Activations: every buffer the forward pass saves for the backward pass, and the backward
// pass's scratch, sized for a [B, T] batch and allocated once (they grow, never shrink, so a
// training loop with a fixed batch shape allocates nothing after its first step).
// A frozen model's forward saves nothing for a backward: every layer reuses one layer's buffers,
// the residual alternates between two slots, and there is no backward scratch (`forwardOnly`).

final class Activations {
    let B: Int, T: Int
    var N: Int { B * T }
    let L: Int
    let forwardOnly: Bool

    // Saved by forward. Per-layer buffers are stacked: layer l starts at l * (size per layer).
    let tokens: UnsafeMutablePointer<Int32>     // [N]
    let positions: UnsafeMutablePointer<Int32>  // [N]
    let residual: FloatBuffer   // [L+1, N, C]  input of each layer, then the last layer's output (forwardOnly: [2, N, C])
    let mid: FloatBuffer        // [L, N, C]    residual after attention
    let ln1: FloatBuffer        // [L, N, C]
    let rstd1: FloatBuffer      // [L, N]
    let qkv: FloatBuffer        // [L, N, (H+2K)D]  q and k rotated
    let probs: FloatBuffer      // [L, B, H, T, T]
    let atty: FloatBuffer       // [L, N, H*D]
    let ln2: FloatBuffer        // [L, N, C]
    let rstd2: FloatBuffer      // [L, N]
    let gateUp: FloatBuffer     // [L, N, 2F]
    let swi: FloatBuffer        // [L, N, F]
    let lnf: FloatBuffer        // [N, C]       final hidden state (after the final norm)
    let rstdf: FloatBuffer      // [N]
    let logits: FloatBuffer     // [N, V]       reused for dlogits in backward
    let lse: FloatBuffer        // [N]
    let logp: FloatBuffer       // [N]
    let entropy: FloatBuffer    // [N]
    let targets: UnsafeMutablePointer<Int32>    // [N]

    // Backward scratch, shared by all layers (empty when forwardOnly).
    let dres: FloatBuffer       // [N, C]
    let dln: FloatBuffer        // [N, C]
    let dqkv: FloatBuffer       // [N, (H+2K)D]
    let datty: FloatBuffer      // [N, H*D]
    let dprobs: FloatBuffer     // [B, H, T, T]
    let dgateUp: FloatBuffer    // [N, 2F]
    let dswi: FloatBuffer       // [N, F]
    let dlogp: FloatBuffer      // [N]

    /// Per-layer sizes of the stacked buffers: [N, C], [N, (H+2K)D], [B, H, T, T], [N, HD], [N, F].
    let sizeNC: Int, sizeQKV: Int, sizeAtt: Int, sizeHD: Int, sizeF: Int

    init(_ c: ModelConfig, B: Int, T: Int, forwardOnly: Bool = false) {
        self.B = B
        self.T = T
        self.L = c.nLayers
        self.forwardOnly = forwardOnly
        let N = B * T, C = c.dModel
        // Layers whose buffers are kept, and copies of the backward scratch.
        let (L, backward) = forwardOnly ? (1, 0) : (c.nLayers, 1)
        let W = (c.nHeads + 2 * c.nKVHeads) * c.headDim, HD = c.nHeads * c.headDim, F = c.ffnHidden
        let att = B * c.nHeads * T * T
        sizeNC = N * C; sizeQKV = N * W; sizeAtt = att; sizeHD = N * HD; sizeF = N * F
        tokens = .allocate(capacity: N); tokens.initialize(repeating: 0, count: N)
        positions = .allocate(capacity: N)
        for n in 0..<N { positions[n] = Int32(n % T) }
        targets = .allocate(capacity: N); targets.initialize(repeating: -1, count: N)
        residual = FloatBuffer(count: (forwardOnly ? 2 : L + 1) * N * C)
        mid = FloatBuffer(count: L * N * C)
        ln1 = FloatBuffer(count: L * N * C)
        rstd1 = FloatBuffer(count: L * N)
        qkv = FloatBuffer(count: L * N * W)
        probs = FloatBuffer(count: L * att)
        atty = FloatBuffer(count: L * N * HD)
        ln2 = FloatBuffer(count: L * N * C)
        rstd2 = FloatBuffer(count: L * N)
        gateUp = FloatBuffer(count: L * N * 2 * F)
        swi = FloatBuffer(count: L * N * F)
        lnf = FloatBuffer(count: N * C)
        rstdf = FloatBuffer(count: N)
        logits = FloatBuffer(count: N * c.vocabSize)
        lse = FloatBuffer(count: N)
        logp = FloatBuffer(count: N)
        entropy = FloatBuffer(count: N)
        dres = FloatBuffer(count: backward * N * C)
        dln = FloatBuffer(count: backward * N * C)
        dqkv = FloatBuffer(count: backward * N * W)
        datty = FloatBuffer(count: backward * N * HD)
        dprobs = FloatBuffer(count: backward * att)
        dgateUp = FloatBuffer(count: backward * N * 2 * F)
        dswi = FloatBuffer(count: backward * N * F)
        dlogp = FloatBuffer(count: backward * N)
    }

    /// Layer l's slices of the stacked buffers, as forward writes and backward reads them.
    struct Layer {
        let x, ln1, rstd1, qkv, probs, atty, mid, ln2, rstd2, gateUp, swi, out: UnsafeMutablePointer<Float>
        var pointers: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                       UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                       UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                       UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
            (x, ln1, rstd1, qkv, probs, atty, mid, ln2, rstd2, gateUp, swi, out)
        }
    }

    func layer(_ l: Int) -> Layer {
        let (s, x, out) = forwardOnly ? (0, l % 2, (l + 1) % 2) : (l, l, l + 1)  // saved slot, residual slots
        return Layer(x: residual.pointer + x * sizeNC, ln1: ln1.pointer + s * sizeNC, rstd1: rstd1.pointer + s * N,
                     qkv: qkv.pointer + s * sizeQKV, probs: probs.pointer + s * sizeAtt, atty: atty.pointer + s * sizeHD,
                     mid: mid.pointer + s * sizeNC, ln2: ln2.pointer + s * sizeNC, rstd2: rstd2.pointer + s * N,
                     gateUp: gateUp.pointer + s * 2 * sizeF, swi: swi.pointer + s * sizeF, out: residual.pointer + out * sizeNC)
    }

    /// The last layer's output [N, C].
    var output: UnsafeMutablePointer<Float> { layer(L - 1).out }

    deinit {
        tokens.deallocate()
        positions.deallocate()
        targets.deallocate()
    }

    /// Bytes held, for the memory report of `ponder bench`.
    var bytes: Int {
        let buffers = [residual, mid, ln1, rstd1, qkv, probs, atty, ln2, rstd2, gateUp, swi, lnf, rstdf,
                       logits, lse, logp, entropy, dres, dln, dqkv, datty, dprobs, dgateUp, dswi, dlogp]
        return buffers.reduce(0) { $0 + $1.count * 4 } + 12 * N
    }
}
