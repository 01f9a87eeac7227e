// Phrasings: arithmetic, counting, code and knowledge render every task in at least 20 wordings
// (code and knowledge frame their question); a quarter are held out. Train and validation tasks only ever get seen phrasings; test tasks get unseen ones
// half the time; rewording changes the prompt alone, so the verifier and the split do not move.
import Testing
import PonderCore
@testable import Environments

@Suite struct PhrasingTests {
    static let environments: [any Environment] = [try! ArithmeticEnvironment(), try! CountingEnvironment(), try! CodeEnvironment(),
                                                  try! KnowledgeEnvironment()]

    @Test(arguments: [0, 1, 2, 3])
    func everyPhrasingRendersItsTask(_ index: Int) throws {
        let env = Self.environments[index]
        #expect(env.wordings >= 20)
        #expect(Phrasing.unseen(count: env.wordings).count >= 5)
        var rng = RNG(seed: 11)
        for _ in 0..<50 {
            let task = env.sample(&rng)
            var texts = Set<String>()
            for w in 0..<env.wordings {
                let reworded = env.reword(task, wording: w)
                #expect(!reworded.question.contains("{q}") && !reworded.question.contains("{e}") && !reworded.question.isEmpty,
                        "\(reworded.question)")
                #expect(reworded.reference == task.reference && reworded.id == task.id && env.splitKey(reworded) == env.splitKey(task))
                texts.insert(reworded.question)
            }
            // Counting's phrasings are per kind: 8 distinct wordings of each task.
            #expect(texts.count >= (env.name == "counting" ? 8 : env.wordings))
            // Phrasing 0 is what sample(_:) writes.
            #expect(env.reword(task, wording: 0).question == task.question)
        }
    }

    @Test(arguments: [0, 1, 2, 3])
    func heldOutPhrasingsOnlyInTheTestSplit(_ index: Int) throws {
        let env = Self.environments[index]
        let shares = SplitShares()
        for split in Split.allCases {
            var rng = RNG(seed: 5)
            let tasks = (0..<400).map { _ in env.sample(&rng, from: split, shares: shares) }
            let unseen = tasks.filter { $0.metadata["phrasing"] == "unseen" }
            #expect(tasks.allSatisfy { Phrasing.isUnseen(Int($0.metadata["wording"]!)!) == ($0.metadata["phrasing"] == "unseen") })
            if split == .test {
                #expect((140...260).contains(unseen.count), "\(unseen.count) of 400 test tasks unseen")
            } else {
                #expect(unseen.isEmpty, "\(split): \(unseen.count) tasks in held-out phrasings")
            }
        }
    }

    /// Spelled-out phrasings are graded like the others: the model may answer in words.
    @Test func spelledOutArithmetic() throws {
        #expect(ArithmeticEnvironment.spelledOut("12 + 7 * (305 // 4)") == "twelve plus seven times (three hundred and five divided by (rounding down) four)")
        let env = try ArithmeticEnvironment()
        var rng = RNG(seed: 2)
        let task = env.reword(env.sample(&rng), wording: 7)
        #expect(env.verify(task, .assistant("That is " + NumberWords.words(abs(Int(task.reference)!)) + ".")).kind
                    == (Int(task.reference)! >= 0 ? .correct : .incorrect))
    }
}
