// Rewards over real environments: the verdict is computed once per rollout and shared.
import Testing
import PonderCore
import Rewards
import Environments

@Suite struct RewardIntegrationTests {
    @Test func batchOverMixedEnvironments() throws {
        let code = try CodeEnvironment(), arithmetic = try ArithmeticEnvironment(), knowledge = try KnowledgeEnvironment()
        let envs: [String: any Environment] = ["code": code, "arithmetic": arithmetic, "knowledge": knowledge]
        var rng = RNG(seed: 3)
        var inputs: [RewardInput] = []
        for env in envs.values.sorted(by: { $0.name < $1.name }) {
            for task in env.sample(&rng, count: 6) {
                inputs.append(RewardInput(task: task, completion: env.demonstration(task, style: .think),
                                          completionTokens: 50, maxCompletionTokens: 512))
                inputs.append(RewardInput(task: task, completion: .assistant("Answer: 12345678"),
                                          completionTokens: 5, maxCompletionTokens: 512))
            }
        }
        let set = try RewardRegistry.makeSet([(id: "accuracy", weight: 1, parameters: [:]),
                                              (id: "format", weight: 0.1, parameters: [:]),
                                              (id: "overlong", weight: 1, parameters: [:])])
        let breakdowns = set.score(batch: inputs) { envs[$0.environment] }
        for (i, b) in breakdowns.enumerated() {
            #expect(!b.failed, "\(b.failures)")
            let demo = i % 2 == 0
            #expect(b.entries[0].value == (demo ? 1 : 0), "\(inputs[i].task.environment) \(b.verdict.map { "\($0)" } ?? "")")
            // Knowledge demonstrations of search-only facts look the fact up instead of thinking.
            let thought = inputs[i].completion.segments.contains { if case .thinking = $0 { true } else { false } }
            #expect(abs(b.total - (demo ? (thought ? 1.1 : 1.05) : 0.05)) < 1e-9)
        }
        let codeOnly = try RewardRegistry.makeSet([(id: "code_tests", weight: 1, parameters: [:])])
        let arith = inputs.first { $0.task.environment == "arithmetic" }!
        let notCode = codeOnly.score(arith, environment: arithmetic)
        #expect(notCode.entries[0].failure?.kind == .notApplicable)
    }
}
