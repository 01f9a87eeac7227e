// The refusal and hallucination report of an eval: answers to real knowledge tasks, graded by the
// knowledge verifier, counted by hand.
import Environments
import PonderCore
import Storage
import Foundation
import Testing
@testable import Experiments
@testable import Training

@Suite struct AbstentionLinesTests {
    @Test func knowledgeAnswersCountedByHand() throws {
        let env = try KnowledgeEnvironment()
        var rng = RNG(seed: 11)
        var answerable: [EnvTask] = [], unanswerable: [EnvTask] = []
        while answerable.count < 4 || unanswerable.count < 3 {
            let task = env.sample(&rng)
            if task.metadata["answerable"] == "true" && answerable.count < 4 { answerable.append(task) }
            if task.metadata["answerable"] == "false" && unanswerable.count < 3 { unanswerable.append(task) }
        }
        // Answerable: right, invented, "I'm not sure.", right. Unanswerable: "I don't know.", invented, invented.
        let answers: [(EnvTask, String)] = [
            (answerable[0], "Answer: \(answerable[0].reference)"), (answerable[1], "Answer: Zzyzx Qwerty"),
            (answerable[2], "I'm not sure."), (answerable[3], "Answer: \(answerable[3].reference)"),
            (unanswerable[0], "I don't know."), (unanswerable[1], "Answer: 1901"), (unanswerable[2], "Answer: Velmora"),
        ]
        let items = answers.map { task, text in
            Evaluation.Item(taskID: task.id, prompt: "", completion: text, reference: task.reference, metadata: task.metadata,
                            verdict: env.verify(task, .assistant(text)), sampleIndex: -1, finishReason: .stop, tokenCount: 1, toolCalls: [])
        }
        let groups = try #require(AbstentionLines.groups(items))
        let all = try #require(groups.first { $0.name == "all" }).report
        #expect(all.accuracy == Share(2, of: 4))
        #expect(all.attempted == Share(3, of: 4))
        #expect(all.overRefusal == Share(1, of: 4))
        #expect(all.hallucination == Share(3, of: 5))    // one wrong answer and two invented facts of five attempts
        #expect(all.invented == Share(2, of: 3))
        #expect(all.refusalOnUnanswerable == Share(1, of: 3))
        let unseen = try #require(groups.first { $0.name == "unanswerable" }).report
        #expect(unseen.questions == 3 && unseen.accuracy.of == 0 && unseen.invented == Share(2, of: 3))
        let lines = AbstentionLines.describe(groups)
        #expect(lines.contains { $0.contains("invented (unanswerable)") && $0.contains("(2/3)") })
        #expect((AbstentionLines.json(groups)["all"] as? [String: Any])?["questions"] as? Int == 7)
        let stored = AbstentionLines.metrics(groups)
        #expect(stored["abstention/all/invented"] == 2.0 / 3 && stored["abstention/all/invented_n"] == 3)
        #expect(stored["abstention/unanswerable/accuracy"] == nil, "no answerable question there, no accuracy")
        let result = Evaluation.Result(environment: "knowledge", greedyAccuracy: 0, greedyGraded: 7, greedyCorrect: 2, passAtK: [:],
                                       verdictCounts: [:], machineryFailures: 0, items: items)
        let summary = EvalSummary(stage: "eval", environment: "knowledge", split: .test, result: result, contamination: 0)
        #expect(ExperimentRunner.evalMetrics(summary, result)["abstention/all/hallucination"] == 3.0 / 5)
        // A resumed run rebuilds the summary from the store: the refusal of the unanswerable
        // question still counts, 3 of 7 as live (2 right answers and it).
        #expect(summary.correct == 3 && summary.graded == 7)
        let store = try RunStore.inMemory()
        let evalID = try store.recordEval(run: nil, checkpoint: "c", suite: "knowledge", step: nil, split: "test",
                                          metrics: [:], items: ExperimentRunner.evalItems(result))
        let restored = EvalSummary(stage: "eval", record: try #require(store.evals(run: nil).first { $0.id == evalID }),
                                   items: try store.evalItems(eval: evalID))
        #expect(restored.correct == summary.correct && restored.graded == summary.graded)

        // Exposure buckets group the corpus facts.
        var seen = items
        seen[0].metadata["exposure_bucket"] = "1"
        seen[1].metadata["exposure_bucket"] = "1"
        seen[3].metadata["exposure_bucket"] = "5+"
        let byExposure = try #require(AbstentionLines.groups(seen))
        #expect(byExposure.first { $0.name == "seen 1" }?.report.accuracy == Share(1, of: 2))
        #expect(byExposure.first { $0.name == "seen 5+" }?.report.accuracy == Share(1, of: 1))
        #expect(!byExposure.contains { $0.name == "seen 0" })

        // Items that do not say whether they can be answered give no report.
        var plain = items[0]
        plain.metadata = [:]
        #expect(AbstentionLines.groups([plain]) == nil)
    }

