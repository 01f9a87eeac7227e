// pass@k against hand-computed values, and an evaluation of a tiny model end to end.
import Foundation
import Environments
import Model
import PonderCore
import Testing
import Tokenization
@testable import Training

struct EvaluationTests {
    @Test func passAtKMatchesHandComputedValues() {
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }
        #expect(close(Evaluation.passAtK(n: 5, correct: 2, k: 1), 0.4))
        #expect(close(Evaluation.passAtK(n: 5, correct: 2, k: 2), 0.7))  // 1 - C(3,2)/C(5,2) = 1 - 3/10
        #expect(Evaluation.passAtK(n: 5, correct: 0, k: 3) == 0)
        #expect(Evaluation.passAtK(n: 5, correct: 3, k: 3) == 1)  // n - c < k
        #expect(Evaluation.passAtK(n: 5, correct: 5, k: 1) == 1)
        #expect(close(Evaluation.passAtK(n: 10, correct: 3, k: 5), 1 - 21.0 / 252))  // C(7,5)/C(10,5)
        #expect(close(Evaluation.passAtK(n: 200, correct: 17, k: 1), 17.0 / 200))
    }

    @Test func correctnessReadsKindAndScore() {
        #expect(Evaluation.isCorrect(Verdict(.correct)))
        #expect(!Evaluation.isCorrect(Verdict(.incorrect, score: 0.5)))
        #expect(Evaluation.isCorrect(Verdict(.incorrect, score: 1)))
        #expect(!Evaluation.isCorrect(Verdict(.refused)))
    }

    @Test func evaluatesTinyModelOnArithmetic() {
        let model = Fixtures.model(seed: 4)
        let env = Fixtures.arithmetic
        var rng = RNG(seed: 21)
        let tasks = env.sample(&rng, count: 5)
        let p = Evaluation.Parameters(samples: 4, ks: [1, 2, 8], temperature: 1, maxNewTokens: 12, maxSequences: 8, seed: 3)
        let result = Evaluation.run(model: model, tokenizer: Fixtures.tokenizer, environment: env, tasks: tasks,
                                    tools: nil, parameters: p)
        #expect(result.environment == "arithmetic")
        #expect(result.items.count == tasks.count * (1 + 4))
        #expect((0...1).contains(result.greedyAccuracy))
        #expect(Set(result.passAtK.keys) == [1, 2])
        #expect(result.passAtK.values.allSatisfy { (0...1).contains($0) })
        // Each pass@k carries the t-interval of its five tasks' estimates around it.
        #expect(Set(result.passAtKIntervals.keys) == [1, 2])
        for (k, i) in result.passAtKIntervals { #expect(i.estimate == result.passAtK[k]! && i.lower <= i.estimate && i.estimate <= i.upper) }
        #expect(result.verdictCounts.values.reduce(0, +) == tasks.count)
        #expect(result.items.filter { $0.sampleIndex == -1 }.count == tasks.count)
        #expect(result.items.map(\.sampleIndex) == Array(repeating: [-1, 0, 1, 2, 3], count: tasks.count).flatMap { $0 })
        #expect(result.items.allSatisfy { $0.tokenCount <= 12 })

        // Greedy completions do not depend on the seed; the same parameters give the same result.
        var other = p
        other.seed = 99
        let again = Evaluation.run(model: model, tokenizer: Fixtures.tokenizer, environment: env, tasks: tasks, tools: nil, parameters: p)
        let otherSeed = Evaluation.run(model: model, tokenizer: Fixtures.tokenizer, environment: env, tasks: tasks, tools: nil, parameters: other)
        #expect(again.items.map(\.completion) == result.items.map(\.completion))
        #expect(otherSeed.items.filter { $0.sampleIndex == -1 }.map(\.completion)
                == result.items.filter { $0.sampleIndex == -1 }.map(\.completion))
    }

    @Test func toolUseCountsGreedyAnswersThatCalledATool() {
        func item(_ sample: Int, calls: Int) -> Evaluation.Item {
            Evaluation.Item(taskID: "t", prompt: "", completion: "", reference: "", metadata: [:], verdict: Verdict(.correct),
                            sampleIndex: sample, finishReason: .stop, tokenCount: 1,
                            toolCalls: Array(repeating: ToolCallRecord(tool: .python, input: "print(1)", output: "1\n"), count: calls))
        }
        // Four tasks: greedy answers with 2, 0, 1 and 0 calls; every sample calls a tool and must not count.
        let items = [item(-1, calls: 2), item(0, calls: 1), item(-1, calls: 0), item(0, calls: 1),
                     item(-1, calls: 1), item(0, calls: 1), item(-1, calls: 0), item(0, calls: 1)]
        let result = Evaluation.Result(environment: "e", greedyAccuracy: 1, greedyGraded: 4, greedyCorrect: 4, passAtK: [:],
                                       verdictCounts: [:], machineryFailures: 0, items: items)
        #expect(result.greedyToolUse == 0.5)
        #expect(Evaluation.Result(environment: "e", greedyAccuracy: 0, greedyGraded: 0, greedyCorrect: 0, passAtK: [:],
                                  verdictCounts: [:], machineryFailures: 0, items: []).greedyToolUse == 0)
    }

    @Test func evaluationSamplesItsOwnTasks() {
        let model = Fixtures.model(seed: 4)
        let p = Evaluation.Parameters(tasks: 3, samples: 0, maxNewTokens: 6)
        let result = Evaluation.run(model: model, tokenizer: Fixtures.tokenizer, environment: Fixtures.arithmetic, tools: nil, parameters: p)
        #expect(result.items.count == 3 && result.passAtK.isEmpty)
    }
}

struct RewardInputTests {
    @Test func rolloutRewardInputCountsSampledTokensOnly() {
        let tok = Fixtures.tokenizer
        let tokens = [tok.id(of: .pythonStart), tok.id(of: .pythonEnd), tok.id(of: .outputStart), tok.id(of: .outputEnd), tok.id(of: .imEnd)]
        let rollout = Rollout(promptIDs: [1], tokens: tokens, logProbs: [-1, -1, 0, 0, -1], lossMask: [1, 1, 0, 0, 1],
                              message: tok.parseAssistant(tokens), text: tok.decode(tokens), finishReason: .stop, toolCalls: [])
        var rng = RNG(seed: 1)
        let task = Fixtures.arithmetic.sample(&rng)
        let input = rollout.rewardInput(task: task, verdict: nil, maxCompletionTokens: 64)
        #expect(input.completionTokens == 3 && input.finishReason == .stop && input.maxCompletionTokens == 64)
    }
}
