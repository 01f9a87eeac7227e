// Knowledge probing picks exactly the questions the starting model gets wrong in every sample,
// and only those become "I don't know" demonstrations.
import Environments
import Foundation
import PonderCore
import Testing
import TestSupport
@testable import Experiments
@testable import Training

@Suite struct KnowledgeProbeTests {
    func item(_ task: String, _ sample: Int, _ kind: VerdictKind) -> Evaluation.Item {
        Evaluation.Item(taskID: task, prompt: "", completion: "", reference: "", metadata: [:], verdict: Verdict(kind),
                        sampleIndex: sample, finishReason: .stop, tokenCount: 1, toolCalls: [])
    }

    @Test func unknownMeansWrongInEverySample() {
        let items = [
            item("a", -1, .correct), item("a", 0, .incorrect), item("a", 1, .refused),    // greedy right, samples never: unknown
            item("b", -1, .incorrect), item("b", 0, .incorrect), item("b", 1, .correct),  // one sample right: known
            item("c", -1, .incorrect),                                                    // never sampled: not judged
        ]
        #expect(KnowledgeProbe.unknown(items) == ["a"])
    }

    /// A grpo stage's `questions: {part: 2, of: 2}` draws its prompts from that part of the
    /// training questions only, and the training-stream audit replays the same draws.
    @Test func grpoPromptsComeFromOnePart() throws {
        var spec = EnvironmentSpec(name: "knowledge")
        spec.tools = []
        let envs = [try LabEnvironment(spec: spec)]
        let part = QuestionPart(part: 2, of: 2)
        func draw(_ part: QuestionPart?) -> [EnvTask] {
            let weighted = ExperimentRunner.grpoEnvironments(envs, part: part, heldOut: { _ in [] })
            var rng = RNG(seed: 5)
            return GRPOTrainer.drawTasks(weighted, count: 200, toolsOverride: nil, &rng)
        }
        let inPart = draw(part).map { part.contains(envs[0].environment.splitKey($0)) }
        #expect(inPart.count == 200 && inPart.allSatisfy { $0 })
        let all = draw(nil).map { part.contains(envs[0].environment.splitKey($0)) }
        #expect(all.contains(true) && all.contains(false), "without a part both halves are drawn")

        let config = try ExperimentConfig.decode(yaml: """
            name: t
            environments:
              - name: knowledge
                tools: []
            stages:
              - stage: tokenizer
              - stage: grpo
                steps: 3
                prompts_per_step: 8
                questions: {part: 2, of: 2}
            """)
        let prompts = try #require(TrainingStream.build(config, envs: envs).sources.first { $0.what == "prompts" })
        let keys = prompts.keys["knowledge"] ?? []
        #expect(!keys.isEmpty && keys.allSatisfy { part.contains($0) })
    }

