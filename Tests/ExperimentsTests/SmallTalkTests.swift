// Ordinary conversation in SFT: identity answers follow the system prompt's name, and every
// demonstration is a plain user question with a plain answer (no task format, no special text).
import Testing
import PonderCore
@testable import Experiments

@Suite struct SmallTalkTests {
    @Test func identityFollowsTheSystemPrompt() {
        var rng = RNG(seed: 1)
        let conversations = SmallTalk.conversations(count: 400, rng: &rng)
        var named = 0, unnamed = 0
        for c in conversations {
            let system = c.messages.first { $0.role == .system }?.plainText
            let answer = c.messages.last!.plainText
            #expect(c.messages.last!.role == .assistant && !answer.contains("Answer:"))
            guard SmallTalk.identity.contains(c.messages.first { $0.role == .user }!.plainText) else { continue }
            if let system, let name = SmallTalk.names.first(where: { system.contains("You are \($0),") }) {
                #expect(answer.hasPrefix("I am \(name),"), "\(answer)")
                named += 1
            } else {
                #expect(answer.hasPrefix("I am a small language model trained with Ponder."))
                unnamed += 1
            }
        }
        #expect(named > 10 && unnamed > 10)
    }

    @Test func sftStagesMixItInByDefault() throws {
        let config = try ExperimentConfig.decode(yaml: """
            name: t
            environments: [{name: arithmetic}]
            stages:
              - stage: tokenizer
              - stage: pretrain
              - stage: sft
              - stage: sft
                name: sft2
                small_talk: 0
            """)
        guard case .sft(let a) = config.stages[2], case .sft(let b) = config.stages[3] else { Issue.record("not sft stages"); return }
        #expect(a.smallTalk == 0.05 && b.smallTalk == 0)
        #expect(throws: (any Error).self) {
            try ExperimentConfig.decode(yaml: "name: t\nenvironments: [{name: arithmetic}]\nstages:\n  - stage: tokenizer\n  - stage: pretrain\n  - stage: sft\n    small_talk: 2\n")
        }
    }
}
