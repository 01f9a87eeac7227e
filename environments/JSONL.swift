// JSONL: tasks from a user's file, one JSON object per line, so users bring their own data.
//
//   {"prompt": "What is 2+2?", "answer": "4", "verifier": "number"}
//   {"prompt": "Capital of France?", "answer": "Paris", "verifier": "exact"}
//   {"prompt": "Name a primary colour.", "answer": "red", "verifier": "contains"}
//   {"prompt": "Write add(a, b).", "answer": "def add(a, b):\n    return a + b\n",
//    "verifier": "python_tests", "tests": {"function": "add", "cases": [{"args": [1, 2], "expected": 3}]}}
//
// Verifiers: number (the completion's integer, or its last decimal within 1e-6, equals the
// answer), exact (normalised answer line or final text equals the answer), contains (the
// answer's words appear in the final text as whole words, in order, case-insensitive: "red" is
// in "Red or blue" but "4" is not in "14"), python_tests (the code passes the cases in the
// sandbox; the harness of CodeHarness.swift, so expected values never enter the sandbox).
// "verifier" defaults to "exact". Any other key (an id, a source, a difficulty object) is kept
// as the task's metadata: stored with eval items and usable for breakdowns (`ponder eval --by
// difficulty.level`). Lines end in "\n" or "\r\n" (a file saved on Windows). Blank lines are
// skipped; every other bad line is reported with its number, the field and what is expected, and
// the good lines still load.
//
// Splits: a line's key is its prompt. `ponder eval --data FILE` grades every line (the file is a
// test set as a whole); a jsonl environment that an experiment trains on is split like any
// other, so its corpus and demonstrations never show a validation or test line.
import Foundation
import PonderCore

/// A JSONL file with no usable line: which file, and the first problems.
public struct JSONLError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [JSONLProblem]

    public var description: String {
        "\(file): no usable task line" + (problems.isEmpty ? " (the file is empty)" : "; "
            + problems.prefix(3).map(\.description).joined(separator: "; ")
            + (problems.count > 3 ? "; and \(problems.count - 3) more" : ""))
            + ". " + JSONLEnvironment.lineFormat
    }
}

public struct JSONLProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}

public struct JSONLEnvironment: Environment {
    public enum VerifierKind: String, Codable, Sendable, CaseIterable {
        case number, exact, contains
        case pythonTests = "python_tests"
    }

    struct Item: Sendable {
        var line: Int
        var prompt: String
        var answer: String
        var verifier: VerifierKind
        var function: String?
        var inputs: [[PyValue]] = []
        var expected: [PyValue] = []
        /// The line's other keys, as a JSON object with sorted keys ("{}" when none).
        var fields = "{}"
    }

    /// What a line must hold, for error messages.
    public static let lineFormat = "Each line is a JSON object with \"prompt\" (a string) and \"answer\" (a string or a number), "
        + "optionally \"verifier\" (number, exact, contains or python_tests) and, for python_tests, \"tests\"; other keys are kept as metadata."

    /// The metadata key under which a line's other keys are kept (a JSON object).
    public static let fieldsKey = "fields"

    /// A small file of every verifier kind, used by `ponder env sample jsonl` when no file is given.
    public static let example = """
    {"prompt": "What is 6 times 7?", "answer": "42", "verifier": "number"}
    {"prompt": "What is pi to two decimal places?", "answer": 3.14, "verifier": "number"}
    {"prompt": "What is the capital of France?", "answer": "Paris", "verifier": "exact"}
    {"prompt": "Name a primary colour.", "answer": "red", "verifier": "contains"}
    {"prompt": "Write a Python function add(a, b) that returns a + b.", "answer": "def add(a, b):\\n    return a + b\\n", "verifier": "python_tests", "tests": {"function": "add", "cases": [{"args": [1, 2], "expected": 3}, {"args": [-4, 4], "expected": 0}, {"args": [10, 5], "expected": 15}]}}
    """

    let items: [Item]
    /// Lines that did not load, with reasons.
    public let problems: [JSONLProblem]
    public let source: String
    public let sandbox: Sandbox
    public var name: String { "jsonl" }
    /// Tools the tasks allow (`ponder eval --data F --tools python`); none by default.
    public let tools: [Tool]
    public var styles: [DemonstrationStyle] { [.direct, .think] }
    public var count: Int { items.count }

