// Counting over real English: words from the wamerican list in their own case, sentences that
// are runs of real prose, case-insensitive counts that the prompt announces, and pretraining
// passages from other texts than the task sentences.
import Testing
import PonderCore
@testable import Environments

@Suite struct EnglishCountingTests {
    @Test func tasksAreRealEnglishCountedIgnoringCase() throws {
        let english = try English.load()
        #expect(english.words.count > 50_000 && english.taskProse.count > 5_000 && english.corpusProse.count > 5_000)
        var config = CountingEnvironment.Config()
        config.minLength = 1
        config.maxLength = 15
        let env = try CountingEnvironment(config)
        let known = Set(english.words)
        var rng = RNG(seed: 8)
        var capitalLetterCounted = false
        for _ in 0..<2000 {
            let task = env.sample(&rng)
            let subject = task.metadata["subject"]!
            switch task.metadata["kind"]! {
            case "letter", "vowels":
                #expect(known.contains(subject), "\(subject)")
                #expect(task.question.hasSuffix(CountingEnvironment.caseNote))
                if task.metadata["kind"] == "letter", let first = subject.first, first.isUppercase,
                   String(first).lowercased() == task.metadata["letter"] {
                    capitalLetterCounted = true
                    #expect(Int(task.reference)! == subject.lowercased().filter { String($0) == task.metadata["letter"] }.count)
                }
            case "words":
                let words = subject.split(separator: " ").map(String.init)
                #expect((1...15).contains(words.count) && task.reference == String(words.count))
                // A run of the task texts' prose, word for word.
                let prose = english.taskProse.joined(separator: " ")
                #expect(prose.contains(subject))
            default:
                #expect(subject.split(separator: ",").allSatisfy { known.contains($0.trimmingCharacters(in: .whitespaces)) })
            }
            // The demonstrations agree with the reference (the verifier grades them correct).
            #expect(env.verify(task, env.demonstration(task, style: .think)).kind == .correct)
        }
        #expect(capitalLetterCounted, "no task counted a capital letter")
    }

    @Test func pretrainingPassagesAreOtherProse() throws {
        let env = try CountingEnvironment()
        var rng = RNG(seed: 1)
        let passages = env.corpus(&rng, count: 200, split: .train, shares: SplitShares()).filter { $0.task == nil }.map(\.text)
        #expect(passages.count == 50)
        let taskProse = try English.load().taskProse.joined(separator: " ")
        #expect(passages.allSatisfy { !taskProse.contains($0) })
        #expect(passages.allSatisfy { (40...80).contains($0.split(separator: " ").count) })
    }

    @Test func generatedSourceKeepsTheSyllableWords() throws {
        var config = CountingEnvironment.Config()
        config.source = .generated
        let env = try CountingEnvironment(config)
        var rng = RNG(seed: 3)
        let task = env.sample(&rng)
        #expect(!task.question.contains(CountingEnvironment.caseNote))
        #expect(env.corpus(&rng, count: 40, split: .train, shares: SplitShares()).allSatisfy { $0.task != nil })
    }
}
