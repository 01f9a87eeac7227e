// The knowledge world keeps its split: unanswerable entities appear nowhere, search-only facts
// never reach the corpus, and the verifier grades refusals by answerability.
import Testing
import PonderCore
import Environments

@Suite struct KnowledgeTests {
    @Test func splitHolds() throws {
        let env = try KnowledgeEnvironment()
        var rng = RNG(seed: 8)
        let corpus = env.corpus(&rng, count: 3000, split: .train, shares: SplitShares()).map(\.text).joined(separator: "\n")
        let hidden = env.world.entities.filter { $0.partition != .corpus }
        #expect(!hidden.isEmpty)
        for e in hidden { #expect(!corpus.contains(e.name), "\(e.name) (\(e.partition)) leaked into the corpus") }
        let known = env.world.entities.filter { $0.partition == .corpus }
        #expect(known.filter { corpus.contains($0.name) }.count > known.count * 9 / 10)
        let search = SearchTool(world: env.world)
        for e in env.world.entities where e.partition == .unanswerable {
            #expect(search.run(e.name).text == SearchTool.noResults)
        }
        for e in env.world.entities where e.partition == .search {
            #expect(search.run(e.name + " facts").text.contains(e.name))
        }
    }

    @Test func refusalGrading() throws {
        let env = try KnowledgeEnvironment()
        var rng = RNG(seed: 1)
        let tasks = env.sample(&rng, count: 400)
        let unanswerable = try #require(tasks.first { $0.metadata["answerable"] == "false" })
        let answerable = try #require(tasks.first { $0.metadata["answerable"] == "true" && Int($0.reference) != nil })
        for refusal in ["I don't know.", "I'm not sure.", "Answer: I don't know", "I have no idea."] {
            let v = env.verify(unanswerable, .assistant(refusal))
            #expect(v.kind == .refused && v.value == 1)
            let w = env.verify(answerable, .assistant(refusal))
            #expect(w.kind == .refused && w.value == 0)
        }
        #expect(env.verify(unanswerable, .assistant("Answer: 1850")).kind == .incorrect)
        #expect(env.verify(answerable, .assistant("Answer: \(answerable.reference)")).kind == .correct)
        #expect(env.verify(answerable, .assistant("Answer: \(answerable.reference)0")).kind == .incorrect)
        #expect(env.verify(answerable, .assistant("")).kind == .unparseable)
    }
}
