// Reading judge replies: the documented line, each named fallback, and the refusals (a number
// off the scale, two decisions that disagree, no decision at all).
import Testing
@testable import Judge
@testable import Rewards

@Suite struct JudgeReplyTests {
    func score(_ reply: String, _ scale: JudgeScale = .range(1, 10)) -> Double? {
        try? JudgeReply.pointwise(reply, scale: scale).get().score
    }
    func rule(_ reply: String, _ scale: JudgeScale = .range(1, 10)) -> String? {
        try? JudgeReply.pointwise(reply, scale: scale).get().rule
    }

    @Test func documentedLines() {
        #expect(score("The sum is 12, as the reference says.\nScore: 10") == 1)
        #expect(score("Score: 1") == 0)
        #expect(score("**Score:** 4") == 3.0 / 9)
        #expect(score("score: 7.") == 6.0 / 9)
        #expect(score("Verdict: correct", .verdict) == 1)
        #expect(score("It is off by one.\nVerdict: Incorrect", .verdict) == 0)
        #expect(rule("Verdict: correct", .verdict) == "documented")
        // The same decision twice is one decision.
        #expect(score("Score: 8\nScore: 8") == 7.0 / 9)
    }

    @Test func namedFallbacks() {
        #expect(score("I'd give it [[6]]") == 5.0 / 9)
        #expect(rule("I'd give it [[6]]") == "bracketed")
        #expect(score("This deserves a 9") == 8.0 / 9)
        #expect(rule("This deserves a 9") == "final_word")
        #expect(score("The answer is correct.", .verdict) == 1)
        #expect(rule("[[incorrect]]", .verdict) == "bracketed")
    }

    @Test func refusals() {
        #expect(score("Score: 11") == nil)          // out of scale
        #expect(score("Score: 0") == nil)
        #expect(score("Score: -3") == nil)
        #expect(score("This deserves 42") == nil)   // final number off the scale
        #expect(score("Score: 3\nScore: 9") == nil) // two decisions that disagree
        #expect(score("Verdict: correct\nVerdict: incorrect", .verdict) == nil)
        #expect(score("[[2]] or maybe [[5]]") == nil)
        #expect(score("I cannot tell.") == nil)     // none
        #expect(score("") == nil)
        #expect(score("Verdict: maybe", .verdict) == nil)
        if case .failure(let f) = JudgeReply.pointwise("Score: 3\nScore: 9", scale: .range(1, 10)) {
            #expect(f.description.contains("disagree"))
        } else {
            Issue.record("two decisions should be refused")
        }
    }

    @Test func pairwiseReplies() {
        func verdict(_ r: String) -> PairVerdict? { try? JudgeReply.pairwise(r).get().verdict }
        #expect(verdict("Answer A computes it right. [[A]]") == .first)
        #expect(verdict("[[B]]") == .second)
        #expect(verdict("Both are wrong. [[C]]") == .tie)
        #expect(verdict("[[A]] ... on reflection [[B]]") == nil)
        #expect(verdict("[[A]] and again [[a]]") == .first)
        #expect(verdict("The better one is B") == .second)
        #expect(verdict("no idea") == nil)
    }

    @Test func scales() throws {
        #expect(try JudgeScale("1-10") == .range(1, 10))
        #expect(try JudgeScale("verdict") == .verdict)
        #expect(throws: JudgeConfigError.self) { try JudgeScale("10-1") }
        #expect(throws: JudgeConfigError.self) { try JudgeScale("good") }
        #expect(JudgeScale.range(0, 4).normalise(3) == 0.75)
    }
}
