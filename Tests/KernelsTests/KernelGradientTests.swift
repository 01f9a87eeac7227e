// Finite-difference checks of every kernel's backward pass.

import Testing
import PonderCore
@testable import Kernels

@Suite struct KernelGradientTests {
    @Test func embedding() {
        var rng = RNG(seed: 1)
        let (V, C, N) = (7, 5, 9)
        let table = randomArray(V * C, &rng)
        let tokens: [Int32] = (0..<N).map { _ in Int32(rng.nextInt(below: V)) }
        let R = randomArray(N * C, &rng)
        func loss(_ t: [Float]) -> Double {
            var out = [Float](repeating: 0, count: N * C)
            embeddingForward(&out, tokens, t, N, C)
            return dot(out, R)
        }
        var dtable = [Float](repeating: 0, count: V * C)
        embeddingBackward(&dtable, R, tokens, N, C)
        expectGradient("dtable", x: table, analytic: dtable, rng: &rng, loss: loss)
    }

    @Test func rmsNorm() {
        var rng = RNG(seed: 2)
        let (N, C) = (6, 16)
        let x = randomArray(N * C, &rng), w = randomArray(C, &rng), R = randomArray(N * C, &rng)
        func run(_ x: [Float], _ w: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: 0, count: N * C), rstd = [Float](repeating: 0, count: N)
            rmsNormForward(&out, &rstd, x, w, N, C, eps: 1e-5)
            return (out, rstd)
        }
        let (_, rstd) = run(x, w)
        var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C)
        rmsNormBackward(&dx, &dw, R, x, w, rstd, N, C)
        expectGradient("dx", x: x, analytic: dx, rng: &rng) { dot(run($0, w).0, R) }
        expectGradient("dw", x: w, analytic: dw, rng: &rng) { dot(run(x, $0).0, R) }
    }

    @Test func linearWithBias() {
        var rng = RNG(seed: 3)
        let (N, IC, OC) = (5, 8, 6)
        let x = randomArray(N * IC, &rng), w = randomArray(OC * IC, &rng), b = randomArray(OC, &rng)
        let R = randomArray(N * OC, &rng)
        func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: N * OC)
            linearForward(&out, x, w, b, N, IC, OC)
            return out
        }
        var dx = [Float](repeating: 0, count: N * IC), dw = [Float](repeating: 0, count: OC * IC)
        var db = [Float](repeating: 0, count: OC)
        linearBackward(&dx, &dw, &db, R, x, w, N, IC, OC)
        expectGradient("dx", x: x, analytic: dx, rng: &rng) { dot(run($0, w, b), R) }
        expectGradient("dw", x: w, analytic: dw, rng: &rng) { dot(run(x, $0, b), R) }
        expectGradient("db", x: b, analytic: db, rng: &rng) { dot(run(x, w, $0), R) }
    }

    @Test func rope() {
        var rng = RNG(seed: 4)
        let (N, heads, D, S) = (6, 3, 8, 16)
        let stride = heads * D + 4  // extra columns the kernel must not touch
        var cosT = [Float](repeating: 0, count: S * D / 2), sinT = cosT
        ropeTables(&cosT, &sinT, S, D, theta: 10_000)
        let positions: [Int32] = (0..<N).map { _ in Int32(rng.nextInt(below: S)) }
        let x = randomArray(N * stride, &rng), R = randomArray(N * stride, &rng)
        func run(_ x: [Float]) -> [Float] {
            var y = x
            ropeForward(&y, stride: stride, heads: heads, positions, cosT, sinT, N, D)
            return y
        }
        var dx = R
        ropeBackward(&dx, stride: stride, heads: heads, positions, cosT, sinT, N, D)
        expectGradient("dx", x: x, analytic: dx, rng: &rng) { dot(run($0), R) }
        // Position 0 is the identity rotation.
        var y = x
        let zeros = [Int32](repeating: 0, count: N)
        ropeForward(&y, stride: stride, heads: heads, zeros, cosT, sinT, N, D)
        #expect(y == x)
    }

    @Test(arguments: [(4, 4, 64), (4, 2, 2), (4, 1, 3)])
    func attention(heads: (Int, Int, Int)) {
        var rng = RNG(seed: 5)
        let s = AttentionShape(B: 2, T: 5, H: heads.0, K: heads.1, D: 4, block: heads.2)
        let N = s.B * s.T
        let qkv = randomArray(N * s.qkvWidth, &rng)
        let R = randomArray(N * s.H * s.D, &rng)
        func run(_ qkv: [Float]) -> ([Float], [Float]) {
            var y = [Float](repeating: 0, count: N * s.H * s.D)
            var p = [Float](repeating: 0, count: s.B * s.H * s.T * s.T)
            attentionForward(&y, &p, qkv, s)
            return (y, p)
        }
        let (_, probs) = run(qkv)
        var dqkv = [Float](repeating: 0, count: qkv.count)
        var scratch = [Float](repeating: 0, count: probs.count)
        attentionBackward(&dqkv, &scratch, R, probs, qkv, s)
        expectGradient("dqkv", x: qkv, analytic: dqkv, samples: 120, rng: &rng) { dot(run($0).0, R) }
        // Causality: the first position attends only to itself; blocking changes nothing.
        #expect(probs[0] == 1 && probs[1] == 0)
        let unblocked = AttentionShape(B: s.B, T: s.T, H: s.H, K: s.K, D: s.D, block: s.T)
        var y2 = [Float](repeating: 0, count: N * s.H * s.D), p2 = probs
        attentionForward(&y2, &p2, qkv, unblocked)
        let (y1, _) = run(qkv)
        #expect(zip(y1, y2).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func swiglu() {
        var rng = RNG(seed: 6)
        let (N, F) = (4, 6)
        let gu = randomArray(N * 2 * F, &rng, scale: 2), R = randomArray(N * F, &rng)
        func run(_ gu: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: N * F)
            swigluForward(&out, gu, N, F)
            return out
        }
        var dgu = [Float](repeating: 0, count: gu.count)
        swigluBackward(&dgu, R, gu, N, F)
        expectGradient("dgateUp", x: gu, analytic: dgu, rng: &rng) { dot(run($0), R) }
    }

    @Test func softmax() {
        var rng = RNG(seed: 7)
        let (N, V) = (3, 11)
        let z = randomArray(N * V, &rng, scale: 3), R = randomArray(N * V, &rng)
        func run(_ z: [Float]) -> [Float] {
            var p = [Float](repeating: 0, count: N * V)
            softmaxForward(&p, z, N, V)
            return p
        }
        let p = run(z)
        for n in 0..<N { #expect(abs(p[n * V..<(n + 1) * V].reduce(0, +) - 1) < 1e-5) }
        var dz = [Float](repeating: 0, count: N * V)
        softmaxBackward(&dz, R, p, N, V)
        expectGradient("dlogits", x: z, analytic: dz, rng: &rng) { dot(run($0), R) }
    }

    @Test func logProbsAndEntropy() {
        var rng = RNG(seed: 8)
        let (N, V) = (5, 13)
        let z = randomArray(N * V, &rng, scale: 2)
        var targets: [Int32] = (0..<N).map { _ in Int32(rng.nextInt(below: V)) }
        targets[2] = -1  // ignored row
        let a = randomArray(N, &rng), b = randomArray(N, &rng)
        func run(_ z: [Float]) -> ([Float], [Float], [Float]) {
            var lp = [Float](repeating: 0, count: N), ent = lp, lse = lp
            logProbsForward(&lp, &ent, &lse, z, targets, N, V)
            return (lp, ent, lse)
        }
        let (lp, ent, lse) = run(z)
        #expect(lp[2] == 0)
        // Reference values in Double.
        for n in 0..<N {
            let row = z[n * V..<(n + 1) * V].map(Double.init)
            let m = row.max()!
            let l = m + _log(row.map { _exp($0 - m) }.reduce(0, +))
            let h = -row.map { _exp($0 - l) * ($0 - l) }.reduce(0, +)
            #expect(abs(Double(ent[n]) - h) < 1e-5)
            if targets[n] >= 0 { #expect(abs(Double(lp[n]) - (row[Int(targets[n])] - l)) < 1e-5) }
        }
        var dz = [Float](repeating: 0, count: N * V)
        logProbsBackward(&dz, z, lse, targets, a, b, ent, N, V)
        expectGradient("dlogits", x: z, analytic: dz, rng: &rng) {
            let (lp, ent, _) = run($0)
            return dot(lp, a) + dot(ent, b)
        }
    }

    @Test func crossEntropyWithWeightsAndIgnore() {
        var rng = RNG(seed: 9)
        let (N, V) = (6, 9)
        let z = randomArray(N * V, &rng, scale: 2)
        var targets: [Int32] = (0..<N).map { _ in Int32(rng.nextInt(below: V)) }
        targets[4] = -1
        let weights: [Float] = [1, 0.5, 0, 2, 1, 1]
        func loss(_ z: [Float]) -> Double {
            var losses = [Float](repeating: 0, count: N), lse = losses
            return Double(crossEntropyForward(&losses, &lse, z, targets, weights, N, V))
        }
        var losses = [Float](repeating: 0, count: N), lse = losses, dlogp = losses
        crossEntropyForward(&losses, &lse, z, targets, weights, N, V)
        #expect(losses[2] == 0 && losses[4] == 0)
        var dz = [Float](repeating: 0, count: N * V)
        crossEntropyBackward(&dz, &dlogp, z, lse, targets, weights, N, V)
        expectGradient("dlogits", x: z, analytic: dz, rng: &rng, loss: loss)
    }

    @Test func fastExpAccuracy() {
        var worst: Double = 0
        var x: Float = -80
        while x < 80 {
            let ref = _exp(Double(x))
            worst = max(worst, abs(Double(fastExp(x)) - ref) / ref)
            x += 0.0137
        }
        #expect(worst < 3e-7)
        #expect(fastExp(-200) < 1e-37)
    }
}

#if canImport(Glibc)
import Glibc
private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
private func _log(_ x: Double) -> Double { Glibc.log(x) }
#endif
