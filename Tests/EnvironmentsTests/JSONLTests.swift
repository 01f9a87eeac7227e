// User JSONL files: good lines load, each bad line is reported with its number and reason.
import Testing
import PonderCore
import Environments

@Suite struct JSONLTests {
    static let sample = """
    {"prompt": "What is 6 times 7?", "answer": "42", "verifier": "number"}
    {"prompt": "What is pi to two places?", "answer": 3.14, "verifier": "number"}
    {"prompt": "Capital of France?", "answer": "Paris", "verifier": "exact"}
    {"prompt": "Name a primary colour.", "answer": "red", "verifier": "contains"}
    {"prompt": "Write add(a, b).", "answer": "def add(a, b):\\n    return a + b\\n", "verifier": "python_tests", "tests": {"function": "add", "cases": [{"args": [1, 2], "expected": 3}, {"args": [-4, 4], "expected": 0}]}}
    """

    @Test func badLinesAreReportedAndTheRestLoads() throws {
        let text = JSONLTests.sample + """

        this is not json
        ["a", "list"]
        {"answer": "4"}
        {"prompt": "2+2?"}
        {"prompt": "2+2?", "answer": "4", "verifier": "fuzzy"}
        {"prompt": "2+2?", "answer": "four", "verifier": "number"}
        {"prompt": "f", "answer": "x", "verifier": "python_tests"}
        {"prompt": "f", "answer": "x", "verifier": "python_tests", "tests": {"function": "f", "cases": [{"args": 3, "expected": 1}]}}
        {"prompt": "2+2?", "answer": "4", "extra": 1}

        {"prompt": "Last good line", "answer": "ok"}
        """
        let env = try JSONLEnvironment(text: text)
        #expect(env.count == 6)
        let lines = env.problems.map(\.line)
        #expect(lines == [6, 7, 8, 9, 10, 11, 12, 13, 14])
        let reasons = env.problems.map(\.reason)
        #expect(reasons[0] == "not valid JSON")
        #expect(reasons[1] == "not a JSON object")
        #expect(reasons[2].contains("prompt"))
        #expect(reasons[3].contains("answer"))
        #expect(reasons[4].contains("fuzzy"))
        #expect(reasons[5].contains("not a number"))
        #expect(reasons[6].contains("tests"))
        #expect(reasons[7].contains("cases[0]"))
        #expect(reasons[8].contains("extra"))
        #expect(throws: ConfigError.self) { try JSONLEnvironment(text: "nope\n{}") }
    }

    @Test func shippedExampleLoadsCleanly() throws {
        let env = try JSONLEnvironment(text: JSONLEnvironment.example)
        #expect(env.count == 5 && env.problems.isEmpty)
    }

    @Test func verifiers() throws {
        let env = try JSONLEnvironment(text: JSONLTests.sample)
        var rng = RNG(seed: 1)
        var byLine: [String: EnvTask] = [:]
        for t in env.sample(&rng, count: 200) { byLine[t.metadata["line"]!] = t }
        let number = try #require(byLine["1"]), decimal = try #require(byLine["2"])
        let exact = try #require(byLine["3"]), contains = try #require(byLine["4"]), code = try #require(byLine["5"])
        #expect(env.verify(number, .assistant("Answer: 42.")).kind == .correct)
        #expect(env.verify(number, .assistant("Answer: 420")).kind == .incorrect)
        #expect(env.verify(decimal, .assistant("about 3.14.")).kind == .correct)
        #expect(env.verify(decimal, .assistant("Answer: 3.15")).kind == .incorrect)
        #expect(env.verify(exact, .assistant("Answer: paris")).kind == .correct)
        #expect(env.verify(exact, .assistant("Answer: Paris, Texas")).kind == .incorrect)
        #expect(env.verify(contains, .assistant("I would say red or blue")).kind == .correct)
        let half = env.verify(code, .assistant("```python\ndef add(a, b):\n    return 3\n```"))
        #expect(half.kind == .incorrect && half.score == 0.5)
    }
}
