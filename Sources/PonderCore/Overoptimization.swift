// Reward-model over-optimisation (Gao et al. 2022): with d = sqrt(KL(pi || pi_init)),
//     best-of-n   R(d) = d (alpha - beta d)          KL of best-of-n = log n - (n - 1) / n
//     RL          R(d) = d (alpha - beta log d)
// Both forms are linear in (alpha, beta), so least squares is a 2 x 2 solve:
//     best-of-n features (d, -d^2), RL features (d, -d log d).
// The peak: best-of-n at d* = alpha / (2 beta), R* = alpha^2 / (4 beta); RL at
// d* = exp(alpha / beta - 1), R* = beta d* (where the derivative alpha - beta (log d + 1) is 0).
import Foundation

public enum Overoptimization {
    public enum Form: String, Sendable, CaseIterable { case bestOfN = "best_of_n", rl }

    public struct Fit: Sendable, Equatable {
        public var alpha: Double
        public var beta: Double
        public var rSquared: Double
        public var form: Form

        public func predict(_ d: Double) -> Double {
            switch form {
            case .bestOfN: return d * (alpha - beta * d)
            case .rl: return d > 0 ? d * (alpha - beta * log(d)) : 0
            }
        }

        /// (d at the peak, gold at the peak); nil when beta <= 0 (no peak: gold keeps rising).
        public var peak: (d: Double, gold: Double)? {
            guard beta > 0 else { return nil }
            switch form {
            case .bestOfN: return (alpha / (2 * beta), alpha * alpha / (4 * beta))
            case .rl:
                let d = exp(alpha / beta - 1)
                return (d, beta * d)
            }
        }
    }

    /// KL(best-of-n || pi) = log n - (n - 1) / n (Stiennon et al. 2020's analytic bound, exact for distinct samples).
    public static func bestOfNKL(_ n: Int) -> Double { log(Double(n)) - Double(n - 1) / Double(n) }

    /// Least-squares (alpha, beta) of `form` through points (d, gain), gain = gold(d) - gold(0).
    public static func fit(d: [Double], gain: [Double], form: Form) -> Fit? {
        precondition(d.count == gain.count)
        var s11 = 0.0, s12 = 0.0, s22 = 0.0, b1 = 0.0, b2 = 0.0
        for (x, y) in zip(d, gain) {
            let f1 = x
            let f2 = form == .bestOfN ? -x * x : (x > 0 ? -x * log(x) : 0)
            s11 += f1 * f1; s12 += f1 * f2; s22 += f2 * f2; b1 += f1 * y; b2 += f2 * y
        }
        let det = s11 * s22 - s12 * s12
        guard d.count >= 2, abs(det) > 1e-12 * max(1, s11 * s22) else { return nil }
        let alpha = (b1 * s22 - b2 * s12) / det, beta = (s11 * b2 - s12 * b1) / det
        var fit = Fit(alpha: alpha, beta: beta, rSquared: 0, form: form)
        let mean = gain.reduce(0, +) / Double(gain.count)
        let total = gain.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let residual = zip(d, gain).reduce(0) { $0 + ($1.1 - fit.predict($1.0)) * ($1.1 - fit.predict($1.0)) }
        fit.rSquared = total > 0 ? 1 - residual / total : 1
        return fit
    }

    /// The expected value of `values` at the best-of-n pick by `proxy` among n of the N samples
    /// drawn without replacement, uniformly over all C(N, n) subsets (the unbiased estimator of
    /// best-of-n from N >= n samples). Ties in the proxy share their probability equally.
    public static func bestOfN(proxy: [Double], values: [Double], n: Int) -> Double {
        let N = proxy.count
        precondition(n >= 1 && n <= N && values.count == N)
        let order = proxy.indices.sorted { proxy[$0] < proxy[$1] }
        // P(the sample at sorted position i, 0-based, is the subset's maximum) = C(i, n-1) / C(N, n).
        func logChoose(_ a: Int, _ b: Int) -> Double { lgamma(Double(a + 1)) - lgamma(Double(b + 1)) - lgamma(Double(a - b + 1)) }
        var weights = [Double](repeating: 0, count: N)
        for i in (n - 1)..<N { weights[i] = exp(logChoose(i, n - 1) - logChoose(N, n)) }
        // Equal proxies: average the weights of their block.
        var start = 0
        while start < N {
            var end = start
            while end + 1 < N && proxy[order[end + 1]] == proxy[order[start]] { end += 1 }
            let w = weights[start...end].reduce(0, +) / Double(end - start + 1)
            for i in start...end { weights[i] = w }
            start = end + 1
        }
        return zip(order, weights).reduce(0) { $0 + values[$1.0] * $1.1 }
    }
}
