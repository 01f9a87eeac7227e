// JSONL: tasks from a user's file, one JSON object per line, so users bring their own data.
//
//   {"prompt": "What is 2+2?", "answer": "4", "verifier": "number"}
//   {"prompt": "Capital of France?", "answer": "Paris", "verifier": "exact"}
//   {"prompt": "Name a primary colour.", "answer": "red", "verifier": "contains"}
//   {"prompt": "Write add(a, b).", "answer": "def add(a, b):\n    return a + b\n",
//    "verifier": "python_tests", "tests": {"function": "add", "cases": [{"args": [1, 2], "expected": 3}]}}
//
// Verifiers: number (the completion's integer, or its last decimal within 1e-6, equals the
// answer), exact (normalised answer line or final text equals the answer), contains (the final
// text contains the answer, case-insensitive), python_tests (the code passes the cases in the
// sandbox; the harness of CodeHarness.swift, so expected values never enter the sandbox).
// "verifier" defaults to "exact". Blank lines are skipped; every other bad line is reported with
// its number and reason, and the good lines still load.
import Foundation
import PonderCore

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
    }

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
    public var tools: [Tool] { [] }
    public var styles: [DemonstrationStyle] { [.direct, .think] }
    public var count: Int { items.count }

    /// Load a file; throws only when it cannot be read or holds no usable line.
    public init(path: String, sandbox: Sandbox = .shared) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(knob: "jsonl.path", allowed: "a readable UTF-8 file", found: path)
        }
        try self.init(text: text, source: path, sandbox: sandbox)
    }

    public init(text: String, source: String = "<memory>", sandbox: Sandbox = .shared) throws {
        var items: [Item] = [], problems: [JSONLProblem] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            switch Self.parse(String(line), number: index + 1) {
            case .success(let item): items.append(item)
            case .failure(let problem): problems.append(problem)
            }
        }
        guard !items.isEmpty else {
            throw ConfigError(knob: "jsonl.path", allowed: "at least one valid line", found: "\(source): "
                + (problems.isEmpty ? "no lines" : problems.prefix(3).map(\.description).joined(separator: "; ")))
        }
        self.items = items
        self.problems = problems
        self.source = source
        self.sandbox = sandbox
    }

    static func parse(_ line: String, number: Int) -> Result<Item, JSONLProblem> {
        func fail(_ reason: String) -> Result<Item, JSONLProblem> { .failure(JSONLProblem(line: number, reason: reason)) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else { return fail("not valid JSON") }
        guard let dict = object as? [String: Any] else { return fail("not a JSON object") }
        let known: Set<String> = ["prompt", "answer", "verifier", "tests"]
        if let unknown = dict.keys.sorted().first(where: { !known.contains($0) }) {
            return fail("unknown key \"\(unknown)\" (known: answer, prompt, tests, verifier)")
        }
        guard let prompt = dict["prompt"] as? String, !prompt.isEmpty else { return fail("missing \"prompt\" (a non-empty string)") }
        guard let answer = dict["answer"] as? String ?? (dict["answer"] as? NSNumber)?.stringValue else {
            return fail("missing \"answer\" (a string or number)")
        }
        let kindName = dict["verifier"] as? String ?? "exact"
        guard let kind = VerifierKind(rawValue: kindName) else {
            return fail("unknown verifier \"\(kindName)\" (use number, exact, contains or python_tests)")
        }
        var item = Item(line: number, prompt: prompt, answer: answer, verifier: kind)
        switch kind {
        case .number:
            guard Double(answer.trimmingCharacters(in: .whitespaces)) != nil else { return fail("answer \"\(answer)\" is not a number") }
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

    public func sample(_ rng: inout RNG) -> EnvTask {
        task(for: items[rng.nextInt(below: items.count)])
    }

    /// Every loaded line once, in file order: what `ponder eval --data` grades.
    public var tasks: [EnvTask] { items.map(task(for:)) }

    func task(for item: Item) -> EnvTask {
        var metadata = ["verifier": item.verifier.rawValue, "line": String(item.line)]
        if let function = item.function {
            metadata["function"] = function
            metadata["inputs"] = "[" + item.inputs.map { "[" + $0.map(\.json).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
            metadata["expected"] = "[" + item.expected.map(\.json).joined(separator: ",") + "]"
        }
        return EnvTask(id: "\(name)-\(item.line)-\(stableDigest(item.prompt, item.answer))", environment: name,
                       prompt: Conversation(user: item.prompt), reference: item.answer, metadata: metadata,
                       difficulty: "\(source):\(item.line)", tools: tools)
    }

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
            return Verdict(text.lowercased().contains(task.reference.lowercased()) ? .correct : .incorrect, extracted: text)
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

    /// Each line's prompt and answer as a short document.
    public func corpus(_ rng: inout RNG, count: Int) -> [String] {
        (0..<count).map { _ in
            let item = items[rng.nextInt(below: items.count)]
            return "\(item.prompt)\n\(item.answer)"
        }
    }
}
