// The per-token GRPO objective J_t, its hand-derived derivative with respect to the token's
// log-probability, and the k3 KL estimator (formulas in GRPO.swift's header). Scalars in
// Double: the model's Float log-probs are widened here so the clip test and exp are exact
// enough to compare against hand-computed values.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension GRPO {
    /// k3 = exp(d) - d - 1 with d = refLogp - logp: an unbiased, non-negative estimator of
    /// KL(pi_theta || pi_ref) from a token sampled from pi_theta (Schulman, 2020).
    @inline(__always)
    public static func k3(logp: Double, refLogp: Double) -> Double {
        let d = refLogp - logp
        return exp(d) - d - 1
    }

    /// One token's objective and what the optimiser needs to know about it.
    public struct TokenObjective: Sendable, Equatable {
        /// J_t = min(rho A, clip(rho) A) - beta k3.
        public var value: Double
        /// The policy term alone, min(rho A, clip(rho) A).
        public var surrogate: Double
        /// k3 (0 when there is no reference).
        public var kl: Double
        /// dJ_t / d logp_t.
        public var gradient: Double
        public var ratio: Double
        /// rho < 1 - eps_low with A < 0: the clipped branch, no policy gradient.
        public var clippedLow: Bool
        /// rho > 1 + eps_high with A > 0: the clipped branch, no policy gradient.
        public var clippedHigh: Bool
    }

    /// J_t and dJ_t/dlogp_t for a token with current log-prob `logp`, the sampling policy's
    /// `oldLogp`, the reference's `refLogp` (nil without a reference: no KL term) and the
    /// sequence's advantage.
    public static func tokenObjective(logp: Double, oldLogp: Double, refLogp: Double?, advantage A: Double,
                                      parameters p: Parameters) -> TokenObjective {
        let rho = exp(logp - oldLogp)
        let clipped = min(max(rho, 1 - p.epsLow), 1 + p.epsHigh)
        let unclippedTerm = rho * A, clippedTerm = clipped * A
        // The min picks the clipped branch only when it is strictly smaller; where the two
        // agree (rho inside the range, or A = 0) the gradient is the unclipped one.
        let takesClip = clippedTerm < unclippedTerm
        let surrogate = takesClip ? clippedTerm : unclippedTerm
        var gradient = takesClip ? 0 : unclippedTerm
        var kl = 0.0
        if let refLogp {
            kl = k3(logp: logp, refLogp: refLogp)
            gradient += p.beta * (exp(refLogp - logp) - 1)
        }
        return TokenObjective(
            value: surrogate - p.beta * kl, surrogate: surrogate, kl: kl, gradient: gradient, ratio: rho,
            clippedLow: takesClip && A < 0, clippedHigh: takesClip && A > 0)
    }
}
