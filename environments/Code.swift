// Code: the model writes a Python function from a one-line spec; hidden tests run in the sandbox.
//
// A task stores its function name, the inputs of its hidden tests and their expected outputs in
// metadata (JSON); the prompt shows the spec and two example calls. The verdict's score is the
// share of tests passed (CodeHarness.swift explains why that share cannot be forged). The
// completion's code is the last ```python fenced block of the final text, or, without a fence,
// the final text itself when it contains `def NAME(`.
//
// Splits: a spec (family, function and spec sentence, e.g. count_greater with threshold 3) is
// assigned to a split first; a task of a held-out spec is held out as an "unseen spec". Tasks of
// train specs are then split by (spec, inputs), so held-out tasks of the second kind are "seen
// spec, unseen inputs". Evals report the two apart: the first measures writing a function never
// shown, the second little more than recalling one.
import Foundation
import PonderCore

public struct CodeEnvironment: Environment {
    public struct Config: Codable, Sendable, Equatable {
        /// Hidden tests per task.
        public var tests = 8
        /// Wall-clock seconds for one grading run (all tests together).
        public var timeoutSeconds = 3.0
        /// Task families to draw from (ids in CodeFamilies.swift); empty means all.
        public var families: [String] = []
        /// Share of demonstrations (SFT and tool examples) that show the family's classic bug
        /// instead of the right solution, for the families that have one: a careless
        /// demonstrator, whose mistakes the hidden tests catch and RL can correct.
        public var buggyDemonstrations = 0.0
        public var systemPrompt: String? = nil

        public init() {}

        enum CodingKeys: String, CodingKey {
            case tests, timeoutSeconds = "timeout_seconds", families, buggyDemonstrations = "buggy_demonstrations"
            case systemPrompt = "system_prompt"
        }

        public func validate() throws {
            try ConfigError.check("code.tests", tests, in: 1...100)
            try ConfigError.check("code.timeout_seconds", timeoutSeconds, in: 0.5...60)
            try ConfigError.check("code.buggy_demonstrations", buggyDemonstrations, in: 0...1)
            let known = Set(CodeFamilies.all.map(\.id))
            if let bad = families.first(where: { !known.contains($0) }) {
                throw ConfigError(knob: "code.families", allowed: known.sorted().joined(separator: ", "), found: bad)
            }
        }
    }

    public let config: Config
    public let sandbox: Sandbox
    public var name: String { "code" }
    public var tools: [Tool] { [.python] }
    public var styles: [DemonstrationStyle] { DemonstrationStyle.allCases }
    private var families: [CodeFamily] {
        config.families.isEmpty ? CodeFamilies.all : CodeFamilies.all.filter { config.families.contains($0.id) }
    }

    public init(_ config: Config = Config(), sandbox: Sandbox = .shared) throws {
        try config.validate()
        self.config = config
        self.sandbox = sandbox
    }

    public func sample(_ rng: inout RNG) -> EnvTask {
        let seed = rng.next()
        var r = RNG(seed: seed)
        let family = families[r.nextInt(below: families.count)]
        let spec = family.make(&r)
        let inputs = (0..<config.tests).map { _ in spec.inputs(&r) }
        let expected = inputs.map(spec.reference)
        let examples = (0..<min(2, inputs.count)).map { i in
            "\(spec.function)(\(inputs[i].map(\.repr).joined(separator: ", "))) == \(expected[i].repr)"
        }
        let question = "Write a Python function `\(spec.function)(\(spec.parameters))` that will \(spec.spec).\n"
            + "For example:\n" + examples.map { "    " + $0 }.joined(separator: "\n")
            + "\nReply with the function in a ```python code block."
        let solution = spec.definition(spec.solution)
        var metadata = [
            "family": family.id,
            "function": spec.function,
            "spec": spec.spec,
            "inputs": "[" + inputs.map { "[" + $0.map(\.json).joined(separator: ",") + "]" }.joined(separator: ",") + "]",
            "expected": "[" + expected.map(\.json).joined(separator: ",") + "]",
            "example_input": inputs.first.map { $0.map(\.repr).joined(separator: ", ") } ?? "",
            "example_output": expected.first?.repr ?? "",
            "example_printed": expected.first?.printed ?? "",
        ]
        // Drawn last, from the task's own stream, so the share leaves the task itself unchanged.
        if config.buggyDemonstrations > 0, let bug = spec.pitfall, r.nextDouble() < config.buggyDemonstrations {
            metadata["demonstration"] = spec.definition(bug.solution)
            metadata["demonstration_printed"] = inputs.first.map { bug.reference($0).printed } ?? ""
        }
        return EnvTask(
            id: "\(name)-\(stableDigest(String(seed), "\(config)"))",
            environment: name,
            prompt: Conversation(system: config.systemPrompt, user: question),
            reference: solution,
            metadata: metadata,
            difficulty: "\(family.id), \(config.tests) hidden tests",
            tools: tools)
    }

    /// The spec and the hidden tests' inputs: "count_greater|return how many ...|[[[1,5]], ...]".
    /// Phrasings: the question framed 21 ways (Framings.swift).
    public var wordings: Int { Framings.templates.count }
    public func reword(_ task: EnvTask, wording: Int) -> EnvTask { Framings.reword(task, wording: wording, system: config.systemPrompt) }

    public func splitKey(_ task: EnvTask) -> String { Self.specKey(task) + "|" + (task.metadata["inputs"] ?? "") }

    static func specKey(_ task: EnvTask) -> String {
        [task.metadata["family"] ?? "", task.metadata["function"] ?? "", task.metadata["spec"] ?? ""].joined(separator: "|")
    }

