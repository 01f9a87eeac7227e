// The refusal and hallucination report of an eval: answers to real knowledge tasks, graded by the
// knowledge verifier, counted by hand.
import Environments
import PonderCore
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

        // Items that do not say whether they can be answered give no report.
        var plain = items[0]
        plain.metadata = [:]
        #expect(AbstentionLines.groups([plain]) == nil)
    }
}
