// Each reward function on hand-built inputs; the set's breakdown; the registry.
import Testing
import PonderCore
import Rewards

func task(answerable: Bool = true) -> EnvTask {
    EnvTask(id: "t-1", environment: "test", prompt: Conversation(user: "q"), reference: "42",
            metadata: answerable ? [:] : ["answerable": "false"], difficulty: "")
}

func input(_ completion: Message = .assistant("Answer: 42"), verdict: Verdict? = nil, tokens: Int = 10,
           max: Int = 100, finish: FinishReason = .stop, answerable: Bool = true) -> RewardInput {
    RewardInput(task: task(answerable: answerable), completion: completion, completionTokens: tokens,
                maxCompletionTokens: max, finishReason: finish, verdict: verdict)
}

@Suite struct RewardFunctionTests {
    @Test func accuracy() {
        let r = AccuracyReward()
        #expect(r.score(input(verdict: Verdict(.correct))) == .success(1))
        #expect(r.score(input(verdict: Verdict(.incorrect))) == .success(0))
        #expect(r.score(input(verdict: Verdict(.incorrect, score: 0.25))) == .success(0.25))
        var strict = AccuracyReward.Parameters()
        strict.partialCredit = false
        #expect(AccuracyReward(strict).score(input(verdict: Verdict(.incorrect, score: 0.25))) == .success(0))
        guard case .failure(let f) = r.score(input()) else { Issue.record("no failure"); return }
        #expect(f.kind == .missingVerdict)
        let timeout = ExecutionFailure(.timeout, "wall")
        guard case .failure(let g) = r.score(input(verdict: Verdict(.incorrect, score: 0, failure: timeout))) else {
            Issue.record("a sandbox timeout must be a failure, not 0"); return
        }
        #expect(g.kind == .execution && g.execution == timeout)
    }

    @Test func codeTests() {
        let r = CodeTestsReward()
        #expect(r.score(input(verdict: Verdict(.incorrect, score: 0.625))) == .success(0.625))
        #expect(r.score(input(verdict: Verdict(.correct, score: 1))) == .success(1))
        #expect(r.score(input(verdict: Verdict(.unparseable))) == .success(0))
        var p = CodeTestsReward.Parameters()
        p.allOrNothing = true
        #expect(CodeTestsReward(p).score(input(verdict: Verdict(.incorrect, score: 0.625))) == .success(0))
        guard case .failure(let f) = r.score(input(verdict: Verdict(.correct))) else { Issue.record("no failure"); return }
        #expect(f.kind == .notApplicable)
        guard case .failure(let g) = r.score(input(verdict: Verdict(.incorrect, score: 0.5, failure: ExecutionFailure(.memory, "")))) else {
            Issue.record("no failure"); return
        }
        #expect(g.execution?.kind == .memory)
    }

    @Test func format() {
        let r = FormatReward()
        #expect(r.score(input(.assistant([.thinking("2*21"), .text("Answer: 42")]))) == .success(1))
        #expect(r.score(input(.assistant("Answer: 42"))) == .success(0.5))
        #expect(r.score(input(.assistant([.thinking("2*21")]))) == .success(0.5))
        #expect(r.score(input(.assistant([.thinking(" "), .text("Answer: 42")]))) == .success(0.5))
        #expect(r.score(input(.assistant("<think>unclosed Answer: 42"))) == .success(0.5))
        #expect(r.score(input(.assistant([.thinking("a"), .toolCall(.python, "print(42)"), .toolOutput("42\n"), .text("Answer: 42")]))) == .success(1))
        var p = FormatReward.Parameters()
        p.requireAnswerLine = true
        #expect(FormatReward(p).score(input(.assistant([.thinking("x"), .text("42")]))) == .success(0.5))
    }

    @Test func overlongFollowsDAPO() {
        var p = OverlongReward.Parameters()
        p.bufferTokens = 20
        let r = OverlongReward(p)
        #expect(r.score(input(tokens: 80, max: 100)) == .success(0))
        #expect(r.score(input(tokens: 90, max: 100)) == .success(-0.5))
        #expect(r.score(input(tokens: 100, max: 100)) == .success(-1))
        #expect(r.score(input(tokens: 100, max: 100, finish: .length)) == .success(-1))
        #expect(r.score(input(tokens: 101, max: 100)) == .success(-1))
        guard case .failure = r.score(input(tokens: 10, max: 0)) else { Issue.record("no failure"); return }
        p.maxTokens = 50
        #expect(OverlongReward(p).score(input(tokens: 40, max: 0)) == .success(-0.5))
    }

    @Test func knowledgeIsRefusalAware() {
        let r = KnowledgeReward()
        #expect(r.score(input(verdict: Verdict(.correct))) == .success(1))
        #expect(r.score(input(verdict: Verdict(.refused))) == .success(0))
        #expect(r.score(input(verdict: Verdict(.incorrect))) == .success(-1))
        #expect(r.score(input(verdict: Verdict(.refused, score: 1), answerable: false)) == .success(1))
        #expect(r.score(input(verdict: Verdict(.incorrect), answerable: false)) == .success(-1))
        var p = KnowledgeReward.Parameters()
        p.correct = 2; p.refusal = 0.25; p.wrong = -3
        let custom = KnowledgeReward(p)
        #expect(custom.score(input(verdict: Verdict(.correct))) == .success(2))
        #expect(custom.score(input(verdict: Verdict(.refused))) == .success(0.25))
        #expect(custom.score(input(verdict: Verdict(.incorrect))) == .success(-3))
    }

    @Test func weightedBreakdown() throws {
        let set = try RewardRegistry.makeSet([
            (id: "accuracy", weight: 1, parameters: [:]),
            (id: "format", weight: 0.5, parameters: ["think_credit": 0.2]),
            (id: "overlong", weight: 1, parameters: ["buffer_tokens": 20]),
        ])
        #expect(set.needsVerdict)
        let b = set.score(input(.assistant([.thinking("x"), .text("Answer: 42")]), verdict: Verdict(.correct), tokens: 90))
        #expect(b.entries.map(\.name) == ["accuracy", "format", "overlong"])
        #expect(b.entries.map(\.value) == [1, 0.7, -0.5])
        #expect(abs(b.total - (1 + 0.35 - 0.5)) < 1e-12)
        #expect(!b.failed)
        let failed = set.score(input(verdict: nil))
        #expect(failed.failed && failed.entries[0].failure?.kind == .missingVerdict)
        #expect(failed.total == 0.5 * 0.5)
    }

    @Test func registryErrorsNameTheKey() {
        #expect(RewardRegistry.ids.allSatisfy { (try? RewardRegistry.make($0)) != nil })
        #expect(throws: ConfigError.self) { try RewardRegistry.make("vibes") }
        do {
            _ = try RewardRegistry.make("knowledge", parameters: ["wrongg": -2])
            Issue.record("accepted an unknown key")
        } catch let e as ConfigError {
            #expect(e.knob == "rewards.knowledge.wrongg")
        } catch { Issue.record("\(error)") }
        #expect(throws: ConfigError.self) { try RewardRegistry.make("overlong", parameters: ["buffer_tokens": 0]) }
        #expect(throws: ConfigError.self) { try RewardRegistry.make("format", parameters: ["think_credit": "lots"]) }
        let k = try? RewardRegistry.make("knowledge", parameters: ["wrong": -2]) as? KnowledgeReward
        #expect(k?.parameters.wrong == -2 && k?.parameters.correct == 1)
    }
}
