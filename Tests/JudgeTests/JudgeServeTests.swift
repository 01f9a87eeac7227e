// The judge against a running `ponder serve` (a subprocess on a free loopback port): replies come
// back and are read or refused, the cache answers the second time, the HTTP and the in-process
// backends agree, and a stopped server turns every call into a recorded failure, never a score.
import Foundation
import Environments
import PonderCore
import Serving
import Storage
import Testing
import TestSupport
@testable import Judge

@Suite(.serialized) struct JudgeServeTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-judge-\(UUID().uuidString)")
    var checkpoint: URL { dir.appendingPathComponent("tiny-judge") }

    func task(_ i: Int) -> EnvTask {
        EnvTask(id: "t\(i)", environment: "arithmetic", prompt: Conversation(user: "What is \(i) + 1?"), reference: "\(i + 1)", difficulty: "")
    }

    @Test func judgeAgainstPonderServe() async throws {
        guard let ponder = PonderTool.executable() else { Issue.record(Comment(rawValue: PonderTool.missing)); return }
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyCheckpoint.write(to: checkpoint, context: 256)
        let server = try ServedCheckpoint(ponder: ponder, checkpoint: checkpoint, key: "k-\(UUID().uuidString.prefix(6))")
        defer { server.stop() }
        let store = try RunStore.open(path: dir.appendingPathComponent("judge.sqlite").path)
        let backend = OpenAIBackend(baseURL: server.baseURL + "/v1", model: "tiny-judge", apiKey: server.key,
                                    timeoutSeconds: 30, retries: 1, concurrency: 4)
        let judge = Judge(backend: backend, settings: JudgeSettings(maxTokens: 12), store: store)

        let first = await judge.grade(question: "What is 2 + 3?", reference: "5", response: "Answer: 5")
        #expect(first.reply != nil, "the call itself must succeed: \(first.failure ?? "")")
        // Read or refused, and never both: a refusal carries no score.
        #expect((first.score != nil) != (first.failure?.hasPrefix("unparseable") ?? false))
        #expect(!first.cached)
        let again = await judge.grade(question: "What is 2 + 3?", reference: "5", response: "Answer: 5")
        #expect(again.cached)
        #expect(again.reply == first.reply && again.score == first.score)

        // The same checkpoint in process answers the same at temperature 0.
        let local = Judge(backend: LocalBackend(service: try ChatService(checkpoint: checkpoint, maxBatch: 4), identity: "local"),
                          settings: JudgeSettings(maxTokens: 12))
        #expect(await local.grade(question: "What is 2 + 3?", reference: "5", response: "Answer: 5").reply == first.reply)

        // Pairwise over HTTP: both orders asked, each read or recorded as a failure.
        let pair = await judge.compare(question: "What is 2 + 3?", reference: "5", first: "Answer: 5", second: "Answer: 6")
        #expect((pair.forward == nil ? 1 : 0) + (pair.backward == nil ? 1 : 0) == pair.failures.count)

        // The server goes away: calls fail and are recorded as failures; cached answers still come.
        #expect(server.stop() == 0)
        let down = await judge.grade(question: "What is 7 + 1?", reference: "8", response: "Answer: 8")
        #expect(down.score == nil && down.reply == nil)
        #expect(down.failure?.contains("failed after 2 attempts") == true, "\(down.failure ?? "")")
        #expect(await judge.grade(question: "What is 2 + 3?", reference: "5", response: "Answer: 5").cached)
        let reward = JudgeReward(judge: judge)
        let results = reward.score(batch: (10..<13).map { RewardInput(task: task($0), completion: .assistant("Answer: \($0 + 1)")) })
        for r in results {
            guard case .failure(let f) = r else { Issue.record("a failed call must not be a score"); continue }
            #expect(f.kind == .judge)
        }
    }

    /// The self-preference probe's own answers come from the judge's backend and are graded by
    /// the verifier, not by the judge.
    @Test func ownAnswersAreVerified() async throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyCheckpoint.write(to: checkpoint, context: 256)
        let judge = Judge(backend: LocalBackend(service: try ChatService(checkpoint: checkpoint, maxBatch: 4), identity: "local"),
                          settings: JudgeSettings(maxTokens: 12))
        let env = try EnvironmentRegistry.make("arithmetic")
        var rng = RNG(seed: 3)
        let tasks = (0..<6).map { _ in env.sample(&rng, from: .test, shares: SplitShares()) }
        let (own, failures) = await JudgeAudit.ownItems(judge: judge, environment: env, tasks: tasks, seed: 3, maxTokens: 16)
        #expect(failures == 0 && own.count == 6)
        let truth = env.verify(batch: own.map { ($0.task, Message.assistant($0.response)) }).map(\.isCorrect)
        #expect(own.map(\.correct) == truth)
        #expect(own.allSatisfy { $0.kind == "own" })
        // The same seed samples the same answers.
        let again = await JudgeAudit.ownItems(judge: judge, environment: env, tasks: tasks, seed: 3, maxTokens: 16).items
        #expect(again.map(\.response) == own.map(\.response))
        let judged = await JudgeAudit.judgeOwn(judge: judge, items: own)
        #expect(judged.map(\.item) == own)
    }

    @Test func logprobWeightedScore() {
        let judge = Judge(backend: OpenAIBackend(baseURL: "http://127.0.0.1:9/v1", model: "m", apiKey: nil),
                          settings: JudgeSettings(scale: .range(1, 5), weighting: .logprobs))
        func t(_ s: String, _ lp: Double, _ top: [(String, Double)] = []) -> TokenLogprob {
            TokenLogprob(token: s, logprob: lp, bytes: nil, topLogprobs: top.map { TopLogprob(token: $0.0, logprob: $0.1, bytes: nil) })
        }
        // "Score: 4" with p(4) = 0.5, p(5) = 0.25, p(2) = 0.125 and 0.125 elsewhere (dropped).
        let tokens = [t("Score", -0.1), t(":", -0.1), t(" ", -0.1), t("4", log(0.5), [("4", log(0.5)), ("5", log(0.25)), ("2", log(0.125)), ("x", log(0.125))])]
        let weighted = judge.weightedScore(Judge.ReplyText(text: "Score: 4", logprobs: tokens, cached: false))
        let expected = (0.5 * 0.75 + 0.25 * 1.0 + 0.125 * 0.25) / 0.875
        #expect(abs(weighted! - expected) < 1e-9)
        // No decision label: no weighted score (the sampled one is used).
        #expect(judge.weightedScore(Judge.ReplyText(text: "4", logprobs: [t("4", 0, [("4", 0)])], cached: false)) == nil)
        let verdict = Judge(backend: judge.backend, settings: JudgeSettings(scale: .verdict, weighting: .logprobs))
        let vt = [t("Verdict:", -0.1), t(" correct", log(0.8), [(" correct", log(0.8)), (" incorrect", log(0.2))])]
        #expect(abs(verdict.weightedScore(Judge.ReplyText(text: "Verdict: correct", logprobs: vt, cached: false))! - 0.8) < 1e-9)
    }
}
