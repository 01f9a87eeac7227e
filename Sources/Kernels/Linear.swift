// Linear layer y = x W^T + b, with W stored [out, in] as PyTorch and Hugging Face store it.

/// Below this many rows a linear layer is one matrix-vector product per row: OpenBLAS 0.3.21
/// packs the whole weight matrix for an sgemm even of one row, so one row (batch-1 decoding)
/// ran at half the memory bandwidth; on SmolLM2-135M's layers sgemv per row is faster up to
/// about 8 rows (measured on 2 cores), where the two meet.
let gemvRows = 8

/// out [N, OC], inp [N, IC], weight [OC, IC], bias [OC] or nil.
/// `outStride` > OC writes the OC columns into rows of a wider output [N, outStride]: a block of
/// output features computed on its own (an LM head applied a block of vocabulary at a time).
public func linearForward(
    _ out: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ N: Int, _ IC: Int, _ OC: Int, outStride: Int? = nil
) {
    let ldo = outStride ?? OC
    if N < gemvRows {
        for n in 0..<N { sgemv(m: OC, n: IC, a: weight, lda: IC, x: inp + n * IC, y: out + n * ldo) }
    } else {
        sgemm(transA: false, transB: true, m: N, n: OC, k: IC,
              a: inp, lda: IC, b: weight, ldb: IC, beta: 0, c: out, ldc: ldo)
    }
    if let bias {
        for n in 0..<N {
            let y = out + n * ldo
            for o in 0..<OC { y[o] += bias[o] }
        }
    }
}

/// dinp += dout W;  dweight += dout^T inp;  dbias += sum_n dout.
///   dinp [N, IC] or nil, dweight [OC, IC], dbias [OC] or nil, dout [N, OC], inp [N, IC], weight [OC, IC]
public func linearBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>,
    _ dbias: UnsafeMutablePointer<Float>?,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    _ N: Int, _ IC: Int, _ OC: Int
) {
    if let dinp {
        sgemm(transA: false, transB: false, m: N, n: IC, k: OC,
              a: dout, lda: OC, b: weight, ldb: IC, beta: 1, c: dinp, ldc: IC)
    }
    sgemm(transA: true, transB: false, m: OC, n: IC, k: N,
          a: dout, lda: OC, b: inp, ldb: IC, beta: 1, c: dweight, ldc: IC)
    if let dbias {
        for n in 0..<N {
            let d = dout + n * OC
            for o in 0..<OC { dbias[o] += d[o] }
        }
    }
}
