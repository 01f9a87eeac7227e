// Finite-difference checking shared by the kernel tests.
//
// A kernel's output y is reduced to the scalar L = sum(R * y) with a fixed random R; the
// analytic gradient comes from the kernel's backward pass fed dy = R, the numeric one from
// central differences (L(x + h) - L(x - h)) / 2h, with L summed in Double. Float32 rounding in
// the forward pass limits agreement to about 1e-3 relative, which the tolerances reflect.

import Testing
import PonderCore

func randomArray(_ n: Int, _ rng: inout RNG, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in Float(rng.nextGaussian()) * scale }
}

func dot(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for i in a.indices { s += Double(a[i]) * Double(b[i]) }
    return s
}

/// Compares `analytic` with central differences of `loss` around `x`, at up to `samples`
/// indices, and records an issue for every index outside atol + rtol * magnitude.
func expectGradient(
    _ name: String, x: [Float], analytic: [Float], samples: Int = 48, h: Float = 1e-2,
    atol: Double = 2e-3, rtol: Double = 2e-2, rng: inout RNG, loss: ([Float]) -> Double,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(x.count == analytic.count, "\(name): gradient size", sourceLocation: sourceLocation)
    let indices = x.count <= samples ? Array(x.indices) : (0..<samples).map { _ in rng.nextInt(below: x.count) }
    var worst = 0.0
    for i in indices {
        var xp = x, xm = x
        xp[i] += h
        xm[i] -= h
        let numeric = (loss(xp) - loss(xm)) / Double(2 * h)
        let a = Double(analytic[i])
        let err = abs(numeric - a)
        worst = max(worst, err / (atol + rtol * max(abs(numeric), abs(a))))
        #expect(err <= atol + rtol * max(abs(numeric), abs(a)),
                "\(name)[\(i)]: analytic \(a) vs numeric \(numeric)", sourceLocation: sourceLocation)
    }
    #expect(worst <= 1, "\(name): worst error ratio \(worst)", sourceLocation: sourceLocation)
}
