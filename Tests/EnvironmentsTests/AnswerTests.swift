// Answer extraction and refusal recognition, on the tricky cases.
import Testing
import PonderCore
import Environments

@Suite struct AnswerTests {
    @Test func integerPreferenceOrder() {
        #expect(Answers.integer("I think 12, no 13. Answer: 14") == 14)          // answer line wins
        #expect(Answers.integer("7 apples so \\boxed{42} and 9 pears") == 42)    // then boxed
        #expect(Answers.integer("there are 3 r's in 10 words") == nil)           // two different final numbers
        #expect(Answers.integer("Answer: 5\nAnswer: 6") == 6)                     // the last answer line
        #expect(Answers.integer("no digits here") == nil)
    }

    @Test func trickyNumbers() {
        #expect(Answers.integer("Answer: -17") == -17)
        #expect(Answers.integer("Answer: 42.") == 42)
        #expect(Answers.integer("Answer: 420") == 420)
        #expect(Answers.integer("Answer: 42.0") == 42)
        #expect(Answers.integer("Answer: 4.5") == nil)
        #expect(Answers.integer("Answer: 1,234") == 1234)
        #expect(Answers.integer("the result of 5-3 is 2") == 2)
        #expect(Answers.integer("from 3 to -12") == nil)
        #expect(Answers.integer("\\boxed{-7}") == -7)
        #expect(Answers.integer("answer: 9") == 9)
        #expect(Answers.integer("1, 2, 3") == nil)
    }

    /// However the answer is phrased, one final number is read; several different ones are none.
    @Test func phrasingsOfOneAnswer() {
        let phrasings: [(String, Int?)] = [
            ("Answer: 12", 12), ("= 12", 12), ("12.", 12), ("**12**", 12), ("The answer is **12**.", 12),
            ("45 + 38 = 83", 83), ("So 12 * 3 = 36.", 36), ("twelve", 12), ("Answer: twenty-one", 21),
            ("It has three hundred and five pages", 305), ("Answer: minus four", -4), ("Answer: 12 (twelve)", 12),
            ("I count 3 r's in strawberry", 3), ("Let me add.\n7 + 5 = 12\nSo the total is 12", 12),
            ("Answer: 12 or 13", nil), ("12, 13", nil), ("three or four", nil), ("Answer: `7`", 7),
            ("The sum equals 1,024.", 1024), ("two thousand and twenty", 2020),
        ]
        for (text, want) in phrasings { #expect(Answers.integer(text) == want, "\(text)") }
        #expect(Answers.readInteger("Answer: 12 or 13") == .several([12, 13]))
    }

    @Test func numberWordsRoundTrip() {
        for n in [0, 7, 13, 20, 21, 99, 100, 101, 305, 999, 1000, 1001, 2020, 12_345, 999_999] {
            #expect(NumberWords.value(in: NumberWords.words(n)) == n, "\(n): \(NumberWords.words(n))")
        }
        #expect(NumberWords.words(305) == "three hundred and five")
        #expect(NumberWords.values(in: "Three apples and twenty-one pears") == [3, 21])
    }

    @Test func arithmeticVerdicts() throws {
        let env = try ArithmeticEnvironment()
        var rng = RNG(seed: 3)
        var task = env.sample(&rng)
        task.reference = "42"
        #expect(env.verify(task, .assistant("Answer: 42.")).kind == .correct)
        #expect(env.verify(task, .assistant("Answer: 420")).kind == .incorrect)
        #expect(env.verify(task, .assistant("Answer: -42")).kind == .incorrect)
        #expect(env.verify(task, .assistant("hmm")).kind == .unparseable)
        #expect(env.verify(task, .assistant("I don't know.")).kind == .refused)
        #expect(env.verify(task, .assistant([.thinking("maybe 41"), .text("Answer: 42")])).kind == .correct)
        // Only the final text counts: a right number inside the thinking is not an answer.
        #expect(env.verify(task, .assistant([.thinking("Answer: 42"), .text("Answer: 41")])).kind == .incorrect)
        task.reference = "-8"
        #expect(env.verify(task, .assistant("The answer is \\boxed{-8}")).kind == .correct)
        #expect(env.verify(task, .assistant("Answer: 8")).kind == .incorrect)
        // Several different final numbers are wrong, and the verdict says why.
        let hedged = env.verify(task, .assistant("Answer: -8 or 8"))
        #expect(hedged.kind == .incorrect && (hedged.note ?? "").contains("several different final numbers"))
    }

    @Test func refusals() {
        for text in ["I don't know.", "I do not know", "I’m not sure.", "Answer: I don't know", "Unknown.",
                     "I have no idea", "I can't answer that.", "i dont know", "I don't have enough information to say."] {
            #expect(Refusal.isRefusal(text), "\(text)")
        }
        for text in ["Answer: 1850", "I don't know why, but Answer: 1850", "Paris", "The known answer is 12",
                     "No, it is 5"] {
            #expect(!Refusal.isRefusal(text), "\(text)")
        }
    }

    @Test func codeExtraction() {
        #expect(CodeEnvironment.extractCode("Here:\n```python\ndef f(x):\n    return x\n```\nDone.", function: "f") == "\ndef f(x):\n    return x\n")
        #expect(CodeEnvironment.extractCode("```python\na = 1\n```\nthen\n```py\nb = 2\n```", function: "f") == "\nb = 2\n")
        #expect(CodeEnvironment.extractCode("```python\ndef f(x):\n    return", function: "f") == "\ndef f(x):\n    return")
        #expect(CodeEnvironment.extractCode("```json\n{}\n```", function: "f") == nil)
        #expect(CodeEnvironment.extractCode("def f(x): return 1", function: "f") == "def f(x): return 1")
        #expect(CodeEnvironment.extractCode("I would write a loop.", function: "f") == nil)
    }

    @Test func knowledgeMatching() {
        #expect(KnowledgeEnvironment.matches("1834", "1834"))
        #expect(KnowledgeEnvironment.matches("He was born in 1834.", "1834"))
        #expect(!KnowledgeEnvironment.matches("18340", "1834"))
        #expect(KnowledgeEnvironment.matches("The Dravonia region", "Dravonia"))
        #expect(KnowledgeEnvironment.matches("painter", "Painter"))
        #expect(!KnowledgeEnvironment.matches("poet", "painter"))
        // Listing many candidates is not an answer.
        #expect(!KnowledgeEnvironment.matches("poet or painter or engineer or chemist or botanist", "painter"))
    }
}