    @Test func probedQuestionsBecomeRefusals() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-probe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, tokenizer) = try TinyCheckpoint.write(to: dir, context: 256)
        var spec = EnvironmentSpec(name: "knowledge")
        spec.tools = []
        let envs = [try LabEnvironment(spec: spec)]
        // 120 draws from a small world: some facts are asked through several tasks.
        let demos = RunnerData.demonstrations(envs, count: 120, styles: StyleMix.all, seed: 3, label: "probe-test", split: .train)
        func key(_ t: EnvTask) -> String { KnowledgeProbe.key(t, envs: envs) }
        let answerable = demos.map(\.task).filter { $0.metadata["answerable"] == "true" }
        let facts = Set(answerable.map(key))
        #expect(!facts.isEmpty && facts.count < answerable.count, "the test wants a fact drawn twice")
        var settings = ProbeSettings()
        settings.samples = 3
        settings.maxNewTokens = 12
        let (unknown, probed) = KnowledgeProbe.probe(demos, envs: envs, model: model, tokenizer: tokenizer, settings: settings,
                                                     seed: 3, tools: RunnerData.tools(envs))
        #expect(probed == facts.count)
        // Each fact asked again the same way (its first task): unknown is exactly those with no right sample.
        var firstTask: [String: EnvTask] = [:], order: [String] = []
        for t in answerable where firstTask[key(t)] == nil { firstTask[key(t)] = t; order.append(key(t)) }
        let tasks = order.map { firstTask[$0]! }
        let again = Evaluation.run(model: model, tokenizer: tokenizer, environment: envs[0].environment, tasks: tasks,
                                   tools: RunnerData.tools(envs),
                                   parameters: Evaluation.Parameters(tasks: tasks.count, samples: 3, temperature: 1, maxNewTokens: 12, seed: 3))
        let keyOfID = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, key($0)) })
        let rightOnce = Set(again.items.filter { $0.sampleIndex >= 0 && $0.verdict.kind == .correct }.compactMap { keyOfID[$0.taskID] })
        #expect(unknown == facts.subtracting(rightOnce))
        #expect(!unknown.isEmpty, "an untrained model knows no fact of this world")

        // Every demonstration of an unknown fact becomes a refusal, whichever task asked it.
        let relabelled = KnowledgeProbe.relabel(demos, unknown: unknown, key: key)
        for (before, after) in zip(demos, relabelled) {
            if unknown.contains(key(before.task)) {
                #expect(after.conversation.messages.last?.finalText == Refusal.canonical)
                #expect(Array(after.conversation.messages.dropLast()) == before.task.prompt.messages)
            } else {
                #expect(after.conversation == before.conversation)
            }
        }
    }

    /// An experiment whose SFT stage carries `line` (a key of the stage).
    func sftConfig(_ line: String) throws -> ExperimentConfig {
        try ExperimentConfig.decode(yaml: """
            name: p
            environments: [{name: knowledge}]
            stages:
              - stage: tokenizer
              - stage: pretrain
                steps: 1
              - stage: sft
                steps: 1
                \(line)
            """)
    }

    @Test func probeSettingsAreCheckedInTheFile() throws {
        guard case .sft(let sft) = try sftConfig("probe: {samples: 2}").stages[2] else { Issue.record("the third stage should be sft"); return }
        #expect(sft.probe?.samples == 2 && sft.probe?.maxNewTokens == 32)
        #expect(throws: (any Error).self) { _ = try sftConfig("probe: {sample: 2}") }
        guard case .sft(let parted) = try sftConfig("questions: {part: 2, of: 3}").stages[2] else { Issue.record("sft expected"); return }
        #expect(parted.questions == QuestionPart(part: 2, of: 3))
        #expect(throws: (any Error).self) { _ = try sftConfig("questions: {part: 3, of: 2}") }
    }

    @Test func questionPartsAreDisjoint() throws {
        let one = QuestionPart(part: 1, of: 2), two = QuestionPart(part: 2, of: 2)
        let keys = (0..<2000).map { "key-\($0)" }
        #expect(keys.allSatisfy { one.contains($0) != two.contains($0) })
        let share = Double(keys.filter(one.contains).count) / Double(keys.count)
        #expect(abs(share - 0.5) < 0.05, "part 1 holds \(share) of the keys")

        var spec = EnvironmentSpec(name: "knowledge")
        spec.tools = []
        let envs = [try LabEnvironment(spec: spec)]
        let first = RunnerData.demonstrations(envs, count: 300, styles: StyleMix.all, seed: 1, label: "sft/train", split: .train, part: one)
        let second = RunnerData.demonstrations(envs, count: 300, styles: StyleMix.all, seed: 1, label: "sft/train", split: .train, part: two)
        let firstKeys = Set(first.map { envs[0].environment.splitKey($0.task) })
        let secondKeys = Set(second.map { envs[0].environment.splitKey($0.task) })
        #expect(firstKeys.isDisjoint(with: secondKeys) && firstKeys.count > 100 && secondKeys.count > 100)
    }
}
