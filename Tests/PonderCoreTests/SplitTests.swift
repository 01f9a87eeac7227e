// Splits: the key hash is the one statistics_reference.py computes independently, shares hold
// on large key sets, and bad shares are refused with a reason.
import Testing
@testable import PonderCore

@Suite struct SplitTests {
    @Test func unitHashMatchesTheReference() {
        let reference: [(String, Double)] = [
            ("", 0.9576734252420561), ("12 + 7", 0.3630119972353757), ("letter|banana|a", 0.058807390092630696),
            ("spec|count_greater|count_greater|return how many integers", 0.5755726448148093),
            ("Capital of France?", 0.5442840580777989),
        ]
        for (key, want) in reference { #expect(SplitShares.unitHash(key) == want, "\(key)") }
    }

    @Test func sharesHoldOnManyKeys() {
        let shares = SplitShares(train: 0.7, validation: 0.2, test: 0.1)
        var counts: [Split: Int] = [:]
        for i in 0..<100_000 { counts[shares.split(ofKey: "key \(i)"), default: 0] += 1 }
        // Binomial standard deviation at n = 100k is at most 0.16 points; 1 point is > 6 sd.
        #expect(abs(Double(counts[.train]!) / 1e5 - 0.7) < 0.01)
        #expect(abs(Double(counts[.validation]!) / 1e5 - 0.2) < 0.01)
        #expect(abs(Double(counts[.test]!) / 1e5 - 0.1) < 0.01)
        // The same key always lands in the same split.
        #expect(shares.split(ofKey: "12 + 7") == shares.split(ofKey: "12 + 7"))
    }

    @Test func badSharesAreRefusedWithAReason() {
        #expect(SplitShares().problem == nil)
        #expect(SplitShares(train: 0.8, validation: 0.1, test: 0.2).problem == "train + validation + test must be 1, found 1.1")
        #expect(SplitShares(train: 0.9, validation: 0, test: 0.1).problem == "validation must be above 0 and below 1, found 0.0")
        #expect(SplitShares(train: 1, validation: 0, test: 0).problem?.hasPrefix("train must be above 0 and below 1") == true)
    }
}
