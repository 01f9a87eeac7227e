// Sampling from a split: every environment gives only tasks of the split asked for, keys never
// cross splits, code holds whole specs out as well as inputs, eval sets are distinct, and a task
// space too small to split is refused with a reason.
import Testing
import PonderCore
import Environments

@Suite struct SplitSamplingTests {
    static let shares = SplitShares()

    @Test func everyEnvironmentKeepsToTheSplitAskedFor() throws {
        for env in try allEnvironments() where env.name != "jsonl" {
            var keys: [Split: Set<String>] = [:]
            for split in Split.allCases {
                var rng = RNG(seed: 5)
                for _ in 0..<300 {
                    let task = env.sample(&rng, from: split, shares: Self.shares)
                    #expect(env.assign(task, shares: Self.shares).split == split, "\(env.name)")
                    #expect(task.metadata["split"] == split.rawValue)
                    keys[split, default: []].insert(env.splitKey(task))
                }
            }
            #expect(keys[.train]!.isDisjoint(with: keys[.test]!), "\(env.name): a key in train and test")
            #expect(keys[.train]!.isDisjoint(with: keys[.validation]!), "\(env.name): a key in train and validation")
            #expect(keys[.validation]!.isDisjoint(with: keys[.test]!), "\(env.name): a key in validation and test")
            #expect(keys.values.allSatisfy { $0.count > 20 }, "\(env.name): \(keys.mapValues(\.count))")
        }
    }

    /// The corpus, like every training stream, is drawn from train: no document shows a test task.
    @Test func corpusDocumentsComeFromTheirSplit() throws {
        for env in [try ArithmeticEnvironment() as any Environment, try CountingEnvironment(), try CodeEnvironment()] {
            var rng = RNG(seed: 2)
            let docs = env.corpus(&rng, count: 400, split: .train, shares: Self.shares)
            let tasks = docs.compactMap(\.task)
            #expect(tasks.allSatisfy { env.assign($0, shares: Self.shares).split == .train }, "\(env.name)")
            #expect(docs.allSatisfy { $0.task.map { env.document($0) } ?? $0.text == $0.text })
            // Counting mixes in English prose, one document in four; the others are about a task.
            #expect(docs.count - tasks.count == (env.name == "counting" ? 100 : 0), "\(env.name): \(docs.count - tasks.count) prose documents")
        }
    }

    @Test func codeHoldsOutWholeSpecsAndInputsOfSeenSpecs() throws {
        let env = try CodeEnvironment()
        var rng = RNG(seed: 9)
        let train = (0..<3000).map { _ in env.sample(&rng, from: .train, shares: Self.shares) }
        let test = (0..<600).map { _ in env.sample(&rng, from: .test, shares: Self.shares) }
        func spec(_ t: EnvTask) -> String { [t.metadata["family"]!, t.metadata["function"]!, t.metadata["spec"]!].joined(separator: "|") }
        let trainSpecs = Set(train.map(spec))
        let unseen = test.filter { $0.metadata["held_out"] == CodeEnvironment.unseenSpec }
        let seen = test.filter { $0.metadata["held_out"] == CodeEnvironment.unseenInputs }
        #expect(unseen.count + seen.count == test.count)
        #expect(unseen.count > 50 && seen.count > 50, "unseen specs \(unseen.count), seen specs \(seen.count)")
        #expect(unseen.allSatisfy { !trainSpecs.contains(spec($0)) }, "a held-out spec was trained on")
        #expect(seen.allSatisfy { trainSpecs.contains(spec($0)) })
        #expect(train.allSatisfy { $0.metadata["held_out"] == nil })
    }

    @Test func evalSetsAreDistinctAndStopWhenTheSplitRunsOut() throws {
        var settings = ArithmeticEnvironment.Config()
        settings.minOperands = 2; settings.maxOperands = 2; settings.maxDigits = 1; settings.operators = ["+"]
        let small = try ArithmeticEnvironment(settings)  // 100 questions, about 10 in test
        var rng = RNG(seed: 1)
        let tasks = small.distinctTasks(&rng, count: 50, split: .test, shares: Self.shares)
        #expect(Set(tasks.map(small.splitKey)).count == tasks.count)
        #expect(tasks.count > 3 && tasks.count < 25, "\(tasks.count) distinct test questions of 100")
        var big = RNG(seed: 1)
        let many = try ArithmeticEnvironment().distinctTasks(&big, count: 200, split: .validation, shares: Self.shares)
        #expect(many.count == 200 && Set(many.map(\.question)).count == 200)
    }

    @Test func aSpaceTooSmallToSplitIsRefused() throws {
        let env = try JSONLEnvironment(text: """
        {"prompt": "one?", "answer": "1"}
        {"prompt": "two?", "answer": "2"}
        """)
        do {
            try env.checkSplits(Self.shares)
            Issue.record("two lines were split three ways")
        } catch let error as ConfigError {
            #expect(error.knob == "jsonl.split")
            #expect(error.found.hasPrefix("2 distinct tasks in 4000 draws, none in"), "\(error)")
        }
        try ArithmeticEnvironment().checkSplits(Self.shares)
        try CodeEnvironment().checkSplits(Self.shares)
    }
}
