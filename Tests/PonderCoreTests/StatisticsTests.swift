// Intervals against references printed by statistics_reference.py (scipy for Student's t and
// the incomplete beta, the Wilson formula written out): relative error below 1e-9.
import Testing
@testable import PonderCore

@Suite struct StatisticsTests {
    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
        abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test func studentTQuantilesMatchScipy() {
        let reference: [(Double, Int, Double)] = [
            (0.975, 1, 12.706204736174694), (0.975, 2, 4.302652729749462), (0.975, 4, 2.7764451051977934),
            (0.975, 9, 2.262157162798205), (0.975, 29, 2.045229642132703), (0.975, 199, 1.9719565442517533),
            (0.9, 3, 1.637744353696209), (0.995, 5, 4.032142983555228), (0.6, 12, 0.25903274567688733),
        ]
        for (p, nu, want) in reference {
            let got = Statistics.tQuantile(p, degreesOfFreedom: nu)
            #expect(Self.close(got, want), "t(\(p), \(nu)) = \(got), want \(want)")
            #expect(Self.close(Statistics.tQuantile(1 - p, degreesOfFreedom: nu), -want))
        }
    }

    @Test func studentTCDFMatchesScipy() {
        let reference: [(Double, Int, Double)] = [
            (0.0, 3, 0.5), (1.5, 2, 0.8638034375544994), (-2.0, 7, 0.042809664281488025),
            (4.303, 2, 0.9750037375073928), (0.3, 50, 0.6172895598723483),
        ]
        for (t, nu, want) in reference {
            #expect(Self.close(Statistics.tCDF(t, degreesOfFreedom: nu), want), "cdf(\(t), \(nu))")
        }
    }

    @Test func incompleteBetaMatchesScipy() {
        let reference: [(Double, Double, Double, Double)] = [
            (0.5, 0.5, 0.3, 0.36901011956554536), (2.0, 3.0, 0.4, 0.5247999999999999),
            (10.0, 0.5, 0.9, 0.15164090963470994), (0.5, 15.0, 0.02, 0.5599233207986141),
            (50.0, 50.0, 0.55, 0.8413478010629014),
        ]
        for (a, b, x, want) in reference {
            #expect(Self.close(Statistics.regularizedIncompleteBeta(a, b, x), want), "I(\(a), \(b), \(x))")
        }
    }

    @Test func wilsonMatchesTheFormula() throws {
        let reference: [(Int, Int, Double, Double)] = [
            (0, 10, 0.0, 0.2775327998628892), (10, 10, 0.7224672001371107, 0.9999999999999999),
            (19, 100, 0.12514751509768735, 0.27778845379064376), (87, 200, 0.36815725502699076, 0.504292637402054),
            (1, 3, 0.06149194472039615, 0.7923403991979523),
        ]
        for (k, n, lo, hi) in reference {
            let w = try #require(Statistics.wilson(successes: k, of: n))
            #expect(Self.close(w.lower, lo) && Self.close(w.upper, hi), "\(k)/\(n): \(w)")
            #expect(w.estimate == Double(k) / Double(n))
        }
        #expect(Statistics.wilson(successes: 0, of: 0) == nil)
    }

    /// Newcombe (1998), Table II, method 10: the published bounds to four places.
    @Test func shareDifferenceMatchesNewcombesTable() throws {
        let published: [(Int, Int, Int, Int, Double, Double)] = [
            (56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090), (6, 7, 2, 7, 0.0582, 0.8062),
            (5, 56, 0, 29, -0.0381, 0.1926), (0, 10, 0, 20, -0.1611, 0.2775),
        ]
        for (k1, n1, k2, n2, lo, hi) in published {
            let d = try #require(Statistics.shareDifference(k1, of: n1, minus: k2, of: n2))
            #expect(abs(d.lower - lo) < 5e-5 && abs(d.upper - hi) < 5e-5, "\(k1)/\(n1) - \(k2)/\(n2): \(d)")
            #expect(d.estimate == Double(k1) / Double(n1) - Double(k2) / Double(n2))
        }
        #expect(Statistics.shareDifference(1, of: 2, minus: 0, of: 0) == nil)
    }

    /// The paired interval is the t-interval of the per-item differences: on these 6 items the
    /// differences are 1, 1, 0, 0, 1, 0 (mean 0.5, sd sqrt(0.3)), so it is 0.5 +- t(0.975, 5) *
    /// sqrt(0.3 / 6), t = 2.5705818356363146 (scipy).
    @Test func pairedDifferenceIsTheTIntervalOfDifferences() throws {
        let before: [Double] = [0, 0, 1, 0, 0, 1], after: [Double] = [1, 1, 1, 0, 1, 1]
        let d = try #require(Statistics.pairedDifference(before: before, after: after))
        let half = 2.5705818356363146 * (0.3 / 6.0).squareRoot()
        #expect(Self.close(d.estimate, 0.5) && Self.close(d.lower, 0.5 - half) && Self.close(d.upper, 0.5 + half))
        // Six items are too few to call even +50 points a change ...
        #expect(!d.excludes(0))
        // ... twenty are enough when 12 go up and none down.
        let up = try #require(Statistics.pairedDifference(before: Array(repeating: 0, count: 20),
                                                          after: Array(repeating: 1, count: 12) + Array(repeating: 0, count: 8)))
        #expect(up.excludes(0) && up.lower > 0.3)
        // One flip each way: mean 0, an interval around 0, so no change is called.
        let same = try #require(Statistics.pairedDifference(before: [1, 0, 1, 1], after: [0, 1, 1, 1]))
        #expect(same.estimate == 0 && !same.excludes(0))
        #expect(Statistics.pairedDifference(before: [1], after: [0]) == nil)
        #expect(Statistics.pairedDifference(before: [1, 0], after: [0]) == nil)
    }

    @Test func meanIntervalAcrossSeeds() throws {
        // Three seeds at 0.6, 0.7, 0.8: mean 0.7, sd 0.1, half-width t(0.975, 2) * 0.1 / sqrt(3).
        let m = try #require(Statistics.meanInterval([0.6, 0.7, 0.8]))
        let half = 4.302652729749462 * 0.1 / 3.0.squareRoot()
        #expect(Self.close(m.estimate, 0.7) && Self.close(m.upper - m.estimate, half, 1e-8))
        #expect(Statistics.meanInterval([0.5]) == nil)
    }

    @Test func clampingKeepsTheEstimateAndCutsTheBounds() throws {
        // Seeds at 8%, 72% and 94%: the raw t-interval runs far past both ends of [0, 1].
        let raw = try #require(Statistics.meanInterval([0.08, 0.72, 0.94]))
        #expect(raw.lower < 0 && raw.upper > 1)
        let cut = raw.clamped(to: 0...1)
        #expect(cut.estimate == raw.estimate && cut.lower == 0 && cut.upper == 1)
        let inside = Interval(estimate: 0.5, lower: 0.4, upper: 0.6)
        #expect(inside.clamped(to: 0...1) == inside)
        #expect(Interval(estimate: 1.2, lower: 1.1, upper: 1.3).clamped(to: 0...1) == Interval(estimate: 1.2, lower: 1, upper: 1))
    }

    @Test func formatting() {
        let i = Interval(estimate: 0.87, lower: 0.8021, upper: 0.9166)
        #expect(i.formatted() == "87.0% [80.2, 91.7]")
        #expect(Interval(estimate: 0.12, lower: 0.031, upper: 0.209).formatted(signed: true) == "+12.0 [3.1, 20.9]")
    }
}