    /// The spec's split first (held out: "unseen spec"), then, for train specs, the task's.
    public func assign(_ task: EnvTask, shares: SplitShares) -> SplitAssignment {
        let specSplit = shares.split(ofKey: "spec|" + Self.specKey(task))
        if specSplit != .train { return SplitAssignment(specSplit, heldOutKind: Self.unseenSpec) }
        let split = shares.split(ofKey: splitKey(task))
        return SplitAssignment(split, heldOutKind: split == .train ? nil : Self.unseenInputs)
    }

    public static let unseenSpec = "unseen spec"
    public static let unseenInputs = "seen spec, unseen inputs"

    /// The code of a completion: the last ```python block (an unclosed one runs to the end), else
    /// the final text if it defines the function. "Here:\n```python\ndef f(x):\n    return x\n```" -> "\ndef f(x):\n    return x\n"
    public static func extractCode(_ text: String, function: String) -> String? {
        var blocks: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "```") {
            let afterFence = rest[open.upperBound...]
            let header = afterFence.prefix { $0 != "\n" }
            let language = header.trimmingCharacters(in: .whitespaces).lowercased()
            let bodyStart = afterFence.index(afterFence.startIndex, offsetBy: header.count)
            guard let close = afterFence.range(of: "```", range: bodyStart..<afterFence.endIndex) else {
                // An unclosed fence (the completion was cut off): take the rest.
                if language == "python" || language == "py" { blocks.append(String(afterFence[bodyStart...])) }
                break
            }
            if language.isEmpty || language == "python" || language == "py" {
                blocks.append(String(afterFence[afterFence.index(afterFence.startIndex, offsetBy: header.count)..<close.lowerBound]))
            }
            rest = afterFence[close.upperBound...]
        }
        if let last = blocks.last { return last }
        return text.contains("def \(function)(") ? text : nil
    }

    public func verify(_ task: EnvTask, _ completion: Message) -> Verdict {
        verify(batch: [(task, completion)])[0]
    }

    /// Grade many completions with every sandbox slot busy.
    public func verify(batch items: [(task: EnvTask, completion: Message)]) -> [Verdict] {
        var verdicts = [Verdict?](repeating: nil, count: items.count)
        var programs: [SandboxProgram] = [], nonces: [String] = [], expectations: [[PyValue]] = [], slots: [Int] = []
        for (i, (task, completion)) in items.enumerated() {
            let text = completion.finalText
            let function = task.metadata["function"] ?? ""
            if Refusal.isRefusal(text) { verdicts[i] = Verdict(.refused, extracted: text); continue }
            guard let code = Self.extractCode(text, function: function),
                  let inputs = Self.decode(task.metadata["inputs"]).map({ $0.map(\.listItems) }),
                  let expected = Self.decode(task.metadata["expected"]) else {
                verdicts[i] = Verdict(.unparseable)
                continue
            }
            let nonce = CodeHarness.nonce()
            programs.append(CodeHarness.program(solution: code, function: function, inputs: inputs, nonce: nonce,
                                                limits: SandboxLimits(wallSeconds: config.timeoutSeconds)))
            nonces.append(nonce)
            expectations.append(expected)
            slots.append(i)
        }
        let results = sandbox.run(programs)
        for (k, result) in results.enumerated() {
            let report = CodeHarness.grade(result, nonce: nonces[k], expected: expectations[k])
            verdicts[slots[k]] = Self.verdict(report, code: programs[k].files["solution.py"] ?? "")
        }
        return verdicts.map { $0! }
    }

    static func verdict(_ report: CodeTestReport, code: String) -> Verdict {
        let note = "\(report.passed)/\(report.total) tests passed; sandbox \(report.outcome)"
        return Verdict(report.passed == report.total ? .correct : .incorrect, extracted: code,
                       score: report.score, failure: report.outcome.executionFailure, note: note)
    }

    /// Every style shows the same code: the reference, or the family's bug when the task drew one
    /// (`buggy_demonstrations`); a tool demonstration then prints what the buggy code prints.
    public func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message {
        let code = task.metadata["demonstration"] ?? task.reference
        let answer = "```python\n\(code)```"
        let function = task.metadata["function"] ?? "f"
        switch style {
        case .direct:
            return .assistant(answer)
        case .think:
            let plan = "The function \(function) must \(task.question.components(separatedBy: "that will ").dropFirst().first?.components(separatedBy: ".\n").first ?? "do what the spec says").\n"
                + "Check it on the example: \(function)(\(task.metadata["example_input"] ?? "")) should give \(task.metadata["example_output"] ?? "")."
            return .assistant([.thinking(plan), .text(answer)])
        case .tool:
            let call = code + "\nprint(\(function)(\(task.metadata["example_input"] ?? "")))"
            let printed = task.metadata["demonstration_printed"] ?? task.metadata["example_printed"] ?? ""
            return .assistant([.toolCall(.python, call), .toolOutput(printed + "\n"),
                               .text(answer)])
        }
    }

    public func document(_ task: EnvTask) -> String {
        "# \(task.question.components(separatedBy: "\n").first ?? "")\n\(task.reference)"
            + "# \(function(task))(\(task.metadata["example_input"] ?? "")) returns \(task.metadata["example_output"] ?? "")\n"
    }

    private func function(_ task: EnvTask) -> String { task.metadata["function"] ?? "" }

    /// Decode a JSON array of test values (ints, bools, strings, lists).
    static func decode(_ json: String?) -> [PyValue]? {
        guard let json, let value = PyValue(json: json), case .list(let items) = value else { return nil }
        return items
    }
}

extension PyValue {
    var listItems: [PyValue] { if case .list(let xs) = self { xs } else { [self] } }
}
