// SwiGLU (Shazeer, 2020): out = silu(gate) * up, silu(g) = g * sigmoid(g).
// gate and up come from one sgemm over the adjacent gate_proj and up_proj weights, so each
// row of `gateUp` holds F gate values then F up values.

/// out [N, F], gateUp [N, 2F]
public func swigluForward(
    _ out: UnsafeMutablePointer<Float>, _ gateUp: UnsafePointer<Float>, _ N: Int, _ F: Int
) {
    parallelFor(N, grain: 64) { start, end in
        for n in start..<end {
            let g = gateUp + n * 2 * F, u = g + F, o = out + n * F
            for f in 0..<F { o[f] = g[f] * fastSigmoid(g[f]) * u[f] }
        }
    }
}

/// dgate += dout * up * sig * (1 + g (1 - sig));  dup += dout * silu(g).
///   dgateUp [N, 2F] (+=), dout [N, F], gateUp [N, 2F]
public func swigluBackward(
    _ dgateUp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
    _ gateUp: UnsafePointer<Float>, _ N: Int, _ F: Int
) {
    parallelFor(N, grain: 64) { start, end in
        for n in start..<end {
            let g = gateUp + n * 2 * F, u = g + F
            let dg = dgateUp + n * 2 * F, du = dg + F
            let d = dout + n * F
            for f in 0..<F {
                let sig = fastSigmoid(g[f])
                dg[f] += d[f] * u[f] * sig * (1 + g[f] * (1 - sig))
                du[f] += d[f] * g[f] * sig
            }
        }
    }
}
