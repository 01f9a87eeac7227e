// Statistics: the 95% intervals every accuracy Ponder prints carries (DESIGN.md §12).
//
//   one run, k correct of n      Wilson score interval (Wilson 1927): centre
//                                (p + z^2 / 2n) / (1 + z^2 / n), half-width
//                                z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2), z = 1.96.
//                                Unlike p +- z sqrt(p (1 - p) / n) it stays inside [0, 1] and
//                                is not empty at p = 0 or 1.
//   several seeds, values x_s    mean +- t_{0.975, S-1} * sd(x) / sqrt(S), sd with S - 1; an
//                                accuracy's bounds are then cut to [0, 1] and a change's to
//                                [-1, 1], the values they can take.
//   before/after on one item set per-item differences d_i = after_i - before_i (paired, so the
//                                items' own difficulty cancels), mean +- t_{0.975, n-1} sd(d) /
//                                sqrt(n); a change is called only when the interval excludes 0.
//                                With several seeds, the same on the per-seed mean differences.
//   two independent shares       p1 - p2 with Newcombe's hybrid score interval (Newcombe 1998,
//   k1 of n1, k2 of n2           method 10): from the Wilson bounds (l, u) of each share,
//                                lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2),
//                                upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
// Student's t quantile: the CDF is 1 - I_x(nu/2, 1/2) / 2 with x = nu / (nu + t^2) for t > 0
// (I the regularised incomplete beta, by its continued fraction, Numerical Recipes §6.4), and
// the quantile is found by bisection. Checked against scipy.stats in PonderCoreTests.

import Foundation

/// A two-sided 95% interval around an estimate.
public struct Interval: Sendable, Equatable, Codable {
    public var estimate: Double
    public var lower: Double
    public var upper: Double

    public init(estimate: Double, lower: Double, upper: Double) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
    }

    /// The interval with its bounds cut to `range`, the values the quantity can take: a t-interval
    /// over three seeds of an accuracy can reach below 0% or above 100%, which no accuracy can.
    public func clamped(to range: ClosedRange<Double>) -> Interval {
        Interval(estimate: estimate, lower: min(max(lower, range.lowerBound), range.upperBound),
                 upper: max(min(upper, range.upperBound), range.lowerBound))
    }

    /// Whether the interval lies wholly on one side of `value` (a difference "excludes 0").
    public func excludes(_ value: Double) -> Bool { lower > value || upper < value }

    /// "87.0% [80.2, 91.7]" for a share; "+12.0 [3.1, 20.9]" (points) for a difference
    /// (`signed`); values are scaled by 100 unless `percent` is false.
    public func formatted(percent: Bool = true, signed: Bool = false, decimals: Int = 1) -> String {
        let scale = percent ? 100.0 : 1.0
        let first = String(format: signed ? "%+.\(decimals)f" : "%.\(decimals)f", estimate * scale)
        let bounds = String(format: "%.\(decimals)f, %.\(decimals)f", lower * scale, upper * scale)
        return first + (percent && !signed ? "%" : "") + " [" + bounds + "]"
    }
}

public enum Statistics {
    /// The normal quantile for a two-sided 95% interval.
    public static let z95 = 1.959963984540054

    /// Wilson score interval for `successes` of `n` (nil when n is 0).
    public static func wilson(successes: Int, of n: Int, z: Double = z95) -> Interval? {
        guard n > 0 else { return nil }
        let p = Double(successes) / Double(n), nn = Double(n), z2 = z * z
        let centre = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z / (1 + z2 / nn) * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()
        return Interval(estimate: p, lower: max(0, centre - half), upper: min(1, centre + half))
    }

    /// The difference of two independent shares k1/n1 - k2/n2 with Newcombe's hybrid score
    /// interval (nil when either n is 0).
    public static func shareDifference(_ k1: Int, of n1: Int, minus k2: Int, of n2: Int) -> Interval? {
        guard let a = wilson(successes: k1, of: n1), let b = wilson(successes: k2, of: n2) else { return nil }
        let d = a.estimate - b.estimate
        func square(_ x: Double) -> Double { x * x }
        return Interval(estimate: d,
                        lower: d - (square(a.estimate - a.lower) + square(b.upper - b.estimate)).squareRoot(),
                        upper: d + (square(a.upper - a.estimate) + square(b.estimate - b.lower)).squareRoot())
    }

    /// Mean with its 95% t-interval (nil for fewer than two values).
    public static func meanInterval(_ values: [Double]) -> Interval? {
        guard values.count >= 2 else { return nil }
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        let half = tQuantile(0.975, degreesOfFreedom: values.count - 1) * sd / n.squareRoot()
        return Interval(estimate: mean, lower: mean - half, upper: mean + half)
    }

    /// The paired difference after - before over the same items, with its 95% t-interval (nil
    /// when the counts differ or fewer than two items).
    public static func pairedDifference(before: [Double], after: [Double]) -> Interval? {
        guard before.count == after.count else { return nil }
        return meanInterval(zip(after, before).map { $0 - $1 })
    }

    /// Student's t CDF at `t` with `nu` degrees of freedom.
    public static func tCDF(_ t: Double, degreesOfFreedom nu: Int) -> Double {
        let v = Double(nu)
        let tail = 0.5 * regularizedIncompleteBeta(v / 2, 0.5, v / (v + t * t))
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile of Student's t with `nu` degrees of freedom (p in (0, 1)), by bisection
    /// to 1e-12.
    public static func tQuantile(_ p: Double, degreesOfFreedom nu: Int) -> Double {
        precondition(p > 0 && p < 1 && nu >= 1, "tQuantile needs 0 < p < 1 and nu >= 1")
        if p < 0.5 { return -tQuantile(1 - p, degreesOfFreedom: nu) }
        var lo = 0.0, hi = 1.0
        while tCDF(hi, degreesOfFreedom: nu) < p { hi *= 2 }
        for _ in 0..<200 where hi - lo > 1e-12 {
            let mid = (lo + hi) / 2
            if tCDF(mid, degreesOfFreedom: nu) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// I_x(a, b), the regularised incomplete beta function, for a, b > 0 and x in [0, 1].
    public static func regularizedIncompleteBeta(_ a: Double, _ b: Double, _ x: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let front: Double = exp(a * log(x) + b * log(1 - x) - logBeta)
        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry
        // I_x(a, b) = 1 - I_{1-x}(b, a) on the other side.
        if x < (a + 1) / (a + b + 2) { return front * betaContinuedFraction(a, b, x) / a }
        return 1 - front * betaContinuedFraction(b, a, 1 - x) / b
    }

    /// The continued fraction of the incomplete beta, evaluated by the modified Lentz method.
    private static func betaContinuedFraction(_ a: Double, _ b: Double, _ x: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let mm = Double(m)
            // Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
            var numerator = mm * (b - mm) * x / ((a + 2 * mm - 1) * (a + 2 * mm))
            d = 1 + numerator * d; if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            // Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
            numerator = -(a + mm) * (a + b + mm) * x / ((a + 2 * mm) * (a + 2 * mm + 1))
            d = 1 + numerator * d; if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return h
    }
}
