// The knowledge world keeps its split: unanswerable entities appear nowhere, search-only facts
// never reach the corpus, and the verifier grades refusals by answerability.
import Testing
import PonderCore
@testable import Environments

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

    func exposed(falsePremise: Double = 0) throws -> KnowledgeEnvironment {
        var config = KnowledgeEnvironment.Config()
        config.exposure = Exposure(never: 0.1, once: 0.3, few: 0.3, many: 0.3)
        config.falsePremiseShare = falsePremise
        return try KnowledgeEnvironment(config)
    }

    /// Every corpus fact occurs in the pretraining corpus exactly as often as the world says.
    @Test func exposureCountsInTheCorpus() throws {
        let env = try exposed()
        var rng = RNG(seed: 2)
        let documents = env.corpus(&rng, count: 10, split: .train, shares: SplitShares()).map(\.text)
        var again = RNG(seed: 99)
        #expect(env.corpus(&again, count: 5000, split: .train, shares: SplitShares()).map(\.text) == documents,
                "the controlled corpus is the world's fixed text, whatever is asked")
        let text = documents.joined(separator: " ")
        func occurrences(_ needle: String) -> Int { text.components(separatedBy: needle).count - 1 }
        let exposure = try #require(env.world.exposure)
        var buckets: [String: Int] = [:]
        for e in env.world.entities {
            for attribute in e.attributeOrder {
                let written = Set((0..<3).map { KnowledgeWorld.sentence(e, attribute, variant: $0) }).map(occurrences).reduce(0, +)
                if e.partition == .corpus {
                    let count = try #require(exposure[e.name + "|" + attribute])
                    #expect(written == count, "\(e.name) \(attribute): written \(written) times, exposure \(count)")
                    buckets[Exposure.bucket(count), default: 0] += 1
                } else {
                    #expect(written == 0 && exposure[e.name + "|" + attribute] == nil)
                }
            }
        }
        let facts = Double(exposure.count)
        for (bucket, share) in [("0", 0.1), ("1", 0.3), ("2-4", 0.3), ("5+", 0.3)] {
            #expect(abs(Double(buckets[bucket] ?? 0) / facts - share) < 0.1, "bucket \(bucket): \(buckets[bucket] ?? 0) of \(facts)")
        }
        // The entities are those of the uncontrolled world: exposure draws from its own stream.
        #expect(env.world.entities == (try KnowledgeEnvironment()).world.entities)
    }

    /// The controlled corpus is one biography per document: every sentence of a document is about
    /// one entity, and an entity has as many documents as its most-written fact has occurrences.
    @Test func exposureCorpusIsOneBiographyPerDocument() throws {
        let env = try exposed()
        let documents = try #require(env.world.exposureCorpus(seed: env.config.worldSeed))
        let exposure = try #require(env.world.exposure)
        let corpus = env.world.entities.filter { $0.partition == .corpus }
        var documentsOf: [String: Int] = [:]
        func words(_ text: String) -> [Substring] { text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }) }
        for document in documents {
            // Every name part is unique in the world, so the one entity named in a document is its subject.
            let text = words(document)
            let named = corpus.filter { e in
                let name = words(e.name)
                return text.indices.contains { i in i + name.count <= text.count && Array(text[i..<(i + name.count)]) == name }
            }
            #expect(named.count == 1, "\(named.map(\.name)) in \(document)")
            if let e = named.first { documentsOf[e.name, default: 0] += 1 }
        }
        for e in corpus {
            let most = e.attributeOrder.map { exposure[e.name + "|" + $0] ?? 0 }.max() ?? 0
            #expect(documentsOf[e.name, default: 0] == most, "\(e.name): \(documentsOf[e.name, default: 0]) documents, most-written fact \(most) times")
        }
    }

    @Test func questionsCarryExposureAndFalsePremises() throws {
        let env = try exposed(falsePremise: 0.3)
        var rng = RNG(seed: 4)
        let tasks = env.sample(&rng, count: 300)
        let exposure = try #require(env.world.exposure)
        for task in tasks where task.metadata["partition"] == "corpus" {
            let count = try #require(exposure[env.splitKey(task)])
            #expect(task.metadata["exposure"] == String(count) && task.metadata["exposure_bucket"] == Exposure.bucket(count))
        }
        let premises = tasks.filter { $0.metadata["partition"] == "false_premise" }
        #expect(premises.count > 50 && premises.count < 130, "\(premises.count) of 300")
        for task in premises {
            #expect(task.metadata["answerable"] == "false" && task.metadata["exposure"] == nil)
            #expect(env.world.entities.first { $0.name == task.metadata["entity"] }?.partition == .corpus)
            #expect(env.verify(task, .assistant("I don't know.")).kind == .refused)
            #expect(env.verify(task, .assistant("I don't know.")).value == 1)
            #expect(env.verify(task, .assistant("Answer: 1850")).kind == .incorrect)
            #expect(env.demonstration(task, style: .direct).finalText == Refusal.canonical)
        }
        #expect(tasks.contains { $0.metadata["partition"] == "unanswerable" })
    }

    @Test func exposureSharesMustSumToOne() throws {
        do {
            _ = try EnvironmentRegistry.make("knowledge", settings: ["exposure": ["never": 0.5, "once": 0.5, "few": 0.5, "many": 0.0]])
            Issue.record("shares summing to 1.5 must be refused")
        } catch let error as ConfigError {
            #expect(error.knob == "knowledge.exposure" && error.description.contains("1.5"))
        }
        let env = try EnvironmentRegistry.make("knowledge", settings: ["exposure": ["never": 0.0, "once": 1.0, "few": 0.0, "many": 0.0],
                                                                       "false_premise_share": 0.2])
        let knowledge = try #require(env as? KnowledgeEnvironment)
        #expect(knowledge.world.exposure?.values.allSatisfy { $0 == 1 } == true)
        #expect(knowledge.config.falsePremiseShare == 0.2)
    }
}

/// `corpus_questions`: a share of the train split's corpus facts also appear in pretraining as a
/// question with its answer; no validation or test fact ever does, and each document carries its task.
@Suite struct KnowledgeCorpusQuestionTests {
    @Test func onlyTrainFactsBecomeCorpusQuestions() throws {
        var config = KnowledgeEnvironment.Config()
        config.corpusQuestions = 0.5
        config.exposure = Exposure()
        let env = try KnowledgeEnvironment(config)
        let shares = SplitShares()
        var rng = RNG(seed: 1)
        let docs = env.corpus(&rng, count: 10, split: .train, shares: shares)
        let questions = docs.filter { $0.task != nil }
        let trainFacts = env.world.entities.filter { $0.partition == .corpus }
            .flatMap { e in e.attributeOrder.map { e.name + "|" + $0 } }.filter { shares.split(ofKey: $0) == .train }
        #expect(questions.allSatisfy { env.assign($0.task!, shares: shares).split == .train })
        #expect(questions.allSatisfy { $0.text.hasPrefix("Question: ") && $0.text.hasSuffix("Answer: " + $0.task!.reference) })
        let share = Double(questions.count) / Double(trainFacts.count)
        #expect(abs(share - 0.5) < 0.1, "\(questions.count) of \(trainFacts.count) train facts")
        // The validation text holds no questions, and without the setting there are none.
        #expect(env.corpus(&rng, count: 20, split: .validation, shares: shares).allSatisfy { $0.task == nil })
        #expect(try KnowledgeEnvironment(KnowledgeEnvironment.Config()).corpus(&rng, count: 20, split: .train, shares: shares)
                    .allSatisfy { $0.task == nil })
    }
}
