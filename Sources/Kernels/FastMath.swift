// FastMath: exp and friends in a form the optimiser vectorises.
//
// Softmax and cross-entropy evaluate hundreds of millions of exponentials per training step;
// a libm call per element would cost more than the matrix products. `fastExp` is the classic
// Cody-Waite range reduction (x = n ln2 + r, |r| <= ln2/2) followed by a degree-6 minimax
// polynomial for e^r (the Cephes `expf` coefficients) and a bit-level scale by 2^n. Relative
// error is below 2e-7 over the clamped range [-87.3, 88.7]; inputs below it return ~0.

@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let xc = min(max(x, -87.3), 88.7)
    // Round x / ln2 to nearest with the 1.5 * 2^23 trick (exact for |x / ln2| < 2^22).
    let magic: Float = 12_582_912.0
    let n = (xc * 1.442_695_04 + magic) - magic
    let r = xc - n * 0.693_359_375 + n * 2.121_944_40e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    p = p * r * r + r + 1
    let scale = Float(bitPattern: UInt32(bitPattern: Int32(n) &+ 127) << 23)
    return p * scale
}

/// Logistic sigmoid 1 / (1 + e^-x) on `fastExp`.
@inline(__always)
public func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
