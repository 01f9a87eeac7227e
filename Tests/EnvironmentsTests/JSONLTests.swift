// User JSONL files: good lines load, each bad line is reported with its number, the field and
// what is expected; other keys are kept as metadata; `contains` matches whole words.
import Foundation
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
        {"prompt": 12, "answer": "4"}
        {"prompt": "2+2?", "answer": true}

        {"prompt": "Last good line", "answer": "ok"}
        """
        let env = try JSONLEnvironment(text: text)
        #expect(env.count == 7)
        let lines = env.problems.map(\.line)
        #expect(lines == [6, 7, 8, 9, 10, 11, 12, 13, 15, 16])
        let reasons = env.problems.map(\.reason)
        #expect(reasons[0].hasPrefix("not valid JSON"))
        #expect(reasons[1].hasPrefix("not a JSON object"))
        #expect(reasons[2] == "missing \"prompt\" (a non-empty string)")
        #expect(reasons[3] == "missing \"answer\" (a string or a number)")
        #expect(reasons[4].contains("\"verifier\" must be number, exact, contains or python_tests, found fuzzy"))
        #expect(reasons[5].contains("not a number"))
        #expect(reasons[6].contains("tests"))
        #expect(reasons[7].contains("cases[0]"))
        #expect(reasons[8] == "\"prompt\" must be a non-empty string, found the number 12")
        #expect(reasons[9] == "\"answer\" must be a string or a number, found a boolean")
        do {
            _ = try JSONLEnvironment(text: "nope\n{}", source: "tasks.jsonl")
            Issue.record("a file without a usable line loaded")
        } catch let error as JSONLError {
            let text = error.description
            #expect(text.hasPrefix("tasks.jsonl: no usable task line; line 1: not valid JSON"), "\(text)")
            #expect(text.contains("line 2: missing \"prompt\"") && text.contains("Each line is a JSON object with \"prompt\""), "\(text)")
        }
    }

    @Test func unreadableFilesNameThemselves() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-jsonl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("latin1.jsonl")
        // Line 2 holds a Latin-1 "é" (one byte, 0xE9), which is not UTF-8.
        try (Data("{\"prompt\": \"ok\", \"answer\": \"1\"}\n{\"prompt\": \"caf".utf8) + Data([0xE9])
             + Data("\", \"answer\": \"x\"}\n".utf8)).write(to: bad)
        #expect(throws: ConfigError.self) { try JSONLEnvironment(path: bad.path) }
        do { _ = try JSONLEnvironment(path: bad.path) } catch {
            #expect("\(error)".contains("latin1.jsonl: invalid UTF-8 on line 2"), "\(error)")
        }
        do { _ = try JSONLEnvironment(path: dir.appendingPathComponent("missing.jsonl").path) } catch {
            #expect("\(error)".contains("missing.jsonl (missing or unreadable)"), "\(error)")
        }
    }

    @Test func otherKeysAreKeptAsMetadata() throws {
        let env = try JSONLEnvironment(text: """
        {"id": "q1", "prompt": "2+2?", "answer": "4", "verifier": "number", "difficulty": {"level": 2, "tags": ["easy"]}}
        {"prompt": "3+3?", "answer": "6"}
        """, tools: [.python])
        #expect(env.problems.isEmpty)
        let tasks = env.tasks
        #expect(tasks[0].metadata[JSONLEnvironment.fieldsKey] == #"{"difficulty":{"level":2,"tags":["easy"]},"id":"q1"}"#)
        #expect(tasks[1].metadata[JSONLEnvironment.fieldsKey] == "{}")
        #expect(tasks.allSatisfy { $0.tools == [.python] })
    }

    @Test func containsMatchesWholeWords() {
        #expect(JSONLEnvironment.containsWords("I would say Red.", "red"))
        #expect(!JSONLEnvironment.containsWords("14", "4"))
        #expect(!JSONLEnvironment.containsWords("reddish", "red"))
        #expect(JSONLEnvironment.containsWords("Answer: 4", "4"))
        #expect(JSONLEnvironment.containsWords("It is New York City.", "new york"))
        #expect(!JSONLEnvironment.containsWords("York, New", "new york"))
        #expect(JSONLEnvironment.containsWords("about 3.14 or so", "3.14"))
        #expect(!JSONLEnvironment.containsWords("13.14", "3.14"))
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
        #expect(env.verify(contains, .assistant("Infrared")).kind == .incorrect)
        let half = env.verify(code, .assistant("```python\ndef add(a, b):\n    return 3\n```"))
        #expect(half.kind == .incorrect && half.score == 0.5)
    }
}