    /// Load a file; throws only when it cannot be read or holds no usable line.
    public init(path: String, tools: [Tool] = [], sandbox: Sandbox = .shared) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(knob: "jsonl.path", allowed: "a readable file", found: "\(path) (missing or unreadable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let bad = String(decoding: data, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: Self.endsLine)
                .firstIndex { $0.contains("\u{FFFD}") }.map { $0 + 1 }
            throw ConfigError(knob: "jsonl.path", allowed: "UTF-8 text",
                              found: "\(path): invalid UTF-8" + (bad.map { " on line \($0)" } ?? "") + "; re-save the file as UTF-8")
        }
        try self.init(text: text, source: path, tools: tools, sandbox: sandbox)
    }

    public init(text: String, source: String = "<memory>", tools: [Tool] = [], sandbox: Sandbox = .shared) throws {
        var items: [Item] = [], problems: [JSONLProblem] = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: Self.endsLine).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            switch Self.parse(String(line), number: index + 1) {
            case .success(let item): items.append(item)
            case .failure(let problem): problems.append(problem)
            }
        }
        guard !items.isEmpty else { throw JSONLError(file: source, problems: problems) }
        self.items = items
        self.problems = problems
        self.source = source
        self.tools = tools
        self.sandbox = sandbox
    }

    /// "\r\n" is one Character in Swift, so splitting at "\n" alone would keep a Windows file whole.
    static func endsLine(_ c: Character) -> Bool { c == "\n" || c == "\r\n" }

    static func parse(_ line: String, number: Int) -> Result<Item, JSONLProblem> {
        func fail(_ reason: String) -> Result<Item, JSONLProblem> { .failure(JSONLProblem(line: number, reason: reason)) }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(line.utf8)) } catch {
            return fail("not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "a syntax error")); "
                        + "each line must be one JSON object")
        }
        guard let dict = object as? [String: Any] else { return fail("not a JSON object; each line must be one {...} object") }
        guard let promptValue = dict["prompt"] else { return fail("missing \"prompt\" (a non-empty string)") }
        guard let prompt = promptValue as? String, !prompt.isEmpty else {
            return fail("\"prompt\" must be a non-empty string, found \(describe(promptValue))")
        }
        guard let answerValue = dict["answer"] else { return fail("missing \"answer\" (a string or a number)") }
        guard let answer = answerValue as? String ?? numberText(answerValue) else {
            return fail("\"answer\" must be a string or a number, found \(describe(answerValue))")
        }
        let kindName = dict["verifier"].map { $0 as? String ?? describe($0) } ?? "exact"
        guard let kind = VerifierKind(rawValue: kindName) else {
            return fail("\"verifier\" must be number, exact, contains or python_tests, found \(kindName)")
        }
        var item = Item(line: number, prompt: prompt, answer: answer, verifier: kind)
        let extra = dict.filter { !["prompt", "answer", "verifier", "tests"].contains($0.key) }
        if !extra.isEmpty, let data = try? JSONSerialization.data(withJSONObject: extra, options: [.sortedKeys, .fragmentsAllowed]) {
            item.fields = String(decoding: data, as: UTF8.self)
        }
        switch kind {
        case .number:
            guard Double(answer.trimmingCharacters(in: .whitespaces)) != nil else {
                return fail("\"answer\" is \"\(answer)\", not a number, but \"verifier\" is number")
            }
        case .pythonTests:
            guard let tests = dict["tests"] as? [String: Any], let function = tests["function"] as? String,
                  let cases = tests["cases"] as? [[String: Any]], !cases.isEmpty else {
                return fail("python_tests needs \"tests\": {\"function\": NAME, \"cases\": [{\"args\": [...], \"expected\": ...}]}")
            }
            item.function = function
            for (i, c) in cases.enumerated() {
                guard let argsData = try? JSONSerialization.data(withJSONObject: c["args"] ?? NSNull(), options: [.fragmentsAllowed]),
                      case .list(let args)? = PyValue(json: String(decoding: argsData, as: UTF8.self)),
                      let expectedData = try? JSONSerialization.data(withJSONObject: c["expected"] ?? NSNull(), options: [.fragmentsAllowed]),
                      let expected = PyValue(json: String(decoding: expectedData, as: UTF8.self)) else {
                    return fail("tests.cases[\(i)] needs \"args\" (a list) and \"expected\" (integers, booleans, strings or lists)")
                }
                item.inputs.append(args)
                item.expected.append(expected)
            }
        case .exact, .contains:
            if dict["tests"] != nil { return fail("\"tests\" is only for the python_tests verifier") }
        }
        return .success(item)
    }

    /// A JSON number as text (not a boolean, which JSONSerialization also gives as NSNumber).
    private static func numberText(_ value: Any) -> String? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        return n.stringValue
    }

    /// JSONSerialization reads `true` and `false` as NSNumbers of C type char.
    private static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// A JSON value's type, for error messages.
    private static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let s as String: return s.isEmpty ? "an empty string" : "a string"
        case let n as NSNumber: return isBoolean(n) ? "a boolean" : "the number \(n)"
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        default: return "\(type(of: value))"
        }
    }

    public func sample(_ rng: inout RNG) -> EnvTask {
        task(for: items[rng.nextInt(below: items.count)])
    }

    /// Every loaded line once, in file order: what `ponder eval --data` grades.
    public var tasks: [EnvTask] { items.map(task(for:)) }

    func task(for item: Item) -> EnvTask {
        var metadata = ["verifier": item.verifier.rawValue, "line": String(item.line), Self.fieldsKey: item.fields]
        if let function = item.function {
            metadata["function"] = function
            metadata["inputs"] = "[" + item.inputs.map { "[" + $0.map(\.json).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
            metadata["expected"] = "[" + item.expected.map(\.json).joined(separator: ",") + "]"
        }
        return EnvTask(id: "\(name)-\(item.line)-\(stableDigest(item.prompt, item.answer))", environment: name,
                       prompt: Conversation(user: item.prompt), reference: item.answer, metadata: metadata,
                       difficulty: "\(source):\(item.line)", tools: tools)
    }

    /// The prompt: a line asked twice is one question.
    public func splitKey(_ task: EnvTask) -> String { task.question }

    public func verify(_ task: EnvTask, _ completion: Message) -> Verdict {
        let text = completion.finalText
        let kind = VerifierKind(rawValue: task.metadata["verifier"] ?? "") ?? .exact
        if Refusal.isRefusal(text) { return Verdict(.refused, extracted: text) }
        switch kind {
        case .number:
            guard let want = Double(task.reference.trimmingCharacters(in: .whitespaces)) else { return Verdict(.unparseable) }
            let scope = Answers.answerLine(text) ?? text
            if let n = Answers.integer(text), Double(n) == want { return Verdict(.correct, extracted: String(n)) }
            guard let got = lastDecimal(scope) else { return Verdict(.unparseable) }
            return Verdict(abs(got - want) <= 1e-6 * max(1, abs(want)) ? .correct : .incorrect, extracted: String(got))
        case .exact:
            let candidate = Answers.answerLine(text) ?? text
            guard !candidate.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return Verdict(.unparseable) }
            return Verdict(Answers.normalized(candidate) == Answers.normalized(task.reference) ? .correct : .incorrect,
                           extracted: candidate)
        case .contains:
            guard !text.isEmpty else { return Verdict(.unparseable) }
            return Verdict(Self.containsWords(text, task.reference) ? .correct : .incorrect, extracted: text)
        case .pythonTests:
            let function = task.metadata["function"] ?? ""
            guard let code = CodeEnvironment.extractCode(text, function: function),
                  let inputs = CodeEnvironment.decode(task.metadata["inputs"])?.map(\.listItems),
                  let expected = CodeEnvironment.decode(task.metadata["expected"]) else { return Verdict(.unparseable) }
            let report = CodeHarness.run(sandbox, solution: code, function: function, inputs: inputs, expected: expected,
                                         limits: SandboxLimits(wallSeconds: 3))
            return CodeEnvironment.verdict(report, code: code)
        }
    }

    /// Whether the words of `answer` appear in `text` as whole words, in order (case and
    /// punctuation ignored). ("I would say red.", "red") -> true; ("14", "4") -> false;
    /// ("New York City", "new york") -> true
    public static func containsWords(_ text: String, _ answer: String) -> Bool {
        let t = Answers.normalized(text).split(separator: " "), a = Answers.normalized(answer).split(separator: " ")
        guard !a.isEmpty, t.count >= a.count else { return false }
        return (0...(t.count - a.count)).contains { Array(t[$0..<($0 + a.count)]) == a }
    }

    /// The last decimal number in the text. "about 3.14." -> 3.14
    func lastDecimal(_ text: String) -> Double? {
        var found: Double?
        var current = ""
        for c in text + " " {
            if c.isASCII && (c.isNumber || c == "." || (c == "-" && current.isEmpty)) { current.append(c); continue }
            if let v = Double(current.hasSuffix(".") ? String(current.dropLast()) : current) { found = v }
            current = ""
        }
        return found
    }

    public func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message {
        let kind = VerifierKind(rawValue: task.metadata["verifier"] ?? "") ?? .exact
        let answer = kind == .pythonTests ? "```python\n\(task.reference.trimmingCharacters(in: .newlines))\n```" : "Answer: \(task.reference)"
        if style == .think {
            return .assistant([.thinking("The question: \(task.question)\nI know the answer."), .text(answer)])
        }
        return .assistant(answer)
    }

    /// A line's prompt and answer as a short document.
    public func document(_ task: EnvTask) -> String { "\(task.question)\n\(task.reference)" }
}
