// Position-swap scoring on hand-made cases: each order un-flipped and scored +1 / -1, so an
// order-dependent pair is a tie and only an agreeing pair is position-consistent.
import Testing
@testable import Judge

@Suite struct PairwiseScoringTests {
    func pairing(_ forward: PairVerdict?, _ backwardAsSeen: PairVerdict?) -> JudgePairing {
        // `backwardAsSeen` is what the judge said with the answers swapped.
        JudgePairing(forward: forward, backward: backwardAsSeen?.unflipped)
    }

    @Test func agreeingOrdersWin() {
        let p = pairing(.first, .second)  // A first, then (swapped) B: the same answer both times
        #expect(p.score == 2)
        #expect(p.verdict == .first)
        #expect(p.positionConsistent == true)
        let q = pairing(.second, .first)
        #expect(q.score == -2)
        #expect(q.verdict == .second)
    }

    @Test func positionBiasIsATie() {
        let alwaysA = pairing(.first, .first)  // picks whatever stands first
        #expect(alwaysA.score == 0)
        #expect(alwaysA.verdict == .tie)
        #expect(alwaysA.positionConsistent == false)
        let alwaysB = pairing(.second, .second)
        #expect(alwaysB.verdict == .tie)
    }

    @Test func oneTieLeansToTheOtherOrder() {
        let p = pairing(.first, .tie)
        #expect(p.score == 1)
        #expect(p.verdict == .first)
        #expect(p.positionConsistent == false)
        #expect(pairing(.tie, .tie).verdict == .tie)
        #expect(pairing(.tie, .tie).positionConsistent == true)
    }

    @Test func anUnreadOrderLeavesThePairUnscored() {
        let p = pairing(.first, nil)
        #expect(p.score == nil)
        #expect(p.verdict == nil)
        #expect(p.positionConsistent == nil)
    }
}
