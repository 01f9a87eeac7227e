// RMSNorm (Zhang & Sennrich, 2019), as in Llama: y = x / sqrt(mean(x^2) + eps) * w.

/// out [N, C], rstd [N] (saved for backward), inp [N, C], weight [C]
public func rmsNormForward(
    _ out: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    _ N: Int, _ C: Int, eps: Float
) {
    parallelFor(N, grain: 256) { start, end in
        for n in start..<end {
            let x = inp + n * C
            let ss = rowDot(x, x, C)
            let r = 1 / (ss / Float(C) + eps).squareRoot()
            rstd[n] = r
            let y = out + n * C
            for c in 0..<C { y[c] = x[c] * r * weight[c] }
        }
    }
}

/// With xhat = x * r:  dw += sum_n dy * xhat;  dx += r * (dy*w - xhat * mean(dy*w*xhat)).
///   dinp [N, C] (+=), dweight [C] (+=), dout [N, C], inp [N, C], weight [C], rstd [N]
public func rmsNormBackward(
    _ dinp: UnsafeMutablePointer<Float>, _ dweight: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>,
    _ weight: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
    _ N: Int, _ C: Int
) {
    // dx rows are independent; dweight is a sum over rows, reduced per chunk then added.
    let chunks = min(kernelThreads, max(1, N / 256))
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks * C)
    partial.initialize(repeating: 0, count: chunks * C)
    defer { partial.deallocate() }
    parallelFor(chunks, grain: 1) { cs, ce in
        for chunk in cs..<ce {
            let dw = partial + chunk * C
            for n in (N * chunk / chunks)..<(N * (chunk + 1) / chunks) {
                let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
                let r = rstd[n]
                let k = rowDot3(dy, weight, x, C) * r * r / Float(C)
                for c in 0..<C {
                    dw[c] += dy[c] * x[c] * r
                    dx[c] += r * (dy[c] * weight[c] - x[c] * k)
                }
            }
        }
    }
    for chunk in 0..<chunks {
        let dw = partial + chunk * C
        for c in 0..<C { dweight[c] += dw[c] }
    }
}