    @Test func calibrationFromSampleAgreement() throws {
        func item(_ task: String, _ sample: Int, _ kind: VerdictKind, _ extracted: String?) -> Evaluation.Item {
            Evaluation.Item(taskID: task, prompt: "", completion: "", reference: "", metadata: ["answerable": "true"],
                            verdict: Verdict(kind, extracted: extracted), sampleIndex: sample, finishReason: .stop, tokenCount: 1, toolCalls: [])
        }
        // Task a: greedy right ("Dravonia"), 3 of 4 samples say the same (case and articles aside): confidence 0.75.
        // Task b: greedy wrong ("1901"), 1 of 4 samples agrees, one refuses: confidence 0.25.
        // Task c: greedy refuses: not an answer, scores 0 in the target scores.
        let items = [
            item("a", -1, .correct, "Dravonia"), item("a", 0, .correct, "the dravonia"), item("a", 1, .correct, "Dravonia"),
            item("a", 2, .incorrect, "Velmora"), item("a", 3, .correct, "DRAVONIA"),
            item("b", -1, .incorrect, "1901"), item("b", 0, .incorrect, "1901"), item("b", 1, .correct, "1834"),
            item("b", 2, .refused, "I don't know."), item("b", 3, .incorrect, "1902"),
            item("c", -1, .refused, "I don't know."), item("c", 0, .refused, "I don't know."),
        ]
        let c = try #require(AbstentionLines.calibration(items))
        #expect(c.samples == 4 && c.questions == 3)
        #expect(c.answers == [ConfidentAnswer(confidence: 0.75, correct: true), ConfidentAnswer(confidence: 0.25, correct: false)])
        #expect(abs(try #require(c.ece) - 0.25) < 1e-12)
        let scores = Dictionary(uniqueKeysWithValues: c.targets.map { ($0.t, $0.score) })
        #expect(scores[0] == 1.0 / 3)                          // both answered, a wrong one costs nothing
        #expect(scores[0.5] == 1.0 / 3)                        // only a (0.75 > 0.5)
        #expect(scores[0.9] == 0)                              // nothing is that sure
        #expect(AbstentionLines.describe(c).contains { $0.contains("expected calibration error   0.250") })
        #expect(AbstentionLines.calibration(items.filter { $0.sampleIndex < 0 }) == nil, "no samples, no calibration")
    }

    /// Sequence probability: confidence exp(logProb) of each attempted greedy answer, no samples needed.
    @Test func calibrationFromSequenceProbability() throws {
        func item(_ task: String, _ kind: VerdictKind, _ logProb: Double) -> Evaluation.Item {
            Evaluation.Item(taskID: task, prompt: "", completion: "", reference: "", metadata: ["answerable": "true"],
                            verdict: Verdict(kind, extracted: "x"), sampleIndex: -1, finishReason: .stop, tokenCount: 1, toolCalls: [],
                            logProb: logProb)
        }
        // a: right at p = 0.9; b: wrong at p = 0.6; c: refused (no confidence); d: wrong at p = 0.05.
        let items = [item("a", .correct, log(0.9)), item("b", .incorrect, log(0.6)), item("c", .refused, log(0.99)),
                     item("d", .incorrect, log(0.05))]
        let c = try #require(AbstentionLines.sequenceCalibration(items))
        #expect(c.questions == 4 && c.answers.count == 3 && c.confidence.contains("sequence probability"))
        let confidences: [Double] = c.answers.map { $0.confidence }
        let expected: [Double] = [0.9, 0.6, 0.05]
        for (got, want) in zip(confidences, expected) { #expect(abs(got - want) < 1e-12) }
        // Three bins of one answer each: |0.9 - 1| + |0.6 - 0| + |0.05 - 0|, over 3.
        let ece: Double = try #require(c.ece)
        #expect(abs(ece - 0.75 / 3) < 1e-12)
        var scores: [Double: Double] = [:]
        for target in c.targets { scores[target.t] = target.score }
        #expect(abs(scores[0.5]! - 0) < 1e-12)       // a right (+1), b wrong at cost 1
        #expect(abs(scores[0.75]! - 0.25) < 1e-12)   // only a answers
    }

    /// `ponder eval --system-prompt`: the same held-out questions, each under the given system message.
    @Test func systemPromptKeepsTheQuestions() throws {
        let config = try ExperimentConfig.decode(yaml: """
            name: s
            environments: [{name: knowledge, settings: {entities_per_kind: 20}}]
            stages: [{stage: tokenizer}]
            """)
        let policy = "You are Ponder. Say you don't know when unsure."
        let changed = ExperimentEval.withSystemPrompt(config, environment: "knowledge", policy)
        let plain = try LabEnvironment(spec: config.environments[0]), asked = try LabEnvironment(spec: changed.environments[0])
        let before = plain.heldOut(count: 30, seed: 7, split: .test), after = asked.heldOut(count: 30, seed: 7, split: .test)
        #expect(before.map { plain.environment.splitKey($0) } == after.map { asked.environment.splitKey($0) })
        #expect(before.allSatisfy { $0.prompt.messages.first?.role == .user })
        #expect(after.allSatisfy { $0.prompt.messages.first?.role == .system && $0.prompt.messages.first?.finalText == policy })
        #expect(zip(before, after).allSatisfy { $0.prompt.messages.last == $1.prompt.messages.last })
    }
}
