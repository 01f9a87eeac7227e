// The judging environment: its references are the inner verifier's truth, its demonstrations
// pass its own verifier in both modes, and a judging task lives in the split of its question.
import Foundation
import PonderCore
import Rewards
import Testing
@testable import Environments

@Suite struct JudgingTests {
    let env = try! EnvironmentRegistry.make("judging", settings: ["of": "arithmetic", "pairwise": 0.4]) as! JudgingEnvironment

    @Test func referencesAreTheInnerVerdicts() {
        var rng = RNG(seed: 3)
        var pairs = 0, points = 0
        for _ in 0..<200 {
            let task = env.sample(&rng)
            let inner = env.innerTask(task)!
            #expect(env.verify(task, env.demonstration(task, style: .direct)).isCorrect, "\(task.prompt.messages[0].finalText)")
            #expect(env.splitKey(task) == env.inner.splitKey(inner))
            let prompt = task.prompt.messages[0].finalText
            if task.reference == "A" || task.reference == "B" {
                pairs += 1
                // The answer at the referenced letter is the one the inner verifier accepts.
                let line = prompt.split(separator: "\n").first { $0.hasPrefix("Answer \(task.reference): ") }!
                let answer = String(line.dropFirst("Answer A: ".count))
                #expect(env.inner.verify(inner, .assistant(answer)).isCorrect)
                #expect(!env.verify(task, .assistant("[[C]]")).isCorrect)  // a tie is wrong
            } else {
                points += 1
                let response = String(prompt.components(separatedBy: "Response: ").last!)
                #expect(env.inner.verify(inner, .assistant(response)).isCorrect == (task.reference == "correct"))
                #expect(!env.verify(task, .assistant("Verdict: " + (task.reference == "correct" ? "incorrect" : "correct"))).isCorrect)
            }
        }
        #expect(pairs > 40 && points > 80)
    }

    @Test func tasksKeepToTheSplitOfTheirQuestion() {
        var rng = RNG(seed: 4)
        let shares = SplitShares()
        for _ in 0..<50 {
            let task = env.sample(&rng, from: .train, shares: shares)
            #expect(env.inner.assign(env.innerTask(task)!, shares: shares).split == .train)
        }
    }
}
