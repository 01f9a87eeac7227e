// Rotary position embedding (Su et al., 2021) in the Hugging Face Llama layout: the head
// vector is split in halves (x1, x2) and rotated pairwise, (x1, x2) -> (x1 cos - x2 sin,
// x2 cos + x1 sin), with angle pos * theta^(-2i/D) for pair i. Checkpoints from HF use this
// "rotate half" pairing, so Ponder does too.

/// Tables of cos and sin for every position and pair: cos, sin [S, D/2].
public func ropeTables(
    _ cos: UnsafeMutablePointer<Float>, _ sin: UnsafeMutablePointer<Float>,
    _ S: Int, _ D: Int, theta: Float
) {
    ropeTables(cos, sin, S, inverseFrequencies: (0..<D / 2).map { 1 / pow(Double(theta), Double(2 * $0) / Double(D)) })
}

/// As above, with pair i turning by `inverseFrequencies[i]` radians per position (a scaled RoPE
/// changes these, not the rotation).
public func ropeTables(
    _ cos: UnsafeMutablePointer<Float>, _ sin: UnsafeMutablePointer<Float>,
    _ S: Int, inverseFrequencies: [Double]
) {
    let half = inverseFrequencies.count
    for (i, freq) in inverseFrequencies.enumerated() {
        for p in 0..<S {
            let angle = Double(p) * freq
            cos[p * half + i] = Float(libmCos(angle))
            sin[p * half + i] = Float(libmSin(angle))
        }
    }
}

/// Rotates, in place, `heads` consecutive head vectors of width D in each of N rows.
///   x [N, stride] with the heads at x[n*stride + h*D ...]; positions [N]; cos, sin [S, D/2]
public func ropeForward(
    _ x: UnsafeMutablePointer<Float>, stride: Int, heads: Int,
    _ positions: UnsafePointer<Int32>, _ cos: UnsafePointer<Float>, _ sin: UnsafePointer<Float>,
    _ N: Int, _ D: Int
) {
    rotate(x, stride: stride, heads: heads, positions, cos, sin, N, D, direction: 1)
}

/// The rotation is orthogonal, so the backward pass rotates the gradient by -angle, in place.
///   dx [N, stride], same layout as `ropeForward`
public func ropeBackward(
    _ dx: UnsafeMutablePointer<Float>, stride: Int, heads: Int,
    _ positions: UnsafePointer<Int32>, _ cos: UnsafePointer<Float>, _ sin: UnsafePointer<Float>,
    _ N: Int, _ D: Int
) {
    rotate(dx, stride: stride, heads: heads, positions, cos, sin, N, D, direction: -1)
}

@inline(__always)
private func rotate(
    _ x: UnsafeMutablePointer<Float>, stride: Int, heads: Int,
    _ positions: UnsafePointer<Int32>, _ cos: UnsafePointer<Float>, _ sin: UnsafePointer<Float>,
    _ N: Int, _ D: Int, direction: Float
) {
    let half = D / 2
    parallelFor(N, grain: 256) { start, end in
        for n in start..<end {
            let c = cos + Int(positions[n]) * half
            let s = sin + Int(positions[n]) * half
            for h in 0..<heads {
                let v = x + n * stride + h * D
                for i in 0..<half {
                    let x1 = v[i], x2 = v[i + half]
                    let si = direction * s[i]
                    v[i] = x1 * c[i] - x2 * si
                    v[i + half] = x2 * c[i] + x1 * si
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func libmCos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) private func libmSin(_ x: Double) -> Double { Glibc.sin(x) }
#else
import Darwin
@inline(__always) private func libmCos(_ x: Double) -> Double { Darwin.cos(x) }
@inline(__always) private func libmSin(_ x: Double) -> Double { Darwin.sin(x) }
#endif
