// Kernels: the numerical core of Ponder's transformer.
//
// Each layer is a pair of free functions, `xForward` and `xBackward`, over contiguous Float
// buffers (the llm.c way): outputs first, then inputs, then sizes, with the shape of every buffer
// in a comment. There is no autograd and no tensor type; the model in `Model` calls these in one
// straight run forward and the same run reversed backward.
//
// Conventions
//   - Backward functions ACCUMULATE (+=) into every gradient they produce, input gradients
//     included, so a residual stream or a tied weight can collect from several places; the
//     caller zeroes gradient buffers once per step.
//   - All matrix products go through OpenBLAS `cblas_sgemm` (row-major), or `cblas_sgemv` for
//     a linear layer over fewer than 8 rows (decoding; see linearForward). Everything else is a
//     plain loop that the optimiser can vectorise; the heaviest loops are split over the cores
//     with `parallelFor`, never sgemm itself (OpenBLAS threads its own calls).
//   - Float32 throughout; reductions over long rows accumulate in Float with pairwise-friendly
//     loops, and finite-difference tests run the same kernels in Double-free form against Double
//     references (see Tests/KernelsTests).
//
// Letters used in shape comments:
//   B batch rows, T time (sequence positions), N = B*T token rows, C model width (d_model),
//   V vocabulary, H query heads, K key/value heads (grouped-query: H is a multiple of K),
//   D head width (C / H), F SwiGLU hidden width, S KV-cache capacity in positions.

import COpenBLAS
import Dispatch

/// The one place that sets how many threads OpenBLAS uses (STYLE.md rule 12).
public enum BLAS {
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    public static var configuration: String { String(cString: openblas_get_config()) }
}

/// Threads for the elementwise loops: the environment variable PONDER_THREADS, else the cores
/// online (at most 8). OpenBLAS reads OPENBLAS_NUM_THREADS the same way for the matrix products.
public let kernelThreads: Int = {
    if let value = getenv("PONDER_THREADS").flatMap({ Int(String(cString: $0)) }), value >= 1 { return min(value, 64) }
    return max(1, min(8, System.activeProcessorCount))
}()

enum System {
    static var activeProcessorCount: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(start, end)` over `0..<count` in about `kernelThreads` contiguous chunks.
/// Work smaller than `grain` items runs inline on the caller's thread.
@inline(__always)
public func parallelFor(_ count: Int, grain: Int = 64, _ body: (Int, Int) -> Void) {
    let chunks = min(kernelThreads, max(1, count / max(1, grain)))
    if chunks <= 1 {
        body(0, count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let start = count * c / chunks
        let end = count * (c + 1) / chunks
        body(start, end)
    }
}

/// C[M,N] = alpha * op(A) op(B) + beta * C, row-major, with explicit leading dimensions.
@inline(__always)
public func sgemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// y[M] = A[M,N] x[N] (row-major A), OpenBLAS's matrix-vector product.
@inline(__always)
public func sgemv(m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(n), 1, a, Int32(lda), x, 1, 0, y, 1)
}
